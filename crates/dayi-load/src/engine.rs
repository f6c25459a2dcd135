//! Closed-loop workers: each sends its next request as soon as the previous
//! one is answered (or a fixed think time after it), until the deadline
//! passes or the request budget is spent.
//! Every request is counted once, whichever bound stops the run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::http::{Ctx, Outcome};
use crate::scenarios::Scenario;

/// Latencies are recorded in microseconds, up to an hour, to 3 significant digits.
const MAX_MICROS: u64 = 3_600_000_000;

/// When a run stops.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Workers, each with one request in flight at a time.
    pub concurrency: usize,
    /// No request starts after this much time; those in flight finish.
    pub duration: Duration,
    /// No more than this many requests in total.
    pub requests: u64,
    /// Each worker pauses this long after an answer before its next request
    /// (not timed); the workers' first requests are spread over one pause.
    /// Zero: as fast as answers come.
    pub think: Duration,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: u64,
    pub successes: u64,
    /// Failed requests by key (API error code, `http.<status>`, `transport.<kind>`).
    pub failures: BTreeMap<String, u64>,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Every completed request, success or failure, in microseconds.
    pub latency: Histogram<u64>,
}

/// An empty latency histogram in µs, 1 µs to [`MAX_MICROS`], 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

impl Stats {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Stats { requests: 0, successes: 0, failures: BTreeMap::new(), elapsed: Duration::ZERO, latency: histogram() }
    }

    fn record(&mut self, took: Duration, outcome: Outcome) {
        self.requests += 1;
        match outcome {
            Ok(()) => self.successes += 1,
            Err(key) => *self.failures.entry(key).or_default() += 1,
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency.saturating_record(micros);
    }

    pub fn merge(&mut self, other: Stats) {
        self.requests += other.requests;
        self.successes += other.successes;
        for (k, n) in other.failures {
            *self.failures.entry(k).or_default() += n;
        }
        // Same bounds on both sides, so adding cannot fail.
        self.latency.add(&other.latency).expect("histograms with equal bounds");
    }

    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }

    /// Completed requests per second of wall-clock time.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.requests as f64 / secs } else { 0.0 }
    }

    /// Successful requests per second of wall-clock time.
    pub fn success_rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.successes as f64 / secs } else { 0.0 }
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// Runs `scenario` against the target until a limit is reached.
pub async fn run(scenario: Arc<dyn Scenario>, ctx: Arc<Ctx>, limits: Limits) -> Stats {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + limits.duration;
    let mut workers = JoinSet::new();
    for worker in 0..limits.concurrency.max(1) {
        let (scenario, ctx, issued) = (scenario.clone(), ctx.clone(), issued.clone());
        workers.spawn(async move {
            let mut stats = Stats::new();
            // Spread the first requests over one pause, so paced workers do not move in step.
            let mut pause = limits.think * worker as u32 / limits.concurrency.max(1) as u32;
            loop {
                if !pause.is_zero() {
                    tokio::time::sleep_until((Instant::now() + pause).min(deadline)).await;
                }
                if Instant::now() >= deadline {
                    break;
                }
                pause = limits.think;
                // Taking a number before sending keeps the total exact across workers.
                let seq = issued.fetch_add(1, Ordering::Relaxed);
                if seq >= limits.requests {
                    break;
                }
                let t0 = Instant::now();
                let outcome = scenario.call(&ctx, worker, seq).await;
                stats.record(t0.elapsed(), outcome);
            }
            stats
        });
    }
    let mut total = Stats::new();
    while let Some(done) = workers.join_next().await {
        match done {
            Ok(stats) => total.merge(stats),
            // A panicking scenario loses that worker's numbers; say so rather than abort the run.
            Err(e) => {
                *total
                    .failures
                    .entry(format!("load.worker_{}", if e.is_panic() { "panic" } else { "cancelled" }))
                    .or_default() += 1
            }
        }
    }
    total.elapsed = start.elapsed();
    total
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use axum::Router;
    use axum::extract::State;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use futures::future::BoxFuture;

    use super::*;
    use crate::http::expect;

    /// GETs one path and expects 200.
    struct Get(&'static str);

    impl Scenario for Get {
        fn name(&self) -> &'static str {
            "test"
        }
        fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, _seq: u64) -> BoxFuture<'a, Outcome> {
            Box::pin(expect(ctx.get(self.0), 200))
        }
    }

    /// A server on a free loopback port that counts the requests it answers.
    async fn counting_server() -> (String, Arc<AtomicU64>) {
        let hits = Arc::new(AtomicU64::new(0));
        let app = Router::new()
            .route("/hit", get(hit))
            .route("/slow", get(slow))
            .route("/mixed", get(mixed))
            .with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), hits)
    }

    async fn hit(State(hits): State<Arc<AtomicU64>>) -> &'static str {
        hits.fetch_add(1, Ordering::SeqCst);
        "ok"
    }

    async fn slow(State(hits): State<Arc<AtomicU64>>) -> &'static str {
        hits.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        "ok"
    }

    /// 200, then a coded problem, then a plain 503, in turn.
    async fn mixed(State(hits): State<Arc<AtomicU64>>) -> axum::response::Response {
        match hits.fetch_add(1, Ordering::SeqCst) % 3 {
            0 => "ok".into_response(),
            1 => (
                StatusCode::UNPROCESSABLE_ENTITY,
                [(header::CONTENT_TYPE, "application/problem+json")],
                r#"{"code":"test.bad","title":"bad"}"#,
            )
                .into_response(),
            _ => (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        }
    }

    fn ctx(base: &str, concurrency: usize) -> Arc<Ctx> {
        Arc::new(Ctx::new(base, None, concurrency, Duration::from_secs(10)).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stops_at_the_request_bound() {
        let (base, hits) = counting_server().await;
        let limits = Limits { concurrency: 8, duration: Duration::from_secs(30), requests: 137, think: Duration::ZERO };
        let stats = run(Arc::new(Get("/hit")), ctx(&base, 8), limits).await;
        assert_eq!((stats.requests, stats.successes, stats.failed()), (137, 137, 0));
        assert_eq!(hits.load(Ordering::SeqCst), 137);
        assert_eq!(stats.latency.len(), 137);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stops_at_the_deadline() {
        let (base, hits) = counting_server().await;
        let limits =
            Limits { concurrency: 4, duration: Duration::from_millis(300), requests: u64::MAX, think: Duration::ZERO };
        let stats = run(Arc::new(Get("/slow")), ctx(&base, 4), limits).await;
        assert!(stats.elapsed < Duration::from_secs(2), "took {:?}", stats.elapsed);
        assert!(stats.requests >= 4, "only {} requests", stats.requests);
        assert_eq!(hits.load(Ordering::SeqCst), stats.requests);
        assert_eq!(stats.successes, stats.requests);
        assert!(stats.throughput() > 0.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn groups_failures_by_code_or_status() {
        let (base, _) = counting_server().await;
        let limits = Limits { concurrency: 3, duration: Duration::from_secs(30), requests: 300, think: Duration::ZERO };
        let stats = run(Arc::new(Get("/mixed")), ctx(&base, 3), limits).await;
        assert_eq!(stats.successes, 100);
        let want: BTreeMap<String, u64> = [("http.503".to_string(), 100), ("test.bad".to_string(), 100)].into();
        assert_eq!(stats.failures, want);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn think_time_paces_the_workers() {
        let (base, hits) = counting_server().await;
        let think = Duration::from_millis(100);
        let limits = Limits { concurrency: 2, duration: Duration::from_millis(550), requests: u64::MAX, think };
        let stats = run(Arc::new(Get("/hit")), ctx(&base, 2), limits).await;
        // Worker 0 starts at once, worker 1 after 50 ms; each then every ~100 ms.
        assert!((8..=12).contains(&stats.requests), "{} requests", stats.requests);
        assert_eq!(hits.load(Ordering::SeqCst), stats.requests);
        // The pauses are not timed.
        assert!(stats.latency.max() < 50_000, "max {} µs", stats.latency.max());
    }

    #[tokio::test]
    async fn counts_transport_failures() {
        // Bind and drop to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let limits = Limits { concurrency: 2, duration: Duration::from_secs(10), requests: 10, think: Duration::ZERO };
        let stats = run(Arc::new(Get("/")), ctx(&format!("http://127.0.0.1:{port}"), 2), limits).await;
        assert_eq!(stats.successes, 0);
        assert_eq!(stats.failures.get("transport.connect"), Some(&10));
    }

    #[test]
    fn percentiles_from_the_histogram() {
        let mut s = Stats::new();
        // 1..=1000 ms, each once.
        for ms in 1..=1000u64 {
            s.record(Duration::from_millis(ms), Ok(()));
        }
        let l = Latency::of(&s.latency);
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(near(l.p50, 500.0), "{l:?}");
        assert!(near(l.p90, 900.0), "{l:?}");
        assert!(near(l.p95, 950.0), "{l:?}");
        assert!(near(l.p99, 990.0), "{l:?}");
        assert!(near(l.max, 1000.0), "{l:?}");
        assert!(near(l.mean, 500.5), "{l:?}");
        assert_eq!(Latency::of(&Stats::new().latency), Latency::default());
    }

    #[test]
    fn merging_adds_counts_and_latencies() {
        let mut a = Stats::new();
        a.record(Duration::from_millis(1), Ok(()));
        a.record(Duration::from_millis(2), Err("x".into()));
        let mut b = Stats::new();
        b.record(Duration::from_millis(3), Err("x".into()));
        b.record(Duration::from_millis(4), Err("y".into()));
        a.merge(b);
        assert_eq!((a.requests, a.successes, a.failed()), (4, 1, 3));
        assert_eq!(a.failures["x"], 2);
        assert_eq!(a.latency.len(), 4);
        a.elapsed = Duration::from_secs(2);
        assert_eq!(a.throughput(), 2.0);
        assert_eq!(a.success_rate(), 0.5);
    }
}
