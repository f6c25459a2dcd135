//! One read, either database: the SQL text once, its arguments once.
//!
//! `db.optional(sql, args![org_id, id])` runs on SQLite through rusqlite
//! (`lite`, no hand-off per statement) and on PostgreSQL through sqlx.
//! `optional`, `one`, `all` and the scalars run on the calling thread, so
//! they are for bounded reads: by key, or a page with a `LIMIT`. A read that
//! aggregates or may visit a whole table (indicators, checks, counts) is a
//! `report`, run on the blocking pool where it holds up no other request. The
//! arguments are typed values both can bind: PostgreSQL needs to know a
//! UUID from bytes and a NULL's type, SQLite stores a UUID as 16 bytes, as
//! sqlx does.

use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::lite::{self, FromLite};
use crate::{Db, Tx};

/// One bound argument.
#[derive(Debug, Clone)]
pub enum Arg {
    Uuid(Option<Uuid>),
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

/// `args![a, b, c]`: the arguments `$1`, `$2`, `$3` of a query.
#[macro_export]
macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$($crate::fetch::Arg::from($a)),*][..] };
}

/// `row![a, b, c]`: one row's values for `Sql::values`.
#[macro_export]
macro_rules! row {
    ($($a:expr),* $(,)?) => { vec![$($crate::fetch::Arg::from($a)),*] };
}

macro_rules! from {
    ($variant:ident, $t:ty, $conv:expr) => {
        impl From<$t> for Arg {
            fn from(v: $t) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(Some(($conv)(v)))
            }
        }
        impl From<Option<$t>> for Arg {
            fn from(v: Option<$t>) -> Self {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(v.map($conv))
            }
        }
    };
}

from!(Uuid, Uuid, |v| v);
from!(Uuid, &Uuid, |v: &Uuid| *v);
from!(Int, i64, |v| v);
from!(Int, &i64, |v: &i64| *v);
from!(Text, &str, |v: &str| v.to_owned());
from!(Text, String, |v| v);
from!(Text, &String, |v: &String| v.clone());
from!(Int, i32, i64::from);
from!(Bool, bool, |v| v);
from!(Bool, &bool, |v: &bool| *v);

from!(Bytes, &[u8], |v: &[u8]| v.to_vec());
from!(Bytes, Vec<u8>, |v| v);

impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}

impl From<&Option<i64>> for Arg {
    fn from(v: &Option<i64>) -> Self {
        Arg::Int(*v)
    }
}

impl From<&Option<Uuid>> for Arg {
    fn from(v: &Option<Uuid>) -> Self {
        Arg::Uuid(*v)
    }
}

impl ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Arg::Uuid(Some(u)) => ToSqlOutput::Borrowed(ValueRef::Blob(u.as_bytes())),
            Arg::Int(Some(i)) => ToSqlOutput::Owned(Value::Integer(*i)),
            Arg::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Arg::Bool(Some(b)) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
            Arg::Bytes(Some(b)) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Arg::Uuid(None) | Arg::Int(None) | Arg::Text(None) | Arg::Bool(None) | Arg::Bytes(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

/// Binds every argument to an sqlx query (either kind, either database).
macro_rules! bound {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a.clone() {
                Arg::Uuid(v) => q.bind(v),
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Bytes(v) => q.bind(v),
            };
        }
        q
    }};
}

/// A row type both paths can read.
pub trait Fetch: FromLite + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static {}
impl<T: FromLite + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static> Fetch for T {}

