//! Queue calling (叫号): patients enter their session's queue at check-in;
//! doctors call, call again, pass, send to tests, finish, transfer and pause
//! from their panel; every change is audited, committed, and its new board
//! published to the screens, panels and phones watching. The order itself
//! comes from `dayi_core::queue` over the stored rows, so it survives a
//! restart unchanged.

pub mod board;
pub mod config;
pub mod hub;

use dayi_core::audit::OK;
use dayi_core::queue::{self as q, Action, PriorityGroup, Status};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Tx;
use dayi_store::booking::Booking;
use dayi_store::queue::{Change, Entry, Named, Panel};
use serde::Serialize;
use uuid::Uuid;

pub use board::{Announce, Board, Line};
pub use hub::{Hub, Published};

use crate::{Actor, App, OrInternal};

/// Puts checked-in registrations into their sessions' queues (inside the
/// check-in's transaction). Late arrivals and the elderly are marked here.
pub async fn enter(
    tx: &mut Tx,
    app: &App,
    org_id: Uuid,
    age: i32,
    bookings: &[Booking],
    now: i64,
) -> Result<(), DomainError> {
    let prio = config::priority(app, org_id).await?;
    let elderly = (age >= prio.elderly_age).then_some(PriorityGroup::Elderly);
    let mut rows = vec![];
    for b in bookings {
        let rules = config::dept_rules(app, org_id, b.dept_id).await?;
        let appointment = b.channel != dayi_core::booking::BookingChannel::WalkIn.code();
        rows.push(Entry {
            org_id,
            booking_id: b.id,
            session_id: b.session_id,
            patient_id: b.patient_id,
            day: b.day.clone(),
            seq: b.seq,
            appointment,
            checked_in_at: now,
            late: q::is_late(appointment, b.slot_start, now, rules.late_grace_minutes),
            recalled: false,
            priority: elderly.and_then(|g| prio.rank(g)).map(i64::from),
            priority_group: elderly.map(|g| g.code().to_string()),
            status: Status::Waiting.code().into(),
            calls: 0,
            called_by: None,
            called_at: None,
            updated_at: now,
        });
    }
    dayi_store::queue::insert(tx, &rows).await.or_internal()?;
    Ok(())
}

