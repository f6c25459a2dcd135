//! `POST /fhir` with a `transaction` or `batch` Bundle, and the same
//! reading for `dayi import fhir`: each entry becomes an import item (see
//! `dayi_app::import`). A transaction is all or nothing; a batch answers
//! each entry alone. Entries create (`POST`); a Patient may carry
//! `ifNoneExist`, though a patient whose document is on file is matched
//! anyway. Entries refer to each other by `fullUrl` (`urn:uuid:…`) or by
//! `{type}/{id}` of the other system.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::import::{Body, Done, Item};
use dayi_app::{Actor, App};
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};

use super::outcome::{FhirError, Paths, body as outcome};
use super::resource::{HEALTH_CARD, document_kind, hospital_no_system};
use super::{json, patient_form};
use crate::AppState;
use crate::principal::Staff;

/// Whether a Bundle is answered all or nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Transaction,
    Batch,
}

/// An entry that could not even become an item, with where its fields sit.
type Refused = (DomainError, Paths);

/// The items of a Bundle's entries, each or its refusal, and the mode.
pub fn items(bundle: &Value, org_code: &str) -> Result<(Mode, Vec<Result<Item, Refused>>), DomainError> {
    if bundle["resourceType"] != "Bundle" {
        return Err(DomainError::with(ErrorCode::BadRequest, ["resourceType 应为 Bundle"]));
    }
    let mode = match bundle["type"].as_str() {
        Some("transaction") => Mode::Transaction,
        Some("batch") => Mode::Batch,
        other => {
            let t = other.unwrap_or("（无）");
            return Err(DomainError::with(
                ErrorCode::BadRequest,
                [format!("Bundle.type「{t}」应为 transaction 或 batch")],
            ));
        }
    };
    let entries = bundle["entry"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    Ok((mode, entries.iter().map(|e| entry(e, org_code)).collect()))
}

fn entry(e: &Value, org_code: &str) -> Result<Item, Refused> {
    let method = e["request"]["method"].as_str().unwrap_or("");
    if method != "POST" {
        return Err((DomainError::with(ErrorCode::ImportMethod, [method]), Paths::default()));
    }
    let r = &e["resource"];
    let Some(kind) = r["resourceType"].as_str().filter(|k| !k.is_empty()) else {
        let why = "缺少 resource.resourceType";
        return Err((DomainError::with(ErrorCode::BadRequest, [why]), Paths::default()));
    };
    if let Some(url) = e["request"]["url"].as_str()
        && url.split('?').next() != Some(kind)
    {
        let why = format!("request.url「{url}」应为 {kind}");
        return Err((DomainError::with(ErrorCode::BadRequest, [why]), Paths::default()));
    }
    let mut sources: Vec<String> = e["fullUrl"].as_str().map(String::from).into_iter().collect();
    if let Some(id) = r["id"].as_str() {
        sources.push(format!("{kind}/{id}"));
    }
    record(kind, r, sources, org_code, e["request"]["ifNoneExist"].as_str())
}

/// One resource of an entry as an item.
fn record(
    kind: &str,
    r: &Value,
    mut sources: Vec<String>,
    org_code: &str,
    if_none_exist: Option<&str>,
) -> Result<Item, Refused> {
    if kind != "Patient" {
        return Ok(Item { sources, kind: kind.to_string(), body: Body::Outside(r.clone()) });
    }
    // Identifiers of the other system are how it knows the patient, not
    // documents of ours: they become source keys, and are kept with a new
    // patient as a create keeps them.
    let ours = |system: &str| {
        document_kind(system).is_some() || system == HEALTH_CARD || system == hospital_no_system(org_code)
    };
    for i in r["identifier"].as_array().into_iter().flatten() {
        let system = i["system"].as_str().unwrap_or("");
        if !ours(system) {
            sources.push(format!("identifier:{system}|{}", i["value"].as_str().unwrap_or("")));
        }
    }
    if let Some(cond) = if_none_exist.and_then(|q| q.strip_prefix("identifier=")) {
        let (system, _) = cond.split_once('|').unwrap_or(("", cond));
        if !ours(system) {
            sources.push(format!("identifier:{cond}"));
        }
    }
    let p = patient_form::form(r, org_code).map_err(|FhirError(e, p)| (e, p))?;
    Ok(Item { sources, kind: "Patient".into(), body: Body::Patient(Box::new(p.form), p.foreign) })
}

/// What became of a Bundle: each entry's answer, or a refused transaction
/// with the entries that refused it (by index).
pub enum Answer {
    Done(Vec<Result<Done, Refused>>),
    Refused(Vec<(usize, Refused)>),
}

/// Imports the entries' items.
pub async fn run(
    app: &App,
    actor: &Actor,
    mode: Mode,
    parsed: Vec<Result<Item, Refused>>,
) -> Result<Answer, DomainError> {
    let mut answers: Vec<Option<Result<Done, Refused>>> = vec![];
    let (mut items, mut at) = (vec![], vec![]);
    for (i, p) in parsed.into_iter().enumerate() {
        match p {
            Ok(item) => {
                at.push(i);
                items.push(item);
                answers.push(None);
            }
            Err(r) => answers.push(Some(Err(r))),
        }
    }
    let early: Vec<(usize, Refused)> = answers
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Some(Err(r)) => Some((i, r.clone())),
            _ => None,
        })
        .collect();
    if mode == Mode::Transaction && !early.is_empty() {
        return Ok(Answer::Refused(early));
    }
    let report = dayi_app::import::import(app, actor, &items, mode == Mode::Transaction).await?;
    for (i, d) in at.into_iter().zip(report.answers) {
        answers[i] = Some(d.map_err(|e| (e, Paths::default())));
    }
    let answers: Vec<Result<Done, Refused>> = answers.into_iter().flatten().collect();
    if !report.written {
        let refused = answers.into_iter().enumerate().filter_map(|(i, a)| a.err().map(|r| (i, r))).collect();
        return Ok(Answer::Refused(refused));
    }
    Ok(Answer::Done(answers))
}

