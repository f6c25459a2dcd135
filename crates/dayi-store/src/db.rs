//! The database handle: SQLite or PostgreSQL chosen by URL at run time.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Transaction};

use crate::lite::{Lite, LiteTx};

/// Connection settings (from the `[database]` section of the configuration).
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// `sqlite:./data/dayi.db` or `postgres://user@host/db`.
    pub url: String,
    /// Connections in the pool (PostgreSQL) or reader connections (SQLite).
    pub max_connections: u32,
    /// How long a SQLite writer waits for a lock before failing.
    pub busy_timeout: Duration,
    /// SQLite: a write-ahead log larger than this is checkpointed and cut
    /// back to nothing (a passive checkpoint reuses the file but never shrinks it).
    pub wal_truncate_bytes: u64,
}

impl DbConfig {
    /// The default size at which the write-ahead log is cut back, 64 MiB.
    pub const WAL_TRUNCATE_BYTES: u64 = 64 << 20;

    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
            wal_truncate_bytes: Self::WAL_TRUNCATE_BYTES,
        }
    }
}

/// SQLite allows one writer at a time, so writes go through a one-connection
/// pool (callers queue fairly instead of spinning on SQLITE_BUSY) while reads
/// use a pool of their own, and a connection of its own copies the log into
/// the database file. PostgreSQL uses one pool for both.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite { read: SqlitePool, write: SqlitePool, lite: Lite, checkpoints: Arc<Checkpoints> },
    Postgres(PgPool),
}

/// How often the write-ahead log is copied into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How long a truncating checkpoint may keep new writers waiting for the
/// readers to leave the log; past it, the log is cut at a later try.
const TRUNCATE_WAIT: Duration = Duration::from_millis(100);

/// The pause after a truncation that found readers in the log.
const TRUNCATE_RETRY: Duration = Duration::from_secs(2);

/// The task that checkpoints SQLite's write-ahead log. Left to SQLite, the
/// commit that fills the log also copies it back and waits for the disk,
/// stalling every writer queued behind it; a passive checkpoint from its own
/// connection does that beside the writer. It stops with the last `Db` clone,
/// or at `Db::close`, which closes its connection first.
#[derive(Debug)]
pub struct Checkpoints {
    stop: tokio::sync::watch::Sender<bool>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpoints {
    fn start(conn: SqliteConnection, wal: Option<PathBuf>, truncate_at: u64) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(checkpoint_forever(conn, wal, truncate_at, stopped));
        Self { stop, task: std::sync::Mutex::new(Some(task)) }
    }

    /// Stops the task and waits until its connection is closed.
    async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        if let Some(t) = self.task.get_mut().ok().and_then(|t| t.take()) {
            t.abort();
        }
    }
}

async fn checkpoint_forever(
    mut conn: SqliteConnection,
    wal: Option<PathBuf>,
    truncate_at: u64,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_truncate = tokio::time::Instant::now();
    let mut last_size = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => break,
        }
        // (busy, frames in the log, frames copied): the log is wholly copied when the last two agree.
        let copied =
            match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut conn).await {
                Ok((_, log, done)) => log == done,
                Err(e) => {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
                    false
                }
            };
        // A truncation holds new writers back while it copies what is left and syncs the
        // file: during a bulk load that took 6–10 s on a busy machine, past the writers'
        // busy timeout. It is tried only when the log stopped growing since the last tick
        // (no load streaming in) and a passive checkpoint, which holds nobody back, has
        // just copied all of it, so little is left but the cut.
        let size = wal.as_deref().and_then(|w| std::fs::metadata(w).ok()).map_or(0, |m| m.len());
        let settled = std::mem::replace(&mut last_size, size) == size;
        if copied && settled && size > truncate_at && tokio::time::Instant::now() >= next_truncate {
            match truncate_wal(&mut conn).await {
                Ok(true) => tracing::info!(bytes = size, "SQLite write-ahead log cut back"),
                Ok(false) => {
                    tracing::debug!(bytes = size, "readers in the write-ahead log; cutting it back later");
                    next_truncate = tokio::time::Instant::now() + TRUNCATE_RETRY;
                }
                Err(e) => tracing::warn!(error = %e, "SQLite log truncation failed; retrying"),
            }
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}

/// Copies the whole log into the database file and truncates it to zero
/// bytes. False when a reader or writer kept it busy past the connection's
/// busy timeout (nothing is lost: the log is simply still there).
async fn truncate_wal(conn: &mut SqliteConnection) -> crate::Result<bool> {
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await?;
    Ok(busy == 0)
}

