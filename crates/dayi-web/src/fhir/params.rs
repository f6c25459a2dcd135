//! What every FHIR type search shares, handled once around them:
//! `_summary=count`, `_include`, and parameters the server does not know,
//! which `Prefer: handling=strict` refuses and the default (`lenient`)
//! drops with a warning. What a type knows is read from the
//! CapabilityStatement, so the statement and the behaviour cannot drift.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};

use super::FhirError;
use crate::AppState;
use crate::principal::Staff;

/// `_include` values served, per type: `{type}:{search parameter}`, the
/// parameter naming the reference followed.
pub const INCLUDES: &[(&str, &[&str])] = &[
    ("Slot", &["Slot:schedule"]),
    ("Appointment", &["Appointment:patient", "Appointment:practitioner"]),
    ("Encounter", &["Encounter:patient", "Encounter:subject", "Encounter:practitioner"]),
    ("PractitionerRole", &["PractitionerRole:practitioner", "PractitionerRole:organization"]),
    ("Location", &["Location:organization"]),
    ("Condition", &["Condition:patient", "Condition:subject", "Condition:encounter"]),
    ("ServiceRequest", &["ServiceRequest:patient", "ServiceRequest:subject", "ServiceRequest:encounter"]),
    ("MedicationRequest", &["MedicationRequest:patient", "MedicationRequest:subject", "MedicationRequest:encounter"]),
    ("Observation", &["Observation:patient", "Observation:subject", "Observation:encounter"]),
    (
        "DiagnosticReport",
        &[
            "DiagnosticReport:patient",
            "DiagnosticReport:subject",
            "DiagnosticReport:encounter",
            "DiagnosticReport:result",
        ],
    ),
];

/// Result parameters every search takes besides its own.
const COMMON: &[&str] = &["_count", "_offset", "_cursor", "_total", "_summary", "_include", "_format"];

pub fn includes_of(kind: &str) -> &'static [&'static str] {
    INCLUDES.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v).unwrap_or(&[])
}

/// The search parameter names of each type, from the statement.
fn known() -> &'static HashMap<String, Vec<String>> {
    static KNOWN: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let statement = super::metadata::statement();
        let mut out = HashMap::new();
        for r in statement["rest"][0]["resource"].as_array().into_iter().flatten() {
            let names = r["searchParam"].as_array().into_iter().flatten();
            let names: Vec<String> = names.filter_map(|p| p["name"].as_str().map(String::from)).collect();
            out.insert(r["type"].as_str().unwrap_or_default().to_string(), names);
        }
        out
    })
}

/// The type of a type-level search (`GET /fhir/{Type}`), if this is one.
fn search_kind<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    let kind = path.strip_prefix("/fhir/")?;
    let searchable =
        *method == Method::GET && !kind.contains('/') && kind.starts_with(|c: char| c.is_ascii_uppercase());
    searchable.then_some(kind)
}

fn strict(headers: &HeaderMap) -> bool {
    let prefer = headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok());
    prefer.flat_map(|v| v.split(',')).any(|p| p.trim().eq_ignore_ascii_case("handling=strict"))
}

fn bad(msg: String) -> DomainError {
    DomainError::with(ErrorCode::BadRequest, [msg])
}

/// What the layer took out of the query for itself.
#[derive(Default)]
struct Taken {
    count_only: bool,
    includes: Vec<String>,
    ignored: Vec<String>,
}

/// Splits the query into what the type's handler reads and what this layer
/// handles; `Err` answers a strict request that named something unknown.
fn split(kind: &str, query: &str, strict: bool) -> Result<(String, Taken), DomainError> {
    let own = known().get(kind).map(Vec::as_slice).unwrap_or(&[]);
    let mut kept = form_urlencoded::Serializer::new(String::new());
    let mut t = Taken::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let name = k.split(':').next().unwrap_or_default();
        match name {
            "_summary" if v == "count" => t.count_only = true,
            "_summary" if v == "false" => {}
            "_include" if includes_of(kind).contains(&v.as_ref()) => t.includes.push(v.to_string()),
            "_summary" | "_include" if strict => {
                return Err(bad(format!(
                    "不支持 {name}={v}（{kind} 可用：_summary=count；_include={}）",
                    includes_of(kind).join("、")
                )));
            }
            "_summary" | "_include" => t.ignored.push(format!("{k}={v}")),
            _ if COMMON.contains(&name) || own.iter().any(|p| p == name) => {
                kept.append_pair(&k, &v);
            }
            _ if strict => return Err(bad(format!("{kind} 不支持检索参数「{k}」（可用：{}）", own.join("、")))),
            _ => t.ignored.push(k.to_string()),
        }
    }
    if t.count_only {
        kept.append_pair("_count", "0");
    }
    Ok((kept.finish(), t))
}

