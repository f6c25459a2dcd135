//! The waiting-room screens: built from the layout, connected over
//! server-sent events before the clock starts, then recording every call
//! board they are shown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use dayi_core::timefmt::now_micros;
use futures::{StreamExt, stream};
use reqwest::Client;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde::de::IgnoredAny;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::plan::{covers, layout};
use super::{AT_ONCE, CONNECT_TIMEOUT, Queue, Screen, Seen, Sink, Watch};
use crate::engine::histogram;
use crate::http::{failure_key, is_problem, transport};
use crate::report::Setup;
use crate::scenarios::book_rush::tally;
use crate::scenarios::prepare::refusals;

/// What [`connect`] hands back: the screens, per session how many screens
/// watch it, and where they record.
type Connected = (Vec<Arc<Screen>>, Vec<u64>, Arc<Sink>);

/// Builds the screens and connects each (`GET /api/queue/events`); their
/// tasks join the scenario's.
pub(super) async fn connect(
    q: &Queue,
    base: &str,
    token: &str,
    sessions: &[Uuid],
    depts: &[(Uuid, String)],
    setup: &mut Vec<Setup>,
) -> anyhow::Result<Connected> {
    let t = Instant::now();
    let (screens, watchers, rooms) = build(q.scale, sessions, depts);
    eprintln!(
        "  queue: connecting {} screens ({rooms} at room doors, {} in department halls)…",
        screens.len(),
        screens.len() - rooms
    );
    let client = screen_client(token)?;
    let sink = Arc::new(Sink {
        index: sessions.iter().enumerate().map(|(i, s)| (*s, i as u16)).collect(),
        delivery: Mutex::new(histogram()),
        arrivals: Mutex::new(HashMap::new()),
    });
    let connected: Vec<Result<(), String>> = stream::iter(screens.clone())
        .map(|screen| {
            let (ready, greeted) = oneshot::channel();
            let url = format!("{base}/api/queue/events?{}", screen.query);
            let task = tokio::spawn(watch(client.clone(), url, screen, sink.clone(), ready));
            q.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(task);
            async move {
                match tokio::time::timeout(CONNECT_TIMEOUT, greeted).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err("load.screen_gone".into()),
                    Err(_) => Err("load.no_hello".into()),
                }
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let refused = refusals(&connected);
    if !refused.is_empty() {
        bail!("screens not connected (GET /api/queue/events): {}", tally(refused));
    }
    // Let the boards sent on connecting arrive before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let step = format!(
        "screens connected (GET /api/queue/events): {rooms} at room doors, {} in department halls",
        screens.len() - rooms
    );
    setup.push(Setup { step, count: screens.len() as u64, secs: t.elapsed().as_secs_f64() });
    Ok((screens, watchers, sink))
}

/// The screens as laid out, how many watch each session, and how many are
/// door screens.
fn build(scale: super::Scale, sessions: &[Uuid], depts: &[(Uuid, String)]) -> (Vec<Arc<Screen>>, Vec<u64>, usize) {
    let nd = depts.len();
    let watches = layout(sessions.len(), nd, scale.screens, scale.room_screens);
    let mut watchers = vec![0u64; sessions.len()];
    let words = (scale.per_session as usize + 1).div_ceil(64);
    let screens: Vec<Arc<Screen>> = watches
        .iter()
        .map(|w| {
            let covers = covers(*w, sessions.len(), nd);
            for s in &covers {
                watchers[usize::from(*s)] += 1;
            }
            let query = match w {
                Watch::Room(s) => format!("session={}", sessions[usize::from(*s)]),
                Watch::Zone(d) => format!("dept={}", depts[usize::from(*d)].1),
            };
            let seen = Seen { got: vec![vec![0u64; words]; covers.len()], ..Default::default() };
            Arc::new(Screen { query, covers, seen: Mutex::new(seen) })
        })
        .collect();
    let rooms = watches.iter().filter(|w| matches!(w, Watch::Room(_))).count();
    (screens, watchers, rooms)
}

/// One client for every screen, with the kiosk account's token; no idle
/// pool, as each stream holds its own connection.
fn screen_client(token: &str) -> anyhow::Result<Client> {
    let mut headers = HeaderMap::new();
    let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    Ok(Client::builder()
        .default_headers(headers)
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// A screen: connects, says when greeted, then records every call it is shown.
async fn watch(
    client: Client,
    url: String,
    screen: Arc<Screen>,
    sink: Arc<Sink>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(transport(&e)));
            return;
        }
    };
    let status = resp.status().as_u16();
    if status != 200 {
        let problem = is_problem(&resp);
        let body = resp.bytes().await.unwrap_or_default();
        let _ = ready.send(Err(failure_key(status, problem, &body)));
        return;
    }
    let mut ready = Some(ready);
    let mut resp = resp;
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let ended = loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break "stream.closed".to_string(),
            Err(e) => break transport(&e),
        };
        let now = now_micros();
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = buf[start..].windows(2).position(|w| w == b"\n\n").map(|i| start + i) {
            let event = &buf[start..end];
            start = end + 2;
            let (mut kind, mut data) = ("message", &b""[..]);
            for line in event.split(|b| *b == b'\n') {
                if let Some(v) = line.strip_prefix(b"event:") {
                    kind = std::str::from_utf8(v).unwrap_or("").trim();
                } else if let Some(v) = line.strip_prefix(b"data:") {
                    data = v.strip_prefix(b" ").unwrap_or(v);
                }
            }
            match kind {
                "hello" => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Ok(()));
                    }
                }
                "board" => shown(&screen, &sink, data, now),
                _ => {}
            }
        }
        buf.drain(..start);
    };
    if let Some(r) = ready.take() {
        let _ = r.send(Err(ended));
        return;
    }
    screen.seen.lock().unwrap_or_else(|e| e.into_inner()).ended = Some(ended);
}

