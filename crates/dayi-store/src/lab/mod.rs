//! Lab results: specimens, one test per lab order, versioned results and
//! critical-value alerts.

pub mod query;
pub mod tally;

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::visit::{Order, order_cols};
use crate::{Db, On, Result, Tx, args, row};

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Specimen {
    pub org_id: Uuid,
    pub id: Uuid,
    pub barcode: String,
    pub patient_id: Uuid,
    pub visit_id: Uuid,
    /// 全血, 血清 …
    pub kind: String,
    pub tube: String,
    /// `collected`, `received`, `rejected`.
    pub status: String,
    pub reject_reason: String,
    pub collected_by: String,
    pub collected_at: i64,
    pub received_by: Option<String>,
    pub received_at: Option<i64>,
    pub updated_at: i64,
}

crate::lite_row!(Specimen {
    org_id,
    id,
    barcode,
    patient_id,
    visit_id,
    kind,
    tube,
    status,
    reject_reason,
    collected_by,
    collected_at,
    received_by,
    received_at,
    updated_at
});

macro_rules! specimen_cols {
    () => {
        "org_id, id, barcode, patient_id, visit_id, kind, tube, status, reject_reason, collected_by, collected_at, \
         received_by, received_at, updated_at"
    };
}
pub(crate) use specimen_cols;

/// One lab order's test: its specimen and how far it has come.
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LabTest {
    pub org_id: Uuid,
    pub order_id: Uuid,
    pub specimen_id: Uuid,
    pub visit_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub panel_code: String,
    pub panel_name: String,
    /// `collected`, `received`, `rejected`, `resulted`, `verified`.
    pub status: String,
    pub verified_by: Option<String>,
    /// Set when verified: the moment the patient and doctor may see it.
    pub verified_at: Option<i64>,
    pub updated_at: i64,
}

crate::lite_row!(LabTest {
    org_id,
    order_id,
    specimen_id,
    visit_id,
    patient_id,
    doctor_id,
    panel_code,
    panel_name,
    status,
    verified_by,
    verified_at,
    updated_at
});

macro_rules! test_cols {
    () => {
        "org_id, order_id, specimen_id, visit_id, patient_id, doctor_id, panel_code, panel_name, status, \
         verified_by, verified_at, updated_at"
    };
}
pub(crate) use test_cols;

/// One result of one item; a correction adds a version and retires the old one.
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LabResult {
    pub org_id: Uuid,
    pub id: Uuid,
    pub order_id: Uuid,
    pub specimen_id: Uuid,
    pub patient_id: Uuid,
    pub item_code: String,
    pub item_name: String,
    pub loinc: String,
    pub value: String,
    /// Thousandths, for numeric items.
    pub milli: Option<i64>,
    pub unit: String,
    /// N, L, H, LL, HH, A.
    pub flag: String,
    pub range_text: String,
    pub version: i64,
    pub current: bool,
    /// `manual` or `hl7:<sending application>`.
    pub source: String,
    pub entered_by: String,
    pub entered_at: i64,
    /// Why a correction was made.
    pub reason: String,
}

crate::lite_row!(LabResult {
    org_id,
    id,
    order_id,
    specimen_id,
    patient_id,
    item_code,
    item_name,
    loinc,
    value,
    milli,
    unit,
    flag,
    range_text,
    version,
    current,
    source,
    entered_by,
    entered_at,
    reason
});

macro_rules! result_cols {
    () => {
        "org_id, id, order_id, specimen_id, patient_id, item_code, item_name, loinc, value, milli, unit, flag, \
         range_text, version, current, source, entered_by, entered_at, reason"
    };
}
pub(crate) use result_cols;

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct LabAlert {
    pub org_id: Uuid,
    pub id: Uuid,
    pub result_id: Uuid,
    pub order_id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub item_name: String,
    pub value: String,
    pub unit: String,
    pub flag: String,
    pub raised_at: i64,
    pub acked_by: Option<String>,
    pub acked_at: Option<i64>,
    pub ack_note: String,
}

crate::lite_row!(LabAlert {
    org_id,
    id,
    result_id,
    order_id,
    patient_id,
    doctor_id,
    item_name,
    value,
    unit,
    flag,
    raised_at,
    acked_by,
    acked_at,
    ack_note
});

macro_rules! alert_cols {
    () => {
        "org_id, id, result_id, order_id, patient_id, doctor_id, item_name, value, unit, flag, raised_at, acked_by, \
         acked_at, ack_note"
    };
}

