//! SQLite without a hand-off per statement: reads and the writer.
//!
//! sqlx runs each SQLite connection on a thread of its own and sends every
//! statement there and back over a channel: two thread wake-ups per
//! statement, a third of the CPU of a FHIR read (docs/benchmarks.md). Here a
//! read is a closure that runs every statement of its unit of work on one
//! rusqlite connection taken from a small pool, on the calling thread: a
//! point read by key costs microseconds, less than waking another thread.
//! Reads that can scan many rows go through `scan`, which runs the same
//! closure on tokio's blocking pool so that a long query never holds up the
//! requests sharing its worker thread.
//!
//!
//! Writes take the one writer connection for a whole transaction
//! (`Lite::begin`, `BEGIN IMMEDIATE`): writers queue fairly on an async
//! lock, and the holder runs its statements on its own thread as it goes,
//! exactly as sqlx's one-connection writer pool did, less the hand-offs. A
//! transaction dropped without `commit` is rolled back.
//!
//! The SQL is the same text PostgreSQL runs (`$N` parameters): `query` binds
//! each `$N` by its number, as sqlx does, whatever order they appear in.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::ToSql;
use std::borrow::Cow;

use rusqlite::{CachedStatement, Connection, OpenFlags, Row, Rows, Statement};
use tokio::sync::{OwnedMutexGuard, Semaphore};

/// Read-only connections to one SQLite file, and its writer.
#[derive(Clone)]
pub struct Lite(Arc<Pool>);

struct Pool {
    path: String,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    size: usize,
    writer: Arc<tokio::sync::Mutex<Option<Connection>>>,
    busy_timeout: Duration,
}

/// A write transaction holding the writer until it ends.
pub struct LiteTx {
    conn: OwnedMutexGuard<Option<Connection>>,
    open: bool,
}

impl std::fmt::Debug for Lite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lite").field("path", &self.0.path).finish()
    }
}

/// What a read closure returns.
pub type LiteResult<T> = rusqlite::Result<T>;

impl Lite {
    /// At most `size` read connections to `path`, opened as they are first
    /// needed, and the writer (opened on its first transaction).
    pub fn new(path: &Path, size: usize, busy_timeout: Duration) -> Self {
        let size = size.max(1);
        Lite(Arc::new(Pool {
            path: path.to_string_lossy().into_owned(),
            idle: Mutex::new(Vec::with_capacity(size)),
            permits: Semaphore::new(size),
            size,
            writer: Arc::new(tokio::sync::Mutex::new(None)),
            busy_timeout,
        }))
    }

    /// Waits for the writer and starts a transaction on it.
    pub async fn begin(&self) -> crate::Result<LiteTx> {
        let mut conn = self.0.writer.clone().lock_owned().await;
        if conn.is_none() {
            *conn = Some(open_writer(&self.0.path, self.0.busy_timeout).map_err(into_sqlx)?);
        }
        let c = conn.as_ref().ok_or(sqlx::Error::PoolClosed)?;
        c.execute_batch("BEGIN IMMEDIATE").map_err(into_sqlx)?;
        Ok(LiteTx { conn, open: true })
    }

    /// Runs a bounded read (a lookup by key) on this thread.
    pub async fn read<T>(&self, f: impl FnOnce(&Connection) -> LiteResult<T>) -> crate::Result<T> {
        let _permit = self.0.permits.acquire().await.map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = self.take()?;
        let out = f(&conn);
        self.give_back(conn);
        out.map_err(into_sqlx)
    }

    /// Runs a read that may visit many rows on the blocking pool.
    pub async fn scan<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> LiteResult<T> + Send + 'static,
    ) -> crate::Result<T> {
        let _permit = self.0.permits.acquire().await.map_err(|_| sqlx::Error::PoolClosed)?;
        let conn = self.take()?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "SQLite read task failed");
            sqlx::Error::WorkerCrashed
        })?;
        self.give_back(conn);
        out.map_err(into_sqlx)
    }

    /// (open, idle) connections of the readers and of the writer, for `/metrics`.
    pub fn stats(&self) -> [(&'static str, u32, usize); 2] {
        let idle = self.0.idle.lock().map_or(0, |v| v.len());
        let busy = self.0.size.saturating_sub(self.0.permits.available_permits());
        let writer_idle = usize::from(self.0.writer.try_lock().is_ok());
        [("sqlite_read", (idle + busy) as u32, idle), ("sqlite_write", 1, writer_idle)]
    }

    /// Closes the idle connections and the writer once no transaction
    /// holds it, and refuses new reads.
    pub async fn close(&self) {
        self.0.permits.close();
        if let Ok(mut idle) = self.0.idle.lock() {
            idle.clear();
        }
        self.0.writer.lock().await.take();
    }

    fn take(&self) -> crate::Result<Connection> {
        let idle = self.0.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(c) => Ok(c),
            None => open(&self.0.path).map_err(into_sqlx),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.0.idle.lock() {
            idle.push(conn);
        }
    }
}

