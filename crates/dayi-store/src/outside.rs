//! Records received from other systems (院外记录) and the import keys that
//! make a second import of the same data find the first one's records.

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::{Db, Result, Tx, args, row};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct OutsideRecord {
    pub org_id: Uuid,
    pub id: Uuid,
    /// The FHIR resourceType it arrived as.
    pub kind: String,
    pub patient_id: Option<Uuid>,
    /// The resource as JSON, its references rewritten to our ids.
    pub resource: String,
    pub imported_by: String,
    pub imported_at: i64,
}

crate::lite_row!(OutsideRecord { org_id, id, kind, patient_id, resource, imported_by, imported_at });

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct ImportKey {
    pub org_id: Uuid,
    pub source: String,
    pub kind: String,
    pub local_id: Uuid,
}

crate::lite_row!(ImportKey { org_id, source, kind, local_id });

/// Rows per multi-row INSERT, under both databases' bind limits.
const BATCH: usize = 500;

pub async fn insert(tx: &mut Tx, rows: &[OutsideRecord]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q =
            Sql::new("INSERT INTO outside_record (org_id, id, kind, patient_id, resource, imported_by, imported_at) ");
        q.values(chunk, |r| {
            row![r.org_id, r.id, r.kind.clone(), r.patient_id, r.resource.clone(), r.imported_by.clone(), r.imported_at]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

/// Records keys; a key already present keeps its first owner.
pub async fn insert_keys(tx: &mut Tx, rows: &[ImportKey]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new("INSERT INTO import_key (org_id, source, kind, local_id) ");
        q.values(chunk, |k| row![k.org_id, k.source.clone(), k.kind.clone(), k.local_id]);
        q.push(" ON CONFLICT (org_id, source) DO NOTHING");
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

/// The keys among `sources` that an earlier import recorded.
pub async fn keys(db: &Db, org_id: Uuid, sources: &[String]) -> Result<Vec<ImportKey>> {
    let mut out = vec![];
    for chunk in sources.chunks(BATCH) {
        {
            let mut q = Sql::new("SELECT org_id, source, kind, local_id FROM import_key WHERE org_id = ");
            q.arg(org_id).push(" AND source IN (");
            q.list(chunk);
            q.push(")");
            out.extend(db.all::<ImportKey>(&q.text, &q.args).await?);
        };
    }
    Ok(out)
}

pub async fn get(db: &Db, org_id: Uuid, kind: &str, id: Uuid) -> Result<Option<OutsideRecord>> {
    let sql = "SELECT org_id, id, kind, patient_id, resource, imported_by, imported_at FROM outside_record \
               WHERE org_id = $1 AND id = $2 AND kind = $3";
    db.optional::<OutsideRecord>(sql, args![org_id, id, kind]).await
}
