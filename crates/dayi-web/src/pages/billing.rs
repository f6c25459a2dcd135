//! Billing pages (收费): the cashier's counter, receipts and refunds, the
//! daily closing; the patient's bills on the phone; and the local payment
//! provider's checkout page. Every payment form carries a request key made
//! when the form is shown, so a double click or a resubmitted form pays once.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::billing::{self, PayForm, Receipt, RefundForm};
use dayi_core::billing::PaymentStatus;
use dayi_core::billing::Totals;
use dayi_core::catalog::yuan;
use dayi_core::{DomainError, ErrorCode};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;
use uuid::Uuid;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, message, page};
use crate::AppState;
use crate::i18n::{t, tf};
use crate::params::base_of;
use crate::params::parse_id;
use crate::principal::{Ctx, PortalUser, Principal, Staff};
use crate::render::render;

/// A fresh request key for a payment or refund form.
fn new_key() -> String {
    Uuid::now_v7().simple().to_string()
}

/// Refusals a person can act on (shown on the page); the rest are error pages.
fn shown(e: &DomainError) -> bool {
    e.code.status() < 500 && e.code.status() != 403 || e.code == ErrorCode::BillingProvider
}

fn totals_view(t: &Totals) -> Value {
    let lines: Vec<Value> = t
        .lines
        .iter()
        .map(|l| {
            context! { method => l.method.zh(), paid => yuan(l.paid_fen), refunded => yuan(l.refunded_fen), net => yuan(l.net_fen) }
        })
        .collect();
    context! {
        lines => lines, paid => yuan(t.paid_fen), refunded => yuan(t.refunded_fen), net => yuan(t.net_fen),
        payments => t.payments, refunds => t.refunds,
    }
}

#[derive(Deserialize, Default)]
pub struct CounterQuery {
    #[serde(default)]
    patient: String,
    done: Option<String>,
}

