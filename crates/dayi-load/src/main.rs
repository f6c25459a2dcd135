//! `dayi-load`: drives a Dayi server on loopback and reports throughput,
//! latency and correctness checks per scenario. See the library's docs.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use dayi_load::child::ChildServer;
use dayi_load::engine::Limits;
use dayi_load::http::{self, Ctx, expect_json};
use dayi_load::report::{LimitsReport, RunReport, Target};
use dayi_load::scenarios;
use dayi_load::server::OwnServer;

/// Seed of the generated data on a fresh database, so runs are comparable.
const DEFAULT_SEED: u64 = 20_261_123;

#[derive(Parser)]
#[command(
    name = "dayi-load",
    version,
    about = "大医 Dayi load generator: drives a server on loopback and reports throughput, latency and checks",
    after_help = "Examples:
  dayi-load all                                  own server on a fresh SQLite file, every scenario
  dayi-load search --patients 100000             search among 100,000 bulk-loaded patients
  dayi-load book-rush -c 256 -d 60               the 08:00 booking rush, 256 patients at once
  dayi-load queue --think 1000 -d 30             50 doctors calling once a second, 500 screens watching
  dayi-load visit -c 64 -d 60                    10,000 outpatient visits: open, diagnose, order, charge, pay
  dayi-load lab -d 60                            20,000 analyzer results over one MLLP connection, then publication
  dayi-load fhir -c 16 -d 10                     FHIR Patient read, identifier search and create among 1,000,000 patients
  dayi-load all --db postgres://dayi@127.0.0.1/dayi_load
  dayi-load register --url http://127.0.0.1:8080 --token dayi_…
  dayi-load soak -d 300 -c 8                     5 minutes of mixed load with 1.9 MB bodies against `dayi serve`, its RSS watched
  dayi-load baseline --requests 20000 --json"
)]
struct Cli {
    /// Scenarios to run: all (default), ceiling, baseline, register, book-rush, search, queue, visit, lab, fhir
    /// (= fhir-read, fhir-search, fhir-create). ceiling (a static file) and baseline (/healthz) run first unless only
    /// they are named, so the others get a ratio to each.
    /// soak runs alone, against `dayi serve` in a process of its own whose memory it watches.
    #[arg(value_name = "SCENARIO")]
    scenarios: Vec<String>,

    /// Workers, each with one request in flight at a time.
    #[arg(long, short = 'c', default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=4096))]
    concurrency: u16,

    /// Seconds each scenario runs at most.
    #[arg(long, short = 'd', default_value_t = 10.0, value_name = "SECS")]
    duration: f64,

    /// Milliseconds each worker waits after an answer before its next request (not timed);
    /// the first requests are spread over one wait. 0: as fast as answers come.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    think: u64,

    /// Requests each scenario sends at most (book-rush also stops when its plan of attempts is done).
    #[arg(long, short = 'n', default_value_t = 1_000_000, value_name = "N")]
    requests: u64,

    /// Database of the server dayi-load starts: postgres://… (an empty database; the demo
    /// community is seeded into it) or sqlite:…. Default: a new SQLite file in a temporary directory.
    #[arg(long, value_name = "URL", conflicts_with = "url")]
    db: Option<String>,

    /// Connections in the database pool of the server dayi-load starts (default: the server's
    /// own default, 8). Every other setting is always the default.
    #[arg(long, value_name = "N", conflicts_with = "url", value_parser = clap::value_parser!(u32).range(1..=1000))]
    db_pool: Option<u32>,

    /// Target a running server instead (127.0.0.1, localhost or ::1 only), e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    url: Option<String>,

    /// API token for --url (dayi_…). Every scenario but baseline needs one.
    #[arg(long, value_name = "TOKEN", requires = "url")]
    token: Option<String>,

    /// Patients bulk-loaded before search and fhir when dayi-load starts the server (0 for none).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    patients: u64,

    /// Where the seeded SQLite files are kept (default: dayi-load/ in the target directory the
    /// binary was built in). When only search and fhir scenarios run on a fresh SQLite file, the
    /// server starts from a copy of a file with the demo community and --patients patients,
    /// made once per --patients and seed.
    #[arg(long, value_name = "DIR")]
    seed_cache: Option<std::path::PathBuf>,