impl LiteTx {
    pub fn conn(&self) -> &Connection {
        // Present from `begin` until the pool is closed, which waits for this guard.
        self.conn.as_ref().expect("the writer is open while a transaction holds it")
    }

    pub fn commit(mut self) -> crate::Result<()> {
        self.open = false;
        self.conn().execute_batch("COMMIT").map_err(into_sqlx)
    }

    pub fn rollback(mut self) -> crate::Result<()> {
        self.open = false;
        self.conn().execute_batch("ROLLBACK").map_err(into_sqlx)
    }
}

impl Drop for LiteTx {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self.conn().execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "SQLite rollback of an abandoned transaction failed");
        }
    }
}

/// Settings every connection needs (they are per connection in SQLite).
const PRAGMAS: &str = "PRAGMA temp_store = memory; PRAGMA cache_size = -32000; PRAGMA mmap_size = 1073741824;";

/// A read connection: the settings of `Db::connect`'s sqlx connections.
fn open(path: &str) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let c = Connection::open_with_flags(path, flags)?;
    c.busy_timeout(Duration::from_secs(5))?;
    c.execute_batch(PRAGMAS)?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

/// The writer: WAL with `synchronous = NORMAL`, foreign keys enforced, and
/// no automatic checkpoint (`db::Checkpoints` runs them beside it).
fn open_writer(path: &str, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let c = Connection::open_with_flags(path, flags)?;
    c.busy_timeout(busy_timeout)?;
    c.execute_batch(PRAGMAS)?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA wal_autocheckpoint = 0;",
    )?;
    c.set_prepared_statement_cache_capacity(128);
    Ok(c)
}

/// Binds each parameter of a statement prepared by `prepare`: `?N` is the Nth argument.
pub fn query<'s, A: ToSql>(stmt: &'s mut Statement<'_>, params: &[A]) -> LiteResult<Rows<'s>> {
    bind(stmt, params)?;
    Ok(stmt.raw_query())
}

fn bind<A: ToSql>(stmt: &mut Statement<'_>, params: &[A]) -> LiteResult<()> {
    for i in 1..=stmt.parameter_count() {
        let value = params.get(i - 1).ok_or(rusqlite::Error::InvalidParameterCount(i, params.len()))?;
        stmt.raw_bind_parameter(i, value)?;
    }
    Ok(())
}

/// Prepares `sql` (from the connection's cache) with its `$N` placeholders
/// written as SQLite's `?N`, whose index is N itself. A `$N` is a named
/// parameter to SQLite, numbered in order of appearance, and finding a name's
/// number walks the list of names: 15,000 parameters of a bulk insert spent
/// three quarters of the time there.
pub fn prepare<'c>(c: &'c Connection, sql: &str) -> LiteResult<CachedStatement<'c>> {
    c.prepare_cached(&numbered(sql))
}

/// `$N` outside quotes as `?N`.
fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quote = None;
    for (i, ch) in sql.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '\'' || ch == '"' => quote = Some(ch),
            None if ch == '$' && sql[i + 1..].starts_with(|d: char| d.is_ascii_digit()) => {
                out.push('?');
                continue;
            }
            None => {}
        }
        out.push(ch);
    }
    Cow::Owned(out)
}

/// Runs a statement; the number of rows it changed.
pub fn execute<A: ToSql>(c: &Connection, sql: &str, params: &[A]) -> LiteResult<u64> {
    let mut stmt = prepare(c, sql)?;
    bind(&mut stmt, params)?;
    Ok(stmt.raw_execute()? as u64)
}

/// The first row of a query, mapped, or None.
pub fn optional<T, A: ToSql>(
    c: &Connection,
    sql: &str,
    params: &[A],
    map: impl FnOnce(&Row<'_>) -> LiteResult<T>,
) -> LiteResult<Option<T>> {
    let mut stmt = prepare(c, sql)?;
    let mut rows = query(&mut stmt, params)?;
    match rows.next()? {
        Some(r) => map(r).map(Some),
        None => Ok(None),
    }
}

/// Every row of a query, mapped.
pub fn all<T, A: ToSql>(
    c: &Connection,
    sql: &str,
    params: &[A],
    mut map: impl FnMut(&Row<'_>) -> LiteResult<T>,
) -> LiteResult<Vec<T>> {
    let mut stmt = prepare(c, sql)?;
    let mut rows = query(&mut stmt, params)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(map(r)?);
    }
    Ok(out)
}

/// Maps a row to a struct by column name, one field per column:
/// `lite_row!(Patient { org_id, id, name })` implements `FromLite`; fields
/// after `flatten` are structs read from the same row (sqlx's `flatten`).
#[macro_export]
macro_rules! lite_row {
    ($ty:ident { $($field:ident),* $(,)? } $(flatten { $($flat:ident),* })?) => {
        impl $crate::lite::FromLite for $ty {
            #[allow(unused_assignments)]
            fn from_lite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
                let mut i = 0;
                Ok($ty {
                    $($($flat: $crate::lite::FromLite::from_lite(r)?,)*)?
                    $($field: {
                        let v = $crate::lite::col(r, i, stringify!($field))?;
                        i += 1;
                        v
                    }),*
                })
            }
        }
    };
}

