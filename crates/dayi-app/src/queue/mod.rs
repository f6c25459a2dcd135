//! Queue calling (叫号): patients enter their session's queue at check-in;
//! doctors call, call again, pass, send to tests, finish, transfer and pause
//! from their panel; every change is audited, committed, and its new board
//! published to the screens, panels and phones watching. The order itself
//! comes from `dayi_core::queue` over the stored rows, so it survives a
//! restart unchanged.

pub mod board;
mod call;
pub mod config;
pub mod hub;
mod panel;
mod watch;

use dayi_core::DomainError;
use dayi_core::audit::OK;
use dayi_core::queue::{self as q, Action, PriorityGroup, Status};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_store::Tx;
use dayi_store::booking::Booking;
use dayi_store::queue::{Change, Entry};
use uuid::Uuid;

pub use board::{Announce, Board, Line};
pub use call::{Called, act, call, call_next, transfer};
pub use hub::{Hub, Published};
pub use panel::{Choice, PanelLine, PanelView, choose, panel, pause, today_of};
pub use watch::{Position, Scope, boards_of, depts_by_code, position, reread, screen, watch};

use crate::{Actor, App, OrInternal};

/// The doctor's calls, asked before a request's input is read so a caller
/// without the duty is refused as such (each call checks it again).
pub async fn require_call(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::QueueCall).await
}

/// What entering a queue needs from configuration, read before the
/// check-in's transaction: a transaction must not wait on a second pool
/// connection (PostgreSQL's pool would run dry under a rush of check-ins).
pub struct Entering {
    prio: config::Priority,
    rules: std::collections::HashMap<Uuid, config::DeptRules>,
}

pub async fn entering(app: &App, org_id: Uuid, bookings: &[Booking]) -> Result<Entering, DomainError> {
    let mut rules = std::collections::HashMap::new();
    for b in bookings {
        if let std::collections::hash_map::Entry::Vacant(v) = rules.entry(b.dept_id) {
            v.insert(config::dept_rules(app, org_id, b.dept_id).await?);
        }
    }
    Ok(Entering { prio: config::priority(app, org_id).await?, rules })
}

/// Puts checked-in registrations into their sessions' queues (inside the
/// check-in's transaction). Late arrivals and the elderly are marked here.
pub async fn enter(
    tx: &mut Tx,
    setup: &Entering,
    org_id: Uuid,
    age: i32,
    bookings: &[Booking],
    now: i64,
) -> Result<(), DomainError> {
    let prio = &setup.prio;
    let elderly = (age >= prio.elderly_age).then_some(PriorityGroup::Elderly);
    let ids: Vec<Uuid> = bookings.iter().map(|b| b.session_id).collect();
    let counted = dayi_store::queue::counters(&mut *tx, org_id, &ids).await.or_internal()?;
    let mut rows = vec![];
    for b in bookings {
        let grace = setup.rules.get(&b.dept_id).map_or(0, |r| r.late_grace_minutes);
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
            late: q::is_late(appointment, b.slot_start, now, grace),
            recalled: false,
            mark: calls_in(&counted, b.session_id),
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
    let ids: Vec<Uuid> = away.iter().map(|e| e.session_id).collect();
    let counted = dayi_store::queue::counters(&mut tx, actor.org_id, &ids).await.or_internal()?;
    for e in away {
        let next = q::step(entry_of(&e), Action::Return).map_err(DomainError::new)?;
        let c = Change {
            status: next.status.code().into(),
            recalled: next.recalled,
            mark: calls_in(&counted, e.session_id),
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
            moved.push(Entry {
                status: c.status.clone(),
                recalled: true,
                mark: c.mark,
                calls: 0,
                updated_at: now,
                ..e
            });
        }
    }
    dayi_store::audit::append(&mut tx, actor.org_id, audit).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let sessions: Vec<Uuid> = moved.iter().map(|e| e.session_id).collect();
    publish(app, actor.org_id, &sessions, None, now).await;
    Ok(moved)
}

pub(crate) fn entry_of(e: &Entry) -> q::Entry {
    q::Entry {
        status: Status::parse(&e.status).unwrap_or(Status::Waiting),
        recalled: e.recalled,
        calls: e.calls.clamp(0, i64::from(u32::MAX)) as u32,
    }
}

pub(crate) fn change_of(e: &Entry) -> Change {
    Change {
        session_id: e.session_id,
        status: e.status.clone(),
        recalled: e.recalled,
        mark: e.mark,
        calls: e.calls,
        called_by: e.called_by.clone(),
        called_at: e.called_at,
        priority: e.priority,
        priority_group: e.priority_group.clone(),
        updated_at: e.updated_at,
    }
}

/// Calls made so far in a queue, from a read of its counter.
pub(crate) fn calls_in(counted: &[(Uuid, i64)], session_id: Uuid) -> i64 {
    counted.iter().find(|(s, _)| *s == session_id).map_or(0, |(_, n)| *n)
}

/// Publishes the current boards of these sessions; the announcement goes
/// with the board of the session it belongs to. A failure to read is logged:
/// the change is committed and screens catch up on their next event.
pub async fn publish(app: &App, org_id: Uuid, sessions: &[Uuid], announce: Option<(Uuid, Announce)>, at: i64) {
    let mut ids = sessions.to_vec();
    ids.sort();
    ids.dedup();
    for id in ids {
        // One queue's boards go out in the order they were read.
        let _turn = app.queue.turn(id).await;
        let rev = app.queue.next_rev();
        match board::boards_by_id(app, org_id, &[id]).await {
            Ok(boards) => {
                for mut b in boards {
                    b.at = at;
                    b.rev = rev;
                    b.announce = announce.as_ref().filter(|(sid, _)| *sid == b.session_id).map(|(_, a)| a.clone());
                    app.queue.publish(b);
                }
            }
            Err(e) => tracing::warn!(error = %e, "queue board not published"),
        }
    }
}

pub(crate) fn today() -> String {
    today_cst().to_string()
}
