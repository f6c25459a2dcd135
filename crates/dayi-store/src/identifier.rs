//! Identifiers other systems give our patients (`patient_identifier`),
//! stored as received and found by value, or by system and value. A merge
//! moves them with the patient (`patient::REFERENCES`).

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Arg;
use crate::fetch::Sql;
use crate::{Db, Result, Tx, args, row};

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
        let mut q = Sql::new(concat!("INSERT INTO patient_identifier (", cols!(), ") "));
        q.values(chunk, |r| row![r.org_id, r.id, r.patient_id, r.system.clone(), r.value.clone(), r.created_at]);
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

/// Removes these rows of one patient.
pub async fn delete(tx: &mut Tx, org_id: Uuid, patient_id: Uuid, ids: &[Uuid]) -> Result<()> {
    for chunk in ids.chunks(BATCH) {
        let mut q = Sql::new("DELETE FROM patient_identifier WHERE org_id = ");
        q.arg(org_id).push(" AND patient_id = ").arg(patient_id).push(" AND id IN (");
        q.list(chunk.iter().copied());
        q.push(")");
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

/// The identifiers of these patients, each patient's in the order received.
pub async fn of_patients(db: &Db, org_id: Uuid, patients: &[Uuid]) -> Result<Vec<Identifier>> {
    let mut out = vec![];
    for chunk in patients.chunks(BATCH) {
        {
            let mut q = Sql::new(concat!("SELECT ", cols!(), " FROM patient_identifier WHERE org_id = "));
            q.arg(org_id).push(" AND patient_id IN (");
            q.list(chunk.iter().copied());
            q.push(") ORDER BY patient_id, id");
            out.extend(db.all::<Identifier>(&q.text, &q.args).await?);
        };
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
    let mut args = args![org_id, value, limit].to_vec();
    args.extend(system.map(Arg::from));
    db.all(sql, &args).await
}
