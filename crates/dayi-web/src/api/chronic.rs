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
use serde::Deserialize;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::pages::chronic::IndicatorParams;
use crate::pages::parse_id;
use crate::principal::Staff;

#[utoipa::path(get, path = "/api/chronic/patients/{patient_id}", tag = "chronic", responses((status = 200, body = Object)))]
pub async fn file(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<ChronicFile> {
    Ok(Json(chronic::file(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Enrols the patient for one disease.
#[utoipa::path(post, path = "/api/chronic/patients/{patient_id}/enrol", tag = "chronic", request_body(content = Object, description = "disease (htn|t2dm|lipid), diagnosed_on, source, doctor, village, related[]"), responses((status = 200, body = Object), (status = 409, description = "chronic.enrolled"), (status = 422, description = "chronic.age, chronic.future_date")))]
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
#[utoipa::path(post, path = "/api/chronic/patients/{patient_id}/followups", tag = "chronic", request_body(content = Object, description = "visited_on, mode (clinic|home|phone), sbp, dbp, fbg, …, signs[], adverse, complication"), responses((status = 200, body = Object), (status = 422, description = "chronic.range, chronic.before_diagnosis, chronic.not_enrolled")))]
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
#[utoipa::path(post, path = "/api/chronic/patients/{patient_id}/screenings", tag = "chronic", request_body(content = Object, description = "screened_on, sbp, dbp, fbg, tc, ldl, tg, hdl, weight, height, waist, family_history, high_salt, drinking"), responses((status = 200, body = Object)))]
pub async fn screen(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(mut b): JsonBody<ScreenForm>,
) -> ApiResult<ChronicScreening> {
    b.patient_id = parse_id(&id)?.to_string();
    Ok(Json(chronic::screen(&st.app, &staff.actor, &b).await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Reason {
    reason: String,
}

#[utoipa::path(post, path = "/api/chronic/enrolments/{enrolment_id}/close", tag = "chronic", request_body(content = Object, description = "reason"), responses((status = 200, body = Object)))]
pub async fn close(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<Reason>,
) -> ApiResult<ChronicEnrolment> {
    Ok(Json(chronic::close(&st.app, &staff.actor, parse_id(&id)?, &b.reason).await?))
}

#[utoipa::path(post, path = "/api/chronic/proposals/{screening_id}/dismiss", tag = "chronic", responses((status = 200, body = Object)))]
pub async fn dismiss(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<serde_json::Value> {
    chronic::dismiss(&st.app, &staff.actor, parse_id(&id)?).await?;
    Ok(Json(serde_json::json!({"dismissed": id})))
}

#[utoipa::path(get, path = "/api/chronic/proposals", tag = "chronic", responses((status = 200, body = Object)))]
pub async fn proposals(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<ProposalLine>> {
    Ok(Json(chronic::proposals(&st.app, &staff.actor).await?))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WorkParams {
    list: String,
    doctor: String,
    village: String,
    page: String,
}

/// A page of a worklist: `due`, `overdue`, `never`, `checkup` or `referral`.
#[utoipa::path(get, path = "/api/chronic/worklist", tag = "chronic", params(("list" = String, Query, description = "due|overdue|never|checkup|referral"), ("doctor" = Option<String>, Query), ("village" = Option<String>, Query), ("page" = Option<u32>, Query, description = "from 1; 50 lines a page")), responses((status = 200, body = Object)))]
pub async fn worklist(State(st): State<AppState>, staff: Staff, Query(q): Query<WorkParams>) -> ApiResult<WorkPage> {
    // Permission first: a page number is input, and input is read only for those allowed.
    chronic::require_work(&st.app, &staff.actor).await?;
    let lines = Lines::page(&q.page)?;
    Ok(Json(chronic::worklist(&st.app, &staff.actor, &q.list, Some(&q.doctor), Some(&q.village), lines).await?))
}

#[utoipa::path(get, path = "/api/chronic/indicators", tag = "chronic", params(("year" = Option<String>, Query, description = "YYYY; default this year"), ("group" = Option<String>, Query, description = "org|doctor|village")), responses((status = 200, body = Object)))]
pub async fn indicators(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<IndicatorParams>,
) -> ApiResult<Indicators> {
    Ok(Json(chronic::indicators(&st.app, &staff.actor, &q.query()).await?))
}

/// The patients behind one number of the indicator table.
#[utoipa::path(get, path = "/api/chronic/indicators/patients", tag = "chronic", params(("year" = Option<String>, Query, description = "YYYY; default this year"), ("group" = Option<String>, Query), ("key" = Option<String>, Query), ("disease" = String, Query), ("measure" = String, Query, description = "managed|standard|controlled|lipid_tested|not_standard|not_controlled")), responses((status = 200, body = Object)))]
pub async fn behind(
    State(st): State<AppState>,
    staff: Staff,
    Query(q): Query<IndicatorParams>,
) -> ApiResult<Vec<PatientLine>> {
    Ok(Json(chronic::behind(&st.app, &staff.actor, &q.query(), &q.key, &q.disease, &q.measure).await?))
}

#[utoipa::path(get, path = "/api/chronic/area", tag = "chronic", responses((status = 200, body = Object)))]
pub async fn area(State(st): State<AppState>, staff: Staff) -> ApiResult<Area> {
    Ok(Json(chronic::area_for(&st.app, &staff.actor).await?))
}

/// Sets the tier (centre|base|home) and the expected patients per disease, for the organisation and its villages.
#[utoipa::path(put, path = "/api/chronic/area", tag = "chronic", request_body(content = Object, description = "tier, expected {htn, t2dm, lipid}, villages [{name, expected}]"), responses((status = 200, body = Object)))]
pub async fn set_area(State(st): State<AppState>, staff: Staff, JsonBody(b): JsonBody<Area>) -> ApiResult<Area> {
    Ok(Json(chronic::set_area(&st.app, &staff.actor, &b).await?))
}
