//! `Location` read and search: the consulting rooms (诊室) the rosters
//! name, each managed by its department (`dayi_app::directory::rooms`).
//! A room is `active` while an active weekly roster or a session from today
//! on names it. Two departments that give a room the same name have one
//! `Location` each, as the rosters cannot tell whether it is one room.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::directory::{Room, room_id};
use dayi_app::records::{Dept, Org};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::directory::{self, refers, starts};
use super::outcome::FhirError;
use super::{bad, base_url, json, organization};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub const PHYSICAL_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

/// The resource for a room.
pub fn location(r: &Room, dept: Option<&Dept>, org: &Org) -> Value {
    let dept_name = dept.map_or("", |d| d.name.as_str());
    json!({
        "resourceType": "Location",
        "id": r.id.to_string(),
        "status": if r.active { "active" } else { "inactive" },
        "name": r.name,
        "description": format!("{}{dept_name}门诊诊室", org.name),
        "mode": "instance",
        "physicalType": { "coding": [{ "system": PHYSICAL_TYPE, "code": "ro", "display": "Room" }], "text": "诊室" },
        "managingOrganization": organization::reference(dept, org),
    })
}

/// A reference to the room a roster row names, if it names one.
pub fn reference(dept_id: Uuid, room: Option<&str>) -> Option<Value> {
    let name = room.map(str::trim).filter(|r| !r.is_empty())?;
    Some(json!({ "reference": format!("Location/{}", room_id(dept_id, name)), "type": "Location", "display": name }))
}

/// GET /fhir/Location/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let rooms = dayi_app::directory::rooms(&st.app, &staff.actor).await?;
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::NotFound))?;
    let r = rooms.iter().find(|r| r.id == id).ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let depts = dayi_app::directory::depts(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &location(r, depts.iter().find(|d| d.id == r.dept_id), &org)))
}

/// GET /fhir/Location?_id=&name=&organization=&status=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let rooms = dayi_app::directory::rooms(&st.app, &staff.actor).await?;
    let depts = dayi_app::directory::depts(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let p = directory::parse(&query, &["_id", "name", "organization", "status"])?;
    p.check("status", |v| match v {
        "active" | "inactive" | "suspended" => Ok(()),
        _ => Err(bad(format!("status「{v}」应为 active（在用）或 inactive（停用）"))),
    })?;
    let units = p.refs("organization", "Organization")?;
    let mut matches = vec![];
    for r in &rooms {
        let keep = p.all("_id", |v| v == r.id.to_string())
            && p.all("name", |v| starts(&[&r.name], v))
            && refers(&units, r.dept_id)
            && p.all("status", |v| v == if r.active { "active" } else { "inactive" });
        if keep {
            matches.push(location(r, depts.iter().find(|d| d.id == r.dept_id), &org));
        }
    }
    let base = base_url(&headers, st.web.secure_cookies);
    Ok(json(StatusCode::OK, &p.page(&base, "Location", &query, matches)?))
}
