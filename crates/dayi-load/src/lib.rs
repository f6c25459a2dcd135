//! `dayi-load`: the HTTP load generator of the Dayi workspace.
//!
//! It drives a running Dayi over loopback with closed-loop workers, bounded in
//! request count and in time, and stops by itself. For each scenario it
//! reports requests, successes, failures by API error code (or HTTP status, or
//! transport error), throughput, p50/p90/p95/p99/max latency, named
//! correctness checks, and the ratio of its throughput to `ceiling` (a
//! static file: HTTP alone) and to `baseline` (one trivial query) in the
//! same run.
//!
//! ```sh
//! # start a server of its own (fresh SQLite in a temporary directory) and run everything
//! cargo run --release -p dayi-load -- all
//! # the same on PostgreSQL (an empty database you made; the demo community is seeded into it)
//! cargo run --release -p dayi-load -- all --db postgres://dayi@127.0.0.1/dayi_load
//! # search against 100,000 patients instead of the default 1,000,000
//! cargo run --release -p dayi-load -- search --patients 100000
//! # a server that is already running (loopback only), with an API token
//! cargo run --release -p dayi-load -- register --url http://127.0.0.1:8080 --token dayi_…
//! # the 08:00 booking rush with 256 patients' phones at once (≈ 28,800 attempts)
//! cargo run --release -p dayi-load -- book-rush -c 256 -d 60
//! # 50 doctors calling once a second while 500 screens watch over server-sent events
//! cargo run --release -p dayi-load -- queue --think 1000 -d 30
//! # 10,000 outpatient visits, 64 at a time: open, diagnose, order, charge, pay
//! cargo run --release -p dayi-load -- visit -c 64 -d 60
//! # 20,000 analyzer results over one MLLP connection, then verified results reaching the phone
//! cargo run --release -p dayi-load -- lab -d 60
//! # FHIR Patient read, identifier search and create among 1,000,000 patients
//! cargo run --release -p dayi-load -- fhir -c 16 -d 10
//! # machine-readable
//! cargo run --release -p dayi-load -- baseline --requests 20000 --json
//! ```
//!
//! Scenarios: `ceiling` (`GET /static/css/dayi.css`), `baseline` (`GET /healthz`), `register` (`POST /api/patients`,
//! a new realistic patient each time), `book-rush` (the 08:00 slot release:
//! signed-in patients booking through `POST /portal/api/bookings`, 1,000
//! sessions of 30 slots, with deliberate rule-breaking repeats; needs the
//! server dayi-load starts itself, so `all --url` leaves it out), `search` (`GET /api/patients?q=` with
//! pinyin initials, ID tails and phone numbers) and `queue` (50 doctors
//! calling `POST /api/queue/next` while 500 screens watch
//! `GET /api/queue/events`; it reports how long each call took to reach
//! every screen, checks that every screen got every call of its queues, and
//! reports the process's memory; own server only) and `visit` (the
//! outpatient visit of a called patient: the doctor opens it, diagnoses and
//! orders, the cashier looks up what is owed and takes it in cash; per-step
//! latency, visits per second, and checks that every visit was paid once, to
//! the fen; own server only) and `lab` (analyzers' ORU^R01 over one MLLP
//! connection, back to back and pipelined, then verification over HTTP while
//! the patient's phone polls `GET /portal/api/lab/{patient}`; messages/s,
//! ACK and publication latency, and checks that every result was stored
//! once; own server only) and `fhir` (the FHIR R4 `Patient` API with a bearer
//! token: `fhir-read`, `fhir-search` by resident ID number and `fhir-create`,
//! each its own row, among `--patients` patients that a fresh SQLite run
//! copies from a seeded file kept under `target/dayi-load/`). `ceiling` and
//! `baseline` always run first unless only they are asked for. When dayi-load starts the
//! server, the token belongs to the demo registration clerk `reg01` of
//! `wsxrmyy`, issued in-process. The exit status is 1 when a check fails or a
//! scenario could not run.
//!
//! The load generator and an own server share the machine's cores, so the
//! absolute figures are lower bounds; the ratios to `ceiling` and `baseline` travel better.

pub mod child;
pub mod data;
pub mod engine;
pub mod http;
pub mod report;
pub mod scenarios;
pub mod server;

use std::sync::Arc;

use engine::Limits;
use http::Ctx;
use report::ScenarioReport;
use scenarios::Scenario;

/// Runs the named scenarios one after another against `ctx`, each within
/// `limits`, and reports them. Progress goes to standard error.
pub async fn run(ctx: Arc<Ctx>, names: &[&str], limits: Limits) -> Vec<ScenarioReport> {
    let mut out: Vec<ScenarioReport> = vec![];
    for &name in names {
        let Some(scenario) = scenarios::by_name(name, &ctx) else {
            out.push(ScenarioReport::not_run(name, "unknown scenario".into()));
            continue;
        };
        let mut r = run_scenario(ctx.clone(), scenario, limits).await;
        r.ratio_to_ceiling = ratio(&out, &r, "ceiling");
        r.ratio_to_baseline = ratio(&out, &r, "baseline");
        out.push(r);
    }
    out
}

/// `r`'s throughput over that of `to` in the same run (`r` itself when it is `to`).
fn ratio(done: &[ScenarioReport], r: &ScenarioReport, to: &str) -> Option<f64> {
    let of = if r.name == to { Some(r) } else { done.iter().find(|d| d.name == to) };
    of.filter(|d| d.error.is_none() && d.throughput_rps > 0.0).map(|d| r.throughput_rps / d.throughput_rps)
}

/// Prepares, runs and checks one scenario.
pub async fn run_scenario(ctx: Arc<Ctx>, scenario: Arc<dyn Scenario>, limits: Limits) -> ScenarioReport {
    let name = scenario.name();
    if scenario.needs_token() && !ctx.has_token {
        return ScenarioReport::not_run(name, "needs an API token (--token)".into());
    }
    eprintln!("{name}: preparing…");
    let setup = match scenario.prepare(&ctx).await {
        Ok(s) => s,
        Err(e) => return ScenarioReport::not_run(name, format!("preparation failed: {e:#}")),
    };
    let limits = Limits {
        requests: limits.requests.min(scenario.max_requests().unwrap_or(u64::MAX)),
        concurrency: scenario.workers().unwrap_or(limits.concurrency),
        ..limits
    };
    eprintln!(
        "{name}: running ({} workers, up to {:.0} s or {} requests)…",
        limits.concurrency,
        limits.duration.as_secs_f64(),
        limits.requests
    );
    let stats = engine::run(scenario.clone(), ctx.clone(), limits).await;
    let checks = scenario.checks(&ctx).await;
    let mut r = ScenarioReport::new(name, &stats, setup, checks);
    r.figures = scenario.figures();
    r
}
