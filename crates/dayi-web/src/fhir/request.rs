//! `ServiceRequest` and `MedicationRequest` read and search: the orders of a
//! visit (门诊医嘱). Lab tests, examinations, treatments and TCM techniques
//! are service requests; drugs are medication requests, with the dose,
//! frequency, route and days as the doctor wrote them. The order's own
//! status (awaiting payment, paid, carried out, cancelled, refunded) rides
//! along as an extension, since R4's statuses do not tell paid from unpaid.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::records::Org;
use dayi_app::visit::query::{Code, OrderRead};
use dayi_core::catalog::{Frequency, show_milli};
use dayi_core::visit::{OrderKind, OrderStatus};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::encounter::doctor;
use super::outcome::FhirError;
use super::visit_search::{self, Spec};
use super::{CODE_SYSTEM, bad, base_url, instant, json, keyset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub const UCUM: &str = "http://unitsofmeasure.org";
pub const MEDICATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/medicationrequest-category";
pub const EXT_ORDER_STATUS: &str = "https://dayi.org.cn/fhir/StructureDefinition/order-status";

/// 全国医疗服务价格项目规范 codes (charge items and TCM techniques, with the
/// catalogue's local sub-items).
pub fn service_item_system() -> String {
    format!("{CODE_SYSTEM}/medical-service-item")
}

/// 医保医疗服务项目编码.
pub fn insurance_item_system() -> String {
    format!("{CODE_SYSTEM}/nhsa-service-item")
}

/// The drug codes of one organisation's catalogue (本院药品编码).
pub fn drug_system(org_code: &str) -> String {
    format!("{CODE_SYSTEM}/drug/{org_code}")
}

/// 国家医保药品编码.
pub fn insurance_drug_system() -> String {
    format!("{CODE_SYSTEM}/nhsa-drug")
}

fn order_kind_system() -> String {
    format!("{CODE_SYSTEM}/order-kind")
}

fn order_status_system() -> String {
    format!("{CODE_SYSTEM}/order-status")
}

fn frequency_system() -> String {
    format!("{CODE_SYSTEM}/frequency")
}

/// Which of the two resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Service,
    Medication,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Service => "ServiceRequest",
            Kind::Medication => "MedicationRequest",
        }
    }
}

/// The R4 status of an order. Cancelled (before payment) and refunded
/// orders were never carried out: `revoked` for a service request,
/// `cancelled` for a prescription.
fn status(kind: Kind, code: &str) -> &'static str {
    match (OrderStatus::parse(code), kind) {
        (Some(OrderStatus::Ordered | OrderStatus::Paid), _) => "active",
        (Some(OrderStatus::Executed), _) => "completed",
        (Some(OrderStatus::Cancelled | OrderStatus::Refunded), Kind::Service) => "revoked",
        (Some(OrderStatus::Cancelled | OrderStatus::Refunded), Kind::Medication) => "cancelled",
        (None, _) => "unknown",
    }
}

const ACTIVE: &[&str] = &["ordered", "paid"];
const COMPLETED: &[&str] = &["executed"];
const WITHDRAWN: &[&str] = &["cancelled", "refunded"];

fn service_statuses(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "active" => Some(ACTIVE),
        "completed" => Some(COMPLETED),
        "revoked" => Some(WITHDRAWN),
        "draft" | "on-hold" | "entered-in-error" | "unknown" => Some(&[]),
        _ => None,
    }
}

fn medication_statuses(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "active" => Some(ACTIVE),
        "completed" => Some(COMPLETED),
        "cancelled" => Some(WITHDRAWN),
        "on-hold" | "entered-in-error" | "stopped" | "draft" | "unknown" => Some(&[]),
        _ => None,
    }
}

const SERVICE: Spec = Spec {
    kind: "ServiceRequest",
    status_param: "status",
    statuses: service_statuses,
    status_hint: "active、completed 或 revoked",
    extra: &["encounter", "code"],
};

const MEDICATION: Spec = Spec {
    kind: "MedicationRequest",
    status_param: "status",
    statuses: medication_statuses,
    status_hint: "active、completed 或 cancelled",
    extra: &["encounter", "code"],
};

/// The item as our code and, where the catalogue has one, its insurance code.
fn item(r: &OrderRead, org: &Org) -> Value {
    let o = &r.order;
    let (ours, insurance) = match o.kind.as_str() {
        "drug" => (drug_system(&org.code), insurance_drug_system()),
        _ => (service_item_system(), insurance_item_system()),
    };
    let mut codings = vec![json!({ "system": ours, "code": o.code, "display": o.name })];
    if !r.insurance_code.is_empty() {
        codings.push(json!({ "system": insurance, "code": r.insurance_code }));
    }
    let text = if o.spec.is_empty() { o.name.clone() } else { format!("{} {}", o.name, o.spec) };
    json!({ "coding": codings, "text": text })
}

