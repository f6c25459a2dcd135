//! The registry for other systems (FHIR CarePlan and vital-sign
//! Observations): records with their follow-ups as stored.

use dayi_core::audit::OK;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::chronic::{Enrolment, Followup};
use dayi_store::walk::{Step, Walk};
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, OrInternal};

/// A registry record and its follow-ups, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub enrolment: Enrolment,
    pub followups: Vec<Followup>,
}

/// Clinicians and public-health staff read the registry.
pub async fn require_read(app: &App, actor: &Actor) -> Result<(), DomainError> {
    if actor.can(Perm::Clinical) {
        return Ok(());
    }
    actor.require(app, Perm::PublicHealthWork).await
}

pub async fn plans(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<Plan>, DomainError> {
    require_read(app, actor).await?;
    let records = dayi_store::chronic::enrolments_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    let visits = dayi_store::chronic::followups_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    app.audit.record(actor.entry("chronic.plans", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    Ok(records
        .into_iter()
        .map(|e| {
            let followups = visits.iter().filter(|f| f.enrolment_id == e.id).cloned().collect();
            Plan { enrolment: e, followups }
        })
        .collect())
}

/// The records a search names: the patients' when it names patients, else
/// those of the ids (an id not on file matches nothing).
pub async fn find(app: &App, actor: &Actor, patients: Option<&[Uuid]>, ids: &[Uuid]) -> Result<Vec<Plan>, DomainError> {
    require_read(app, actor).await?;
    let mut found = vec![];
    match patients {
        Some(patients) => {
            for id in patients {
                found.extend(plans(app, actor, *id).await?);
            }
        }
        None => {
            for id in ids {
                match plan(app, actor, *id).await {
                    Ok(p) => found.push(p),
                    Err(e) if e.code == ErrorCode::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(found)
}

/// Every registry record in id order with its follow-ups, a page at a time
/// (a FHIR search with no parameter); each record shown audited as read.
pub async fn walk(app: &App, actor: &Actor, step: &Step) -> Result<Walk<Plan>, DomainError> {
    require_read(app, actor).await?;
    let step = crate::visit::query::capped(step);
    let page = dayi_store::chronic::walk_enrolments(&app.db, actor.org_id, &step).await.or_internal()?;
    let ids: Vec<Uuid> = page.rows.iter().map(|e| e.id).collect();
    let visits = dayi_store::chronic::followups_of_enrolments(&app.db, actor.org_id, &ids).await.or_internal()?;
    let entries = page
        .rows
        .iter()
        .map(|e| actor.entry("chronic.plan", "chronic_enrolment", &e.id.to_string(), Some(e.patient_id), OK, ""));
    app.audit.record_all(entries.collect()).await;
    let plans = page
        .rows
        .iter()
        .map(|e| {
            let followups = visits.iter().filter(|f| f.enrolment_id == e.id).cloned().collect();
            Plan { enrolment: e.clone(), followups }
        })
        .collect();
    Ok(page.with_rows(plans))
}

pub async fn plan(app: &App, actor: &Actor, id: Uuid) -> Result<Plan, DomainError> {
    require_read(app, actor).await?;
    let e = dayi_store::chronic::get_enrolment(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let visits = dayi_store::chronic::followups_of(&app.db, actor.org_id, e.patient_id).await.or_internal()?;
    app.audit
        .record(actor.entry("chronic.plan", "chronic_enrolment", &id.to_string(), Some(e.patient_id), OK, ""))
        .await;
    Ok(Plan { followups: visits.into_iter().filter(|f| f.enrolment_id == e.id).collect(), enrolment: e })
}

pub async fn followup_row(app: &App, actor: &Actor, id: Uuid) -> Result<Followup, DomainError> {
    require_read(app, actor).await?;
    let f = dayi_store::chronic::get_followup(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    app.audit
        .record(actor.entry("chronic.followup_read", "chronic_followup", &id.to_string(), Some(f.patient_id), OK, ""))
        .await;
    Ok(f)
}
