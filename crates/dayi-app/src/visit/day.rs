//! A patient's visits and the doctor's day list.

use dayi_core::audit::OK;
use dayi_core::security::Perm;
use dayi_core::timefmt::today_cst;
use dayi_core::visit::{OrderStatus, VisitStatus};
use dayi_core::{DomainError, mask};
use serde::Serialize;
use uuid::Uuid;

use super::{OrderLine, line};
use crate::{Actor, App, OrInternal};

/// A finished or open visit as the patient (and their doctor) looks back on
/// it: diagnoses and what was ordered.
#[derive(Debug, Clone, Serialize)]
pub struct PatientVisit {
    pub id: Uuid,
    pub day: String,
    pub dept_name: String,
    pub doctor_name: String,
    pub status_name: &'static str,
    pub diagnoses: Vec<String>,
    pub orders: Vec<OrderLine>,
    pub advice: String,
}

/// The patient's visits, newest first: on the phone for oneself or family,
/// at the console for clinicians.
pub async fn of_patient(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<PatientVisit>, DomainError> {
    match actor.via {
        crate::Via::Portal => crate::portal::require_family(app, actor, patient_id).await?,
        _ => actor.require(app, Perm::Clinical).await?,
    }
    let visits = dayi_store::visit::of_patient(&app.db, actor.org_id, patient_id, 50).await.or_internal()?;
    let ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &ids).await.or_internal()?;
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let orders = dayi_store::visit::orders(&app.db, actor.org_id, v.id).await.or_internal()?;
        out.push(PatientVisit {
            id: v.id,
            dept_name: depts.iter().find(|d| d.id == v.dept_id).map(|d| d.name.clone()).unwrap_or_default(),
            doctor_name: v.doctor_name.clone(),
            status_name: VisitStatus::parse(&v.status).map(|s| s.zh()).unwrap_or(""),
            diagnoses: dx.iter().filter(|d| d.visit_id == v.id).map(|d| d.name.clone()).collect(),
            orders: orders.into_iter().filter(|o| o.status != OrderStatus::Cancelled.code()).map(line).collect(),
            advice: v.advice.clone(),
            day: v.day,
        });
    }
    app.audit.record(actor.entry("visit.list", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    Ok(out)
}

/// A line of the doctor's day: who, when, how far.
#[derive(Debug, Clone, Serialize)]
pub struct DayLine {
    pub id: Uuid,
    /// Masked: the list may be seen over the doctor's shoulder.
    pub patient_name: String,
    pub opened: String,
    pub status: String,
    pub status_name: &'static str,
    pub diagnoses: Vec<String>,
}

/// The doctor's own visits of today, to go back to a patient (back from tests, a certificate).
pub async fn my_day(app: &App, actor: &Actor) -> Result<Vec<DayLine>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let day = today_cst().to_string();
    let visits = dayi_store::visit::of_doctor(&app.db, actor.org_id, actor.staff_id, &day).await.or_internal()?;
    let ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &ids).await.or_internal()?;
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let p = crate::patient::load(app, actor.org_id, v.patient_id).await?;
        out.push(DayLine {
            id: v.id,
            patient_name: mask::name(&p.name),
            opened: dayi_core::timefmt::show(v.opened_at),
            status_name: VisitStatus::parse(&v.status).map(|s| s.zh()).unwrap_or(""),
            diagnoses: dx.iter().filter(|d| d.visit_id == v.id).map(|d| d.name.clone()).collect(),
            status: v.status,
        });
    }
    Ok(out)
}
