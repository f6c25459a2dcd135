//! Certificates (诊断证明, 病假条) issued from a visit.

use dayi_core::audit::OK;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::visit::Certificate;
use serde::Deserialize;
use uuid::Uuid;

use super::{VisitView, assemble, limits, load};
use crate::{Actor, App, OrInternal};

/// A certificate request: diagnosis (诊断证明) or sick leave (病假证明).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CertificateForm {
    pub kind: String,
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub days: String,
    pub note: String,
}

pub async fn certify(app: &App, actor: &Actor, id: Uuid, f: &CertificateForm) -> Result<Certificate, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, id).await?;
    let lim = limits(app, actor.org_id).await?;
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &[id]).await.or_internal()?;
    if dx.is_empty() {
        return Err(DomainError::new(ErrorCode::VisitNoDiagnosis));
    }
    let kind = match f.kind.trim() {
        k @ ("diagnosis" | "sick_leave") => k,
        k => return Err(DomainError::field("kind", ErrorCode::InvalidFormat, [k])),
    };
    let days = match kind {
        "sick_leave" => {
            Some(f.days.trim().parse::<i64>().ok().filter(|d| (1..=lim.max_sick_leave_days).contains(d)).ok_or_else(
                || DomainError::field("days", ErrorCode::CertificateDays, [lim.max_sick_leave_days.to_string()]),
            )?)
        }
        _ => None,
    };
    if f.note.chars().count() > 500 {
        return Err(DomainError::field("note", ErrorCode::TooLong, ["500"]));
    }
    let now = now_micros();
    let id_c = crate::new_id();
    let c = Certificate {
        org_id: actor.org_id,
        id: id_c,
        cert_no: format!("ZM{}{}", visit.day.replace('-', ""), &id_c.simple().to_string()[24..]),
        visit_id: id,
        patient_id: visit.patient_id,
        kind: kind.into(),
        days,
        starts: days.map(|_| visit.day.clone()),
        note: f.note.trim().into(),
        issued_by: actor.name.clone(),
        issued_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::visit::insert_certificate(&mut tx, &c).await.or_internal()?;
    let entry = actor.entry("visit.certify", "certificate", &c.cert_no, Some(visit.patient_id), OK, kind);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(c)
}

/// A certificate with its visit, for printing (full name: it is the patient's document).
pub async fn certificate(app: &App, actor: &Actor, id: Uuid) -> Result<(Certificate, VisitView, String), DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let c = dayi_store::visit::certificate(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let visit = load(app, actor.org_id, c.visit_id).await?;
    let p = crate::patient::load(app, actor.org_id, visit.patient_id).await?;
    app.audit
        .record(actor.entry("visit.print_certificate", "certificate", &c.cert_no, Some(visit.patient_id), OK, ""))
        .await;
    let view = assemble(app, actor.org_id, visit).await?;
    Ok((c, view, p.name))
}
