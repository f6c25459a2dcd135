//! The doctor's workstation (门诊医生站): the called patient's visit, its
//! record, diagnoses, orders and certificates. An order is saved with its
//! charge in one transaction, so what the doctor orders is what the cashier
//! and the phone show as owed. Finishing the visit finishes the queue entry.

mod certificate;
mod day;
mod order;
pub mod query;
mod record;

pub use certificate::{CertificateForm, certificate, certify};
pub use day::{DayLine, PatientVisit, my_day, of_patient};
pub use order::{OrderForm, Ordered, cancel_order, execute, order};
pub use record::{DiagnosisForm, RecordForm, TemplateForm, add_template, diagnose, save, templates};

use dayi_core::audit::OK;
use dayi_core::catalog::{self, Kind};
use dayi_core::queue::{Action, Status as QStatus};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::visit::{Limits, OrderKind, OrderStatus, VisitStatus};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::visit::{Certificate, Diagnosis, Order, Visit};
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, OrInternal, catalog as cat, policy};

pub const LIMITS: &str = "visit.limits";

pub async fn limits(app: &App, org_id: Uuid) -> Result<Limits, DomainError> {
    policy::json(app, org_id, LIMITS).await
}

/// A visit with everything the workstation shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitView {
    pub visit: Visit,
    pub status_name: &'static str,
    /// Masked (张*三): the screen faces the room.
    pub patient_name: String,
    pub sex: String,
    pub age: i64,
    pub hospital_no: String,
    pub diagnoses: Vec<Diagnosis>,
    pub orders: Vec<OrderLine>,
    pub certificates: Vec<Certificate>,
    /// Sum of the orders not cancelled or refunded, fen.
    pub total_fen: i64,
    pub total: String,
    /// Earlier visits, newest first, with their diagnoses.
    pub past: Vec<PastVisit>,
    /// Chronic diseases diagnosed at any visit (慢病), by name.
    pub chronic: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderLine {
    #[serde(flatten)]
    pub order: Order,
    pub kind_name: &'static str,
    pub status_name: &'static str,
    pub dose_text: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PastVisit {
    pub id: Uuid,
    pub day: String,
    pub doctor_name: String,
    pub diagnoses: Vec<String>,
}

fn line(o: Order) -> OrderLine {
    let dose_text = match (o.dose, o.days) {
        (Some(d), Some(days)) => format!(
            "每次 {}{} {} × {} 天",
            catalog::show_milli(d),
            o.dose_unit,
            catalog::Frequency::parse(&o.frequency).map(|f| f.zh()).unwrap_or(""),
            days
        ),
        _ => String::new(),
    };
    OrderLine {
        kind_name: OrderKind::parse(&o.kind).map(|k| k.zh()).unwrap_or(""),
        status_name: OrderStatus::parse(&o.status).map(|s| s.zh()).unwrap_or(""),
        amount: catalog::yuan(o.amount_fen),
        dose_text,
        order: o,
    }
}

async fn load(app: &App, org_id: Uuid, id: Uuid) -> Result<Visit, DomainError> {
    dayi_store::visit::get(&app.db, org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::VisitUnknown))
}

/// The visit, for a change by its doctor while it is open.
async fn editable(app: &App, actor: &Actor, id: Uuid) -> Result<Visit, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, id).await?;
    if visit.status != VisitStatus::Open.code() {
        return Err(DomainError::new(ErrorCode::VisitFinished));
    }
    if visit.doctor_id != actor.staff_id && actor.via != crate::Via::Cli {
        return Err(DomainError::with(ErrorCode::VisitNotYours, [visit.doctor_name.clone()]));
    }
    Ok(visit)
}

