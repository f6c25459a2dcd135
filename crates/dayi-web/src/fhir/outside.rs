//! Reads that also answer outside records (院外记录, see
//! `dayi_app::import`): when a type's own records have no such id, an
//! imported resource of that type with it is served as received, tagged
//! `outside` so no one takes it for this hospital's own record.

use std::future::Future;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use super::outcome::FhirError;
use super::{CODE_SYSTEM, json};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<axum::response::Response, FhirError>;

/// The tag every outside record carries.
pub fn tag() -> Value {
    json!({ "system": format!("{CODE_SYSTEM}/record-source"), "code": "outside", "display": "院外记录" })
}

async fn or_outside<F, Fut>(kind: &str, st: AppState, staff: Staff, id: String, ours: F) -> FhirResult
where
    F: FnOnce(State<AppState>, Staff, Path<String>) -> Fut,
    Fut: Future<Output = FhirResult>,
{
    let answer = ours(State(st.clone()), staff.clone(), Path(id.clone())).await;
    let missing = matches!(&answer, Err(FhirError(e, _)) if e.code.status() == 404);
    let Some(uuid) = Uuid::parse_str(&id).ok().filter(|_| missing) else { return answer };
    let r = match dayi_app::import::outside(&st.app, &staff.actor, kind, uuid).await {
        Ok(r) => r,
        Err(e) if e.code.status() == 404 => return answer,
        Err(e) => return Err(e.into()),
    };
    let Ok(mut resource) = serde_json::from_str::<Value>(&r.resource) else { return answer };
    let tags = resource["meta"]["tag"].as_array().cloned().unwrap_or_default();
    resource["meta"]["tag"] = json!(tags.into_iter().chain([tag()]).collect::<Vec<_>>());
    Ok(json(StatusCode::OK, &resource))
}

pub async fn observation(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    or_outside("Observation", st, staff, id, super::observation::read).await
}

pub async fn report(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    or_outside("DiagnosticReport", st, staff, id, super::report::read).await
}

pub async fn encounter(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    or_outside("Encounter", st, staff, id, super::encounter::read).await
}

pub async fn condition(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    or_outside("Condition", st, staff, id, super::condition::read).await
}
