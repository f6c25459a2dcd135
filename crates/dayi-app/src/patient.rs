//! The patient index: registration, search, the record page, the audited
//! "show full" action, duplicates and merges.

use dayi_core::audit::OK;
use dayi_core::identity::{IdKind, Sex};
use dayi_core::patient::{Channel, Insurance, NewPatient, Query, Registration, classify, pinyin, validate};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::identifier::Identifier;
use dayi_store::patient::{Key, Merge, Patient};
use dayi_store::walk::{Step, Walk};
use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

use crate::identifier::{self, ForeignId};
use crate::{Actor, App, OrInternal, new_id, policy};

/// How many results one search returns.
pub const SEARCH_LIMIT: i64 = 20;

/// A patient as shown on staff screens: ID number and phones masked. The
/// full values need `Perm::PatientUnmask` and an audited request (`unmask`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PatientView {
    pub id: Uuid,
    pub hospital_no: String,
    pub card_id: String,
    pub name: String,
    pub sex: String,
    pub sex_name: &'static str,
    pub birth_date: String,
    pub age: i32,
    pub ethnicity: Option<String>,
    pub ethnicity_name: Option<&'static str>,
    pub id_kind: Option<String>,
    pub id_kind_name: Option<&'static str>,
    pub id_number: Option<String>,
    pub nationality: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub insurance: String,
    pub insurance_name: &'static str,
    pub emergency_name: Option<String>,
    pub emergency_relation: Option<&'static str>,
    pub emergency_phone: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_relation: Option<&'static str>,
    pub guardian_id_number: Option<String>,
    pub guardian_phone: Option<String>,
    pub channel: String,
    pub merged_into: Option<Uuid>,
    pub created_by: String,
    pub created_at: String,
    /// The record's version: its `updated_at` (µs), which every change moves.
    pub version: i64,
    /// True when the sensitive fields are shown in full.
    pub unmasked: bool,
}

fn relation_name(code: &Option<String>) -> Option<&'static str> {
    code.as_deref().and_then(dayi_core::patient::Relation::parse).map(|r| r.zh())
}

impl PatientView {
    pub fn new(p: &Patient, unmasked: bool) -> Self {
        let m =
            |v: &Option<String>, f: fn(&str) -> String| v.as_deref().map(|s| if unmasked { s.into() } else { f(s) });
        let birth = time::Date::parse(&p.birth_date, time::macros::format_description!("[year]-[month]-[day]")).ok();
        Self {
            id: p.id,
            hospital_no: p.hospital_no.clone(),
            card_id: p.card_id.clone(),
            name: p.name.clone(),
            sex: p.sex.clone(),
            sex_name: Sex::parse(&p.sex).map(|s| s.zh()).unwrap_or(""),
            birth_date: p.birth_date.clone(),
            age: birth.map(|b| dayi_core::patient::age_on(b, today_cst())).unwrap_or(0),
            ethnicity: p.ethnicity.clone(),
            ethnicity_name: p.ethnicity.as_deref().and_then(dayi_core::identity::ethnicity_name),
            id_kind: p.id_kind.clone(),
            id_kind_name: p.id_kind.as_deref().and_then(IdKind::parse).map(|k| k.zh()),
            id_number: m(&p.id_number, mask::id_number),
            nationality: p.nationality.clone(),
            phone: m(&p.phone, mask::phone),
            address: p.address.clone(),
            region_code: p.region_code.clone(),
            insurance: p.insurance.clone(),
            insurance_name: Insurance::parse(&p.insurance).map(|i| i.zh()).unwrap_or(""),
            emergency_name: p.emergency_name.clone(),
            emergency_relation: relation_name(&p.emergency_relation),
            emergency_phone: m(&p.emergency_phone, mask::phone),
            guardian_name: p.guardian_name.clone(),
            guardian_relation: relation_name(&p.guardian_relation),
            guardian_id_number: m(&p.guardian_id_number, mask::id_number),
            guardian_phone: m(&p.guardian_phone, mask::phone),
            channel: p.channel.clone(),
            merged_into: p.merged_into,
            created_by: p.created_by.clone(),
            created_at: dayi_core::timefmt::show(p.created_at),
            version: p.updated_at,
            unmasked,
        }
    }
}

