//! The roster over JSON: sessions in a window of days, new sessions and templates, generation, a
//! session's board and its stop.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dayi_app::booking::SessionView;
use dayi_app::roster::{BoardRow, RosterForm};
use dayi_core::timefmt::today_cst;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::booking::ReasonIn;
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
