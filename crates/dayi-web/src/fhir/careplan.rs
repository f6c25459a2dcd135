//! `CarePlan` read and search: a registry record of chronic-disease
//! management (慢病管理档案, one per disease per patient), with its next
//! follow-up as a scheduled activity and its follow-ups' readings as
//! vital-sign `Observation`s (id `{follow-up id}-{bp|hr|weight|bmi|fbg|ldl}`).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::chronic::Plan;
use dayi_app::records::{ChronicEnrolment, ChronicFollowup};
use dayi_core::catalog::show_milli;
use dayi_core::chronic::{Class, Disease, Mode, Next};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::observation::{LOINC, OBSERVATION_CATEGORY};
use super::outcome::FhirError;
use super::visit_search::{self, Spec};
use super::{CODE_SYSTEM, base_url, instant, json, keyset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

pub fn programme_system() -> String {
    format!("{CODE_SYSTEM}/chronic-programme")
}

fn class_system() -> String {
    format!("{CODE_SYSTEM}/chronic-followup-class")
}

fn plan_status(e: &ChronicEnrolment) -> &'static str {
    if e.status == "active" { "active" } else { "completed" }
}

/// The resource for a registry record and its follow-ups.
pub fn careplan(p: &Plan) -> Value {
    let e = &p.enrolment;
    let disease = Disease::parse(&e.disease);
    let name = disease.map(|d| d.zh()).unwrap_or("");
    let mut period = json!({ "start": e.enrolled_on });
    if let Some(end) = &e.closed_on {
        period["end"] = json!(end);
    }
    let mut activity = vec![];
    if let Some(due) = e.next_due.as_deref().filter(|_| e.status == "active") {
        let next = Next::parse(&e.next_kind).unwrap_or(Next::Routine);
        activity.push(json!({ "detail": {
            "kind": "Appointment",
            "code": { "coding": [{ "system": format!("{CODE_SYSTEM}/chronic-next"), "code": next.code(), "display": next.zh() }], "text": next.zh() },
            "status": "scheduled",
            "scheduledPeriod": { "start": due },
            "description": format!("{}：{}", next.zh(), due),
        }}));
    }
    for f in &p.followups {
        let class = Class::parse(&f.class).unwrap_or(Class::Satisfied);
        let mode = Mode::parse(&f.mode).map(|m| m.zh()).unwrap_or("");
        let refs: Vec<Value> = parts(f)
            .into_iter()
            .map(|(part, _)| json!({ "reference": format!("Observation/{}-{part}", f.id) }))
            .collect();
        activity.push(json!({
            "outcomeCodeableConcept": [{ "coding": [{ "system": class_system(), "code": class.code(), "display": class.zh() }], "text": class.zh() }],
            "outcomeReference": refs,
            "detail": { "kind": "Appointment", "status": "completed", "scheduledString": f.visited_on, "description": format!("{} {mode}随访", f.visited_on) },
        }));
    }
    let mut plan = json!({
        "resourceType": "CarePlan",
        "id": e.id.to_string(),
        "status": plan_status(e),
        "intent": "plan",
        "category": [{ "coding": [{ "system": programme_system(), "code": e.disease, "display": name }], "text": format!("{name}患者健康管理") }],
        "title": format!("{name}患者健康管理（国家基本公共卫生服务）"),
        "subject": { "reference": format!("Patient/{}", e.patient_id), "type": "Patient" },
        "period": period,
        "created": instant(e.created_at),
        "author": { "display": e.doctor },
        "description": format!("确诊 {}；村/社区 {}；责任医生 {}", e.diagnosed_on, e.village, e.doctor),
        "activity": activity,
    });
    if activity_empty(&plan) {
        plan.as_object_mut().map(|o| o.remove("activity"));
    }
    plan
}

fn activity_empty(plan: &Value) -> bool {
    plan["activity"].as_array().is_some_and(Vec::is_empty)
}

