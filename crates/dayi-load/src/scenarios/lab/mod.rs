//! `lab`: analyzers' results over HL7 v2 / MLLP, and their publication to
//! the patient's phone (检验结果：仪器回传与发布).
//!
//! Prepared before the clock starts, in-process: [`Scale::specimens`]
//! collected tubes, two per generated patient (bulk-loaded): a purple tube
//! (全血) for the blood count (10 items), HbA1c and CRP, and a yellow one
//! (血清) for sixteen chemistry tests (electrolytes, liver, kidney, lipids).
//! **The tubes and their tests are written straight into the store**
//! (`dayi_store::lab::insert_specimen`, `upsert_tests`, in batches of
//! 2,000), not through visit → order → pay → collect: those steps are the
//! `visit` scenario's subject and would take most of an hour for 20,000
//! tubes here. The rows are the ones `collect` writes (status `collected`,
//! one test per panel, the demo doctor `doc01` as the orderer); the visit
//! and order ids they name are fresh ids with no visit behind them, which
//! nothing on the results path reads. Every ORU^R01 is rendered before the
//! clock starts, too, and some patients sign in to the portal over HTTP.
//!
//! Timed, part A, **ingestion**: ONE MLLP connection, as one analyzer's
//! middleware, sends one ORU^R01 per tube (12 or 16 OBX, one OBR, SPM),
//! back to back: each message waits for its ACK. The engine runs it with one
//! worker over the first half of the tubes; its latency is the ACK latency.
//! Then, in the checks, the other half is sent **pipelined** on a new
//! connection, up to [`WINDOW`] messages ahead of their ACKs (the listener
//! answers them in order, storing what it has in hand with one commit).
//!
//! Timed, part B, **publication**: for [`Scale::sample`] tubes, the lab
//! technician `lab01` verifies one test over HTTP
//! (`POST /api/lab/tests/{order}/verify`) while the patient's phone polls
//! `GET /portal/api/lab/{patient}` every 5 ms from the same moment, until the
//! test shows with its results; one tube at a time.
//!
//! Checked afterwards: every message answered AA with its own control id, in
//! order; every result stored exactly once (rows per tube, no item twice); every
//! tube received and every test resulted; messages sent again store
//! nothing; every verified test reached the phone; and the targets
//! (≥ 2,000 messages/s over one connection, judged on the pipelined run;
//! visible on the portal within 1 s).

mod checks;
mod message;
mod mllp;
mod prepare;
mod publish;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::header::HeaderValue;
use uuid::Uuid;

use mllp::{Conn, judge_ack};

use super::Scenario;
use crate::http::{Ctx, Outcome};
use crate::report::{Check, Figure, Setup};

/// The targets.
pub const TARGET_MSGS_PER_S: f64 = 2_000.0;
pub const TARGET_VISIBLE_MS: f64 = 1_000.0;
/// Messages sent ahead of their ACKs in the pipelined variant.
pub const WINDOW: usize = 32;
/// Messages sent again after the run (an analyzer that lost its ACKs).
const RESENDS: usize = 20;
/// Tubes written per preparation transaction.
const BATCH: usize = 2_000;
/// How often the phone asks for its results.
const POLL: Duration = Duration::from_millis(5);
/// How long a verified test may take to show before it counts as missing.
const GIVE_UP: Duration = Duration::from_secs(10);
/// The lab technician who verifies (the analyzer entered the results).
const VERIFIER: &str = "lab01";
/// The doctor who ordered every test (critical values would alert them).
const ORDERER: &str = "doc01";

/// A tube and what one analyzer measures in it: the panels (catalogue codes);
/// the first is the one verified in part B.
struct Tube {
    analyzer: &'static str,
    panels: &'static [&'static str],
}

const TUBES: [Tube; 2] = [
    // 紫头管: Mindray BC-5390 style haematology, 10 + 1 + 1 results.
    Tube { analyzer: "BC-5390", panels: &["CBC", "HBA1C", "CRP"] },
    // 黄头管: a chemistry analyzer, 16 results.
    Tube {
        analyzer: "BS-2000M",
        panels: &[
            "K", "NA", "CL", "CA", "TBIL", "ALT", "AST", "TP", "ALB", "UREA", "CREA", "URIC", "TC", "TG", "HDL", "LDL",
        ],
    },
];

/// How much is prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Tubes collected (two per patient); half are sent back to back, half pipelined.
    pub specimens: u32,
    /// Tubes whose first test is verified while the phone watches.
    pub sample: u32,
}

