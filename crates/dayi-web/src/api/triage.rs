//! Pre-triage over JSON: the rule's preview, the record, the day's register.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use dayi_app::triage::{Register, TriageForm, TriageView};
use dayi_core::triage::Decision;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::{RegisterQuery, register_query};
use crate::principal::Staff;

/// Routes without saving: the form's hint as the nurse ticks.
#[utoipa::path(post, path = "/api/triage/preview", tag = "triage", request_body(content = TriageForm, description = "temperature, symptoms and exposures are read"),
    responses((status = 200, body = Decision)))]
pub async fn preview(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(f): JsonBody<TriageForm>,
) -> ApiResult<Decision> {
    Ok(Json(dayi_app::triage::preview(&st.app, &staff.actor, &f).await?))
}

/// Records a pre-triage and routes the patient.
#[utoipa::path(post, path = "/api/triage", tag = "triage", request_body = TriageForm, responses((status = 201, body = TriageView)))]
pub async fn record(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(f): JsonBody<TriageForm>,
) -> Result<Response, ApiError> {
    let v: TriageView = dayi_app::triage::record(&st.app, &staff.actor, &f).await?;
    Ok((axum::http::StatusCode::CREATED, Json(v)).into_response())
}

/// A day's triage register with counts per route.
#[utoipa::path(get, path = "/api/triage", tag = "triage", params(RegisterQuery), responses((status = 200, body = Register)))]
pub async fn register(State(st): State<AppState>, staff: Staff, Query(q): Query<RegisterQuery>) -> ApiResult<Register> {
    let (day, route) = register_query(&q)?;
    Ok(Json(dayi_app::triage::register(&st.app, &staff.actor, &day, route).await?))
}
