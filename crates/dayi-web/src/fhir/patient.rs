//! `Patient` read, search and create. Each handler checks the permission
//! before looking at its input, so a caller without it learns nothing from
//! how its request would have failed.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use dayi_app::patient::{PatientView, SEARCH_LIMIT};
use dayi_app::records::Org;
use dayi_core::patient::Channel;
use dayi_core::{DomainError, ErrorCode};
use serde_json::Value;
use uuid::Uuid;

use super::outcome::FhirError;
use super::search::Lookup;
use super::{base_url, json, keyset, patient_form, resource, search};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// GET /fhir/Patient/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    // A logical id that is not one of ours names no resource here.
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::PatientUnknown))?;
    let v = dayi_app::patient::view(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(versioned(json(StatusCode::OK, &resource(&st, &staff, &v, &org).await?), &v))
}

/// The resource for one record, with the identifiers other systems gave it.
async fn resource(st: &AppState, staff: &Staff, v: &PatientView, org: &Org) -> Result<Value, DomainError> {
    Ok(resources(st, staff, std::slice::from_ref(v), org).await?.remove(0))
}

/// The resources for records, each with the identifiers other systems gave it.
async fn resources(st: &AppState, staff: &Staff, views: &[PatientView], org: &Org) -> Result<Vec<Value>, DomainError> {
    let ids: Vec<Uuid> = views.iter().map(|v| v.id).collect();
    let foreign = dayi_app::patient::identifier::of(&st.app, &staff.actor, &ids).await?;
    let none = vec![];
    Ok(views.iter().map(|v| resource::patient(v, org, foreign.get(&v.id).unwrap_or(&none))).collect())
}

/// A Patient answer with its version as ETag.
fn versioned(mut resp: Response, v: &PatientView) -> Response {
    resp.headers_mut().insert(header::ETAG, super::etag(v.version));
    resp
}

/// GET /fhir/Patient?identifier=&name=&phone=&birthdate=&gender=&_lastUpdated=&_count=&_offset=,
/// or with no search parameter every active record by `_cursor`.
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::patient::walk(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let found = resources(&st, &staff, &page.rows, &org).await?;
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Patient", &query, page.total, page.more, found)));
    }
    let s = search::parse(&query, &org.code)?;
    let mut truncated = false;
    let mut found: Option<Vec<PatientView>> = None;
    for select in &s.selects {
        let mut united: Vec<PatientView> = vec![];
        for l in select {
            let hits: Vec<PatientView> = match l {
                Lookup::Box { q, must } => {
                    let hits = dayi_app::patient::search(&st.app, &staff.actor, q).await?;
                    truncated |= hits.len() as i64 >= SEARCH_LIMIT;
                    hits.into_iter().filter(|v| must.holds(v)).collect()
                }
                Lookup::Foreign { system, value } => {
                    let hits =
                        dayi_app::patient::identifier::search(&st.app, &staff.actor, system.as_deref(), value).await?;
                    truncated |= hits.len() as i64 >= SEARCH_LIMIT;
                    hits
                }
            };
            for v in hits {
                if !united.iter().any(|u| u.id == v.id) {
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
    let count = s.count.unwrap_or(SEARCH_LIMIT as usize).min(SEARCH_LIMIT as usize);
    let shown: Vec<PatientView> = matches.iter().skip(s.offset).take(count).cloned().collect();
    let page = resources(&st, &staff, &shown, &org).await?;
    let warning = truncated.then(|| format!("每次检索最多查看 {SEARCH_LIMIT} 位患者，结果可能不全，请补充检索条件"));
    let mut bundle = super::searchset(&base, "Patient", &query, matches.len(), page, warning);
    super::link_pages(&mut bundle, &base, "Patient", &query, count, s.offset, matches.len());
    Ok(json(StatusCode::OK, &bundle))
}

pub(super) fn is_json(headers: &HeaderMap) -> bool {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == super::MEDIA_TYPE || mime == "application/json"
}

/// The Patient resource in a request body, refused before anything is written
/// when it is not JSON or not a Patient.
fn body_patient(headers: &HeaderMap, body: &[u8]) -> Result<Value, DomainError> {
    if !is_json(headers) {
        return Err(DomainError::with(ErrorCode::UnsupportedMediaType, [super::MEDIA_TYPE]));
    }
    let r: Value = serde_json::from_slice(body).map_err(|e| DomainError::with(ErrorCode::BadRequest, [e]))?;
    if r.get("resourceType").and_then(Value::as_str) != Some("Patient") {
        return Err(DomainError::with(ErrorCode::BadRequest, ["resourceType 应为 Patient"]));
    }
    Ok(r)
}

/// POST /fhir/Patient (application/fhir+json or application/json)
pub async fn create(State(st): State<AppState>, staff: Staff, headers: HeaderMap, body: Bytes) -> FhirResult {
    dayi_app::patient::require_write(&st.app, &staff.actor).await?;
    let r = body_patient(&headers, &body)?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let sent = patient_form::form(&r, &org.code)?;
    let p = dayi_app::patient::register_with(&st.app, &staff.actor, &sent.form, &sent.foreign, Channel::Fhir)
        .await
        .map_err(|e| FhirError(e, sent.paths))?;
    // The answer is the masked view, like every read: the client sent the
    // full values and needs no echo of them.
    let v = PatientView::new(&p, false);
    let mut resp = versioned(json(StatusCode::CREATED, &resource::patient(&v, &org, &sent.foreign)), &v);
    if let Ok(loc) = HeaderValue::from_str(&format!("/fhir/Patient/{}", p.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// PUT /fhir/Patient/{id} with `If-Match: W/"{versionId}"`: corrects the
/// record's demographics. Identifiers the server assigns (hospital card,
/// health card) are its own and ignored in the body; masked values sent back
/// unchanged keep the stored ones.
pub async fn update(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> FhirResult {
    dayi_app::patient::require_write(&st.app, &staff.actor).await?;
    let uuid = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::PatientUnknown))?;
    let r = body_patient(&headers, &body)?;
    if r.get("id").and_then(Value::as_str) != Some(id.as_str()) {
        return Err(
            DomainError::with(ErrorCode::BadRequest, [format!("Patient.id 应与地址中的 id「{id}」一致")]).into()
        );
    }
    let version = super::if_match(&headers)?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let sent = patient_form::form(&r, &org.code)?;
    let ids = Some(sent.foreign.as_slice());
    let p = dayi_app::patient::update_with(&st.app, &staff.actor, uuid, &sent.form, ids, version, Channel::Fhir)
        .await
        .map_err(|e| FhirError(e, sent.paths))?;
    let v = PatientView::new(&p, false);
    Ok(versioned(json(StatusCode::OK, &resource(&st, &staff, &v, &org).await?), &v))
}
