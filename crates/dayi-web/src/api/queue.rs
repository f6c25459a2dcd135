//! Queue calling and pre-triage over JSON, and the live event streams
//! (server-sent events) that screens, panels and phones listen to.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use dayi_app::queue::{Called, PanelLine, PanelView, Position, Published, Scope};
use dayi_app::{App, queue};
use dayi_core::queue::Action;
use dayi_core::{DomainError, ErrorCode};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::ScopeQuery;
use crate::params::parse_id;
use crate::principal::{PortalUser, Staff};

/// How soon a dropped screen tries again (ms), sent to the browser.
const RETRY_MS: u64 = 2_000;

/// The doctor's panel.
#[utoipa::path(get, path = "/api/queue/panel", tag = "queue", responses((status = 200, body = PanelView)))]
pub async fn panel(State(st): State<AppState>, staff: Staff) -> ApiResult<PanelView> {
    Ok(Json(queue::panel(&st.app, &staff.actor).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct ChooseIn {
    /// Session ids to call from; several for cross calling (交叉叫号).
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub sessions: Vec<String>,
}

/// Chooses the queues the doctor calls from.
#[utoipa::path(post, path = "/api/queue/panel", tag = "queue", request_body = ChooseIn, responses((status = 200, body = PanelView)))]
pub async fn choose(State(st): State<AppState>, staff: Staff, JsonBody(b): JsonBody<ChooseIn>) -> ApiResult<PanelView> {
    let ids = b
        .sessions
        .iter()
        .map(|s| Uuid::parse_str(s.trim()).map_err(|_| DomainError::field("sessions", ErrorCode::InvalidFormat, [s])))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(queue::choose(&st.app, &staff.actor, &ids).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct PauseIn {
    pub paused: bool,
}

/// Pauses or resumes calling.
#[utoipa::path(post, path = "/api/queue/pause", tag = "queue", request_body = PauseIn, responses((status = 200, body = PanelView)))]
pub async fn pause(State(st): State<AppState>, staff: Staff, JsonBody(b): JsonBody<PauseIn>) -> ApiResult<PanelView> {
    Ok(Json(queue::pause(&st.app, &staff.actor, b.paused).await?))
}

/// Calls the next patient (the one being seen is finished).
#[utoipa::path(post, path = "/api/queue/next", tag = "queue", responses((status = 200, body = Called), (status = 409, description = "queue.empty, queue.paused")))]
pub async fn next(State(st): State<AppState>, staff: Staff) -> ApiResult<Called> {
    Ok(Json(queue::call_next(&st.app, &staff.actor).await?))
}

/// Calls a chosen waiting patient.
#[utoipa::path(post, path = "/api/queue/entries/{id}/call", tag = "queue", params(("id" = Uuid, Path, description = "queue entry: the booking id")), responses((status = 200, body = Called), (status = 409, description = "queue.taken")))]
pub async fn call(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Called> {
    Ok(Json(queue::call(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Call again (`call_again`), no-show (`pass`), sent for tests (`test`) or `finish`.
#[utoipa::path(post, path = "/api/queue/entries/{id}/{action}", tag = "queue",
    params(("id" = Uuid, Path, description = "queue entry: the booking id"), ("action" = String, Path, description = "call_again, pass, test or finish")),
    responses((status = 200, body = PanelLine), (status = 404, description = "no such entry or action"), (status = 409, description = "queue.not_called, queue.finished")))]
pub async fn act(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(String, String)>,
) -> ApiResult<PanelLine> {
    queue::require_call(&st.app, &staff.actor).await?;
    let action = match Action::parse(&action) {
        Some(a @ (Action::CallAgain | Action::Pass | Action::Test | Action::Finish)) => a,
        _ => return Err(ApiError(DomainError::new(ErrorCode::NotFound))),
    };
    Ok(Json(queue::act(&st.app, &staff.actor, parse_id(&id)?, action).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct TransferIn {
    /// The session (room and doctor) to move to.
    #[schema(value_type = uuid::Uuid)]
    pub to: String,
}

/// Transfers a patient to another room or doctor.
#[utoipa::path(post, path = "/api/queue/entries/{id}/transfer", tag = "queue", params(("id" = Uuid, Path, description = "queue entry: the booking id")), request_body = TransferIn, responses((status = 200, body = PanelLine)))]
pub async fn transfer(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<TransferIn>,
) -> ApiResult<PanelLine> {
    // Permission before reading the body, so a refusal reveals nothing.
    queue::require_call(&st.app, &staff.actor).await?;
    let to =
        Uuid::parse_str(b.to.trim()).map_err(|_| DomainError::field("to", ErrorCode::QueueTransferSame, [""; 0]))?;
    Ok(Json(queue::transfer(&st.app, &staff.actor, parse_id(&id)?, to).await?))
}

async fn scope(app: &App, org_id: Uuid, q: &ScopeQuery) -> Result<Scope, DomainError> {
    if !q.session.trim().is_empty() {
        return Ok(Scope::Session(parse_id(q.session.trim())?));
    }
    Ok(Scope::Depts(queue::depts_by_code(app, org_id, &q.dept).await?))
}

/// The boards of a zone or a room now (masked names).
#[utoipa::path(get, path = "/api/queue/boards", tag = "queue", params(ScopeQuery), responses((status = 200, body = Vec<dayi_app::queue::Board>)))]
pub async fn boards(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<ScopeQuery>,
) -> ApiResult<Vec<dayi_app::queue::Board>> {
    let scope = scope(&st.app, staff.actor.org_id, &q).await?;
    Ok(Json(queue::watch(&st.app, &staff.actor, &scope).await?))
}

/// Live boards of a zone or a room: one `board` event per queue on connect,
/// then one per change. After a drop the browser reconnects and gets the
/// whole state again.
#[utoipa::path(get, path = "/api/queue/events", tag = "queue", params(ScopeQuery),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "`hello`, then `board` events whose data is a QueueBoard")))]
pub async fn events(State(st): State<AppState>, staff: Staff, Query(q): Query<ScopeQuery>) -> Response {
    let result = async {
        let scope = scope(&st.app, staff.actor.org_id, &q).await?;
        // Subscribe before reading, so no change falls between the two.
        let rx = st.app.queue.subscribe();
        let now = queue::watch(&st.app, &staff.actor, &scope).await?;
        Ok::<_, DomainError>((scope, rx, now))
    }
    .await;
    match result {
        Ok((scope, rx, now)) => {
            let first = now.iter().map(|b| serde_json::to_string(b).unwrap_or_default()).collect();
            sse(board_stream(st.app.clone(), staff.actor.org_id, scope, rx, first))
        }
        Err(e) => ApiError(e).into_response(),
    }
}

fn sse<S: Stream<Item = Result<Event, Infallible>> + Send + 'static>(s: S) -> Response {
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

type Rx = tokio::sync::broadcast::Receiver<Arc<Published>>;

fn board_stream(
    app: std::sync::Arc<App>,
    org_id: Uuid,
    scope: Scope,
    rx: Rx,
    first: VecDeque<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let hello = Event::default().retry(Duration::from_millis(RETRY_MS)).event("hello").data("{}");
    let init = (app, rx, first, Some(hello));
    futures::stream::unfold(init, move |(app, mut rx, mut pending, hello)| {
        let scope = scope.clone();
        async move {
            if let Some(h) = hello {
                return Some((Ok(h), (app, rx, pending, None)));
            }
            loop {
                if let Some(json) = pending.pop_front() {
                    return Some((Ok(Event::default().event("board").data(json)), (app, rx, pending, None)));
                }
                match app.queue.next(&mut rx).await? {
                    Ok(p) if p.board.org_id == org_id && scope.covers(&p.board) => pending.push_back(p.json.clone()),
                    Ok(_) => {}
                    // Fell behind: send the whole current state instead of the missed changes.
                    Err(RecvError::Lagged(_)) => {
                        if let Ok(now) = queue::boards_of(&app, org_id, &scope).await {
                            pending.extend(now.iter().map(|b| serde_json::to_string(b).unwrap_or_default()));
                        }
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    })
}

/// The patient's place in the queue now.
#[utoipa::path(get, path = "/portal/api/bookings/{id}/queue", tag = "portal", params(("id" = Uuid, Path, description = "booking id")),
    responses((status = 200, body = Position), (status = 404, description = "queue.unknown")))]
pub async fn position(State(st): State<AppState>, u: PortalUser, Path(id): Path<String>) -> ApiResult<Position> {
    Ok(Json(queue::position(&st.app, &u.ctx.actor, parse_id(&id)?).await?.0))
}

/// The patient's place, live: a `position` event now and after every change to their queue.
#[utoipa::path(get, path = "/portal/api/bookings/{id}/queue/events", tag = "portal", params(("id" = Uuid, Path, description = "booking id")),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "`position` events whose data is a Position"),
        (status = 404, description = "queue.unknown")))]
pub async fn position_events(State(st): State<AppState>, u: PortalUser, Path(id): Path<String>) -> Response {
    let actor = u.ctx.actor.clone();
    let rx = st.app.queue.subscribe();
    let first = match parse_id(&id) {
        Ok(id) => queue::position(&st.app, &actor, id).await,
        Err(e) => Err(e),
    };
    let (pos, entry) = match first {
        Ok(x) => x,
        Err(e) => return ApiError(e).into_response(),
    };
    let app = st.app.clone();
    let hello = Event::default().retry(Duration::from_millis(RETRY_MS)).event("position").json_data(&pos).ok();
    let init = Follow { rx, rev: pos.rev, entry, hello };
    let s = futures::stream::unfold(init, move |mut f| {
        let app = app.clone();
        let actor = actor.clone();
        async move {
            if let Some(h) = f.hello.take() {
                return Some((Ok(h), f));
            }
            loop {
                let b = match app.queue.next(&mut f.rx).await? {
                    Ok(p) if p.board.org_id == f.entry.org_id => p,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => match queue::position(&app, &actor, f.entry.booking_id).await {
                        Ok((pos, e)) => {
                            (f.entry, f.rev) = (e, pos.rev);
                            let ev = Event::default().event("position").json_data(&pos).ok()?;
                            return Some((Ok(ev), f));
                        }
                        Err(_) => continue,
                    },
                    Err(RecvError::Closed) => return None,
                };
                let id = f.entry.booking_id;
                let listed = b.board.is_calling(id) || b.board.ahead_of(id).is_some();
                let here = b.board.session_id == f.entry.session_id;
                // Not about this patient, or older than what was already sent.
                if (!listed && !here) || (here && b.board.rev < f.rev) {
                    continue;
                }
                // Moved, passed or finished: the stored entry says where they are now.
                if (!listed || !here)
                    && let Ok(e) = queue::reread(&app, &f.entry).await
                {
                    f.entry = e;
                }
                if b.board.session_id != f.entry.session_id {
                    continue;
                }
                f.rev = b.board.rev;
                let pos = Position::on(&b.board, &f.entry);
                let ev = Event::default().event("position").json_data(&pos).ok()?;
                return Some((Ok(ev), f));
            }
        }
    });
    sse(s)
}

/// One phone following one booking.
struct Follow {
    rx: Rx,
    /// The newest board revision sent.
    rev: u64,
    entry: dayi_app::records::QueueEntry,
    hello: Option<Event>,
}
