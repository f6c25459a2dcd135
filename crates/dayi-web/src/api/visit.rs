//! The doctor's workstation and the catalogues over JSON.

use axum::Json;
use axum::extract::{Path, Query, State};
use dayi_app::catalog;
use dayi_app::records::{Certificate, VisitTemplate};
use dayi_app::visit::{self, CertificateForm, DiagnosisForm, OrderForm, Ordered, RecordForm, TemplateForm, VisitView};
use dayi_core::catalog::{Item, Kind};
use dayi_core::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::params::parse_id;
use crate::principal::Staff;

/// Opens the visit of a called patient (the same visit again if open).
#[utoipa::path(post, path = "/api/visits/open/{id}", tag = "visit", params(("id" = Uuid, Path, description = "booking id")),
    responses((status = 200, body = VisitView), (status = 409, description = "visit.not_called")))]
pub async fn open(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<VisitView> {
    Ok(Json(visit::open(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// A visit with its record, diagnoses, orders and certificates.
#[utoipa::path(get, path = "/api/visits/{id}", tag = "visit", params(("id" = Uuid, Path, description = "visit id")),
    responses((status = 200, body = VisitView), (status = 404, description = "visit.unknown")))]
pub async fn get(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<VisitView> {
    Ok(Json(visit::view(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Saves the record's text fields and vital signs.
#[utoipa::path(post, path = "/api/visits/{id}/record", tag = "visit", params(("id" = Uuid, Path, description = "visit id")), request_body = RecordForm,
    responses((status = 200, body = VisitView), (status = 409, description = "visit.finished")))]
pub async fn record(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<RecordForm>,
) -> ApiResult<VisitView> {
    Ok(Json(visit::save(&st.app, &staff.actor, parse_id(&id)?, &b).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct DiagnosesIn {
    pub diagnoses: Vec<DiagnosisForm>,
}

/// Replaces the diagnoses (the first western one is primary).
#[utoipa::path(post, path = "/api/visits/{id}/diagnoses", tag = "visit", params(("id" = Uuid, Path, description = "visit id")), request_body(content = DiagnosesIn, description = "kind: diagnosis (ICD-10) or tcm"),
    responses((status = 200, body = VisitView), (status = 422, description = "catalog.unknown")))]
pub async fn diagnoses(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<DiagnosesIn>,
) -> ApiResult<VisitView> {
    Ok(Json(visit::diagnose(&st.app, &staff.actor, parse_id(&id)?, &b.diagnoses).await?))
}

/// Orders one item; warnings refuse it until confirmed with a reason.
#[utoipa::path(post, path = "/api/visits/{id}/orders", tag = "visit", params(("id" = Uuid, Path, description = "visit id")), request_body = OrderForm,
    responses((status = 200, body = Ordered), (status = 422, description = "order.dose, order.allergy, order.duplicate, order.dose_over_limit, order.dose_absurd")))]
pub async fn order(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<OrderForm>,
) -> ApiResult<Ordered> {
    Ok(Json(visit::order(&st.app, &staff.actor, parse_id(&id)?, &b).await?))
}

/// Cancels an unpaid order.
#[utoipa::path(post, path = "/api/visits/{id}/orders/{order}/cancel", tag = "visit", params(("id" = Uuid, Path, description = "visit id"), ("order" = Uuid, Path, description = "order id")),
    responses((status = 200, body = VisitView), (status = 409, description = "order.paid")))]
pub async fn cancel(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, order)): Path<(String, String)>,
) -> ApiResult<VisitView> {
    Ok(Json(visit::cancel_order(&st.app, &staff.actor, parse_id(&id)?, parse_id(&order)?).await?))
}

/// Marks a paid order carried out.
#[utoipa::path(post, path = "/api/visits/{id}/orders/{order}/execute", tag = "visit", params(("id" = Uuid, Path, description = "visit id"), ("order" = Uuid, Path, description = "order id")),
    responses((status = 200, body = Done)))]
pub async fn execute(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, order)): Path<(String, String)>,
) -> ApiResult<Done> {
    visit::execute(&st.app, &staff.actor, parse_id(&order)?, parse_id(&id)?).await?;
    Ok(Json(Done { ok: true }))
}

#[derive(Serialize, ToSchema)]
pub struct Done {
    pub ok: bool,
}

/// Finishes the visit and the patient's queue entry.
#[utoipa::path(post, path = "/api/visits/{id}/finish", tag = "visit", params(("id" = Uuid, Path, description = "visit id")),
    responses((status = 200, body = VisitView), (status = 422, description = "visit.no_diagnosis")))]
pub async fn finish(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<VisitView> {
    Ok(Json(visit::finish(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Issues a certificate: diagnosis (诊断证明) or sick leave (病假证明, with days).
#[utoipa::path(post, path = "/api/visits/{id}/certificates", tag = "visit", params(("id" = Uuid, Path, description = "visit id")), request_body(content = CertificateForm, description = "kind: diagnosis | sick_leave"),
    responses((status = 200, body = Certificate)))]
pub async fn certify(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CertificateForm>,
) -> ApiResult<Certificate> {
    Ok(Json(visit::certify(&st.app, &staff.actor, parse_id(&id)?, &b).await?))
}

/// Saves a department's record template.
#[utoipa::path(post, path = "/api/visit-templates", tag = "visit", request_body = TemplateForm, responses((status = 200, body = VisitTemplate)))]
pub async fn add_template(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<TemplateForm>,
) -> ApiResult<VisitTemplate> {
    Ok(Json(visit::add_template(&st.app, &staff.actor, &b).await?))
}

/// A department's record templates.
#[utoipa::path(get, path = "/api/visit-templates/{id}", tag = "visit", params(("id" = Uuid, Path, description = "department id")),
    responses((status = 200, body = Vec<VisitTemplate>)))]
pub async fn templates(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> ApiResult<Vec<VisitTemplate>> {
    Ok(Json(visit::templates(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SearchIn {
    /// diagnosis, tcm, charge_item, drug, technique; several comma-separated.
    pub kind: String,
    /// Code, pinyin initials or part of the name.
    pub q: String,
    /// At most this many (default 20).
    pub limit: Option<usize>,
}

/// Searches the catalogues by code, pinyin initials or name.
#[utoipa::path(get, path = "/api/catalog", tag = "catalog", params(SearchIn), responses((status = 200, body = Vec<Item>)))]
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
#[utoipa::path(post, path = "/api/catalog", tag = "catalog", request_body(content = catalog::EditForm, description = "price in yuan; effective_from YYYY-MM-DD, not in the past"),
    responses((status = 200, body = Item), (status = 422, description = "catalog.date, catalog.price")))]
pub async fn edit(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<catalog::EditForm>,
) -> ApiResult<Item> {
    Ok(Json(catalog::edit(&st.app, &staff.actor, &b).await?))
}