/// What every order carries, whichever resource it is.
fn common(kind: Kind, r: &OrderRead) -> Value {
    let (o, v) = (&r.order, &r.visit);
    let order_status = OrderStatus::parse(&o.status);
    let coding = json!({
        "system": order_status_system(),
        "code": o.status,
        "display": order_status.map(|s| s.zh()).unwrap_or(""),
    });
    let mut res = json!({
        "resourceType": kind.name(),
        "id": o.id.to_string(),
        "extension": [{ "url": EXT_ORDER_STATUS, "valueCoding": coding }],
        "status": status(kind, &o.status),
        "intent": "order",
        "subject": { "reference": format!("Patient/{}", v.patient_id), "type": "Patient" },
        "encounter": { "reference": format!("Encounter/{}", v.id), "type": "Encounter" },
        "authoredOn": instant(o.created_at),
        "requester": doctor(v),
    });
    let mut notes: Vec<Value> = vec![];
    if !o.note.is_empty() {
        notes.push(json!({ "text": o.note }));
    }
    if !o.reason.is_empty() {
        notes.push(json!({ "text": format!("已确认警示：{}；理由：{}", o.warnings.replace('\n', "；"), o.reason) }));
    }
    if !notes.is_empty() {
        res["note"] = json!(notes);
    }
    res
}

pub fn service_request(r: &OrderRead, org: &Org) -> Value {
    let o = &r.order;
    let mut res = common(Kind::Service, r);
    let kind = OrderKind::parse(&o.kind);
    let category = json!({
        "system": order_kind_system(),
        "code": o.kind,
        "display": kind.map(|k| k.zh()).unwrap_or(""),
    });
    res["category"] = json!([{ "coding": [category] }]);
    res["code"] = item(r, org);
    res["quantityQuantity"] = json!({ "value": o.quantity, "unit": o.unit });
    res
}

/// A decimal amount of a dose unit, with its UCUM code where it has one.
fn dose_quantity(milli: i64, unit: &str) -> Value {
    let value = match milli % 1000 {
        0 => json!(milli / 1000),
        _ => json!(show_milli(milli).parse::<f64>().unwrap_or_default()),
    };
    let mut q = json!({ "value": value, "unit": unit });
    let ucum = match unit {
        "mg" => Some("mg"),
        "g" => Some("g"),
        "ml" | "mL" => Some("mL"),
        _ => None,
    };
    if let Some(code) = ucum {
        q["system"] = json!(UCUM);
        q["code"] = json!(code);
    }
    q
}

/// `Timing.repeat` of a frequency (as needed adds nothing: it is `asNeeded`).
fn repeat(f: Frequency) -> Value {
    let every = |n: u32, period: u32, unit: &str| json!({ "frequency": n, "period": period, "periodUnit": unit });
    match f {
        Frequency::Qd => every(1, 1, "d"),
        Frequency::Bid => every(2, 1, "d"),
        Frequency::Tid => every(3, 1, "d"),
        Frequency::Qid => every(4, 1, "d"),
        Frequency::Qn => json!({ "frequency": 1, "period": 1, "periodUnit": "d", "when": ["NIGHT"] }),
        Frequency::Q8h => every(1, 8, "h"),
        Frequency::Q12h => every(1, 12, "h"),
        Frequency::Qw => every(1, 1, "wk"),
        Frequency::Prn => json!({}),
        Frequency::St => json!({ "count": 1 }),
    }
}

fn days(n: i64) -> Value {
    json!({ "value": n, "unit": "天", "system": UCUM, "code": "d" })
}

fn dosage(r: &OrderRead) -> Option<Value> {
    let o = &r.order;
    let (dose, n) = (o.dose?, o.days?);
    let f = Frequency::parse(&o.frequency)?;
    let mut timing_repeat = repeat(f);
    timing_repeat["boundsDuration"] = days(n);
    let code = json!({ "system": frequency_system(), "code": f.code(), "display": f.zh() });
    let text = format!("每次 {}{} {} × {n} 天 {}", show_milli(dose), o.dose_unit, f.zh(), o.route);
    let mut d = json!({
        "text": text.trim_end(),
        "timing": { "repeat": timing_repeat, "code": { "coding": [code], "text": f.zh() } },
        "doseAndRate": [{ "doseQuantity": dose_quantity(dose, &o.dose_unit) }],
    });
    if f == Frequency::Prn {
        d["asNeededBoolean"] = json!(true);
    }
    if !o.route.is_empty() {
        d["route"] = json!({ "text": o.route });
    }
    Some(d)
}

pub fn medication_request(r: &OrderRead, org: &Org) -> Value {
    let o = &r.order;
    let mut res = common(Kind::Medication, r);
    let category = json!({ "system": MEDICATION_CATEGORY, "code": "outpatient", "display": "Outpatient" });
    res["category"] = json!([{ "coding": [category], "text": "门诊处方" }]);
    res["medicationCodeableConcept"] = item(r, org);
    if let Some(d) = dosage(r) {
        res["dosageInstruction"] = json!([d]);
    }
    let mut dispense = json!({ "quantity": { "value": o.quantity, "unit": o.unit } });
    if let Some(n) = o.days {
        dispense["expectedSupplyDuration"] = days(n);
    }
    res["dispenseRequest"] = dispense;
    if let Some(s) =
        OrderStatus::parse(&o.status).filter(|s| matches!(s, OrderStatus::Cancelled | OrderStatus::Refunded))
    {
        res["statusReason"] = json!({ "text": s.zh() });
    }
    res
}

