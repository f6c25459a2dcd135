//! Failures as an `OperationOutcome`. The diagnostics are the Chinese message
//! with our stable code; `details` carries the code and the English message
//! for programs. A validation failure is one issue per field, each naming the
//! FHIR element (FHIRPath in `expression`) the field came from.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dayi_core::error::FieldError;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};

use super::resource::{EXT_ETHNICITY, EXT_GUARDIAN_ID, EXT_INSURANCE, EXT_NATIONALITY, EXT_REGION};

/// Where the form fields of a registration sit in a `Patient` resource. A
/// create fills in the exact element (`Patient.identifier[1]`); otherwise the
/// element's general path is used.
#[derive(Debug, Default, Clone)]
pub struct Paths(HashMap<String, String>);

impl Paths {
    pub fn set(&mut self, field: impl Into<String>, path: String) {
        self.0.insert(field.into(), path);
    }

    pub fn of(&self, field: &str) -> String {
        if let Some(p) = self.0.get(field) {
            return p.clone();
        }
        let ext = |url: &str| format!("Patient.extension('{url}')");
        match field {
            "name" => "Patient.name".into(),
            "sex" => "Patient.gender".into(),
            "birth_date" => "Patient.birthDate".into(),
            "id_kind" | "id_number" => "Patient.identifier".into(),
            "nationality" => ext(EXT_NATIONALITY),
            "ethnicity" => ext(EXT_ETHNICITY),
            "insurance" => ext(EXT_INSURANCE),
            "phone" => "Patient.telecom".into(),
            "address" => "Patient.address.text".into(),
            "region_code" => format!("Patient.address.extension('{EXT_REGION}')"),
            "guardian_id_number" => format!("Patient.contact.extension('{EXT_GUARDIAN_ID}')"),
            f if f.starts_with("guardian_") || f.starts_with("emergency_") => "Patient.contact".into(),
            _ => "Patient".into(),
        }
    }
}

/// An error answered as an `OperationOutcome`.
#[derive(Debug)]
pub struct FhirError(pub DomainError, pub Paths);

impl From<DomainError> for FhirError {
    fn from(e: DomainError) -> Self {
        Self(e, Paths::default())
    }
}

impl IntoResponse for FhirError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        super::json(status, &body(&self.0, &self.1))
    }
}

/// The answer for any failure on a `/fhir` path (see `error::respond`).
pub fn response(e: &DomainError) -> Response {
    FhirError(e.clone(), Paths::default()).into_response()
}

/// The R4 issue type (`IssueType`) for an error.
fn issue_type(code: ErrorCode) -> &'static str {
    use ErrorCode as E;
    match code {
        E::PatientDuplicateId | E::PatientDuplicateIdentifier => "duplicate",
        E::SearchTooCostly => "too-costly",
        E::SessionExpired => "expired",
        E::Required | E::GuardianRequired | E::VersionRequired => "required",
        E::VersionMismatch => "conflict",
        E::Locked | E::AccountDisabled | E::CsrfInvalid | E::DutyProtected => "security",
        E::Validation | E::BadRequest => "invalid",
        _ => match code.status() {
            401 => "login",
            403 => "forbidden",
            404 => "not-found",
            405 | 415 => "not-supported",
            409 => "conflict",
            413 => "too-long",
            422 => "value",
            503 => "transient",
            _ => "exception",
        },
    }
}

fn details(code: ErrorCode, zh: &str, en: &str) -> Value {
    json!({
        "coding": [{ "system": format!("{}/error", super::CODE_SYSTEM), "code": code.code(), "display": en }],
        "text": zh,
    })
}

fn field_issue(f: &FieldError, paths: &Paths) -> Value {
    let zh = f.zh();
    json!({
        "severity": "error",
        "code": issue_type(f.code),
        "details": details(f.code, &zh, &f.en()),
        "diagnostics": format!("{zh} [{}]", f.code.code()),
        "expression": [paths.of(&f.field)],
    })
}

pub fn body(e: &DomainError, paths: &Paths) -> Value {
    let issues: Vec<Value> = if e.code == ErrorCode::Validation && !e.fields.is_empty() {
        e.fields.iter().map(|f| field_issue(f, paths)).collect()
    } else {
        let zh = e.zh();
        let mut issue = json!({
            "severity": "error",
            "code": issue_type(e.code),
            "details": details(e.code, &zh, &e.en()),
            "diagnostics": format!("{zh} [{}]", e.code.code()),
        });
        if let Some(f) = e.fields.first() {
            issue["expression"] = json!([paths.of(&f.field)]);
        }
        let mut v = vec![issue];
        // The record that already holds the document or identifier, for the client to use instead.
        let holder = match e.code {
            ErrorCode::PatientDuplicateId => e.args.get(2),
            ErrorCode::PatientDuplicateIdentifier => e.args.get(3),
            _ => None,
        };
        if let Some(id) = holder {
            v.push(json!({
                "severity": "information",
                "code": "informational",
                "diagnostics": format!("已有档案 Patient/{id}"),
                "expression": ["Patient.identifier"],
            }));
        }
        v
    };
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}
