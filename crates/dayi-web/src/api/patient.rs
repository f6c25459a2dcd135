//! The patient index and the health card over JSON. Sensitive fields come
//! masked; `POST /api/patients/{id}/unmask` shows them in full, audited.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dayi_app::patient::PatientView;
use dayi_app::records::Merge;
use dayi_core::patient::{Channel, NewPatient};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::parse_id;
use crate::principal::Staff;

/// Registers a patient. Birth date and sex may be left out when the ID number carries them.
#[utoipa::path(post, path = "/api/patients", tag = "patient",
    request_body(content = NewPatient, description = "sex: GB/T 2261.1 code; ethnicity: GB/T 3304; id_kind: GA/T 517"),
    responses((status = 201, body = PatientView, description = "the record, masked"), (status = 409, description = "ID number already registered; `existing_id` names the record"), (status = 422, description = "invalid fields")))]
pub async fn register(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<NewPatient>,
) -> Result<Response, ApiError> {
    let p = dayi_app::patient::register(&st.app, &staff.actor, &b, Channel::Api).await?;
    Ok((StatusCode::CREATED, Json(PatientView::new(&p, false))).into_response())
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Name, pinyin or initials, ID number or its last 4+ digits, phone, card number.
    #[serde(default)]
    pub q: String,
}

#[derive(Serialize, ToSchema)]
pub struct Found {
    pub items: Vec<PatientView>,
}

/// Searches the patient index (at most 20 results, masked).
#[utoipa::path(get, path = "/api/patients", tag = "patient", params(SearchParams), responses((status = 200, body = Found), (status = 422, description = "query too short")))]
pub async fn search(State(st): State<AppState>, staff: Staff, Query(q): Query<SearchParams>) -> ApiResult<Found> {
    Ok(Json(Found { items: dayi_app::patient::search(&st.app, &staff.actor, &q.q).await? }))
}

/// One record, masked (audited).
#[utoipa::path(get, path = "/api/patients/{id}", tag = "patient", params(("id" = Uuid, Path, description = "patient id")),
    responses((status = 200, body = PatientView), (status = 404, description = "no such patient")))]
pub async fn get(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<PatientView> {
    Ok(Json(dayi_app::patient::view(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct UnmaskIn {
    /// Why the full values are needed (kept in the audit log).
    #[serde(default)]
    pub reason: String,
}

/// The record with ID number and phones in full; needs `patient.unmask`, audited.
#[utoipa::path(post, path = "/api/patients/{id}/unmask", tag = "patient", params(("id" = Uuid, Path, description = "patient id")), request_body = UnmaskIn,
    responses((status = 200, body = PatientView), (status = 403, description = "role may not unmask")))]
pub async fn unmask(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<UnmaskIn>,
) -> ApiResult<PatientView> {
    Ok(Json(dayi_app::patient::unmask(&st.app, &staff.actor, parse_id(&id)?, &b.reason).await?))
}

/// Records that may be the same person (same name or pinyin and birth date, or same phone).
#[utoipa::path(get, path = "/api/patients/{id}/duplicates", tag = "patient", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Found)))]
pub async fn duplicates(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Found> {
    Ok(Json(Found { items: dayi_app::patient::duplicates_of(&st.app, &staff.actor, parse_id(&id)?).await? }))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct MergeIn {
    #[serde(default)]
    #[schema(value_type = uuid::Uuid)]
    pub survivor_id: String,
    #[serde(default)]
    #[schema(value_type = uuid::Uuid)]
    pub merged_id: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct MergeOut {
    pub id: String,
    pub survivor_id: String,
    pub merged_id: String,
    pub reason: String,
    pub merged_by: String,
    pub merged_at: String,
    pub undone_at: Option<String>,
}

fn merge_out(m: &Merge) -> MergeOut {
    MergeOut {
        id: m.id.to_string(),
        survivor_id: m.survivor_id.to_string(),
        merged_id: m.merged_id.to_string(),
        reason: m.reason.clone(),
        merged_by: m.merged_by.clone(),
        merged_at: dayi_core::timefmt::show(m.merged_at),
        undone_at: m.undone_at.map(dayi_core::timefmt::show),
    }
}

/// Merges a duplicate into the surviving record; every reference moves (needs `patient.merge`).
#[utoipa::path(post, path = "/api/patients/merges", tag = "patient", request_body = MergeIn, responses((status = 201, body = MergeOut), (status = 409, description = "already merged")))]
pub async fn merge(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<MergeIn>,
) -> Result<Response, ApiError> {
    dayi_app::patient::require_merge(&st.app, &staff.actor).await?;
    let (s, m) = (parse_id(&b.survivor_id)?, parse_id(&b.merged_id)?);
    let m = dayi_app::patient::merge(&st.app, &staff.actor, s, m, &b.reason).await?;
    Ok((StatusCode::CREATED, Json(merge_out(&m))).into_response())
}

/// Undoes a merge: exactly the moved references go back.
#[utoipa::path(post, path = "/api/patients/merges/{id}/undo", tag = "patient", params(("id" = Uuid, Path, description = "merge id")),
    responses((status = 200, body = MergeOut), (status = 409, description = "already undone")))]
pub async fn undo_merge(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<MergeOut> {
    Ok(Json(merge_out(&dayi_app::patient::undo_merge(&st.app, &staff.actor, parse_id(&id)?).await?)))
}
