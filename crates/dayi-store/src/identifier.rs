//! Identifiers other systems give our patients (`patient_identifier`),
//! stored as received and found by value, or by system and value. A merge
//! moves them with the patient (`patient::REFERENCES`).

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::{Db, Result, Tx, with_db, with_tx};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Identifier {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    /// '' when the identifier named no system.
    pub system: String,
    pub value: String,
    pub created_at: i64,
}

crate::lite_row!(Identifier { org_id, id, patient_id, system, value, created_at });

macro_rules! cols {
    () => {
        "org_id, id, patient_id, system, value, created_at"
    };
}

/// Rows per multi-row statement: well under both databases' bind limits.
const BATCH: usize = 500;

pub async fn insert(tx: &mut Tx, rows: &[Identifier]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        with_tx!(tx, c => {
            let mut qb = QueryBuilder::new(concat!("INSERT INTO patient_identifier (", cols!(), ") "));
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(r.org_id).push_bind(r.id).push_bind(r.patient_id).push_bind(r.system.clone())
                    .push_bind(r.value.clone()).push_bind(r.created_at);
            });
            qb.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Removes these rows of one patient.
pub async fn delete(tx: &mut Tx, org_id: Uuid, patient_id: Uuid, ids: &[Uuid]) -> Result<()> {
    for chunk in ids.chunks(BATCH) {
        with_tx!(tx, c => {
            let mut qb = QueryBuilder::new("DELETE FROM patient_identifier WHERE org_id = ");
            qb.push_bind(org_id).push(" AND patient_id = ").push_bind(patient_id).push(" AND id IN (");
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(")");
            qb.build().execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// The identifiers of these patients, each patient's in the order received.
pub async fn of_patients(db: &Db, org_id: Uuid, patients: &[Uuid]) -> Result<Vec<Identifier>> {
    let mut out = vec![];
    for chunk in patients.chunks(BATCH) {
        with_db!(db, p => {
            let mut qb = QueryBuilder::new(concat!("SELECT ", cols!(), " FROM patient_identifier WHERE org_id = "));
            qb.push_bind(org_id).push(" AND patient_id IN (");
            let mut list = qb.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            qb.push(") ORDER BY patient_id, id");
            out.extend(qb.build_query_as::<Identifier>().fetch_all(p).await?);
        });
    }
    Ok(out)
}

/// The rows with this value: in any system (`None`), or in one (`''` for none).
pub async fn find(db: &Db, org_id: Uuid, system: Option<&str>, value: &str, limit: i64) -> Result<Vec<Identifier>> {
    let any =
        concat!("SELECT ", cols!(), " FROM patient_identifier WHERE org_id = $1 AND value = $2 ORDER BY id LIMIT $3");
    let one = concat!(
        "SELECT ",
        cols!(),
        " FROM patient_identifier WHERE org_id = $1 AND value = $2 AND system = $4 ORDER BY id LIMIT $3"
    );
    let sql = if system.is_some() { one } else { any };
    with_db!(db, p => {
        let mut q = sqlx::query_as::<_, Identifier>(sql).bind(org_id).bind(value).bind(limit);
        if let Some(s) = system {
            q = q.bind(s);
        }
        q.fetch_all(p).await
    })
}