/// A patient who was passed, sent to tests or diverted checks back in: they
/// wait again and the recall rule places them. Returns the entries moved.
pub async fn back(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<Entry>, DomainError> {
    actor.require(app, Perm::CheckIn).await?;
    let day = today_cst().to_string();
    let mine = dayi_store::queue::of_patient(&app.db, actor.org_id, patient_id, &day).await.or_internal()?;
    let away: Vec<Entry> = mine.into_iter().filter(|e| Status::parse(&e.status).is_some_and(|s| s.is_away())).collect();
    if away.is_empty() {
        return Ok(vec![]);
    }
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    let mut moved = vec![];
    let mut audit = vec![];
    for e in away {
        let next = q::step(entry_of(&e), Action::Return).map_err(DomainError::new)?;
        let c = Change {
            status: next.status.code().into(),
            recalled: next.recalled,
            calls: 0,
            updated_at: now,
            ..change_of(&e)
        };
        if dayi_store::queue::update(&mut tx, actor.org_id, e.booking_id, &e.status, e.updated_at, &c)
            .await
            .or_internal()?
        {
            audit.push(actor.entry(
                "queue.return",
                "queue_entry",
                &e.booking_id.to_string(),
                Some(e.patient_id),
                OK,
                &e.status,
            ));
            moved.push(Entry { status: c.status.clone(), recalled: true, calls: 0, updated_at: now, ..e });
        }
    }
    dayi_store::audit::append(&mut tx, actor.org_id, audit).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let sessions: Vec<Uuid> = moved.iter().map(|e| e.session_id).collect();
    publish(app, actor.org_id, &sessions, None, now).await;
    Ok(moved)
}

fn entry_of(e: &Entry) -> q::Entry {
    q::Entry {
        status: Status::parse(&e.status).unwrap_or(Status::Waiting),
        recalled: e.recalled,
        calls: e.calls.clamp(0, i64::from(u32::MAX)) as u32,
    }
}

fn change_of(e: &Entry) -> Change {
    Change {
        session_id: e.session_id,
        status: e.status.clone(),
        recalled: e.recalled,
        calls: e.calls,
        called_by: e.called_by.clone(),
        called_at: e.called_at,
        priority: e.priority,
        priority_group: e.priority_group.clone(),
        updated_at: e.updated_at,
    }
}

/// Publishes the current boards of these sessions; the announcement goes
/// with the board of the session it belongs to. A failure to read is logged:
/// the change is committed and screens catch up on their next event.
pub async fn publish(app: &App, org_id: Uuid, sessions: &[Uuid], announce: Option<(Uuid, Announce)>, at: i64) {
    let mut ids = sessions.to_vec();
    ids.sort();
    ids.dedup();
    match board::boards_by_id(app, org_id, &ids).await {
        Ok(boards) => {
            for mut b in boards {
                b.at = at;
                if let Some((sid, a)) = &announce
                    && *sid == b.session_id
                {
                    b.announce = Some(a.clone());
                }
                app.queue.publish(b);
            }
        }
        Err(e) => tracing::warn!(error = %e, "queue board not published"),
    }
}

/// A patient as the doctor's panel shows them (full name: the doctor treats them).
#[derive(Debug, Clone, Serialize)]
pub struct PanelLine {
    pub booking_id: Uuid,
    pub session_id: Uuid,
    pub patient_id: Uuid,
    pub seq: i64,
    pub name: String,
    pub status: Status,
    pub status_name: &'static str,
    pub tag: Option<&'static str>,
    pub room: String,
    pub checked_in: String,
    pub late: bool,
    pub calls: i64,
}

/// A session the doctor may call from.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub id: Uuid,
    pub label: String,
    pub chosen: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PanelView {
    pub choices: Vec<Choice>,
    pub paused: bool,
    pub calling: Vec<PanelLine>,
    /// Waiting, in call order across the chosen queues.
    pub waiting: Vec<PanelLine>,
    pub away: Vec<PanelLine>,
}

/// What a call did.
#[derive(Debug, Clone, Serialize)]
pub struct Called {
    pub line: PanelLine,
    pub announce: String,
}

fn today() -> String {
    today_cst().to_string()
}

/// The doctor's panel for today; by default the sessions they are rostered on.
async fn load_panel(app: &App, actor: &Actor) -> Result<Panel, DomainError> {
    let day = today();
    if let Some(p) = dayi_store::queue::panel(&app.db, actor.org_id, &actor.username, &day).await.or_internal()? {
        return Ok(p);
    }
    let mine = board::today_sessions(app, actor.org_id, &[]).await?;
    let ids: Vec<String> =
        mine.iter().filter(|s| s.doctor_id == Some(actor.staff_id)).map(|s| s.id.to_string()).collect();
    Ok(Panel {
        org_id: actor.org_id,
        username: actor.username.clone(),
        day,
        sessions: ids.join(","),
        paused: false,
        last_session: None,
        updated_at: 0,
    })
}

/// The doctor's panel: their queues, who is with them, who waits, who is away.
pub async fn panel(app: &App, actor: &Actor) -> Result<PanelView, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    let p = load_panel(app, actor).await?;
    let chosen = p.session_ids();
    let sessions = board::today_sessions(app, actor.org_id, &[]).await?;
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    let choices = sessions
        .iter()
        .filter(|s| s.status != "stopped")
        .map(|s| {
            let dept = depts.iter().find(|d| d.id == s.dept_id).map(|d| d.name.as_str()).unwrap_or("");
            let half = dayi_core::booking::HalfDay::parse(&s.half_day).map(|h| h.zh()).unwrap_or("");
            Choice {
                id: s.id,
                label: format!("{dept} · {} · {} · {half}", board::room_of(s), s.doctor_name),
                chosen: chosen.contains(&s.id),
            }
        })
        .collect();
    let live = dayi_store::queue::live(&app.db, actor.org_id, &chosen).await.or_internal()?;
    let rooms: std::collections::HashMap<Uuid, String> = sessions.iter().map(|s| (s.id, board::room_of(s))).collect();
    let to_line = |n: &Named| panel_line(n, rooms.get(&n.entry.session_id).cloned().unwrap_or_default());
    let mut waiting = vec![];
    for sid in &chosen {
        let Some(s) = sessions.iter().find(|s| s.id == *sid) else { continue };
        let rules = config::dept_rules(app, actor.org_id, s.dept_id).await?;
        let mine: Vec<&Named> = live.iter().filter(|n| n.entry.session_id == *sid).collect();
        for id in board::call_order(&mine, &rules) {
            if let Some(n) = mine.iter().find(|n| n.entry.booking_id == id) {
                waiting.push(to_line(n));
            }
        }
    }
    let of = |f: &dyn Fn(Status) -> bool| {
        live.iter().filter(|n| Status::parse(&n.entry.status).is_some_and(f)).map(to_line).collect()
    };
    app.audit
        .record(actor.entry(
            "queue.panel",
            "queue_panel",
            &actor.username,
            None,
            OK,
            &format!("{} waiting", waiting.len()),
        ))
        .await;
    Ok(PanelView {
        choices,
        paused: p.paused,
        calling: live
            .iter()
            .filter(|n| {
                n.entry.status == Status::Called.code() && n.entry.called_by.as_deref() == Some(&actor.username)
            })
            .map(to_line)
            .collect(),
        waiting,
        away: of(&|s| s.is_away()),
    })
}

