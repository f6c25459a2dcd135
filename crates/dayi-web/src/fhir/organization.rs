//! `Organization` read and search: the hospital (the tenancy's organisation)
//! and each of its departments, a department `partOf` the hospital. Ids are
//! the records' own; the hospital is identified by its organisation code,
//! a department by its code in the hospital's namespace, as
//! `Encounter.serviceProvider` and `Schedule.actor` name it.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::records::{Dept, Org};
use dayi_app::tenancy::DEPT_KINDS;
use dayi_core::tenancy::OrgKind;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::directory::{self, refers, starts, token};
use super::outcome::FhirError;
use super::schedule::dept_system;
use super::{CODE_SYSTEM, SID, base_url, json};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub const ORGANIZATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";

/// Organisation codes (one per hospital, centre or clinic of the community).
pub fn org_system() -> String {
    format!("{SID}/org")
}

pub fn org_kind_system() -> String {
    format!("{CODE_SYSTEM}/org-kind")
}

pub fn dept_kind_system() -> String {
    format!("{CODE_SYSTEM}/dept-kind")
}

fn kind_type(hl7: (&str, &str), ours: (String, &str, &str)) -> Value {
    let (system, code, zh) = ours;
    json!({
        "coding": [
            { "system": ORGANIZATION_TYPE, "code": hl7.0, "display": hl7.1 },
            { "system": system, "code": code, "display": zh },
        ],
        "text": zh,
    })
}

/// The hospital itself.
pub fn hospital(org: &Org) -> Value {
    let zh = OrgKind::parse(&org.kind).map(|k| k.zh()).unwrap_or(&org.kind);
    json!({
        "resourceType": "Organization",
        "id": org.org_id.to_string(),
        "identifier": [{ "use": "official", "system": org_system(), "value": org.code }],
        "active": true,
        "type": [kind_type(("prov", "Healthcare Provider"), (org_kind_system(), &org.kind, zh))],
        "name": org.name,
    })
}

/// A department, part of the hospital.
pub fn department(d: &Dept, org: &Org) -> Value {
    let zh = DEPT_KINDS.iter().find(|(k, _)| *k == d.kind).map(|(_, zh)| *zh).unwrap_or(&d.kind);
    json!({
        "resourceType": "Organization",
        "id": d.id.to_string(),
        "identifier": [{ "use": "official", "system": dept_system(&org.code), "value": d.code }],
        "active": d.active,
        "type": [kind_type(("dept", "Hospital Department"), (dept_kind_system(), &d.kind, zh))],
        "name": d.name,
        "partOf": reference(None, org),
    })
}

/// A reference to a department, or to the hospital when there is none.
pub fn reference(dept: Option<&Dept>, org: &Org) -> Value {
    match dept {
        Some(d) => json!({
            "reference": format!("Organization/{}", d.id),
            "type": "Organization",
            "identifier": { "system": dept_system(&org.code), "value": d.code },
            "display": d.name,
        }),
        None => json!({
            "reference": format!("Organization/{}", org.org_id),
            "type": "Organization",
            "identifier": { "system": org_system(), "value": org.code },
            "display": org.name,
        }),
    }
}

/// GET /fhir/Organization/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let depts = dayi_app::directory::depts(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::NotFound))?;
    let found = match depts.iter().find(|d| d.id == id) {
        Some(d) => department(d, &org),
        None if id == org.org_id => hospital(&org),
        None => return Err(DomainError::new(ErrorCode::NotFound).into()),
    };
    Ok(json(StatusCode::OK, &found))
}

/// GET /fhir/Organization?_id=&identifier=&name=&type=&partof=&active=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let depts = dayi_app::directory::depts(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let p = directory::parse(&query, &["_id", "identifier", "name", "type", "partof", "active"])?;
    let partof = p.refs("partof", "Organization")?;
    let mut matches = vec![];
    // The hospital first, then its departments by code.
    let units = std::iter::once((None, org.org_id, hospital(&org)))
        .chain(depts.iter().map(|d| (Some(d), d.id, department(d, &org))));
    for (dept, id, r) in units {
        let (id_system, code) = match dept {
            Some(d) => (dept_system(&org.code), d.code.as_str()),
            None => (org_system(), org.code.as_str()),
        };
        let (hl7, kind_system, kind) = match dept {
            Some(d) => ("dept", dept_kind_system(), d.kind.as_str()),
            None => ("prov", org_kind_system(), org.kind.as_str()),
        };
        let keep = p.all("_id", |v| v == id.to_string())
            && p.all("identifier", |v| token(v, &id_system, code))
            && p.all("name", |v| starts(&[r["name"].as_str().unwrap_or_default()], v))
            && p.all("type", |v| token(v, ORGANIZATION_TYPE, hl7) || token(v, &kind_system, kind))
            && (partof.is_empty() || dept.is_some() && refers(&partof, org.org_id))
            && p.active(dept.is_none_or(|d| d.active));
        if keep {
            matches.push(r);
        }
    }
    let base = base_url(&headers, st.web.secure_cookies);
    Ok(json(StatusCode::OK, &p.page(&base, "Organization", &query, matches)?))
}
