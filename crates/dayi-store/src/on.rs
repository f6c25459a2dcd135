//! Where a read runs: on the read pool, or inside a write transaction (where
//! it sees the transaction's own changes). One store function serves both:
//! it takes `impl Into<On>`, so callers pass `&app.db` or `&mut tx`.

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

/// Runs one body against the read pool or the transaction's connection.
#[macro_export]
macro_rules! with_on {
    ($on:expr, $c:ident => $body:expr) => {
        match $on {
            $crate::On::Pool(db) => $crate::with_db!(db, $c => $body),
            $crate::On::Tx(tx) => $crate::with_tx!(tx, $c => $body),
        }
    };
}
