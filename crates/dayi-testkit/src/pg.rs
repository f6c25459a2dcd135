//! A throw-away PostgreSQL cluster for tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::sys::{Watchdog, file_tail, find_program, is_executable, is_root, sh_quote, wait_for_tcp};
use crate::{free_port, require_pg};

/// Env var naming an existing server to use instead of starting a cluster,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`. The database in the
/// URL is where `CREATE DATABASE` is issued.
const EXTERNAL_URL_VAR: &str = "DAYI_TEST_PG_URL";

const SERVER_TOOLS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL server for tests: either a private cluster in a temporary
/// directory (trust auth, superuser `postgres`, durability switched off) or
/// the server named by `DAYI_TEST_PG_URL`.
///
/// Tests normally use [`PgCluster::shared`] and isolate themselves with
/// [`PgCluster::create_database`].
pub struct PgCluster {
    server: Server,
    db_counter: AtomicU64,
}

enum Server {
    External { url: String },
    Local(LocalCluster),
}

/// Why no cluster is available.
enum Unavailable {
    /// Server binaries are not installed: tests skip unless required.
    Missing(String),
    /// Binaries exist but the cluster would not start: always an error.
    Failed(anyhow::Error),
}

impl PgCluster {
    /// The cluster shared by all tests of this process, started on first use.
    ///
    /// Returns `None` when the PostgreSQL server binaries are not installed,
    /// so callers can skip; panics instead when `DAYI_REQUIRE_PG` is set.
    /// Also panics when the binaries exist but the cluster fails to start:
    /// silently skipping would hide a broken setup.
    ///
    /// With `DAYI_TEST_PG_URL` set, that server is used and nothing is
    /// started. The cluster is stopped and its directory removed when the
    /// process exits.
    pub fn shared() -> Option<&'static PgCluster> {
        static SHARED: OnceLock<Result<PgCluster, Unavailable>> = OnceLock::new();
        let shared = SHARED.get_or_init(|| {
            let result = PgCluster::from_env();
            if let Err(Unavailable::Missing(why)) = &result
                && !require_pg()
            {
                eprintln!("dayi-testkit: {why}; PostgreSQL tests will be skipped");
            }
            result
        });
        match shared {
            Ok(cluster) => Some(cluster),
            Err(Unavailable::Missing(why)) if require_pg() => {
                panic!("dayi-testkit: DAYI_REQUIRE_PG is set but {why}")
            }
            Err(Unavailable::Missing(_)) => None,
            Err(Unavailable::Failed(e)) => {
                panic!("dayi-testkit: could not start the PostgreSQL test cluster: {e:#}")
            }
        }
    }

    /// Start a private cluster, independent of [`PgCluster::shared`] and of
    /// `DAYI_TEST_PG_URL`. It is stopped and deleted on drop (or at process
    /// exit at the latest).
    pub fn start() -> anyhow::Result<PgCluster> {
        let bin_dir = find_server_bin_dir().context(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH \
             or in /usr/lib/postgresql/*/bin",
        )?;
        Ok(PgCluster::new(Server::Local(LocalCluster::start(bin_dir)?)))
    }

    fn from_env() -> Result<PgCluster, Unavailable> {
        if let Ok(url) = std::env::var(EXTERNAL_URL_VAR) {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(Unavailable::Failed(anyhow::anyhow!(
                    "{EXTERNAL_URL_VAR} must be a postgres:// URL, got {url:?}"
                )));
            }
            return Ok(PgCluster::new(Server::External { url }));
        }
        let Some(bin_dir) = find_server_bin_dir() else {
            return Err(Unavailable::Missing(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH \
                 or in /usr/lib/postgresql/*/bin"
                    .into(),
            ));
        };
        LocalCluster::start(bin_dir).map(|local| PgCluster::new(Server::Local(local))).map_err(Unavailable::Failed)
    }

    fn new(server: Server) -> PgCluster {
        PgCluster { server, db_counter: AtomicU64::new(0) }
    }

    /// Connection URL for database `db` on this server, e.g.
    /// `postgres://postgres@127.0.0.1:PORT/db`.
    pub fn url(&self, db: &str) -> String {
        match &self.server {
            Server::External { url } => replace_database(url, db),
            Server::Local(local) => format!("postgres://postgres@127.0.0.1:{}/{db}", local.port),
        }
    }

    /// Create a fresh, uniquely named database and return its URL.
    ///
    /// # Panics
    /// When `CREATE DATABASE` fails; see [`PgCluster::try_create_database`].
    pub fn create_database(&self) -> String {
        self.try_create_database().unwrap_or_else(|e| panic!("dayi-testkit: cannot create a test database: {e:#}"))
    }

    /// Like [`PgCluster::create_database`] but returns the error.
    pub fn try_create_database(&self) -> anyhow::Result<String> {
        let n = self.db_counter.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        // Unique across concurrent test processes sharing one server.
        let name = format!("t_{}_{n}_{nanos}", std::process::id());
        self.psql(&self.admin_url(), &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(&name))
    }

    /// Run `sql` with `psql` against `url` and return its unaligned,
    /// tuples-only output (e.g. `"1\n"` for `select 1`).
    pub fn psql(&self, url: &str, sql: &str) -> anyhow::Result<String> {
        let psql = self.psql_binary().context("psql not found")?;
        let output = Command::new(&psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", psql.display()))?;
        check(&output, || format!("psql -d {url} -c {sql:?}"))?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Database to connect to for administrative statements.
    fn admin_url(&self) -> String {
        match &self.server {
            Server::External { url } => url.clone(),
            Server::Local(_) => self.url("postgres"),
        }
    }

    fn psql_binary(&self) -> Option<PathBuf> {
        // Prefer the client matching the server we started.
        if let Server::Local(local) = &self.server {
            let psql = local.bin_dir.join("psql");
            if is_executable(&psql) {
                return Some(psql);
            }
        }
        find_program("psql", &["/usr/bin/psql"])
    }
}

/// A running cluster in a temporary directory.
struct LocalCluster {
    port: u16,
    bin_dir: PathBuf,
    /// `runuser` when we are root: PostgreSQL refuses to run as root.
    runuser: Option<PathBuf>,
    // Field order matters: the watchdog stops the server and removes the
    // directory on drop, before `TempDir` tries the same.
    _watchdog: Watchdog,
    dir: TempDir,
}

impl LocalCluster {
    fn start(bin_dir: PathBuf) -> anyhow::Result<LocalCluster> {
        let runuser = if is_root() {
            Some(find_program("runuser", &["/usr/sbin/runuser", "/sbin/runuser"]).context(
                "running as root, so PostgreSQL must run as user `postgres`, \
                     but `runuser` was not found",
            )?)
        } else {
            None
        };
        // As root the directory must be reachable by `postgres`, so avoid a
        // TMPDIR that may sit below a private home directory.
        let base = if runuser.is_some() { PathBuf::from("/tmp") } else { std::env::temp_dir() };
        let dir = tempfile::Builder::new()
            .prefix("dayi-pg-")
            .tempdir_in(&base)
            .with_context(|| format!("cannot create a temporary directory in {}", base.display()))?;
        std::fs::create_dir(dir.path().join("sock")).context("cannot create the socket directory")?;
        if runuser.is_some() {
            let output = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .output()
                .context("cannot run chown")?;
            check(&output, || format!("chown -R postgres:postgres {}", dir.path().display()))?;
        }

        // Spawned before anything runs in the directory, so that it is
        // cleaned up whatever happens next.
        let run_as_prefix = match &runuser {
            Some(runuser) => format!("{} -u postgres -- ", quote_path(runuser)),
            None => String::new(),
        };
        let watchdog = Watchdog::spawn(&format!(
            "{run_as_prefix}{pg_ctl} -D {data} stop -m immediate -w >/dev/null 2>&1; rm -rf {dir}",
            pg_ctl = quote_path(&bin_dir.join("pg_ctl")),
            data = quote_path(&dir.path().join("data")),
            dir = quote_path(dir.path()),
        ))
        .context("cannot spawn the cluster watchdog")?;

        let mut cluster = LocalCluster { port: 0, bin_dir, runuser, _watchdog: watchdog, dir };
        cluster.initdb()?;
        cluster.start_server()?;
        Ok(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// A command running `tool` from the server's bin dir, as `postgres`
    /// when we are root.
    fn tool(&self, tool: &str) -> Command {
        let program = self.bin_dir.join(tool);
        let mut cmd = match &self.runuser {
            Some(runuser) => {
                let mut cmd = Command::new(runuser);
                cmd.args(["-u", "postgres", "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        // Our working directory may not be readable by `postgres`.
        cmd.current_dir(self.dir.path()).stdin(Stdio::null());
        cmd
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let data = self.data_dir();
        let mut last_error = None;
        // C.UTF-8 is missing on some systems (older glibc, musl).
        for locale in ["--locale=C.UTF-8", "--locale=C"] {
            // initdb removes what it created on failure; this is a safety net.
            let _ = std::fs::remove_dir_all(&data);
            let output = self
                .tool("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", locale])
                // Throw-away cluster: skip the fsync of every file.
                .arg("--no-sync")
                .output()
                .context("cannot run initdb")?;
            match check(&output, || format!("initdb {locale}")) {
                Ok(()) => return Ok(()),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("initdb failed")))
    }

    /// Start the server on a free port. Retries with another port because a
    /// concurrent process may take the one we picked before we bind it.
    fn start_server(&mut self) -> anyhow::Result<()> {
        let socket_dir = self.dir.path().join("sock");
        let mut last_error = None;
        for _attempt in 0..3 {
            let port = free_port();
            // pg_ctl passes -o through /bin/sh, hence the quoting.
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off \
                 -c max_connections=200 -c shared_buffers=128MB",
                quote_path(&socket_dir)
            );
            let output = self
                .tool("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_file())
                .args(["-w", "-t", &START_TIMEOUT.as_secs().to_string(), "-o"])
                .arg(options)
                .arg("start")
                .output()
                .context("cannot run pg_ctl start")?;
            let started = check(&output, || format!("pg_ctl start (port {port})")).and_then(|()| {
                // pg_ctl -w already waited for readiness; this catches a
                // server that is up but not listening where we expect.
                if wait_for_tcp(port, START_TIMEOUT) {
                    Ok(())
                } else {
                    bail!("server started but 127.0.0.1:{port} does not accept connections")
                }
            });
            match started {
                Ok(()) => {
                    self.port = port;
                    return Ok(());
                }
                Err(e) => {
                    last_error = Some(e.context(format!("server log:\n{}", file_tail(&self.log_file(), 4000))));
                    // Do not leave a half-started server behind before retrying.
                    let _ = self
                        .tool("pg_ctl")
                        .arg("-D")
                        .arg(self.data_dir())
                        .args(["stop", "-m", "immediate", "-w"])
                        .output();
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("pg_ctl start failed")))
    }
}

/// Directory holding all of `initdb`, `pg_ctl` and `postgres`: the first
/// such `$PATH` entry, else the newest `/usr/lib/postgresql/<version>/bin`.
/// They must come from one directory because `pg_ctl` and `initdb` run the
/// `postgres` that sits next to them.
fn find_server_bin_dir() -> Option<PathBuf> {
    let complete = |dir: &Path| SERVER_TOOLS.iter().all(|t| is_executable(&dir.join(t)));
    if let Some(path) = std::env::var_os("PATH")
        && let Some(dir) = std::env::split_paths(&path).find(|d| complete(d))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).find(|d| complete(d))
}

fn quote_path(path: &Path) -> String {
    sh_quote(&path.to_string_lossy())
}

/// Turn a failed command into an error carrying its output.
fn check(output: &Output, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
    bail!("{} failed ({}):\n{}\n{}", what(), output.status, text(&output.stderr), text(&output.stdout))
}

/// Replace the database (path) of a postgres URL, keeping any query string.
fn replace_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_database_keeps_authority_and_query() {
        assert_eq!(
            replace_database("postgres://u:p@db.example:5433/postgres", "t_1"),
            "postgres://u:p@db.example:5433/t_1"
        );
        assert_eq!(
            replace_database("postgresql://u@h/postgres?sslmode=disable", "x"),
            "postgresql://u@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(replace_database("postgres://u@h?sslmode=require", "x"), "postgres://u@h/x?sslmode=require");
    }

    #[test]
    fn shared_cluster_serves_fresh_databases() {
        let Some(cluster) = PgCluster::shared() else {
            eprintln!("skipping: PostgreSQL is not available");
            return;
        };
        let a = cluster.create_database();
        let b = cluster.create_database();
        assert_ne!(a, b);
        for url in [&a, &b] {
            let out = cluster.psql(url, "select 1").unwrap_or_else(|e| panic!("select 1 on {url}: {e:#}"));
            assert_eq!(out.trim(), "1", "unexpected output from {url}");
            let db = cluster.psql(url, "select current_database()").expect("current_database");
            let db = db.trim();
            assert!(url.contains(&format!("/{db}")), "{url} connected to {db}");
        }
    }
}
