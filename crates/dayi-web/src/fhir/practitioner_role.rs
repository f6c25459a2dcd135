//! `PractitionerRole` read and search: what a member of staff does and
//! where: their roles (医生, 检验技师 …) and their department, which is the
//! `organization` and, the Chinese hospital's notion of a specialty (科室),
//! the `specialty`. One per account, with the account's id, so
//! `PractitionerRole/{id}` belongs to `Practitioner/{id}`.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::directory::Member;
use dayi_app::records::{Dept, Org};
use serde_json::{Value, json};
use uuid::Uuid;

use super::directory::{self, refers, token};
use super::outcome::FhirError;
use super::{CODE_SYSTEM, base_url, json, organization, practitioner};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// Our staff roles (`dayi_core::security::Role` codes).
pub fn role_system() -> String {
    format!("{CODE_SYSTEM}/staff-role")
}

/// One organisation's department codes as a code system, for `specialty`.
pub fn specialty_system(org_code: &str) -> String {
    format!("{CODE_SYSTEM}/dept/{org_code}")
}

/// The resource for a member of staff in their department.
pub fn practitioner_role(m: &Member, dept: Option<&Dept>, org: &Org) -> Value {
    let codes: Vec<Value> = m
        .roles
        .iter()
        .map(
            |r| json!({ "coding": [{ "system": role_system(), "code": r.code(), "display": r.zh() }], "text": r.zh() }),
        )
        .collect();
    let mut r = json!({
        "resourceType": "PractitionerRole",
        "id": m.id.to_string(),
        "active": m.active,
        "practitioner": practitioner::reference(Some(m.id), &m.name),
        "organization": organization::reference(dept, org),
        "code": codes,
    });
    if let Some(d) = dept {
        let coding = json!({ "system": specialty_system(&org.code), "code": d.code, "display": d.name });
        r["specialty"] = json!([{ "coding": [coding], "text": d.name }]);
    }
    r
}

/// GET /fhir/PractitionerRole/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    // An id not of ours names nobody (nil), but the caller is checked first.
    let id = Uuid::parse_str(&id).unwrap_or_default();
    let m = dayi_app::directory::member_by_id(&st.app, &staff.actor, id).await?;
    let depts = dayi_app::directory::depts(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let dept = depts.iter().find(|d| Some(d.id) == m.dept_id);
    Ok(json(StatusCode::OK, &practitioner_role(&m, dept, &org)))
}

/// GET /fhir/PractitionerRole?_id=&practitioner=&organization=&role=&specialty=&active=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let members = dayi_app::directory::members(&st.app, &staff.actor).await?;
    let depts = dayi_app::directory::depts(&st.app, &staff.actor).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let p = directory::parse(&query, &["_id", "practitioner", "organization", "role", "specialty", "active"])?;
    let people = p.refs("practitioner", "Practitioner")?;
    let units = p.refs("organization", "Organization")?;
    let (roles, specialties) = (role_system(), specialty_system(&org.code));
    let mut matches = vec![];
    for m in &members {
        let dept = depts.iter().find(|d| Some(d.id) == m.dept_id);
        let keep = p.all("_id", |v| v == m.id.to_string())
            && refers(&people, m.id)
            && refers(&units, dept.map_or(org.org_id, |d| d.id))
            && p.all("role", |v| m.roles.iter().any(|r| token(v, &roles, r.code())))
            && p.all("specialty", |v| dept.is_some_and(|d| token(v, &specialties, &d.code)))
            && p.active(m.active);
        if keep {
            matches.push(practitioner_role(m, dept, &org));
        }
    }
    let base = base_url(&headers, st.web.secure_cookies);
    Ok(json(StatusCode::OK, &p.page(&base, "PractitionerRole", &query, matches)?))
}