fn panel_line(n: &Named, room: String) -> PanelLine {
    let status = Status::parse(&n.entry.status).unwrap_or(Status::Waiting);
    let tag = n.entry.priority_group.as_deref().and_then(PriorityGroup::parse).map(|g| g.zh());
    PanelLine {
        booking_id: n.entry.booking_id,
        session_id: n.entry.session_id,
        patient_id: n.entry.patient_id,
        seq: n.entry.seq,
        name: n.name.clone(),
        status,
        status_name: status.zh(),
        tag: tag.or(n.entry.recalled.then_some("复诊")),
        room,
        checked_in: crate::booking::hm(n.entry.checked_in_at),
        late: n.entry.late,
        calls: n.entry.calls,
    }
}

/// Chooses the queues the doctor calls from (one, or several for 交叉叫号).
pub async fn choose(app: &App, actor: &Actor, sessions: &[Uuid]) -> Result<PanelView, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    if sessions.is_empty() {
        return Err(DomainError::field("sessions", ErrorCode::QueueNoneChosen, [""; 0]));
    }
    let today_ids: Vec<Uuid> = board::today_sessions(app, actor.org_id, &[]).await?.iter().map(|s| s.id).collect();
    if let Some(bad) = sessions.iter().find(|s| !today_ids.contains(s)) {
        return Err(DomainError::field("sessions", ErrorCode::NotFound, [""; 0]).and_field(
            "sessions",
            ErrorCode::InvalidFormat,
            [bad.to_string()],
        ));
    }
    let mut p = load_panel(app, actor).await?;
    let old = p.session_ids();
    p.sessions = sessions.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",");
    p.updated_at = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::queue::save_panel(&mut tx, &p).await.or_internal()?;
    let entry = actor.entry("queue.choose", "queue_panel", &actor.username, None, OK, &p.sessions);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    if p.paused {
        publish(app, actor.org_id, &[old, sessions.to_vec()].concat(), None, p.updated_at).await;
    }
    panel(app, actor).await
}

/// Pauses or resumes the doctor's calling; the screens show it.
pub async fn pause(app: &App, actor: &Actor, paused: bool) -> Result<PanelView, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    let mut p = load_panel(app, actor).await?;
    p.paused = paused;
    p.updated_at = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::queue::save_panel(&mut tx, &p).await.or_internal()?;
    let action = if paused { "queue.pause" } else { "queue.resume" };
    dayi_store::audit::append(
        &mut tx,
        actor.org_id,
        vec![actor.entry(action, "queue_panel", &actor.username, None, OK, &p.sessions)],
    )
    .await
    .or_internal()?;
    tx.commit().await.or_internal()?;
    publish(app, actor.org_id, &p.session_ids(), None, p.updated_at).await;
    panel(app, actor).await
}