/// Opens (or reopens) the visit of a registration the doctor has called.
pub async fn open(app: &App, actor: &Actor, booking_id: Uuid) -> Result<VisitView, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    if let Some(v) = dayi_store::visit::of_booking(&app.db, actor.org_id, booking_id).await.or_internal()? {
        return view(app, actor, v.id).await;
    }
    let entry = dayi_store::queue::get(&app.db, actor.org_id, booking_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    if entry.status != QStatus::Called.code() {
        return Err(DomainError::new(ErrorCode::VisitNotCalled));
    }
    let session = dayi_store::roster::get_session(&app.db, actor.org_id, entry.session_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    // The allergy history carries over from the last visit.
    let last = dayi_store::visit::of_patient(&app.db, actor.org_id, entry.patient_id, 1).await.or_internal()?;
    let now = now_micros();
    let visit = Visit {
        org_id: actor.org_id,
        id: crate::new_id(),
        patient_id: entry.patient_id,
        booking_id: Some(booking_id),
        dept_id: session.dept_id,
        doctor_id: actor.staff_id,
        doctor_name: actor.name.clone(),
        day: today_cst().to_string(),
        status: VisitStatus::Open.code().into(),
        chief_complaint: String::new(),
        present_illness: String::new(),
        history: last.first().map(|l| l.history.clone()).unwrap_or_default(),
        allergies: last.first().map(|l| l.allergies.clone()).unwrap_or_default(),
        vitals: "{}".into(),
        examination: String::new(),
        advice: String::new(),
        opened_at: now,
        finished_at: None,
        updated_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    let fresh = dayi_store::visit::insert(&mut tx, &visit).await.or_internal()?;
    let entry = actor.entry("visit.open", "visit", &visit.id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    if fresh {
        // The `visit.open` entry just committed records this access: no second (`visit.view`) entry to wait for.
        return assemble(app, actor.org_id, visit).await;
    }
    // Opened at the same moment elsewhere: that one counts.
    let id = dayi_store::visit::of_booking(&app.db, actor.org_id, booking_id)
        .await
        .or_internal()?
        .map(|v| v.id)
        .ok_or_else(|| DomainError::new(ErrorCode::Conflict))?;
    view(app, actor, id).await
}

/// The whole visit for the workstation (audited: it shows the record).
pub async fn view(app: &App, actor: &Actor, id: Uuid) -> Result<VisitView, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, id).await?;
    app.audit.record(actor.entry("visit.view", "visit", &id.to_string(), Some(visit.patient_id), OK, "")).await;
    assemble(app, actor.org_id, visit).await
}

async fn assemble(app: &App, org_id: Uuid, visit: Visit) -> Result<VisitView, DomainError> {
    let p = crate::patient::load(app, org_id, visit.patient_id).await?;
    let birth = time::Date::parse(&p.birth_date, time::macros::format_description!("[year]-[month]-[day]")).ok();
    let (past_rows, all_dx) = history(app, org_id, &visit).await?;
    let cat = cat::current(app, org_id).await?;
    let chronic = chronic(&all_dx, &cat);
    let past = past_rows
        .iter()
        .filter(|p| p.id != visit.id)
        .map(|p| PastVisit {
            id: p.id,
            day: p.day.clone(),
            doctor_name: p.doctor_name.clone(),
            diagnoses: all_dx.iter().filter(|d| d.visit_id == p.id).map(|d| d.name.clone()).collect(),
        })
        .collect();
    let orders: Vec<OrderLine> =
        dayi_store::visit::orders(&app.db, org_id, visit.id).await.or_internal()?.into_iter().map(line).collect();
    let total_fen = orders
        .iter()
        .filter(|o| !matches!(o.order.status.as_str(), "cancelled" | "refunded"))
        .map(|o| o.order.amount_fen)
        .sum();
    Ok(VisitView {
        status_name: VisitStatus::parse(&visit.status).map(|s| s.zh()).unwrap_or(""),
        patient_name: mask::name(&p.name),
        sex: dayi_core::identity::Sex::parse(&p.sex).map(|s| s.zh()).unwrap_or("").into(),
        age: birth.map(|b| i64::from(dayi_core::patient::age_on(b, today_cst()))).unwrap_or(0),
        hospital_no: p.hospital_no.clone(),
        diagnoses: all_dx.iter().filter(|d| d.visit_id == visit.id).cloned().collect(),
        certificates: dayi_store::visit::certificates(&app.db, org_id, visit.id).await.or_internal()?,
        orders,
        total_fen,
        total: catalog::yuan(total_fen),
        past,
        chronic,
        visit,
    })
}

/// The patient's recent visits (this one included) and all their diagnoses.
async fn history(app: &App, org_id: Uuid, visit: &Visit) -> Result<(Vec<Visit>, Vec<Diagnosis>), DomainError> {
    let past = dayi_store::visit::of_patient(&app.db, org_id, visit.patient_id, 20).await.or_internal()?;
    let mut ids: Vec<Uuid> = past.iter().map(|v| v.id).collect();
    if !ids.contains(&visit.id) {
        ids.push(visit.id);
    }
    let dx = dayi_store::visit::diagnoses(&app.db, org_id, &ids).await.or_internal()?;
    Ok((past, dx))
}

/// The chronic diseases (慢病) among diagnoses, by name, once each.
fn chronic(dx: &[Diagnosis], cat: &cat::Catalog) -> Vec<String> {
    let mut names: Vec<String> = dx
        .iter()
        .filter(|d| cat.get(Kind::Diagnosis, &d.code).is_some_and(|i| i.category == "chronic"))
        .map(|d| d.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Finishes the visit (it needs a diagnosis) and the patient's queue entry.
pub async fn finish(app: &App, actor: &Actor, id: Uuid) -> Result<VisitView, DomainError> {
    let visit = editable(app, actor, id).await?;
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &[id]).await.or_internal()?;
    if dx.is_empty() {
        return Err(DomainError::new(ErrorCode::VisitNoDiagnosis));
    }
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::visit::finish(&mut tx, actor.org_id, id, now).await.or_internal()? {
        return Err(DomainError::new(ErrorCode::VisitFinished));
    }
    let entry = actor.entry("visit.finish", "visit", &id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    if let Some(b) = visit.booking_id {
        // The queue entry may have been finished from the panel already.
        match crate::queue::act(app, actor, b, Action::Finish).await {
            Ok(_) => {}
            Err(e)
                if matches!(e.code, ErrorCode::QueueFinished | ErrorCode::QueueNotCalled | ErrorCode::QueueUnknown) => {
            }
            Err(e) => return Err(e),
        }
    }
    let visit = load(app, actor.org_id, id).await?;
    assemble(app, actor.org_id, visit).await
}