/// A record ready to insert; its hospital number is set in the transaction.
pub(crate) fn record(org_id: Uuid, r: &Registration, channel: Channel, by: &str, card_random: [u8; 32]) -> Patient {
    let keys = pinyin::keys(&r.name);
    let now = now_micros();
    let doc = r.document.as_ref();
    let (emergency_name, emergency_relation, emergency_phone) = match &r.emergency {
        Some((n, rel, p)) => (Some(n.clone()), rel.map(|r| r.code().to_string()), Some(p.clone())),
        None => (None, None, None),
    };
    let g = r.guardian.as_ref();
    Patient {
        org_id,
        id: new_id(),
        hospital_no: String::new(),
        card_id: dayi_core::card::new_card_id(card_random),
        name: r.name.clone(),
        name_pinyin: keys.full,
        name_initials: keys.initials,
        sex: r.sex.code().into(),
        birth_date: r.birth_date.to_string(),
        ethnicity: r.ethnicity.clone(),
        id_kind: doc.map(|d| d.kind().code().into()),
        id_number: doc.map(|d| d.number().into()),
        id_rev: doc.map(|d| d.number().chars().rev().collect()),
        nationality: doc.and_then(|d| d.nationality()).map(String::from),
        phone: r.phone.clone(),
        address: r.address.clone(),
        region_code: r.region_code.clone(),
        insurance: r.insurance.code().into(),
        emergency_name,
        emergency_relation,
        emergency_phone,
        guardian_name: g.map(|g| g.name.clone()),
        guardian_relation: g.map(|g| g.relation.code().into()),
        guardian_id_number: g.and_then(|g| g.id_number.clone()),
        guardian_phone: g.map(|g| g.phone.clone()),
        channel: channel.code().into(),
        merged_into: None,
        created_by: by.into(),
        created_at: now,
        updated_at: now,
    }
}

/// The hospital card number for the n-th patient of an organisation, with
/// its random digits drawn here.
pub fn hospital_no(n: i64) -> String {
    dayi_core::card::hospital_no(n, rand::random())
}

/// The organisation's n-th registered patient (by the sequence part of the
/// card number), for samples in benchmarks.
pub async fn by_sequence(app: &App, org_id: Uuid, n: i64) -> Result<Option<Patient>, DomainError> {
    let (from, to) = (dayi_core::card::hospital_no(n, 0), dayi_core::card::hospital_no(n + 1, 0));
    dayi_store::patient::by_hospital_no_range(&app.db, org_id, &from, &to).await.or_internal()
}

fn duplicate(existing: &Patient) -> DomainError {
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
fn unmasked_form(form: &NewPatient, old: &Patient) -> NewPatient {
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
fn changed_fields(a: &Patient, b: &Patient) -> Vec<&'static str> {
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

/// Fetches an active or merged record, without audit (callers audit).
pub(crate) async fn load(app: &App, org_id: Uuid, id: Uuid) -> Result<Patient, DomainError> {
    dayi_store::patient::get(&app.db, org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::PatientUnknown))
}

/// Refuses a patient id the caller's organisation does not hold, with the
/// same 404 for every route that names a patient (never an empty list).
pub(crate) async fn known(app: &App, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
    load(app, actor.org_id, id).await.map(|_| ())
}

/// Opens a record (masked). Every opening is audited.
pub async fn view(app: &App, actor: &Actor, id: Uuid) -> Result<PatientView, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let p = load(app, actor.org_id, id).await?;
    app.audit.record(actor.entry("patient.read", "patient", &id.to_string(), Some(id), OK, "")).await;
    Ok(PatientView::new(&p, false))
}

/// "Show full": the ID number and phones unmasked, for roles allowed to,
/// each time audited with the reason given.
pub async fn unmask(app: &App, actor: &Actor, id: Uuid, reason: &str) -> Result<PatientView, DomainError> {
    actor.require(app, Perm::PatientUnmask).await?;
    let p = load(app, actor.org_id, id).await?;
    let reason: String = reason.trim().chars().take(100).collect();
    app.audit.record(actor.entry("patient.unmask", "patient", &id.to_string(), Some(id), OK, &reason)).await;
    Ok(PatientView::new(&p, true))
}