/// How many times a call retries when another doctor changed the queue
/// between its read and its write (PostgreSQL; SQLite serialises writers).
const RACE_RETRIES: usize = 3;

/// Calls the next patient across the doctor's queues (叫下一位). The patient
/// the doctor was seeing is finished first.
pub async fn call_next(app: &App, actor: &Actor) -> Result<Called, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    let at = now_micros();
    for _ in 0..RACE_RETRIES {
        let p = load_panel(app, actor).await?;
        let sessions = p.session_ids();
        if sessions.is_empty() {
            return Err(DomainError::new(ErrorCode::QueueNoneChosen));
        }
        if p.paused {
            return Err(DomainError::new(ErrorCode::QueuePaused));
        }
        let mut tx = app.db.begin().await.or_internal()?;
        let live = dayi_store::queue::live_tx(&mut tx, actor.org_id, &sessions).await.or_internal()?;
        let mut heads = vec![];
        for sid in &sessions {
            let Some(s) = dayi_store::roster::get_session_tx(&mut tx, actor.org_id, *sid).await.or_internal()? else {
                heads.push(None);
                continue;
            };
            let rules = config::dept_rules(app, actor.org_id, s.dept_id).await?;
            let mine: Vec<&Named> = live.iter().filter(|n| n.entry.session_id == *sid).collect();
            heads.push(
                board::call_order(&mine, &rules)
                    .first()
                    .and_then(|id| mine.iter().find(|n| n.entry.booking_id == *id).copied()),
            );
        }
        let last = p.last_session.and_then(|l| sessions.iter().position(|s| *s == l));
        let pick = q::pick(
            &heads.iter().map(|h| h.map(|n| n.entry.priority.map(|r| r.clamp(0, 255) as u8))).collect::<Vec<_>>(),
            last,
        );
        let Some(i) = pick else {
            return Err(DomainError::new(ErrorCode::QueueEmpty));
        };
        let Some(next) = heads[i] else { return Err(DomainError::new(ErrorCode::QueueEmpty)) };
        let mut audit = vec![];
        // The patient this doctor was seeing is done.
        let mut touched = vec![next.entry.session_id];
        for cur in live.iter().filter(|n| {
            n.entry.status == Status::Called.code() && n.entry.called_by.as_deref() == Some(&actor.username)
        }) {
            let c = Change { status: Status::Done.code().into(), updated_at: at, ..change_of(&cur.entry) };
            if dayi_store::queue::update(
                &mut tx,
                actor.org_id,
                cur.entry.booking_id,
                Status::Called.code(),
                cur.entry.updated_at,
                &c,
            )
            .await
            .or_internal()?
            {
                audit.push(actor.entry(
                    "queue.finish",
                    "queue_entry",
                    &cur.entry.booking_id.to_string(),
                    Some(cur.entry.patient_id),
                    OK,
                    "叫下一位",
                ));
                touched.push(cur.entry.session_id);
            }
        }
        let Some(called) = apply_call(&mut tx, actor, next, at).await? else {
            continue;
        };
        audit.push(actor.entry(
            "queue.call",
            "queue_entry",
            &next.entry.booking_id.to_string(),
            Some(next.entry.patient_id),
            OK,
            &format!("{} 号", next.entry.seq),
        ));
        let p = Panel { last_session: Some(next.entry.session_id), updated_at: at, ..p };
        dayi_store::queue::save_panel(&mut tx, &p).await.or_internal()?;
        dayi_store::audit::append(&mut tx, actor.org_id, audit).await.or_internal()?;
        tx.commit().await.or_internal()?;
        return announce(app, actor, &called, touched, at).await;
    }
    Err(DomainError::new(ErrorCode::Conflict))
}

