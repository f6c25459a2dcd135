//! Console pages (server-rendered, htmx-enhanced).

pub mod admin;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod booking;
pub mod card;
pub mod catalog;
pub mod chronic;
pub mod home;
pub mod lab;
pub mod patient;
pub mod portal;
pub mod queue;
pub mod roster;
pub mod security;
pub mod triage;
pub mod visit;

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use minijinja::{Value, context};
use serde::Serialize;

use crate::AppState;
use crate::error::page_error;
use crate::i18n::{Lang, t};
use crate::principal::Staff;
use crate::render::render;
use crate::routes::Need;

/// Navigation entries: (translation key, link, what it needs).
const NAV: &[(&str, &str, Need)] = &[
    ("nav.home", "/", Need::Perm(Perm::Console)),
    ("nav.patients", "/patients", Need::Perm(Perm::PatientRead)),
    ("nav.station", "/station", Need::Perm(Perm::PatientRead)),
    ("nav.duplicates", "/patients/duplicates", Need::Perm(Perm::PatientMerge)),
    ("nav.roster", "/roster", Need::AnyPerm(&[Perm::PatientRead, Perm::Schedule])),
    ("nav.kiosk", "/kiosk", Need::Perm(Perm::CheckIn)),
    ("nav.triage", "/triage", Need::Perm(Perm::Triage)),
    ("nav.queue", "/queue", Need::Perm(Perm::QueueCall)),
    ("nav.visits", "/visits", Need::Perm(Perm::Clinical)),
    ("nav.lab", "/lab", Need::Perm(Perm::Lab)),
    ("nav.chronic", "/chronic", Need::Perm(Perm::PublicHealthWork)),
    ("nav.chronic_indicators", "/chronic/indicators", Need::AnyPerm(&[Perm::PublicHealthWork, Perm::Reports])),
    ("nav.billing", "/billing", Need::Perm(Perm::Billing)),
    ("nav.closing", "/billing/closing", Need::Perm(Perm::Billing)),
    ("nav.catalog", "/catalog", Need::Perm(Perm::Catalog)),
    ("nav.queue_settings", "/queue/settings", Need::Perm(Perm::QueueManage)),
    ("nav.messages", "/messages", Need::Perm(Perm::Registration)),
    ("nav.staff", "/admin/staff", Need::AnyPerm(&[Perm::StaffManage, Perm::SecurityManage])),
    ("nav.depts", "/admin/depts", Need::Perm(Perm::OrgManage)),
    ("nav.security", "/security", Need::Perm(Perm::SecurityManage)),
    ("nav.audit", "/audit", Need::Perm(Perm::AuditRead)),
    ("nav.api", "/api/docs", Need::Perm(Perm::Console)),
];

#[derive(Serialize)]
pub struct NavItem {
    pub label: String,
    pub href: &'static str,
    pub active: bool,
}

pub fn nav(staff: &Staff, current: &str) -> Vec<NavItem> {
    let entries: Vec<_> = NAV.iter().filter(|(_, _, need)| need.allows(&staff.actor.roles)).collect();
    // The longest entry the page lies under is the one highlighted (/patients/duplicates, not /patients).
    let active = entries
        .iter()
        .filter(|(_, href, _)| *href == current || (*href != "/" && current.starts_with(href)))
        .map(|(_, href, _)| *href)
        .max_by_key(|h| h.len());
    entries
        .into_iter()
        .map(|(key, href, _)| NavItem { label: t(staff.lang, key), href, active: Some(*href) == active })
        .collect()
}

/// Renders a console page with the shell's common context (user, nav, CSRF, language).
pub async fn page(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    tpl: &str,
    current: &str,
    extra: Value,
) -> Response {
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await.map(|o| o.name).unwrap_or_default();
    let base = context! {
        lang => staff.lang.code(),
        csrf => staff.csrf.as_str(),
        user => context! { name => staff.actor.name.as_str(), username => staff.actor.username.as_str(), roles => staff.actor.roles.zh() },
        org_name => org,
        nav => minijinja::value::Serde(nav(staff, current)),
        current => current,
        clinical => staff.actor.roles.allows(Perm::Clinical),
    };
    render(status, tpl, context! { ..extra, ..base })
}

/// Url-encoded form fields, kept as typed so a form can be shown again.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> String {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    }
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
    /// For templates: the first value of each field, without the CSRF token.
    pub fn values(&self) -> Value {
        let map: std::collections::BTreeMap<&str, &str> = self
            .0
            .iter()
            .rev()
            .filter(|(k, _)| k != crate::principal::CSRF_FIELD)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Value::from(minijinja::value::Serde(&map))
    }
}

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;
    async fn from_request(req: Request, _: &S) -> Result<Self, Response> {
        let path = req.uri().path().to_string();
        let is_form = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            let e = DomainError::with(ErrorCode::UnsupportedMediaType, ["application/x-www-form-urlencoded"]);
            return Err(crate::error::respond(&path, &e, Lang::Zh));
        }
        let bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.map_err(|_| {
            crate::error::respond(&path, &DomainError::with(ErrorCode::BodyTooLarge, ["2 MB"]), Lang::Zh)
        })?;
        Ok(Fields(form_urlencoded::parse(&bytes).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()))
    }
}

/// Field errors for templates: field → message in the page's language.
pub fn field_errors(e: &DomainError, lang: Lang) -> Value {
    let map: std::collections::BTreeMap<String, String> =
        e.fields.iter().map(|f| (f.field.clone(), if lang == Lang::En { f.en() } else { f.zh() })).collect();
    Value::from(minijinja::value::Serde(&map))
}

/// The top message of an error in the page's language.
pub fn message(e: &DomainError, lang: Lang) -> String {
    if lang == Lang::En { e.en() } else { e.zh() }
}

/// Validation failures re-render the form; anything else becomes an error page.
pub fn is_form_error(e: &DomainError) -> bool {
    !e.fields.is_empty() || e.code == ErrorCode::Validation
}

pub fn fail(e: &DomainError, lang: Lang) -> Response {
    page_error(e, lang)
}
