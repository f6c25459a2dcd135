//! The patient portal on the phone (网上预约): sign in by text-message code
//! or ID and card number, book for oneself or family, cancel, see notices.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dayi_core::DomainError;
use dayi_core::patient::Relation;
use dayi_core::timefmt::today_cst;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::admin::urlencode;
use super::{Fields, field_errors, message};
use crate::AppState;
use crate::i18n::Lang;
use crate::i18n::{t, tf};
use crate::params::{BookForm, Window, window};
use crate::principal::{Ctx, PORTAL_COOKIE, PortalUser, clear_cookie, cookie};
use crate::render::render;

fn oops(e: &DomainError, lang: Lang) -> Response {
    super::fail(e, lang)
}

/// Renders a portal page with the account's common context.
pub fn portal_page(u: &PortalUser, status: StatusCode, tpl: &str, extra: Value) -> Response {
    let base = context! {
        lang => u.lang.code(), csrf => u.ctx.csrf.as_str(),
        me => dayi_core::mask::name(&u.ctx.patient.name),
    };
    render(status, tpl, context! { ..extra, ..base })
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    org: Option<String>,
}

async fn login_page(st: &AppState, ctx: &Ctx, status: StatusCode, extra: Value) -> Response {
    let orgs = dayi_app::tenancy::list_orgs(&st.app).await.unwrap_or_default();
    let orgs: Vec<Value> = orgs.iter().map(|o| context! { code => o.code.clone(), name => o.name.clone() }).collect();
    // The sign-in forms need a CSRF cookie before anyone is signed in.
    let fresh = ctx.anon_csrf.is_none().then(super::auth::new_csrf);
    let csrf = fresh.clone().or_else(|| ctx.anon_csrf.clone()).unwrap_or_default();
    let base = context! { lang => ctx.lang.code(), csrf => csrf, orgs => orgs };
    let mut r = render(status, "portal_login.html", context! { ..extra, ..base });
    if let Some(token) = fresh {
        let c = cookie(crate::principal::CSRF_COOKIE, &token, st.web.secure_cookies, "Strict", None);
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

pub async fn login_form(State(st): State<AppState>, ctx: Ctx, Query(q): Query<LoginQuery>) -> Response {
    let form = context! { org => q.org.unwrap_or_default() };
    login_page(&st, &ctx, StatusCode::OK, context! { form => form }).await
}

async fn org_of(st: &AppState, code: &str) -> Result<uuid::Uuid, DomainError> {
    dayi_app::tenancy::by_code(&st.app, code.trim())
        .await?
        .map(|o| o.org_id)
        .ok_or_else(|| DomainError::field("org", dayi_core::ErrorCode::OrgUnknown, [""; 0]))
}

/// Where the sign-in form leads: a session cookie, or the form again with
/// a code sent (valid for so many minutes).
enum Step {
    SignedIn(String),
    CodeSent(i64),
}

/// Sends the sign-in code (`action=code`) or signs in.
pub async fn login(State(st): State<AppState>, ctx: Ctx, f: Fields) -> Response {
    let ip = ctx.origin.ip.clone();
    let r = async {
        let org = org_of(&st, &f.get("org")).await?;
        if f.get("action") == "code" {
            let minutes = dayi_app::portal::request_code(&st.app, org, &f.get("phone"), &ip).await?;
            return Ok(Step::CodeSent(minutes));
        }
        let value = if f.get("mode") == "card" {
            dayi_app::portal::login_card(&st.app, org, &f.get("id_number"), &f.get("card_no"), &ip).await?
        } else {
            dayi_app::portal::login_code(&st.app, org, &f.get("phone"), &f.get("code"), &ip).await?
        };
        Ok::<_, DomainError>(Step::SignedIn(value))
    }
    .await;
    match r {
        Ok(Step::SignedIn(value)) => {
            let mut r = Redirect::to("/portal").into_response();
            r.headers_mut()
                .append(header::SET_COOKIE, cookie(PORTAL_COOKIE, &value, st.web.secure_cookies, "Lax", None));
            r
        }
        Ok(Step::CodeSent(minutes)) => {
            let extra = context! { form => f.values(), sent => minutes };
            login_page(&st, &ctx, StatusCode::OK, extra).await
        }
        Err(e) if e.code.status() < 500 => {
            let extra =
                context! { form => f.values(), errors => field_errors(&e, ctx.lang), error => message(&e, ctx.lang) };
            login_page(&st, &ctx, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => oops(&e, ctx.lang),
    }
}

pub async fn logout(State(st): State<AppState>, u: PortalUser) -> Response {
    let _ = dayi_app::portal::logout(&st.app, &u.ctx).await;
    let mut r = Redirect::to("/portal/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, clear_cookie(PORTAL_COOKIE));
    r
}

#[derive(Deserialize, Default)]
pub struct Notice {
    done: Option<String>,
    error: Option<String>,
}

pub async fn home(State(st): State<AppState>, u: PortalUser, Query(n): Query<Notice>) -> Response {
    let bookings = match dayi_app::portal::bookings(&st.app, &u.ctx).await {
        Ok(b) => b,
        Err(e) => return oops(&e, u.lang),
    };
    let notes = dayi_app::portal::notifications(&st.app, &u.ctx).await.unwrap_or_default();
    let notes: Vec<Value> = notes
        .iter()
        .map(|n| context! { at => dayi_core::timefmt::show(n.created_at), body => n.body.clone() })
        .collect();
    let org = dayi_app::tenancy::org(&st.app, u.ctx.actor.org_id).await.map(|o| o.name).unwrap_or_default();
    let today = dayi_core::timefmt::today_cst().to_string();
    let ctx = context! { bookings => Serde(bookings), notes => notes, org => org, notice => n.done, error => n.error, today => today };
    portal_page(&u, StatusCode::OK, "portal_home.html", ctx)
}

#[derive(Deserialize, Default)]
pub struct BookQuery {
    #[serde(default)]
    dept: String,
    #[serde(default)]
    day: String,
    error: Option<String>,
}

/// Departments, then the sessions of a day, then a session's free slots.
pub async fn choose(State(st): State<AppState>, u: PortalUser, Query(q): Query<BookQuery>) -> Response {
    let org = u.ctx.actor.org_id;
    let depts = dayi_app::tenancy::clinical_depts(&st.app, org).await.unwrap_or_default();
    let today = today_cst();
    let days: Vec<Value> = (0..7)
        .map(|i| {
            let d = today + time::Duration::days(i);
            let wd = dayi_core::roster::WEEKDAY_ZH[d.weekday().number_days_from_monday() as usize];
            context! { day => d.to_string(), label => format!("{}/{} {}", u8::from(d.month()), d.day(), wd) }
        })
        .collect();
    let day = if q.day.is_empty() { today.to_string() } else { q.day.clone() };
    let sessions = if q.dept.is_empty() {
        vec![]
    } else {
        let w = Window { from: day.clone(), to: day.clone(), dept: q.dept.clone() };
        match window(&w) {
            Ok((from, to, dept)) => dayi_app::roster::sessions(&st.app, org, from, to, dept).await.unwrap_or_default(),
            Err(e) => return oops(&e, u.lang),
        }
    };
    let members = dayi_app::portal::members(&st.app, &u.ctx).await.unwrap_or_default();
    let ctx = context! {
        depts => Serde(depts.iter().map(|d| context!{ id => d.id.to_string(), name => d.name.clone() }).collect::<Vec<_>>()),
        dept => q.dept, day => day, days => days, sessions => Serde(sessions), members => Serde(members), error => q.error,
    };
    portal_page(&u, StatusCode::OK, "portal_book.html", ctx)
}

pub async fn book(State(st): State<AppState>, u: PortalUser, f: Fields) -> Response {
    let form = BookForm {
        session_id: f.get("session_id"),
        patient_id: f.get("patient_id"),
        seq: f.get("seq"),
        ..Default::default()
    };
    let booked = match form.parse() {
        Ok(req) => dayi_app::booking::book(&st.app, &u.ctx.actor, &req).await,
        Err(e) => Err(e),
    };
    match booked {
        Ok(b) => {
            let time = dayi_app::booking::hm(b.slot_start);
            let args = [("day", b.day.as_str()), ("time", &time), ("seq", &b.seq.to_string()), ("reg_no", &b.reg_no)];
            let done = tf(u.lang, "msg.portal.booked", &args);
            Redirect::to(&format!("/portal?done={}", urlencode(&done))).into_response()
        }
        Err(e) if e.code.status() < 500 => {
            let to = format!(
                "/portal/book?dept={}&day={}&error={}",
                urlencode(&f.get("dept")),
                urlencode(&f.get("day")),
                urlencode(&message(&e, u.lang))
            );
            Redirect::to(&to).into_response()
        }
        Err(e) => oops(&e, u.lang),
    }
}

pub async fn cancel(State(st): State<AppState>, u: PortalUser, Path(id): Path<String>) -> Response {
    let r = match crate::params::parse_id(&id) {
        Ok(bid) => dayi_app::booking::cancel(&st.app, &u.ctx.actor, bid, &t(u.lang, "msg.portal.cancel_reason")).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => {
            Redirect::to(&format!("/portal?done={}", urlencode(&t(u.lang, "msg.portal.cancelled")))).into_response()
        }
        Err(e) if e.code.status() < 500 => {
            Redirect::to(&format!("/portal?error={}", urlencode(&message(&e, u.lang)))).into_response()
        }
        Err(e) => oops(&e, u.lang),
    }
}

fn relations() -> Value {
    Value::from(Relation::ALL.iter().map(|r| context! { code => r.code(), name => r.zh() }).collect::<Vec<_>>())
}

pub async fn family(State(st): State<AppState>, u: PortalUser, Query(n): Query<Notice>) -> Response {
    let members = dayi_app::portal::members(&st.app, &u.ctx).await.unwrap_or_default();
    let ctx = context! { members => Serde(members), relations => relations(), notice => n.done, error => n.error };
    portal_page(&u, StatusCode::OK, "portal_family.html", ctx)
}

pub async fn link(State(st): State<AppState>, u: PortalUser, f: Fields) -> Response {
    match dayi_app::portal::link(&st.app, &u.ctx, &f.get("name"), &f.get("id_number"), &f.get("relation")).await {
        Ok(()) => Redirect::to(&format!("/portal/family?done={}", urlencode(&t(u.lang, "msg.portal.member_added"))))
            .into_response(),
        Err(e) if e.code.status() < 500 => {
            let members = dayi_app::portal::members(&st.app, &u.ctx).await.unwrap_or_default();
            let ctx = context! {
                members => Serde(members), relations => relations(), form => f.values(),
                errors => field_errors(&e, u.lang), error => message(&e, u.lang),
            };
            portal_page(&u, StatusCode::UNPROCESSABLE_ENTITY, "portal_family.html", ctx)
        }
        Err(e) => oops(&e, u.lang),
    }
}
