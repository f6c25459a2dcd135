//! Who is calling: resolves the session cookie or bearer token once per
//! request, enforces CSRF on every state-changing request made with a
//! cookie, and hands handlers a `Staff` extractor.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use dayi_app::Actor;
use dayi_app::auth::{Origin, STAGE_ENROL, STAGE_FULL, SessionCtx};
use dayi_app::portal::PortalCtx;
use dayi_core::{DomainError, ErrorCode};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::respond;
use crate::i18n::Lang;

pub const SESSION_COOKIE: &str = "dayi_session";
/// The patient portal's session, separate from staff sessions.
pub const PORTAL_COOKIE: &str = "dayi_portal";
pub const CSRF_COOKIE: &str = "dayi_csrf";
pub const LANG_COOKIE: &str = "dayi_lang";
pub const CSRF_FIELD: &str = "_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Clone, Debug)]
pub enum Principal {
    Session(SessionCtx),
    Token(Actor),
    /// A patient signed in to the portal (only under `/portal`).
    Patient(Box<PortalCtx>),
}

/// Per-request facts every handler may use.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub principal: Option<Principal>,
    pub lang: Lang,
    pub origin: Origin,
    /// The anonymous CSRF cookie, for forms shown before sign-in.
    pub anon_csrf: Option<String>,
    pub path: String,
}

impl Ctx {
    pub fn session(&self) -> Option<&SessionCtx> {
        match &self.principal {
            Some(Principal::Session(s)) => Some(s),
            _ => None,
        }
    }
}

fn lang_of(jar: &CookieJar) -> Lang {
    jar.get(LANG_COOKIE).map(|c| Lang::parse(c.value())).unwrap_or_default()
}

fn origin_of(req: &Request) -> Origin {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    Origin { ip, user_agent }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")).map(|s| s.trim().to_string())
}

fn is_unsafe(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: principal, language, origin, CSRF.
pub async fn authenticate(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let jar = CookieJar::from_headers(req.headers());
    let lang = lang_of(&jar);
    let origin = origin_of(&req);
    let token = bearer(req.headers());
    let mut principal = None;
    let mut clear_session = false;
    let mut clear_portal = false;
    if let Some(t) = &token {
        match dayi_app::auth::resolve_token(&st.app, t, &origin.ip).await {
            Ok(a) => principal = Some(Principal::Token(a)),
            Err(e) => return respond(&path, &e, lang),
        }
    } else if path.starts_with("/portal") {
        if let Some(c) = jar.get(PORTAL_COOKIE) {
            match dayi_app::portal::resolve(&st.app, c.value(), &origin.ip).await {
                Ok(p) => principal = Some(Principal::Patient(Box::new(p))),
                // An expired portal session simply shows the sign-in page again.
                Err(e) if e.code == ErrorCode::SessionExpired => clear_portal = true,
                Err(e) => return respond(&path, &e, lang),
            }
        }
    } else if let Some(c) = jar.get(SESSION_COOKIE) {
        match dayi_app::auth::resolve_session(&st.app, c.value(), &origin.ip).await {
            Ok(s) => principal = Some(Principal::Session(s)),
            Err(e) if e.code == ErrorCode::SessionExpired => {
                clear_session = true;
                if !path.starts_with("/login") && !path.starts_with("/static/") {
                    let mut r = respond(&path, &e, lang);
                    r.headers_mut().append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
                    return r;
                }
            }
            Err(e) => return respond(&path, &e, lang),
        }
    }
    let anon_csrf = jar.get(CSRF_COOKIE).map(|c| c.value().to_string());
    // The API asks anonymous callers to sign in before looking at CSRF tokens.
    let portal_open = path == "/portal/api/login" || path == "/portal/api/code";
    // A payment provider's callback proves itself by its signature, not a session.
    let callback = path.starts_with("/api/pay/notify/");
    if principal.is_none() && crate::error::is_api_path(&path) && is_unsafe(req.method()) && !portal_open && !callback {
        return respond(&path, &DomainError::new(ErrorCode::LoginRequired), lang);
    }
    // Signing in to the portal with JSON needs no anonymous CSRF cookie: a
    // cross-site page cannot send JSON without a CORS preflight we refuse.
    let portal_json_login = principal.is_none() && portal_open && is_json(req.headers());
    if is_unsafe(req.method()) && token.is_none() && !portal_json_login && !callback {
        let expected = match &principal {
            Some(Principal::Session(s)) => Some(s.csrf.clone()),
            Some(Principal::Patient(p)) => Some(p.csrf.clone()),
            _ => anon_csrf.clone(),
        };
        let limit = req.extensions().get::<crate::limits::BodyLimit>().map_or(st.web.body_limit, |l| l.0);
        let (r, provided) = match csrf_of(req, limit).await {
            Ok(x) => x,
            Err(e) => return respond(&path, &e, lang),
        };
        req = r;
        let ok = matches!((&expected, &provided), (Some(a), Some(b)) if bool::from(a.as_bytes().ct_eq(b.as_bytes())));
        if !ok {
            if let Some(Principal::Session(s)) = &principal {
                let e = s.actor.entry("security.csrf", "request", &path, None, dayi_core::audit::DENIED, "");
                st.app.audit.record(e).await;
            }
            return respond(&path, &DomainError::new(ErrorCode::CsrfInvalid), lang);
        }
    }
    req.extensions_mut().insert(Ctx { principal, lang, origin, anon_csrf, path });
    let mut resp = next.run(req).await;
    if clear_session {
        resp.headers_mut().append(header::SET_COOKIE, clear_cookie(SESSION_COOKIE));
    }
    if clear_portal {
        resp.headers_mut().append(header::SET_COOKIE, clear_cookie(PORTAL_COOKIE));
    }
    resp
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
}

/// The CSRF token of a request: the header, or the `_csrf` field of a url-encoded form.
async fn csrf_of(req: Request, limit: usize) -> Result<(Request, Option<String>), DomainError> {
    if let Some(h) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        let h = h.to_string();
        return Ok((req, Some(h)));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| DomainError::with(ErrorCode::BodyTooLarge, [format!("{} KB", limit / 1024)]))?;
    let token = form_urlencoded::parse(&bytes).find(|(k, _)| k == CSRF_FIELD).map(|(_, v)| v.into_owned());
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

pub fn cookie(name: &str, value: &str, secure: bool, same_site: &str, max_age: Option<i64>) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if secure {
        s.push_str("; Secure");
    }
    if let Some(a) = max_age {
        s.push_str(&format!("; Max-Age={a}"));
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub fn clear_cookie(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{name}=; Path=/; HttpOnly; Max-Age=0"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts.extensions.get::<Ctx>().cloned().ok_or_else(|| {
            respond(parts.uri.path(), &dayi_app::internal("authentication middleware missing"), Lang::Zh)
        })
    }
}

