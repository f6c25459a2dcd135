//! `Condition` read and search: a diagnosis made at a visit (门诊诊断),
//! western (ICD-10 国家临床版 2.0, with the 医保版 2.0 code beside it) or
//! TCM (GB/T 15657-2021 disease or syndrome). Its id is `{visit id}-{number}`:
//! the doctor may rewrite the list while the visit is open, so the numbers
//! are final once the visit is finished.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::records::Diagnosis;
use dayi_app::visit::query::{Code, DiagnosisRead};
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

pub const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

pub fn icd10_clinical() -> String {
    format!("{CODE_SYSTEM}/icd-10-cn-clinical-2.0")
}

pub fn icd10_insurance() -> String {
    format!("{CODE_SYSTEM}/icd-10-cn-nhsa-2.0")
}

pub fn tcm_system() -> String {
    format!("{CODE_SYSTEM}/gb-t-15657")
}

/// The logical id of a diagnosis: its visit and number.
pub fn condition_id(d: &Diagnosis) -> String {
    format!("{}-{}", d.visit_id, d.seq)
}

fn parse_condition_id(id: &str) -> Option<(Uuid, i64)> {
    let (visit, seq) = id.rsplit_once('-')?;
    let seq = seq.parse::<i64>().ok().filter(|n| *n > 0 && !seq.starts_with(['+', '0']))?;
    Some((Uuid::parse_str(visit).ok()?, seq))
}

fn code(d: &Diagnosis) -> Value {
    let system = if d.kind == "tcm" { tcm_system() } else { icd10_clinical() };
    let mut codings = vec![json!({ "system": system, "code": d.code, "display": d.name })];
    if d.kind != "tcm" && !d.insurance_code.is_empty() {
        codings.push(json!({ "system": icd10_insurance(), "code": d.insurance_code }));
    }
    json!({ "coding": codings, "text": d.name })
}

/// The resource for a diagnosis of a visit.
pub fn condition(r: &DiagnosisRead) -> Value {
    let (d, v) = (&r.diagnosis, &r.visit);
    let coded = |system: &str, code: &str, display: &str| json!({ "coding": [{ "system": system, "code": code, "display": display }] });
    let mut category = vec![coded(CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis")];
    category[0]["text"] = json!(if d.is_primary { "主要诊断" } else { "门诊诊断" });
    if d.kind == "tcm" {
        category.push(json!({ "text": "中医诊断" }));
    }
    json!({
        "resourceType": "Condition",
        "id": condition_id(d),
        "clinicalStatus": coded(CONDITION_CLINICAL, "active", "Active"),
        "verificationStatus": coded(CONDITION_VERIFICATION, "confirmed", "Confirmed"),
        "category": category,
        "code": code(d),
        "subject": { "reference": format!("Patient/{}", v.patient_id), "type": "Patient" },
        "encounter": { "reference": format!("Encounter/{}", v.id), "type": "Encounter" },
        "recordedDate": instant(d.created_at),
        "recorder": doctor(v),
    })
}

/// Our diagnoses are all current: `active` keeps every one (a marker the
/// search handler removes, as diagnoses have no status column), the other
/// clinical statuses none.
fn ours(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "active" => Some(&["active"]),
        "recurrence" | "relapse" | "inactive" | "remission" | "resolved" => Some(&[]),
        _ => None,
    }
}

const SPEC: Spec = Spec {
    kind: "Condition",
    status_param: "clinical-status",
    statuses: ours,
    status_hint: "active（本系统的门诊诊断均为 active）",
    extra: &["encounter", "code"],
};

/// `[system|]code` of a diagnosis.
fn code_param(v: &str) -> Result<Code, DomainError> {
    Ok(match v.split_once('|') {
        None | Some(("", _)) => Code::Any(v.rsplit('|').next().unwrap_or(v).to_string()),
        Some((s, c)) if s == icd10_clinical() => Code::Of("diagnosis".into(), c.into()),
        Some((s, c)) if s == tcm_system() => Code::Of("tcm".into(), c.into()),
        Some((s, c)) if s == icd10_insurance() => Code::Insurance(c.into()),
        Some((s, _)) => {
            let known = [icd10_clinical(), tcm_system(), icd10_insurance()].join("、");
            return Err(bad(format!("code 不支持此编码系统：{s}（可用 {known}）")));
        }
    })
}

/// GET /fhir/Condition/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let (visit, seq) = parse_condition_id(&id).ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let r = dayi_app::visit::query::diagnosis(&st.app, &staff.actor, visit, seq).await?;
    Ok(json(StatusCode::OK, &condition(&r)))
}

/// GET /fhir/Condition?patient=&subject=&encounter=&_id=&code=&clinical-status=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    let base = base_url(&headers, st.web.secure_cookies);
    if let Some(w) = keyset::parse(&query)? {
        let step = w.step(w.after_pair(parse_condition_id)?);
        let page = dayi_app::visit::query::walk_diagnoses(&st.app, &staff.actor, &step).await?;
        let found: Vec<Value> = page.rows.iter().map(condition).collect();
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Condition", &query, page.total, page.more, found)));
    }
    let mut p = visit_search::parse(&query, &SPEC)?;
    // `clinical-status` only tells all (`active`) from none.
    if let Some(s) = p.filter.statuses.take()
        && s.is_empty()
    {
        p.filter.visits = Some(vec![]);
    }
    for ids in &p.ids {
        let keys: Vec<(Uuid, i64)> = ids.iter().filter_map(|x| parse_condition_id(x)).collect();
        visit_search::narrow(&mut p.filter.diagnoses, keys);
    }
    for (_, v) in &p.extra {
        let codes = v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(code_param);
        let codes = codes.collect::<Result<Vec<_>, _>>()?;
        visit_search::narrow(&mut p.filter.codes, codes);
    }
    let page =
        dayi_app::visit::query::diagnoses(&st.app, &staff.actor, &p.filter, p.count as i64, p.offset as i64).await?;
    let found: Vec<Value> = page.rows.iter().map(condition).collect();
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, "Condition", &query, &p, page.total, found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_visit_and_number() {
        let v = Uuid::now_v7();
        assert_eq!(parse_condition_id(&format!("{v}-2")), Some((v, 2)));
        for bad in [format!("{v}-0"), format!("{v}-02"), format!("{v}"), "x-1".into()] {
            assert_eq!(parse_condition_id(&bad), None, "{bad}");
        }
    }

    #[test]
    fn codes_name_their_catalogue() {
        let q = |v: &str| code_param(v).unwrap();
        assert_eq!(q("J06.900"), Code::Any("J06.900".into()));
        assert_eq!(q("|J06.900"), Code::Any("J06.900".into()));
        assert_eq!(q(&format!("{}|J06.900", icd10_clinical())), Code::Of("diagnosis".into(), "J06.900".into()));
        assert_eq!(q(&format!("{}|A01.01.01", tcm_system())), Code::Of("tcm".into(), "A01.01.01".into()));
        assert_eq!(q(&format!("{}|J06.900", icd10_insurance())), Code::Insurance("J06.900".into()));
        assert!(code_param("http://hl7.org/fhir/sid/icd-10|J06.9").is_err());
    }
}
