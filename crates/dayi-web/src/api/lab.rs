//! Lab results over JSON: the collection worklist, specimens, results by hand,
//! verification, the published results and their trend, critical values.

use axum::Json;
use axum::extract::{Path, State};
use dayi_app::lab::alert::AlertLine;
use dayi_app::lab::result::{self, Entry, ResultLine, SpecimenView, Stored, TestView};
use dayi_app::lab::{alert, specimen};
use dayi_app::records::{LabAlert, Specimen};
use serde::Deserialize;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::pages::parse_id;
use crate::principal::{PortalUser, Staff};

#[utoipa::path(get, path = "/api/lab/worklist", tag = "lab", responses((status = 200, body = Object)))]
pub async fn worklist(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<specimen::WorkLine>> {
    Ok(Json(specimen::worklist(&st.app, &staff.actor).await?))
}

/// Draws a visit's paid lab orders into labelled specimens.
#[utoipa::path(post, path = "/api/lab/visits/{visit_id}/collect", tag = "lab", responses((status = 200, body = Object), (status = 409, description = "lab.unpaid, lab.nothing_to_collect")))]
pub async fn collect(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<Specimen>> {
    Ok(Json(specimen::collect(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/lab/specimens/{barcode}/receive", tag = "lab", responses((status = 200, body = Object), (status = 404, description = "lab.barcode_unknown")))]
pub async fn receive(State(st): State<AppState>, staff: Staff, Path(code): Path<String>) -> ApiResult<Specimen> {
    Ok(Json(specimen::receive(&st.app, &staff.actor, &code).await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Why {
    pub reason: String,
    pub note: String,
}

#[utoipa::path(post, path = "/api/lab/specimens/{barcode}/reject", tag = "lab", request_body(content = Object, description = "reason"), responses((status = 200, body = Object)))]
pub async fn reject(
    State(st): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    JsonBody(b): JsonBody<Why>,
) -> ApiResult<Specimen> {
    Ok(Json(specimen::reject(&st.app, &staff.actor, &code, &b.reason).await?))
}

#[utoipa::path(get, path = "/api/lab/specimens/{barcode}", tag = "lab", responses((status = 200, body = Object)))]
pub async fn show(State(st): State<AppState>, staff: Staff, Path(code): Path<String>) -> ApiResult<SpecimenView> {
    Ok(Json(result::specimen(&st.app, &staff.actor, &code).await?))
}

/// Results by hand for one specimen (a correction of verified ones needs `reason`).
#[utoipa::path(post, path = "/api/lab/results", tag = "lab", request_body(content = Object, description = "barcode, results: [{item, value, unit}], reason"), responses((status = 200, body = Object), (status = 422, description = "lab.unit, lab.value, lab.item_unknown")))]
pub async fn enter(State(st): State<AppState>, staff: Staff, JsonBody(b): JsonBody<Entry>) -> ApiResult<Stored> {
    Ok(Json(result::enter(&st.app, &staff.actor, &b, "manual").await?))
}

#[utoipa::path(post, path = "/api/lab/tests/{order_id}/verify", tag = "lab", responses((status = 200, body = Object), (status = 409, description = "lab.same_verifier, lab.incomplete")))]
pub async fn verify(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<TestView> {
    Ok(Json(result::verify(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/lab/patients/{patient_id}/results", tag = "lab", responses((status = 200, body = Object)))]
pub async fn published(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<TestView>> {
    Ok(Json(result::published(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/lab/patients/{patient_id}/trend/{item}", tag = "lab", responses((status = 200, body = Object)))]
pub async fn trend(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Vec<ResultLine>> {
    Ok(Json(result::trend(&st.app, &staff.actor, parse_id(&id)?, &item).await?))
}

/// The caller's open critical values.
#[utoipa::path(get, path = "/api/lab/alerts", tag = "lab", responses((status = 200, body = Object)))]
pub async fn alerts(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<AlertLine>> {
    Ok(Json(alert::mine(&st.app, &staff.actor).await?))
}

#[utoipa::path(post, path = "/api/lab/alerts/{id}/ack", tag = "lab", request_body(content = Object, description = "note"), responses((status = 200, body = Object), (status = 409, description = "lab.alert_done")))]
pub async fn ack(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Why>,
) -> ApiResult<LabAlert> {
    Ok(Json(alert::acknowledge(&st.app, &staff.actor, parse_id(&id)?, &b.note).await?))
}

/// The patient's (or family member's) published results, on the phone.
#[utoipa::path(get, path = "/portal/api/lab/{patient_id}", tag = "portal", responses((status = 200, body = Object)))]
pub async fn portal_results(
    State(st): State<AppState>,
    u: PortalUser,
    Path(id): Path<String>,
) -> ApiResult<Vec<TestView>> {
    Ok(Json(result::published(&st.app, &u.ctx.actor, parse_id(&id)?).await?))
}

#[utoipa::path(get, path = "/portal/api/lab/{patient_id}/trend/{item}", tag = "portal", responses((status = 200, body = Object)))]
pub async fn portal_trend(
    State(st): State<AppState>,
    u: PortalUser,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Vec<ResultLine>> {
    Ok(Json(result::trend(&st.app, &u.ctx.actor, parse_id(&id)?, &item).await?))
}
