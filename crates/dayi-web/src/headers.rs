//! Security headers on every answer (pages, the API, static files, errors):
//! no framing by other sites, no MIME sniffing, no referrer sent to other
//! sites, and scripts and styles only from this server's own files, so an
//! injected `<script>` or `onclick` does not run. HSTS when Dayi is served
//! over TLS (`secure_cookies`, which says so).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The policy of every page. `img-src data:` is for Swagger UI's icons;
/// styles set from scripts (CSSOM) are not inline styles and need nothing.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

const HSTS: &str = "max-age=31536000; includeSubDomains";

pub async fn secure(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if st.web.secure_cookies {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    r
}