/// Lab orders (paid or not yet) that no specimen holds yet, and those whose
/// specimen was rejected (to draw again).
pub async fn to_collect(db: &Db, org_id: Uuid, since: i64, limit: i64) -> Result<Vec<Order>> {
    let sql = concat!(
        "SELECT ",
        order_cols!(),
        " FROM visit_order o WHERE o.org_id = $1 AND o.kind = 'lab' AND o.created_at >= $2 AND ( \
         (o.status IN ('ordered', 'paid') AND NOT EXISTS (SELECT 1 FROM lab_test t WHERE t.org_id = o.org_id AND t.order_id = o.id)) \
         OR (o.status = 'executed' AND EXISTS (SELECT 1 FROM lab_test t WHERE t.org_id = o.org_id AND t.order_id = o.id AND t.status = 'rejected'))) \
         ORDER BY o.created_at LIMIT $3"
    );
    db.all::<Order>(sql, args![org_id, since, limit]).await
}

pub async fn insert_specimen(tx: &mut Tx, s: &Specimen) -> Result<()> {
    let sql = concat!(
        "INSERT INTO specimen (",
        specimen_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    tx.execute(
        sql,
        args![
            s.org_id,
            s.id,
            s.barcode.clone(),
            s.patient_id,
            s.visit_id,
            s.kind.clone(),
            s.tube.clone(),
            s.status.clone(),
            s.reject_reason.clone(),
            s.collected_by.clone(),
            s.collected_at,
            s.received_by.clone(),
            s.received_at,
            s.updated_at
        ],
    )
    .await?;
    Ok(())
}

/// Specimens collected since a moment (the day's numbering).
pub async fn count_since(tx: &mut Tx, org_id: Uuid, since: i64) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM specimen WHERE org_id = $1 AND collected_at >= $2";
    tx.scalar::<i64>(sql, args![org_id, since]).await
}

/// Writes tests; a redrawn order's test moves to its new specimen.
pub async fn upsert_tests(tx: &mut Tx, rows: &[LabTest]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(concat!("INSERT INTO lab_test (", test_cols!(), ") "));
    q.values(rows, |t| {
        row![
            t.org_id,
            t.order_id,
            t.specimen_id,
            t.visit_id,
            t.patient_id,
            t.doctor_id,
            t.panel_code.clone(),
            t.panel_name.clone(),
            t.status.clone(),
            t.verified_by.clone(),
            t.verified_at,
            t.updated_at
        ]
    });
    q.push(
        " ON CONFLICT (org_id, order_id) DO UPDATE SET specimen_id = excluded.specimen_id, \
              status = excluded.status, verified_by = NULL, verified_at = NULL, updated_at = excluded.updated_at",
    );
    tx.execute(&q.text, &q.args).await?;
    Ok(())
}

pub async fn specimen(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Specimen>> {
    let sql = concat!("SELECT ", specimen_cols!(), " FROM specimen WHERE org_id = $1 AND id = $2");
    db.optional::<Specimen>(sql, args![org_id, id]).await
}

/// The tubes with any of these barcodes.
pub async fn by_barcodes<'a>(on: impl Into<On<'a>>, org_id: Uuid, barcodes: &[&str]) -> Result<Vec<Specimen>> {
    let mut on = on.into();
    let mut rows = vec![];
    for chunk in barcodes.chunks(500) {
        let mut q = Sql::new(concat!("SELECT ", specimen_cols!(), " FROM specimen WHERE org_id = "));
        q.arg(org_id).push(" AND barcode IN (").list(chunk.iter().copied()).push(")");
        rows.extend(on.all::<Specimen>(&q.text, &q.args).await?);
    }
    Ok(rows)
}

pub async fn by_barcode(db: &Db, org_id: Uuid, barcode: &str) -> Result<Option<Specimen>> {
    let sql = concat!("SELECT ", specimen_cols!(), " FROM specimen WHERE org_id = $1 AND barcode = $2");
    db.optional::<Specimen>(sql, args![org_id, barcode]).await
}

/// The lab's list: specimens collected since a moment, newest first.
pub async fn specimens(db: &Db, org_id: Uuid, since: i64, limit: i64) -> Result<Vec<Specimen>> {
    let sql = concat!(
        "SELECT ",
        specimen_cols!(),
        " FROM specimen WHERE org_id = $1 AND collected_at >= $2 ORDER BY collected_at DESC LIMIT $3"
    );
    db.all::<Specimen>(sql, args![org_id, since, limit]).await
}

/// Receives or rejects a specimen that is still only collected.
pub async fn set_specimen(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    to: &str,
    reason: &str,
    by: &str,
    at: i64,
) -> Result<bool> {
    let sql = "UPDATE specimen SET status = $3, reject_reason = $4, received_by = $5, received_at = $6, updated_at = $6 \
               WHERE org_id = $1 AND id = $2 AND status = 'collected'";
    tx.execute(sql, args![org_id, id, to, reason, by, at]).await.map(|n| n == 1)
}

