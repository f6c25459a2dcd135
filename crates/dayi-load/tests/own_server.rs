//! dayi-load against the real Dayi server it starts itself.

use std::sync::Arc;
use std::time::Duration;

use dayi_load::engine::Limits;
use dayi_load::http::{Ctx, expect_json};
use dayi_load::scenarios::{BookRush, Lab, LabScale, Queue, QueueScale, Scale, Visit, VisitScale};
use dayi_load::server::OwnServer;

async fn ctx_for(s: &OwnServer, concurrency: usize) -> Arc<Ctx> {
    let mut ctx = Ctx::new(&s.url(), Some(&s.token), concurrency, Duration::from_secs(10)).unwrap();
    ctx.local = Some(s.local());
    ctx.seed = 1;
    Arc::new(ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_runs_against_its_own_server() {
    let s = OwnServer::start(None).await.unwrap();
    assert_eq!(s.backend, "sqlite");
    let ctx = ctx_for(&s, 4).await;
    let limits = Limits { concurrency: 4, duration: Duration::from_secs(60), requests: 300, think: Duration::ZERO };
    let reports = dayi_load::run(ctx.clone(), &["ceiling", "baseline"], limits).await;
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert_eq!((r.requests, r.successes, r.failed), (300, 300, 0), "{r:?}");
        assert!(r.failures.is_empty());
        assert!(r.passed(), "{:?}", r.checks);
        assert!(r.throughput_rps > 0.0 && r.latency_ms.max >= r.latency_ms.p50);
    }
    let (ceiling, baseline) = (&reports[0], &reports[1]);
    assert_eq!((ceiling.ratio_to_ceiling, ceiling.ratio_to_baseline), (Some(1.0), None));
    assert_eq!(baseline.ratio_to_baseline, Some(1.0));
    let expected = baseline.throughput_rps / ceiling.throughput_rps;
    assert!(baseline.ratio_to_ceiling.is_some_and(|x| (x - expected).abs() < 1e-9));
    drop(ctx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baseline_runs_on_postgres() {
    let Some(cluster) = dayi_testkit::PgCluster::shared() else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    let s = OwnServer::start(Some(&cluster.create_database())).await.unwrap();
    assert_eq!((s.backend.as_str(), s.fresh), ("postgres", false));
    let ctx = ctx_for(&s, 4).await;
    let limits = Limits { concurrency: 4, duration: Duration::from_secs(60), requests: 300, think: Duration::ZERO };
    let reports = dayi_load::run(ctx.clone(), &["baseline"], limits).await;
    assert_eq!((reports[0].requests, reports[0].successes), (300, 300), "{:?}", reports[0]);
    assert!(reports[0].passed(), "{:?}", reports[0].checks);
    drop(ctx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_belongs_to_the_registration_clerk() {
    let s = OwnServer::start(None).await.unwrap();
    let ctx = ctx_for(&s, 1).await;
    let me = expect_json(ctx.get("/api/me"), 200).await.unwrap();
    assert_eq!(me["username"], "reg01");
    assert_eq!(me["org_id"].as_str().unwrap().replace('-', ""), s.org_id.simple().to_string());
    assert!(me["roles"].as_array().unwrap().iter().any(|r| r == "registrar"), "{me}");
    drop(ctx);
    s.stop().await;
}

/// Every generated patient registers, and search finds the probes among a
/// bulk-loaded index; on SQLite and, when available, PostgreSQL.
async fn register_and_search(s: OwnServer) {
    let mut ctx = Ctx::new(&s.url(), Some(&s.token), 4, Duration::from_secs(30)).unwrap();
    ctx.local = Some(s.local());
    ctx.seed = 7;
    ctx.patients = 2_000;
    let ctx = Arc::new(ctx);
    let limits = Limits { concurrency: 4, duration: Duration::from_secs(60), requests: 200, think: Duration::ZERO };
    let reports = dayi_load::run(ctx.clone(), &["baseline", "register", "search"], limits).await;
    for r in &reports[1..] {
        assert_eq!((r.requests, r.successes), (200, 200), "{}: {:?} {:?}", r.name, r.failures, r.error);
        assert!(r.passed(), "{}: {:?}", r.name, r.checks);
        assert!(r.ratio_to_baseline.is_some_and(|x| x > 0.0));
    }
    // The bulk load fills the organisation up to --patients (register's 200 and the demo's were there).
    let loaded = reports[2].setup[0].count;
    assert!((1_700..2_000).contains(&loaded), "bulk load: {:?}", reports[2].setup);
    let total = dayi_app::patient::count_seq(&s.local().app, s.local().org_id).await.unwrap();
    assert!(total >= 2_000, "{total} patients");
    drop(ctx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_search_on_sqlite() {
    register_and_search(OwnServer::start(None).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_and_search_on_postgres() {
    let Some(cluster) = dayi_testkit::PgCluster::shared() else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    register_and_search(OwnServer::start(Some(&cluster.create_database())).await.unwrap()).await;
}

/// The 08:00 rush at a small scale: every booking within the rules is made,
/// late bookers of full sessions and deliberate repeats are refused, and the
/// checks (slots, rules, durability, the session list) pass.
async fn book_rush(s: OwnServer) {
    let ctx = ctx_for(&s, 8).await;
    let limits =
        Limits { concurrency: 8, duration: Duration::from_secs(120), requests: 1_000_000, think: Duration::ZERO };
    let r = dayi_load::run_scenario(ctx.clone(), Arc::new(BookRush::new(3, Scale::small())), limits).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(r.passed(), "{:#?}", r.checks);
    assert_eq!(r.checks.len(), 7, "{:#?}", r.checks);
    // The plan bounds the run: a few hundred attempts, most of them bookings.
    assert!((500..700).contains(&r.requests), "{}", r.requests);
    assert!(r.successes * 10 > r.requests * 8, "{} of {}", r.successes, r.requests);
    for code in ["booking.full", "booking.session_taken", "booking.dept_limit"] {
        assert!(r.failures.contains_key(code), "{code} missing: {:?}", r.failures);
    }
    assert!(r.failures.keys().all(|k| k.starts_with("booking.")), "{:?}", r.failures);
    assert!(r.ok_rps > 0.0 && r.ok_rps < r.throughput_rps);
    assert_eq!(r.setup.len(), 3, "{:?}", r.setup);
    drop(ctx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_rush_on_sqlite() {
    book_rush(OwnServer::start(None).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn book_rush_on_postgres() {
    let Some(cluster) = dayi_testkit::PgCluster::shared() else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    book_rush(OwnServer::start(Some(&cluster.create_database())).await.unwrap()).await;
}

/// Four doctors calling with two dozen screens watching: every call
/// answered for the doctor's own queue and shown on every screen that
/// watches it; the delivery figures and the memory reported.
async fn queue(s: OwnServer) {
    let ctx = ctx_for(&s, 2).await;
    let limits =
        Limits { concurrency: 2, duration: Duration::from_secs(3), requests: 60, think: Duration::from_millis(20) };
    let r = dayi_load::run_scenario(ctx.clone(), Arc::new(Queue::new(5, QueueScale::small())), limits).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!((r.requests, r.successes, r.failed), (60, 60, 0), "{:?}", r.failures);
    // The target may be missed on a busy test machine; everything else must hold.
    for c in r.checks.iter().filter(|c| !c.name.contains("100 ms")) {
        assert!(c.pass, "{}: {}", c.name, c.detail);
    }
    assert_eq!(r.checks.len(), 4, "{:#?}", r.checks);
    let names: Vec<&str> = r.figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["delivery", "first screen", "spread", "calls", "fan-out", "memory"]);
    let delivery = r.figures[0].latency_ms.unwrap();
    assert!(delivery.p50 > 0.0 && delivery.max >= delivery.p99, "{delivery:?}");
    // 4 doctors → 4 workers, whatever the limits said.
    assert!(r.figures[3].detail.contains("by 4 doctors"), "{}", r.figures[3].detail);
    assert_eq!(r.setup.len(), 7, "{:?}", r.setup);
    drop(ctx);
    // The screens' streams are closed: the server stops.
    tokio::time::timeout(Duration::from_secs(10), s.stop()).await.expect("the server stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_on_sqlite() {
    queue(OwnServer::start(None).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_on_postgres() {
    let Some(cluster) = dayi_testkit::PgCluster::shared() else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    queue(OwnServer::start(Some(&cluster.create_database())).await.unwrap()).await;
}

/// Four doctors with ten called patients each: every visit is opened,
/// diagnosed, ordered, charged and paid once; each step's latency reported.
async fn visit(s: OwnServer) {
    let ctx = ctx_for(&s, 4).await;
    let limits =
        Limits { concurrency: 4, duration: Duration::from_secs(120), requests: 1_000_000, think: Duration::ZERO };
    let r = dayi_load::run_scenario(ctx.clone(), Arc::new(Visit::new(9, VisitScale::small())), limits).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    // The prepared visits bound the run.
    assert_eq!((r.requests, r.successes, r.failed), (40, 40, 0), "{:?}", r.failures);
    // The targets may be missed on a busy test machine; everything else must hold.
    for c in r.checks.iter().filter(|c| !c.name.contains("target")) {
        assert!(c.pass, "{}: {}", c.name, c.detail);
    }
    assert_eq!(r.checks.len(), 6, "{:#?}", r.checks);
    let names: Vec<&str> = r.figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["open", "diagnose", "order", "charge", "pay", "visits", "money"]);
    for f in &r.figures[..5] {
        let l = f.latency_ms.unwrap();
        assert!(l.p50 > 0.0 && l.max >= l.p99, "{}: {l:?}", f.name);
        assert!(f.detail.ends_with("over 40 requests"), "{}", f.detail);
    }
    assert_eq!(r.setup.len(), 6, "{:?}", r.setup);
    drop(ctx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visit_on_sqlite() {
    visit(OwnServer::start(None).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visit_on_postgres() {
    let Some(cluster) = dayi_testkit::PgCluster::shared() else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    visit(OwnServer::start(Some(&cluster.create_database())).await.unwrap()).await;
}

/// Forty tubes: twenty sent back to back over one MLLP connection, twenty
/// pipelined, every one answered AA and stored once; six verified while the
/// patient's phone watches.
async fn lab(s: OwnServer) {
    let ctx = ctx_for(&s, 1).await;
    let limits =
        Limits { concurrency: 4, duration: Duration::from_secs(120), requests: 1_000_000, think: Duration::ZERO };
    let r = dayi_load::run_scenario(ctx.clone(), Arc::new(Lab::new(11, LabScale::small())), limits).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    // Half the tubes back to back, on one connection whatever the limits said.
    assert_eq!((r.requests, r.successes, r.failed), (20, 20, 0), "{:?}", r.failures);
    // The targets may be missed on a busy test machine; everything else must hold.
    for c in r.checks.iter().filter(|c| !c.name.contains("target")) {
        assert!(c.pass, "{}: {}", c.name, c.detail);
    }
    assert_eq!(r.checks.len(), 7, "{:#?}", r.checks);
    let names: Vec<&str> = r.figures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["back to back", "pipelined", "acks", "verify", "publication"]);
    assert_eq!(r.figures[2].detail, "AA ×40");
    assert!(r.figures[4].detail.ends_with("over 6"), "{}", r.figures[4].detail);
    assert!(r.latency_ms.p50 > 0.0);
    assert_eq!(r.setup.len(), 3, "{:?}", r.setup);
    drop(ctx);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_on_sqlite() {
    lab(OwnServer::start(None).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_on_postgres() {
    let Some(cluster) = dayi_testkit::PgCluster::shared() else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    lab(OwnServer::start(Some(&cluster.create_database())).await.unwrap()).await;
}

#[test]
fn the_binary_prints_json() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dayi-load"))
        .args(["baseline", "--requests", "200", "--concurrency", "2", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"]["own_server"], true);
    assert_eq!(v["scenarios"][0]["name"], "baseline");
    assert_eq!(v["scenarios"][0]["successes"], 200);
    assert!(v["scenarios"][0]["latency_ms"]["p99"].as_f64().unwrap() > 0.0);
}

#[test]
fn the_binary_refuses_remote_targets() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dayi-load"))
        .args(["baseline", "--url", "http://192.168.1.10:8080", "--requests", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing"));
}

/// `--url` mode: the binary drives a server that is already running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_targets_a_running_server() {
    let s = OwnServer::start(None).await.unwrap();
    let (url, token) = (s.url(), s.token.clone());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_dayi-load"))
        .args(["baseline", "--url", &url, "--token", &token, "--requests", "100", "--json"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["target"]["own_server"], false);
    assert_eq!(v["target"]["backend"], "sqlite");
    assert_eq!(v["scenarios"][0]["successes"], 100);
    s.stop().await;
}
