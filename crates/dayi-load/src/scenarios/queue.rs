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
//! and no other; no screen dropped; and the issue's target, a call on every
//! screen within 100 ms at p99. Reported beside the checks: the delivery
//! latency over all screen receipts, the fan-out, and the memory (RSS) of
//! the process, which holds the server and the load generator both.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dayi_app::Actor;
use dayi_app::booking::BookRequest;
use dayi_app::roster::RosterForm;
use dayi_app::staff::NewStaff;
use dayi_core::timefmt::now_micros;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;
use reqwest::Client;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::Scenario;
use super::book_rush::{load_patients, tally, zh};
use crate::engine::{Latency, histogram};
use crate::http::{Ctx, Outcome, expect_json, failure_key, is_problem, transport};
use crate::report::{Check, Figure, Setup};

/// The issue's target for a call to reach every screen, at p99.
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

/// The samples at the run's start, quarters and end, and the peak.
fn memory_detail(m: &Memory) -> String {
    let d = &m.during;
    let at = |q: usize| d.get((d.len().saturating_sub(1)) * q / 4).copied();
    let series = [0, 1, 2, 3, 4].map(|q| mib(at(q))).join(" → ");
    format!(
        "RSS of the process (server and load generator together), MiB: {} with the data loaded, {} with the \
         screens connected; during the run (start, ¼, ½, ¾, end) {series}, peak {}",
        mib(m.ready),
        mib(m.connected),
        mib(d.iter().max().copied())
    )
}

/// `VmRSS` of this process in kB (Linux).
fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit on open files, when it can be read.
fn open_files_limit() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = s.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

/// Each screen's watch: `room` door screens per session first (as many as
/// fit), then zone screens round-robin over the departments that have a
/// session.
fn layout(sessions: usize, depts: usize, screens: usize, room: usize) -> Vec<Watch> {
    let depts = depts.min(sessions).max(1);
    let rooms = (sessions * room).min(screens);
    let mut out: Vec<Watch> = (0..rooms).map(|i| Watch::Room((i % sessions) as u16)).collect();
    out.extend((0..screens - rooms).map(|i| Watch::Zone((i % depts) as u16)));
    out
}

/// The sessions a watch shows; session `i` is in department `i % depts`.
fn covers(w: Watch, sessions: usize, depts: usize) -> Vec<u16> {
    match w {
        Watch::Room(s) => vec![s],
        Watch::Zone(d) => (0..sessions).filter(|s| s % depts == usize::from(d)).map(|s| s as u16).collect(),
    }
}

/// Each patient's sessions: at most `k`, each in a different department,
/// until every session has `per_session` patients. The fullest sessions
/// are taken first, so they fill evenly.
fn registrations(session_dept: &[u16], per_session: u32, k: usize) -> Vec<Vec<u16>> {
    let mut left = vec![per_session; session_dept.len()];
    let mut out = vec![];
    let mut order: Vec<usize> = (0..session_dept.len()).collect();
    while left.iter().any(|n| *n > 0) {
        order.sort_by_key(|s| (std::cmp::Reverse(left[*s]), *s));
        let mut mine: Vec<u16> = vec![];
        for &s in &order {
            if mine.len() == k || left[s] == 0 {
                break;
            }
            if mine.iter().all(|m| session_dept[usize::from(*m)] != session_dept[s]) {
                mine.push(s as u16);
            }
        }
        for s in &mine {
            left[usize::from(*s)] -= 1;
        }
        out.push(mine);
    }
    out
}

