//! Request body limits per route. Most routes take a form or a small JSON
//! document (`form_body_limit`, 64 KiB); the few listed in [`WIDER`] take
//! more. A body past its route's limit is refused from its Content-Length
//! before any of it is read, or as soon as a chunked body passes the limit,
//! so only the routes that need big bodies can make the server hold one.

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{AppState, WebConfig};

/// What a route takes beyond an ordinary form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wide {
    /// A whole FHIR document (a transaction Bundle, a Patient): `body_limit`.
    Document,
    /// A medical record or a template: five text fields of up to 4,000
    /// characters, which a url-encoded form spells in up to 9 bytes each.
    Record,
}

/// The body a full record form needs, with room to spare.
const RECORD: usize = 256 * 1024;

/// The routes that take more than `form_body_limit`, as in the route table.
pub const WIDER: &[(Method, &str, Wide)] = &[
    (Method::POST, "/fhir", Wide::Document),
    (Method::POST, "/fhir/Patient", Wide::Document),
    (Method::PUT, "/fhir/Patient/{id}", Wide::Document),
    (Method::POST, "/visits/{id}/record", Wide::Record),
    (Method::POST, "/visits/{id}/templates", Wide::Record),
    (Method::POST, "/api/visits/{id}/record", Wide::Record),
    (Method::POST, "/api/visit-templates", Wide::Record),
];

/// The largest body `method` on the route `matched` accepts.
pub fn for_route(web: &WebConfig, method: &Method, matched: Option<&str>) -> usize {
    let wide = matched.and_then(|p| WIDER.iter().find(|(m, path, _)| m == method && *path == p)).map(|w| w.2);
    match wide {
        Some(Wide::Document) => web.body_limit,
        Some(Wide::Record) => RECORD.max(web.form_body_limit).min(web.body_limit),
        None => web.form_body_limit.min(web.body_limit),
    }
}

/// The limit in force for a request, for the messages of later layers.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// Applies the route's limit: a declared length over it is refused unread,
/// any other body is read up to it (every handler reads its body whole
/// anyway) and handed on as bytes. A refusal is a plain 413, which
/// `error::explain_rejections` turns into `request.body_too_large` with the
/// limit found here (carried on the response).
pub async fn enforce(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let matched = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let limit = for_route(&st.web, req.method(), matched.as_deref());
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut resp = match declared {
        Some(n) if n > limit as u64 => too_large(),
        Some(n) if n > 0 => read(req, limit, next).await,
        _ if chunked => read(req, limit, next).await,
        _ => next.run(req).await,
    };
    resp.extensions_mut().insert(BodyLimit(limit));
    resp
}

async fn read(req: Request, limit: usize, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit)).await {
        Ok(c) => {
            parts.extensions.insert(BodyLimit(limit));
            next.run(Request::from_parts(parts, Body::from(c.to_bytes()))).await
        }
        Err(e) if e.is::<http_body_util::LengthLimitError>() => too_large(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}")).into_response(),
    }
}

fn too_large() -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wider_route_is_in_the_table() {
        let specs = crate::routes::specs();
        for (m, path, _) in WIDER {
            assert!(specs.iter().any(|s| s.method == m && s.path == *path), "{m} {path} is not a route");
        }
    }

    #[test]
    fn limits_by_route() {
        let web = WebConfig { secure_cookies: false, body_limit: 2048 * 1024, form_body_limit: 64 * 1024 };
        assert_eq!(for_route(&web, &Method::POST, Some("/fhir")), 2048 * 1024);
        assert_eq!(for_route(&web, &Method::GET, Some("/fhir")), 64 * 1024, "by method too");
        assert_eq!(for_route(&web, &Method::POST, Some("/api/patients")), 64 * 1024);
        assert_eq!(for_route(&web, &Method::POST, Some("/visits/{id}/record")), 256 * 1024);
        assert_eq!(for_route(&web, &Method::POST, None), 64 * 1024, "unmatched paths take the small limit");
        let tight = WebConfig { body_limit: 128 * 1024, ..web };
        assert_eq!(for_route(&tight, &Method::POST, Some("/visits/{id}/record")), 128 * 1024);
    }
}
