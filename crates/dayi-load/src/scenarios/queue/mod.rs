//! `queue`: doctors calling the next patient (叫号) while the waiting-room
//! screens watch over server-sent events. The timed request is a doctor's
//! `POST /api/queue/next`; beside it every screen measures how long each call
//! took to reach it: the time the board event arrived less the board's `at`
//! (when the server began the change; same machine, same clock).
//!
//! Prepared in-process and over HTTP before the clock starts:
//! [`Scale::doctors`] doctor accounts, each with an API token and one clinic
//! session today (00:00–24:00, so walk-ins are taken at any hour), spread
//! over the clinical departments; enough generated patients to fill every
//! session with [`Scale::per_session`] walk-ins (`--queue-waiting`; at most 3
//! a patient, in different departments); every patient checked in over
//! `POST /api/check-in`, so all of them wait in their queues; each doctor's
//! panel set to their session (`POST /api/queue/panel`). Then [`Scale::screens`] screens connect to
//! `GET /api/queue/events` with a kiosk account's token:
//! [`Scale::room_screens`] door screens per session (`?session=`), the rest
//! zone screens spread over the departments (`?dept=`), so each call is
//! shown on its room's screens and on every zone screen of its department.
//!
//! The run has one worker per doctor (`--think` paces them; without it they
//! call as fast as the server answers). Checked afterwards: every call was
//! answered for the doctor's own queue and no patient was called twice;
//! every screen received every call of the queues it watches, exactly once
//! and no other; no screen dropped; and the target, a call on every
//! screen within 100 ms at p99. Reported beside the checks: the delivery
//! latency over all screen receipts, the fan-out, and the memory (RSS) of
//! the process, which holds the server and the load generator both.

mod checks;
mod memory;
mod plan;
mod prepare;
mod screens;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use hdrhistogram::Histogram;
use reqwest::Client;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Scenario;
use crate::http::{Ctx, Outcome, expect_json};
use crate::report::{Check, Figure, Setup};

/// The target for a call to reach every screen, at p99.
pub const TARGET_MS: f64 = 100.0;
/// Doctors' requests may take this long before they count as a timeout.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// A screen must be connected and greeted within this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Screens connecting at once, and check-ins sent at once, while preparing.
const AT_ONCE: usize = 32;
/// After the run, how long to wait for the last boards to reach the screens.
const SETTLE: Duration = Duration::from_secs(10);

/// How much is prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Doctors, each calling from one session of their own; one worker each.
    pub doctors: usize,
    /// Screens connected over SSE.
    pub screens: usize,
    /// Door screens per session; the other screens watch departments.
    pub room_screens: usize,
    /// Patients waiting in each session when the run starts (1–480); a doctor
    /// who calls them all gets `queue.empty`.
    pub per_session: u32,
    /// Clinical departments used, at most (0: all).
    pub departments: usize,
}

impl Default for Scale {
    /// 50 doctors in 9 departments, 240 waiting in each queue (12,000 in
    /// all, 4,000 patients); 500 screens: 250 door screens (5 a room) and
    /// 250 zone screens (27–28 a department).
    fn default() -> Self {
        Scale { doctors: 50, screens: 500, room_screens: 5, per_session: 240, departments: 0 }
    }
}

impl Scale {
    /// Four doctors in two departments and 24 screens, for tests.
    pub fn small() -> Self {
        Scale { doctors: 4, screens: 24, room_screens: 2, per_session: 30, departments: 2 }
    }
}

pub struct Queue {
    seed: u64,
    scale: Scale,
    prepared: OnceLock<Prepared>,
    /// The screens' tasks and the memory sampler, ended after the run (or on drop).
    tasks: Mutex<Vec<JoinHandle<()>>>,
    figures: Mutex<Vec<Figure>>,
}

impl Queue {
    pub fn new(seed: u64, scale: Scale) -> Queue {
        Queue { seed, scale, prepared: OnceLock::new(), tasks: Mutex::new(vec![]), figures: Mutex::new(vec![]) }
    }

    fn stop_tasks(&self) {
        for t in self.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            t.abort();
        }
    }
}

