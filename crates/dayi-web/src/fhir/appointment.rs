//! `Appointment` read and search: a booking or registration (预约/挂号) of
//! one slot for one patient. Both go through the app's booking reads, which
//! check `patient.read` and audit the access to the patient's record.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::booking::SessionView;
use dayi_app::records::{Booking, Org};
use dayi_core::booking::{BookingChannel, BookingStatus};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::outcome::FhirError;
use super::schedule::{DeptCodes, department, practitioner, room, service_type};
use super::slot::slot_id;
use super::{CODE_SYSTEM, RefSearch, SID, base_url, instant, json, keyset, ref_search, searchset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub const V2_0276: &str = "http://terminology.hl7.org/CodeSystem/v2-0276";
pub const CANCELLATION_REASON: &str = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason";
pub const EXT_CHANNEL: &str = "https://dayi.org.cn/fhir/StructureDefinition/booking-channel";

/// The registration numbers of one organisation.
pub fn reg_no_system(org_code: &str) -> String {
    format!("{SID}/reg-no/{org_code}")
}

/// The R4 `AppointmentStatus` of a booking status.
pub fn status(code: &str) -> &'static str {
    match BookingStatus::parse(code) {
        Some(BookingStatus::Booked) => "booked",
        Some(BookingStatus::CheckedIn) => "arrived",
        Some(BookingStatus::Cancelled | BookingStatus::Stopped) => "cancelled",
        Some(BookingStatus::NoShow) => "noshow",
        // A status this version does not know.
        None => "entered-in-error",
    }
}

const STATUSES: &[&str] = &[
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
];

/// Why a booking ended: the patient's (or counter's) reason, or the clinic stopping (停诊).
fn cancelation_reason(b: &Booking) -> Option<Value> {
    let reason = b.cancel_reason.as_deref().unwrap_or("");
    match BookingStatus::parse(&b.status)? {
        BookingStatus::Cancelled => Some(json!({ "text": if reason.is_empty() { "取消预约" } else { reason } })),
        BookingStatus::Stopped => Some(json!({
            "coding": [{ "system": CANCELLATION_REASON, "code": "prov", "display": "Provider" }],
            "text": format!("停诊：{reason}"),
        })),
        _ => None,
    }
}

/// The resource for a booking of a session.
pub fn appointment(b: &Booking, s: &SessionView, dept_code: Option<&str>, org: &Org) -> Value {
    let booking = BookingStatus::parse(&b.status);
    let channel = BookingChannel::parse(&b.channel);
    let walk_in = channel == Some(BookingChannel::WalkIn);
    let (kind, kind_name) = if walk_in {
        ("WALKIN", "A previously unscheduled walk-in visit")
    } else {
        ("ROUTINE", "Routine appointment - default if not valued")
    };
    let patient_status = if booking == Some(BookingStatus::Cancelled) { "declined" } else { "accepted" };
    let doctor_status = if booking == Some(BookingStatus::Stopped) { "declined" } else { "accepted" };
    let mut participants = vec![
        json!({
            "actor": { "reference": format!("Patient/{}", b.patient_id), "type": "Patient" },
            "required": "required",
            "status": patient_status,
        }),
        json!({ "actor": practitioner(s), "required": "required", "status": doctor_status }),
        json!({ "actor": department(s, dept_code, org), "required": "information-only", "status": "accepted" }),
    ];
    participants.extend(room(s).map(|r| json!({ "actor": r, "required": "information-only", "status": "accepted" })));
    let (day, half, doctor, kind_zh) = (&s.day, s.half_day_name, &s.doctor_name, s.clinic_type_name);
    let description = format!("{} {day} {half} {doctor} {kind_zh} 第 {} 号", s.dept_name, b.seq);
    let mut r = json!({
        "resourceType": "Appointment",
        "id": b.id.to_string(),
        "identifier": [{
            "use": "official",
            "system": reg_no_system(&org.code),
            "value": b.reg_no,
            "assigner": { "display": org.name },
        }],
        "status": status(&b.status),
        "serviceType": [service_type(&s.clinic_type)],
        "appointmentType": { "coding": [{ "system": V2_0276, "code": kind, "display": kind_name }] },
        "description": description,
        "start": instant(b.slot_start),
        "end": instant(b.slot_start + s.slot_minutes * 60_000_000),
        "minutesDuration": s.slot_minutes,
        "slot": [{ "reference": format!("Slot/{}", slot_id(b.session_id, b.seq)) }],
        "created": instant(b.created_at),
        "participant": participants,
    });
    if let Some(c) = channel {
        let coding = json!({ "system": format!("{CODE_SYSTEM}/booking-channel"), "code": c.code(), "display": c.zh() });
        r["extension"] = json!([{ "url": EXT_CHANNEL, "valueCoding": coding }]);
    }
    if let Some(why) = cancelation_reason(b) {
        r["cancelationReason"] = why;
    }
    r
}

/// Sessions and department codes, read once per request.
#[derive(Default)]
struct Labels {
    sessions: HashMap<Uuid, SessionView>,
    depts: DeptCodes,
}

impl Labels {
    async fn resource(&mut self, st: &AppState, staff: &Staff, b: &Booking, org: &Org) -> Result<Value, DomainError> {
        let s = match self.sessions.entry(b.session_id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(dayi_app::roster::session(&st.app, staff.actor.org_id, b.session_id).await?),
        };
        let code = self.depts.of(st, staff, s.dept_id).await?;
        Ok(appointment(b, s, code.as_deref(), org))
    }
}

/// GET /fhir/Appointment/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::BookingUnknown))?;
    let b = dayi_app::booking::get(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &Labels::default().resource(&st, &staff, &b, &org).await?))
}

/// GET /fhir/Appointment?patient=Patient/{id}&status=&_count=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::booking::walk(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
        let mut labels = Labels::default();
        let mut found = vec![];
        for b in &page.rows {
            found.push(labels.resource(&st, &staff, b, &org).await?);
        }
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Appointment", &query, page.total, page.more, found)));
    }
    let RefSearch { ids, statuses, count } = ref_search(
        &query,
        "patient",
        "Patient",
        STATUSES,
        "booked、arrived、cancelled 或 noshow",
        "请提供 patient=Patient/{id}：预约按患者检索",
    )?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let mut labels = Labels::default();
    let mut matches = vec![];
    // A patient not on file matches nothing (the REST routes answer 404 for
    // it; a FHIR search answers an empty bundle).
    for b in dayi_app::booking::of_patients(&st.app, &staff.actor, &ids).await? {
        if statuses.iter().all(|want| want.iter().any(|w| w == status(&b.status))) {
            matches.push(labels.resource(&st, &staff, &b, &org).await?);
        }
    }
    let total = matches.len();
    matches.truncate(count.unwrap_or(total));
    Ok(json(StatusCode::OK, &searchset(&base, "Appointment", &query, total, matches, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_r4() {
        let got: Vec<&str> = ["booked", "checked_in", "cancelled", "no_show", "stopped"].map(status).to_vec();
        assert_eq!(got, ["booked", "arrived", "cancelled", "noshow", "cancelled"]);
        assert!(got.iter().all(|s| STATUSES.contains(s)));
    }
}
