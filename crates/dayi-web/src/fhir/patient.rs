//! `Patient` read, search and create. Each handler checks the permission
//! before looking at its input, so a caller without it learns nothing from
//! how its request would have failed.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use dayi_app::patient::{PatientView, SEARCH_LIMIT};
use dayi_core::patient::Channel;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::outcome::FhirError;
use super::{base_url, intake, json, resource, search};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// GET /fhir/Patient/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    staff.actor.require(&st.app, Perm::PatientRead).await?;
    // A logical id that is not one of ours names no resource here.
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::PatientUnknown))?;
    let v = dayi_app::patient::view(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &resource::patient(&v, &org)))
}

/// GET /fhir/Patient?identifier=&name=&phone=&birthdate=&gender=&_count=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    staff.actor.require(&st.app, Perm::PatientRead).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let s = search::parse(&query, &org.code)?;
    let mut truncated = false;
    let mut found: Option<Vec<PatientView>> = None;
    for select in &s.selects {
        let mut united: Vec<PatientView> = vec![];
        for l in select {
            let hits = dayi_app::patient::search(&st.app, &staff.actor, &l.q).await?;
            truncated |= hits.len() as i64 >= SEARCH_LIMIT;
            for v in hits {
                if l.must.holds(&v) && !united.iter().any(|u| u.id == v.id) {
                    united.push(v);
                }
            }
        }
        found = Some(match found {
            None => united,
            Some(prev) => prev.into_iter().filter(|p| united.iter().any(|u| u.id == p.id)).collect(),
        });
    }
    let matches: Vec<PatientView> = found.unwrap_or_default().into_iter().filter(|v| s.keeps(v)).collect();
    let base = base_url(&headers, st.web.secure_cookies);
    let shown = s.count.unwrap_or(SEARCH_LIMIT as usize).min(SEARCH_LIMIT as usize);
    let mut entries: Vec<Value> = matches
        .iter()
        .take(shown)
        .map(|v| {
            json!({
                "fullUrl": format!("{base}/Patient/{}", v.id),
                "resource": resource::patient(v, &org),
                "search": { "mode": "match" },
            })
        })
        .collect();
    if truncated {
        entries.push(json!({
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "warning",
                    "code": "too-costly",
                    "diagnostics": format!("每次检索最多查看 {SEARCH_LIMIT} 位患者，结果可能不全，请补充检索条件"),
                }],
            },
            "search": { "mode": "outcome" },
        }));
    }
    let sep = if query.is_empty() { "" } else { "?" };
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": matches.len(),
        "link": [{ "relation": "self", "url": format!("{base}/Patient{sep}{query}") }],
        "entry": entries,
    });
    Ok(json(StatusCode::OK, &bundle))
}

fn is_json(headers: &HeaderMap) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == super::MEDIA_TYPE || mime == "application/json"
}

/// POST /fhir/Patient (application/fhir+json or application/json)
pub async fn create(State(st): State<AppState>, staff: Staff, headers: HeaderMap, body: Bytes) -> FhirResult {
    staff.actor.require(&st.app, Perm::PatientWrite).await?;
    if !is_json(&headers) {
        return Err(DomainError::with(ErrorCode::UnsupportedMediaType, [super::MEDIA_TYPE]).into());
    }
    let r: Value = serde_json::from_slice(&body).map_err(|e| DomainError::with(ErrorCode::BadRequest, [e]))?;
    if r.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return Err(DomainError::with(ErrorCode::BadRequest, ["resourceType 应为 Patient"]).into());
    }
    let (form, paths) = intake::form(&r)?;
    let p = dayi_app::patient::register(&st.app, &staff.actor, &form, Channel::Fhir)
        .await
        .map_err(|e| FhirError(e, paths))?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    // The answer is the masked view, like every read: the client sent the
    // full values and needs no echo of them.
    let body = resource::patient(&PatientView::new(&p, false), &org);
    let mut resp = json(StatusCode::CREATED, &body);
    if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/Patient/{}", p.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}
