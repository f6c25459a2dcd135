//! Rosters (排班): weekly templates, the clinic sessions they generate, and
//! each session's numbered slots (号源).

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::walk::{Step, Walk, walked};
use crate::{Db, On, Result, Tx, args, row};

/// Rows per multi-row statement (well under both databases' bind limits).
const BATCH: usize = 256;

/// One weekly roster row: a doctor sits this half-day every week.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Template {
    pub org_id: Uuid,
    pub id: Uuid,
    pub dept_id: Uuid,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: i64,
    pub half_day: String,
    pub clinic_type: String,
    /// Our own doctor; `None` for a visiting expert without an account here.
    pub doctor_id: Option<Uuid>,
    pub doctor_name: String,
    pub doctor_title: Option<String>,
    /// The visiting expert's home hospital (每周邀请…专家坐诊).
    pub visiting_from: Option<String>,
    pub room: Option<String>,
    /// `HH:MM` of the first slot.
    pub start_time: String,
    pub slot_minutes: i64,
    pub slot_count: i64,
    pub active: bool,
    pub created_by: String,
    pub created_at: i64,
}

crate::lite_row!(Template {
    org_id,
    id,
    dept_id,
    weekday,
    half_day,
    clinic_type,
    doctor_id,
    doctor_name,
    doctor_title,
    visiting_from,
    room,
    start_time,
    slot_minutes,
    slot_count,
    active,
    created_by,
    created_at
});

macro_rules! template_cols {
    () => {
        "org_id, id, dept_id, weekday, half_day, clinic_type, doctor_id, doctor_name, doctor_title, visiting_from, \
         room, start_time, slot_minutes, slot_count, active, created_by, created_at"
    };
}

