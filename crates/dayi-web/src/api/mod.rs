//! The JSON API under `/api`, described by `/api/openapi.json`.

pub mod admin;
pub mod billing;
pub mod booking;
pub mod card;
pub mod chronic;
pub mod lab;
pub mod openapi;
pub mod patient;
pub mod portal;
pub mod queue;
pub mod roster;
pub mod system;
pub mod triage;
pub mod visit;

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use dayi_core::{DomainError, ErrorCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body whose failures are answered as problem+json.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;
    async fn from_request(req: Request, s: &S) -> Result<Self, Response> {
        match axum::Json::<T>::from_request(req, s).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(rej) => {
                use axum::extract::rejection::JsonRejection as R;
                let e = match rej {
                    R::MissingJsonContentType(_) => {
                        DomainError::with(ErrorCode::UnsupportedMediaType, ["application/json"])
                    }
                    R::JsonDataError(d) => DomainError::with(ErrorCode::BadRequest, [d.body_text()]),
                    R::JsonSyntaxError(d) => DomainError::with(ErrorCode::BadRequest, [d.body_text()]),
                    other => DomainError::with(ErrorCode::BadRequest, [other.body_text()]),
                };
                Err(ApiError(e).into_response())
            }
        }
    }
}

pub type ApiResult<T> = Result<axum::Json<T>, ApiError>;
