//! Queue entries (one per checked-in registration) and doctors' call
//! panels. The call order is not stored: it is computed from
//! these rows each time, so a restart cannot reorder anyone.

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::{Db, On, Result, Tx, args, row};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Entry {
    pub org_id: Uuid,
    pub booking_id: Uuid,
    /// The clinic session whose queue the patient is in (changes on transfer).
    pub session_id: Uuid,
    pub patient_id: Uuid,
    pub day: String,
    /// Queue number (号序) from the registration.
    pub seq: i64,
    pub appointment: bool,
    pub checked_in_at: i64,
    pub late: bool,
    pub recalled: bool,
    /// The queue's call count when a late or returning patient became due.
    pub mark: i64,
    /// Priority rank, lower first; `None` for everyone else.
    pub priority: Option<i64>,
    pub priority_group: Option<String>,
    pub status: String,
    pub calls: i64,
    pub called_by: Option<String>,
    pub called_at: Option<i64>,
    pub updated_at: i64,
}

crate::lite_row!(Entry {
    org_id,
    booking_id,
    session_id,
    patient_id,
    day,
    seq,
    appointment,
    checked_in_at,
    late,
    recalled,
    mark,
    priority,
    priority_group,
    status,
    calls,
    called_by,
    called_at,
    updated_at
});

/// An entry with the patient's name, for boards and panels.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Named {
    #[sqlx(flatten)]
    pub entry: Entry,
    pub name: String,
}

crate::lite_row!(Named { name } flatten { entry });

macro_rules! cols {
    ($p:literal) => {
        concat!(
            $p,
            "org_id, ",
            $p,
            "booking_id, ",
            $p,
            "session_id, ",
            $p,
            "patient_id, ",
            $p,
            "day, ",
            $p,
            "seq, ",
            $p,
            "appointment, ",
            $p,
            "checked_in_at, ",
            $p,
            "late, ",
            $p,
            "recalled, ",
            $p,
            "mark, ",
            $p,
            "priority, ",
            $p,
            "priority_group, ",
            $p,
            "status, ",
            $p,
            "calls, ",
            $p,
            "called_by, ",
            $p,
            "called_at, ",
            $p,
            "updated_at"
        )
    };
}

/// Adds entries; one already there (a second check-in) is left as it is.
pub async fn insert(tx: &mut Tx, rows: &[Entry]) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut q = Sql::new(concat!("INSERT INTO queue_entry (", cols!(""), ") "));
    q.values(rows, |r| {
        row![
            r.org_id,
            r.booking_id,
            r.session_id,
            r.patient_id,
            r.day.clone(),
            r.seq,
            r.appointment,
            r.checked_in_at,
            r.late,
            r.recalled,
            r.mark,
            r.priority,
            r.priority_group.clone(),
            r.status.clone(),
            r.calls,
            r.called_by.clone(),
            r.called_at,
            r.updated_at
        ]
    });
    q.push(" ON CONFLICT (org_id, booking_id) DO NOTHING");
    tx.execute(&q.text, &q.args).await
}

pub async fn get<'a>(on: impl Into<On<'a>>, org_id: Uuid, booking_id: Uuid) -> Result<Option<Entry>> {
    let sql = concat!("SELECT ", cols!(""), " FROM queue_entry WHERE org_id = $1 AND booking_id = $2");
    On::of(on).optional::<Entry>(sql, args![org_id, booking_id]).await
}

/// A patient's entries of one day.
pub async fn of_patient(db: &Db, org_id: Uuid, patient_id: Uuid, day: &str) -> Result<Vec<Entry>> {
    let sql = concat!(
        "SELECT ",
        cols!(""),
        " FROM queue_entry WHERE org_id = $1 AND patient_id = $2 AND day = $3 ORDER BY checked_in_at"
    );
    db.all::<Entry>(sql, args![org_id, patient_id, day]).await
}

// The key list first, so SQLite walks the session index per key.
macro_rules! live_query {
    ($org_id:expr, $sessions:expr) => {{
        let mut q = Sql::new("WITH v (sid) AS (");
        q.values($sessions, |s| row![s]);
        q.push(concat!(
            ") SELECT ",
            cols!("e."),
            ", p.name FROM v CROSS JOIN queue_entry e JOIN patient p ON p.org_id = e.org_id AND p.id = e.patient_id \
             WHERE e.session_id = v.sid AND e.status IN ('waiting', 'called', 'passed', 'testing') AND e.org_id = "
        ));
        q.arg($org_id);
        q
    }};
}

/// Everyone still in the given queues (not finished or diverted), with names.
pub async fn live<'a>(on: impl Into<On<'a>>, org_id: Uuid, sessions: &[Uuid]) -> Result<Vec<Named>> {
    if sessions.is_empty() {
        return Ok(vec![]);
    }
    let q = live_query!(org_id, sessions);
    On::of(on).all(&q.text, &q.args).await
}

/// What an action changes on an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub session_id: Uuid,
    pub status: String,
    pub recalled: bool,
    pub mark: i64,
    pub calls: i64,
    pub called_by: Option<String>,
    pub called_at: Option<i64>,
    pub priority: Option<i64>,
    pub priority_group: Option<String>,
    pub updated_at: i64,
}

