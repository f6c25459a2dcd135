//! `Observation` read and search: one published lab result (检验结果), the
//! current version of a verified test's item. Also what `DiagnosticReport`
//! shares with it: the lab code systems, the specimen by its barcode, the
//! status, and the search parameters beyond the visit searches'.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::lab::query::{Code, Filter, ResultRead};
use dayi_app::records::{Org, Specimen};
use dayi_core::catalog::{parse_milli, show_milli};
use dayi_core::lab::Flag;
use dayi_core::timefmt::{CST, to_micros};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

use super::outcome::FhirError;
use super::schedule::Window;
use super::visit_search::{self, Parsed, Spec};
use super::{CODE_SYSTEM, SID, bad, base_url, instant, json, keyset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const V3_INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// The items of one organisation's lab catalogue (检验指标).
pub fn item_system(org_code: &str) -> String {
    format!("{CODE_SYSTEM}/lab-item/{org_code}")
}

/// The panels of one organisation's lab catalogue (检验项目组合).
pub fn panel_system(org_code: &str) -> String {
    format!("{CODE_SYSTEM}/lab-panel/{org_code}")
}

/// Specimen barcodes (标本条码), numbered per organisation.
pub fn specimen_system(org_code: &str) -> String {
    format!("{SID}/specimen/{org_code}")
}

/// `corrected` once a result has a later version than the first.
pub fn status(corrected: bool) -> &'static str {
    if corrected { "corrected" } else { "final" }
}

/// Our statuses (`final`, `corrected`) for an R4 status: only those two are
/// ever published; the others are valid codes no published result has.
pub fn statuses(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "final" => Some(&["final"]),
        "corrected" => Some(&["corrected"]),
        "registered" | "partial" | "preliminary" | "amended" | "appended" | "cancelled" | "entered-in-error"
        | "unknown" => Some(&[]),
        _ => None,
    }
}

/// The tube as a reference by its barcode (Dayi has no Specimen resource yet).
pub fn specimen(s: &Specimen, org: &Org) -> Value {
    let display = if s.tube.is_empty() { s.kind.clone() } else { format!("{}（{}）", s.kind, s.tube) };
    json!({
        "type": "Specimen",
        "identifier": { "system": specimen_system(&org.code), "value": s.barcode },
        "display": display,
    })
}

/// The UCUM code of a unit as the catalogue writes it, where there is one.
pub fn ucum(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "10^9/L" => "10*9/L",
        "10^12/L" => "10*12/L",
        "mmol/L" => "mmol/L",
        "μmol/L" | "µmol/L" | "umol/L" => "umol/L",
        "pmol/L" => "pmol/L",
        "g/L" => "g/L",
        "mg/L" => "mg/L",
        "ng/mL" => "ng/mL",
        "U/L" => "U/L",
        "mIU/L" => "m[IU]/L",
        "%" => "%",
        "fL" => "fL",
        "pg" => "pg",
        _ => return None,
    })
}

/// A number of thousandths in a unit, coded in UCUM where the unit maps.
fn quantity(milli: i64, unit: &str) -> Value {
    let value = match milli % 1000 {
        0 => json!(milli / 1000),
        _ => json!(show_milli(milli).parse::<f64>().unwrap_or_default()),
    };
    let mut q = json!({ "value": value });
    if !unit.is_empty() {
        q["unit"] = json!(unit);
    }
    if let Some(code) = ucum(unit) {
        q["system"] = json!(UCUM);
        q["code"] = json!(code);
    }
    q
}

/// The range a result was judged by, from its text (`3.5–5.3`, `≥1`, `≤5.2`,
/// or the normal answers of a text item).
fn reference_range(text: &str, unit: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    let (low, high) = match (text.strip_prefix('≥'), text.strip_prefix('≤'), text.split_once('–')) {
        (Some(l), _, _) => (parse_milli(l), None),
        (_, Some(h), _) => (None, parse_milli(h)),
        (_, _, Some((l, h))) => (parse_milli(l), parse_milli(h)),
        _ => (None, None),
    };
    let mut r = json!({ "text": text });
    if let Some(l) = low {
        r["low"] = quantity(l, unit);
    }
    if let Some(h) = high {
        r["high"] = quantity(h, unit);
    }
    Some(r)
}

