//! Catalogue items as dated rows: a row holds from its `effective_from` day
//! until a later row for the same item. The shipped files are loaded as
//! rows whose `source` names the file and version; an administrator's
//! change is a new row from a day not in the past.

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::{Db, Result, Tx, args, row};

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
        n += {
            let mut q = Sql::new(concat!("INSERT INTO catalog_item (", item_cols!(), ") "));
            q.values(chunk, |r| {
                row![
                    r.org_id,
                    r.kind.clone(),
                    r.code.clone(),
                    r.effective_from.clone(),
                    r.name.clone(),
                    r.initials.clone(),
                    r.insurance_code.clone(),
                    r.insurance_name.clone(),
                    r.category.clone(),
                    r.unit.clone(),
                    r.price_fen,
                    r.class.clone(),
                    r.drug.clone(),
                    r.active,
                    r.source.clone(),
                    r.created_at
                ]
            });
            q.push(" ON CONFLICT (org_id, kind, code, effective_from) DO NOTHING");
            tx.execute(&q.text, &q.args).await
        }?;
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
    tx.execute(del, args![r.org_id, r.kind.clone(), r.code.clone(), r.effective_from.clone()]).await.map(|_| ())?;
    insert(tx, std::slice::from_ref(r)).await.map(|_| ())
}
