//! Failures as HTTP answers: RFC 9457 problem+json for the API, a friendly
//! page (or a redirect to sign in) for the console. Messages are Chinese
//! first with English beside them; the code is stable.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use dayi_core::{DomainError, ErrorCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::i18n::Lang;

fn status_of(e: &DomainError) -> StatusCode {
    StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The problem+json body (RFC 9457) every JSON failure is answered with.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// `urn:dayi:error:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The message in Chinese.
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable dotted code, e.g. `patient.not_found`.
    pub code: String,
    pub message_en: String,
    /// One entry per field that was refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldProblem>,
    /// `patient.duplicate_id`: the record that already holds the document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message: String,
    pub message_en: String,
}

impl Problem {
    pub fn of(e: &DomainError) -> Problem {
        let fields = e
            .fields
            .iter()
            .map(|f| FieldProblem {
                field: f.field.clone(),
                code: f.code.code().to_string(),
                message: f.zh(),
                message_en: f.en(),
            })
            .collect();
        let existing_id = (e.code == ErrorCode::PatientDuplicateId).then(|| e.args.get(2).cloned()).flatten();
        Problem {
            kind: format!("urn:dayi:error:{}", e.code.code()),
            title: e.zh(),
            status: e.code.status(),
            detail: e.zh(),
            code: e.code.code().to_string(),
            message_en: e.en(),
            fields,
            existing_id,
        }
    }
}

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem(&self.0)
    }
}

pub fn problem(e: &DomainError) -> Response {
    let mut r = (status_of(e), axum::Json(Problem::of(e))).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    r
}

/// An error answered with a page; sign-in problems redirect to the sign-in page.
#[derive(Debug)]
pub struct PageError(pub DomainError, pub Lang);

impl From<DomainError> for PageError {
    fn from(e: DomainError) -> Self {
        Self(e, Lang::Zh)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        page_error(&self.0, self.1)
    }
}

pub fn page_error(e: &DomainError, lang: Lang) -> Response {
    match e.code {
        ErrorCode::LoginRequired => Redirect::to("/login").into_response(),
        ErrorCode::SessionExpired => Redirect::to("/login?expired=1").into_response(),
        ErrorCode::TotpRequired => Redirect::to("/login/totp").into_response(),
        ErrorCode::TotpEnrolRequired => Redirect::to("/login/enrol").into_response(),
        _ => {
            let (msg, title) = match lang {
                Lang::Zh => (e.zh(), crate::i18n::t(lang, "error.title")),
                Lang::En => (e.en(), crate::i18n::t(lang, "error.title")),
            };
            crate::render::error_page(status_of(e), lang, &title, &msg, e.code.code())
        }
    }
}

/// True for paths answered in JSON.
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/api" || path.starts_with("/fhir") || path.starts_with("/portal/api/")
}

/// The answer for a failure, in the form the path calls for.
pub fn respond(path: &str, e: &DomainError, lang: Lang) -> Response {
    // FHIR clients read failures as an OperationOutcome, not problem+json.
    if path == "/fhir" || path.starts_with("/fhir/") {
        crate::fhir::outcome::response(e)
    } else if is_api_path(path) {
        problem(e)
    } else {
        page_error(e, lang)
    }
}

/// Turns the plain-text rejections of the framework (body too large, wrong
/// content type, unreadable JSON or form) into our coded answers.
pub async fn explain_rejections(limit: usize, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path().to_string();
    let lang = axum_extra::extract::CookieJar::from_headers(req.headers())
        .get(crate::principal::LANG_COOKIE)
        .map(|c| Lang::parse(c.value()))
        .unwrap_or_default();
    let resp = next.run(req).await;
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let status = resp.status();
    let limit = resp.extensions().get::<crate::limits::BodyLimit>().map_or(limit, |l| l.0);
    if !plain || !(status.is_client_error()) || status == StatusCode::NOT_FOUND {
        return resp;
    }
    let text = match axum::body::to_bytes(resp.into_body(), 4096).await {
        Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
        Err(_) => String::new(),
    };
    let e = match status {
        StatusCode::PAYLOAD_TOO_LARGE => DomainError::with(ErrorCode::BodyTooLarge, [format!("{} KB", limit / 1024)]),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            let want = if is_api_path(&path) { "application/json" } else { "application/x-www-form-urlencoded" };
            DomainError::with(ErrorCode::UnsupportedMediaType, [want])
        }
        StatusCode::METHOD_NOT_ALLOWED => DomainError::new(ErrorCode::MethodNotAllowed),
        _ => DomainError::with(ErrorCode::BadRequest, [text]),
    };
    respond(&path, &e, lang)
}