/// The middleware around every `/fhir` type search.
pub async fn around_search(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(kind) = search_kind(req.method(), req.uri().path()).map(String::from) else {
        return next.run(req).await;
    };
    if !known().contains_key(&kind) {
        return next.run(req).await;
    }
    let (query, taken) = match split(&kind, req.uri().query().unwrap_or(""), strict(req.headers())) {
        Ok(x) => x,
        Err(refusal) => return FhirError::from(refusal).into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let sep = if query.is_empty() { "" } else { "?" };
    if let Ok(uri) = format!("{}{sep}{query}", parts.uri.path()).parse::<Uri>() {
        parts.uri = uri;
    }
    let staff = match taken.includes.is_empty() {
        true => None,
        false => Staff::from_request_parts(&mut parts, &st).await.ok(),
    };
    let resp = next.run(Request::from_parts(parts, body)).await;
    let plain = !taken.count_only && taken.includes.is_empty() && taken.ignored.is_empty();
    if plain || resp.status() != StatusCode::OK {
        return resp;
    }
    let (head, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(head, Body::empty());
    };
    let Ok(mut bundle) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(head, Body::from(bytes));
    };
    if taken.count_only {
        let tag = json!({ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED" });
        bundle["meta"] = json!({ "tag": [tag] });
    }
    if let Some(staff) = staff {
        include(&st, &staff, &taken.includes, &mut bundle).await;
    }
    if !taken.ignored.is_empty()
        && let Some(entries) = bundle["entry"].as_array_mut()
    {
        entries.push(json!({
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "warning",
                    "code": "not-supported",
                    "diagnostics": format!("已忽略不支持的检索参数：{}（Prefer: handling=strict 时将拒绝）", taken.ignored.join("、")),
                }],
            },
            "search": { "mode": "outcome" },
        }));
    }
    super::json(StatusCode::OK, &bundle)
}

/// The references a `_include` follows in one resource.
fn references(r: &Value, include: &str) -> Vec<String> {
    let param = include.split(':').nth(1).unwrap_or_default();
    let (fields, target): (&[&str], &str) = match param {
        "patient" => (&["subject", "patient", "participant"], "Patient/"),
        "subject" => (&["subject"], ""),
        "encounter" => (&["encounter"], "Encounter/"),
        "schedule" => (&["schedule"], "Schedule/"),
        "result" => (&["result"], "Observation/"),
        "practitioner" => (&["participant", "practitioner"], "Practitioner/"),
        "organization" => (&["organization", "managingOrganization"], "Organization/"),
        _ => (&[], ""),
    };
    let one = |v: &Value| {
        let at = ["actor", "individual"].iter().find_map(|k| v.get(*k)).unwrap_or(v);
        at["reference"].as_str().map(String::from)
    };
    let mut out = vec![];
    for f in fields {
        match &r[*f] {
            Value::Array(items) => out.extend(items.iter().filter_map(one)),
            v => out.extend(one(v)),
        }
    }
    out.retain(|x| x.starts_with(target));
    out
}

/// Appends the resources the matches refer to, each read as its own read
/// would (same permission check, same audit), once each.
async fn include(st: &AppState, staff: &Staff, includes: &[String], bundle: &mut Value) {
    let base = bundle["link"][0]["url"].as_str().and_then(|u| u.rsplit_once('/')).map(|(b, _)| b.to_string());
    let Some(entries) = bundle["entry"].as_array_mut() else { return };
    let mut wanted: Vec<String> = vec![];
    for e in entries.iter().filter(|e| e["search"]["mode"] == "match") {
        for inc in includes {
            for r in references(&e["resource"], inc) {
                if !wanted.contains(&r) {
                    wanted.push(r);
                }
            }
        }
    }
    for reference in wanted {
        let Some((kind, id)) = reference.split_once('/') else { continue };
        let Some(resource) = read(st, staff, kind, id).await else { continue };
        let full = format!("{}/{reference}", base.clone().unwrap_or_default());
        entries.push(json!({ "fullUrl": full, "resource": resource, "search": { "mode": "include" } }));
    }
}

/// One resource through its own read handler; `None` when that refuses.
async fn read(st: &AppState, staff: &Staff, kind: &str, id: &str) -> Option<Value> {
    let (s, who, id) = (State(st.clone()), staff.clone(), Path(id.to_string()));
    let answer = match kind {
        "Patient" => super::patient::read(s, who, id).await,
        "Schedule" => super::schedule::read(s, who, id).await,
        "Encounter" => super::outside::encounter(s, who, id).await,
        "Observation" => super::outside::observation(s, who, id).await,
        "Practitioner" => super::practitioner::read(s, who, id).await,
        "Organization" => super::organization::read(s, who, id).await,
        _ => return None,
    };
    let resp = answer.ok()?;
    let bytes = to_bytes(resp.into_body(), usize::MAX).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_parameters_are_dropped_or_refused() {
        let (q, t) = split("Encounter", "patient=Patient%2Fx&foo=1&_summary=count&_include=Encounter:patient", false)
            .unwrap_or_else(|_| panic!("lenient"));
        assert_eq!(q, "patient=Patient%2Fx&_count=0");
        assert_eq!(
            (t.count_only, t.includes, t.ignored),
            (true, vec!["Encounter:patient".to_string()], vec!["foo".to_string()])
        );
        assert!(split("Encounter", "patient=x&foo=1", true).is_err());
        assert!(split("Encounter", "patient=x&_include=Encounter:location", true).is_err());
        assert!(split("Encounter", "patient=x&_summary=text", true).is_err());
        // modifiers are the type's own business, judged by its parameter name
        assert!(split("Schedule", "actor:identifier=x", true).is_ok());
    }

    #[test]
    fn includes_follow_their_reference() {
        let appt = json!({ "participant": [
            { "actor": { "reference": "Patient/p1" } },
            { "actor": { "reference": "HealthcareService/d" } },
        ] });
        assert_eq!(references(&appt, "Appointment:patient"), ["Patient/p1"]);
        let report = json!({ "subject": { "reference": "Patient/p" }, "result": [{ "reference": "Observation/a" }, { "reference": "Observation/b" }] });
        assert_eq!(references(&report, "DiagnosticReport:result"), ["Observation/a", "Observation/b"]);
        assert_eq!(references(&report, "DiagnosticReport:subject"), ["Patient/p"]);
        assert!(search_kind(&Method::GET, "/fhir/Patient").is_some());
        assert!(
            search_kind(&Method::GET, "/fhir/Patient/1").is_none()
                && search_kind(&Method::GET, "/fhir/metadata").is_none()
        );
    }
}
