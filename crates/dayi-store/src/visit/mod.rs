//! Outpatient visits: the record, diagnoses, orders, certificates and the
//! departments' record templates.

pub mod query;

use sqlx::{FromRow, QueryBuilder};
use uuid::Uuid;

use crate::{Db, On, Result, Tx, args, with_db, with_on, with_tx};

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
    with_tx!(tx, c => sqlx::query(sql).bind(v.org_id).bind(v.id).bind(v.patient_id).bind(v.booking_id).bind(v.dept_id)
        .bind(v.doctor_id).bind(v.doctor_name.clone()).bind(v.day.clone()).bind(v.status.clone())
        .bind(v.chief_complaint.clone()).bind(v.present_illness.clone()).bind(v.history.clone())
        .bind(v.allergies.clone()).bind(v.vitals.clone()).bind(v.examination.clone()).bind(v.advice.clone())
        .bind(v.opened_at).bind(v.finished_at).bind(v.updated_at)
        .execute(c).await.map(|r| r.rows_affected() == 1))
}

pub async fn get<'a>(on: impl Into<On<'a>>, org_id: Uuid, id: Uuid) -> Result<Option<Visit>> {
    let sql = concat!("SELECT ", visit_cols!(), " FROM visit WHERE org_id = $1 AND id = $2");
    with_on!(on.into(), p => sqlx::query_as::<_, Visit>(sql).bind(org_id).bind(id).fetch_optional(p).await)
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
    with_tx!(tx, c => sqlx::query(sql).bind(v.org_id).bind(v.id).bind(v.chief_complaint.clone())
        .bind(v.present_illness.clone()).bind(v.history.clone()).bind(v.allergies.clone()).bind(v.vitals.clone())
        .bind(v.examination.clone()).bind(v.advice.clone()).bind(v.updated_at)
        .execute(c).await.map(|r| r.rows_affected() == 1))
}

/// Finishes an open visit; false when it was not open.
pub async fn finish(tx: &mut Tx, org_id: Uuid, id: Uuid, at: i64) -> Result<bool> {
    let sql = "UPDATE visit SET status = 'finished', finished_at = $3, updated_at = $3 \
               WHERE org_id = $1 AND id = $2 AND status = 'open'";
    with_tx!(tx, c => sqlx::query(sql).bind(org_id).bind(id).bind(at).execute(c).await.map(|r| r.rows_affected() == 1))
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
    with_tx!(tx, c => sqlx::query("DELETE FROM diagnosis WHERE org_id = $1 AND visit_id = $2")
        .bind(org_id).bind(visit_id).execute(c).await.map(|_| ()))?;
    if rows.is_empty() {
        return Ok(());
    }
    with_tx!(tx, c => {
        let mut qb = QueryBuilder::new(concat!("INSERT INTO diagnosis (", diagnosis_cols!(), ") "));
        qb.push_values(rows, |mut b, r| {
            b.push_bind(r.org_id).push_bind(r.visit_id).push_bind(r.seq).push_bind(r.kind.clone())
                .push_bind(r.code.clone()).push_bind(r.name.clone()).push_bind(r.insurance_code.clone())
                .push_bind(r.is_primary).push_bind(r.created_at);
        });
        qb.build().execute(c).await.map(|_| ())
    })
}

pub async fn diagnoses(db: &Db, org_id: Uuid, visit_ids: &[Uuid]) -> Result<Vec<Diagnosis>> {
    if visit_ids.is_empty() {
        return Ok(vec![]);
    }
    with_db!(db, p => {
        let mut qb = QueryBuilder::new(concat!("SELECT ", diagnosis_cols!(), " FROM diagnosis WHERE org_id = "));
        qb.push_bind(org_id).push(" AND visit_id IN (");
        let mut sep = qb.separated(", ");
        for v in visit_ids {
            sep.push_bind(*v);
        }
        qb.push(") ORDER BY visit_id, seq");
        qb.build_query_as::<Diagnosis>().fetch_all(p).await
    })
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
    with_tx!(tx, c => {
        let mut qb = QueryBuilder::new(concat!("INSERT INTO visit_order (", order_cols!(), ") "));
        qb.push_values(rows, |mut b, r| {
            b.push_bind(r.org_id).push_bind(r.id).push_bind(r.visit_id).push_bind(r.patient_id)
                .push_bind(r.kind.clone()).push_bind(r.code.clone()).push_bind(r.name.clone())
                .push_bind(r.generic.clone()).push_bind(r.spec.clone()).push_bind(r.dose)
                .push_bind(r.dose_unit.clone()).push_bind(r.frequency.clone()).push_bind(r.days)
                .push_bind(r.route.clone()).push_bind(r.quantity).push_bind(r.unit.clone()).push_bind(r.unit_fen)
                .push_bind(r.amount_fen).push_bind(r.class.clone()).push_bind(r.status.clone())
                .push_bind(r.warnings.clone()).push_bind(r.reason.clone()).push_bind(r.note.clone())
                .push_bind(r.charge_id).push_bind(r.created_by.clone()).push_bind(r.created_at)
                .push_bind(r.updated_at);
        });
        qb.build().execute(c).await.map(|_| ())
    })
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
    with_tx!(tx, c => {
        let mut qb = QueryBuilder::new("UPDATE visit_order SET status = ");
        qb.push_bind(to).push(", updated_at = ").push_bind(at).push(" WHERE org_id = ").push_bind(org_id);
        qb.push(" AND status = ").push_bind(from).push(" AND charge_id IN (");
        let mut sep = qb.separated(", ");
        for id in charges {
            sep.push_bind(*id);
        }
        qb.push(")");
        qb.build().execute(c).await.map(|r| r.rows_affected())
    })
}

/// Moves one order from `from` to `to`; false when it was not in `from`.
pub async fn set_order_status(tx: &mut Tx, org_id: Uuid, id: Uuid, from: &str, to: &str, at: i64) -> Result<bool> {
    let sql = "UPDATE visit_order SET status = $4, updated_at = $5 WHERE org_id = $1 AND id = $2 AND status = $3";
    with_tx!(tx, c => sqlx::query(sql).bind(org_id).bind(id).bind(from).bind(to).bind(at)
        .execute(c).await.map(|r| r.rows_affected() == 1))
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
    with_tx!(tx, c => sqlx::query(sql).bind(r.org_id).bind(r.id).bind(r.cert_no.clone()).bind(r.visit_id)
        .bind(r.patient_id).bind(r.kind.clone()).bind(r.days).bind(r.starts.clone()).bind(r.note.clone())
        .bind(r.issued_by.clone()).bind(r.issued_at).execute(c).await.map(|_| ()))
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
    with_tx!(tx, c => sqlx::query(sql).bind(t.org_id).bind(t.id).bind(t.dept_id).bind(t.name.clone())
        .bind(t.chief_complaint.clone()).bind(t.present_illness.clone()).bind(t.examination.clone())
        .bind(t.advice.clone()).bind(t.active).bind(t.created_by.clone()).bind(t.created_at)
        .execute(c).await.map(|_| ()))
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