/// The resource for a published result.
pub fn observation(r: &ResultRead, org: &Org) -> Value {
    let (x, t) = (&r.result, &r.test);
    let mut codings = vec![];
    if !x.loinc.is_empty() {
        codings.push(json!({ "system": LOINC, "code": x.loinc }));
    }
    codings.push(json!({ "system": item_system(&org.code), "code": x.item_code, "display": x.item_name }));
    let category = json!({ "system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory" });
    let mut o = json!({
        "resourceType": "Observation",
        "id": x.id.to_string(),
        "basedOn": [{ "reference": format!("ServiceRequest/{}", t.order_id), "type": "ServiceRequest" }],
        "status": status(x.version > 1),
        "category": [{ "coding": [category], "text": "检验" }],
        "code": { "coding": codings, "text": x.item_name },
        "subject": { "reference": format!("Patient/{}", x.patient_id), "type": "Patient" },
        "encounter": { "reference": format!("Encounter/{}", t.visit_id), "type": "Encounter" },
        "effectiveDateTime": instant(x.entered_at),
    });
    if let Some(at) = t.verified_at {
        o["issued"] = json!(instant(at));
    }
    if !r.verifier.is_empty() {
        o["performer"] = json!([super::practitioner::reference(r.verifier_id, &r.verifier)]);
    }
    match x.milli {
        Some(m) => o["valueQuantity"] = quantity(m, &x.unit),
        None => o["valueString"] = json!(x.value),
    }
    if let Some(f) = Flag::parse(&x.flag) {
        let coding = json!({ "system": V3_INTERPRETATION, "code": f.code(), "display": f.en() });
        o["interpretation"] = json!([{ "coding": [coding], "text": f.zh() }]);
    }
    if !x.reason.is_empty() {
        o["note"] = json!([{ "text": format!("更正原因：{}", x.reason) }]);
    }
    if let Some(s) = &r.specimen {
        o["specimen"] = specimen(s, org);
    }
    if let Some(app) = x.source.strip_prefix("hl7:") {
        o["device"] = json!({ "display": format!("检验仪器 {app}") });
    }
    if let Some(range) = reference_range(&x.range_text, &x.unit) {
        o["referenceRange"] = json!([range]);
    }
    o
}

/// A search over lab records: the visit searches' parameters (patient,
/// subject, encounter, `_id`, status, paging) plus `date` and `category`;
/// `code` is left to the caller in `Parsed::extra`.
pub(super) fn parse_lab(query: &str, spec: &Spec, category: (&str, &str)) -> Result<(Parsed, Filter), DomainError> {
    let mut p = visit_search::parse(query, spec)?;
    let mut f = Filter {
        patients: p.filter.patients.take(),
        visits: p.filter.visits.take(),
        statuses: p.filter.statuses.take(),
        ..Default::default()
    };
    let mut window = Window::default();
    let (system, code) = category;
    for (k, v) in &p.extra {
        let values = || v.split(',').map(str::trim).filter(|x| !x.is_empty());
        match k.as_str() {
            "date" => window.narrow(v.trim())?,
            "category" => {
                let mut all = false;
                for x in values() {
                    match x.split_once('|') {
                        Some((s, _)) if !s.is_empty() && s != system => {
                            return Err(bad(format!("category 不支持此编码系统：{s}（可用 {system}）")));
                        }
                        _ => all |= x.rsplit('|').next() == Some(code),
                    }
                }
                // Every record here is a lab record: the lab's category keeps all, any other none.
                if !all {
                    f.orders = Some(vec![]);
                }
            }
            _ => {}
        }
    }
    let start = |d: time::Date| to_micros(d.midnight().assume_offset(CST));
    f.from = window.from.map(start);
    f.before = window.to.map(|d| start(d + Duration::days(1)));
    Ok((p, f))
}

/// Narrows `ids` by each `_id` parameter and `codes` by each `code`
/// parameter (its values parsed by `code_param`; `None`: matches nothing here).
pub(super) fn narrow_ids_and_codes(
    p: &Parsed,
    ids: &mut Option<Vec<Uuid>>,
    codes: &mut Option<Vec<Code>>,
    code_param: impl Fn(&str) -> Result<Option<Code>, DomainError>,
) -> Result<(), DomainError> {
    for set in &p.ids {
        visit_search::narrow(ids, set.iter().filter_map(|x| Uuid::parse_str(x).ok()).collect());
    }
    for (_, v) in p.extra.iter().filter(|(k, _)| k == "code") {
        let parsed = v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(&code_param);
        visit_search::narrow(codes, parsed.collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect());
    }
    Ok(())
}