/// The counter: a patient's bills, to pay in cash or by card.
async fn counter(st: &AppState, staff: &Staff, patient: Option<Uuid>, status: StatusCode, extra: Value) -> Response {
    match billing::counter(&st.app, &staff.actor, patient).await {
        Ok(c) => {
            let ctx = context! { key => new_key(), due => c.due.map(Serde), paid => Serde(c.paid) };
            page(st, staff, status, "billing.html", "/billing", context! { ..extra, ..ctx }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn desk(State(st): State<AppState>, staff: Staff, Query(q): Query<CounterQuery>) -> Response {
    let patient = Uuid::parse_str(&q.patient).ok();
    counter(&st, &staff, patient, StatusCode::OK, context! { notice => q.done }).await
}

/// Scans or types the patient's code at the counter.
pub async fn find(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    match billing::find(&st.app, &staff.actor, &f.get("code")).await {
        Ok(id) => Redirect::to(&format!("/billing?patient={id}")).into_response(),
        Err(e) if shown(&e) => {
            let extra = context! { scan => f.values(), scan_error => message(&e, staff.lang) };
            counter(&st, &staff, None, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

fn pay_form(f: &Fields) -> PayForm {
    PayForm {
        patient_id: f.get("patient_id"),
        charge_ids: f.all("charge_ids"),
        expected_fen: f.get("expected_fen").trim().parse().unwrap_or(-1),
        method: f.get("method"),
        tendered: f.get("tendered"),
        key: f.get("key"),
    }
}

pub async fn pay(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = pay_form(&f);
    match billing::pay(&st.app, &staff.actor, &form).await {
        Ok(r) => Redirect::to(&format!("/billing/payments/{}", r.payment.id)).into_response(),
        Err(e) if shown(&e) => {
            let patient = Uuid::parse_str(&form.patient_id).ok();
            let extra = context! { form => f.values(), errors => field_errors(&e, staff.lang), error => message(&e, staff.lang) };
            counter(&st, &staff, patient, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

async fn receipt_page(st: &AppState, staff: &Staff, id: Uuid, status: StatusCode, extra: Value) -> Response {
    match billing::receipt(&st.app, &staff.actor, id).await {
        Ok(r) => {
            let ctx = context! { r => Serde(r), key => new_key() };
            page(st, staff, status, "receipt.html", "/billing", context! { ..extra, ..ctx }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// A receipt (收费凭证), printable, with the refund form for what was not carried out.
pub async fn receipt(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    match parse_id(&id) {
        Ok(id) => receipt_page(&st, &staff, id, StatusCode::OK, context! { notice => q.done }).await,
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn refund(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = RefundForm {
        payment_id: id.to_string(),
        charge_ids: f.all("charge_ids"),
        reason: f.get("reason"),
        key: f.get("key"),
    };
    match billing::refund(&st.app, &staff.actor, &form).await {
        Ok(r) => {
            let done = tf(staff.lang, "msg.bill.refunded", &[("amount", &r.refunded)]);
            Redirect::to(&format!("/billing/payments/{id}?done={}", urlencode(&done))).into_response()
        }
        Err(e) if shown(&e) => {
            let extra = context! { form => f.values(), errors => field_errors(&e, staff.lang), error => message(&e, staff.lang) };
            receipt_page(&st, &staff, id, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// The daily closing (日结): what the till and the online account hold now, and past closings.
pub async fn closing_desk(State(st): State<AppState>, staff: Staff) -> Response {
    let a = &staff.actor;
    let r = async {
        let till = billing::open_totals(&st.app, a, &a.username).await?;
        let online = billing::open_totals(&st.app, a, billing::ONLINE).await?;
        let mut past = billing::closings(&st.app, a, false).await?;
        past.extend(billing::closings(&st.app, a, true).await?);
        past.sort_by_key(|c| std::cmp::Reverse(c.created_at));
        Ok::<_, DomainError>((till, online, past))
    }
    .await;
    match r {
        Ok((till, online, past)) => {
            let past: Vec<Value> = past
                .iter()
                .map(|c| {
                    context! {
                        id => c.id.to_string(), at => dayi_core::timefmt::show(c.created_at), online => c.account == billing::ONLINE,
                        payments => c.payments, refunds => c.refunds, net => yuan(c.net_fen),
                    }
                })
                .collect();
            let ctx = context! { till => totals_view(&till), online => totals_view(&online), past => past };
            page(&st, &staff, StatusCode::OK, "closing_desk.html", "/billing/closing", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn close_day(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    match billing::close_day(&st.app, &staff.actor, f.get("online") == "1").await {
        Ok(c) => Redirect::to(&format!("/billing/closings/{}", c.closing.id)).into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

/// One closing, printable: totals per method, re-summed from its rows.
pub async fn closing(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => billing::closing(&st.app, &staff.actor, id).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(c) => {
            let ctx = context! {
                c => Serde(&c.closing), tt => totals_view(&c.totals), balanced => c.balanced,
                online => c.closing.account == billing::ONLINE, at => dayi_core::timefmt::show(c.closing.created_at),
            };
            page(&st, &staff, StatusCode::OK, "closing.html", "/billing/closing", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

// ---- the patient's phone ----

/// Each family member's bills and payments; payments still waiting at the
/// provider are asked about first (a lost callback does not leave them hanging).
pub async fn portal_bills(State(st): State<AppState>, u: PortalUser, Query(q): Query<Done>) -> Response {
    portal_bills_page(&st, &u, StatusCode::OK, context! { notice => q.done }).await
}

async fn portal_bills_page(st: &AppState, u: &PortalUser, status: StatusCode, extra: Value) -> Response {
    let r = billing::family_bills(&st.app, &u.ctx).await.map(|rows| {
        rows.into_iter()
            .map(|b| context! { member => Serde(b.member), due => Serde(b.due), paid => Serde(b.paid), key => new_key() })
            .collect::<Vec<_>>()
    });
    match r {
        Ok(rows) => super::portal::portal_page(u, status, "portal_bills.html", context! { rows => rows, ..extra }),
        Err(e) => fail(&e, u.lang),
    }
}

/// Starts the online payment and sends the phone to the provider's checkout.
pub async fn portal_pay(
    State(st): State<AppState>,
    u: PortalUser,
    headers: axum::http::HeaderMap,
    f: Fields,
) -> Response {
    let mut form = pay_form(&f);
    form.method = "online".into();
    match billing::pay_online(&st.app, &u.ctx.actor, &form, &base_of(&headers), "/portal/bills").await {
        Ok(r) if r.payment.status == PaymentStatus::Paid.code() => {
            Redirect::to(&format!("/portal/bills?done={}", urlencode(&t(u.lang, "msg.bill.paid")))).into_response()
        }
        Ok(r) => Redirect::to(&r.payment.pay_url).into_response(),
        Err(e) if shown(&e) => {
            portal_bills_page(&st, &u, StatusCode::UNPROCESSABLE_ENTITY, context! { error => message(&e, u.lang) })
                .await
        }
        Err(e) => fail(&e, u.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct Download {
    #[serde(default)]
    download: bool,
}

/// A receipt on the phone; `?download=1` saves it as a file.
pub async fn portal_receipt(
    State(st): State<AppState>,
    u: PortalUser,
    Path(id): Path<String>,
    Query(q): Query<Download>,
) -> Response {
    let r: Result<Receipt, DomainError> = match parse_id(&id) {
        Ok(id) => billing::receipt(&st.app, &u.ctx.actor, id).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(r) => {
            let org = dayi_app::tenancy::org(&st.app, u.ctx.actor.org_id).await.map(|o| o.name).unwrap_or_default();
            let no = r.payment.pay_no.clone();
            let mut resp = super::portal::portal_page(
                &u,
                StatusCode::OK,
                "portal_receipt.html",
                context! { r => Serde(r), org => org },
            );
            if q.download {
                let v = format!("attachment; filename=\"receipt-{no}.html\"");
                if let Ok(h) = header::HeaderValue::from_str(&v) {
                    resp.headers_mut().insert(header::CONTENT_DISPOSITION, h);
                }
            }
            resp
        }
        Err(e) => fail(&e, u.lang),
    }
}

// ---- the local payment provider's checkout ----

/// The CSRF token a form on a page outside the console must carry, and the
/// cookie to set when the visitor has none yet.
fn form_csrf(ctx: &Ctx) -> (String, Option<String>) {
    match &ctx.principal {
        Some(Principal::Session(s)) => (s.csrf.clone(), None),
        Some(Principal::Patient(p)) => (p.csrf.clone(), None),
        _ => match &ctx.anon_csrf {
            Some(c) => (c.clone(), None),
            None => {
                let t = super::auth::new_csrf();
                (t.clone(), Some(t))
            }
        },
    }
}

async fn checkout_page(
    st: &AppState,
    ctx: &Ctx,
    merchant: Uuid,
    no: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let o = match billing::checkout(&st.app, merchant, no).await {
        Ok(o) => o,
        Err(e) => return fail(&e, ctx.lang),
    };
    let org = dayi_app::tenancy::org(&st.app, merchant).await.map(|o| o.name).unwrap_or_default();
    let (csrf, fresh) = form_csrf(ctx);
    let c = context! {
        lang => ctx.lang.code(), csrf => csrf, o => Serde(&o), amount => yuan(o.amount_fen), org => org, error => error,
        payable => matches!(o.state.as_str(), "created" | "failed"),
        state => t(ctx.lang, &format!("pay.state.{}", o.state)),
    };
    let mut r = render(status, "checkout.html", c);
    if let Some(token) = fresh {
        let c = crate::principal::cookie(crate::principal::CSRF_COOKIE, &token, st.web.secure_cookies, "Strict", None);
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The path of a return address: the checkout only ever sends the payer
/// back into this server, whatever host the order was made through.
fn local_path(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match rest.find('/') {
        Some(i) if url.contains("://") => &rest[i..],
        _ if url.starts_with('/') && !url.starts_with("//") => url,
        _ => "/portal",
    }
}

pub async fn checkout(State(st): State<AppState>, ctx: Ctx, Path((merchant, no)): Path<(String, String)>) -> Response {
    match parse_id(&merchant) {
        Ok(m) => checkout_page(&st, &ctx, m, &no, StatusCode::OK, None).await,
        Err(e) => fail(&e, ctx.lang),
    }
}

/// The payer confirms (`action=pay`) or the payment fails (`action=fail`);
/// the checkout then returns to the merchant's page.
pub async fn checkout_submit(
    State(st): State<AppState>,
    ctx: Ctx,
    Path((merchant, no)): Path<(String, String)>,
    f: Fields,
) -> Response {
    let merchant = match parse_id(&merchant) {
        Ok(m) => m,
        Err(e) => return fail(&e, ctx.lang),
    };
    match billing::checkout_settle(&st.app, merchant, &no, f.get("action") != "fail").await {
        Ok(o) => Redirect::to(local_path(&o.return_url)).into_response(),
        Err(e) if shown(&e) => {
            checkout_page(&st, &ctx, merchant, &no, StatusCode::UNPROCESSABLE_ENTITY, Some(message(&e, ctx.lang))).await
        }
        Err(e) => fail(&e, ctx.lang),
    }
}
