//! Lab results over JSON: the collection worklist, specimens, results by hand,
//! verification, the published results and their trend, critical values.

use axum::Json;
use axum::extract::{Path, State};
use dayi_app::lab::alert::AlertLine;
use dayi_app::lab::result::{self, Entry, ResultLine, SpecimenView, Stored, TestView};
use dayi_app::lab::{alert, specimen};
use dayi_app::records::{LabAlert, Specimen};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::params::parse_id;
use crate::principal::{PortalUser, Staff};

/// Visits with lab orders waiting to be drawn.
#[utoipa::path(get, path = "/api/lab/worklist", tag = "lab", responses((status = 200, body = Vec<specimen::WorkLine>)))]
pub async fn worklist(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<specimen::WorkLine>> {
    Ok(Json(specimen::worklist(&st.app, &staff.actor).await?))
}

/// Draws a visit's paid lab orders into labelled specimens.
#[utoipa::path(post, path = "/api/lab/visits/{id}/collect", tag = "lab", params(("id" = Uuid, Path, description = "visit id")),
    responses((status = 200, body = Vec<Specimen>), (status = 409, description = "lab.unpaid, lab.nothing_to_collect")))]
pub async fn collect(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<Specimen>> {
    Ok(Json(specimen::collect(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// The lab signs for a specimen.
#[utoipa::path(post, path = "/api/lab/specimens/{barcode}/receive", tag = "lab", params(("barcode" = String, Path, description = "the specimen's barcode")),
    responses((status = 200, body = Specimen), (status = 404, description = "lab.barcode_unknown")))]
pub async fn receive(State(st): State<AppState>, staff: Staff, Path(code): Path<String>) -> ApiResult<Specimen> {
    Ok(Json(specimen::receive(&st.app, &staff.actor, &code).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct RejectIn {
    /// Haemolysed, clotted, too little … (shown to the ward).
    pub reason: String,
}

/// Refuses a specimen; the orders can be drawn again.
#[utoipa::path(post, path = "/api/lab/specimens/{barcode}/reject", tag = "lab", params(("barcode" = String, Path, description = "the specimen's barcode")), request_body = RejectIn, responses((status = 200, body = Specimen)))]
pub async fn reject(
    State(st): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    JsonBody(b): JsonBody<RejectIn>,
) -> ApiResult<Specimen> {
    Ok(Json(specimen::reject(&st.app, &staff.actor, &code, &b.reason).await?))
}

/// A specimen with its tests, every result and correction.
#[utoipa::path(get, path = "/api/lab/specimens/{barcode}", tag = "lab", params(("barcode" = String, Path, description = "the specimen's barcode")), responses((status = 200, body = SpecimenView)))]
pub async fn show(State(st): State<AppState>, staff: Staff, Path(code): Path<String>) -> ApiResult<SpecimenView> {
    Ok(Json(result::specimen(&st.app, &staff.actor, &code).await?))
}

/// Results by hand for one specimen (a correction of verified ones needs `reason`).
#[utoipa::path(post, path = "/api/lab/results", tag = "lab", request_body(content = Entry, description = "item: the catalogue code or LOINC; unit empty for the catalogue's"),
    responses((status = 200, body = Stored), (status = 422, description = "lab.unit, lab.value, lab.item_unknown")))]
pub async fn enter(State(st): State<AppState>, staff: Staff, JsonBody(b): JsonBody<Entry>) -> ApiResult<Stored> {
    Ok(Json(result::enter(&st.app, &staff.actor, &b, "manual").await?))
}

/// A second technician verifies a test; its results are published.
#[utoipa::path(post, path = "/api/lab/tests/{id}/verify", tag = "lab", params(("id" = Uuid, Path, description = "the test's order id")),
    responses((status = 200, body = TestView), (status = 409, description = "lab.same_verifier, lab.incomplete")))]
pub async fn verify(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<TestView> {
    Ok(Json(result::verify(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// A patient's published results.
#[utoipa::path(get, path = "/api/lab/patients/{id}/results", tag = "lab", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Vec<TestView>)))]
pub async fn published(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<TestView>> {
    Ok(Json(result::published(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// One item's published values over time.
#[utoipa::path(get, path = "/api/lab/patients/{id}/trend/{item}", tag = "lab",
    params(("id" = Uuid, Path, description = "patient id"), ("item" = String, Path, description = "item code")), responses((status = 200, body = Vec<ResultLine>)))]
pub async fn trend(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Vec<ResultLine>> {
    Ok(Json(result::trend(&st.app, &staff.actor, parse_id(&id)?, &item).await?))
}

/// The caller's open critical values.
#[utoipa::path(get, path = "/api/lab/alerts", tag = "lab", responses((status = 200, body = Vec<AlertLine>)))]
pub async fn alerts(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<AlertLine>> {
    Ok(Json(alert::mine(&st.app, &staff.actor).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct AckIn {
    /// What was done about the value.
    pub note: String,
}

/// The doctor acknowledges a critical value.
#[utoipa::path(post, path = "/api/lab/alerts/{id}/ack", tag = "lab", params(("id" = Uuid, Path, description = "alert id")), request_body = AckIn,
    responses((status = 200, body = LabAlert), (status = 409, description = "lab.alert_done")))]
pub async fn ack(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<AckIn>,
) -> ApiResult<LabAlert> {
    Ok(Json(alert::acknowledge(&st.app, &staff.actor, parse_id(&id)?, &b.note).await?))
}

/// The patient's (or family member's) published results, on the phone.
#[utoipa::path(get, path = "/portal/api/lab/{id}", tag = "portal", params(("id" = Uuid, Path, description = "patient id: the holder or a family member")), responses((status = 200, body = Vec<TestView>)))]
pub async fn portal_results(
    State(st): State<AppState>,
    u: PortalUser,
    Path(id): Path<String>,
) -> ApiResult<Vec<TestView>> {
    Ok(Json(result::published(&st.app, &u.ctx.actor, parse_id(&id)?).await?))
}

/// One item's values over time, on the phone.
#[utoipa::path(get, path = "/portal/api/lab/{id}/trend/{item}", tag = "portal",
    params(("id" = Uuid, Path, description = "patient id"), ("item" = String, Path, description = "item code")), responses((status = 200, body = Vec<ResultLine>)))]
pub async fn portal_trend(
    State(st): State<AppState>,
    u: PortalUser,
    Path((id, item)): Path<(String, String)>,
) -> ApiResult<Vec<ResultLine>> {
    Ok(Json(result::trend(&st.app, &u.ctx.actor, parse_id(&id)?, &item).await?))
}
