//! Where a read runs: on the read pool, or inside a write transaction (where
//! it sees the transaction's own changes). One store function serves both:
//! it takes `impl Into<On>`, so callers pass `&app.db` or `&mut tx`.

use crate::fetch::{Arg, Fetch};
use crate::{Db, Tx};

pub enum On<'a> {
    Pool(&'a Db),
    Tx(&'a mut Tx),
}

impl<'a> From<&'a Db> for On<'a> {
    fn from(db: &'a Db) -> Self {
        On::Pool(db)
    }
}

impl<'a> From<&'a mut Tx> for On<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        On::Tx(tx)
    }
}

impl<'a> On<'a> {
    /// The `On` a caller passed as `impl Into<On>`.
    pub fn of(on: impl Into<On<'a>>) -> Self {
        on.into()
    }

    pub async fn optional<T: Fetch>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Option<T>> {
        match self {
            On::Pool(db) => db.optional(sql, args).await,
            On::Tx(tx) => tx.optional(sql, args).await,
        }
    }

    pub async fn all<T: Fetch>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Vec<T>> {
        match self {
            On::Pool(db) => db.all(sql, args).await,
            On::Tx(tx) => tx.all(sql, args).await,
        }
    }

    pub async fn scalar_optional<T>(&mut self, sql: &str, args: &[Arg]) -> crate::Result<Option<T>>
    where
        (T,): Fetch,
    {
        Ok(self.optional::<(T,)>(sql, args).await?.map(|(v,)| v))
    }
}