/// Doctors' names, as the roster shows them.
const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高"];
const GIVEN: &[&str] = &["卫东", "晓燕", "建华", "丽娟", "志刚", "红梅", "国庆", "秀兰", "海涛", "春燕"];

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
        Box::pin(async move {
            let local = ctx.local.as_ref().context(
                "queue makes its doctors, sessions and patients in-process: let dayi-load start the server (no --url)",
            )?;
            let (app, org) = (&local.app, local.org_id);
            let scale = self.scale;
            if scale.doctors == 0 || scale.doctors > 1_000 || !(1..=480).contains(&scale.per_session) {
                bail!("queue: 1–1,000 doctors and 1–480 patients a session");
            }
            // Both ends of every connection live in this process.
            let fds = 2 * (scale.screens + scale.doctors) as u64 + 256;
            if let Some(limit) = open_files_limit().filter(|l| *l < fds) {
                bail!("queue needs about {fds} open files, the limit is {limit}: raise it (ulimit -n {})", fds * 2);
            }
            let mut actor = Actor::cli(org);
            actor.username = "dayi-load".into();
            let actor = &actor;
            let rules = dayi_app::booking::rules(app, org).await.map_err(zh)?;
            let mut setup = vec![];

            let mut depts: Vec<(Uuid, String)> = dayi_app::tenancy::list_depts(app, actor)
                .await
                .map_err(zh)?
                .into_iter()
                .filter(|d| d.kind == "clinical" && d.active)
                .map(|d| (d.id, d.code))
                .collect();
            if scale.departments > 0 {
                depts.truncate(scale.departments);
            }
            depts.truncate(scale.doctors);
            if depts.is_empty() {
                bail!("the organisation has no clinical department");
            }
            let nd = depts.len();

            // Accounts: the doctors, and one kiosk account for every screen.
            let t = Instant::now();
            let tag = format!("{:06x}", self.seed & 0xff_ffff);
            eprintln!("  queue: creating {} doctor accounts and their API tokens…", scale.doctors);
            let password = format!("Load{tag}queue2026");
            let account = |username: String, display_name: String, dept_id: Option<Uuid>, role: &'static str| {
                let password = password.clone();
                async move {
                    let f = NewStaff { username, display_name, dept_id, roles: vec![role.into()], password };
                    let s = dayi_app::staff::create(app, actor, &f).await.map_err(zh)?;
                    let (_, token) =
                        dayi_app::auth::create_token(app, actor, s.id, "dayi-load queue", "").await.map_err(zh)?;
                    anyhow::Ok((s, token))
                }
            };
            let made: Vec<_> = stream::iter(0..scale.doctors)
                .map(|i| {
                    let name = format!("{}{}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len()) % GIVEN.len()]);
                    account(format!("lq{tag}d{i:03}"), name, Some(depts[i % nd].0), "doctor")
                })
                .buffered(2)
                .try_collect()
                .await?;
            let (_, screen_token) = account(format!("lq{tag}screens"), "候诊屏".into(), None, "kiosk").await?;
            let step = "doctor accounts with API tokens, and a kiosk account for the screens".to_string();
            setup.push(Setup { step, count: made.len() as u64 + 1, secs: t.elapsed().as_secs_f64() });

            // One session each today, the whole day long.
            let t = Instant::now();
            let today = dayi_core::timefmt::today_cst();
            // Slots over the whole day (up to the roster's longest slot, 240 minutes).
            let minutes = (1440 / scale.per_session).min(240);
            let forms: Vec<RosterForm> = made
                .iter()
                .enumerate()
                .map(|(i, (s, _))| RosterForm {
                    dept_id: depts[i % nd].0.to_string(),
                    day: today.to_string(),
                    half_day: "am".into(),
                    clinic_type: "general".into(),
                    doctor_id: s.id.to_string(),
                    doctor_title: "主治医师".into(),
                    room: format!("{}诊室", 101 + i),
                    start_time: "00:00".into(),
                    slot_minutes: minutes.to_string(),
                    slot_count: scale.per_session.to_string(),
                    ..Default::default()
                })
                .collect();
            let sessions: Vec<Uuid> = stream::iter(forms)
                .map(|f| async move { dayi_app::roster::create_session(app, actor, &f).await.map(|s| s.id) })
                .buffered(8)
                .try_collect()
                .await
                .map_err(zh)?;
            let step = format!("sessions today, {} slots each, in {nd} departments", scale.per_session);
            setup.push(Setup { step, count: sessions.len() as u64, secs: t.elapsed().as_secs_f64() });

            // Patients, each registered (walk-in) in up to 3 sessions of different departments.
            let session_dept: Vec<u16> = (0..sessions.len()).map(|s| (s % nd) as u16).collect();
            let k = usize::try_from(rules.max_per_day).unwrap_or(1).clamp(1, 3).min(nd);
            if rules.max_per_dept_day < 1 {
                bail!("the booking rules allow no registration (booking.max_per_dept_day)");
            }
            let plan = registrations(&session_dept, scale.per_session, k);
            let t = Instant::now();
            eprintln!("  queue: bulk-loading {} patients in-process…", plan.len());
            let patients = load_patients(app, actor, plan.len() as u32, self.seed).await?;
            let step = "patients bulk-loaded in-process".to_string();
            setup.push(Setup { step, count: patients.len() as u64, secs: t.elapsed().as_secs_f64() });

            let t = Instant::now();
            let wanted: Vec<(Uuid, Uuid)> = plan
                .iter()
                .zip(&patients)
                .flat_map(|(mine, p)| mine.iter().map(|s| (sessions[usize::from(*s)], p.id)))
                .collect();
            eprintln!("  queue: registering {} walk-ins in-process…", wanted.len());
            let answers: Vec<Result<(), String>> = stream::iter(wanted)
                .map(|(session, patient)| async move {
                    let req = BookRequest {
                        session_id: session.to_string(),
                        patient_id: patient.to_string(),
                        ..Default::default()
                    };
                    dayi_app::booking::walk_in(app, actor, &req)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.code.code().to_string())
                })
                .buffer_unordered(64)
                .collect()
                .await;
            let mut refused: BTreeMap<String, u64> = BTreeMap::new();
            for e in answers.iter().filter_map(|a| a.as_ref().err()) {
                *refused.entry(e.clone()).or_default() += 1;
            }
            if !refused.is_empty() {
                bail!("walk-ins refused: {}", tally(refused));
            }
            let step = "walk-ins registered in-process (today, 1 per patient and department)".to_string();
            setup.push(Setup { step, count: answers.len() as u64, secs: t.elapsed().as_secs_f64() });

            // Every patient checks in at the counter: all their registrations join their queues.
            let t = Instant::now();
            eprintln!("  queue: checking in {} patients over HTTP…", patients.len());
            let codes: Vec<(String, usize)> =
                patients.iter().zip(&plan).map(|(p, mine)| (p.hospital_no.clone(), mine.len())).collect();
            let answers: Vec<Result<(), String>> = stream::iter(codes)
                .map(|(code, n)| async move {
                    let body = json!({"code": code, "station": "dayi-load"});
                    let v = expect_json(ctx.post("/api/check-in").json(&body), 200).await?;
                    let got = v["bookings"].as_array().map_or(0, Vec::len);
                    if got == n { Ok(()) } else { Err(format!("response.{got}_of_{n}_checked_in")) }
                })
                .buffer_unordered(AT_ONCE)
                .collect()
                .await;
            let mut refused: BTreeMap<String, u64> = BTreeMap::new();
            for e in answers.iter().filter_map(|a| a.as_ref().err()) {
                *refused.entry(e.clone()).or_default() += 1;
            }
            if !refused.is_empty() {
                bail!("check-in (POST /api/check-in) refused: {}", tally(refused));
            }
            let step = "patients checked in over HTTP (POST /api/check-in)".to_string();
            setup.push(Setup { step, count: answers.len() as u64, secs: t.elapsed().as_secs_f64() });

            // Each doctor calls from their session, which holds everyone registered in it.
            let client = Client::builder()
                .pool_max_idle_per_host(scale.doctors)
                .tcp_nodelay(true)
                .timeout(CALL_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            let t = Instant::now();
            let doctors: Vec<Doctor> = made
                .into_iter()
                .enumerate()
                .map(|(i, (s, token))| {
                    let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))?;
                    auth.set_sensitive(true);
                    anyhow::Ok(Doctor {
                        username: s.username,
                        auth,
                        session: i as u16,
                        busy: tokio::sync::Mutex::new(()),
                        calls: Mutex::new(vec![]),
                        refused: Mutex::new(BTreeMap::new()),
                    })
                })
                .collect::<Result<_, _>>()?;
            let base = &ctx.base;
            let chosen: Vec<(String, HeaderValue, Uuid)> = doctors
                .iter()
                .map(|d| (d.username.clone(), d.auth.clone(), sessions[usize::from(d.session)]))
                .collect();
            let panels: Vec<Result<(), String>> = stream::iter(chosen)
                .map(|(username, auth, session)| {
                    let req = client
                        .post(format!("{base}/api/queue/panel"))
                        .header(AUTHORIZATION, auth)
                        .json(&json!({"sessions": [session]}));
                    async move {
                        let v = expect_json(req, 200).await.map_err(|e| format!("{username}: {e}"))?;
                        let waiting = v["waiting"].as_array().map_or(0, Vec::len);
                        if waiting != scale.per_session as usize {
                            return Err(format!("{username}: {waiting} waiting, not {}", scale.per_session));
                        }
                        Ok(())
                    }
                })
                .buffered(8)
                .collect()
                .await;
            if let Some(e) = panels.iter().find_map(|p| p.as_ref().err()) {
                bail!("doctor's panel (POST /api/queue/panel): {e}");
            }
            let step = format!("doctors' panels set (POST /api/queue/panel), {} waiting in each", scale.per_session);
            setup.push(Setup { step, count: doctors.len() as u64, secs: t.elapsed().as_secs_f64() });

            let memory = Arc::new(Mutex::new(Memory { ready: rss_kb(), ..Default::default() }));

            // The screens.
            let t = Instant::now();
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
            eprintln!(
                "  queue: connecting {} screens ({rooms} at room doors, {} in department halls)…",
                screens.len(),
                screens.len() - rooms
            );
            let mut headers = HeaderMap::new();
            let mut auth = HeaderValue::from_str(&format!("Bearer {screen_token}"))?;
            auth.set_sensitive(true);
            headers.insert(AUTHORIZATION, auth);
            headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
            let screen_client = Client::builder()
                .default_headers(headers)
                .tcp_nodelay(true)
                .connect_timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .build()?;
            let sink = Arc::new(Sink {
                index: sessions.iter().enumerate().map(|(i, s)| (*s, i as u16)).collect(),
                delivery: Mutex::new(histogram()),
                arrivals: Mutex::new(HashMap::new()),
            });
            let connected: Vec<Result<(), String>> = stream::iter(screens.clone())
                .map(|screen| {
                    let (ready, greeted) = oneshot::channel();
                    let task = tokio::spawn(watch(
                        screen_client.clone(),
                        format!("{base}/api/queue/events?{}", screen.query),
                        screen,
                        sink.clone(),
                        ready,
                    ));
                    self.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(task);
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
            let mut refused: BTreeMap<String, u64> = BTreeMap::new();
            for e in connected.iter().filter_map(|a| a.as_ref().err()) {
                *refused.entry(e.clone()).or_default() += 1;
            }
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

            {
                let mut m = memory.lock().unwrap_or_else(|e| e.into_inner());
                m.connected = rss_kb();
            }
            let sampler = memory.clone();
            let sampling = tokio::spawn(async move {
                let mut every = tokio::time::interval(SAMPLE_EVERY);
                loop {
                    every.tick().await;
                    if let Some(kb) = rss_kb() {
                        sampler.lock().unwrap_or_else(|e| e.into_inner()).during.push(kb);
                    }
                }
            });
            self.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(sampling);

            let prepared = Prepared {
                client,
                doctors,
                sessions,
                screens,
                watchers,
                sink,
                memory,
                slots: scale.per_session,
                departments: nd,
            };
            if self.prepared.set(prepared).is_err() {
                bail!("queue was already prepared");
            }
            Ok(setup)
        })
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
            let out = judge(p).await;
            self.stop_tasks();
            *self.figures.lock().unwrap_or_else(|e| e.into_inner()) = out.1;
            out.0
        })
    }

    fn figures(&self) -> Vec<Figure> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
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

