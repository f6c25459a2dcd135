//! Dated configuration rows: a policy value per organisation, valid from a date
//! until a later row for the same key takes over. Seeded from `catalog/`.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Setting {
    pub org_id: Uuid,
    pub key: String,
    /// `YYYY-MM-DD`: text compares correctly on both databases.
    pub effective_from: String,
    /// JSON value.
    pub value: String,
    /// Where the value came from, e.g. `catalog/security.toml` or `admin`.
    pub source: String,
    pub updated_by: String,
    pub updated_at: i64,
}

crate::lite_row!(Setting { org_id, key, effective_from, value, source, updated_by, updated_at });

macro_rules! cols {
    () => {
        "org_id, key, effective_from, value, source, updated_by, updated_at"
    };
}

pub async fn upsert(tx: &mut Tx, s: &Setting) -> Result<()> {
    let sql = concat!(
        "INSERT INTO setting (",
        cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, key, effective_from) \
         DO UPDATE SET value = excluded.value, source = excluded.source, updated_by = excluded.updated_by, updated_at = excluded.updated_at"
    );
    tx.execute(sql, args![s.org_id, &s.key, &s.effective_from, &s.value, &s.source, &s.updated_by, s.updated_at])
        .await?;
    Ok(())
}

/// The value in force on `date` (`YYYY-MM-DD`).
pub async fn effective(db: &Db, org_id: Uuid, key: &str, date: &str) -> Result<Option<Setting>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM setting WHERE org_id = $1 AND key = $2 AND effective_from <= $3 ORDER BY effective_from DESC LIMIT 1"
    );
    db.optional::<Setting>(sql, args![org_id, key, date]).await
}

pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<Setting>> {
    let sql = concat!("SELECT ", cols!(), " FROM setting WHERE org_id = $1 ORDER BY key, effective_from");
    db.all::<Setting>(sql, args![org_id]).await
}