/// A fully signed-in staff member (session past its second factor, or API token).
#[derive(Clone, Debug)]
pub struct Staff {
    pub actor: Actor,
    /// The session's CSRF token for forms (empty for API tokens).
    pub csrf: String,
    pub lang: Lang,
    pub via_session: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Staff {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, s).await?;
        let path = parts.uri.path();
        match ctx.principal {
            Some(Principal::Token(actor)) => {
                Ok(Staff { actor, csrf: String::new(), lang: ctx.lang, via_session: false })
            }
            Some(Principal::Session(sess)) if sess.stage == STAGE_FULL => {
                Ok(Staff { actor: sess.actor, csrf: sess.csrf, lang: ctx.lang, via_session: true })
            }
            Some(Principal::Session(sess)) => {
                let code =
                    if sess.stage == STAGE_ENROL { ErrorCode::TotpEnrolRequired } else { ErrorCode::TotpRequired };
                Err(respond(path, &DomainError::new(code), ctx.lang))
            }
            _ => Err(respond(path, &DomainError::new(ErrorCode::LoginRequired), ctx.lang).into_response()),
        }
    }
}

/// A patient signed in to the portal. Pages without one go to the sign-in page.
#[derive(Clone, Debug)]
pub struct PortalUser {
    pub ctx: PortalCtx,
    pub lang: Lang,
}

impl<S: Send + Sync> FromRequestParts<S> for PortalUser {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Response> {
        let ctx = Ctx::from_request_parts(parts, s).await?;
        match ctx.principal {
            Some(Principal::Patient(p)) => Ok(PortalUser { ctx: *p, lang: ctx.lang }),
            _ if parts.uri.path().starts_with("/portal/api/") => {
                Err(respond(parts.uri.path(), &DomainError::new(ErrorCode::LoginRequired), ctx.lang))
            }
            _ => Err(axum::response::Redirect::to("/portal/login").into_response()),
        }
    }
}
