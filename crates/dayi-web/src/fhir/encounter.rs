//! `Encounter` read and search: an outpatient visit (门诊就诊), with its
//! diagnoses ranked (the primary one first). Both go through the app's
//! visit reads, which need `clinical` and audit the access to the record.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::records::{Dept, Org, Visit};
use dayi_app::visit::query::VisitRead;
use dayi_core::visit::VisitStatus;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use time::Date;
use uuid::Uuid;

use super::condition::condition_id;
use super::outcome::FhirError;
use super::schedule::Window;
use super::visit_search::{self, Spec};
use super::{base_url, instant, json, keyset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub const V3_ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const V3_PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

/// The R4 `EncounterStatus` of a visit.
pub fn status(code: &str) -> &'static str {
    match VisitStatus::parse(code) {
        Some(VisitStatus::Open) => "in-progress",
        Some(VisitStatus::Finished) => "finished",
        None => "unknown",
    }
}

/// Our visit statuses for an R4 `EncounterStatus`.
fn ours(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "in-progress" => Some(&["open"]),
        "finished" => Some(&["finished"]),
        "planned" | "arrived" | "triaged" | "onleave" | "cancelled" | "entered-in-error" | "unknown" => Some(&[]),
        _ => None,
    }
}

const SPEC: Spec = Spec {
    kind: "Encounter",
    status_param: "status",
    statuses: ours,
    status_hint: "in-progress（接诊中）或 finished（已完成）",
    extra: &["date"],
};

/// The doctor who saw the patient.
pub fn doctor(v: &Visit) -> Value {
    super::practitioner::reference(Some(v.doctor_id), &v.doctor_name)
}

/// The department, as the organisation unit that provided the visit, named
/// with the hospital as the visit's papers name it.
fn department(dept: Option<&Dept>, org: &Org) -> Value {
    let mut r = super::organization::reference(dept, org);
    if let Some(d) = dept {
        r["display"] = json!(format!("{} {}", org.name, d.name));
    }
    r
}

/// The resource for a visit and its diagnoses.
pub fn encounter(r: &VisitRead, dept: Option<&Dept>, org: &Org) -> Value {
    let v = &r.visit;
    let mut period = json!({ "start": instant(v.opened_at) });
    if let Some(end) = v.finished_at {
        period["end"] = json!(instant(end));
    }
    let mut e = json!({
        "resourceType": "Encounter",
        "id": v.id.to_string(),
        "status": status(&v.status),
        "class": { "system": V3_ACT_CODE, "code": "AMB", "display": "ambulatory" },
        "subject": { "reference": format!("Patient/{}", v.patient_id), "type": "Patient" },
        "participant": [{
            "type": [{ "coding": [{ "system": V3_PARTICIPATION, "code": "ATND", "display": "attender" }], "text": "接诊医生" }],
            "individual": doctor(v),
        }],
        "period": period,
        "serviceProvider": department(dept, org),
    });
    if let Some(b) = v.booking_id {
        e["appointment"] = json!([{ "reference": format!("Appointment/{b}") }]);
    }
    if !v.chief_complaint.is_empty() {
        e["reasonCode"] = json!([{ "text": v.chief_complaint }]);
    }
    // The primary diagnosis ranks 1, the others follow in the doctor's order.
    let mut ranked: Vec<_> = r.diagnoses.iter().collect();
    ranked.sort_by_key(|d| (!d.is_primary, d.seq));
    let diagnoses: Vec<Value> = ranked
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "condition": { "reference": format!("Condition/{}", condition_id(d)), "display": d.name },
                "rank": i + 1,
            })
        })
        .collect();
    if !diagnoses.is_empty() {
        e["diagnosis"] = json!(diagnoses);
    }
    e
}

/// Departments by id, read once per request.
#[derive(Default)]
struct Depts(HashMap<Uuid, Option<Dept>>);

impl Depts {
    async fn of(&mut self, st: &AppState, staff: &Staff, id: Uuid) -> Result<Option<&Dept>, DomainError> {
        if let Entry::Vacant(e) = self.0.entry(id) {
            e.insert(dayi_app::tenancy::dept(&st.app, &staff.actor, id).await?);
        }
        Ok(self.0.get(&id).and_then(Option::as_ref))
    }
}

/// GET /fhir/Encounter/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::VisitUnknown))?;
    let r = dayi_app::visit::query::visit(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let dept = Depts::default().of(&st, &staff, r.visit.dept_id).await?.cloned();
    Ok(json(StatusCode::OK, &encounter(&r, dept.as_ref(), &org)))
}

/// GET /fhir/Encounter?patient=&subject=&_id=&status=&date=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::visit::query::walk_visits(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let found = encounters(&st, &staff, &page.rows).await?;
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Encounter", &query, page.total, page.more, found)));
    }
    let mut p = visit_search::parse(&query, &SPEC)?;
    for ids in &p.ids {
        // A logical id that is not one of ours names no resource here.
        let ids: Vec<Uuid> = ids.iter().filter_map(|x| Uuid::parse_str(x).ok()).collect();
        visit_search::narrow(&mut p.filter.visits, ids);
    }
    let mut window = Window::default();
    for (_, v) in &p.extra {
        window.narrow(v.trim())?;
    }
    let day = |d: Option<Date>| d.map(|d| d.to_string());
    (p.filter.from_day, p.filter.to_day) = (day(window.from), day(window.to));
    let page =
        dayi_app::visit::query::visits(&st.app, &staff.actor, &p.filter, p.count as i64, p.offset as i64).await?;
    let found = encounters(&st, &staff, &page.rows).await?;
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, "Encounter", &query, &p, page.total, found)))
}

/// The resources for visits, each department read once.
async fn encounters(st: &AppState, staff: &Staff, rows: &[VisitRead]) -> Result<Vec<Value>, DomainError> {
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let mut depts = Depts::default();
    let mut found = vec![];
    for r in rows {
        let dept = depts.of(st, staff, r.visit.dept_id).await?;
        found.push(encounter(r, dept, &org));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_both_ways() {
        for code in ["open", "finished"] {
            assert_eq!(ours(status(code)), Some(&[code][..]));
        }
        assert_eq!(ours("cancelled"), Some(&[][..]));
        assert_eq!(ours("done"), None);
    }
}