impl Db {
    /// The first row of a query by key, if any.
    pub async fn optional<T: Fetch>(&self, sql: &str, args: &[Arg]) -> crate::Result<Option<T>> {
        match self {
            Db::Sqlite { lite, .. } => lite.read(|c| lite::optional(c, sql, args, T::from_lite)).await,
            Db::Postgres(p) => bound!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args).fetch_optional(p).await,
        }
    }

    /// The one row a query must find (`RowNotFound` otherwise).
    pub async fn one<T: Fetch>(&self, sql: &str, args: &[Arg]) -> crate::Result<T> {
        self.optional(sql, args).await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The one value a query must find.
    pub async fn scalar<T>(&self, sql: &str, args: &[Arg]) -> crate::Result<T>
    where
        (T,): Fetch,
    {
        self.one::<(T,)>(sql, args).await.map(|(v,)| v)
    }

    /// The first value of a query, if any.
    pub async fn scalar_optional<T>(&self, sql: &str, args: &[Arg]) -> crate::Result<Option<T>>
    where
        (T,): Fetch,
    {
        Ok(self.optional::<(T,)>(sql, args).await?.map(|(v,)| v))
    }

    /// The first column of every row.
    pub async fn scalars<T>(&self, sql: &str, args: &[Arg]) -> crate::Result<Vec<T>>
    where
        (T,): Fetch,
    {
        Ok(self.all::<(T,)>(sql, args).await?.into_iter().map(|(v,)| v).collect())
    }

    /// Every row of a query that may visit many rows (see the module's note).
    pub async fn report<T: Fetch>(&self, sql: &str, args: &[Arg]) -> crate::Result<Vec<T>> {
        match self {
            Db::Sqlite { lite, .. } => {
                let (sql, args) = (sql.to_owned(), args.to_vec());
                lite.scan(move |c| lite::all(c, &sql, &args, T::from_lite)).await
            }
            Db::Postgres(p) => bound!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args).fetch_all(p).await,
        }
    }

    /// The one value of an aggregate (a count over a table).
    pub async fn report_scalar<T>(&self, sql: &str, args: &[Arg]) -> crate::Result<T>
    where
        (T,): Fetch,
    {
        let row = self.report::<(T,)>(sql, args).await?.into_iter().next();
        row.map(|(v,)| v).ok_or(sqlx::Error::RowNotFound)
    }

    /// Every row of a query.
    pub async fn all<T: Fetch>(&self, sql: &str, args: &[Arg]) -> crate::Result<Vec<T>> {
        match self {
            Db::Sqlite { lite, .. } => lite.read(|c| lite::all(c, sql, args, T::from_lite)).await,
            Db::Postgres(p) => bound!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args).fetch_all(p).await,
        }
    }
}

/// The same reads inside a write transaction, and the writes themselves:
/// on SQLite, each on the writer the transaction holds, on this thread.
impl Tx {
    /// Runs a statement; the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, args: &[Arg]) -> crate::Result<u64> {
        match self {
            Tx::Sqlite(t) => lite::execute(t.conn(), sql, args).map_err(lite::into_sqlx),
            Tx::Postgres(t) => {
                bound!(sqlx::query(sqlx::AssertSqlSafe(sql)), args).execute(&mut **t).await.map(|r| r.rows_affected())
            }
        }
    }

    pub async fn optional<T: Fetch>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Option<T>> {
        match self {
            Tx::Sqlite(t) => lite::optional(t.conn(), sql, args, T::from_lite).map_err(lite::into_sqlx),
            Tx::Postgres(t) => {
                bound!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args).fetch_optional(&mut **t).await
            }
        }
    }

    pub async fn one<T: Fetch>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<T> {
        self.optional(sql, args).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn all<T: Fetch>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Vec<T>> {
        match self {
            Tx::Sqlite(t) => lite::all(t.conn(), sql, args, T::from_lite).map_err(lite::into_sqlx),
            Tx::Postgres(t) => bound!(sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)), args).fetch_all(&mut **t).await,
        }
    }

    pub async fn scalar<T>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<T>
    where
        (T,): Fetch,
    {
        self.one::<(T,)>(sql, args).await.map(|(v,)| v)
    }

    pub async fn scalar_optional<T>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Option<T>>
    where
        (T,): Fetch,
    {
        Ok(self.optional::<(T,)>(sql, args).await?.map(|(v,)| v))
    }

    pub async fn scalars<T>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Vec<T>>
    where
        (T,): Fetch,
    {
        Ok(self.all::<(T,)>(sql, args).await?.into_iter().map(|(v,)| v).collect())
    }
}

/// A query put together piece by piece (a search's optional filters, an
/// `IN` list): text with `$N` placeholders numbered as arguments are added.
#[derive(Debug, Clone, Default)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql { text: text.to_owned(), args: Vec::new() }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends the next placeholder and its argument.
    pub fn arg(&mut self, a: impl Into<Arg>) -> &mut Self {
        self.args.push(a.into());
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends `VALUES (…), (…)`, one row of placeholders per item.
    pub fn values<T>(&mut self, items: impl IntoIterator<Item = T>, mut row: impl FnMut(T) -> Vec<Arg>) -> &mut Self {
        self.text.push_str("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            self.text.push_str(if i == 0 { "(" } else { ", (" });
            self.list(row(item));
            self.text.push(')');
        }
        self
    }

    /// Appends `v1, v2, …` as placeholders.
    pub fn list<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.arg(v);
        }
        self
    }
}