    /// Load the patients in every run instead of copying a seeded file.
    #[arg(long, conflicts_with = "seed_cache")]
    no_seed_cache: bool,

    /// Patients waiting in each doctor's queue when queue starts (default 240): enough for
    /// about 40 s of calling as fast as this machine answers; more for longer runs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=480))]
    queue_waiting: Option<u32>,

    /// Visits prepared for visit (default 10,000: 50 doctors with 200 called patients each); the run
    /// ends when they are all taken.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=24_000))]
    visits: Option<u32>,

    /// Tubes prepared for lab (default 20,000, two per patient): half are sent back to back over one
    /// MLLP connection (the timed run, bounded by --duration too), half pipelined.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=999_998))]
    specimens: Option<u32>,

    /// Patients in the three-highs registry prepared for chronic (default 100,000), each with four
    /// years of follow-ups.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
    registry: Option<u64>,

    /// Seed of the generated patients. Default: fixed on a fresh SQLite file, else taken
    /// from the clock so a re-run against the same database does not repeat ID numbers.
    #[arg(long)]
    seed: Option<u64>,

    /// Seconds one request may take before it counts as transport.timeout.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,

    /// soak: seconds the server idles after the run before its memory is read the last time.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    idle: u64,

    /// soak against --url: the server's process id, whose memory is read from /proc.
    #[arg(long, value_name = "PID", requires = "url")]
    server_pid: Option<u32>,

    /// soak: the `dayi` binary to start (default: the one beside dayi-load).
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    dayi_bin: Option<std::path::PathBuf>,

    /// Print the report as JSON on standard output (progress stays on standard error).
    #[arg(long)]
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("dayi-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// True when every scenario ran and passed its checks.
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let names = scenarios::plan(&cli.scenarios, cli.url.is_none())?;
    let all = cli.scenarios.is_empty() || cli.scenarios.iter().any(|a| a == "all");
    if all && cli.url.is_some() {
        eprintln!(
            "not run against --url: {} (they prepare data inside dayi-load's own server)",
            scenarios::OWN_SERVER_ONLY.join(", ")
        );
    }
    let limits = limits_of(&cli)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let timeout = Duration::from_secs(cli.timeout.max(1));

    let servers = Servers::start(&cli, &names).await?;
    let (base, token) = servers.target(&cli)?;
    let ctx = context(&cli, &servers, &base, token.as_deref(), limits.concurrency, timeout)?;
    let backend = match &servers.own {
        Some(s) => Some(s.backend.clone()),
        None => match expect_json(ctx.get("/healthz"), 200).await {
            Ok(v) => v["database"].as_str().map(str::to_string),
            Err(e) => bail!("{base}/healthz did not answer 200: {e}"),
        },
    };

    let ctx = Arc::new(ctx);
    let scenarios = dayi_load::run(ctx.clone(), &names, limits).await;
    // Close the client's connections before the server waits for them.
    drop(ctx);
    servers.stop().await;

    let report = RunReport {
        tool: format!("dayi-load {}", env!("CARGO_PKG_VERSION")),
        target: Target { url: base, own_server: cli.url.is_none(), backend, db_pool: cli.db_pool },
        limits: LimitsReport {
            concurrency: limits.concurrency,
            duration_s: limits.duration.as_secs_f64(),
            max_requests: limits.requests,
            think_ms: cli.think,
        },
        scenarios,
    };
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(report.passed())
}

/// The bounds of each scenario's run, from the options.
fn limits_of(cli: &Cli) -> anyhow::Result<Limits> {
    if !(cli.duration.is_finite() && cli.duration > 0.0 && cli.duration <= 86_400.0) {
        bail!("--duration must be between 0 and 86400 seconds");
    }
    Ok(Limits {
        concurrency: usize::from(cli.concurrency),
        duration: Duration::from_secs_f64(cli.duration),
        requests: cli.requests,
        think: Duration::from_millis(cli.think),
    })
}

/// The servers dayi-load starts itself: none against --url, a `dayi serve`
/// process of its own for the soak, else one in this process.
struct Servers {
    own: Option<OwnServer>,
    child: Option<ChildServer>,
}

impl Servers {
    async fn start(cli: &Cli, names: &[&str]) -> anyhow::Result<Servers> {
        let seeded = match seed_cache(cli, names) {
            Some(dir) => {
                Some(dayi_load::server::seeded_file(&dir, cli.patients, cli.seed.unwrap_or(DEFAULT_SEED)).await?)
            }
            None => None,
        };
        // The soak measures a server process of its own, not this one.
        let child = match (&cli.url, names) {
            (None, ["soak"]) => {
                eprintln!("starting `dayi serve` in a process of its own…");
                Some(ChildServer::start(cli.dayi_bin.as_deref()).await?)
            }
            _ => None,
        };
        let own = match (&cli.url, &seeded) {
            _ if child.is_some() => None,
            (Some(_), _) => None,
            (None, Some(file)) => {
                eprintln!("starting a Dayi server (a copy of {})…", file.display());
                Some(OwnServer::start_from(file, cli.db_pool).await?)
            }
            (None, None) => {
                eprintln!("starting a Dayi server ({})…", cli.db.as_deref().unwrap_or("new SQLite file"));
                Some(OwnServer::start_with(cli.db.as_deref(), cli.db_pool).await?)
            }
        };
        Ok(Servers { own, child })
    }