pub async fn insert_template(tx: &mut Tx, t: &Template) -> Result<()> {
    let sql = concat!(
        "INSERT INTO roster_template (",
        template_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
    );
    tx.execute(
        sql,
        args![
            t.org_id,
            t.id,
            t.dept_id,
            t.weekday,
            &t.half_day,
            &t.clinic_type,
            t.doctor_id,
            &t.doctor_name,
            &t.doctor_title,
            &t.visiting_from,
            &t.room,
            &t.start_time,
            t.slot_minutes,
            t.slot_count,
            t.active,
            &t.created_by,
            t.created_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn templates(db: &Db, org_id: Uuid) -> Result<Vec<Template>> {
    let sql = concat!(
        "SELECT ",
        template_cols!(),
        " FROM roster_template WHERE org_id = $1 ORDER BY weekday, half_day, doctor_name"
    );
    db.all::<Template>(sql, args![org_id]).await
}

pub async fn set_template_active(tx: &mut Tx, org_id: Uuid, id: Uuid, active: bool) -> Result<u64> {
    let sql = "UPDATE roster_template SET active = $3 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, active]).await
}

/// One doctor's half-day in one department (出诊).
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Session {
    pub org_id: Uuid,
    pub id: Uuid,
    pub template_id: Option<Uuid>,
    pub dept_id: Uuid,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub half_day: String,
    pub clinic_type: String,
    pub doctor_id: Option<Uuid>,
    pub doctor_name: String,
    pub doctor_title: Option<String>,
    pub visiting_from: Option<String>,
    pub room: Option<String>,
    pub start_time: String,
    pub slot_minutes: i64,
    pub slot_count: i64,
    /// The registration fee, fixed when the session is created.
    pub fee_fen: i64,
    /// When its slots open for booking.
    pub release_at: i64,
    /// When the last slot ends.
    pub ends_at: i64,
    pub status: String,
    pub stop_reason: Option<String>,
    pub stopped_by: Option<String>,
    pub stopped_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

crate::lite_row!(Session {
    org_id,
    id,
    template_id,
    dept_id,
    day,
    half_day,
    clinic_type,
    doctor_id,
    doctor_name,
    doctor_title,
    visiting_from,
    room,
    start_time,
    slot_minutes,
    slot_count,
    fee_fen,
    release_at,
    ends_at,
    status,
    stop_reason,
    stopped_by,
    stopped_at,
    created_by,
    created_at
});

macro_rules! session_cols {
    () => {
        "org_id, id, template_id, dept_id, day, half_day, clinic_type, doctor_id, doctor_name, doctor_title, \
         visiting_from, room, start_time, slot_minutes, slot_count, fee_fen, release_at, ends_at, status, \
         stop_reason, stopped_by, stopped_at, created_by, created_at"
    };
}

/// Inserts a session with its slots (`starts` holds each slot's instant).
/// Returns false when the template already generated this day.
pub async fn insert_session(tx: &mut Tx, s: &Session, starts: &[i64]) -> Result<bool> {
    let sql = concat!(
        "INSERT INTO clinic_session (",
        session_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, \
         $22, $23, $24) ON CONFLICT DO NOTHING"
    );
    let n = tx
        .execute(
            sql,
            args![
                s.org_id,
                s.id,
                s.template_id,
                s.dept_id,
                &s.day,
                &s.half_day,
                &s.clinic_type,
                s.doctor_id,
                &s.doctor_name,
                &s.doctor_title,
                &s.visiting_from,
                &s.room,
                &s.start_time,
                s.slot_minutes,
                s.slot_count,
                s.fee_fen,
                s.release_at,
                s.ends_at,
                &s.status,
                &s.stop_reason,
                &s.stopped_by,
                s.stopped_at,
                &s.created_by,
                s.created_at
            ],
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    for (base, chunk) in starts.chunks(500).enumerate() {
        let mut q = Sql::new("INSERT INTO slot (org_id, session_id, seq, starts_at, added, booking_id) ");
        q.values(chunk.iter().enumerate(), |(i, at)| {
            row![s.org_id, s.id, (base * 500 + i + 1) as i64, *at, false, None::<Uuid>]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(true)
}

pub async fn get_session<'a>(on: impl Into<On<'a>>, org_id: Uuid, id: Uuid) -> Result<Option<Session>> {
    let sql = concat!("SELECT ", session_cols!(), " FROM clinic_session WHERE org_id = $1 AND id = $2");
    On::of(on).optional::<Session>(sql, args![org_id, id]).await
}

/// Sessions on days `[from, to]`, optionally of one department, in day and time order.
pub async fn sessions(db: &Db, org_id: Uuid, from: &str, to: &str, dept_id: Option<Uuid>) -> Result<Vec<Session>> {
    let sql = concat!(
        "SELECT ",
        session_cols!(),
        " FROM clinic_session WHERE org_id = $1 AND day >= $2 AND day <= $3 AND ($4 IS NULL OR dept_id = $4) \
         ORDER BY day, start_time, doctor_name"
    );
    db.all::<Session>(sql, args![org_id, from, to, dept_id]).await
}

/// Free slots per session (`session_id`, free, total).
pub async fn availability(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<(Uuid, i64, i64)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(
        "SELECT session_id, SUM(CASE WHEN booking_id IS NULL THEN 1 ELSE 0 END), COUNT(*) FROM slot WHERE org_id = ",
    );
    q.arg(org_id).push(" AND session_id IN (");
    q.list(ids.iter().copied());
    q.push(") GROUP BY session_id");
    db.all::<(Uuid, i64, i64)>(&q.text, &q.args).await
}

/// A slot of a session.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Slot {
    pub org_id: Uuid,
    pub session_id: Uuid,
    pub seq: i64,
    pub starts_at: i64,
    /// Added by the doctor beyond the roster (加号).
    pub added: bool,
    pub booking_id: Option<Uuid>,
}

crate::lite_row!(Slot { org_id, session_id, seq, starts_at, added, booking_id });

macro_rules! slot_cols {
    () => {
        "org_id, session_id, seq, starts_at, added, booking_id"
    };
}

pub async fn slots(db: &Db, org_id: Uuid, session_id: Uuid) -> Result<Vec<Slot>> {
    let sql = concat!("SELECT ", slot_cols!(), " FROM slot WHERE org_id = $1 AND session_id = $2 ORDER BY seq");
    db.all::<Slot>(sql, args![org_id, session_id]).await
}

/// When a slot starts, if it exists.
/// What the booking desk needs of a session.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Bookable {
    pub id: Uuid,
    pub dept_id: Uuid,
    pub day: String,
    pub fee_fen: i64,
    pub release_at: i64,
    pub ends_at: i64,
    pub status: String,
}

crate::lite_row!(Bookable { id, dept_id, day, fee_fen, release_at, ends_at, status });

/// The sessions among `ids` (the booking desk reads a batch's at once).
pub async fn bookable_in(tx: &mut Tx, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Bookable>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q =
        Sql::new("SELECT id, dept_id, day, fee_fen, release_at, ends_at, status FROM clinic_session WHERE org_id = ");
    q.arg(org_id).push(" AND id IN (");
    q.list(ids.iter().copied());
    q.push(")");
    tx.all::<Bookable>(&q.text, &q.args).await
}

/// For each (session, k, after): its first `k` free slots starting after
/// `after`, as (session, seq, starts_at) in seq order. A batch reads only the
/// slots it can use, not whole sessions.
pub async fn free_slots(tx: &mut Tx, org_id: Uuid, wants: &[(Uuid, i64, i64)]) -> Result<Vec<(Uuid, i64, i64)>> {
    let mut out = vec![];
    for chunk in wants.chunks(BATCH) {
        out.extend({
            let mut q = Sql::new(
                "SELECT session_id, seq, starts_at FROM (SELECT s.session_id, s.seq, s.starts_at, v.column2 AS k, \
                 ROW_NUMBER() OVER (PARTITION BY s.session_id ORDER BY s.seq) AS rn FROM (",
            );
            q.values(chunk, |(session, k, after)| row![*session, *k, *after]);
            // CROSS JOIN keeps SQLite from scanning every slot of the organisation.
            q.push(") AS v CROSS JOIN slot s WHERE s.org_id = ").arg(org_id).push(
                " AND s.session_id = v.column1 AND s.booking_id IS NULL AND s.starts_at > v.column3) AS x \
                 WHERE rn <= k ORDER BY session_id, seq",
            );
            tx.all::<(Uuid, i64, i64)>(&q.text, &q.args).await
        }?);
    }
    Ok(out)
}

/// One slot, free or not.
pub async fn slot_at(tx: &mut Tx, org_id: Uuid, session_id: Uuid, seq: i64) -> Result<Option<Slot>> {
    let sql = concat!("SELECT ", slot_cols!(), " FROM slot WHERE org_id = $1 AND session_id = $2 AND seq = $3");
    tx.optional::<Slot>(sql, args![org_id, session_id, seq]).await
}

/// Takes each (session, seq) slot for its booking, only where still free.
/// Returns how many were taken: fewer than asked means another writer got
/// there first and the caller must not commit.
pub async fn claim_many(tx: &mut Tx, org_id: Uuid, claims: &[(Uuid, i64, Uuid)]) -> Result<u64> {
    let mut n = 0;
    // Not UPDATE … FROM: SQLite would scan every slot of the organisation.
    for chunk in claims.chunks(BATCH) {
        n += {
            let mut q = Sql::new("WITH v (session_id, seq, booking_id) AS (");
            q.values(chunk, |(session, seq, booking)| row![*session, *seq, *booking]);
            q.push(
                ") UPDATE slot SET booking_id = (SELECT v.booking_id FROM v WHERE v.session_id = slot.session_id \
                 AND v.seq = slot.seq) WHERE org_id = ",
            )
            .arg(org_id)
            .push(" AND booking_id IS NULL AND (session_id, seq) IN (SELECT session_id, seq FROM v)");
            tx.execute(&q.text, &q.args).await
        }?;
    }
    Ok(n)
}

/// Gives a booking's slot back (cancellation).
pub async fn release(tx: &mut Tx, org_id: Uuid, session_id: Uuid, booking_id: Uuid) -> Result<u64> {
    let sql = "UPDATE slot SET booking_id = NULL WHERE org_id = $1 AND session_id = $2 AND booking_id = $3";
    tx.execute(sql, args![org_id, session_id, booking_id]).await
}

/// Adds one slot at the end of the session (加号) and returns its number.
pub async fn add_slot(tx: &mut Tx, org_id: Uuid, session_id: Uuid, starts_at: i64) -> Result<i64> {
    let sql = "INSERT INTO slot (org_id, session_id, seq, starts_at, added, booking_id) \
               SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, NULL FROM slot WHERE org_id = $1 AND session_id = $2 \
               RETURNING seq";
    tx.scalar::<i64>(sql, args![org_id, session_id, starts_at, true]).await
}

/// Marks a session stopped; false when it was stopped already.
pub async fn stop_session(tx: &mut Tx, org_id: Uuid, id: Uuid, reason: &str, by: &str, now: i64) -> Result<bool> {
    let sql = "UPDATE clinic_session SET status = 'stopped', stop_reason = $3, stopped_by = $4, stopped_at = $5 \
               WHERE org_id = $1 AND id = $2 AND status = 'open'";
    let n = tx.execute(sql, args![org_id, id, reason, by, now]).await?;
    Ok(n == 1)
}

/// One consulting room as a department's roster names it, and whether it is
/// still in use (an active weekly row, or a session on `today` or later).
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct RoomUse {
    pub dept_id: Uuid,
    pub room: String,
    pub live: i64,
}

crate::lite_row!(RoomUse { dept_id, room, live });

/// Every room the templates and sessions name, per department, by name.
/// Rooms are free text on those rows; this is the one place that gathers them.
pub async fn rooms(db: &Db, org_id: Uuid, today: &str) -> Result<Vec<RoomUse>> {
    let sql = "SELECT dept_id, room, CAST(MAX(live) AS BIGINT) AS live FROM ( \
                 SELECT dept_id, TRIM(room) AS room, CASE WHEN active THEN 1 ELSE 0 END AS live \
                   FROM roster_template WHERE org_id = $1 AND room IS NOT NULL \
                 UNION ALL \
                 SELECT dept_id, TRIM(room) AS room, CASE WHEN day >= $2 THEN 1 ELSE 0 END AS live \
                   FROM clinic_session WHERE org_id = $1 AND room IS NOT NULL \
               ) r WHERE room <> '' GROUP BY dept_id, room ORDER BY dept_id, room";
    db.all::<RoomUse>(sql, args![org_id, today]).await
}

macro_rules! session_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM clinic_session WHERE org_id = ").arg($org);
    };
}

/// Every session in id order, a page at a time.
pub async fn walk_sessions(db: &Db, org_id: Uuid, step: &Step) -> Result<Walk<Session>> {
    walked!(db, org_id, (), step, session_where, session_cols, "id", Session)
}

macro_rules! slot_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM slot WHERE org_id = ").arg($org);
    };
}

/// Every slot in (session, number) order, a page at a time.
pub async fn walk_slots(db: &Db, org_id: Uuid, step: &Step) -> Result<Walk<Slot>> {
    walked!(db, org_id, (), step, slot_where, slot_cols, "session_id, seq", Slot)
}
