//! Rosters, bookings, walk-ins, check-in and the message log over JSON (staff).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dayi_app::booking::{BookRequest, BookingView, CheckIn, SessionView, Ticketed};
use dayi_app::records::Booking;
use dayi_app::roster::{BoardRow, RosterForm};
use dayi_core::timefmt::today_cst;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::parse_id;
use crate::params::{Window, window};
use crate::principal::Staff;

/// Clinic sessions with free slots (public information).
#[utoipa::path(get, path = "/api/sessions", tag = "booking", params(Window), responses((status = 200, body = Vec<SessionView>)))]
pub async fn sessions(
    State(st): State<AppState>,
    staff: Staff,
    Query(w): Query<Window>,
) -> ApiResult<Vec<SessionView>> {
    let (from, to, dept) = window(&w)?;
    Ok(Json(dayi_app::roster::sessions(&st.app, staff.actor.org_id, from, to, dept).await?))
}

/// Adds a one-off session (or a visiting expert's visit) with its slots.
#[utoipa::path(post, path = "/api/sessions", tag = "booking",
    request_body(content = RosterForm, description = "day YYYY-MM-DD (weekday is for templates); half_day am|pm|night; clinic_type general|expert|special; doctor_id, or doctor_name for a visiting expert; start_time HH:MM"),
    responses((status = 201, body = SessionView), (status = 422, description = "invalid fields")))]
pub async fn create_session(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(f): JsonBody<RosterForm>,
) -> Result<Response, ApiError> {
    let s = dayi_app::roster::create_session(&st.app, &staff.actor, &f).await?;
    let v = dayi_app::roster::session(&st.app, staff.actor.org_id, s.id).await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

#[derive(Serialize, ToSchema)]
#[schema(as = SessionBoard)]
pub struct Board {
    pub session: SessionView,
    pub slots: Vec<BoardRow>,
}

/// A session's slots and who holds them (names masked).
#[utoipa::path(get, path = "/api/sessions/{id}/board", tag = "booking", params(("id" = Uuid, Path, description = "session id")), responses((status = 200, body = Board)))]
pub async fn board(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Board> {
    let (session, slots) = dayi_app::roster::board(&st.app, &staff.actor, parse_id(&id)?).await?;
    Ok(Json(Board { session, slots }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct ReasonIn {
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct Stopped {
    /// Patients notified (notification and text message).
    pub notified: usize,
}

/// Stops a session (停诊): bookings withdrawn, every patient notified.
#[utoipa::path(post, path = "/api/sessions/{id}/stop", tag = "booking", params(("id" = Uuid, Path, description = "session id")), request_body = ReasonIn, responses((status = 200, body = Stopped)))]
pub async fn stop(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ReasonIn>,
) -> ApiResult<Stopped> {
    Ok(Json(Stopped { notified: dayi_app::roster::stop(&st.app, &staff.actor, parse_id(&id)?, &b.reason).await? }))
}

/// Adds a weekly roster row.
#[utoipa::path(post, path = "/api/roster/templates", tag = "booking", request_body(content = RosterForm, description = "weekday 1–7 (Monday 1) instead of day"),
    responses((status = 201, body = TemplateOut), (status = 422, description = "invalid fields")))]
pub async fn create_template(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(f): JsonBody<RosterForm>,
) -> Result<Response, ApiError> {
    let t = dayi_app::roster::create_template(&st.app, &staff.actor, &f).await?;
    Ok((StatusCode::CREATED, Json(TemplateOut { id: t.id, weekday: t.weekday, doctor_name: t.doctor_name }))
        .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct TemplateOut {
    pub id: Uuid,
    /// 1 = Monday … 7 = Sunday.
    pub weekday: i64,
    pub doctor_name: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct GenerateIn {
    /// Weeks ahead to generate (1–8, default 2).
    pub weeks: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Generated {
    pub created: usize,
}

/// Generates sessions from the weekly templates for the coming weeks (safe to repeat).
#[utoipa::path(post, path = "/api/roster/generate", tag = "booking", request_body = GenerateIn, responses((status = 200, body = Generated)))]
pub async fn generate(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<GenerateIn>,
) -> ApiResult<Generated> {
    let created = dayi_app::roster::generate(&st.app, &staff.actor, today_cst(), b.weeks.unwrap_or(2)).await?;
    Ok(Json(Generated { created }))
}

fn created(r: Result<Booking, dayi_core::DomainError>) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(BookingView::new(&r?))).into_response())
}

/// Books a slot at the counter or by phone (`channel`), possibly for someone (`on_behalf`).
#[utoipa::path(post, path = "/api/bookings", tag = "booking", request_body(content = BookRequest, description = "seq: a chosen slot, else the first free one"),
    responses((status = 201, body = BookingView), (status = 409, description = "full, taken, stopped or one per session"), (status = 422, description = "past, not released, over a limit, blocked")))]
pub async fn book(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<BookRequest>,
) -> Result<Response, ApiError> {
    created(dayi_app::booking::book(&st.app, &staff.actor, &b).await)
}

/// Registers a walk-in from the remaining slots (现场挂号).
#[utoipa::path(post, path = "/api/walk-ins", tag = "booking", request_body(content = BookRequest, description = "session_id and patient_id"), responses((status = 201, body = BookingView)))]
pub async fn walk_in(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<BookRequest>,
) -> Result<Response, ApiError> {
    created(dayi_app::booking::walk_in(&st.app, &staff.actor, &b).await)
}

/// The doctor adds a slot beyond the roster (加号).
#[utoipa::path(post, path = "/api/bookings/added", tag = "booking", request_body(content = BookRequest, description = "session_id and patient_id"), responses((status = 201, body = BookingView)))]
pub async fn add_slot(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<BookRequest>,
) -> Result<Response, ApiError> {
    created(dayi_app::booking::add_slot(&st.app, &staff.actor, &b).await)
}

/// One booking (audited).
#[utoipa::path(get, path = "/api/bookings/{id}", tag = "booking", params(("id" = Uuid, Path, description = "booking id")),
    responses((status = 200, body = BookingView), (status = 404, description = "no such booking")))]
pub async fn get(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<BookingView> {
    Ok(Json(BookingView::new(&dayi_app::booking::get(&st.app, &staff.actor, parse_id(&id)?).await?)))
}

/// Cancels a booking; its slot is free again at once.
#[utoipa::path(post, path = "/api/bookings/{id}/cancel", tag = "booking", params(("id" = Uuid, Path, description = "booking id")), request_body = ReasonIn,
    responses((status = 200, body = BookingView), (status = 409, description = "not active")))]
