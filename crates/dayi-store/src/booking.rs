//! Bookings and registrations (挂号), their fee charges, and no-show blocks.

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::walk::{Step, Walk, walked};
use crate::{Db, On, Result, Tx, args, row};

/// A booking ahead of the day or a registration on the day: one slot of one
/// session for one patient.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Booking {
    pub org_id: Uuid,
    pub id: Uuid,
    /// Registration number (挂号流水号).
    pub reg_no: String,
    pub session_id: Uuid,
    /// The slot number, which is the queue number (号序).
    pub seq: i64,
    pub slot_start: i64,
    pub patient_id: Uuid,
    pub dept_id: Uuid,
    pub day: String,
    pub fee_fen: i64,
    pub channel: String,
    pub on_behalf: String,
    /// Staff user name, or `portal:<hospital no>` of the account that booked.
    pub booked_by: String,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub checked_in_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

crate::lite_row!(Booking {
    org_id,
    id,
    reg_no,
    session_id,
    seq,
    slot_start,
    patient_id,
    dept_id,
    day,
    fee_fen,
    channel,
    on_behalf,
    booked_by,
    status,
    cancel_reason,
    checked_in_at,
    created_at,
    updated_at
});

macro_rules! cols {
    () => {
        "org_id, id, reg_no, session_id, seq, slot_start, patient_id, dept_id, day, fee_fen, channel, on_behalf, \
         booked_by, status, cancel_reason, checked_in_at, created_at, updated_at"
    };
}

/// 18 columns × 500 rows stays under both databases' bind limits.
const BATCH: usize = 500;

pub async fn insert(tx: &mut Tx, rows: &[Booking]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new(concat!("INSERT INTO booking (", cols!(), ") "));
        q.values(chunk, |r| {
            row![
                r.org_id,
                r.id,
                r.reg_no.clone(),
                r.session_id,
                r.seq,
                r.slot_start,
                r.patient_id,
                r.dept_id,
                r.day.clone(),
                r.fee_fen,
                r.channel.clone(),
                r.on_behalf.clone(),
                r.booked_by.clone(),
                r.status.clone(),
                r.cancel_reason.clone(),
                r.checked_in_at,
                r.created_at,
                r.updated_at
            ]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Booking>> {
    let sql = concat!("SELECT ", cols!(), " FROM booking WHERE org_id = $1 AND id = $2");
    db.optional::<Booking>(sql, args![org_id, id]).await
}

pub async fn by_reg_no(db: &Db, org_id: Uuid, reg_no: &str) -> Result<Option<Booking>> {
    let sql = concat!("SELECT ", cols!(), " FROM booking WHERE org_id = $1 AND reg_no = $2");
    db.optional::<Booking>(sql, args![org_id, reg_no]).await
}

/// A patient's bookings from `from_day` on (all statuses), soonest first.
pub async fn of_patient(db: &Db, org_id: Uuid, patient_id: Uuid, from_day: &str, limit: i64) -> Result<Vec<Booking>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM booking WHERE org_id = $1 AND patient_id = $2 AND day >= $3 ORDER BY day, slot_start LIMIT $4"
    );
    db.all::<Booking>(sql, args![org_id, patient_id, from_day, limit]).await
}

/// A session's bookings in slot order (all statuses).
pub async fn of_session(db: &Db, org_id: Uuid, session_id: Uuid) -> Result<Vec<Booking>> {
    let sql =
        concat!("SELECT ", cols!(), " FROM booking WHERE org_id = $1 AND session_id = $2 ORDER BY seq, created_at");
    db.all::<Booking>(sql, args![org_id, session_id]).await
}

pub async fn active_of_session<'a>(on: impl Into<On<'a>>, org_id: Uuid, session_id: Uuid) -> Result<Vec<Booking>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM booking WHERE org_id = $1 AND session_id = $2 AND status IN ('booked', 'checked_in') ORDER BY seq"
    );
    On::of(on).all::<Booking>(sql, args![org_id, session_id]).await
}