/// The codes of one `code` parameter, as `[system|]code`.
fn code_param(v: &str, org_code: &str) -> Result<Option<Code>, DomainError> {
    let ours = item_system(org_code);
    Ok(match v.split_once('|') {
        None | Some(("", _)) => Some(Code::Any(v.rsplit('|').next().unwrap_or(v).to_string())),
        Some((LOINC, c)) => Some(Code::Loinc(c.to_string())),
        Some((s, c)) if s == ours => Some(Code::Item(c.to_string())),
        // Another organisation's item codes are not in this one's catalogue.
        Some((s, _)) if s.starts_with(&item_system("")) => None,
        Some((s, _)) => return Err(bad(format!("code 不支持此编码系统：{s}（可用 {LOINC} 或 {ours}）"))),
    })
}

const SPEC: Spec = Spec {
    kind: "Observation",
    status_param: "status",
    statuses,
    status_hint: "final 或 corrected（已审核发布的结果）",
    extra: &["encounter", "code", "date", "category"],
};

/// GET /fhir/Observation/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    if let Some((followup, part)) = super::careplan::parse_reading_id(&id) {
        return super::careplan::read_observation(&st, &staff, followup, part).await;
    }
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::NotFound))?;
    let r = dayi_app::lab::query::result(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    Ok(json(StatusCode::OK, &observation(&r, &org)))
}

/// GET /fhir/Observation?patient=&subject=&encounter=&_id=&code=&date=&category=&status=&_count=&_offset=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    // Vital signs are the chronic-disease follow-ups' readings, not the lab's.
    let vital = form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "category" && v.ends_with("vital-signs"));
    if vital {
        return super::careplan::search_observations(&st, &staff, &headers, &query).await;
    }
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let base = base_url(&headers, st.web.secure_cookies);
    // With no parameter: every published lab result (vital signs are searched by patient).
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::lab::query::walk_results(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let found: Vec<Value> = page.rows.iter().map(|r| observation(r, &org)).collect();
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Observation", &query, page.total, page.more, found)));
    }
    let (p, mut f) = parse_lab(&query, &SPEC, (OBSERVATION_CATEGORY, "laboratory"))?;
    narrow_ids_and_codes(&p, &mut f.results, &mut f.codes, |x| code_param(x, &org.code))?;
    let page = dayi_app::lab::query::results(&st.app, &staff.actor, &f, p.count as i64, p.offset as i64).await?;
    let found: Vec<Value> = page.rows.iter().map(|r| observation(r, &org)).collect();
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, "Observation", &query, &p, page.total, found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_map_to_ucum() {
        assert_eq!(ucum("10^9/L"), Some("10*9/L"));
        assert_eq!(ucum("μmol/L"), Some("umol/L"));
        assert_eq!(ucum("mIU/L"), Some("m[IU]/L"));
        assert_eq!(ucum("个/HP"), None);
        assert_eq!(
            quantity(6800, "mmol/L"),
            json!({ "value": 6.8, "unit": "mmol/L", "system": UCUM, "code": "mmol/L" })
        );
        assert_eq!(quantity(140_000, "g/L")["value"], json!(140));
        assert_eq!(quantity(1020, ""), json!({ "value": 1.02 }));
    }

    #[test]
    fn ranges_come_from_their_text() {
        let r = reference_range("3.5–5.3", "mmol/L").unwrap();
        assert_eq!((r["low"]["value"].clone(), r["high"]["value"].clone()), (json!(3.5), json!(5.3)));
        assert_eq!(r["high"]["code"], "mmol/L");
        let r = reference_range("≥1", "mmol/L").unwrap();
        assert!(r["low"]["value"] == json!(1) && r.get("high").is_none());
        let r = reference_range("≤5.2", "mmol/L").unwrap();
        assert!(r.get("low").is_none() && r["high"]["value"] == json!(5.2));
        assert_eq!(reference_range("阴性/-", ""), Some(json!({ "text": "阴性/-" })));
        assert_eq!(reference_range("", "g/L"), None);
    }

    #[test]
    fn statuses_map_both_ways() {
        for corrected in [false, true] {
            assert_eq!(statuses(status(corrected)), Some(&[status(corrected)][..]));
        }
        assert_eq!(statuses("preliminary"), Some(&[][..]));
        assert_eq!(statuses("done"), None);
    }

    #[test]
    fn codes_name_their_system() {
        let q = |v: &str| code_param(v, "o").unwrap();
        assert_eq!(q("K"), Some(Code::Any("K".into())));
        assert_eq!(q("|2823-3"), Some(Code::Any("2823-3".into())));
        assert_eq!(q("http://loinc.org|2823-3"), Some(Code::Loinc("2823-3".into())));
        assert_eq!(q(&format!("{}|K", item_system("o"))), Some(Code::Item("K".into())));
        assert_eq!(q(&format!("{}|K", item_system("p"))), None);
        assert!(code_param("http://snomed.info/sct|1", "o").is_err());
    }
}