pub async fn cancel(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ReasonIn>,
) -> ApiResult<BookingView> {
    Ok(Json(BookingView::new(&dayi_app::booking::cancel(&st.app, &staff.actor, parse_id(&id)?, &b.reason).await?)))
}

/// A patient's bookings from yesterday on.
#[utoipa::path(get, path = "/api/patients/{id}/bookings", tag = "booking", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Vec<Ticketed>)))]
pub async fn of_patient(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<Ticketed>> {
    let rows = dayi_app::booking::of_patient(&st.app, &staff.actor, parse_id(&id)?).await?;
    Ok(Json(dayi_app::booking::with_sessions(&st.app, staff.actor.org_id, &rows).await?))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct CheckInIn {
    /// The health-card QR content, an ID number or a card number.
    pub code: String,
    pub station: String,
}

/// Check-in (签到) by the patient's code: records the arrival time.
#[utoipa::path(post, path = "/api/check-in", tag = "booking", request_body = CheckInIn, responses((status = 200, body = CheckIn), (status = 404, description = "no booking today")))]
pub async fn check_in(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<CheckInIn>,
) -> ApiResult<CheckIn> {
    Ok(Json(dayi_app::booking::check_in(&st.app, &staff.actor, &b.code, &b.station).await?))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct MessageQuery {
    /// Only the messages to this number.
    pub phone: String,
}

/// Text messages sent (the built-in gateway's log).
#[utoipa::path(get, path = "/api/messages", tag = "booking", params(MessageQuery), responses((status = 200, body = Vec<MessageOut>)))]
pub async fn messages(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<MessageQuery>,
) -> ApiResult<Vec<MessageOut>> {
    let phone = Some(q.phone.trim()).filter(|p| !p.is_empty());
    let rows = dayi_app::roster::messages(&st.app, &staff.actor, phone).await?;
    Ok(Json(
        rows.into_iter()
            .map(|m| MessageOut {
                id: m.id,
                phone: dayi_core::mask::phone(&m.phone),
                template: m.template,
                body: m.body,
                gateway: m.gateway,
                status: m.status,
                error: m.error,
                created_at: dayi_core::timefmt::show(m.created_at),
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct MessageOut {
    pub id: Uuid,
    /// Masked.
    pub phone: String,
    pub template: String,
    pub body: String,
    pub gateway: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub created_at: String,
}