/// The query's shape decides the index (see `dayi_core::patient::classify`).
pub async fn search(app: &App, actor: &Actor, q: &str) -> Result<Vec<PatientView>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let query = classify(q);
    let db = &app.db;
    let org = actor.org_id;
    let find = |key, v: String| async move { dayi_store::patient::search(db, org, key, &v, SEARCH_LIMIT).await };
    let (found, shown) = match query {
        Query::TooShort => return Err(DomainError::new(ErrorCode::SearchTooShort)),
        Query::Name(n) => (find(Key::Name, n.clone()).await, n),
        Query::Pinyin(p) => {
            let mut v = find(Key::Initials, p.clone()).await.or_internal()?;
            if (v.len() as i64) < SEARCH_LIMIT {
                for more in find(Key::Pinyin, p.clone()).await.or_internal()? {
                    if (v.len() as i64) < SEARCH_LIMIT && !v.iter().any(|x| x.id == more.id) {
                        v.push(more);
                    }
                }
            }
            (Ok(v), p)
        }
        Query::Phone(p) => (find(Key::Phone, p.clone()).await, mask::phone(&p)),
        Query::HospitalNo(n) => (find(Key::HospitalNo, n.clone()).await, n),
        Query::CardId(c) => (find(Key::CardId, c.clone()).await, format!("card {}…", &c[..8])),
        Query::IdNumber(n) => (find(Key::IdNumber, n.clone()).await, mask::id_number(&n)),
        Query::IdTail(t) => (find(Key::IdRev, t.chars().rev().collect()).await, format!("…{t}")),
    };
    let found = found.or_internal()?;
    let detail = format!("q={shown} hits={}", found.len());
    app.audit.record(actor.entry("patient.search", "patient", "", None, OK, &detail)).await;
    Ok(found.iter().map(|p| PatientView::new(p, false)).collect())
}

/// Records that may be the same person as this one.
pub async fn duplicates_of(app: &App, actor: &Actor, id: Uuid) -> Result<Vec<PatientView>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let p = load(app, actor.org_id, id).await?;
    let found = dayi_store::patient::duplicates_of(&app.db, &p, SEARCH_LIMIT).await.or_internal()?;
    app.audit
        .record(actor.entry(
            "patient.duplicates",
            "patient",
            &id.to_string(),
            Some(id),
            OK,
            &format!("hits={}", found.len()),
        ))
        .await;
    Ok(found.iter().map(|p| PatientView::new(p, false)).collect())
}

/// A pair of records that look like one person.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub a: PatientView,
    pub b: PatientView,
    /// `pinyin_birth` and/or `phone`.
    pub reasons: Vec<String>,
}

/// Suspected duplicates across the organisation (the service centre's worklist).
pub async fn duplicate_pairs(app: &App, actor: &Actor) -> Result<Vec<Pair>, DomainError> {
    actor.require(app, Perm::PatientMerge).await?;
    let pairs = dayi_store::patient::duplicate_pairs(&app.db, actor.org_id, 50).await.or_internal()?;
    let mut out: Vec<Pair> = vec![];
    for (a, b, reason) in pairs {
        if let Some(seen) = out.iter_mut().find(|p| p.a.id == a && p.b.id == b) {
            seen.reasons.push(reason);
            continue;
        }
        let (Some(pa), Some(pb)) = (
            dayi_store::patient::get(&app.db, actor.org_id, a).await.or_internal()?,
            dayi_store::patient::get(&app.db, actor.org_id, b).await.or_internal()?,
        ) else {
            continue;
        };
        out.push(Pair { a: PatientView::new(&pa, false), b: PatientView::new(&pb, false), reasons: vec![reason] });
    }
    app.audit.record(actor.entry("patient.duplicates", "patient", "", None, OK, &format!("pairs={}", out.len()))).await;
    Ok(out)
}

