//! The HTTP layer of Dayi: staff console pages (minijinja + htmx), the JSON
//! API with its OpenAPI document, health and metrics. Handlers parse input,
//! call one `dayi_app` use case and render the answer; no SQL and no
//! business rules live here.

pub mod api;
pub mod assets;
pub mod chart;
pub mod error;
pub mod fhir;
pub mod headers;
pub mod i18n;
pub mod limits;
pub mod metrics;
pub mod pages;
pub mod params;
pub mod principal;
pub mod render;
pub mod routes;
pub mod xlsx;

use std::sync::Arc;

use axum::Router;
use dayi_app::App;

pub use routes::{Need, RouteSpec};

/// Web settings (the `[server]` section of the configuration).
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure`: set when Dayi is served over TLS (directly or behind a proxy).
    pub secure_cookies: bool,
    /// Largest request body accepted, in bytes: the routes that take FHIR documents (`limits::WIDER`).
    pub body_limit: usize,
    /// Largest body of every other route, in bytes.
    pub form_body_limit: usize,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self { secure_cookies: false, body_limit: 2 * 1024 * 1024, form_body_limit: 64 * 1024 }
    }
}

/// Shared by every request. Cloned by every extractor and middleware, so
/// it is two pointers: cloning `App` itself (a score of shared handles) took
/// 15 % of a FHIR read's CPU.
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub web: Arc<WebConfig>,
}

/// Builds the whole router with its middleware.
pub fn router(app: App, web: WebConfig) -> Router {
    let state = AppState { app: Arc::new(app), web: Arc::new(web) };
    routes::build(state)
}
