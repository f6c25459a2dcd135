//! The doctor's call panel: which queues they call from, pause, and the
//! lists they see (full names: the doctor treats these patients).

use dayi_core::audit::OK;
use dayi_core::queue::{PriorityGroup, Status};
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::queue::{Named, Panel};
use serde::Serialize;
use uuid::Uuid;

use super::{board, calls_in, config, publish, today};
use crate::{Actor, App, OrInternal};

/// A patient as the doctor's panel shows them (full name: the doctor treats them).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Choice {
    pub id: Uuid,
    pub label: String,
    pub chosen: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PanelView {
    pub choices: Vec<Choice>,
    pub paused: bool,
    pub calling: Vec<PanelLine>,
    /// Waiting, in call order across the chosen queues.
    pub waiting: Vec<PanelLine>,
    pub away: Vec<PanelLine>,
}

/// The doctor's panel for today; by default the sessions they are rostered on.
pub(super) async fn load_panel(app: &App, actor: &Actor) -> Result<Panel, DomainError> {
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
            let half = dayi_core::roster::HalfDay::parse(&s.half_day).map(|h| h.zh()).unwrap_or("");
            Choice {
                id: s.id,
                label: format!("{dept} · {} · {} · {half}", board::room_of(s), s.doctor_name),
                chosen: chosen.contains(&s.id),
            }
        })
        .collect();
    let live = dayi_store::queue::live(&app.db, actor.org_id, &chosen).await.or_internal()?;
    let counted = dayi_store::queue::counters(&app.db, actor.org_id, &chosen).await.or_internal()?;
    let rooms: std::collections::HashMap<Uuid, String> = sessions.iter().map(|s| (s.id, board::room_of(s))).collect();
    let to_line = |n: &Named| panel_line(n, rooms.get(&n.entry.session_id).cloned().unwrap_or_default());
    let mut waiting = vec![];
    for sid in &chosen {
        let Some(s) = sessions.iter().find(|s| s.id == *sid) else { continue };
        let rules = config::dept_rules(app, actor.org_id, s.dept_id).await?;
        let mine: Vec<&Named> = live.iter().filter(|n| n.entry.session_id == *sid).collect();
        for id in board::call_order(&mine, &rules, calls_in(&counted, *sid)) {
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

pub(super) fn panel_line(n: &Named, room: String) -> PanelLine {
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