/// Applies `c` only if the entry is still in `from` status and unchanged since
/// `seen` (its `updated_at`): two doctors acting on one patient cannot both win.
pub async fn update(tx: &mut Tx, org_id: Uuid, booking_id: Uuid, from: &str, seen: i64, c: &Change) -> Result<bool> {
    let sql = "UPDATE queue_entry SET session_id = $5, status = $6, recalled = $7, calls = $8, called_by = $9, \
               called_at = $10, priority = $11, priority_group = $12, updated_at = $13, mark = $14 \
               WHERE org_id = $1 AND booking_id = $2 AND status = $3 AND updated_at = $4";
    let n = tx
        .execute(
            sql,
            args![
                org_id,
                booking_id,
                from,
                seen,
                c.session_id,
                &c.status,
                c.recalled,
                c.calls,
                &c.called_by,
                c.called_at,
                c.priority,
                &c.priority_group,
                c.updated_at,
                c.mark
            ],
        )
        .await?;
    Ok(n == 1)
}

// The key list first, as in `live_query`.
macro_rules! counters_query {
    ($org_id:expr, $sessions:expr) => {{
        let mut q = Sql::new("WITH v (sid) AS (");
        q.values($sessions, |s| row![s]);
        q.push(") SELECT c.session_id, c.calls FROM v CROSS JOIN queue_counter c WHERE c.session_id = v.sid AND c.org_id = ");
        q.arg($org_id);
        q
    }};
}

/// Calls made so far in each of these queues (a queue never called is absent).
pub async fn counters<'a>(on: impl Into<On<'a>>, org_id: Uuid, sessions: &[Uuid]) -> Result<Vec<(Uuid, i64)>> {
    if sessions.is_empty() {
        return Ok(vec![]);
    }
    let q = counters_query!(org_id, sessions);
    On::of(on).all(&q.text, &q.args).await
}

/// Takes these queues for one caller until the transaction ends: their
/// counter rows are written (created if new), which holds them on
/// PostgreSQL; SQLite's single writer holds everything anyway. Callers of
/// overlapping queues lock in the same (sorted) order.
pub async fn lock(tx: &mut Tx, org_id: Uuid, sessions: &[Uuid]) -> Result<()> {
    let mut ids = sessions.to_vec();
    ids.sort();
    for id in ids {
        let sql = "INSERT INTO queue_counter (org_id, session_id, calls) VALUES ($1, $2, 0) \
                   ON CONFLICT (org_id, session_id) DO UPDATE SET calls = queue_counter.calls";
        tx.execute(sql, args![org_id, id]).await?;
    }
    Ok(())
}

/// Counts one call in a queue.
pub async fn count_call(tx: &mut Tx, org_id: Uuid, session_id: Uuid) -> Result<()> {
    let sql = "INSERT INTO queue_counter (org_id, session_id, calls) VALUES ($1, $2, 1) \
               ON CONFLICT (org_id, session_id) DO UPDATE SET calls = queue_counter.calls + 1";
    tx.execute(sql, args![org_id, session_id]).await?;
    Ok(())
}

/// A doctor's call panel for a day: the queues they call from (交叉叫号 when
/// more than one), whether calling is paused, and where the last call came from.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Panel {
    pub org_id: Uuid,
    pub username: String,
    pub day: String,
    /// Session ids, comma-separated, in the doctor's order.
    pub sessions: String,
    pub paused: bool,
    pub last_session: Option<Uuid>,
    pub updated_at: i64,
}

crate::lite_row!(Panel { org_id, username, day, sessions, paused, last_session, updated_at });

impl Panel {
    pub fn session_ids(&self) -> Vec<Uuid> {
        self.sessions.split(',').filter_map(|s| Uuid::parse_str(s).ok()).collect()
    }
}

pub async fn panel(db: &Db, org_id: Uuid, username: &str, day: &str) -> Result<Option<Panel>> {
    let sql = "SELECT org_id, username, day, sessions, paused, last_session, updated_at FROM queue_panel \
               WHERE org_id = $1 AND username = $2 AND day = $3";
    db.optional::<Panel>(sql, args![org_id, username, day]).await
}

pub async fn save_panel(tx: &mut Tx, p: &Panel) -> Result<()> {
    let sql = "INSERT INTO queue_panel (org_id, username, day, sessions, paused, last_session, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, username, day) DO UPDATE SET \
               sessions = excluded.sessions, paused = excluded.paused, last_session = excluded.last_session, \
               updated_at = excluded.updated_at";
    tx.execute(sql, args![p.org_id, &p.username, &p.day, &p.sessions, p.paused, p.last_session, p.updated_at]).await?;
    Ok(())
}

/// Panels of a day that are paused, for the screens.
pub async fn paused_panels(db: &Db, org_id: Uuid, day: &str) -> Result<Vec<Panel>> {
    let sql = "SELECT org_id, username, day, sessions, paused, last_session, updated_at FROM queue_panel \
               WHERE org_id = $1 AND day = $2 AND paused = $3";
    db.all::<Panel>(sql, args![org_id, day, true]).await
}