#[derive(Deserialize)]
struct BoardMsg {
    session_id: Uuid,
    calling: Vec<LineMsg>,
    announce: Option<IgnoredAny>,
    at: i64,
}

#[derive(Deserialize)]
struct LineMsg {
    seq: i64,
    status: String,
}

/// A board event arrived at `now` (µs): a call when it carries an announcement.
fn shown(screen: &Screen, sink: &Sink, data: &[u8], now: i64) {
    let Ok(b) = serde_json::from_slice::<BoardMsg>(data) else {
        let mut seen = screen.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.boards += 1;
        seen.stray += 1;
        return;
    };
    let mut seen = screen.seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.boards += 1;
    if b.announce.is_none() {
        return;
    }
    let took = u64::try_from(now - b.at).unwrap_or(0).max(1);
    sink.delivery.lock().unwrap_or_else(|e| e.into_inner()).saturating_record(took);
    let called = b.calling.iter().rev().find(|l| l.status == "called").map(|l| l.seq);
    let session = sink.index.get(&b.session_id).copied();
    let slot = session.and_then(|s| screen.covers.iter().position(|c| *c == s));
    match (slot, session, called) {
        (Some(i), Some(s), Some(seq)) if seq >= 0 && (seq as usize) < seen.got[i].len() * 64 => {
            let (w, bit) = (seq as usize / 64, 1u64 << (seq % 64));
            if seen.got[i][w] & bit != 0 {
                seen.dups += 1;
            }
            seen.got[i][w] |= bit;
            drop(seen);
            let mut arrivals = sink.arrivals.lock().unwrap_or_else(|e| e.into_inner());
            let a = arrivals.entry((s, seq)).or_insert((b.at, now, now));
            a.1 = a.1.min(now);
            a.2 = a.2.max(now);
        }
        _ => seen.stray += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_board_is_recorded_once_per_screen() {
        let a = Uuid::from_u128(1);
        let sink =
            Sink { index: [(a, 0)].into(), delivery: Mutex::new(histogram()), arrivals: Mutex::new(HashMap::new()) };
        let screen = Screen {
            query: String::new(),
            covers: vec![0],
            seen: Mutex::new(Seen { got: vec![vec![0; 2]], ..Default::default() }),
        };
        let board = |seq: i64, announce: &str, session: Uuid| {
            format!(
                r#"{{"session_id":"{session}","calling":[{{"seq":{seq},"name":"张*","status":"called","tag":null}}],"announce":{announce},"at":1000}}"#
            )
        };
        let call = r#"{"text":"请 7 号","repeat":2,"rate":1.0}"#;
        shown(&screen, &sink, board(7, call, a).as_bytes(), 3_000);
        shown(&screen, &sink, board(7, "null", a).as_bytes(), 4_000);
        shown(&screen, &sink, board(7, call, a).as_bytes(), 5_000);
        shown(&screen, &sink, board(8, call, Uuid::from_u128(2)).as_bytes(), 5_000);
        let seen = screen.seen.lock().unwrap();
        assert_eq!(seen.got[0][0], 1 << 7);
        assert_eq!((seen.boards, seen.dups, seen.stray), (4, 1, 1));
        let h = sink.delivery.lock().unwrap();
        assert_eq!(h.len(), 3);
        assert!((1_999..=2_001).contains(&h.min()) && (3_999..=4_003).contains(&h.max()), "{} {}", h.min(), h.max());
        // The call's first and last arrival on this screen (the stray one is not a call of ours).
        assert_eq!(sink.arrivals.lock().unwrap()[&(0, 7)], (1_000, 3_000, 5_000));
    }
}
