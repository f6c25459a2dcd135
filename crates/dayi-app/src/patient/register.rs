//! Registration (建档) and correction of a record: checked, numbered, written by the intake batcher,
//! each change audited.

use dayi_core::audit::OK;
use dayi_core::patient::{Channel, NewPatient, Registration, validate};
use dayi_core::security::Perm;
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::identifier::Identifier;
use dayi_store::patient::Patient;
use rand::RngCore;
use uuid::Uuid;

use super::identifier::{self, ForeignId};
use super::{hospital_no, load, record};
use crate::{Actor, App, OrInternal, policy};

pub(super) fn duplicate(existing: &Patient) -> DomainError {
    DomainError::with(
        ErrorCode::PatientDuplicateId,
        [mask::name(&existing.name), existing.hospital_no.clone(), existing.id.to_string()],
    )
    .and_field(
        "id_number",
        ErrorCode::PatientDuplicateId,
        [mask::name(&existing.name), existing.hospital_no.clone()],
    )
}

/// Registers a patient. A document already on file is refused with the
/// existing record offered (its id is the error's third argument).
pub async fn register(app: &App, actor: &Actor, form: &NewPatient, channel: Channel) -> Result<Patient, DomainError> {
    register_with(app, actor, form, &[], channel).await
}

/// Asked before a write's body is read (a FHIR create or update): a caller
/// who may not write is refused as such, not told what is wrong with the body.
pub async fn require_write(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::PatientWrite).await
}

/// Registers a patient with identifiers other systems gave them (a FHIR
/// create). An identifier another record holds in its system is refused
/// like a document on file, after the document.
pub async fn register_with(
    app: &App,
    actor: &Actor,
    form: &NewPatient,
    ids: &[ForeignId],
    channel: Channel,
) -> Result<Patient, DomainError> {
    actor.require(app, Perm::PatientWrite).await?;
    let under = policy::int(app, actor.org_id, policy::GUARDIAN_UNDER_AGE).await? as i32;
    let reg = validate(form, today_cst(), under)?;
    if let Some(d) = &reg.document
        && let Some(existing) =
            dayi_store::patient::by_document(&app.db, actor.org_id, d.kind().code(), d.number()).await.or_internal()?
    {
        return Err(duplicate(&existing));
    }
    let ids = identifier::checked(ids)?;
    if let Some(e) = identifier::taken(app, actor.org_id, &ids, None).await? {
        return Err(e);
    }
    let mut random = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut random);
    let p = record(actor.org_id, &reg, channel, &actor.username, random);
    let rows = identifier::rows(actor.org_id, p.id, &ids, p.created_at);
    // The hospital number is prefixed to the detail when the batch numbers the record.
    let detail = format!("{} via={}", mask::name(&p.name), channel.code());
    let e = actor.entry("patient.create", "patient", &p.id.to_string(), Some(p.id), OK, &detail);
    match app.intake.write(p, rows, e).await {
        Ok(p) => Ok(p),
        Err(e) if dayi_store::is_unique_violation(&e) => {
            // Someone registered the document or an identifier meanwhile.
            if let Some(d) = &reg.document
                && let Some(x) = dayi_store::patient::by_document(&app.db, actor.org_id, d.kind().code(), d.number())
                    .await
                    .or_internal()?
            {
                return Err(duplicate(&x));
            }
            Err(identifier::taken(app, actor.org_id, &ids, None).await?.unwrap_or_else(|| crate::internal(e)))
        }
        Err(e) => Err(crate::internal(e)),
    }
}

/// Corrects a record's demographics (修改患者信息). `read_version` is the
/// `updated_at` the caller saw: a record changed since is refused, so no
/// one's correction is silently overwritten. The hospital number, card id
/// and creation facts stay; the audit entry names the fields that changed.
pub async fn update(
    app: &App,
    actor: &Actor,
    id: Uuid,
    form: &NewPatient,
    read_version: i64,
    channel: Channel,
) -> Result<Patient, DomainError> {
    update_with(app, actor, id, form, None, read_version, channel).await
}

