//! `DiagnosticReport` read and search: one verified lab test (检验报告), the
//! panel a doctor ordered, with its published results as `Observation`s.
//! Its id is the lab order's, which is also the `ServiceRequest` it answers.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::lab::query::{Code, TestRead};
use dayi_app::records::Org;
use dayi_core::lab::Flag;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::observation::{LOINC, narrow_ids_and_codes, panel_system, parse_lab, specimen, status, statuses};
use super::outcome::FhirError;
use super::visit_search::{self, Spec};
use super::{bad, base_url, instant, json, keyset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// HL7 v2 table 0074, diagnostic service section ID.
pub const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";

/// The resource for a verified test.
pub fn report(r: &TestRead, org: &Org) -> Value {
    let t = &r.test;
    let panel = json!({ "system": panel_system(&org.code), "code": t.panel_code, "display": t.panel_name });
    let results: Vec<Value> = r
        .results
        .iter()
        .map(|x| {
            let unit = if x.milli.is_some() { x.unit.as_str() } else { "" };
            let arrow = Flag::parse(&x.flag).map(|f| f.arrow()).unwrap_or_default();
            let parts = [x.item_name.as_str(), x.value.as_str(), unit, arrow];
            let display = parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(" ");
            json!({ "reference": format!("Observation/{}", x.id), "type": "Observation", "display": display })
        })
        .collect();
    let mut d = json!({
        "resourceType": "DiagnosticReport",
        "id": t.order_id.to_string(),
        "basedOn": [{ "reference": format!("ServiceRequest/{}", t.order_id), "type": "ServiceRequest" }],
        "status": status(r.results.iter().any(|x| x.version > 1)),
        "category": [{ "coding": [{ "system": V2_0074, "code": "LAB", "display": "Laboratory" }], "text": "检验" }],
        "code": { "coding": [panel], "text": t.panel_name },
        "subject": { "reference": format!("Patient/{}", t.patient_id), "type": "Patient" },
        "encounter": { "reference": format!("Encounter/{}", t.visit_id), "type": "Encounter" },
        "performer": [super::organization::reference(None, org)],
        "result": results,
    });
    if let Some(s) = &r.specimen {
        d["effectiveDateTime"] = json!(instant(s.collected_at));
        d["specimen"] = json!([specimen(s, org)]);
    }
    if let Some(at) = t.verified_at {
        d["issued"] = json!(instant(at));
    }
    if !r.verifier.is_empty() {
        d["resultsInterpreter"] = json!([super::practitioner::reference(r.verifier_id, &r.verifier)]);
    }
    d
}

/// `[system|]code` of a panel; `None` for a code no panel of ours can have
/// (our panels carry no LOINC code, and another organisation's are not ours).
fn code_param(v: &str, org_code: &str) -> Result<Option<Code>, DomainError> {
    let ours = panel_system(org_code);
    Ok(match v.split_once('|') {
        None | Some(("", _)) => Some(Code::Any(v.rsplit('|').next().unwrap_or(v).to_string())),
        Some((s, c)) if s == ours => Some(Code::Any(c.to_string())),
        Some((LOINC, _)) => None,
        Some((s, _)) if s.starts_with(&panel_system("")) => None,
        Some((s, _)) => return Err(bad(format!("code 不支持此编码系统：{s}（可用 {ours}）"))),
    })
}

const SPEC: Spec = Spec {
    kind: "DiagnosticReport",
    status_param: "status",
    statuses,
    status_hint: "final 或 corrected（已审核发布的报告）",
    extra: &["encounter", "code", "date", "category"],
};

/// GET /fhir/DiagnosticReport/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::NotFound))?;
    let r = dayi_app::lab::query::test(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &report(&r, &org)))
}

/// GET /fhir/DiagnosticReport?patient=&subject=&encounter=&_id=&code=&date=&category=&status=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::lab::query::walk_tests(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let found: Vec<Value> = page.rows.iter().map(|r| report(r, &org)).collect();
        let b = keyset::bundle(&base, "DiagnosticReport", &query, page.total, page.more, found);
        return Ok(json(StatusCode::OK, &b));
    }
    let (p, mut f) = parse_lab(&query, &SPEC, (V2_0074, "LAB"))?;
    narrow_ids_and_codes(&p, &mut f.orders, &mut f.codes, |x| code_param(x, &org.code))?;
    let page = dayi_app::lab::query::tests(&st.app, &staff.actor, &f, p.count as i64, p.offset as i64).await?;
    let found: Vec<Value> = page.rows.iter().map(|r| report(r, &org)).collect();
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, "DiagnosticReport", &query, &p, page.total, found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_panels() {
        let q = |v: &str| code_param(v, "o").unwrap();
        assert_eq!(q("CBC"), Some(Code::Any("CBC".into())));
        assert_eq!(q(&format!("{}|CBC", panel_system("o"))), Some(Code::Any("CBC".into())));
        assert_eq!(q(&format!("{}|CBC", panel_system("p"))), None);
        assert_eq!(q("http://loinc.org|58410-2"), None);
        assert!(code_param("http://snomed.info/sct|1", "o").is_err());
    }
}
