//! Billing over JSON: what is owed, payment at the counter and online,
//! refunds, receipts, the daily closing, and the payment providers' callbacks.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dayi_app::billing::{self, ClosingView, Due, PayForm, Receipt, RefundForm};
use dayi_app::pay::Callback;
use dayi_core::billing::Totals;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::base_of;
use crate::params::parse_id;
use crate::principal::{PortalUser, Staff};

/// The request key from the `Idempotency-Key` header, unless the body has one.
fn keyed(headers: &HeaderMap, mut f: PayForm) -> PayForm {
    if f.key.trim().is_empty()
        && let Some(k) = headers.get("idempotency-key").and_then(|h| h.to_str().ok())
    {
        f.key = k.to_string();
    }
    f
}

/// What a patient owes now.
#[utoipa::path(get, path = "/api/billing/due/{id}", tag = "billing", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Due)))]
pub async fn due(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Due> {
    Ok(Json(billing::due(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Pays at the counter (cash or card). Idempotent by `Idempotency-Key`.
#[utoipa::path(post, path = "/api/billing/pay", tag = "billing",
    params(("Idempotency-Key" = Option<String>, Header, description = "the request key, unless the body has `key`")),
    request_body(content = PayForm, description = "method: cash, card or online; tendered: cash handed over, yuan"),
    responses((status = 200, body = Receipt), (status = 409, description = "billing.already_paid, billing.amount_changed")))]
pub async fn pay(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    JsonBody(b): JsonBody<PayForm>,
) -> ApiResult<Receipt> {
    let f = keyed(&headers, b);
    let r = if f.method == "online" {
        billing::pay_online(&st.app, &staff.actor, &f, &base_of(&headers), "/billing").await?
    } else {
        billing::pay(&st.app, &staff.actor, &f).await?
    };
    Ok(Json(r))
}

/// Refunds paid, unexecuted charges of one payment. Idempotent by `Idempotency-Key`.
#[utoipa::path(post, path = "/api/billing/refund", tag = "billing",
    params(("Idempotency-Key" = Option<String>, Header, description = "the request key, unless the body has `key`")),
    request_body = RefundForm, responses((status = 200, body = Receipt), (status = 422, description = "billing.refund_too_much")))]
pub async fn refund(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    JsonBody(mut b): JsonBody<RefundForm>,
) -> ApiResult<Receipt> {
    if b.key.trim().is_empty()
        && let Some(k) = headers.get("idempotency-key").and_then(|h| h.to_str().ok())
    {
        b.key = k.to_string();
    }
    Ok(Json(billing::refund(&st.app, &staff.actor, &b).await?))
}

/// A payment with its receipt lines.
#[utoipa::path(get, path = "/api/billing/payments/{id}", tag = "billing", params(("id" = Uuid, Path, description = "payment id")), responses((status = 200, body = Receipt)))]
pub async fn receipt(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Receipt> {
    Ok(Json(billing::receipt(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// Closes an unpaid online payment, releasing its charges.
#[utoipa::path(post, path = "/api/billing/payments/{id}/close", tag = "billing", params(("id" = Uuid, Path, description = "payment id")), responses((status = 200, body = Receipt)))]
pub async fn close(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Receipt> {
    Ok(Json(billing::close(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// A patient's payments.
#[utoipa::path(get, path = "/api/billing/patients/{id}/payments", tag = "billing", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Vec<Receipt>)))]
pub async fn payments(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<Vec<Receipt>> {
    Ok(Json(billing::payments(&st.app, &staff.actor, parse_id(&id)?).await?))
}

#[derive(Deserialize, Default, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AccountIn {
    /// The online account instead of the cashier's own till.
    pub online: bool,
}

/// What the till (or the online account) took since its last closing.
#[utoipa::path(get, path = "/api/billing/open", tag = "billing", params(AccountIn), responses((status = 200, body = Totals)))]
pub async fn open(State(st): State<AppState>, staff: Staff, Query(q): Query<AccountIn>) -> ApiResult<Totals> {
    let account = if q.online { billing::ONLINE.to_string() } else { staff.actor.username.clone() };
    Ok(Json(billing::open_totals(&st.app, &staff.actor, &account).await?))
}

/// The daily closing (日结) of the caller's till or the online account.
#[utoipa::path(post, path = "/api/billing/closings", tag = "billing", request_body = AccountIn, responses((status = 200, body = ClosingView)))]
pub async fn close_day(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<AccountIn>,
) -> ApiResult<ClosingView> {
    Ok(Json(billing::close_day(&st.app, &staff.actor, b.online).await?))
}

/// A daily closing, checked against its rows.
#[utoipa::path(get, path = "/api/billing/closings/{id}", tag = "billing", params(("id" = Uuid, Path, description = "closing id")), responses((status = 200, body = ClosingView)))]
pub async fn closing(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> ApiResult<ClosingView> {
    Ok(Json(billing::closing(&st.app, &staff.actor, parse_id(&id)?).await?))
}

/// A payment provider's callback, verified by its signature.
#[utoipa::path(post, path = "/api/pay/notify/{provider}/{org}", tag = "billing",
    params(("provider" = String, Path, description = "`local` or `wechat`"), ("org" = Uuid, Path, description = "organisation id")),
    request_body(content = String, content_type = "application/json", description = "the provider's notification, as it sends it"),
    responses((status = 200, body = serde_json::Value, description = "taken; the acknowledgement the provider expects"), (status = 401, description = "billing.signature")))]
pub async fn notify(
    State(st): State<AppState>,
    Path((provider, org)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let org = match parse_id(&org) {
        Ok(o) => o,
        Err(e) => return ApiError(e).into_response(),
    };
    let cb = Callback {
        headers: headers.iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect(),
        body: body.to_vec(),
    };
    match billing::notify(&st.app, &provider, org, &cb).await {
        Ok((status, body)) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), [("content-type", "application/json")], body)
                .into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// What the patient (or their family) owes, on the phone.
#[utoipa::path(get, path = "/portal/api/due/{id}", tag = "portal", params(("id" = Uuid, Path, description = "patient id: the holder or a family member")), responses((status = 200, body = Due)))]
pub async fn portal_due(State(st): State<AppState>, u: PortalUser, Path(id): Path<String>) -> ApiResult<Due> {
    Ok(Json(billing::due(&st.app, &u.ctx.actor, parse_id(&id)?).await?))
}

/// Starts an online payment from the phone; answers where to pay.
#[utoipa::path(post, path = "/portal/api/pay", tag = "portal",
    params(("Idempotency-Key" = Option<String>, Header, description = "the request key, unless the body has `key`")),
    request_body(content = PayForm, description = "method is always online here"), responses((status = 200, body = Receipt)))]
pub async fn portal_pay(
    State(st): State<AppState>,
    u: PortalUser,
    headers: HeaderMap,
    JsonBody(b): JsonBody<PayForm>,
) -> ApiResult<Receipt> {
    let f = keyed(&headers, b);
    Ok(Json(billing::pay_online(&st.app, &u.ctx.actor, &f, &base_of(&headers), "/portal/bills").await?))
}

/// The payment as it stands (asking the provider when still unpaid).
#[utoipa::path(get, path = "/portal/api/payments/{id}", tag = "portal", params(("id" = Uuid, Path, description = "payment id")), responses((status = 200, body = Receipt)))]
pub async fn portal_payment(State(st): State<AppState>, u: PortalUser, Path(id): Path<String>) -> ApiResult<Receipt> {
    Ok(Json(billing::refresh(&st.app, &u.ctx.actor, parse_id(&id)?).await?))
}

/// The payments of the holder or a family member.
#[utoipa::path(get, path = "/portal/api/patients/{id}/payments", tag = "portal", params(("id" = Uuid, Path, description = "patient id")), responses((status = 200, body = Vec<Receipt>)))]
pub async fn portal_payments(
    State(st): State<AppState>,
    u: PortalUser,
    Path(id): Path<String>,
) -> ApiResult<Vec<Receipt>> {
    Ok(Json(billing::payments(&st.app, &u.ctx.actor, parse_id(&id)?).await?))
}