/// A write transaction on either database.
pub enum Tx {
    Sqlite(LiteTx),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs one body for whichever backend `$db` holds; `$pool` is the read pool.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite { read: $pool, .. } => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

impl Db {
    pub async fn connect(cfg: &DbConfig) -> crate::Result<Db> {
        if cfg.url.starts_with("postgres://") || cfg.url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(cfg.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect(&cfg.url)
                .await?;
            return Ok(Db::Postgres(pool));
        }
        let opts = SqliteConnectOptions::from_str(&cfg.url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(cfg.busy_timeout)
            .foreign_keys(true)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-32000")
            // Every committed write (an audit entry for each read of patient data) empties the
            // other connections' page caches; mapped pages are re-read from memory, not by read().
            .pragma("mmap_size", "1073741824")
            // Checkpoints run on their own connection (see `Checkpoints`).
            .pragma("wal_autocheckpoint", "0");
        let dir = sqlite_path(&cfg.url).and_then(|p| std::path::Path::new(&p).parent().map(|d| d.to_path_buf()));
        if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(&dir).map_err(sqlx::Error::Io)?;
        }
        // Open the writer first so the WAL switch happens before readers connect.
        // A SQLite file connection cannot go stale, so the pool's ping before
        // each checkout would only add a round trip to every transaction.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(opts.clone())
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(cfg.max_connections.max(1))
            .test_before_acquire(false)
            .connect_with(opts.clone().read_only(true))
            .await?;
        // The checkpointer gives up on a truncation soon rather than hold back the writer.
        let conn = opts.clone().busy_timeout(TRUNCATE_WAIT).connect().await?;
        let path = sqlite_path(&cfg.url).ok_or_else(|| sqlx::Error::Configuration("SQLite needs a file".into()))?;
        let lite = Lite::new(std::path::Path::new(&path), cfg.max_connections as usize, cfg.busy_timeout);
        let wal = Some(PathBuf::from(format!("{path}-wal")));
        let checkpoints = Arc::new(Checkpoints::start(conn, wal, cfg.wal_truncate_bytes));
        Ok(Db::Sqlite { read, write, lite, checkpoints })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Applies the pending migrations of this backend (rendered from
    /// `migrations/source` by `dialect::render`; checked in, so sqlx embeds them).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Sqlite { write, .. } => sqlx::migrate!("./migrations/sqlite").run(write).await,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`) so it can never fail later on a lock upgrade.
    pub async fn begin(&self) -> crate::Result<Tx> {
        Ok(match self {
            Db::Sqlite { lite, .. } => Tx::Sqlite(lite.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Refreshes the planner's statistics of `table` after a bulk load.
    /// PostgreSQL otherwise plans the first queries on the new rows blind
    /// (seconds for a lookup by a unique key) until autovacuum catches up;
    /// SQLite's plans here do not use statistics, so it is left alone.
    pub async fn analyze(&self, table: &'static str) -> crate::Result<()> {
        if let Db::Postgres(pool) = self {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}"))).execute(pool).await?;
        }
        Ok(())
    }

    /// Copies SQLite's whole write-ahead log into the database file now and
    /// cuts the log to nothing, so the file alone holds every commit (as when
    /// a seeded file is to be copied). False when readers kept the log busy;
    /// PostgreSQL has no such file and answers true.
    pub async fn fold_log(&self) -> crate::Result<bool> {
        match self {
            Db::Sqlite { write, .. } => truncate_wal(&mut *write.acquire().await?).await,
            Db::Postgres(_) => Ok(true),
        }
    }

    /// Pool use for `/metrics`: (open connections, idle connections) per pool.
    pub fn pool_stats(&self) -> Vec<(&'static str, u32, usize)> {
        match self {
            Db::Sqlite { lite, .. } => lite.stats().to_vec(),
            Db::Postgres(p) => vec![("postgres", p.size(), p.num_idle())],
        }
    }

    /// Closes every connection. SQLite's log is first copied into the
    /// database file and cut to nothing, so a stopped server leaves the file
    /// alone complete (and no log as large as its busiest hour).
    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write, lite, checkpoints } => {
                checkpoints.stop().await;
                lite.close().await;
                read.close().await;
                if let Ok(mut conn) = write.acquire().await {
                    match truncate_wal(&mut conn).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("SQLite log still in use by another process; left in place"),
                        Err(e) => tracing::warn!(error = %e, "SQLite log not truncated at close"),
                    }
                }
                write.close().await;
            }
            Db::Postgres(p) => p.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> crate::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit(),
            Tx::Postgres(t) => t.commit().await,
        }
    }
    pub async fn rollback(self) -> crate::Result<()> {
        match self {
            Tx::Sqlite(t) => t.rollback(),
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}

/// The file path inside a `sqlite:` URL, without query parameters.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" { None } else { Some(path.to_string()) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_paths() {
        assert_eq!(super::sqlite_path("sqlite:./data/dayi.db").as_deref(), Some("./data/dayi.db"));
        assert_eq!(super::sqlite_path("sqlite://data/x.db?mode=rwc").as_deref(), Some("data/x.db"));
        assert_eq!(super::sqlite_path("sqlite::memory:"), None);
        assert_eq!(super::sqlite_path("postgres://h/db"), None);
    }
}
