//! The patient index: registration, search, the record page, the audited
//! "show full" action, duplicates and merges.

pub mod identifier;
pub mod intake;
mod merge;
mod register;

pub use merge::{Pair, duplicate_pairs, duplicates_of, merge, merges, require_merge, undo_merge};
pub use register::{bulk_insert, register, register_with, require_write, update, update_with};

use dayi_core::audit::OK;
use dayi_core::identity::{IdKind, Sex};
use dayi_core::patient::{Channel, Insurance, Query, Registration, classify, pinyin};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::patient::{Key, Patient};
use dayi_store::walk::{Step, Walk};
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, OrInternal, new_id};

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
    if q.trim().is_empty() {
        return Ok(vec![]);
    }
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

/// How many patients the organisation has numbered so far (generated data
/// continues from there so repeated loads do not collide).
pub async fn count_seq(app: &App, org_id: Uuid) -> Result<u64, DomainError> {
    Ok(dayi_store::patient::count(&app.db, org_id).await.or_internal()?.max(0) as u64)
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
