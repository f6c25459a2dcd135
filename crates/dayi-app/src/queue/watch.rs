//! What screens and phones watch: a zone's or a room's boards, and one
//! patient's place in the queue.

use dayi_core::audit::OK;
use dayi_core::queue::Status;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::queue::Entry;
use serde::Serialize;
use uuid::Uuid;

use super::{Board, board};
use crate::{Actor, App, OrInternal};

/// Where a patient's registration stands in its queue, for the portal.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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
    /// The revision of the board this was read from.
    pub rev: u64,
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
            rev: board.rev,
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

/// A screen's heading (the hospital's name), for a screen account; a zone's
/// department codes are checked first.
pub async fn screen(app: &App, actor: &Actor, zone: Option<&str>) -> Result<String, DomainError> {
    actor.require(app, Perm::QueueScreen).await?;
    if let Some(codes) = zone {
        depts_by_code(app, actor.org_id, codes).await?;
    }
    Ok(crate::tenancy::org(app, actor.org_id).await?.name)
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
