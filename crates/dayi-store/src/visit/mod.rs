//! Outpatient visits: the record, diagnoses, orders, certificates and the
//! departments' record templates.

pub mod query;

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::{Db, On, Result, Tx, args, row};

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Visit {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    pub booking_id: Option<Uuid>,
    pub dept_id: Uuid,
    pub doctor_id: Uuid,
    pub doctor_name: String,
    pub day: String,
    /// `open`, `finished`.
    pub status: String,
    pub chief_complaint: String,
    pub present_illness: String,
    pub history: String,
    pub allergies: String,
    /// JSON: temperature, pulse, breathing, blood pressure, weight, glucose.
    pub vitals: String,
    pub examination: String,
    pub advice: String,
    pub opened_at: i64,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
}

crate::lite_row!(Visit {
    org_id,
    id,
    patient_id,
    booking_id,
    dept_id,
    doctor_id,
    doctor_name,
    day,
    status,
    chief_complaint,
    present_illness,
    history,
    allergies,
    vitals,
    examination,
    advice,
    opened_at,
    finished_at,
    updated_at
});

macro_rules! visit_cols {
    () => {
        "org_id, id, patient_id, booking_id, dept_id, doctor_id, doctor_name, day, status, chief_complaint, \
                     present_illness, history, allergies, vitals, examination, advice, opened_at, finished_at, updated_at"
    };
}
pub(crate) use visit_cols;

/// Opens a visit; false when the registration already has one.
pub async fn insert(tx: &mut Tx, v: &Visit) -> Result<bool> {
    let sql = concat!(
        "INSERT INTO visit (",
        visit_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT DO NOTHING"
    );
    tx.execute(
        sql,
        args![
            v.org_id,
            v.id,
            v.patient_id,
            v.booking_id,
            v.dept_id,
            v.doctor_id,
            v.doctor_name.clone(),
            v.day.clone(),
            v.status.clone(),
            v.chief_complaint.clone(),
            v.present_illness.clone(),
            v.history.clone(),
            v.allergies.clone(),
            v.vitals.clone(),
            v.examination.clone(),
            v.advice.clone(),
            v.opened_at,
            v.finished_at,
            v.updated_at
        ],
    )
    .await
    .map(|n| n == 1)
}

pub async fn get<'a>(on: impl Into<On<'a>>, org_id: Uuid, id: Uuid) -> Result<Option<Visit>> {
    let sql = concat!("SELECT ", visit_cols!(), " FROM visit WHERE org_id = $1 AND id = $2");
    On::of(on).optional::<Visit>(sql, args![org_id, id]).await
}

pub async fn of_booking(db: &Db, org_id: Uuid, booking_id: Uuid) -> Result<Option<Visit>> {
    let sql = concat!("SELECT ", visit_cols!(), " FROM visit WHERE org_id = $1 AND booking_id = $2");
    db.optional::<Visit>(sql, args![org_id, booking_id]).await
}

/// A doctor's visits of one day, newest first.
pub async fn of_doctor(db: &Db, org_id: Uuid, doctor_id: Uuid, day: &str) -> Result<Vec<Visit>> {
    let sql = concat!(
        "SELECT ",
        visit_cols!(),
        " FROM visit WHERE org_id = $1 AND doctor_id = $2 AND day = $3 ORDER BY opened_at DESC"
    );
    db.all::<Visit>(sql, args![org_id, doctor_id, day]).await
}

/// A patient's visits, newest first.
pub async fn of_patient(db: &Db, org_id: Uuid, patient_id: Uuid, limit: i64) -> Result<Vec<Visit>> {
    let sql = concat!(
        "SELECT ",
        visit_cols!(),
        " FROM visit WHERE org_id = $1 AND patient_id = $2 ORDER BY opened_at DESC LIMIT $3"
    );
    db.all::<Visit>(sql, args![org_id, patient_id, limit]).await
}

/// Writes the record fields of an open visit; false when it is no longer open.
pub async fn save_record(tx: &mut Tx, v: &Visit) -> Result<bool> {
    let sql = "UPDATE visit SET chief_complaint = $3, present_illness = $4, history = $5, allergies = $6, vitals = $7, \
               examination = $8, advice = $9, updated_at = $10 WHERE org_id = $1 AND id = $2 AND status = 'open'";
    tx.execute(
        sql,
        args![
            v.org_id,
            v.id,
            v.chief_complaint.clone(),
            v.present_illness.clone(),
            v.history.clone(),
            v.allergies.clone(),
            v.vitals.clone(),
            v.examination.clone(),
            v.advice.clone(),
            v.updated_at
        ],
    )
    .await
    .map(|n| n == 1)
}