/// The readings a follow-up recorded: (id part, LOINC code).
fn parts(f: &ChronicFollowup) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![];
    for (present, part, loinc) in [
        (f.sbp.is_some() && f.dbp.is_some(), "bp", "85354-9"),
        (f.heart_rate.is_some(), "hr", "8867-4"),
        (f.weight_milli.is_some(), "weight", "29463-7"),
        (f.bmi_tenths.is_some(), "bmi", "39156-5"),
        (f.fbg_milli.is_some(), "fbg", "14771-0"),
        (f.ldl_milli.is_some(), "ldl", "22748-8"),
    ] {
        if present {
            out.push((part, loinc));
        }
    }
    out
}

fn quantity(value: Value, unit: &str, ucum: &str) -> Value {
    json!({ "value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": ucum })
}

fn number(milli: i64) -> Value {
    show_milli(milli).parse::<f64>().map(Value::from).unwrap_or(Value::Null)
}

/// One reading of a follow-up as a vital-sign Observation; `None` when not recorded.
pub fn observation(f: &ChronicFollowup, part: &str) -> Option<Value> {
    let (_, loinc) = parts(f).into_iter().find(|(p, _)| *p == part)?;
    let coded = |code: &str, display: &str| json!({ "coding": [{ "system": LOINC, "code": code, "display": display }], "text": display });
    let category = json!({ "system": OBSERVATION_CATEGORY, "code": if part == "fbg" || part == "ldl" { "laboratory" } else { "vital-signs" } });
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("{}-{part}", f.id),
        "status": "final",
        "category": [{ "coding": [category], "text": "慢病随访" }],
        "subject": { "reference": format!("Patient/{}", f.patient_id), "type": "Patient" },
        "effectiveDateTime": f.visited_on,
        "issued": instant(f.created_at),
        "performer": [{ "display": f.doctor }],
    });
    match part {
        "bp" => {
            o["code"] = coded(loinc, "血压");
            o["component"] = json!([
                { "code": coded("8480-6", "收缩压"), "valueQuantity": quantity(json!(f.sbp), "mmHg", "mm[Hg]") },
                { "code": coded("8462-4", "舒张压"), "valueQuantity": quantity(json!(f.dbp), "mmHg", "mm[Hg]") },
            ]);
        }
        "hr" => {
            o["code"] = coded(loinc, "心率");
            o["valueQuantity"] = quantity(json!(f.heart_rate), "次/分", "/min");
        }
        "weight" => {
            o["code"] = coded(loinc, "体重");
            o["valueQuantity"] = quantity(number(f.weight_milli?), "kg", "kg");
        }
        "bmi" => {
            o["code"] = coded(loinc, "体重指数");
            o["valueQuantity"] = quantity(number(f.bmi_tenths? * 100), "kg/m2", "kg/m2");
        }
        "fbg" => {
            o["code"] = coded(loinc, "空腹血糖");
            o["valueQuantity"] = quantity(number(f.fbg_milli?), "mmol/L", "mmol/L");
        }
        _ => {
            o["code"] = coded(loinc, "低密度脂蛋白胆固醇");
            o["valueQuantity"] = quantity(number(f.ldl_milli?), "mmol/L", "mmol/L");
        }
    }
    Some(o)
}

/// `{follow-up id}-{part}`, the id of a follow-up's reading.
pub fn parse_reading_id(id: &str) -> Option<(Uuid, &str)> {
    let (f, part) = id.rsplit_once('-')?;
    matches!(part, "bp" | "hr" | "weight" | "bmi" | "fbg" | "ldl").then_some(())?;
    Some((Uuid::parse_str(f).ok()?, part))
}

/// GET /fhir/Observation/{follow-up id}-{part}, reached from the Observation read.
pub async fn read_observation(st: &AppState, staff: &Staff, id: Uuid, part: &str) -> FhirResult {
    let f = dayi_app::chronic::followup_row(&st.app, &staff.actor, id).await?;
    let o = observation(&f, part).ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    Ok(json(StatusCode::OK, &o))
}