/// Waits for the last boards, then checks the calls and what the screens saw.
async fn judge(p: &Prepared) -> (Vec<Check>, Vec<Figure>) {
    let calls: Vec<Vec<Call>> =
        p.doctors.iter().map(|d| d.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect();
    let made: u64 = calls.iter().map(|c| c.len() as u64).sum();
    let expected: u64 =
        p.doctors.iter().zip(&calls).map(|(d, c)| c.len() as u64 * p.watchers[usize::from(d.session)]).sum();
    let received = || -> u64 {
        p.screens
            .iter()
            .map(|s| {
                let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.got.iter().flatten().map(|w| u64::from(w.count_ones())).sum::<u64>()
            })
            .sum()
    };
    // The last calls' boards may still be on their way.
    let t = Instant::now();
    let (mut last, mut since) = (received(), Instant::now());
    while last < expected && t.elapsed() < SETTLE && since.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = received();
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
    let memory = p.memory.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut checks = vec![];

    // The doctors' answers.
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for d in &p.doctors {
        for (k, n) in d.refused.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *refused.entry(k.clone()).or_default() += n;
        }
    }
    let mut wrong = 0u64;
    let mut bookings = HashSet::new();
    let mut twice = 0u64;
    for (d, mine) in p.doctors.iter().zip(&calls) {
        for c in mine {
            wrong +=
                u64::from(c.session != p.sessions[usize::from(d.session)] || c.seq < 1 || c.seq > i64::from(p.slots));
            twice += u64::from(!bookings.insert(c.booking));
        }
    }
    let mut detail =
        format!("{made} calls answered 200; {wrong} for another queue or slot, {twice} patients called twice");
    if !refused.is_empty() {
        detail += &format!("; refused: {}", tally(refused.clone()));
    }
    checks.push(Check::new(
        "every call answered for the doctor's own queue",
        made > 0 && wrong == 0 && twice == 0 && refused.is_empty(),
        detail,
    ));

    // What the screens saw, against the calls made.
    let words =
        p.screens.first().and_then(|s| s.seen.lock().ok().and_then(|g| g.got.first().map(Vec::len))).unwrap_or(0);
    let mut called = vec![vec![0u64; words]; p.sessions.len()];
    for (d, mine) in p.doctors.iter().zip(&calls) {
        for c in mine.iter().filter(|c| c.seq >= 0 && (c.seq as usize) < words * 64) {
            called[usize::from(d.session)][c.seq as usize / 64] |= 1 << (c.seq % 64);
        }
    }
    let (mut got, mut missing, mut extra, mut dups, mut stray, mut ended) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut endings: BTreeMap<String, u64> = BTreeMap::new();
    for s in &p.screens {
        let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (bits, sess) in seen.got.iter().zip(&s.covers) {
            for (have, want) in bits.iter().zip(&called[usize::from(*sess)]) {
                got += u64::from(have.count_ones());
                missing += u64::from((want & !have).count_ones());
                extra += u64::from((have & !want).count_ones());
            }
        }
        dups += seen.dups;
        stray += seen.stray;
        if let Some(e) = &seen.ended {
            ended += 1;
            *endings.entry(e.clone()).or_default() += 1;
        }
    }
    let (fmin, fmax) = (p.watchers.iter().min().copied().unwrap_or(0), p.watchers.iter().max().copied().unwrap_or(0));
    checks.push(Check::new(
        "every screen got every call of its queues, once",
        made > 0 && got == expected && missing == 0 && extra == 0 && dups == 0 && stray == 0,
        format!(
            "{got} of {expected} receipts (each call × the {fmin}–{fmax} screens watching its queue); \
             {missing} missing, {dups} twice, {extra} for calls not answered, {stray} on screens not watching"
        ),
    ));
    let mut detail = format!("{ended} of {} event streams ended during the run", p.screens.len());
    if !endings.is_empty() {
        detail += &format!(" ({})", tally(endings));
    }
    checks.push(Check::new("screens stayed connected", ended == 0, detail));

    let h = p.sink.delivery.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let l = Latency::of(&h);
    let (mut first, mut spread) = (histogram(), histogram());
    for (at, a, z) in p.sink.arrivals.lock().unwrap_or_else(|e| e.into_inner()).values() {
        first.saturating_record(u64::try_from(a - at).unwrap_or(0).max(1));
        spread.saturating_record(u64::try_from(z - a).unwrap_or(0).max(1));
    }
    let (first, spread) = (Latency::of(&first), Latency::of(&spread));
    checks.push(Check::new(
        "a call on every screen within 100 ms at p99 (the issue's target)",
        !h.is_empty() && l.p99 < TARGET_MS,
        format!("p99 {:.1} ms over {} receipts", l.p99, h.len()),
    ));

    let per: Vec<usize> = calls.iter().map(Vec::len).collect();
    let rooms = p.screens.iter().filter(|s| s.query.starts_with("session=")).count();
    let mut figures = vec![
        Figure {
            name: "delivery".into(),
            detail: format!(
                "call → screen (arrival − board.at): p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2} over {} receipts",
                l.p50,
                l.p90,
                l.p99,
                l.max,
                h.len()
            ),
            latency_ms: Some(l),
        },
        Figure {
            name: "first screen".into(),
            detail: format!(
                "call → the first of its screens: p50 {:.2} ms, p99 {:.2}, max {:.2} (the server's own part)",
                first.p50, first.p99, first.max
            ),
            latency_ms: Some(first),
        },
        Figure {
            name: "spread".into(),
            detail: format!(
                "first → last screen of the same call: p50 {:.2} ms, p99 {:.2}, max {:.2} (the fan-out)",
                spread.p50, spread.p99, spread.max
            ),
            latency_ms: Some(spread),
        },
        Figure::new(
            "calls",
            format!(
                "{made} calls by {} doctors ({}–{} each)",
                p.doctors.len(),
                per.iter().min().copied().unwrap_or(0),
                per.iter().max().copied().unwrap_or(0)
            ),
        ),
        Figure::new(
            "fan-out",
            format!(
                "{} screens: {rooms} at room doors, {} watching one of {} departments each; a call shows on {fmin}–{fmax} screens ({:.1} on average)",
                p.screens.len(),
                p.screens.len() - rooms,
                p.departments,
                if made > 0 { expected as f64 / made as f64 } else { 0.0 }
            ),
        ),
    ];
    figures.push(Figure::new("memory", memory_detail(&memory)));
    (checks, figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_fill_every_session_within_the_rules() {
        for (sessions, depts, per, k) in [(50, 9, 240, 3), (4, 2, 30, 2), (7, 3, 11, 3), (5, 1, 6, 3)] {
            let dept: Vec<u16> = (0..sessions).map(|s| (s % depts) as u16).collect();
            let plan = registrations(&dept, per, k);
            let mut load = vec![0u32; sessions];
            for mine in &plan {
                assert!(!mine.is_empty() && mine.len() <= k, "{mine:?}");
                let ds: HashSet<u16> = mine.iter().map(|s| dept[usize::from(*s)]).collect();
                assert_eq!(ds.len(), mine.len(), "two sessions of one department: {mine:?}");
                for s in mine {
                    load[usize::from(*s)] += 1;
                }
            }
            assert!(load.iter().all(|n| *n == per), "{load:?}");
            let least = (sessions * per as usize).div_ceil(k.min(depts));
            assert!(plan.len() <= least + sessions, "{} patients for {least}", plan.len());
        }
    }

    #[test]
    fn the_default_layout_shows_each_call_on_many_screens() {
        let s = Scale::default();
        let w = layout(s.doctors, 9, s.screens, s.room_screens);
        assert_eq!(w.len(), 500);
        assert_eq!(w.iter().filter(|x| matches!(x, Watch::Room(_))).count(), 250);
        let mut watchers = vec![0usize; s.doctors];
        for x in &w {
            for c in covers(*x, s.doctors, 9) {
                watchers[usize::from(c)] += 1;
            }
        }
        // 5 door screens and the 27 or 28 zone screens of the session's department.
        assert!(watchers.iter().all(|n| (32..=33).contains(n)), "{watchers:?}");
        // Fewer screens than doors: door screens only.
        let w = layout(4, 2, 3, 2);
        assert_eq!(w, [Watch::Room(0), Watch::Room(1), Watch::Room(2)]);
    }

    #[test]
    fn memory_is_reported_at_the_quarters_of_the_run() {
        let m = Memory {
            ready: Some(100 * 1024),
            connected: Some(150 * 1024),
            during: (0..9).map(|i| (160 + i) * 1024).collect(),
        };
        let d = memory_detail(&m);
        assert!(d.contains("100 with the data loaded, 150 with the screens connected"), "{d}");
        assert!(d.contains("160 → 162 → 164 → 166 → 168, peak 168"), "{d}");
        assert!(memory_detail(&Memory::default()).contains("? → ? → ? → ? → ?, peak ?"));
    }

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
