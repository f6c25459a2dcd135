//! The registry (建档): enrolling a patient for one disease, changing the
//! managing doctor or village, closing a record.

use dayi_core::audit::OK;
use dayi_core::chronic::{Disease, Next, Source};
use dayi_core::error::Checks;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::chronic::Enrolment;
use serde::Deserialize;
use uuid::Uuid;

use super::{age_of, day, past_day, require_work, rules, split};
use crate::{Actor, App, OrInternal};

/// What the enrolment form submits.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EnrolForm {
    pub patient_id: String,
    #[schema(value_type = dayi_core::chronic::Disease)]
    pub disease: String,
    #[schema(format = Date)]
    pub diagnosed_on: String,
    #[schema(value_type = dayi_core::chronic::Source)]
    pub source: String,
    /// The managing doctor's user name; empty means the one enrolling.
    pub doctor: String,
    pub village: String,
    /// Co-prevented diseases already present (六病同防 codes).
    pub related: Vec<String>,
}

pub async fn enrol(app: &App, actor: &Actor, f: &EnrolForm) -> Result<Enrolment, DomainError> {
    require_work(app, actor).await?;
    let patient = super::patient_of(app, actor, &f.patient_id).await?;
    let patient_id = patient.id;
    let r = rules(app, actor.org_id).await?;
    let today = today_cst();
    let mut checks = Checks::new();
    let disease = Disease::parse(f.disease.trim());
    if disease.is_none() {
        checks.add("disease", ErrorCode::Required, [""; 0]);
    }
    let source = Source::parse(f.source.trim());
    if source.is_none() {
        checks.add("source", ErrorCode::Required, [""; 0]);
    }
    let diagnosed = checks.take("diagnosed_on", past_day("diagnosed_on", &f.diagnosed_on, today));
    let village = checks.required("village", &f.village, 40);
    let doctor = match f.doctor.trim() {
        "" => Some(actor.username.clone()),
        d => match dayi_store::staff::by_username(&app.db, actor.org_id, d).await.or_internal()? {
            Some(s) if s.active => Some(s.username),
            _ => {
                checks.add("doctor", ErrorCode::InvalidFormat, [d]);
                None
            }
        },
    };
    super::check_related(&mut checks, &r, &f.related);
    match age_of(&patient.birth_date, today) {
        Some(age) if age < r.min_age => checks.add("patient_id", ErrorCode::ChronicAge, [age, r.min_age]),
        None => checks.add("patient_id", ErrorCode::ChronicAge, ["—".to_string(), r.min_age.to_string()]),
        _ => {}
    }
    checks.finish()?;
    let (Some(disease), Some(source), Some(diagnosed), Some(village), Some(doctor)) =
        (disease, source, diagnosed, village, doctor)
    else {
        return Err(DomainError::new(ErrorCode::Validation));
    };
    let existing = dayi_store::chronic::enrolments_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    if existing.iter().any(|e| e.disease == disease.code() && e.status == "active") {
        return Err(DomainError::field("disease", ErrorCode::ChronicEnrolled, [disease.zh()]));
    }
    let now = now_micros();
    let e = Enrolment {
        org_id: actor.org_id,
        id: crate::new_id(),
        patient_id,
        disease: disease.code().into(),
        diagnosed_on: day(diagnosed),
        enrolled_on: day(today),
        source: source.code().into(),
        doctor,
        village,
        related: f.related.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(","),
        status: "active".into(),
        closed_on: None,
        closed_reason: String::new(),
        // the first follow-up is due at once
        next_due: Some(day(today)),
        next_kind: Next::Routine.code().into(),
        last_class: None,
        last_visit_on: None,
        last_checkup_on: None,
        enrolled_by: actor.username.clone(),
        created_at: now,
        updated_at: now,
    };
    // Open proposals whose suggested diseases are now all enrolled are taken up.
    let mut enrolled: Vec<&str> =
        existing.iter().filter(|x| x.status == "active").map(|x| x.disease.as_str()).collect();
    enrolled.push(disease.code());
    let readings = dayi_store::chronic::screenings_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    let taken: Vec<Uuid> = readings
        .iter()
        .filter(|s| s.proposal == "open" && split(&s.suspected).all(|d| enrolled.contains(&d)))
        .map(|s| s.id)
        .collect();
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::chronic::insert_enrolment(&mut tx, &e).await.or_internal()?;
    dayi_store::chronic::set_proposal(&mut tx, actor.org_id, &taken, "enrolled").await.or_internal()?;
    let entry = actor.entry("chronic.enrol", "chronic_enrolment", &e.id.to_string(), Some(patient_id), OK, &e.disease);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(e)
}

/// One registry record.
pub async fn enrolment(app: &App, actor: &Actor, id: Uuid) -> Result<Enrolment, DomainError> {
    require_work(app, actor).await?;
    load(app, actor, id).await
}

/// The villages of the registry, for the filters.
pub async fn villages(app: &App, actor: &Actor) -> Result<Vec<String>, DomainError> {
    require_work(app, actor).await?;
    dayi_store::chronic::villages(&app.db, actor.org_id).await.or_internal()
}

async fn load(app: &App, actor: &Actor, id: Uuid) -> Result<Enrolment, DomainError> {
    dayi_store::chronic::get_enrolment(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))
}

async fn save(app: &App, actor: &Actor, e: &Enrolment, action: &str, detail: &str) -> Result<(), DomainError> {
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::chronic::update_enrolment(&mut tx, e).await.or_internal()?;
    let entry = actor.entry(action, "chronic_enrolment", &e.id.to_string(), Some(e.patient_id), OK, detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// Hands a record to another doctor or village, or updates its related diseases.
pub async fn reassign(
    app: &App,
    actor: &Actor,
    id: Uuid,
    doctor: &str,
    village: &str,
    related: &[String],
) -> Result<Enrolment, DomainError> {
    require_work(app, actor).await?;
    let mut e = load(app, actor, id).await?;
    let r = rules(app, actor.org_id).await?;
    let mut checks = Checks::new();
    let village = checks.required("village", village, 40);
    let staff = dayi_store::staff::by_username(&app.db, actor.org_id, doctor.trim()).await.or_internal()?;
    if !staff.as_ref().is_some_and(|s| s.active) {
        checks.add("doctor", ErrorCode::InvalidFormat, [doctor.trim()]);
    }
    super::check_related(&mut checks, &r, related);
    checks.finish()?;
    e.doctor = doctor.trim().into();
    e.village = village.unwrap_or_default();
    e.related = related.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(",");
    e.updated_at = now_micros();
    save(app, actor, &e, "chronic.reassign", &e.doctor.clone()).await?;
    Ok(e)
}

/// Closes a record (死亡、迁出、排除诊断…); it leaves the worklists.
pub async fn close(app: &App, actor: &Actor, id: Uuid, reason: &str) -> Result<Enrolment, DomainError> {
    require_work(app, actor).await?;
    let mut e = load(app, actor, id).await?;
    let mut checks = Checks::new();
    let reason = checks.required("reason", reason, 200);
    checks.finish()?;
    if e.status != "active" {
        return Err(DomainError::new(ErrorCode::ChronicClosed));
    }
    e.status = "closed".into();
    e.closed_on = Some(day(today_cst()));
    e.closed_reason = reason.unwrap_or_default();
    e.next_due = None;
    e.updated_at = now_micros();
    save(app, actor, &e, "chronic.close", &e.closed_reason.clone()).await?;
    Ok(e)
}
