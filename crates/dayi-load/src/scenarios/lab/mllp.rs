//! An analyzer's MLLP connection: sending framed messages and reading
//! their ACKs, one at a time or pipelined.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::Prepared;
use crate::engine::histogram;

/// The ACK's code, or why it is not this message's ACK.
pub(super) fn judge_ack(ack: &str, control: &str) -> String {
    let Some(msa) = ack.split(['\r', '\n']).find(|s| s.starts_with("MSA|")) else {
        return "no_msa".into();
    };
    let f: Vec<&str> = msa.split('|').collect();
    match (f.get(1), f.get(2)) {
        (Some(code), Some(id)) if *id == control => (*code).to_string(),
        (Some(_), _) => "other_control_id".into(),
        _ => "no_code".into(),
    }
}

/// Reads ACK frames one at a time from an MLLP stream.
struct AckReader<R> {
    rd: R,
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl<R: AsyncRead + Unpin> AckReader<R> {
    fn new(rd: R) -> Self {
        AckReader { rd, buf: Vec::with_capacity(4096), chunk: vec![0; 16 * 1024] }
    }

    /// The next frame's text.
    async fn next(&mut self) -> std::io::Result<String> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == [0x1c, 0x0d]) {
                let start = self.buf.iter().position(|&b| b == 0x0b).map_or(0, |s| s + 1).min(end);
                let text = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
                self.buf.drain(..end + 2);
                return Ok(text);
            }
            let n = tokio::time::timeout(Duration::from_secs(30), self.rd.read(&mut self.chunk))
                .await
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no ACK within 30 s"))??;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&self.chunk[..n]);
        }
    }
}

/// An analyzer's connection.
pub(super) struct Conn {
    wr: OwnedWriteHalf,
    rd: AckReader<OwnedReadHalf>,
}

impl Conn {
    pub(super) async fn open(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr).await?;
        s.set_nodelay(true)?;
        let (rd, wr) = s.into_split();
        Ok(Conn { wr, rd: AckReader::new(rd) })
    }

    pub(super) async fn exchange(&mut self, frame: &[u8]) -> std::io::Result<String> {
        self.wr.write_all(frame).await?;
        self.rd.next().await
    }
}

/// What a run of messages over one connection came to.
pub(super) struct Run {
    pub(super) acks: Histogram<u64>,
    pub(super) secs: f64,
    pub(super) sent: usize,
    pub(super) codes: BTreeMap<String, u64>,
}

/// Sends `tubes` over one new connection, up to `window` ahead of their ACKs.
pub(super) async fn pipelined(p: &Prepared, tubes: &[usize], window: usize) -> anyhow::Result<Run> {
    let conn = Conn::open(p.mllp).await?;
    let (mut wr, mut rd) = (conn.wr, conn.rd);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Instant)>(window.max(1));
    let t0 = Instant::now();
    let writer = async move {
        for &k in tubes {
            // The channel's room is the window: it waits while `window` are unanswered.
            if tx.send((k, Instant::now())).await.is_err() {
                break;
            }
            if wr.write_all(&p.tubes[k].frame).await.is_err() {
                break;
            }
        }
        drop(tx);
        wr
    };
    let reader = async {
        let mut acks = histogram();
        let mut codes: BTreeMap<String, u64> = BTreeMap::new();
        while let Some((k, sent)) = rx.recv().await {
            let code = match rd.next().await {
                Ok(ack) => judge_ack(&ack, &p.tubes[k].control),
                Err(_) => "mllp.transport".into(),
            };
            acks.saturating_record(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX).max(1));
            if code == "AA" {
                p.acked[k].store(true, Ordering::Relaxed);
            }
            let stop = code == "mllp.transport";
            *codes.entry(code).or_default() += 1;
            if stop {
                break;
            }
        }
        (acks, codes)
    };
    let (wr, (acks, codes)) = tokio::join!(writer, reader);
    drop(wr);
    let sent = acks.len() as usize;
    Ok(Run { acks, secs: t0.elapsed().as_secs_f64(), sent, codes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_read_by_control_id() {
        let ack = "MSH|^~\\&|DAYI|WSXRMYY|BS|LAB|20261203||ACK^R01^ACK|DY1-1|P|2.5.1\rMSA|AA|L1|已接收\r";
        assert_eq!(judge_ack(ack, "L1"), "AA");
        assert_eq!(judge_ack(ack, "L2"), "other_control_id");
        assert_eq!(judge_ack("MSH|x", "L1"), "no_msa");
    }
}
