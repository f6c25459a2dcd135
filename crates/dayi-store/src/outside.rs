//! Records received from other systems (院外记录) and the import keys that
//! make a second import of the same data find the first one's records.

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::{Db, Result, Tx, args, with_db, with_tx};

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
        with_tx!(tx, c => {
            let mut qb = QueryBuilder::new(
                "INSERT INTO outside_record (org_id, id, kind, patient_id, resource, imported_by, imported_at) ",
            );
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.org_id).push_bind(r.id).push_bind(r.kind.clone()).push_bind(r.patient_id)
                    .push_bind(r.resource.clone()).push_bind(r.imported_by.clone()).push_bind(r.imported_at);
            });
            qb.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Records keys; a key already present keeps its first owner.
pub async fn insert_keys(tx: &mut Tx, rows: &[ImportKey]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        with_tx!(tx, c => {
            let mut qb = QueryBuilder::new("INSERT INTO import_key (org_id, source, kind, local_id) ");
            qb.push_values(chunk, |mut b, k| {
                b.push_bind(k.org_id).push_bind(k.source.clone()).push_bind(k.kind.clone()).push_bind(k.local_id);
            });
            qb.push(" ON CONFLICT (org_id, source) DO NOTHING");
            qb.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// The keys among `sources` that an earlier import recorded.
pub async fn keys(db: &Db, org_id: Uuid, sources: &[String]) -> Result<Vec<ImportKey>> {
    let mut out = vec![];
    for chunk in sources.chunks(BATCH) {
        with_db!(db, p => {
            let mut qb = QueryBuilder::new("SELECT org_id, source, kind, local_id FROM import_key WHERE org_id = ");
            qb.push_bind(org_id).push(" AND source IN (");
            let mut list = qb.separated(", ");
            for s in chunk {
                list.push_bind(s.clone());
            }
            qb.push(")");
            out.extend(qb.build_query_as::<ImportKey>().fetch_all(p).await?);
        });
    }
    Ok(out)
}

pub async fn get(db: &Db, org_id: Uuid, kind: &str, id: Uuid) -> Result<Option<OutsideRecord>> {
    let sql = "SELECT org_id, id, kind, patient_id, resource, imported_by, imported_at FROM outside_record \
               WHERE org_id = $1 AND id = $2 AND kind = $3";
    db.optional::<OutsideRecord>(sql, args![org_id, id, kind]).await
}