/// A refused transaction as one OperationOutcome whose issues name their
/// entries, with the status of the first refusal.
pub fn refusal(refused: &[(usize, Refused)]) -> (StatusCode, Value) {
    let mut issues = vec![];
    for (i, (e, paths)) in refused {
        for mut issue in outcome(e, paths)["issue"].as_array().cloned().unwrap_or_default() {
            let at = format!("Bundle.entry[{i}]");
            let paths: Vec<Value> = match issue["expression"].as_array() {
                Some(xs) => xs.iter().filter_map(Value::as_str).map(|x| json!(entry_path(&at, x))).collect(),
                None => vec![json!(at)],
            };
            issue["expression"] = json!(paths);
            issues.push(issue);
        }
    }
    let status = refused.first().map(|(_, (e, _))| e.code.status()).unwrap_or(400);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, json!({ "resourceType": "OperationOutcome", "issue": issues }))
}

/// `Patient.gender` inside entry 3 is `Bundle.entry[3].resource.gender`.
fn entry_path(at: &str, x: &str) -> String {
    match x.split_once('.') {
        Some((_, rest)) => format!("{at}.resource.{rest}"),
        None => format!("{at}.resource"),
    }
}

/// The response Bundle: one entry per request entry, in order.
pub fn response(mode: Mode, answers: &[Result<Done, Refused>]) -> Value {
    let entries: Vec<Value> = answers
        .iter()
        .map(|a| match a {
            Ok(Done::Created { kind, id }) => json!({ "response": { "status": "201 Created", "location": format!("{kind}/{id}") } }),
            Ok(Done::Existing { kind, id }) => json!({ "response": { "status": "200 OK", "location": format!("{kind}/{id}") } }),
            Err((e, paths)) => json!({ "response": {
                "status": format!("{} {}", e.code.status(), StatusCode::from_u16(e.code.status()).ok().and_then(|s| s.canonical_reason()).unwrap_or("")),
                "outcome": outcome(e, paths),
            } }),
        })
        .collect();
    let kind = match mode {
        Mode::Transaction => "transaction-response",
        Mode::Batch => "batch-response",
    };
    json!({ "resourceType": "Bundle", "type": kind, "entry": entries })
}

/// POST /fhir
pub async fn post(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, FhirError> {
    dayi_app::import::require_some(&st.app, &staff.actor).await?;
    if !super::patient::is_json(&headers) {
        return Err(DomainError::with(ErrorCode::UnsupportedMediaType, [super::MEDIA_TYPE]).into());
    }
    let bundle: Value = serde_json::from_slice(&body).map_err(|e| DomainError::with(ErrorCode::BadRequest, [e]))?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let (mode, parsed) = items(&bundle, &org.code)?;
    Ok(match run(&st.app, &staff.actor, mode, parsed).await? {
        Answer::Done(answers) => json(StatusCode::OK, &response(mode, &answers)),
        Answer::Refused(refused) => {
            let (status, body) = refusal(&refused);
            json(status, &body)
        }
    })
}