/// GET /fhir/Observation?category=vital-signs&patient=…: the follow-ups' readings, newest first.
pub async fn search_observations(st: &AppState, staff: &Staff, headers: &HeaderMap, query: &str) -> FhirResult {
    let spec =
        Spec { kind: "Observation", status_param: "status", statuses, status_hint: "final", extra: &["category"] };
    let p = visit_search::parse(query, &spec)?;
    let patients = p.filter.patients.clone().ok_or_else(|| super::bad("生命体征按患者检索：请提供 patient"))?;
    let mut found = vec![];
    for plan in dayi_app::chronic::find_plans(&st.app, &staff.actor, Some(&patients), &[]).await? {
        for f in plan.followups.iter().rev() {
            found.extend(parts(f).into_iter().filter_map(|(part, _)| observation(f, part)));
        }
    }
    if p.filter.statuses.as_ref().is_some_and(Vec::is_empty) {
        found.clear();
    }
    let total = found.len() as i64;
    let page: Vec<Value> = found.into_iter().skip(p.offset).take(p.count).collect();
    let base = base_url(headers, st.web.secure_cookies);
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, "Observation", query, &p, total, page)))
}

fn statuses(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "final" => Some(&["final"]),
        "registered" | "preliminary" | "amended" | "corrected" | "cancelled" | "entered-in-error" | "unknown" => {
            Some(&[])
        }
        _ => None,
    }
}

/// GET /fhir/CarePlan/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::NotFound))?;
    let p = dayi_app::chronic::plan(&st.app, &staff.actor, id).await?;
    Ok(json(StatusCode::OK, &careplan(&p)))
}

fn plan_statuses(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "active" => Some(&["active"]),
        "completed" => Some(&["closed"]),
        "draft" | "on-hold" | "revoked" | "entered-in-error" | "unknown" => Some(&[]),
        _ => None,
    }
}

/// GET /fhir/CarePlan?patient=&subject=&_id=&status=&category=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let query = query.unwrap_or_default();
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::chronic::walk_plans(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let found: Vec<Value> = page.rows.iter().map(careplan).collect();
        let base = base_url(&headers, st.web.secure_cookies);
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "CarePlan", &query, page.total, page.more, found)));
    }
    let spec = Spec {
        kind: "CarePlan",
        status_param: "status",
        statuses: plan_statuses,
        status_hint: "active（管理中）| completed（已结案）",
        extra: &["category"],
    };
    let p = visit_search::parse(&query, &spec)?;
    let named: Vec<Uuid> = p.ids.first().into_iter().flatten().filter_map(|x| Uuid::parse_str(x).ok()).collect();
    let mut plans = dayi_app::chronic::find_plans(&st.app, &staff.actor, p.filter.patients.as_deref(), &named).await?;
    for ids in &p.ids {
        plans.retain(|x| ids.contains(&x.enrolment.id.to_string()));
    }
    if let Some(s) = &p.filter.statuses {
        plans.retain(|x| s.contains(&x.enrolment.status));
    }
    for (_, v) in &p.extra {
        let wanted: Vec<&str> = v.split(',').map(|x| x.trim().rsplit('|').next().unwrap_or("")).collect();
        plans.retain(|x| wanted.contains(&x.enrolment.disease.as_str()));
    }
    let total = plans.len() as i64;
    let page: Vec<Value> = plans.iter().skip(p.offset).take(p.count).map(careplan).collect();
    let base = base_url(&headers, st.web.secure_cookies);
    Ok(json(StatusCode::OK, &visit_search::bundle(&base, "CarePlan", &query, &p, total, page)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_ids_name_the_follow_up_and_part() {
        let f = Uuid::now_v7();
        assert_eq!(parse_reading_id(&format!("{f}-bp")), Some((f, "bp")));
        assert_eq!(parse_reading_id(&format!("{f}-fbg")), Some((f, "fbg")));
        assert_eq!(parse_reading_id(&format!("{f}-xyz")), None);
        assert_eq!(parse_reading_id(&f.to_string()), None);
    }
}
