//! Test doubles for the MLLP tests: a sink that keeps messages in memory and
//! knows a fixed set of barcodes, a server handle, a client, and messages.
#![allow(dead_code)]

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dayi_app::lab::OruSink;
use dayi_app::lab::mllp::{Accepted, MllpConfig, serve};
use dayi_core::hl7::mllp::{Decoder, Frame, frame};
use dayi_core::hl7::{Message, Oru};
use dayi_core::{DomainError, ErrorCode};
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, oneshot};

/// Stores what it is given when the barcode is known; refuses others (AE).
/// Barcode PANIC panics; barcode SLOW waits until a FAST one was stored.
pub struct MemorySink {
    known: HashSet<String>,
    stored: Mutex<Vec<(String, Oru)>>,
    fast_seen: Notify,
}

impl MemorySink {
    pub fn new<const N: usize>(known: [&str; N]) -> Arc<Self> {
        Arc::new(Self {
            known: known.iter().map(|s| s.to_string()).collect(),
            stored: Mutex::new(Vec::new()),
            fast_seen: Notify::new(),
        })
    }

    pub fn stored(&self) -> Vec<(String, Oru)> {
        self.stored.lock().unwrap().clone()
    }
}

impl MemorySink {
    /// One message's verdict; what it stores is pushed to `keep`.
    async fn one(&self, peer: &str, msg: Oru, keep: &mut Vec<(String, Oru)>) -> Result<Accepted, DomainError> {
        let barcode = msg.orders[0].barcode().map(|(b, _)| b.to_string());
        let Some(barcode) = barcode else {
            return Err(DomainError::new(ErrorCode::Hl7BarcodeMissing));
        };
        if !self.known.contains(&barcode) {
            return Err(DomainError::with(ErrorCode::Hl7BarcodeUnknown, [barcode]));
        }
        match barcode.as_str() {
            "PANIC" => panic!("test sink told to panic"),
            "SLOW" => self.fast_seen.notified().await,
            "FAST" => self.fast_seen.notify_waiters(),
            _ => {}
        }
        keep.push((peer.to_string(), msg));
        Ok(Accepted::default())
    }
}

impl OruSink for MemorySink {
    /// Like a transaction: a panic anywhere in the group stores none of it.
    fn accept<'a>(&'a self, peer: &'a str, msgs: Vec<Oru>) -> BoxFuture<'a, Vec<Result<Accepted, DomainError>>> {
        Box::pin(async move {
            let mut keep = vec![];
            let mut verdicts = vec![];
            for msg in msgs {
                verdicts.push(self.one(peer, msg, &mut keep).await);
            }
            self.stored.lock().unwrap().extend(keep);
            verdicts
        })
    }
}

pub struct Server {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(sink: Arc<dyn OruSink>, cfg: MllpConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, sink, cfg, async move {
            let _ = rx.await;
        }));
        Self { addr, stop, task }
    }

    /// Signals shutdown and waits for `serve` to return.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

pub struct Client {
    pub stream: TcpStream,
    decoder: Decoder,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        Self { stream: TcpStream::connect(addr).await.unwrap(), decoder: Decoder::new(1 << 20) }
    }

    /// Connects from a chosen loopback address (all of 127/8 is local on
    /// Linux), so tests can play several peers.
    pub async fn connect_from(addr: SocketAddr, from: Ipv4Addr) -> Self {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        Self { stream: socket.connect(addr).await.unwrap(), decoder: Decoder::new(1 << 20) }
    }

    pub fn framed(msg: &str) -> Vec<u8> {
        let mut out = Vec::new();
        frame(msg.as_bytes(), &mut out);
        out
    }

    pub async fn send(&mut self, msg: &str) {
        self.stream.write_all(&Self::framed(msg)).await.unwrap();
    }

    pub async fn call(&mut self, msg: &str) -> String {
        self.send(msg).await;
        self.ack().await
    }

    pub async fn call_bytes(&mut self, msg: &[u8]) -> String {
        let mut out = Vec::new();
        frame(msg, &mut out);
        self.stream.write_all(&out).await.unwrap();
        self.ack().await
    }

    /// The next ACK, within five seconds.
    pub async fn ack(&mut self) -> String {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(f) = self.decoder.next_frame() {
                let Frame::Message(m) = f else { panic!("oversized ACK") };
                return String::from_utf8(m).unwrap();
            }
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut buf))
                .await
                .expect("no ACK within 5 s")
                .unwrap();
            assert!(n > 0, "connection closed before the ACK");
            self.decoder.push(&buf[..n]);
        }
    }

    /// Whether the server closes the connection within `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let read = async {
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(limit, read).await.is_ok()
    }
}

/// MSA-1 and MSA-2 of an ACK, read with Dayi's own grammar (the external
/// check reads them with hl7apy).
pub fn msa(ack: &str) -> (String, String) {
    let m = Message::parse(ack).unwrap_or_else(|e| panic!("{e}: {ack:?}"));
    let msa = m.segments().iter().find(|s| s.name() == "MSA").expect("no MSA");
    (msa.field(1).to_string(), msa.field(2).to_string())
}

/// An ORU^R01 from the biochemistry analyzer with two results, the first
/// being `glucose` (as written, so tests can make it non-numeric).
pub fn oru(control_id: &str, barcode: &str, glucose: &str) -> String {
    format!(
        "MSH|^~\\&|BS-480|LAB|DAYI|CIQIU|20261203094512||ORU^R01^ORU_R01|{control_id}|P|2.3.1||||||UNICODE UTF-8\r\
         PID|1||0012345678^^^CIQIU^MR||张三\r\
         OBR|1||{barcode}|BIO^生化^L\r\
         OBX|1|NM|GLU^葡萄糖^L||{glucose}|mmol/L|3.9-6.1|N|||F|||20261203094500\r\
         OBX|2|NM|ALT^谷丙转氨酶^L||88|U/L|9-50|H|||F|||20261203094501\r"
    )
}