/// Marks `n` called by the actor if nobody changed it meanwhile.
async fn apply_call(tx: &mut Tx, actor: &Actor, n: &Named, at: i64) -> Result<Option<Named>, DomainError> {
    let next = q::step(entry_of(&n.entry), Action::Call).map_err(|c| refusal(c, &n.entry))?;
    let c = Change {
        status: next.status.code().into(),
        calls: i64::from(next.calls),
        called_by: Some(actor.username.clone()),
        called_at: Some(at),
        updated_at: at,
        ..change_of(&n.entry)
    };
    if !dayi_store::queue::update(tx, actor.org_id, n.entry.booking_id, &n.entry.status, n.entry.updated_at, &c)
        .await
        .or_internal()?
    {
        return Ok(None);
    }
    let mut out = n.clone();
    out.entry = Entry {
        status: c.status,
        calls: c.calls,
        called_by: c.called_by,
        called_at: c.called_at,
        updated_at: at,
        ..n.entry.clone()
    };
    Ok(Some(out))
}

/// A refusal from the state machine, with the entry's status or caller named.
fn refusal(code: ErrorCode, e: &Entry) -> DomainError {
    let status = Status::parse(&e.status).map(|s| s.zh()).unwrap_or("");
    match code {
        ErrorCode::QueueTaken => DomainError::with(code, [e.called_by.clone().unwrap_or_default()]),
        ErrorCode::QueueNotWaiting | ErrorCode::QueueNotCalled | ErrorCode::QueueNotAway => {
            DomainError::with(code, [status])
        }
        _ => DomainError::new(code),
    }
}

