//! Identifiers other systems give a patient (another hospital's record
//! number, one with no system): checked against the records already holding
//! them, stored with the registration or correction that brings them, read
//! with the record and searched by. Within a system one identifier names one
//! person; a bare value names no namespace and may repeat.

pub use dayi_core::patient::ForeignId;

use std::collections::HashMap;

use dayi_core::audit::OK;
use dayi_core::patient::MAX_FOREIGN_IDS;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::identifier::Identifier;
use dayi_store::patient::Patient;
use uuid::Uuid;

use crate::patient::{PatientView, SEARCH_LIMIT};
use crate::{Actor, App, OrInternal, new_id};

/// The list without repeats, refused when longer than a record keeps.
pub(crate) fn checked(ids: &[ForeignId]) -> Result<Vec<ForeignId>, DomainError> {
    let mut out: Vec<ForeignId> = vec![];
    for id in ids {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    if out.len() > MAX_FOREIGN_IDS {
        let why = format!("每位患者最多登记 {MAX_FOREIGN_IDS} 个外部标识");
        return Err(DomainError::field("identifier", ErrorCode::InvalidFormat, [why]));
    }
    Ok(out)
}

/// Rows for a patient's identifiers.
pub(crate) fn rows(org_id: Uuid, patient_id: Uuid, ids: &[ForeignId], now: i64) -> Vec<Identifier> {
    ids.iter()
        .map(|i| Identifier {
            org_id,
            id: new_id(),
            patient_id,
            system: i.system.clone(),
            value: i.value.clone(),
            created_at: now,
        })
        .collect()
}

/// The refusal for an identifier another record holds: it names that record.
pub(crate) fn duplicate(id: &ForeignId, holder: &Patient) -> DomainError {
    let args = [id.token(), mask::name(&holder.name), holder.hospital_no.clone(), holder.id.to_string()];
    DomainError::with(ErrorCode::PatientDuplicateIdentifier, args)
}

/// The refusal when a record other than `except` holds one of `ids` already.
pub(crate) async fn taken(
    app: &App,
    org_id: Uuid,
    ids: &[ForeignId],
    except: Option<Uuid>,
) -> Result<Option<DomainError>, DomainError> {
    for id in ids.iter().filter(|i| i.is_unique()) {
        let held = dayi_store::identifier::find(&app.db, org_id, Some(&id.system), &id.value, 2).await.or_internal()?;
        if let Some(h) = held.iter().find(|h| Some(h.patient_id) != except) {
            let holder = crate::patient::load(app, org_id, h.patient_id).await?;
            return Ok(Some(duplicate(id, &holder)));
        }
    }
    Ok(None)
}

/// The identifiers of these patients, by patient, in the order received.
/// Not audited: the caller audits reading the records they belong to.
pub async fn of(app: &App, actor: &Actor, patients: &[Uuid]) -> Result<HashMap<Uuid, Vec<ForeignId>>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let rows = dayi_store::identifier::of_patients(&app.db, actor.org_id, patients).await.or_internal()?;
    let mut out: HashMap<Uuid, Vec<ForeignId>> = HashMap::new();
    for r in rows {
        out.entry(r.patient_id).or_default().push(ForeignId { system: r.system, value: r.value });
    }
    Ok(out)
}

/// Active records holding the value: in any system (`None`), or in one
/// (`Some("")` for none). Audited as a search, the value masked.
pub async fn search(
    app: &App,
    actor: &Actor,
    system: Option<&str>,
    value: &str,
) -> Result<Vec<PatientView>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let held = dayi_store::identifier::find(&app.db, actor.org_id, system, value, SEARCH_LIMIT).await.or_internal()?;
    let mut ids: Vec<Uuid> = vec![];
    for h in &held {
        if !ids.contains(&h.patient_id) {
            ids.push(h.patient_id);
        }
    }
    let found = dayi_store::patient::get_many(&app.db, actor.org_id, &ids).await.or_internal()?;
    let views: Vec<PatientView> = ids
        .iter()
        .filter_map(|id| found.iter().find(|p| p.id == *id && p.merged_into.is_none()))
        .map(|p| PatientView::new(p, false))
        .collect();
    let detail =
        format!("identifier system={} q={} hits={}", system.unwrap_or("*"), mask::id_number(value), views.len());
    app.audit.record(actor.entry("patient.search", "patient", "", None, OK, &detail)).await;
    Ok(views)
}
