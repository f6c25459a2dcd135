//! The patient portal over JSON (the WeChat mini-program and the phone pages
//! talk to the same use cases). Sign-in sets the `dayi_portal` cookie and
//! answers the CSRF token every later change must carry in `X-CSRF-Token`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use dayi_app::booking::{BookingView, SessionView, Ticketed};
use dayi_core::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::booking::ReasonIn;
use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::{BookForm, parse_id};
use crate::params::{Window, window};
use crate::principal::{Ctx, PORTAL_COOKIE, PortalUser, cookie};

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct CodeIn {
    /// Organisation code, e.g. `wsxrmyy`.
    pub org: String,
    pub phone: String,
}

async fn org_id(st: &AppState, code: &str) -> Result<uuid::Uuid, DomainError> {
    dayi_app::tenancy::by_code(&st.app, code.trim())
        .await?
        .map(|o| o.org_id)
        .ok_or_else(|| DomainError::field("org", ErrorCode::OrgUnknown, [""; 0]))
}

/// Sends a sign-in code by text message.
#[utoipa::path(post, path = "/portal/api/code", tag = "portal", request_body = CodeIn,
    responses((status = 204, description = "sent"), (status = 429, description = "asked again too soon")))]
pub async fn code(State(st): State<AppState>, ctx: Ctx, JsonBody(b): JsonBody<CodeIn>) -> Result<Response, ApiError> {
    let org = org_id(&st, &b.org).await?;
    dayi_app::portal::request_code(&st.app, org, &b.phone, &ctx.origin.ip).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(default)]
pub struct LoginIn {
    pub org: String,
    /// With `code`: sign in by phone.
    pub phone: String,
    pub code: String,
    /// With `card_no`: sign in by resident ID number and hospital card number.
    pub id_number: String,
    pub card_no: String,
}

/// Signs a patient in; sets the portal cookie.
#[utoipa::path(post, path = "/portal/api/login", tag = "portal", request_body = LoginIn,
    responses((status = 200, body = SignedIn, description = "signed in; the `dayi_portal` cookie is set"), (status = 401, description = "wrong code or card")))]
pub async fn login(State(st): State<AppState>, ctx: Ctx, JsonBody(b): JsonBody<LoginIn>) -> Result<Response, ApiError> {
    let org = org_id(&st, &b.org).await?;
    let ip = &ctx.origin.ip;
    let value = if b.phone.trim().is_empty() {
        dayi_app::portal::login_card(&st.app, org, &b.id_number, &b.card_no, ip).await?
    } else {
        dayi_app::portal::login_code(&st.app, org, &b.phone, &b.code, ip).await?
    };
    let p = dayi_app::portal::resolve(&st.app, &value, ip).await?;
    let mut r = Json(SignedIn { patient_id: p.patient.id, csrf: p.csrf }).into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie(PORTAL_COOKIE, &value, st.web.secure_cookies, "Lax", None));
    Ok(r)
}

#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    pub patient_id: uuid::Uuid,
    /// Send it as `X-CSRF-Token` with every change.
    pub csrf: String,
}

/// Sessions open for booking, with free slots.
#[utoipa::path(get, path = "/portal/api/sessions", tag = "portal", params(Window), responses((status = 200, body = Vec<SessionView>)))]
pub async fn sessions(
    State(st): State<AppState>,
    u: PortalUser,
    Query(w): Query<Window>,
) -> ApiResult<Vec<SessionView>> {
    let (from, to, dept) = window(&w)?;
    Ok(Json(dayi_app::roster::sessions(&st.app, u.ctx.actor.org_id, from, to, dept).await?))
}

/// Books for the account holder or a family member.
#[utoipa::path(post, path = "/portal/api/bookings", tag = "portal", request_body(content = BookForm, description = "session_id, patient_id (the holder or a family member), seq (optional); channel and on_behalf are set by the portal"),
    responses((status = 201, body = BookingView)))]
pub async fn book(
    State(st): State<AppState>,
    u: PortalUser,
    JsonBody(b): JsonBody<BookForm>,
) -> Result<Response, ApiError> {
    let b = dayi_app::booking::book(&st.app, &u.ctx.actor, &b.parse()?).await?;
    Ok((StatusCode::CREATED, Json(BookingView::new(&b))).into_response())
}

/// The bookings of the account holder and family.
#[utoipa::path(get, path = "/portal/api/bookings", tag = "portal", responses((status = 200, body = Vec<Ticketed>)))]
pub async fn bookings(State(st): State<AppState>, u: PortalUser) -> ApiResult<Vec<Ticketed>> {
    Ok(Json(dayi_app::portal::bookings(&st.app, &u.ctx).await?))
}

/// Cancels a booking before the deadline.
#[utoipa::path(post, path = "/portal/api/bookings/{id}/cancel", tag = "portal", params(("id" = uuid::Uuid, Path, description = "booking id")), request_body = ReasonIn,
    responses((status = 200, body = BookingView), (status = 422, description = "too late")))]
pub async fn cancel(
    State(st): State<AppState>,
    u: PortalUser,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<ReasonIn>,
) -> ApiResult<BookingView> {
    Ok(Json(BookingView::new(&dayi_app::booking::cancel(&st.app, &u.ctx.actor, parse_id(&id)?, &b.reason).await?)))
}