/// Moves a booking from one of `from` statuses to `to`; false when it was in none of them.
pub async fn set_status(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    from: &[&str],
    to: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<bool> {
    let sql = "UPDATE booking SET status = $3, cancel_reason = COALESCE($4, cancel_reason), updated_at = $5 \
               WHERE org_id = $1 AND id = $2 AND (status = $6 OR status = $7)";
    let (a, b) = (from.first().copied().unwrap_or(""), from.get(1).copied().unwrap_or(""));
    let n = tx.execute(sql, args![org_id, id, to, reason, now, a, b]).await?;
    Ok(n == 1)
}

/// Records arrival; false when the booking is not waiting for it.
pub async fn check_in(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<bool> {
    let sql = "UPDATE booking SET status = 'checked_in', checked_in_at = $3, updated_at = $3 \
               WHERE org_id = $1 AND id = $2 AND status = 'booked'";
    let n = tx.execute(sql, args![org_id, id, now]).await?;
    Ok(n == 1)
}

/// Bookings still waiting after their session ended: the no-shows to record.
pub async fn unattended(db: &Db, org_id: Uuid, ended_before: i64, limit: i64) -> Result<Vec<Booking>> {
    let sql = "SELECT b.org_id, b.id, b.reg_no, b.session_id, b.seq, b.slot_start, b.patient_id, b.dept_id, b.day, \
               b.fee_fen, b.channel, b.on_behalf, b.booked_by, b.status, b.cancel_reason, b.checked_in_at, \
               b.created_at, b.updated_at FROM booking b JOIN clinic_session s ON s.org_id = b.org_id \
               AND s.id = b.session_id WHERE b.org_id = $1 AND b.status = 'booked' AND s.ends_at < $2 LIMIT $3";
    db.all::<Booking>(sql, args![org_id, ended_before, limit]).await
}

/// No-shows of a patient on days from `since_day`.
pub async fn no_shows_since(tx: &mut Tx, org_id: Uuid, patient_id: Uuid, since_day: &str) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM booking WHERE org_id = $1 AND patient_id = $2 AND day >= $3 AND status = 'no_show'";
    tx.scalar::<i64>(sql, args![org_id, patient_id, since_day]).await
}

/// The last day the patient's booking is blocked, if a block exists.
/// Active bookings of any of `patients` on any of `days`:
/// (patient, day, dept, session).
pub async fn active_for(
    tx: &mut Tx,
    org_id: Uuid,
    patients: &[Uuid],
    days: &[String],
) -> Result<Vec<(Uuid, String, Uuid, Uuid)>> {
    if patients.is_empty() || days.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new("SELECT patient_id, day, dept_id, session_id FROM booking WHERE org_id = ");
    q.arg(org_id).push(" AND status IN ('booked', 'checked_in') AND patient_id IN (");
    q.list(patients.iter().copied());
    q.push(") AND day IN (");
    q.list(days);
    q.push(")");
    tx.all::<(Uuid, String, Uuid, Uuid)>(&q.text, &q.args).await
}

/// The booking blocks of any of `patients`: (patient, until_day).
pub async fn blocks_for(tx: &mut Tx, org_id: Uuid, patients: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    if patients.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new("SELECT patient_id, until_day FROM booking_block WHERE org_id = ");
    q.arg(org_id).push(" AND patient_id IN (");
    q.list(patients.iter().copied());
    q.push(")");
    tx.all::<(Uuid, String)>(&q.text, &q.args).await
}

pub async fn blocked_until(tx: &mut Tx, org_id: Uuid, patient_id: Uuid) -> Result<Option<String>> {
    let sql = "SELECT until_day FROM booking_block WHERE org_id = $1 AND patient_id = $2";
    tx.scalar_optional::<String>(sql, args![org_id, patient_id]).await
}

pub async fn block(
    tx: &mut Tx,
    org_id: Uuid,
    patient_id: Uuid,
    until_day: &str,
    no_shows: i64,
    now: i64,
) -> Result<()> {
    let sql = "INSERT INTO booking_block (org_id, patient_id, until_day, no_shows, created_at) VALUES ($1, $2, $3, $4, $5) \
               ON CONFLICT (org_id, patient_id) DO UPDATE SET until_day = excluded.until_day, \
               no_shows = excluded.no_shows, created_at = excluded.created_at";
    tx.execute(sql, args![org_id, patient_id, until_day, no_shows, now]).await?;
    Ok(())
}

/// A charge for a service (here the registration fee; billing adds the rest).
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Charge {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    pub booking_id: Option<Uuid>,
    pub item_code: String,
    pub item_name: String,
    /// 医疗收费类别 (med_chrgitm_type), e.g. `13` 挂号费, `02` 诊察费.
    pub category: String,
    pub unit_fen: i64,
    pub quantity: i64,
    pub amount_fen: i64,
    /// `unpaid`, `paid`, `refunded`, `void`.
    pub status: String,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The visit and order it was charged for.
    pub visit_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// The payment that settled it, or an online payment holding it while the patient pays.
    pub payment_id: Option<Uuid>,
    pub refund_id: Option<Uuid>,
}

crate::lite_row!(Charge {
    org_id,
    id,
    patient_id,
    booking_id,
    item_code,
    item_name,
    category,
    unit_fen,
    quantity,
    amount_fen,
    status,
    created_by,
    created_at,
    updated_at,
    visit_id,
    order_id,
    payment_id,
    refund_id
});

macro_rules! charge_cols {
    () => {
        "org_id, id, patient_id, booking_id, item_code, item_name, category, unit_fen, quantity, amount_fen, status, \
         created_by, created_at, updated_at, visit_id, order_id, payment_id, refund_id"
    };
}
pub(crate) use charge_cols;

pub async fn insert_charges(tx: &mut Tx, rows: &[Charge]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new(concat!("INSERT INTO charge (", charge_cols!(), ") "));
        q.values(chunk, |r| {
            row![
                r.org_id,
                r.id,
                r.patient_id,
                r.booking_id,
                r.item_code.clone(),
                r.item_name.clone(),
                r.category.clone(),
                r.unit_fen,
                r.quantity,
                r.amount_fen,
                r.status.clone(),
                r.created_by.clone(),
                r.created_at,
                r.updated_at,
                r.visit_id,
                r.order_id,
                r.payment_id,
                r.refund_id
            ]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

pub async fn charges_of_booking(db: &Db, org_id: Uuid, booking_id: Uuid) -> Result<Vec<Charge>> {
    let sql =
        concat!("SELECT ", charge_cols!(), " FROM charge WHERE org_id = $1 AND booking_id = $2 ORDER BY created_at");
    db.all::<Charge>(sql, args![org_id, booking_id]).await
}

/// Voids the unpaid charges of a cancelled booking.
pub async fn void_unpaid(tx: &mut Tx, org_id: Uuid, booking_id: Uuid, now: i64) -> Result<u64> {
    let sql = "UPDATE charge SET status = 'void', updated_at = $3 WHERE org_id = $1 AND booking_id = $2 AND status = 'unpaid'";
    tx.execute(sql, args![org_id, booking_id, now]).await
}

/// Slots held by more than one active booking, or slots pointing to a booking
/// that does not hold them: both must be zero (the oversell check).
pub async fn oversold(db: &Db, org_id: Uuid) -> Result<i64> {
    let sql = "SELECT (SELECT COUNT(*) FROM (SELECT session_id, seq FROM booking WHERE org_id = $1 \
               AND status IN ('booked', 'checked_in') GROUP BY session_id, seq HAVING COUNT(*) > 1) d) + \
               (SELECT COUNT(*) FROM booking b LEFT JOIN slot s ON s.org_id = b.org_id AND s.session_id = b.session_id \
               AND s.seq = b.seq WHERE b.org_id = $1 AND b.status IN ('booked', 'checked_in') \
               AND (s.booking_id IS NULL OR s.booking_id <> b.id))";
    db.report_scalar::<i64>(sql, args![org_id]).await
}

macro_rules! walk_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM booking WHERE org_id = ").arg($org);
    };
}

/// Every booking in id order, a page at a time.
pub async fn walk(db: &Db, org_id: Uuid, step: &Step) -> Result<Walk<Booking>> {
    walked!(db, org_id, (), step, walk_where, cols, "id", Booking)
}

/// How one patient's active bookings are grouped when a booking rule is
/// checked: per day, per day and department, per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Day,
    DeptDay,
    Session,
}

macro_rules! over_head {
    () => {
        "SELECT COUNT(*) FROM (SELECT patient_id FROM booking WHERE org_id = $1 \
         AND status IN ('booked', 'checked_in') "
    };
}

/// Groups of one patient's active bookings (booked or checked in) holding
/// more than `limit`: the breaches of a per-day, per-department or
/// per-session limit, which the booking desk must keep at zero.
pub async fn groups_over(db: &Db, org_id: Uuid, per: Per, limit: i64) -> Result<i64> {
    let sql = match per {
        Per::Day => concat!(over_head!(), "GROUP BY patient_id, day HAVING COUNT(*) > $2) t"),
        Per::DeptDay => concat!(over_head!(), "GROUP BY patient_id, day, dept_id HAVING COUNT(*) > $2) t"),
        Per::Session => concat!(over_head!(), "GROUP BY patient_id, session_id HAVING COUNT(*) > $2) t"),
    };
    db.report_scalar::<i64>(sql, args![org_id, limit]).await
}

/// Every booking made through one channel (`portal`, `counter`, …), of any
/// status, in no particular order.
pub async fn of_channel(db: &Db, org_id: Uuid, channel: &str) -> Result<Vec<Booking>> {
    let sql = concat!("SELECT ", cols!(), " FROM booking WHERE org_id = $1 AND channel = $2");
    db.all::<Booking>(sql, args![org_id, channel]).await
}