/// Merges `merged` into `survivor`: every reference moves, the merged record
/// forwards to the survivor, and the merge can be undone.
pub async fn merge(app: &App, actor: &Actor, survivor: Uuid, merged: Uuid, reason: &str) -> Result<Merge, DomainError> {
    actor.require(app, Perm::PatientMerge).await?;
    if survivor == merged {
        return Err(DomainError::new(ErrorCode::MergeSelf));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::field("reason", ErrorCode::Required, [""; 0]));
    }
    for id in [survivor, merged] {
        if load(app, actor.org_id, id).await?.merged_into.is_some() {
            return Err(DomainError::new(ErrorCode::MergeAlreadyMerged));
        }
    }
    let m = Merge {
        org_id: actor.org_id,
        id: new_id(),
        survivor_id: survivor,
        merged_id: merged,
        reason: reason.chars().take(200).collect(),
        merged_by: actor.username.clone(),
        merged_at: now_micros(),
        undone_by: None,
        undone_at: None,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    let Some(moved) = dayi_store::patient::merge(&mut tx, &m).await.or_internal()? else {
        return Err(DomainError::new(ErrorCode::MergeAlreadyMerged));
    };
    let detail = format!("merged={merged} survivor={survivor} moved={moved} reason={}", m.reason);
    let entries = vec![
        actor.entry("patient.merge", "patient_merge", &m.id.to_string(), Some(survivor), OK, &detail),
        actor.entry("patient.merge", "patient_merge", &m.id.to_string(), Some(merged), OK, &detail),
    ];
    dayi_store::audit::append(&mut tx, actor.org_id, entries).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.portal_sessions.forget_all();
    Ok(m)
}

pub async fn undo_merge(app: &App, actor: &Actor, merge_id: Uuid) -> Result<Merge, DomainError> {
    actor.require(app, Perm::PatientMerge).await?;
    let m = dayi_store::patient::get_merge(&app.db, actor.org_id, merge_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::MergeUnknown))?;
    if m.undone_at.is_some() {
        return Err(DomainError::new(ErrorCode::MergeUndone));
    }
    let mut tx = app.db.begin().await.or_internal()?;
    match dayi_store::patient::undo_merge(&mut tx, &m, &actor.username, now_micros()).await {
        Ok(true) => {}
        Ok(false) => return Err(DomainError::new(ErrorCode::MergeAlreadyMerged)),
        Err(e) if dayi_store::is_unique_violation(&e) => return Err(DomainError::new(ErrorCode::MergeUndoConflict)),
        Err(e) => return Err(crate::internal(e)),
    }
    let detail = format!("merged={} survivor={}", m.merged_id, m.survivor_id);
    let entries = vec![
        actor.entry("patient.merge_undo", "patient_merge", &m.id.to_string(), Some(m.survivor_id), OK, &detail),
        actor.entry("patient.merge_undo", "patient_merge", &m.id.to_string(), Some(m.merged_id), OK, &detail),
    ];
    dayi_store::audit::append(&mut tx, actor.org_id, entries).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.portal_sessions.forget_all();
    dayi_store::patient::get_merge(&app.db, actor.org_id, merge_id)
        .await
        .or_internal()?
        .ok_or_else(|| crate::internal("merge vanished"))
}

/// Merges touching a patient, or the organisation's latest when `patient` is None.
pub async fn merges(app: &App, actor: &Actor, patient: Option<Uuid>) -> Result<Vec<Merge>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    match patient {
        Some(p) => dayi_store::patient::merges_of(&app.db, actor.org_id, p).await,
        None => dayi_store::patient::recent_merges(&app.db, actor.org_id, 50).await,
    }
    .or_internal()
}

/// How many patients the organisation has numbered so far (generated data
/// continues from there so repeated loads do not collide).
pub async fn count_seq(app: &App, org_id: Uuid) -> Result<u64, DomainError> {
    Ok(dayi_store::patient::count(&app.db, org_id).await.or_internal()?.max(0) as u64)
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

/// Active records in id order, a page at a time (a FHIR search with no
/// parameter). Each record shown is audited as read.
pub async fn walk(app: &App, actor: &Actor, step: &Step) -> Result<Walk<PatientView>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let page = dayi_store::patient::walk(&app.db, actor.org_id, step).await.or_internal()?;
    let entries =
        page.rows.iter().map(|p| actor.entry("patient.list", "patient", &p.id.to_string(), Some(p.id), OK, ""));
    app.audit.record_all(entries.collect()).await;
    let views = page.rows.iter().map(|p| PatientView::new(p, false)).collect();
    Ok(page.with_rows(views))
}
