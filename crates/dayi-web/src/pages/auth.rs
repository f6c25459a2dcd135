//! Sign-in, second factor, sign-out and the language switch.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::auth::{STAGE_ENROL, STAGE_FULL, STAGE_TOTP};
use minijinja::context;
use rand::RngCore;

use super::{Fields, message};
use crate::AppState;
use crate::error::page_error;
use crate::i18n::{Lang, t};
use crate::principal::{CSRF_COOKIE, Ctx, LANG_COOKIE, SESSION_COOKIE, clear_cookie, cookie};
use crate::render::render;

#[derive(serde::Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// Only same-site paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => n.to_string(),
        _ => "/".to_string(),
    }
}

pub(crate) fn new_csrf() -> String {
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

const ORG_COOKIE: &str = "dayi_org";

async fn show_login(
    st: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    form: minijinja::Value,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let orgs = dayi_app::tenancy::list_orgs(&st.app).await.unwrap_or_default();
    let orgs: Vec<_> = orgs.iter().map(|o| context! { code => o.code.as_str(), name => o.name.as_str() }).collect();
    let (csrf, set) = match &ctx.anon_csrf {
        Some(c) => (c.clone(), None),
        None => {
            let c = new_csrf();
            (c.clone(), Some(cookie(CSRF_COOKIE, &c, st.web.secure_cookies, "Strict", None)))
        }
    };
    let mut r = render(
        status,
        "login.html",
        context! { lang => ctx.lang.code(), csrf => csrf, orgs => orgs, form => form, error => error, notice => notice },
    );
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

pub async fn login_form(
    State(st): State<AppState>,
    ctx: Ctx,
    Query(q): Query<LoginQuery>,
    jar: axum_extra::extract::CookieJar,
) -> Response {
    if ctx.session().is_some_and(|s| s.stage == STAGE_FULL) {
        return Redirect::to("/").into_response();
    }
    let notice = q.expired.map(|_| t(ctx.lang, "login.expired"));
    let org = jar.get(ORG_COOKIE).map(|c| c.value().to_string()).unwrap_or_default();
    let form = minijinja::Value::from(minijinja::value::Serde(
        serde_json::json!({ "org": org, "next": q.next.unwrap_or_default() }),
    ));
    show_login(&st, &ctx, StatusCode::OK, form, None, notice).await
}

pub async fn login_submit(State(st): State<AppState>, ctx: Ctx, f: Fields) -> Response {
    let org = f.get("org");
    let result = dayi_app::auth::login(&st.app, &org, &f.get("username"), &f.get("password"), &ctx.origin).await;
    match result {
        Ok(login) => {
            let to = match login.stage.as_str() {
                STAGE_TOTP => "/login/totp".to_string(),
                STAGE_ENROL => "/login/enrol".to_string(),
                _ => safe_next(Some(&f.get("next"))),
            };
            let mut r = Redirect::to(&to).into_response();
            let h = r.headers_mut();
            h.append(header::SET_COOKIE, cookie(SESSION_COOKIE, &login.cookie, st.web.secure_cookies, "Lax", None));
            h.append(header::SET_COOKIE, cookie(ORG_COOKIE, &org, st.web.secure_cookies, "Lax", Some(365 * 86400)));
            r
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut form = f.clone();
            form.0.retain(|(k, _)| k != "password");
            show_login(&st, &ctx, status, form.values(), Some(message(&e, ctx.lang)), None).await
        }
    }
}

pub async fn totp_form(ctx: Ctx) -> Response {
    match ctx.session() {
        Some(s) if s.stage == STAGE_TOTP => render(
            StatusCode::OK,
            "totp.html",
            context! { lang => ctx.lang.code(), csrf => s.csrf.as_str(), user => s.actor.name.as_str() },
        ),
        Some(s) if s.stage == STAGE_ENROL => Redirect::to("/login/enrol").into_response(),
        _ => Redirect::to("/login").into_response(),
    }
}

pub async fn totp_submit(State(st): State<AppState>, ctx: Ctx, f: Fields) -> Response {
    let Some(s) = ctx.session().filter(|s| s.stage == STAGE_TOTP) else {
        return Redirect::to("/login").into_response();
    };
    match dayi_app::auth::verify_totp(&st.app, s, &f.get("code"), &ctx.origin).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            render(
                status,
                "totp.html",
                context! { lang => ctx.lang.code(), csrf => s.csrf.as_str(), user => s.actor.name.as_str(), error => message(&e, ctx.lang) },
            )
        }
    }
}

fn enrol_page(st: &AppState, ctx: &Ctx, status: StatusCode, secret: Option<String>, error: Option<String>) -> Response {
    let Some(s) = ctx.session() else { return Redirect::to("/login").into_response() };
    // After a wrong code the same secret is shown again, so an app already set up keeps working.
    let enrol = match dayi_app::auth::enrolment(&st.app, &s.actor, secret) {
        Ok(e) => e,
        Err(e) => return page_error(&e, ctx.lang),
    };
    render(
        status,
        "enrol.html",
        context! { lang => ctx.lang.code(), csrf => s.csrf.as_str(), user => s.actor.name.as_str(), secret => enrol.secret, qr_svg => enrol.qr_svg, error => error },
    )
}

pub async fn enrol_form(State(st): State<AppState>, ctx: Ctx) -> Response {
    match ctx.session() {
        Some(s) if s.stage == STAGE_ENROL => enrol_page(&st, &ctx, StatusCode::OK, None, None),
        Some(s) if s.stage == STAGE_TOTP => Redirect::to("/login/totp").into_response(),
        _ => Redirect::to("/login").into_response(),
    }
}

pub async fn enrol_submit(State(st): State<AppState>, ctx: Ctx, f: Fields) -> Response {
    let Some(s) = ctx.session().filter(|s| s.stage == STAGE_ENROL) else {
        return Redirect::to("/login").into_response();
    };
    let secret = f.get("secret");
    match dayi_app::auth::confirm_enrolment(&st.app, s, &secret, &f.get("code")).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            let msg = e
                .fields
                .first()
                .map(|fe| if ctx.lang == Lang::En { fe.en() } else { fe.zh() })
                .unwrap_or_else(|| message(&e, ctx.lang));
            enrol_page(&st, &ctx, StatusCode::UNPROCESSABLE_ENTITY, Some(secret), Some(msg))
        }
    }
}

pub async fn logout(State(st): State<AppState>, ctx: Ctx) -> Response {
    if let Some(s) = ctx.session()
        && let Err(e) = dayi_app::auth::logout(&st.app, s).await
    {
        return page_error(&e, ctx.lang);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    r
}

#[derive(serde::Deserialize)]
pub struct LangQuery {
    next: Option<String>,
}

pub async fn set_lang(State(st): State<AppState>, Path(code): Path<String>, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::parse(&code);
    let value = if lang == Lang::En { "en" } else { "zh" };
    let mut r = Redirect::to(&safe_next(q.next.as_deref())).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, cookie(LANG_COOKIE, value, st.web.secure_cookies, "Lax", Some(365 * 86400)));
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_stays_on_site() {
        assert_eq!(super::safe_next(Some("/audit?x=1")), "/audit?x=1");
        assert_eq!(super::safe_next(Some("//evil.example")), "/");
        assert_eq!(super::safe_next(Some("https://evil.example")), "/");
        assert_eq!(super::safe_next(None), "/");
    }
}