fn resource(kind: Kind, r: &OrderRead, org: &Org) -> Value {
    match kind {
        Kind::Service => service_request(r, org),
        Kind::Medication => medication_request(r, org),
    }
}

/// `[system|]code` of an item in our catalogue.
fn code_param(kind: Kind, v: &str, org: &Org) -> Result<Option<Code>, DomainError> {
    let ours = match kind {
        Kind::Service => service_item_system(),
        Kind::Medication => drug_system(&org.code),
    };
    Ok(match v.split_once('|') {
        None => Some(Code::Any(v.to_string())),
        Some((s, c)) if s.is_empty() || s == ours => Some(Code::Any(c.to_string())),
        // Another organisation's drug codes are not in this one's catalogue.
        Some((s, _)) if kind == Kind::Medication && s.starts_with(&drug_system("")) => None,
        Some((s, _)) => return Err(bad(format!("code 不支持此编码系统：{s}（可用 {ours}）"))),
    })
}

async fn read(st: AppState, staff: Staff, id: &str, kind: Kind) -> FhirResult {
    let id = Uuid::parse_str(id).map_err(|_| DomainError::new(ErrorCode::OrderUnknown))?;
    let r = dayi_app::visit::query::order(&st.app, &staff.actor, id, kind == Kind::Medication).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &resource(kind, &r, &org)))
}

async fn search(st: AppState, staff: Staff, headers: HeaderMap, query: Option<String>, kind: Kind) -> FhirResult {
    let query = query.unwrap_or_default();
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let step = w.step(w.after_id()?);
        let page = dayi_app::visit::query::walk_orders(&st.app, &staff.actor, kind == Kind::Medication, &step).await?;
        let found: Vec<Value> = page.rows.iter().map(|r| resource(kind, r, &org)).collect();
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, kind.name(), &query, page.total, page.more, found)));
    }
    let spec = if kind == Kind::Service { &SERVICE } else { &MEDICATION };
    let mut p = visit_search::parse(&query, spec)?;
    for ids in &p.ids {
        let ids: Vec<Uuid> = ids.iter().filter_map(|x| Uuid::parse_str(x).ok()).collect();
        visit_search::narrow(&mut p.filter.orders, ids);
    }
    for (_, v) in &p.extra {
        let codes = v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(|x| code_param(kind, x, &org));
        let codes: Vec<Code> = codes.collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
        visit_search::narrow(&mut p.filter.codes, codes);
    }
    p.filter.drugs = Some(kind == Kind::Medication);
    let page =
        dayi_app::visit::query::orders(&st.app, &staff.actor, &p.filter, p.count as i64, p.offset as i64).await?;
    let found: Vec<Value> = page.rows.iter().map(|r| resource(kind, r, &org)).collect();
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, kind.name(), &query, &p, page.total, found)))
}

/// GET /fhir/ServiceRequest/{id}
pub async fn read_service(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    read(st, staff, &id, Kind::Service).await
}

/// GET /fhir/ServiceRequest?patient=&subject=&encounter=&_id=&status=&code=&_count=&_offset=
pub async fn search_service(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    search(st, staff, headers, query, Kind::Service).await
}

/// GET /fhir/MedicationRequest/{id}
pub async fn read_medication(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    read(st, staff, &id, Kind::Medication).await
}

/// GET /fhir/MedicationRequest?patient=&subject=&encounter=&_id=&status=&code=&_count=&_offset=
pub async fn search_medication(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    search(st, staff, headers, query, Kind::Medication).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_each_resource() {
        let codes = ["ordered", "paid", "executed", "cancelled", "refunded"];
        let service: Vec<&str> = codes.iter().map(|c| status(Kind::Service, c)).collect();
        assert_eq!(service, ["active", "active", "completed", "revoked", "revoked"]);
        let drug: Vec<&str> = codes.iter().map(|c| status(Kind::Medication, c)).collect();
        assert_eq!(drug, ["active", "active", "completed", "cancelled", "cancelled"]);
        for c in codes {
            assert!(service_statuses(status(Kind::Service, c)).unwrap().contains(&c), "{c}");
            assert!(medication_statuses(status(Kind::Medication, c)).unwrap().contains(&c), "{c}");
        }
        assert_eq!(service_statuses("cancelled"), None, "not a ServiceRequest status");
    }

    #[test]
    fn frequencies_become_timings() {
        assert_eq!(repeat(Frequency::Tid), json!({ "frequency": 3, "period": 1, "periodUnit": "d" }));
        assert_eq!(repeat(Frequency::Q8h), json!({ "frequency": 1, "period": 8, "periodUnit": "h" }));
        assert_eq!(repeat(Frequency::St), json!({ "count": 1 }));
        assert_eq!(dose_quantity(250, "g"), json!({ "value": 0.25, "unit": "g", "system": UCUM, "code": "g" }));
        assert_eq!(dose_quantity(2000, "片"), json!({ "value": 2, "unit": "片" }));
    }
}
