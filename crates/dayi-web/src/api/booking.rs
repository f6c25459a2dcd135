//! Rosters, bookings, walk-ins, check-in and the message log over JSON (staff).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dayi_app::booking::{BookingView, CheckIn, Ticketed};
use dayi_app::records::Booking;
use dayi_core::booking::BookingChannel;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::{BookForm, parse_id};
use crate::principal::Staff;

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct ReasonIn {
    pub reason: String,
}

fn created(r: Result<Booking, dayi_core::DomainError>) -> Result<Response, ApiError> {
    Ok((StatusCode::CREATED, Json(BookingView::new(&r?))).into_response())
}

/// Books a slot at the counter or by phone (`channel`), possibly for someone (`on_behalf`).
#[utoipa::path(post, path = "/api/bookings", tag = "booking", request_body(content = BookForm, description = "seq: a chosen slot, else the first free one"),
    responses((status = 201, body = BookingView), (status = 409, description = "full, taken, stopped or one per session"), (status = 422, description = "past, not released, over a limit, blocked")))]
pub async fn book(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<BookForm>,
) -> Result<Response, ApiError> {
    dayi_app::booking::require(&st.app, &staff.actor, BookingChannel::Counter).await?;
    created(dayi_app::booking::book(&st.app, &staff.actor, &b.parse()?).await)
}

/// Registers a walk-in from the remaining slots (现场挂号).
#[utoipa::path(post, path = "/api/walk-ins", tag = "booking", request_body(content = BookForm, description = "session_id and patient_id"), responses((status = 201, body = BookingView)))]
pub async fn walk_in(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<BookForm>,
) -> Result<Response, ApiError> {
    dayi_app::booking::require(&st.app, &staff.actor, BookingChannel::WalkIn).await?;
    created(dayi_app::booking::walk_in(&st.app, &staff.actor, &b.parse()?).await)
}

/// The doctor adds a slot beyond the roster (加号).
#[utoipa::path(post, path = "/api/bookings/added", tag = "booking", request_body(content = BookForm, description = "session_id and patient_id"), responses((status = 201, body = BookingView)))]
pub async fn add_slot(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<BookForm>,
) -> Result<Response, ApiError> {
    dayi_app::booking::require(&st.app, &staff.actor, BookingChannel::Added).await?;
    created(dayi_app::booking::add_slot(&st.app, &staff.actor, &b.parse()?).await)
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
