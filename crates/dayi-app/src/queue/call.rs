//! Calls and the doctor's other actions on one patient. Each is one step of
//! `dayi_core::queue::step`, written only if the entry is still as read.

use dayi_core::audit::OK;
use dayi_core::queue::{self as q, Action, Status};
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Tx;
use dayi_store::queue::{Change, Entry, Named, Panel};
use serde::Serialize;
use uuid::Uuid;

use super::panel::{PanelLine, load_panel, panel_line};
use super::{Announce, board, calls_in, change_of, config, entry_of, publish};
use crate::{Actor, App, OrInternal};

/// What a call did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Called {
    pub line: PanelLine,
    pub announce: String,
}

/// How many times a call retries when a patient changed between its read
/// and its write (someone called them by name meanwhile).
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
        // Configuration first: the transaction then uses its own connection only.
        let mut rules = vec![];
        for sid in &sessions {
            rules.push(match dayi_store::roster::get_session(&app.db, actor.org_id, *sid).await.or_internal()? {
                Some(s) => Some(config::dept_rules(app, actor.org_id, s.dept_id).await?),
                None => None,
            });
        }
        let mut tx = app.db.begin().await.or_internal()?;
        // One caller at a time per queue decides who is next.
        dayi_store::queue::lock(&mut tx, actor.org_id, &sessions).await.or_internal()?;
        let live = dayi_store::queue::live(&mut tx, actor.org_id, &sessions).await.or_internal()?;
        let counted = dayi_store::queue::counters(&mut tx, actor.org_id, &sessions).await.or_internal()?;
        let mut heads = vec![];
        for (sid, rules) in sessions.iter().zip(&rules) {
            let Some(rules) = rules else {
                heads.push(None);
                continue;
            };
            let mine: Vec<&Named> = live.iter().filter(|n| n.entry.session_id == *sid).collect();
            heads.push(
                board::call_order(&mine, rules, calls_in(&counted, *sid))
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
    dayi_store::queue::count_call(tx, actor.org_id, n.entry.session_id).await.or_internal()?;
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
        return Err(lost(app, actor, booking_id, Action::Call).await);
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
    let updated = write(app, actor, &n, &c, action, &format!("{} 号", n.entry.seq)).await?;
    if action == Action::CallAgain {
        return announce(app, actor, &updated, vec![n.entry.session_id], at).await.map(|c| c.line);
    }
    publish(app, actor.org_id, &[n.entry.session_id], None, at).await;
    let s = dayi_store::roster::get_session(&app.db, actor.org_id, n.entry.session_id).await.or_internal()?;
    Ok(panel_line(&updated, s.as_ref().map(board::room_of).unwrap_or_default()))
}

/// Writes `c` over the entry as it was read, with its audit entry, in one
/// transaction; someone else's change in between refuses it.
async fn write(
    app: &App,
    actor: &Actor,
    n: &Named,
    c: &Change,
    step: Action,
    detail: &str,
) -> Result<Named, DomainError> {
    let e = &n.entry;
    let action = format!("queue.{}", step.code());
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::queue::update(&mut tx, actor.org_id, e.booking_id, &e.status, e.updated_at, c)
        .await
        .or_internal()?
    {
        drop(tx);
        return Err(lost(app, actor, e.booking_id, step).await);
    }
    let entry = actor.entry(&action, "queue_entry", &e.booking_id.to_string(), Some(e.patient_id), OK, detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let entry = Entry {
        session_id: c.session_id,
        status: c.status.clone(),
        recalled: c.recalled,
        mark: c.mark,
        calls: c.calls,
        called_by: c.called_by.clone(),
        called_at: c.called_at,
        priority: c.priority,
        priority_group: c.priority_group.clone(),
        updated_at: c.updated_at,
        ..e.clone()
    };
    Ok(Named { entry, name: n.name.clone() })
}

/// Why an action lost a race: what the entry is now refuses it (another
/// doctor finished or passed them first), else a plain conflict.
async fn lost(app: &App, actor: &Actor, booking_id: Uuid, action: Action) -> DomainError {
    match named(app, actor, booking_id).await {
        Ok(now) => q::step(entry_of(&now.entry), action)
            .err()
            .map(|c| refusal(c, &now.entry))
            .unwrap_or_else(|| DomainError::new(ErrorCode::Conflict)),
        Err(e) => e,
    }
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
        return Err(DomainError::field("to", ErrorCode::QueueTransferTarget, [""; 0]));
    };
    let next = q::step(entry_of(&n.entry), Action::Transfer).map_err(|c| refusal(c, &n.entry))?;
    let c = Change {
        session_id: to,
        // A recall standing in the old room counts from the move.
        mark: calls_in(&dayi_store::queue::counters(&app.db, actor.org_id, &[to]).await.or_internal()?, to),
        status: next.status.code().into(),
        calls: 0,
        called_by: None,
        called_at: None,
        updated_at: at,
        ..change_of(&n.entry)
    };
    let detail = format!("{} → {}", n.entry.session_id, to);
    let updated = write(app, actor, &n, &c, Action::Transfer, &detail).await?;
    publish(app, actor.org_id, &[n.entry.session_id, to], None, at).await;
    Ok(panel_line(&updated, board::room_of(&target)))
}
