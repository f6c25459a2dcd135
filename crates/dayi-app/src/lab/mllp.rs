//! The MLLP listener for analyzers' HL7 v2 results. Each connection is one
//! analyzer (or middleware) and is served by its own task, so several
//! analyzers send at once; on a connection messages are handled strictly in
//! order, so the n-th ACK answers the n-th message. Bad input is answered
//! with a NAK and logged, never allowed to end the listener. Who may hold a
//! connection is `admission`'s decision: known analyzers are never crowded
//! out, and a frame begun must end within `frame_timeout`.

mod admission;

use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dayi_core::hl7::mllp::{Decoder, Frame, frame};
use dayi_core::hl7::{self, Ack, AckCode, Header, Location, Oru};
use dayi_core::{DomainError, ErrorCode, timefmt};
use futures::FutureExt;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use self::admission::{Admission, Refusal, Ticket};
use super::OruSink;

/// At most this many messages a connection has sent ahead share one commit.
const BATCH: usize = 64;

/// What the sink reports for a stored message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// MSA-3; empty for the default, "已接收 n 项结果".
    pub text: String,
}

/// The refused-connection counter, by `Refusal::reason`.
pub const REFUSED_METRIC: &str = "dayi_mllp_connections_refused_total";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MllpConfig {
    /// A longer frame is dropped and answered AR (`hl7.frame_too_large`).
    pub max_frame_bytes: usize,
    /// A connection silent this long is closed; the analyzer reconnects.
    pub idle_timeout: Duration,
    /// A frame begun must end within this, or the connection is closed: a
    /// peer that starts a message and stops holds no place for long.
    pub frame_timeout: Duration,
    /// Connections of peers not in `known_peers`, all together; more are
    /// closed on accept. 0 admits the known analyzers only.
    pub max_connections: usize,
    /// Connections one address may hold (at least 1).
    pub max_per_peer: usize,
    /// The analyzers' addresses: they have places of their own.
    pub known_peers: Vec<IpAddr>,
    /// On shutdown, how long connections may take to finish their message.
    pub shutdown_grace: Duration,
}