/// Column `name`, looked for first at position `i` (where a struct's field
/// order follows its columns, as it mostly does): rusqlite's lookup by name
/// compares every column's name, 30 of them for a patient.
pub fn col<T: rusqlite::types::FromSql>(r: &Row<'_>, i: usize, name: &str) -> LiteResult<T> {
    match r.as_ref().column_name(i) {
        Ok(n) if n == name => r.get(i),
        _ => r.get(name),
    }
}

/// A row type read from SQLite by rusqlite (the sqlx `FromRow` of this path).
pub trait FromLite: Sized {
    fn from_lite(r: &Row<'_>) -> LiteResult<Self>;
}

/// rusqlite's errors as the store's error type, keeping what callers test
/// (a unique violation stays one).
pub(crate) fn into_sqlx(e: rusqlite::Error) -> sqlx::Error {
    sqlx::Error::Database(Box::new(LiteError(e)))
}

#[derive(Debug)]
struct LiteError(rusqlite::Error);

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LiteError {}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        match &self.0 {
            rusqlite::Error::SqliteFailure(_, Some(m)) => m,
            _ => "SQLite error",
        }
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi::{
            SQLITE_CONSTRAINT_CHECK, SQLITE_CONSTRAINT_FOREIGNKEY, SQLITE_CONSTRAINT_NOTNULL,
            SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE,
        };
        use sqlx::error::ErrorKind;
        match self.0.sqlite_error().map(|e| e.extended_code) {
            Some(SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY) => ErrorKind::UniqueViolation,
            Some(SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Tuples read by column position, like sqlx's tuple rows.
macro_rules! tuple_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: rusqlite::types::FromSql),+> FromLite for ($($t,)+) {
            fn from_lite(r: &Row<'_>) -> LiteResult<Self> {
                Ok(($(r.get($i)?,)+))
            }
        }
    };
}

tuple_row!(A 0);
tuple_row!(A 0, B 1);
tuple_row!(A 0, B 1, C 2);
tuple_row!(A 0, B 1, C 2, D 3);
tuple_row!(A 0, B 1, C 2, D 3, E 4);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5);

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::{all, into_sqlx, optional};

    fn table() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, a INTEGER, b TEXT); INSERT INTO t VALUES ('x', 1, 'one'), ('y', 2, 'two');")
            .unwrap();
        c
    }

    #[test]
    fn parameters_bind_by_their_number_not_their_place() {
        let c = table();
        // `$2` comes first in the text; sqlx binds by number, and so must this path.
        let sql = "SELECT k FROM t WHERE b = $2 AND a = $1";
        let k: Option<String> = optional(&c, sql, &[&2_i64 as &dyn rusqlite::ToSql, &"two"], |r| r.get(0)).unwrap();
        assert_eq!(k.as_deref(), Some("y"));
        let sql = "SELECT k FROM t WHERE a >= $1 AND a <= $1 + 1 ORDER BY k";
        let ks: Vec<String> = all(&c, sql, &[1_i64], |r| r.get(0)).unwrap();
        assert_eq!(ks, ["x", "y"]);
    }

    #[test]
    fn dollars_in_quotes_are_text_not_parameters() {
        let c = table();
        c.execute_batch("INSERT INTO t VALUES ('$1', 9, 'it''s $2')").unwrap();
        let sql = "SELECT b FROM t WHERE k = '$1' AND a = $1";
        let b: Option<String> = optional(&c, sql, &[9_i64], |r| r.get(0)).unwrap();
        assert_eq!(b.as_deref(), Some("it's $2"));
        assert_eq!(super::numbered("a = $12 AND b = 'x$3' AND \"c$4\" = $1"), "a = ?12 AND b = 'x$3' AND \"c$4\" = ?1");
    }

    #[test]
    fn too_few_arguments_is_an_error_not_a_null() {
        let c = table();
        let r = optional(&c, "SELECT k FROM t WHERE a = $2", &[1_i64], |r| r.get::<_, String>(0));
        assert!(r.is_err());
    }

    #[test]
    fn a_unique_violation_stays_one() {
        let c = table();
        let e = c.execute("INSERT INTO t VALUES ('x', 3, 'three')", []).unwrap_err();
        assert!(crate::is_unique_violation(&into_sqlx(e)));
        let e = c.execute("INSERT INTO nowhere VALUES (1)", []).unwrap_err();
        assert!(!crate::is_unique_violation(&into_sqlx(e)));
    }
}
