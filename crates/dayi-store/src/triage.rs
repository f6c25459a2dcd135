//! Pre-triage records (预检分诊): what the nurse measured and asked, and
//! where the patient was sent.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

/// A pre-triage record.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Triage {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    pub booking_id: Option<Uuid>,
    pub day: String,
    /// Tenths of a degree.
    pub temperature: Option<i64>,
    /// Symptom codes, comma-separated.
    pub symptoms: String,
    /// Codes of the epidemiological questions answered "yes", comma-separated.
    pub exposures: String,
    pub route: String,
    pub dept_id: Option<Uuid>,
    /// One reason per line.
    pub reasons: String,
    pub priority: Option<String>,
    pub nurse: String,
    pub created_at: i64,
}

crate::lite_row!(Triage {
    org_id,
    id,
    patient_id,
    booking_id,
    day,
    temperature,
    symptoms,
    exposures,
    route,
    dept_id,
    reasons,
    priority,
    nurse,
    created_at
});

macro_rules! triage_cols {
    () => {
        "org_id, id, patient_id, booking_id, day, temperature, symptoms, exposures, route, dept_id, reasons, \
         priority, nurse, created_at"
    };
}

pub async fn insert(tx: &mut Tx, t: &Triage) -> Result<()> {
    let sql = concat!(
        "INSERT INTO triage (",
        triage_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    tx.execute(
        sql,
        args![
            t.org_id,
            t.id,
            t.patient_id,
            t.booking_id,
            &t.day,
            t.temperature,
            &t.symptoms,
            &t.exposures,
            &t.route,
            t.dept_id,
            &t.reasons,
            &t.priority,
            &t.nurse,
            t.created_at
        ],
    )
    .await?;
    Ok(())
}

/// A day's triage records, newest first, optionally of one route.
pub async fn of_day(db: &Db, org_id: Uuid, day: &str, route: Option<&str>, limit: i64) -> Result<Vec<Triage>> {
    let sql = concat!(
        "SELECT ",
        triage_cols!(),
        " FROM triage WHERE org_id = $1 AND day = $2 AND ($3 IS NULL OR route = $3) ORDER BY created_at DESC LIMIT $4"
    );
    db.all::<Triage>(sql, args![org_id, day, route, limit]).await
}

/// Records per route over days `from..=to`, for the report.
pub async fn counts(db: &Db, org_id: Uuid, from: &str, to: &str) -> Result<Vec<(String, String, i64)>> {
    let sql = "SELECT day, route, COUNT(*) FROM triage WHERE org_id = $1 AND day >= $2 AND day <= $3 \
               GROUP BY day, route ORDER BY day, route";
    db.all::<(String, String, i64)>(sql, args![org_id, from, to]).await
}
