//! Chronic-disease management over JSON (三高共管): the patient's file,
//! enrolment, follow-ups, screening readings, worklists, proposals and the
//! indicators with the patients behind them.

use axum::Json;
use axum::extract::{Path, Query, State};
use dayi_app::chronic::{
    self, Area, ChronicFile, EnrolForm, FollowupForm, Indicators, Lines, Outcome, PatientLine, ProposalLine,
    ScreenForm, WorkPage,
};
use dayi_app::records::{ChronicEnrolment, ChronicScreening};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::params::IndicatorParams;
use crate::params::parse_id;
use crate::principal::Staff;

/// The patient's chronic-disease file: records, follow-ups, readings and charts.
#[utoipa::path(get, path = "/api/chronic/patients/{id}", tag = "chronic", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = ChronicFile)))]
pub async fn file(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<ChronicFile> {
    Ok(Json(chronic::file(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Enrols the patient for one disease.
#[utoipa::path(post, path = "/api/chronic/patients/{id}/enrol", tag = "chronic", params(("id" = Uuid, Path, description = "patient id")),
    request_body(content = EnrolForm, description = "disease: htn, t2dm or lipid; the patient is the one in the path"),
    responses((status = 200, body = ChronicEnrolment), (status = 409, description = "chronic.enrolled"), (status = 422, description = "chronic.age, chronic.future_date")))]
pub async fn enrol(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(mut b): JsonBody<EnrolForm>,
) -> ApiResult<ChronicEnrolment> {
    b.patient_id = parse_id(&id)?.to_string();
    Ok(Json(chronic::enrol(&st.app, &staff.actor, &b).await?))
}

/// Records a follow-up covering the patient's active records (or those named in `diseases`).
#[utoipa::path(post, path = "/api/chronic/patients/{id}/followups", tag = "chronic", params(("id" = Uuid, Path, description = "patient id")),
    request_body(content = FollowupForm, description = "mode: clinic, home or phone; the patient is the one in the path"),
    responses((status = 200, body = Outcome), (status = 422, description = "chronic.range, chronic.before_diagnosis, chronic.not_enrolled")))]
pub async fn followup(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(mut b): JsonBody<FollowupForm>,
) -> ApiResult<Outcome> {
    b.patient_id = parse_id(&id)?.to_string();
    Ok(Json(chronic::record(&st.app, &staff.actor, &b).await?))
}

/// A screening reading (the annual free BP check).
#[utoipa::path(post, path = "/api/chronic/patients/{id}/screenings", tag = "chronic", params(("id" = Uuid, Path, description = "patient id")),
    request_body(content = ScreenForm, description = "the patient is the one in the path"), responses((status = 200, body = ChronicScreening)))]
pub async fn screen(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(mut b): JsonBody<ScreenForm>,
) -> ApiResult<ChronicScreening> {
    b.patient_id = parse_id(&id)?.to_string();
    Ok(Json(chronic::screen(&st.app, &staff.actor, &b).await?))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct Reason {
    reason: String,
}

/// Closes a record (moved away, died, diagnosis withdrawn).
#[utoipa::path(post, path = "/api/chronic/enrolments/{id}/close", tag = "chronic", params(("id" = Uuid, Path, description = "enrolment id")),
    request_body = Reason, responses((status = 200, body = ChronicEnrolment)))]
pub async fn close(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Reason>,
) -> ApiResult<ChronicEnrolment> {
    Ok(Json(chronic::close(&st.app, &staff.actor, parse_id(&id)?, &b.reason).await?))
}

/// Dismisses a screening's proposal to enrol.
#[utoipa::path(post, path = "/api/chronic/proposals/{id}/dismiss", tag = "chronic", params(("id" = Uuid, Path, description = "screening id")),
    responses((status = 200, body = Dismissed)))]
pub async fn dismiss(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Dismissed> {
    let id = parse_id(&id)?;
    chronic::dismiss(&st.app, &staff.actor, id).await?;
    Ok(Json(Dismissed { dismissed: id }))
}

#[derive(Serialize, ToSchema)]
pub struct Dismissed {
    /// The screening whose proposal was dismissed.
    pub dismissed: Uuid,
}

/// Screenings that suggest a disease, not yet enrolled or dismissed.
#[utoipa::path(get, path = "/api/chronic/proposals", tag = "chronic", responses((status = 200, body = Vec<ProposalLine>)))]
pub async fn proposals(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<ProposalLine>> {
    Ok(Json(chronic::proposals(&st.app, &staff.actor).await?))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct WorkParams {
    /// `due`, `overdue`, `never`, `checkup` or `referral`.
    list: String,
    /// The managing doctor's user name.
    doctor: String,
    village: String,
    /// From 1; 50 lines a page.
    #[param(value_type = Option<u32>, minimum = 1)]
    page: String,
}

/// A page of a worklist: `due`, `overdue`, `never`, `checkup` or `referral`.
#[utoipa::path(get, path = "/api/chronic/worklist", tag = "chronic", params(WorkParams), responses((status = 200, body = WorkPage)))]
pub async fn worklist(State(st): State<AppState>, staff: Staff, Query(q): Query<WorkParams>) -> ApiResult<WorkPage> {
    // Permission first: a page number is input, and input is read only for those allowed.
    chronic::require_work(&st.app, &staff.actor).await?;
    let lines = Lines::page(&q.page)?;
    Ok(Json(chronic::worklist(&st.app, &staff.actor, &q.list, Some(&q.doctor), Some(&q.village), lines).await?))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct YearParams {
    /// `YYYY`; default this year (so far).
    year: String,
    /// `org` (default), `doctor` or `village`.
    group: String,
}

/// The management, standard-management and control rates of a year (基层高血压/糖尿病管理指标).
#[utoipa::path(get, path = "/api/chronic/indicators", tag = "chronic", params(YearParams), responses((status = 200, body = Indicators)))]
pub async fn indicators(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<YearParams>,
) -> ApiResult<Indicators> {
    let q = IndicatorParams { year: q.year, group: q.group, ..IndicatorParams::default() };
    Ok(Json(chronic::indicators(&st.app, &staff.actor, &q.query()).await?))
}

/// The patients behind one number of the indicator table.
#[utoipa::path(get, path = "/api/chronic/indicators/patients", tag = "chronic", params(IndicatorParams), responses((status = 200, body = Vec<PatientLine>)))]
pub async fn behind(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<IndicatorParams>,
) -> ApiResult<Vec<PatientLine>> {
    Ok(Json(chronic::behind(&st.app, &staff.actor, &q.query(), &q.key, &q.disease, &q.measure).await?))
}

/// The organisation's tier and the expected patients of its area.
#[utoipa::path(get, path = "/api/chronic/area", tag = "chronic", responses((status = 200, body = Area)))]
pub async fn area(State(st): State<AppState>, staff: Staff) -> ApiResult<Area> {
    Ok(Json(chronic::area_for(&st.app, &staff.actor).await?))
}

/// Sets the tier (centre|base|home) and the expected patients per disease, for the organisation and its villages.
#[utoipa::path(put, path = "/api/chronic/area", tag = "chronic", request_body(content = Area, description = "expected: patients per disease code (htn, t2dm, lipid)"), responses((status = 200, body = Area)))]
pub async fn set_area(State(st): State<AppState>, staff: Staff, JsonBody(b): JsonBody<Area>) -> ApiResult<Area> {
    Ok(Json(chronic::set_area(&st.app, &staff.actor, &b).await?))
}