/// `update`, and when `ids` is given the record's identifiers from other
/// systems become exactly those (a FHIR update sends the whole resource).
pub async fn update_with(
    app: &App,
    actor: &Actor,
    id: Uuid,
    form: &NewPatient,
    ids: Option<&[ForeignId]>,
    read_version: i64,
    channel: Channel,
) -> Result<Patient, DomainError> {
    actor.require(app, Perm::PatientWrite).await?;
    let under = policy::int(app, actor.org_id, policy::GUARDIAN_UNDER_AGE).await? as i32;
    let old = load(app, actor.org_id, id).await?;
    let reg = validate(&unmasked_form(form, &old), today_cst(), under)?;
    if old.merged_into.is_some() {
        return Err(DomainError::new(ErrorCode::MergeAlreadyMerged));
    }
    if old.updated_at != read_version {
        return Err(DomainError::with(ErrorCode::VersionMismatch, [old.updated_at]));
    }
    if let Some(d) = &reg.document
        && let Some(other) =
            dayi_store::patient::by_document(&app.db, actor.org_id, d.kind().code(), d.number()).await.or_internal()?
        && other.id != id
    {
        return Err(duplicate(&other));
    }
    let ids = ids.map(identifier::checked).transpose()?;
    let (gone, added) = match &ids {
        Some(ids) => {
            if let Some(e) = identifier::taken(app, actor.org_id, ids, Some(id)).await? {
                return Err(e);
            }
            let held = dayi_store::identifier::of_patients(&app.db, actor.org_id, &[id]).await.or_internal()?;
            let same = |h: &Identifier, i: &ForeignId| h.system == i.system && h.value == i.value;
            let gone: Vec<Uuid> = held.iter().filter(|h| !ids.iter().any(|i| same(h, i))).map(|h| h.id).collect();
            let added: Vec<ForeignId> = ids.iter().filter(|i| !held.iter().any(|h| same(h, i))).cloned().collect();
            (gone, added)
        }
        None => (vec![], vec![]),
    };
    let fresh = record(actor.org_id, &reg, channel, &actor.username, [0; 32]);
    let new = Patient {
        org_id: old.org_id,
        id: old.id,
        hospital_no: old.hospital_no.clone(),
        card_id: old.card_id.clone(),
        channel: old.channel.clone(),
        merged_into: None,
        created_by: old.created_by.clone(),
        created_at: old.created_at,
        // Strictly later, so the version changes even within one microsecond.
        updated_at: fresh.updated_at.max(old.updated_at + 1),
        ..fresh
    };
    let mut changed = changed_fields(&old, &new);
    if !gone.is_empty() || !added.is_empty() {
        changed.push("identifiers");
    }
    let detail = format!("{} via={} changed={}", mask::name(&new.name), channel.code(), changed.join(","));
    let mut tx = app.db.begin().await.or_internal()?;
    match dayi_store::patient::update(&mut tx, &new, read_version).await {
        Ok(true) => {}
        Ok(false) => {
            let now = load(app, actor.org_id, id).await?;
            return Err(DomainError::with(ErrorCode::VersionMismatch, [now.updated_at]));
        }
        Err(e) if dayi_store::is_unique_violation(&e) => return Err(DomainError::new(ErrorCode::Conflict)),
        Err(e) => return Err(crate::internal(e)),
    }
    dayi_store::identifier::delete(&mut tx, actor.org_id, id, &gone).await.or_internal()?;
    let rows = identifier::rows(actor.org_id, id, &added, new.updated_at);
    match dayi_store::identifier::insert(&mut tx, &rows).await {
        Ok(()) => {}
        // Another record took one of them meanwhile.
        Err(e) if dayi_store::is_unique_violation(&e) => return Err(DomainError::new(ErrorCode::Conflict)),
        Err(e) => return Err(crate::internal(e)),
    }
    let e = actor.entry("patient.update", "patient", &id.to_string(), Some(id), OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.portal_sessions.forget_all();
    Ok(new)
}

/// Clients edit what they read, and reads are masked: a sensitive field sent
/// back exactly as its masked form means "unchanged", not a new value.
pub(super) fn unmasked_form(form: &NewPatient, old: &Patient) -> NewPatient {
    let keep = |sent: &str, stored: &Option<String>, masker: fn(&str) -> String| match stored {
        Some(v) if sent == masker(v) => v.clone(),
        _ => sent.to_string(),
    };
    NewPatient {
        id_number: keep(&form.id_number, &old.id_number, mask::id_number),
        phone: keep(&form.phone, &old.phone, mask::phone),
        emergency_phone: keep(&form.emergency_phone, &old.emergency_phone, mask::phone),
        guardian_id_number: keep(&form.guardian_id_number, &old.guardian_id_number, mask::id_number),
        guardian_phone: keep(&form.guardian_phone, &old.guardian_phone, mask::phone),
        ..form.clone()
    }
}

/// The names of the demographic fields that differ (never their values:
/// the audit log must not become a second copy of the record).
pub(super) fn changed_fields(a: &Patient, b: &Patient) -> Vec<&'static str> {
    let pairs: [(&'static str, bool); 15] = [
        ("name", a.name != b.name),
        ("sex", a.sex != b.sex),
        ("birth_date", a.birth_date != b.birth_date),
        ("ethnicity", a.ethnicity != b.ethnicity),
        ("id_number", a.id_kind != b.id_kind || a.id_number != b.id_number),
        ("nationality", a.nationality != b.nationality),
        ("phone", a.phone != b.phone),
        ("address", a.address != b.address),
        ("region_code", a.region_code != b.region_code),
        ("insurance", a.insurance != b.insurance),
        ("emergency", (&a.emergency_name, &a.emergency_relation) != (&b.emergency_name, &b.emergency_relation)),
        ("emergency_phone", a.emergency_phone != b.emergency_phone),
        ("guardian", (&a.guardian_name, &a.guardian_relation) != (&b.guardian_name, &b.guardian_relation)),
        ("guardian_id_number", a.guardian_id_number != b.guardian_id_number),
        ("guardian_phone", a.guardian_phone != b.guardian_phone),
    ];
    pairs.into_iter().filter(|(_, differs)| *differs).map(|(name, _)| name).collect()
}

/// Inserts generated records in large batches (demo data and benchmarks):
/// the same keys and numbering as `register`, one audit entry per batch.
pub async fn bulk_insert(app: &App, actor: &Actor, regs: &[Registration]) -> Result<u64, DomainError> {
    actor.require(app, Perm::PatientWrite).await?;
    // The generator is not Send, so it lives only in this block, before any await.
    let mut rows: Vec<Patient> = {
        let mut rng = rand::thread_rng();
        regs.iter()
            .map(|r| {
                let mut random = [0u8; 32];
                rng.fill_bytes(&mut random);
                record(actor.org_id, r, Channel::Api, &actor.username, random)
            })
            .collect()
    };
    let mut tx = app.db.begin().await.or_internal()?;
    let last = dayi_store::patient::next_counter(&mut tx, actor.org_id, "hospital_no", rows.len() as i64)
        .await
        .or_internal()?;
    let first = last - rows.len() as i64 + 1;
    for (i, p) in rows.iter_mut().enumerate() {
        p.hospital_no = hospital_no(first + i as i64);
    }
    dayi_store::patient::insert(&mut tx, &rows).await.or_internal()?;
    let e = actor.entry("patient.bulk_create", "patient", "", None, OK, &format!("count={}", rows.len()));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(rows.len() as u64)
}
