//! The health card over JSON: a patient's static and dynamic codes, the card-use log, and resolving
//! a scanned code.

use axum::Json;
use axum::extract::{Path, State};
use dayi_app::card::{Presented, Qr, Resolution};
use dayi_app::records::CardUse;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::params::parse_id;
use crate::principal::Staff;

#[derive(Serialize, ToSchema)]
pub struct QrOut {
    /// The QR plaintext: `<card id>:1` (static) or `<card id>:0:<expiry>:<signature>` (dynamic).
    pub text: String,
    pub svg: String,
    pub expires_at: Option<String>,
    pub minutes: Option<i64>,
}

pub(crate) fn qr_out(q: Qr) -> QrOut {
    QrOut { text: q.text, svg: q.svg, expires_at: q.expires_at.map(dayi_core::timefmt::show), minutes: q.minutes }
}

/// The health card's static QR code.
#[utoipa::path(get, path = "/api/patients/{id}/card/static", tag = "card", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = QrOut)))]
pub async fn static_code(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<QrOut> {
    Ok(Json(qr_out(dayi_app::card::static_code(&st.app, &staff.actor, parse_id(&id)?).await?)))
}

/// A fresh signed dynamic QR code, valid for the configured minutes.
#[utoipa::path(get, path = "/api/patients/{id}/card/dynamic", tag = "card", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = QrOut)))]
pub async fn dynamic_code(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<QrOut> {
    Ok(Json(qr_out(dayi_app::card::dynamic_code(&st.app, &staff.actor, parse_id(&id)?).await?)))
}

#[derive(Serialize, ToSchema)]
pub struct CardUseOut {
    pub at: String,
    pub code_kind: String,
    pub step: String,
    pub station: String,
    pub staff_id: Option<String>,
    pub on_behalf: bool,
}

/// Where and when the patient's codes were used (用卡记录).
#[utoipa::path(get, path = "/api/patients/{id}/card-uses", tag = "card", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Vec<CardUseOut>)))]
pub async fn uses(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<CardUseOut>> {
    let l: Vec<CardUse> = dayi_app::card::uses(&st.app, &staff.actor, parse_id(&id)?).await?;
    Ok(Json(
        l.iter()
            .map(|u| CardUseOut {
                at: dayi_core::timefmt::show(u.at),
                code_kind: u.code_kind.clone(),
                step: u.step.clone(),
                station: u.station.clone(),
                staff_id: u.staff_id.map(|s| s.to_string()),
                on_behalf: u.on_behalf,
            })
            .collect(),
    ))
}

/// One code for every station: a health-card QR (static or dynamic), a resident ID number, a
/// hospital card number, or (with `voucher: true`) an insurance voucher. Logged per care step.
#[utoipa::path(post, path = "/api/card/resolve", tag = "card",
    request_body(content = Presented, description = "step: registration|triage|consultation|lab|pharmacy|cashier|ward"),
    responses((status = 200, body = Resolution), (status = 404, description = "no patient for this code"), (status = 422, description = "tampered, expired or unrecognised code")))]
pub async fn resolve(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<Presented>,
) -> ApiResult<Resolution> {
    Ok(Json(dayi_app::card::resolve(&st.app, &staff.actor, &b).await?))
}