    /// The base URL to drive and the API token, of the server started or the one named.
    fn target(&self, cli: &Cli) -> anyhow::Result<(String, Option<String>)> {
        Ok(match (&self.own, &self.child) {
            (Some(s), _) => (s.url(), Some(s.token.clone())),
            (None, Some(c)) => (c.url.clone(), Some(c.token.clone())),
            (None, None) => (http::loopback_base(cli.url.as_deref().unwrap_or_default())?, cli.token.clone()),
        })
    }

    async fn stop(self) {
        if let Some(s) = self.own {
            s.stop().await;
        }
        if let Some(c) = self.child {
            c.stop().await;
        }
    }
}

/// The client every scenario shares, with what the options ask of the data.
fn context(
    cli: &Cli,
    servers: &Servers,
    base: &str,
    token: Option<&str>,
    concurrency: usize,
    timeout: Duration,
) -> anyhow::Result<Ctx> {
    let own = &servers.own;
    let mut ctx = Ctx::new(base, token, concurrency, timeout)?;
    ctx.seed =
        cli.seed.unwrap_or_else(|| if own.as_ref().is_some_and(|s| s.fresh) { DEFAULT_SEED } else { clock_seed() });
    ctx.patients = if own.is_some() { cli.patients } else { 0 };
    ctx.queue_waiting = cli.queue_waiting;
    ctx.visits = cli.visits;
    ctx.specimens = cli.specimens;
    ctx.registry = cli.registry;
    ctx.local = own.as_ref().map(OwnServer::local);
    ctx.server_pid = servers.child.as_ref().map(|c| c.pid).or(cli.server_pid);
    ctx.soak_idle = Duration::from_secs(cli.idle);
    Ok(ctx)
}

/// The directory of seeded files, when this run uses one: an own server on a
/// fresh SQLite file, patients wanted, and nothing but `search` and the `fhir`
/// parts asked for (the other scenarios are measured on an empty organisation).
fn seed_cache(cli: &Cli, names: &[&str]) -> Option<std::path::PathBuf> {
    let only_searching =
        names.iter().all(|n| scenarios::CEILINGS.contains(n) || *n == "search" || n.starts_with("fhir-"));
    if cli.url.is_some() || cli.db.is_some() || cli.patients == 0 || cli.no_seed_cache || !only_searching {
        return None;
    }
    if names.iter().all(|n| scenarios::CEILINGS.contains(n)) {
        return None;
    }
    cli.seed_cache.clone().or_else(|| {
        // target/release/dayi-load → target/dayi-load
        let exe = std::env::current_exe().ok()?;
        Some(exe.parent()?.parent()?.join("dayi-load"))
    })
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