/// Publishes the boards and builds the announcement of a call.
async fn announce(
    app: &App,
    actor: &Actor,
    called: &Named,
    touched: Vec<Uuid>,
    at: i64,
) -> Result<Called, DomainError> {
    let s = dayi_store::roster::get_session(&app.db, actor.org_id, called.entry.session_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    let room = board::room_of(&s);
    let voice = config::voice(app, actor.org_id).await?;
    let text = voice.text(called.entry.seq, &dayi_core::mask::name(&called.name), &room);
    let a = Announce { text: text.clone(), repeat: voice.repeat, rate: voice.rate };
    publish(app, actor.org_id, &touched, Some((called.entry.session_id, a)), at).await;
    Ok(Called { line: panel_line(called, room), announce: text })
}

async fn named(app: &App, actor: &Actor, booking_id: Uuid) -> Result<Named, DomainError> {
    let e = dayi_store::queue::get(&app.db, actor.org_id, booking_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    let name = dayi_store::patient::get(&app.db, actor.org_id, e.patient_id)
        .await
        .or_internal()?
        .map(|p| p.name)
        .unwrap_or_default();
    Ok(Named { entry: e, name })
}

/// Calls a chosen waiting patient (选择叫号).
pub async fn call(app: &App, actor: &Actor, booking_id: Uuid) -> Result<Called, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    let at = now_micros();
    let p = load_panel(app, actor).await?;
    if p.paused {
        return Err(DomainError::new(ErrorCode::QueuePaused));
    }
    let n = named(app, actor, booking_id).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    let Some(called) = apply_call(&mut tx, actor, &n, at).await? else {
        // Someone else acted first: say who, from what is stored now.
        drop(tx);
        let now = named(app, actor, booking_id).await?;
        return Err(q::step(entry_of(&now.entry), Action::Call)
            .err()
            .map(|c| refusal(c, &now.entry))
            .unwrap_or_else(|| DomainError::new(ErrorCode::Conflict)));
    };
    let entry = actor.entry(
        "queue.call",
        "queue_entry",
        &booking_id.to_string(),
        Some(n.entry.patient_id),
        OK,
        &format!("{} 号", n.entry.seq),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    announce(app, actor, &called, vec![called.entry.session_id], at).await
}

/// Call again (复呼), no-show (过号), sent for tests (置为检查) or finish.
pub async fn act(app: &App, actor: &Actor, booking_id: Uuid, action: Action) -> Result<PanelLine, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    if !matches!(action, Action::CallAgain | Action::Pass | Action::Test | Action::Finish) {
        return Err(DomainError::with(ErrorCode::BadRequest, [action.code()]));
    }
    let at = now_micros();
    let n = named(app, actor, booking_id).await?;
    let next = q::step(entry_of(&n.entry), action).map_err(|c| refusal(c, &n.entry))?;
    let c = Change {
        status: next.status.code().into(),
        calls: i64::from(next.calls),
        updated_at: at,
        ..change_of(&n.entry)
    };
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::queue::update(&mut tx, actor.org_id, booking_id, &n.entry.status, n.entry.updated_at, &c)
        .await
        .or_internal()?
    {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    let entry = actor.entry(
        &format!("queue.{}", action.code()),
        "queue_entry",
        &booking_id.to_string(),
        Some(n.entry.patient_id),
        OK,
        &format!("{} 号", n.entry.seq),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let updated = Named {
        entry: Entry { status: c.status.clone(), calls: c.calls, updated_at: at, ..n.entry.clone() },
        name: n.name.clone(),
    };
    if action == Action::CallAgain {
        return announce(app, actor, &updated, vec![n.entry.session_id], at).await.map(|c| c.line);
    }
    publish(app, actor.org_id, &[n.entry.session_id], None, at).await;
    let s = dayi_store::roster::get_session(&app.db, actor.org_id, n.entry.session_id).await.or_internal()?;
    Ok(panel_line(&updated, s.as_ref().map(board::room_of).unwrap_or_default()))
}

/// Moves a patient to another session's queue (转诊: another room or
/// doctor); they keep their check-in time and wait there.
pub async fn transfer(app: &App, actor: &Actor, booking_id: Uuid, to: Uuid) -> Result<PanelLine, DomainError> {
    actor.require(app, Perm::QueueCall).await?;
    let at = now_micros();
    let n = named(app, actor, booking_id).await?;
    if n.entry.session_id == to {
        return Err(DomainError::field("to", ErrorCode::QueueTransferSame, [""; 0]));
    }
    let target =
        board::today_sessions(app, actor.org_id, &[]).await?.into_iter().find(|s| s.id == to && s.status != "stopped");
    let Some(target) = target else {
        return Err(DomainError::field("to", ErrorCode::QueueTransferSame, [""; 0]));
    };
    let next = q::step(entry_of(&n.entry), Action::Transfer).map_err(|c| refusal(c, &n.entry))?;
    let c = Change {
        session_id: to,
        status: next.status.code().into(),
        calls: 0,
        called_by: None,
        called_at: None,
        updated_at: at,
        ..change_of(&n.entry)
    };
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::queue::update(&mut tx, actor.org_id, booking_id, &n.entry.status, n.entry.updated_at, &c)
        .await
        .or_internal()?
    {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    let entry = actor.entry(
        "queue.transfer",
        "queue_entry",
        &booking_id.to_string(),
        Some(n.entry.patient_id),
        OK,
        &format!("{} → {}", n.entry.session_id, to),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    publish(app, actor.org_id, &[n.entry.session_id, to], None, at).await;
    let updated = Named {
        entry: Entry {
            session_id: to,
            status: c.status.clone(),
            calls: 0,
            called_by: None,
            called_at: None,
            updated_at: at,
            ..n.entry.clone()
        },
        name: n.name,
    };
    Ok(panel_line(&updated, board::room_of(&target)))
}

/// Where a patient's registration stands in its queue, for the portal.
#[derive(Debug, Clone, Serialize)]
pub struct Position {
    pub booking_id: Uuid,
    pub status: Status,
    pub status_name: &'static str,
    /// Patients to be called before this one (when waiting).
    pub ahead: Option<usize>,
    /// Asked to wait at the door of the room.
    pub at_door: bool,
    pub room: String,
    pub doctor: String,
    /// The numbers with the doctor now.
    pub calling: Vec<i64>,
}

impl Position {
    /// From the queue's current board and the patient's entry.
    pub fn on(board: &Board, e: &Entry) -> Self {
        let ahead = board.ahead_of(e.booking_id);
        let status = if board.is_calling(e.booking_id) {
            Status::Called
        } else if ahead.is_some() {
            Status::Waiting
        } else {
            Status::parse(&e.status).unwrap_or(Status::Waiting)
        };
        Position {
            booking_id: e.booking_id,
            status,
            status_name: status.zh(),
            ahead,
            at_door: ahead.is_some_and(|a| a < board.door as usize),
            room: board.room.clone(),
            doctor: board.doctor.clone(),
            calling: board.calling.iter().map(|l| l.seq).collect(),
        }
    }
}

/// The patient's (or a linked family member's) place in the queue.
pub async fn position(app: &App, actor: &Actor, booking_id: Uuid) -> Result<(Position, Entry), DomainError> {
    let b = crate::booking::get(app, actor, booking_id).await?;
    let e = dayi_store::queue::get(&app.db, actor.org_id, b.id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    let board = board::boards_by_id(app, actor.org_id, &[e.session_id])
        .await?
        .pop()
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    Ok((Position::on(&board, &e), e))
}

/// What a screen or panel watches: departments (a zone; all when empty) or one session (a room).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Depts(Vec<Uuid>),
    Session(Uuid),
}

impl Scope {
    pub fn covers(&self, b: &Board) -> bool {
        match self {
            Scope::Depts(d) => d.is_empty() || d.contains(&b.dept_id),
            Scope::Session(s) => *s == b.session_id,
        }
    }
}

/// A screen connects: the current boards of its scope. Screens show masked
/// names only; each connection is audited once, not each update.
pub async fn watch(app: &App, actor: &Actor, scope: &Scope) -> Result<Vec<Board>, DomainError> {
    actor.require(app, Perm::QueueScreen).await?;
    let boards = boards_of(app, actor.org_id, scope).await?;
    let what = match scope {
        Scope::Depts(d) => format!("zone {}", d.len()),
        Scope::Session(s) => format!("room {s}"),
    };
    app.audit.record(actor.entry("queue.screen", "queue", &what, None, OK, "")).await;
    Ok(boards)
}

/// The current boards of a scope (a screen catching up after falling behind).
pub async fn boards_of(app: &App, org_id: Uuid, scope: &Scope) -> Result<Vec<Board>, DomainError> {
    match scope {
        Scope::Depts(d) => {
            // A hall shows the clinics still open and any queue with someone in it.
            let now = now_micros();
            let sessions: Vec<_> =
                board::today_sessions(app, org_id, d).await?.into_iter().filter(|s| s.status != "stopped").collect();
            let mut boards = board::boards(app, org_id, &sessions).await?;
            boards.retain(|b| {
                let open = sessions.iter().any(|s| s.id == b.session_id && s.ends_at >= now);
                open || b.waiting > 0 || !b.calling.is_empty() || !b.passed.is_empty() || !b.testing.is_empty()
            });
            Ok(boards)
        }
        Scope::Session(s) => board::boards_by_id(app, org_id, &[*s]).await,
    }
}

/// Resolves department codes (a zone's address, e.g. `03,50`) to ids.
pub async fn depts_by_code(app: &App, org_id: Uuid, codes: &str) -> Result<Vec<Uuid>, DomainError> {
    let all = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    codes
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            all.iter()
                .find(|d| d.code == c)
                .map(|d| d.id)
                .ok_or_else(|| DomainError::field("dept", ErrorCode::TriageDeptUnknown, [c]))
        })
        .collect()
}

/// The stored entry again (a phone following its patient after a move).
pub async fn reread(app: &App, e: &Entry) -> Result<Entry, DomainError> {
    Ok(dayi_store::queue::get(&app.db, e.org_id, e.booking_id).await.or_internal()?.unwrap_or_else(|| e.clone()))
}

/// A patient's queue entries of today, for the triage desk.
pub async fn today_of(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<PanelLine>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let day = today();
    let rows = dayi_store::queue::of_patient(&app.db, actor.org_id, patient_id, &day).await.or_internal()?;
    let name = dayi_store::patient::get(&app.db, actor.org_id, patient_id)
        .await
        .or_internal()?
        .map(|p| p.name)
        .unwrap_or_default();
    let mut out = vec![];
    for e in rows {
        let s = dayi_store::roster::get_session(&app.db, actor.org_id, e.session_id).await.or_internal()?;
        out.push(panel_line(
            &Named { entry: e, name: name.clone() },
            s.as_ref().map(board::room_of).unwrap_or_default(),
        ));
    }
    Ok(out)
}
