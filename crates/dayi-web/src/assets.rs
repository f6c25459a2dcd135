//! Static files (stylesheet, vendored htmx and Swagger UI). Release builds
//! embed them; debug builds read them from disk so edits show at once.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/static"]
struct Static;

pub async fn serve(Path(path): Path<String>) -> Response {
    match Static::get(&path) {
        Some(f) => {
            let mime = mime_for(&path);
            let mut r = f.data.into_owned().into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
            r
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}