impl Drop for Queue {
    /// Open event streams would keep the server from stopping.
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// What `prepare` made and `call` and `checks` use.
struct Prepared {
    /// For the doctors' calls: no token of its own, each request carries its doctor's.
    client: Client,
    doctors: Vec<Doctor>,
    /// Our sessions, by index; one per doctor.
    sessions: Vec<Uuid>,
    screens: Vec<Arc<Screen>>,
    /// Per session: how many screens watch it.
    watchers: Vec<u64>,
    sink: Arc<Sink>,
    memory: Arc<Mutex<Memory>>,
    /// Slot numbers run 1..=slots.
    slots: u32,
    /// Departments used, for the fan-out figure.
    departments: usize,
}

struct Doctor {
    username: String,
    /// `Bearer dayi_…`.
    auth: HeaderValue,
    session: u16,
    /// One call at a time per doctor, even with more workers than doctors.
    busy: tokio::sync::Mutex<()>,
    /// What the calls answered, in order.
    calls: Mutex<Vec<Call>>,
    refused: Mutex<BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    session: Uuid,
    booking: Uuid,
    seq: i64,
}

/// Where the screens record what they are shown.
struct Sink {
    /// Our sessions by id.
    index: HashMap<Uuid, u16>,
    /// Every screen receipt of a call: receive time − `at`, in µs.
    delivery: Mutex<Histogram<u64>>,
    /// Per call: `at`, first and last arrival.
    arrivals: Mutex<HashMap<CallKey, Arrival>>,
}

/// A call: our session's index and the slot number called.
type CallKey = (u16, i64);
/// A call's board `at`, its first and its last arrival on a screen (µs).
type Arrival = (i64, i64, i64);

/// What a screen watches: one session (a door screen) or a department (a zone screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    Room(u16),
    Zone(u16),
}

struct Screen {
    /// The query of its event stream (`session=…` or `dept=…`).
    query: String,
    /// Our sessions it shows, ascending.
    covers: Vec<u16>,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Per covered session (in `covers` order): a bit per slot number called.
    got: Vec<Vec<u64>>,
    /// A call received twice.
    dups: u64,
    /// A call for a queue the screen does not watch, or a call board without a called patient.
    stray: u64,
    /// Board events received (calls and others).
    boards: u64,
    /// Why the stream ended before it was closed, if it did.
    ended: Option<String>,
}

/// The process's resident memory (kB): before and after the screens
/// connect, then sampled through the run.
#[derive(Debug, Default, Clone)]
struct Memory {
    ready: Option<u64>,
    connected: Option<u64>,
    /// Every [`SAMPLE_EVERY`] from the start of the run.
    during: Vec<u64>,
}

const SAMPLE_EVERY: Duration = Duration::from_millis(250);

impl Scenario for Queue {
    fn name(&self) -> &'static str {
        "queue"
    }

    /// Doctors and screens use accounts of their own, made while preparing.
    fn needs_token(&self) -> bool {
        false
    }

    /// One worker per doctor.
    fn workers(&self) -> Option<usize> {
        Some(self.scale.doctors.max(1))
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(prepare::prepare(self, ctx))
    }

    /// The doctor of this worker calls the next patient.
    fn call<'a>(&'a self, ctx: &'a Ctx, worker: usize, _seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let p = self.prepared.get().ok_or("load.not_prepared")?;
            let d = &p.doctors[worker % p.doctors.len()];
            let _one = d.busy.lock().await;
            let req = p.client.post(format!("{}/api/queue/next", ctx.base)).header(AUTHORIZATION, d.auth.clone());
            let answer = match expect_json(req, 200).await {
                Ok(v) => {
                    let line = &v["line"];
                    let id = |k: &str| line[k].as_str().and_then(|s| Uuid::parse_str(s).ok());
                    match (id("session_id"), id("booking_id"), line["seq"].as_i64()) {
                        (Some(session), Some(booking), Some(seq)) => {
                            d.calls.lock().unwrap_or_else(|e| e.into_inner()).push(Call { session, booking, seq });
                            Ok(())
                        }
                        _ => Err("response.no_line".to_string()),
                    }
                }
                Err(k) => Err(k),
            };
            if let Err(k) = &answer {
                *d.refused.lock().unwrap_or_else(|e| e.into_inner()).entry(k.clone()).or_default() += 1;
            }
            answer
        })
    }

    fn checks<'a>(&'a self, _ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let Some(p) = self.prepared.get() else {
                self.stop_tasks();
                return vec![Check::new("prepared", false, "queue did not prepare")];
            };
            let out = checks::judge(p).await;
            self.stop_tasks();
            *self.figures.lock().unwrap_or_else(|e| e.into_inner()) = out.1;
            out.0
        })
    }

    fn figures(&self) -> Vec<Figure> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
