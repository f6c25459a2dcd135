//! Policy values: dated rows, an organisation's own (`setting` table) first,
//! then the shipped catalogue (`catalog/policy.toml`). Read often and changed
//! rarely, so values are cached for a minute.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dayi_core::DomainError;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::{App, OrInternal};

const CATALOG: &str = include_str!("../../../catalog/policy.toml");
const CACHE_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
struct Catalog {
    policy: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Row {
    key: String,
    effective_from: String,
    value: toml::Value,
}

type Key = (Uuid, &'static str, String);

#[derive(Clone, Default)]
pub struct PolicyCache(Arc<Mutex<HashMap<Key, (Instant, i64)>>>, Arc<Mutex<JsonCache>>, Arc<Mutex<ParsedCache>>);

/// Structured values by (organisation, key, day).
type JsonCache = HashMap<(Uuid, String, String), (Instant, Option<Json>)>;
/// Structured values already turned into their Rust types, by (organisation, key, day).
type ParsedCache = HashMap<Key, (Instant, Arc<dyn Any + Send + Sync>)>;

/// The shipped value in force on `date`.
fn shipped(key: &str, date: &str) -> Option<i64> {
    let catalog: Catalog = toml::from_str(CATALOG).ok()?;
    catalog
        .policy
        .into_iter()
        .filter(|r| r.key == key && r.effective_from.as_str() <= date)
        .max_by(|a, b| a.effective_from.cmp(&b.effective_from))
        .and_then(|r| r.value.as_integer())
}

/// An integer policy value in force today for the organisation.
pub async fn int(app: &App, org_id: Uuid, key: &'static str) -> Result<i64, DomainError> {
    let today = dayi_core::timefmt::today_cst().to_string();
    let k = (org_id, key, today.clone());
    if let Some((at, v)) = app.policy.0.lock().unwrap_or_else(|e| e.into_inner()).get(&k)
        && at.elapsed() < CACHE_FOR
    {
        return Ok(*v);
    }
    let own = dayi_store::setting::effective(&app.db, org_id, key, &today).await.or_internal()?;
    let value = match own.and_then(|s| serde_json::from_str::<i64>(&s.value).ok()) {
        Some(v) => v,
        None => shipped(key, &today).ok_or_else(|| crate::internal(format!("policy {key} missing from catalog")))?,
    };
    app.policy.0.lock().unwrap_or_else(|e| e.into_inner()).insert(k, (Instant::now(), value));
    Ok(value)
}

/// A structured policy value (a table in the catalogue, JSON in `setting`)
/// in force today: the organisation's row for `key`, else the shipped one;
/// `None` when neither exists. Callers look up a specific key (e.g. one
/// department's rules) before falling back to a general one.
pub async fn json_opt(app: &App, org_id: Uuid, key: &str) -> Result<Option<Json>, DomainError> {
    let today = dayi_core::timefmt::today_cst().to_string();
    let k = (org_id, key.to_string(), today.clone());
    if let Some((at, v)) = app.policy.1.lock().unwrap_or_else(|e| e.into_inner()).get(&k)
        && at.elapsed() < CACHE_FOR
    {
        return Ok(v.clone());
    }
    let own = dayi_store::setting::effective(&app.db, org_id, key, &today).await.or_internal()?;
    let value = match own.and_then(|s| serde_json::from_str::<Json>(&s.value).ok()) {
        Some(v) => Some(v),
        None => shipped_json(key, &today),
    };
    app.policy.1.lock().unwrap_or_else(|e| e.into_inner()).insert(k, (Instant::now(), value.clone()));
    Ok(value)
}

/// A structured policy value decoded as `T`; missing or malformed is a
/// configuration fault reported as an internal error.
pub async fn json<T: DeserializeOwned>(app: &App, org_id: Uuid, key: &str) -> Result<T, DomainError> {
    let v = json_opt(app, org_id, key).await?.ok_or_else(|| crate::internal(format!("policy {key} missing")))?;
    serde_json::from_value(v).map_err(|e| crate::internal(format!("policy {key} malformed: {e}")))
}

/// A structured policy value turned once into `T` by `parse` (given the
/// value in force, `None` when there is none) and cached like the value: for
/// large tables read on every request, such as the lab catalogue.
pub async fn parsed<T: Send + Sync + 'static>(
    app: &App,
    org_id: Uuid,
    key: &'static str,
    parse: impl FnOnce(Option<Json>) -> Result<T, DomainError>,
) -> Result<Arc<T>, DomainError> {
    let k = (org_id, key, dayi_core::timefmt::today_cst().to_string());
    let hit = app.policy.2.lock().unwrap_or_else(|e| e.into_inner()).get(&k).cloned();
    if let Some((at, v)) = hit
        && at.elapsed() < CACHE_FOR
        && let Ok(v) = v.downcast::<T>()
    {
        return Ok(v);
    }
    let value = Arc::new(parse(json_opt(app, org_id, key).await?)?);
    app.policy.2.lock().unwrap_or_else(|e| e.into_inner()).insert(k, (Instant::now(), value.clone()));
    Ok(value)
}

/// Forgets cached values, so a change made now is read at once.
pub fn forget(app: &App) {
    app.policy.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    app.policy.1.lock().unwrap_or_else(|e| e.into_inner()).clear();
    app.policy.2.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

fn shipped_json(key: &str, date: &str) -> Option<Json> {
    let catalog: Catalog = toml::from_str(CATALOG).ok()?;
    let row = catalog
        .policy
        .into_iter()
        .filter(|r| r.key == key && r.effective_from.as_str() <= date)
        .max_by(|a, b| a.effective_from.cmp(&b.effective_from))?;
    serde_json::to_value(row.value).ok()
}

pub const GUARDIAN_UNDER_AGE: &str = "patient.guardian_under_age";
pub const DYNAMIC_QR_MINUTES: &str = "card.dynamic_qr_minutes";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_is_dated() {
        assert_eq!(shipped(GUARDIAN_UNDER_AGE, "2026-11-23"), Some(14));
        assert_eq!(shipped(GUARDIAN_UNDER_AGE, "2021-10-31"), None);
        assert_eq!(shipped(DYNAMIC_QR_MINUTES, "2026-11-23"), Some(5));
    }
}