impl Default for MllpConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1 << 20,
            idle_timeout: Duration::from_secs(600),
            frame_timeout: Duration::from_secs(15),
            max_connections: 64,
            max_per_peer: 8,
            known_peers: vec![],
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Serves MLLP on `listener` until `shutdown` completes, then stops
/// accepting, lets each connection finish the message in hand, and returns.
pub async fn serve(listener: TcpListener, sink: Arc<dyn OruSink>, cfg: MllpConfig, shutdown: impl Future<Output = ()>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let ids = Arc::new(AckIds::new());
    let admission = Admission::new(&cfg);
    let mut refusals = RefusalLog::new(&cfg);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match admission.admit(peer.ip()) {
                    Ok(ticket) => {
                        let conn = Connection { peer: peer.to_string(), sink: sink.clone(), cfg: cfg.clone(), ids: ids.clone() };
                        conns.spawn(conn.run(stream, ticket, stop_rx.clone()));
                    }
                    Err(why) => {
                        refusals.refused(peer.ip(), why);
                        drop(stream);
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    warn!(error = %e, "MLLP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Err(e) = done {
                    error!(error = %e, "MLLP connection task failed");
                }
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(cfg.shutdown_grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        warn!(open = conns.len(), "MLLP connections still busy at shutdown; aborted");
        conns.shutdown().await;
    }
    info!("MLLP listener stopped");
}

/// Counts refused connections and logs them, at most one line every ten
/// seconds: a flood of connections must not become a flood of log lines.
struct RefusalLog {
    limits: (usize, usize),
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusalLog {
    fn new(cfg: &MllpConfig) -> Self {
        // Published at 0, so a dashboard sees the series before the first refusal.
        for why in Refusal::ALL {
            metrics::counter!(REFUSED_METRIC, "reason" => why.reason()).increment(0);
        }
        Self { limits: (cfg.max_connections, cfg.max_per_peer), last: None, unlogged: 0 }
    }

    fn refused(&mut self, peer: IpAddr, why: Refusal) {
        metrics::counter!(REFUSED_METRIC, "reason" => why.reason()).increment(1);
        self.unlogged += 1;
        if self.last.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
            return;
        }
        let (max_connections, max_per_peer) = self.limits;
        warn!(
            %peer,
            reason = why.reason(),
            max_connections,
            max_per_peer,
            refused = self.unlogged,
            "MLLP connections refused (count since the last such line)"
        );
        self.last = Some(Instant::now());
        self.unlogged = 0;
    }
}

/// The ACKs' own control ids (MSH-10): the start second and a sequence.
struct AckIds {
    prefix: String,
    next: AtomicU64,
}

impl AckIds {
    fn new() -> Self {
        Self { prefix: format!("DY{:x}", OffsetDateTime::now_utc().unix_timestamp()), next: AtomicU64::new(1) }
    }

    fn next(&self) -> String {
        format!("{}-{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

struct Connection {
    peer: String,
    sink: Arc<dyn OruSink>,
    cfg: MllpConfig,
    ids: Arc<AckIds>,
}

impl Connection {
    async fn run(self, stream: TcpStream, ticket: Ticket, mut stop: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let (mut rd, wr) = stream.into_split();
        let mut wr = BufWriter::new(wr);
        let mut decoder = Decoder::new(self.cfg.max_frame_bytes);
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::with_capacity(512);
        // When the frame in progress must have ended.
        let mut frame_due: Option<Instant> = None;
        debug!(peer = %self.peer, known = ticket.known(), "MLLP connection opened");
        loop {
            // Answer every complete frame, in order, then flush once: a sender
            // that pipelines gets its ACKs in one write, and its messages
            // are stored together (one commit for up to BATCH).
            let mut wrote = false;
            let answering = Instant::now();
            loop {
                let frames: Vec<Frame> = std::iter::from_fn(|| decoder.next_frame()).take(BATCH).collect();
                if frames.is_empty() {
                    break;
                }
                for ack in self.answer(frames).await {
                    out.clear();
                    frame(ack.as_bytes(), &mut out);
                    if !self.within_idle(wr.write_all(&out)).await {
                        return;
                    }
                }
                wrote = true;
            }
            if wrote && !self.within_idle(wr.flush()).await {
                return;
            }
            // Time spent answering is ours, not the peer's.
            if let Some(due) = frame_due.as_mut() {
                *due += answering.elapsed();
            }
            if *stop.borrow() {
                break;
            }
            let idle_due = Instant::now() + self.cfg.idle_timeout;
            let due = frame_due.map_or(idle_due, |f| f.min(idle_due));
            let n = tokio::select! {
                read = tokio::time::timeout_at(due, rd.read(&mut buf)) => match read {
                    Ok(Ok(0)) => break,
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => {
                        debug!(peer = %self.peer, error = %e, "MLLP read failed");
                        break;
                    }
                    Err(_) if due < idle_due => {
                        let secs = self.cfg.frame_timeout.as_secs_f32();
                        info!(peer = %self.peer, secs, "MLLP frame not finished in time; closed");
                        break;
                    }
                    Err(_) => {
                        info!(peer = %self.peer, "MLLP connection idle; closed");
                        break;
                    }
                },
                _ = stop.changed() => break,
                _ = ticket.displaced() => {
                    info!(peer = %self.peer, "MLLP connection replaced by a newer one from the same analyzer; closed");
                    break;
                }
            };
            decoder.push(&buf[..n]);
            // The clock starts when a frame begins: a frame finished in this
            // read means the one now open (if any) began in it too.
            frame_due = match (decoder.in_frame(), frame_due) {
                (false, _) => None,
                (true, Some(due)) if decoder.ready() == 0 => Some(due),
                (true, _) => Some(Instant::now() + self.cfg.frame_timeout),
            };
        }
        if decoder.skipped_bytes > 0 {
            debug!(peer = %self.peer, bytes = decoder.skipped_bytes, "MLLP bytes outside frames ignored");
        }
        let _ = wr.shutdown().await;
        debug!(peer = %self.peer, "MLLP connection closed");
    }

    /// Whether a write finished in time: a peer that stops reading its ACKs
    /// is dropped like an idle one instead of holding the task forever.
    async fn within_idle(&self, write: impl Future<Output = std::io::Result<()>>) -> bool {
        match tokio::time::timeout(self.cfg.idle_timeout, write).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                debug!(peer = %self.peer, error = %e, "MLLP write failed");
                false
            }
            Err(_) => {
                info!(peer = %self.peer, "MLLP peer not reading its ACKs; closed");
                false
            }
        }
    }

    /// The ACKs for frames received together, in order. Every path ends in
    /// an ACK; none panics.
    async fn answer(&self, frames: Vec<Frame>) -> Vec<String> {
        let mut acks: Vec<Option<String>> = Vec::with_capacity(frames.len());
        let mut orus = vec![];
        for f in frames {
            let bytes = match f {
                Frame::TooLarge { head, len } => {
                    let err = DomainError::with(ErrorCode::Hl7FrameTooLarge, [self.cfg.max_frame_bytes]);
                    debug!(peer = %self.peer, len, "MLLP frame over the limit");
                    acks.push(Some(self.refuse(hl7::parse_header(&head).as_ref(), &err, None)));
                    continue;
                }
                Frame::Message(bytes) => bytes,
            };
            match hl7::parse_oru(&bytes) {
                Ok(oru) => {
                    acks.push(None);
                    orus.push(oru);
                }
                Err(e) => {
                    let at = e.location();
                    acks.push(Some(self.refuse(hl7::parse_header(&bytes).as_ref(), &e.into(), at)));
                }
            }
        }
        let mut verdicts = self.store(orus).await.into_iter();
        acks.into_iter().map(|a| a.unwrap_or_else(|| verdicts.next().unwrap_or_default())).collect()
    }

    /// The ACKs of parsed messages, in order. A sink that panics on a group
    /// is given the messages again one by one, so the panic costs its own
    /// message an AR and no other.
    async fn store(&self, orus: Vec<Oru>) -> Vec<String> {
        if orus.len() > 1 {
            if let Some(acks) = self.try_store(orus.clone()).await {
                return acks;
            }
            warn!(peer = %self.peer, messages = orus.len(), "ORU sink panicked on a group; storing one by one");
        }
        let mut acks = Vec::with_capacity(orus.len());
        for oru in orus {
            acks.push(self.store_one(oru).await);
        }
        acks
    }

    async fn store_one(&self, oru: Oru) -> String {
        let header = oru.header.clone();
        if let Some(ack) = self.try_store(vec![oru]).await.and_then(|acks| acks.into_iter().next()) {
            return ack;
        }
        let ack_id = self.ids.next();
        error!(peer = %self.peer, control_id = %header.control_id, ack_id, "ORU sink panicked");
        self.refuse(Some(&header), &DomainError::with(ErrorCode::Internal, [ack_id]), None)
    }

    /// The sink's verdicts as ACKs; None when it panicked.
    async fn try_store(&self, orus: Vec<Oru>) -> Option<Vec<String>> {
        let heads: Vec<(Header, usize)> = orus.iter().map(|o| (o.header.clone(), o.observations().count())).collect();
        let verdicts = AssertUnwindSafe(self.sink.accept(&self.peer, orus)).catch_unwind().await.ok()?;
        let mut verdicts = verdicts.into_iter();
        let acks = heads.iter().map(|(header, results)| {
            match verdicts.next().unwrap_or_else(|| Err(crate::internal("ORU sink gave fewer verdicts than messages")))
            {
                Ok(done) => {
                    let text = if done.text.is_empty() { format!("已接收 {results} 项结果") } else { done.text };
                    Ack { to: Some(header), code: AckCode::Accept, text: &text, error: None }
                        .render(&self.ids.next(), now())
                }
                Err(e) => self.refuse(Some(header), &e, None),
            }
        });
        Some(acks.collect())
    }

    /// A NAK (AE or AR by the error's kind), logged.
    fn refuse(&self, to: Option<&Header>, err: &DomainError, at: Option<Location>) -> String {
        let code = AckCode::for_error(err.code);
        warn!(
            peer = %self.peer,
            control_id = to.map_or("", |h| h.control_id.as_str()),
            ack = code.as_str(),
            code = err.code.code(),
            reason = %err.reasons_zh(),
            "HL7 message refused"
        );
        Ack { to, code, text: "", error: Some((err, at)) }.render(&self.ids.next(), now())
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(timefmt::CST)
}
