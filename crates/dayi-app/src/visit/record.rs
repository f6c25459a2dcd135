//! The visit record: history, examination and vital signs, diagnoses, and the departments' record
//! templates.

use dayi_core::audit::OK;
use dayi_core::catalog::Kind;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::visit::{self as v};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::visit::{Diagnosis, Template};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{VisitView, assemble, editable, limits};
use crate::{Actor, App, OrInternal, catalog as cat};

/// The record's text fields, as the doctor writes them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RecordForm {
    pub chief_complaint: String,
    pub present_illness: String,
    pub history: String,
    pub allergies: String,
    pub examination: String,
    pub advice: String,
    /// e.g. {"temperature": "36.8", "pulse": "78", "bp": "135/85", "weight": "65"}.
    pub vitals: serde_json::Map<String, serde_json::Value>,
}

pub(super) const VITALS: &[&str] = &["temperature", "pulse", "breathing", "bp", "weight", "height", "glucose", "spo2"];

pub async fn save(app: &App, actor: &Actor, id: Uuid, f: &RecordForm) -> Result<VisitView, DomainError> {
    let mut visit = editable(app, actor, id).await?;
    let mut err = DomainError::new(ErrorCode::Validation);
    for (field, value, max) in [
        ("chief_complaint", &f.chief_complaint, 200),
        ("present_illness", &f.present_illness, 4000),
        ("history", &f.history, 4000),
        ("allergies", &f.allergies, 500),
        ("examination", &f.examination, 4000),
        ("advice", &f.advice, 2000),
    ] {
        if value.chars().count() > max {
            err = err.and_field(field, ErrorCode::TooLong, [max.to_string()]);
        }
    }
    let lim = limits(app, actor.org_id).await?;
    for (k, val) in &f.vitals {
        let text = val.as_str().filter(|s| s.chars().count() <= 20);
        match text {
            Some(s) if VITALS.contains(&k.as_str()) => {
                if let Err(e) = v::check_vital(k, s, &lim.vitals) {
                    err.fields.extend(e.fields);
                }
            }
            _ => err = err.and_field(&format!("vitals.{k}"), ErrorCode::InvalidFormat, ["36.8 / 135/85"]),
        }
    }
    if !err.fields.is_empty() {
        return Err(err);
    }
    visit.chief_complaint = f.chief_complaint.trim().into();
    visit.present_illness = f.present_illness.trim().into();
    visit.history = f.history.trim().into();
    visit.allergies = f.allergies.trim().into();
    visit.examination = f.examination.trim().into();
    visit.advice = f.advice.trim().into();
    visit.vitals = serde_json::Value::Object(f.vitals.clone()).to_string();
    visit.updated_at = now_micros();
    let feed = crate::chronic::feed_visit(app, &visit, &actor.username).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::visit::save_record(&mut tx, &visit).await.or_internal()? {
        return Err(DomainError::new(ErrorCode::VisitFinished));
    }
    feed.write(&mut tx).await?;
    let entry = actor.entry("visit.record", "visit", &id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    assemble(app, actor.org_id, visit).await
}

/// One diagnosis as chosen: western (`diagnosis`) or TCM (`tcm`), by code.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DiagnosisForm {
    #[schema(value_type = dayi_core::catalog::Kind)]
    pub kind: String,
    pub code: String,
}

/// Sets the visit's diagnoses; the first western diagnosis is the primary one.
pub async fn diagnose(app: &App, actor: &Actor, id: Uuid, list: &[DiagnosisForm]) -> Result<VisitView, DomainError> {
    let visit = editable(app, actor, id).await?;
    let cat = cat::current(app, actor.org_id).await?;
    let mut rows: Vec<Diagnosis> = vec![];
    let now = now_micros();
    for (i, d) in list.iter().enumerate() {
        let field = format!("diagnoses.{i}");
        let kind = match d.kind.trim() {
            "" | "diagnosis" => Kind::Diagnosis,
            "tcm" => Kind::Tcm,
            k => return Err(DomainError::field(&field, ErrorCode::InvalidFormat, [k])),
        };
        let item = cat
            .get(kind, d.code.trim())
            .ok_or_else(|| DomainError::field(&field, ErrorCode::CatalogUnknown, [d.code.trim()]))?;
        if rows.iter().any(|r| r.code == item.code && r.kind == kind.code()) {
            return Err(DomainError::field(&field, ErrorCode::VisitDiagnosisTwice, [item.name.as_str()]));
        }
        let primary = kind == Kind::Diagnosis && !rows.iter().any(|r| r.is_primary);
        rows.push(Diagnosis {
            org_id: actor.org_id,
            visit_id: id,
            seq: i as i64 + 1,
            kind: kind.code().into(),
            code: item.code.clone(),
            name: item.name.clone(),
            insurance_code: item.insurance_code.clone(),
            is_primary: primary,
            created_at: now,
        });
    }
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::visit::set_diagnoses(&mut tx, actor.org_id, id, &rows).await.or_internal()?;
    let names: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    let entry = actor.entry("visit.diagnose", "visit", &id.to_string(), Some(visit.patient_id), OK, &names.join(","));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    assemble(app, actor.org_id, visit).await
}

/// The department's record templates.
pub async fn templates(app: &App, actor: &Actor, dept_id: Uuid) -> Result<Vec<Template>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    dayi_store::visit::templates(&app.db, actor.org_id, dept_id).await.or_internal()
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TemplateForm {
    #[schema(value_type = uuid::Uuid)]
    pub dept_id: String,
    pub name: String,
    pub chief_complaint: String,
    pub present_illness: String,
    pub examination: String,
    pub advice: String,
}

pub async fn add_template(app: &App, actor: &Actor, f: &TemplateForm) -> Result<Template, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let dept_id =
        Uuid::parse_str(f.dept_id.trim()).map_err(|_| DomainError::field("dept_id", ErrorCode::Required, [""; 0]))?;
    if f.name.trim().is_empty() {
        return Err(DomainError::field("name", ErrorCode::Required, [""; 0]));
    }
    let t = Template {
        org_id: actor.org_id,
        id: crate::new_id(),
        dept_id,
        name: f.name.trim().chars().take(50).collect(),
        chief_complaint: f.chief_complaint.trim().into(),
        present_illness: f.present_illness.trim().into(),
        examination: f.examination.trim().into(),
        advice: f.advice.trim().into(),
        active: true,
        created_by: actor.username.clone(),
        created_at: now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::visit::insert_template(&mut tx, &t).await.or_internal()?;
    let entry = actor.entry("visit.template", "visit_template", &t.id.to_string(), None, OK, &t.name);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(t)
}