impl Default for Scale {
    /// 20,000 tubes of 10,000 patients; 200 verified while the phone watches.
    fn default() -> Self {
        Scale { specimens: 20_000, sample: 200 }
    }
}

impl Scale {
    pub fn for_specimens(specimens: u32) -> Self {
        Scale { specimens, ..Scale::default() }
    }

    /// 40 tubes and 6 watched, for tests.
    pub fn small() -> Self {
        Scale { specimens: 40, sample: 6 }
    }
}

pub struct Lab {
    seed: u64,
    scale: Scale,
    prepared: OnceLock<Prepared>,
    figures: Mutex<Vec<Figure>>,
}

impl Lab {
    pub fn new(seed: u64, scale: Scale) -> Lab {
        Lab { seed, scale, prepared: OnceLock::new(), figures: Mutex::new(vec![]) }
    }
}

/// A tube on offer.
struct Planned {
    patient: Uuid,
    /// The test verified in part B.
    first_order: Uuid,
    /// OBX in its message.
    obx: u64,
    /// Tests in the tube.
    tests: u64,
    /// The framed message (0x0B … 0x1C 0x0D) and its control id.
    frame: Vec<u8>,
    control: String,
}

/// A patient on the phone, and the tube they wait for.
struct Watcher {
    tube: usize,
    cookie: String,
}

struct Prepared {
    mllp: SocketAddr,
    tubes: Vec<Planned>,
    /// Tubes `[0, back_to_back)` go in part A's timed run; the rest pipelined.
    back_to_back: usize,
    /// Set when the tube's message was answered AA.
    acked: Vec<AtomicBool>,
    /// The one connection of the back-to-back run.
    conn: tokio::sync::Mutex<Option<Conn>>,
    /// ACK codes seen (AA, AE, AR, and transport or order failures).
    acks: Mutex<BTreeMap<String, u64>>,
    /// The first message's send and the last ACK of the back-to-back run.
    span: Mutex<Option<(Instant, Instant)>>,
    sent: AtomicU64,
    verifier: HeaderValue,
    watchers: Vec<Watcher>,
    /// Barcodes of this run: `[prefix, prefix_end)`.
    prefix: (String, String),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scenario for Lab {
    fn name(&self) -> &'static str {
        "lab"
    }

    /// One analyzer connection.
    fn workers(&self) -> Option<usize> {
        Some(1)
    }

    fn max_requests(&self) -> Option<u64> {
        Some(u64::from(self.scale.specimens.div_ceil(2)))
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(prepare::prepare(self, ctx))
    }

    /// One message back to back: sent, then its ACK awaited.
    fn call<'a>(&'a self, _ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let p = self.prepared.get().ok_or("load.not_prepared")?;
            let k = seq as usize;
            if k >= p.back_to_back {
                return Err("load.no_specimen_left".into());
            }
            let tube = &p.tubes[k];
            let mut guard = p.conn.lock().await;
            if guard.is_none() {
                *guard = Some(Conn::open(p.mllp).await.map_err(|_| "mllp.connect")?);
            }
            let conn = guard.as_mut().ok_or("mllp.connect")?;
            p.sent.fetch_add(1, Ordering::Relaxed);
            let t0 = Instant::now();
            lock(&p.span).get_or_insert((t0, t0));
            let answer = conn.exchange(&tube.frame).await;
            if let Some(s) = lock(&p.span).as_mut() {
                s.1 = Instant::now();
            }
            let code = match answer {
                Ok(ack) => judge_ack(&ack, &tube.control),
                Err(_) => {
                    *guard = None;
                    "mllp.transport".to_string()
                }
            };
            count(p, &code);
            if code != "AA" {
                return Err(format!("hl7.{code}"));
            }
            p.acked[k].store(true, Ordering::Relaxed);
            Ok(())
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let Some(p) = self.prepared.get() else {
                return vec![Check::new("prepared", false, "lab did not prepare")];
            };
            // The back-to-back connection is done.
            *p.conn.lock().await = None;
            let (checks, figures) = checks::after(p, ctx).await;
            *lock(&self.figures) = figures;
            checks
        })
    }

    fn figures(&self) -> Vec<Figure> {
        lock(&self.figures).clone()
    }
}

fn count(p: &Prepared, code: &str) {
    *lock(&p.acks).entry(code.to_string()).or_default() += 1;
}