/// Marks collected tubes received (their results arrived).
pub async fn receive_specimens(tx: &mut Tx, org_id: Uuid, ids: &[Uuid], by: &str, at: i64) -> Result<u64> {
    let mut n = 0;
    for chunk in ids.chunks(500) {
        {
            let mut q = Sql::new("UPDATE specimen SET status = 'received', received_by = ");
            q.arg(by)
                .push(", received_at = ")
                .arg(at)
                .push(", updated_at = ")
                .arg(at)
                .push(" WHERE org_id = ")
                .arg(org_id)
                .push(" AND id IN (");
            q.list(chunk.iter().copied());
            // `|| ''`: found by the keys, not the status index (see `set_tests`).
            q.push(") AND status || '' = 'collected'");
            n += tx.execute(&q.text, &q.args).await?;
        };
    }
    Ok(n)
}

pub async fn tests_of_specimen<'a>(on: impl Into<On<'a>>, org_id: Uuid, specimen_id: Uuid) -> Result<Vec<LabTest>> {
    let sql =
        concat!("SELECT ", test_cols!(), " FROM lab_test WHERE org_id = $1 AND specimen_id = $2 ORDER BY panel_code");
    On::of(on).all::<LabTest>(sql, args![org_id, specimen_id]).await
}

/// The tests of several tubes.
pub async fn tests_of_specimens<'a>(
    on: impl Into<On<'a>>,
    org_id: Uuid,
    specimen_ids: &[Uuid],
) -> Result<Vec<LabTest>> {
    let mut on = on.into();
    let mut rows = vec![];
    for chunk in specimen_ids.chunks(500) {
        let mut q = Sql::new(concat!("SELECT ", test_cols!(), " FROM lab_test WHERE org_id = "));
        q.arg(org_id).push(" AND specimen_id IN (").list(chunk).push(") ORDER BY specimen_id, panel_code");
        rows.extend(on.all::<LabTest>(&q.text, &q.args).await?);
    }
    Ok(rows)
}

pub async fn test(db: &Db, org_id: Uuid, order_id: Uuid) -> Result<Option<LabTest>> {
    let sql = concat!("SELECT ", test_cols!(), " FROM lab_test WHERE org_id = $1 AND order_id = $2");
    db.optional::<LabTest>(sql, args![org_id, order_id]).await
}

/// Moves tests from one of `from` to `to`; the count moved.
pub async fn set_tests(
    tx: &mut Tx,
    org_id: Uuid,
    order_ids: &[Uuid],
    from: &[&str],
    to: &str,
    verified_by: Option<&str>,
    at: i64,
) -> Result<u64> {
    if order_ids.is_empty() || from.is_empty() {
        return Ok(0);
    }
    let verified_at = (to == "verified").then_some(at);
    // One statement, found by its keys: `status || ''` keeps SQLite, which
    // plans without statistics, from walking the status index instead.
    let mut n = 0;
    for chunk in order_ids.chunks(500) {
        {
            let mut q = Sql::new("UPDATE lab_test SET status = ");
            q.arg(to)
                .push(", verified_by = ")
                .arg(verified_by)
                .push(", verified_at = ")
                .arg(verified_at)
                .push(", updated_at = ")
                .arg(at)
                .push(" WHERE org_id = ")
                .arg(org_id)
                .push(" AND order_id IN (");
            q.list(chunk.iter().copied());
            q.push(") AND status || '' IN (");
            q.list(from.iter().copied());
            q.push(")");
            n += tx.execute(&q.text, &q.args).await?;
        };
    }
    Ok(n)
}

