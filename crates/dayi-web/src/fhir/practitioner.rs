//! `Practitioner` read and search: a staff account that holds a work role
//! (`dayi_app::directory`), identified by its work number (工号, the
//! sign-in name) under the organisation's namespace. Staff records hold no
//! phone, sex or birth date, so the resource carries none.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::directory::Member;
use dayi_app::records::Org;
use serde_json::{Value, json};
use uuid::Uuid;

use super::directory::{self, starts, token};
use super::organization;
use super::outcome::FhirError;
use super::resource::{human_name, id_type, split_name};
use super::{SID, base_url, json};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// The work numbers (工号) of one organisation's staff.
pub fn staff_system(org_code: &str) -> String {
    format!("{SID}/staff/{org_code}")
}

/// The resource for a member of staff.
pub fn practitioner(m: &Member, org: &Org) -> Value {
    json!({
        "resourceType": "Practitioner",
        "id": m.id.to_string(),
        "identifier": [{
            "use": "official",
            "type": id_type("EI", "Employee number"),
            "system": staff_system(&org.code),
            "value": m.username,
            "assigner": organization::reference(None, org),
        }],
        "active": m.active,
        "name": [human_name(&m.name)],
    })
}

/// A staff member as other resources name them: by reference when their
/// account is known (a visiting expert has none here), always by name.
pub fn reference(id: Option<Uuid>, display: &str) -> Value {
    let mut r = json!({ "type": "Practitioner", "display": display });
    if let Some(id) = id {
        r["reference"] = json!(format!("Practitioner/{id}"));
    }
    r
}

/// GET /fhir/Practitioner/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    // An id not of ours names nobody (nil), but the caller is checked first.
    let id = Uuid::parse_str(&id).unwrap_or_default();
    let m = dayi_app::directory::member_by_id(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &practitioner(&m, &org)))
}

/// The name's searchable parts: the whole name, and family and given.
fn name_parts(name: &str) -> Vec<&str> {
    let mut parts = vec![name];
    if let Some((family, given)) = split_name(name) {
        parts.extend([family, given]);
    }
    parts
}

/// GET /fhir/Practitioner?_id=&identifier=&name=&active=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let members = dayi_app::directory::members(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let p = directory::parse(&query, &["_id", "identifier", "name", "active"])?;
    let system = staff_system(&org.code);
    let mut matches = vec![];
    for m in &members {
        let keep = p.all("_id", |v| v == m.id.to_string())
            && p.all("identifier", |v| token(v, &system, &m.username))
            && p.all("name", |v| starts(&name_parts(&m.name), v))
            && p.active(m.active);
        if keep {
            matches.push(practitioner(m, &org));
        }
    }
    let base = base_url(&headers, st.web.secure_cookies);
    Ok(json(StatusCode::OK, &p.page(&base, "Practitioner", &query, matches)?))
}
