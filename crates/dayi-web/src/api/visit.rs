//! The doctor's workstation and the catalogues over JSON.

use axum::Json;
use axum::extract::{Path, Query, State};
use dayi_app::visit::{self, CertificateForm, DiagnosisForm, OrderForm, Ordered, RecordForm, TemplateForm, VisitView};
use dayi_app::{catalog, records::Certificate};
use dayi_core::catalog::{Item, Kind};
use dayi_core::{DomainError, ErrorCode};
use serde::Deserialize;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::pages::parse_id;
use crate::principal::Staff;

/// Opens the visit of a called patient (the same visit again if open).
#[utoipa::path(post, path = "/api/visits/open/{booking_id}", tag = "visit", responses((status = 200, body = Object), (status = 409, description = "visit.not_called")))]
pub async fn open(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<VisitView> {
    Ok(Json(visit::open(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[utoipa::path(get, path = "/api/visits/{id}", tag = "visit", responses((status = 200, body = Object), (status = 404, description = "visit.unknown")))]
pub async fn get(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<VisitView> {
    Ok(Json(visit::view(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/visits/{id}/record", tag = "visit", request_body(content = Object), responses((status = 200, body = Object), (status = 409, description = "visit.finished")))]
pub async fn record(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RecordForm>,
) -> ApiResult<VisitView> {
    Ok(Json(visit::save(&st.app, &staff.actor, parse_id(&id)?, &b).await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DiagnosesIn {
    pub diagnoses: Vec<DiagnosisForm>,
}

/// Replaces the diagnoses (the first western one is primary).
#[utoipa::path(post, path = "/api/visits/{id}/diagnoses", tag = "visit", request_body(content = Object, description = "diagnoses: [{kind, code}]"), responses((status = 200, body = Object), (status = 422, description = "catalog.unknown")))]
pub async fn diagnoses(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<DiagnosesIn>,
) -> ApiResult<VisitView> {
    Ok(Json(visit::diagnose(&st.app, &staff.actor, parse_id(&id)?, &b.diagnoses).await?))
}

/// Orders one item; warnings refuse it until confirmed with a reason.
#[utoipa::path(post, path = "/api/visits/{id}/orders", tag = "visit", request_body(content = Object), responses((status = 200, body = Object), (status = 422, description = "order.dose, order.allergy, order.duplicate, order.dose_over_limit, order.dose_absurd")))]
pub async fn order(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OrderForm>,
) -> ApiResult<Ordered> {
    Ok(Json(visit::order(&st.app, &staff.actor, parse_id(&id)?, &b).await?))
}

#[utoipa::path(post, path = "/api/visits/{id}/orders/{order}/cancel", tag = "visit", responses((status = 200, body = Object), (status = 409, description = "order.paid")))]
pub async fn cancel(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, order)): Path<(String, String)>,
) -> ApiResult<VisitView> {
    Ok(Json(visit::cancel_order(&st.app, &staff.actor, parse_id(&id)?, parse_id(&order)?).await?))
}

/// Marks a paid order carried out.
#[utoipa::path(post, path = "/api/visits/{id}/orders/{order}/execute", tag = "visit", responses((status = 200, body = Object)))]
pub async fn execute(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, order)): Path<(String, String)>,
) -> ApiResult<serde_json::Value> {
    visit::execute(&st.app, &staff.actor, parse_id(&order)?, parse_id(&id)?).await?;
    Ok(Json(serde_json::json!({"ok": true})))
}

/// Finishes the visit and the patient's queue entry.
#[utoipa::path(post, path = "/api/visits/{id}/finish", tag = "visit", responses((status = 200, body = Object), (status = 422, description = "visit.no_diagnosis")))]
pub async fn finish(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<VisitView> {
    Ok(Json(visit::finish(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[utoipa::path(post, path = "/api/visits/{id}/certificates", tag = "visit", request_body(content = Object, description = "kind: diagnosis | sick_leave, days, note"), responses((status = 200, body = Object)))]
pub async fn certify(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CertificateForm>,
) -> ApiResult<Certificate> {
    Ok(Json(visit::certify(&st.app, &staff.actor, parse_id(&id)?, &b).await?))
}

#[utoipa::path(post, path = "/api/visit-templates", tag = "visit", request_body(content = Object), responses((status = 200, body = Object)))]
pub async fn add_template(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<TemplateForm>,
) -> ApiResult<dayi_app::records::VisitTemplate> {
    Ok(Json(visit::add_template(&st.app, &staff.actor, &b).await?))
}

#[utoipa::path(get, path = "/api/visit-templates/{dept_id}", tag = "visit", responses((status = 200, body = Object)))]
pub async fn templates(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<Vec<dayi_app::records::VisitTemplate>> {
    Ok(Json(visit::templates(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchIn {
    /// diagnosis, tcm, charge_item, drug, technique; several comma-separated.
    pub kind: String,
    pub q: String,
    pub limit: Option<usize>,
}

/// Searches the catalogues by code, pinyin initials or name.
#[utoipa::path(get, path = "/api/catalog", tag = "catalog", params(("kind" = String, Query), ("q" = String, Query)), responses((status = 200, body = Object)))]
pub async fn search(State(st): State<AppState>, staff: Staff, Query(q): Query<SearchIn>) -> ApiResult<Vec<Item>> {
    let kinds = q
        .kind
        .split(',')
        .filter(|k| !k.trim().is_empty())
        .map(|k| Kind::parse(k.trim()).ok_or_else(|| DomainError::field("kind", ErrorCode::InvalidFormat, [k])))
        .collect::<Result<Vec<_>, _>>()?;
    let kinds = if kinds.is_empty() { Kind::ALL.to_vec() } else { kinds };
    Ok(Json(catalog::search(&st.app, &staff.actor, &kinds, &q.q, q.limit.unwrap_or(20)).await?))
}

/// A new dated row for one item (price, name, class, active).
#[utoipa::path(post, path = "/api/catalog", tag = "catalog", request_body(content = Object), responses((status = 200, body = Object), (status = 422, description = "catalog.date, catalog.price")))]
pub async fn edit(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<catalog::EditForm>,
) -> ApiResult<Item> {
    Ok(Json(catalog::edit(&st.app, &staff.actor, &b).await?))
}