pub async fn insert_results(tx: &mut Tx, rows: &[LabResult]) -> Result<()> {
    for chunk in rows.chunks(500) {
        let mut q = Sql::new(concat!("INSERT INTO lab_result (", result_cols!(), ") "));
        q.values(chunk, |r| {
            row![
                r.org_id,
                r.id,
                r.order_id,
                r.specimen_id,
                r.patient_id,
                r.item_code.clone(),
                r.item_name.clone(),
                r.loinc.clone(),
                r.value.clone(),
                r.milli,
                r.unit.clone(),
                r.flag.clone(),
                r.range_text.clone(),
                r.version,
                r.current,
                r.source.clone(),
                r.entered_by.clone(),
                r.entered_at,
                r.reason.clone()
            ]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

/// Retires an item's current result before its correction is written.
pub async fn retire(tx: &mut Tx, org_id: Uuid, order_id: Uuid, item_code: &str) -> Result<()> {
    let sql =
        "UPDATE lab_result SET current = $4 WHERE org_id = $1 AND order_id = $2 AND item_code = $3 AND current = $5";
    tx.execute(sql, args![org_id, order_id, item_code, false, true]).await?;
    Ok(())
}

/// The results of a test, current first then history, by item and version.
pub async fn results(db: &Db, org_id: Uuid, order_id: Uuid) -> Result<Vec<LabResult>> {
    let sql = concat!(
        "SELECT ",
        result_cols!(),
        " FROM lab_result WHERE org_id = $1 AND order_id = $2 ORDER BY item_code, version DESC"
    );
    db.all::<LabResult>(sql, args![org_id, order_id]).await
}

/// The results of several tests (a specimen's), by test, item and version.
pub async fn results_of<'a>(on: impl Into<On<'a>>, org_id: Uuid, order_ids: &[Uuid]) -> Result<Vec<LabResult>> {
    let mut on = on.into();
    let mut rows = vec![];
    for chunk in order_ids.chunks(500) {
        let mut q = Sql::new(concat!("SELECT ", result_cols!(), " FROM lab_result WHERE org_id = "));
        q.arg(org_id).push(" AND order_id IN (").list(chunk).push(") ORDER BY order_id, item_code, version DESC");
        rows.extend(on.all::<LabResult>(&q.text, &q.args).await?);
    }
    Ok(rows)
}

/// A patient's verified tests, newest first.
pub async fn published(db: &Db, org_id: Uuid, patient_id: Uuid, limit: i64) -> Result<Vec<LabTest>> {
    let sql = concat!(
        "SELECT ",
        test_cols!(),
        " FROM lab_test WHERE org_id = $1 AND patient_id = $2 AND status = 'verified' ORDER BY verified_at DESC LIMIT $3"
    );
    db.all::<LabTest>(sql, args![org_id, patient_id, limit]).await
}

/// An item's current results of verified tests for a patient, oldest first (the trend).
pub async fn trend(db: &Db, org_id: Uuid, patient_id: Uuid, item_code: &str, limit: i64) -> Result<Vec<LabResult>> {
    let sql = "SELECT r.org_id, r.id, r.order_id, r.specimen_id, r.patient_id, r.item_code, r.item_name, r.loinc, r.value, \
         r.milli, r.unit, r.flag, r.range_text, r.version, r.current, r.source, r.entered_by, r.entered_at, r.reason \
         FROM lab_result r JOIN lab_test t ON t.org_id = r.org_id AND t.order_id = r.order_id \
         WHERE r.org_id = $1 AND r.patient_id = $2 AND r.item_code = $3 AND r.current = $4 AND t.status = 'verified' \
         ORDER BY r.entered_at DESC LIMIT $5";
    let mut rows = db.all::<LabResult>(sql, args![org_id, patient_id, item_code, true, limit]).await?;
    rows.reverse();
    Ok(rows)
}

pub async fn insert_alerts(tx: &mut Tx, rows: &[LabAlert]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(concat!("INSERT INTO lab_alert (", alert_cols!(), ") "));
    q.values(rows, |a| {
        row![
            a.org_id,
            a.id,
            a.result_id,
            a.order_id,
            a.patient_id,
            a.doctor_id,
            a.item_name.clone(),
            a.value.clone(),
            a.unit.clone(),
            a.flag.clone(),
            a.raised_at,
            a.acked_by.clone(),
            a.acked_at,
            a.ack_note.clone()
        ]
    });
    tx.execute(&q.text, &q.args).await?;
    Ok(())
}

/// A doctor's critical values not yet acknowledged, oldest first.
pub async fn open_alerts(db: &Db, org_id: Uuid, doctor_id: Uuid) -> Result<Vec<LabAlert>> {
    let sql = concat!(
        "SELECT ",
        alert_cols!(),
        " FROM lab_alert WHERE org_id = $1 AND doctor_id = $2 AND acked_at IS NULL ORDER BY raised_at"
    );
    db.all::<LabAlert>(sql, args![org_id, doctor_id]).await
}

pub async fn alert(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<LabAlert>> {
    let sql = concat!("SELECT ", alert_cols!(), " FROM lab_alert WHERE org_id = $1 AND id = $2");
    db.optional::<LabAlert>(sql, args![org_id, id]).await
}

/// Acknowledges an alert once; false when it was already.
pub async fn ack_alert(tx: &mut Tx, org_id: Uuid, id: Uuid, by: &str, note: &str, at: i64) -> Result<bool> {
    let sql = "UPDATE lab_alert SET acked_by = $3, acked_at = $4, ack_note = $5 \
               WHERE org_id = $1 AND id = $2 AND acked_at IS NULL";
    tx.execute(sql, args![org_id, id, by, at, note]).await.map(|n| n == 1)
}
