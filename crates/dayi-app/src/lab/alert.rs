//! Critical values (危急值): raised when a result crosses a critical limit,
//! shown to the ordering doctor until they acknowledge it, every step logged.

use dayi_core::audit::OK;
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, show};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::lab::LabAlert;
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, OrInternal};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AlertLine {
    #[serde(flatten)]
    pub alert: LabAlert,
    /// Masked, for the banner on the doctor's screen.
    pub patient_name: String,
    pub raised: String,
}

/// The doctor's open critical values, oldest first.
pub async fn mine(app: &App, actor: &Actor) -> Result<Vec<AlertLine>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let mut out = vec![];
    for a in dayi_store::lab::open_alerts(&app.db, actor.org_id, actor.staff_id).await.or_internal()? {
        let p = crate::patient::load(app, actor.org_id, a.patient_id).await?;
        out.push(AlertLine { patient_name: mask::name(&p.name), raised: show(a.raised_at), alert: a });
    }
    Ok(out)
}

/// The ordering doctor acknowledges a critical value (with what they did).
pub async fn acknowledge(app: &App, actor: &Actor, id: Uuid, note: &str) -> Result<LabAlert, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let a = dayi_store::lab::alert(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    if a.doctor_id != actor.staff_id {
        return Err(DomainError::new(ErrorCode::Forbidden));
    }
    if let Some(by) = &a.acked_by {
        return Err(DomainError::with(ErrorCode::LabAlertDone, [by.clone()]));
    }
    let now = now_micros();
    let note: String = note.trim().chars().take(200).collect();
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::lab::ack_alert(&mut tx, actor.org_id, id, &actor.username, &note, now).await.or_internal()? {
        return Err(DomainError::with(ErrorCode::LabAlertDone, [""]));
    }
    let entry = actor.entry("lab.critical_ack", "lab_alert", &id.to_string(), Some(a.patient_id), OK, &note);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    dayi_store::lab::alert(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::Conflict))
}