/// Finishes an open visit; false when it was not open.
pub async fn finish(tx: &mut Tx, org_id: Uuid, id: Uuid, at: i64) -> Result<bool> {
    let sql = "UPDATE visit SET status = 'finished', finished_at = $3, updated_at = $3 \
               WHERE org_id = $1 AND id = $2 AND status = 'open'";
    tx.execute(sql, args![org_id, id, at]).await.map(|n| n == 1)
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Diagnosis {
    pub org_id: Uuid,
    pub visit_id: Uuid,
    pub seq: i64,
    /// `diagnosis` or `tcm`.
    pub kind: String,
    pub code: String,
    pub name: String,
    pub insurance_code: String,
    pub is_primary: bool,
    pub created_at: i64,
}

crate::lite_row!(Diagnosis { org_id, visit_id, seq, kind, code, name, insurance_code, is_primary, created_at });

macro_rules! diagnosis_cols {
    () => {
        "org_id, visit_id, seq, kind, code, name, insurance_code, is_primary, created_at"
    };
}
pub(crate) use diagnosis_cols;

/// Replaces the visit's diagnoses with `rows`.
pub async fn set_diagnoses(tx: &mut Tx, org_id: Uuid, visit_id: Uuid, rows: &[Diagnosis]) -> Result<()> {
    tx.execute("DELETE FROM diagnosis WHERE org_id = $1 AND visit_id = $2", args![org_id, visit_id])
        .await
        .map(|_| ())?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(concat!("INSERT INTO diagnosis (", diagnosis_cols!(), ") "));
    q.values(rows, |r| {
        row![
            r.org_id,
            r.visit_id,
            r.seq,
            r.kind.clone(),
            r.code.clone(),
            r.name.clone(),
            r.insurance_code.clone(),
            r.is_primary,
            r.created_at
        ]
    });
    tx.execute(&q.text, &q.args).await.map(|_| ())
}

pub async fn diagnoses(db: &Db, org_id: Uuid, visit_ids: &[Uuid]) -> Result<Vec<Diagnosis>> {
    if visit_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(concat!("SELECT ", diagnosis_cols!(), " FROM diagnosis WHERE org_id = "));
    q.arg(org_id).push(" AND visit_id IN (");
    q.list(visit_ids.iter().copied());
    q.push(") ORDER BY visit_id, seq");
    db.all::<Diagnosis>(&q.text, &q.args).await
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = VisitOrder)]
pub struct Order {
    pub org_id: Uuid,
    pub id: Uuid,
    pub visit_id: Uuid,
    pub patient_id: Uuid,
    /// lab, exam, drug, treatment, technique.
    pub kind: String,
    pub code: String,
    pub name: String,
    /// A drug's generic name (for duplicate checks); empty otherwise.
    pub generic: String,
    pub spec: String,
    /// Thousandths of `dose_unit`; drugs only.
    pub dose: Option<i64>,
    pub dose_unit: String,
    pub frequency: String,
    pub days: Option<i64>,
    pub route: String,
    pub quantity: i64,
    pub unit: String,
    pub unit_fen: i64,
    pub amount_fen: i64,
    pub class: Option<String>,
    /// ordered, paid, executed, cancelled, refunded.
    pub status: String,
    /// Warnings the doctor confirmed, one per line.
    pub warnings: String,
    pub reason: String,
    pub note: String,
    pub charge_id: Uuid,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

crate::lite_row!(Order {
    org_id,
    id,
    visit_id,
    patient_id,
    kind,
    code,
    name,
    generic,
    spec,
    dose,
    dose_unit,
    frequency,
    days,
    route,
    quantity,
    unit,
    unit_fen,
    amount_fen,
    class,
    status,
    warnings,
    reason,
    note,
    charge_id,
    created_by,
    created_at,
    updated_at
});

macro_rules! order_cols {
    () => {
        "org_id, id, visit_id, patient_id, kind, code, name, generic, spec, dose, dose_unit, frequency, days, \
                     route, quantity, unit, unit_fen, amount_fen, class, status, warnings, reason, note, charge_id, \
                     created_by, created_at, updated_at"
    };
}
pub(crate) use order_cols;

pub async fn insert_orders(tx: &mut Tx, rows: &[Order]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(concat!("INSERT INTO visit_order (", order_cols!(), ") "));
    q.values(rows, |r| {
        row![
            r.org_id,
            r.id,
            r.visit_id,
            r.patient_id,
            r.kind.clone(),
            r.code.clone(),
            r.name.clone(),
            r.generic.clone(),
            r.spec.clone(),
            r.dose,
            r.dose_unit.clone(),
            r.frequency.clone(),
            r.days,
            r.route.clone(),
            r.quantity,
            r.unit.clone(),
            r.unit_fen,
            r.amount_fen,
            r.class.clone(),
            r.status.clone(),
            r.warnings.clone(),
            r.reason.clone(),
            r.note.clone(),
            r.charge_id,
            r.created_by.clone(),
            r.created_at,
            r.updated_at
        ]
    });
    tx.execute(&q.text, &q.args).await.map(|_| ())
}

pub async fn orders(db: &Db, org_id: Uuid, visit_id: Uuid) -> Result<Vec<Order>> {
    let sql = concat!(
        "SELECT ",
        order_cols!(),
        " FROM visit_order WHERE org_id = $1 AND visit_id = $2 ORDER BY created_at, id"
    );
    db.all::<Order>(sql, args![org_id, visit_id]).await
}

/// Moves orders from one status to another (by their charges); returns how many moved.
pub async fn set_order_status_by_charges(
    tx: &mut Tx,
    org_id: Uuid,
    charges: &[Uuid],
    from: &str,
    to: &str,
    at: i64,
) -> Result<u64> {
    if charges.is_empty() {
        return Ok(0);
    }
    let mut q = Sql::new("UPDATE visit_order SET status = ");
    q.arg(to).push(", updated_at = ").arg(at).push(" WHERE org_id = ").arg(org_id);
    q.push(" AND status = ").arg(from).push(" AND charge_id IN (");
    q.list(charges.iter().copied());
    q.push(")");
    tx.execute(&q.text, &q.args).await
}

/// Moves one order from `from` to `to`; false when it was not in `from`.
pub async fn set_order_status(tx: &mut Tx, org_id: Uuid, id: Uuid, from: &str, to: &str, at: i64) -> Result<bool> {
    let sql = "UPDATE visit_order SET status = $4, updated_at = $5 WHERE org_id = $1 AND id = $2 AND status = $3";
    tx.execute(sql, args![org_id, id, from, to, at]).await.map(|n| n == 1)
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Certificate {
    pub org_id: Uuid,
    pub id: Uuid,
    pub cert_no: String,
    pub visit_id: Uuid,
    pub patient_id: Uuid,
    /// `diagnosis` (诊断证明) or `sick_leave` (病假证明).
    pub kind: String,
    pub days: Option<i64>,
    pub starts: Option<String>,
    pub note: String,
    pub issued_by: String,
    pub issued_at: i64,
}

crate::lite_row!(Certificate {
    org_id,
    id,
    cert_no,
    visit_id,
    patient_id,
    kind,
    days,
    starts,
    note,
    issued_by,
    issued_at
});

macro_rules! cert_cols {
    () => {
        "org_id, id, cert_no, visit_id, patient_id, kind, days, starts, note, issued_by, issued_at"
    };
}

pub async fn insert_certificate(tx: &mut Tx, r: &Certificate) -> Result<()> {
    let sql =
        concat!("INSERT INTO certificate (", cert_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
    tx.execute(
        sql,
        args![
            r.org_id,
            r.id,
            r.cert_no.clone(),
            r.visit_id,
            r.patient_id,
            r.kind.clone(),
            r.days,
            r.starts.clone(),
            r.note.clone(),
            r.issued_by.clone(),
            r.issued_at
        ],
    )
    .await
    .map(|_| ())
}

pub async fn certificates(db: &Db, org_id: Uuid, visit_id: Uuid) -> Result<Vec<Certificate>> {
    let sql =
        concat!("SELECT ", cert_cols!(), " FROM certificate WHERE org_id = $1 AND visit_id = $2 ORDER BY issued_at");
    db.all::<Certificate>(sql, args![org_id, visit_id]).await
}

pub async fn certificate(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Certificate>> {
    let sql = concat!("SELECT ", cert_cols!(), " FROM certificate WHERE org_id = $1 AND id = $2");
    db.optional::<Certificate>(sql, args![org_id, id]).await
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = VisitTemplate)]
pub struct Template {
    pub org_id: Uuid,
    pub id: Uuid,
    pub dept_id: Uuid,
    pub name: String,
    pub chief_complaint: String,
    pub present_illness: String,
    pub examination: String,
    pub advice: String,
    pub active: bool,
    pub created_by: String,
    pub created_at: i64,
}

crate::lite_row!(Template {
    org_id,
    id,
    dept_id,
    name,
    chief_complaint,
    present_illness,
    examination,
    advice,
    active,
    created_by,
    created_at
});

macro_rules! template_cols {
    () => {
        "org_id, id, dept_id, name, chief_complaint, present_illness, examination, advice, active, created_by, created_at"
    };
}

pub async fn insert_template(tx: &mut Tx, t: &Template) -> Result<()> {
    let sql = concat!(
        "INSERT INTO visit_template (",
        template_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    tx.execute(
        sql,
        args![
            t.org_id,
            t.id,
            t.dept_id,
            t.name.clone(),
            t.chief_complaint.clone(),
            t.present_illness.clone(),
            t.examination.clone(),
            t.advice.clone(),
            t.active,
            t.created_by.clone(),
            t.created_at
        ],
    )
    .await
    .map(|_| ())
}

pub async fn templates(db: &Db, org_id: Uuid, dept_id: Uuid) -> Result<Vec<Template>> {
    let sql = concat!(
        "SELECT ",
        template_cols!(),
        " FROM visit_template WHERE org_id = $1 AND dept_id = $2 AND active ORDER BY name"
    );
    db.all::<Template>(sql, args![org_id, dept_id]).await
}

pub async fn template(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Template>> {
    let sql = concat!("SELECT ", template_cols!(), " FROM visit_template WHERE org_id = $1 AND id = $2");
    db.optional::<Template>(sql, args![org_id, id]).await
}
