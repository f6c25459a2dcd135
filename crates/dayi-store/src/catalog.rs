//! Catalogue items as dated rows: a row holds from its `effective_from` day
//! until a later row for the same item. The shipped files are loaded as
//! rows whose `source` names the file and version; an administrator's
//! change is a new row from a day not in the past.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::{Db, Result, Tx, args, with_tx};

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize)]
pub struct Row {
    pub org_id: Uuid,
    pub kind: String,
    pub code: String,
    pub effective_from: String,
    pub name: String,
    pub initials: String,
    pub insurance_code: String,
    pub insurance_name: String,
    pub category: String,
    pub unit: String,
    pub price_fen: i64,
    pub class: Option<String>,
    /// A drug's prescribing facts, JSON.
    pub drug: Option<String>,
    pub active: bool,
    /// `file:drugs.csv@2026.1` or the administrator's user name.
    pub source: String,
    pub created_at: i64,
}

crate::lite_row!(Row {
    org_id,
    kind,
    code,
    effective_from,
    name,
    initials,
    insurance_code,
    insurance_name,
    category,
    unit,
    price_fen,
    class,
    drug,
    active,
    source,
    created_at
});

macro_rules! item_cols {
    () => {
        "org_id, kind, code, effective_from, name, initials, insurance_code, insurance_name, category, unit, \
                    price_fen, class, drug, active, source, created_at"
    };
}

/// Adds rows; a row already there (same item and day) is kept as it is.
pub async fn insert(tx: &mut Tx, rows: &[Row]) -> Result<u64> {
    let mut n = 0;
    for chunk in rows.chunks(500) {
        n += with_tx!(tx, c => {
            let mut qb = QueryBuilder::new(concat!("INSERT INTO catalog_item (", item_cols!(), ") "));
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.org_id).push_bind(r.kind.clone()).push_bind(r.code.clone())
                    .push_bind(r.effective_from.clone()).push_bind(r.name.clone()).push_bind(r.initials.clone())
                    .push_bind(r.insurance_code.clone()).push_bind(r.insurance_name.clone())
                    .push_bind(r.category.clone()).push_bind(r.unit.clone()).push_bind(r.price_fen)
                    .push_bind(r.class.clone()).push_bind(r.drug.clone()).push_bind(r.active)
                    .push_bind(r.source.clone()).push_bind(r.created_at);
            });
            qb.push(" ON CONFLICT (org_id, kind, code, effective_from) DO NOTHING");
            qb.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(n)
}

/// The row of each item in force on `day` (retired ones too, marked inactive).
pub async fn in_force(db: &Db, org_id: Uuid, day: &str) -> Result<Vec<Row>> {
    let sql = concat!(
        "SELECT ",
        item_cols!(),
        " FROM catalog_item c WHERE org_id = $1 AND effective_from = \
         (SELECT MAX(effective_from) FROM catalog_item d WHERE d.org_id = c.org_id AND d.kind = c.kind \
          AND d.code = c.code AND d.effective_from <= $2) ORDER BY kind, code"
    );
    db.all::<Row>(sql, args![org_id, day]).await
}

/// Every row of one item, newest first.
pub async fn history(db: &Db, org_id: Uuid, kind: &str, code: &str) -> Result<Vec<Row>> {
    let sql = concat!(
        "SELECT ",
        item_cols!(),
        " FROM catalog_item WHERE org_id = $1 AND kind = $2 AND code = $3 ORDER BY effective_from DESC"
    );
    db.all::<Row>(sql, args![org_id, kind, code]).await
}

/// How many rows came from `source` (a file version already loaded has some).
pub async fn count_from(db: &Db, org_id: Uuid, source: &str) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM catalog_item WHERE org_id = $1 AND source = $2";
    db.report_scalar::<i64>(sql, args![org_id, source]).await
}

/// Writes one row, replacing a row of the same item and day.
pub async fn replace(tx: &mut Tx, r: &Row) -> Result<()> {
    let del = "DELETE FROM catalog_item WHERE org_id = $1 AND kind = $2 AND code = $3 AND effective_from = $4";
    with_tx!(tx, c => sqlx::query(del).bind(r.org_id).bind(r.kind.clone()).bind(r.code.clone())
        .bind(r.effective_from.clone()).execute(c).await.map(|_| ()))?;
    insert(tx, std::slice::from_ref(r)).await.map(|_| ())
}
