//! The electronic health card at the counter and the portal (static and
//! dynamic QR), and the one resolver every station uses (一码通用), which
//! writes the card-use log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dayi_core::audit::{FAILED, OK};
use dayi_core::card::{CareStep, Code, CodeKind, dynamic_qr, static_qr, verify_dynamic};
use dayi_core::identity::IdKind;
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::card::CardUse;
use dayi_store::patient::Patient;
use rand::RngCore;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Actor, App, OrInternal, new_id, patient, policy};

/// Merges may chain (A into B, later B into C); follow at most this many.
const MAX_FORWARDS: usize = 8;

/// The organisation's signing keys, read once from the database.
#[derive(Clone, Default)]
pub struct KeyCache(Arc<Mutex<HashMap<Uuid, Vec<u8>>>>);

/// Decodes an insurance voucher (医保电子凭证) into an ID document. The
/// insurance capability provides it; until then the resolver refuses vouchers.
pub trait VoucherDecoder: Send + Sync {
    fn decode(&self, token: &str) -> Result<(IdKind, String), DomainError>;
}

async fn key(app: &App, org_id: Uuid) -> Result<Vec<u8>, DomainError> {
    if let Some(k) = app.card_keys.0.lock().unwrap_or_else(|e| e.into_inner()).get(&org_id) {
        return Ok(k.clone());
    }
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let mut tx = app.db.begin().await.or_internal()?;
    let k = dayi_store::patient::secret(&mut tx, org_id, "health_card", &fresh, now_micros()).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.card_keys.0.lock().unwrap_or_else(|e| e.into_inner()).insert(org_id, k.clone());
    Ok(k)
}

/// A QR code to show: its text and an SVG picture.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Qr {
    pub text: String,
    pub svg: String,
    /// For dynamic codes: expiry (µs) and the configured validity.
    pub expires_at: Option<i64>,
    pub minutes: Option<i64>,
}

/// Renders a QR code as SVG; medium error correction survives a worn sticker.
pub fn svg(text: &str) -> Result<String, DomainError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).or_internal()?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build())
}

/// The static code for the counter, the portal and the printed card.
pub async fn static_code(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Qr, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let p = patient::load(app, actor.org_id, patient_id).await?;
    app.audit.record(actor.entry("card.static", "patient", &p.id.to_string(), Some(p.id), OK, "")).await;
    let text = static_qr(&p.card_id);
    Ok(Qr { svg: svg(&text)?, text, expires_at: None, minutes: None })
}

/// A fresh dynamic code, valid for the configured minutes.
pub async fn dynamic_code(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Qr, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let p = patient::load(app, actor.org_id, patient_id).await?;
    let minutes = policy::int(app, actor.org_id, policy::DYNAMIC_QR_MINUTES).await?;
    let expires = now_micros() + minutes * 60_000_000;
    let text = dynamic_qr(&key(app, actor.org_id).await?, &p.card_id, expires);
    app.audit.record(actor.entry("card.dynamic", "patient", &p.id.to_string(), Some(p.id), OK, "")).await;
    Ok(Qr { svg: svg(&text)?, text, expires_at: Some(expires), minutes: Some(minutes) })
}

/// What a station sends when a code is scanned or typed.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Presented {
    pub code: String,
    #[schema(value_type = dayi_core::card::CareStep)]
    pub step: String,
    pub station: String,
    /// The station scanned an insurance voucher.
    pub voucher: bool,
    /// Staff act for the patient (elderly without a phone, printed card).
    pub on_behalf: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Resolution {
    pub patient: patient::PatientView,
    pub kind: CodeKind,
    pub kind_name: &'static str,
    pub step: CareStep,
    pub step_name: &'static str,
    /// True when the code led to a merged record and on to its survivor.
    pub forwarded: bool,
}

async fn find(app: &App, org_id: Uuid, code: &Code) -> Result<Patient, DomainError> {
    let db = &app.db;
    let unknown = || DomainError::new(ErrorCode::CardUnknown);
    let found = match code {
        Code::StaticQr { card_id } => dayi_store::patient::by_card(db, org_id, card_id).await,
        Code::DynamicQr { card_id, expires, signature } => {
            let minutes = policy::int(app, org_id, policy::DYNAMIC_QR_MINUTES).await?;
            let k = key(app, org_id).await?;
            verify_dynamic(&k, card_id, expires, signature, OffsetDateTime::now_utc(), minutes)?;
            dayi_store::patient::by_card(db, org_id, card_id).await
        }
        Code::ResidentId(n) => dayi_store::patient::by_document(db, org_id, IdKind::ResidentId.code(), n).await,
        Code::HospitalNo(n) => dayi_store::patient::by_hospital_no(db, org_id, n).await,
        Code::Voucher(token) => {
            let decoder = app.voucher.as_ref().ok_or_else(|| DomainError::new(ErrorCode::VoucherUnavailable))?;
            let (kind, number) = decoder.decode(token)?;
            dayi_store::patient::by_document(db, org_id, kind.code(), &number).await
        }
    };
    found.or_internal()?.ok_or_else(unknown)
}

fn shown(code: &Code) -> String {
    match code {
        Code::StaticQr { card_id } | Code::DynamicQr { card_id, .. } => format!("{}…", &card_id[..8]),
        Code::ResidentId(n) => mask::id_number(n),
        Code::HospitalNo(n) => n.clone(),
        Code::Voucher(_) => "voucher".into(),
    }
}

/// The station page (a scanner at any step of care) is for staff who serve
/// patients; each scan is checked again by `resolve`.
pub async fn require_station(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::PatientRead).await
}

/// One resolver for every station. A refused code is audited (a forged code
/// is a security event); an accepted one lands in the card-use log.
pub async fn resolve(app: &App, actor: &Actor, input: &Presented) -> Result<Resolution, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let step = CareStep::parse(input.step.trim())
        .ok_or_else(|| DomainError::field("step", ErrorCode::ChoiceInvalid, [input.step.trim()]))?;
    let station: String = input.station.trim().chars().take(40).collect();
    let station = if station.is_empty() { step.zh().to_string() } else { station };
    let code = match Code::parse(&input.code, input.voucher, today_cst()) {
        Ok(c) => c,
        Err(e) => return Err(refused(app, actor, step, "?", e).await),
    };
    let mut p = match find(app, actor.org_id, &code).await {
        Ok(p) => p,
        Err(e) => return Err(refused(app, actor, step, &shown(&code), e).await),
    };
    let mut forwarded = false;
    for _ in 0..MAX_FORWARDS {
        let Some(next) = p.merged_into else { break };
        p = patient::load(app, actor.org_id, next).await?;
        forwarded = true;
    }
    let u = CardUse {
        org_id: actor.org_id,
        id: new_id(),
        at: now_micros(),
        patient_id: p.id,
        code_kind: code.kind().code().into(),
        step: step.code().into(),
        station: station.clone(),
        staff_id: (!actor.staff_id.is_nil()).then_some(actor.staff_id),
        on_behalf: input.on_behalf,
    };
    let detail = format!(
        "{} {} step={} station={station}{}",
        code.kind().code(),
        shown(&code),
        step.code(),
        if input.on_behalf { " 代办" } else { "" }
    );
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::card::log_use(&mut tx, &u).await.or_internal()?;
    let e = actor.entry("card.resolve", "patient", &p.id.to_string(), Some(p.id), OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(Resolution {
        patient: patient::PatientView::new(&p, false),
        kind: code.kind(),
        kind_name: code.kind().zh(),
        step,
        step_name: step.zh(),
        forwarded,
    })
}

async fn refused(app: &App, actor: &Actor, step: CareStep, shown: &str, e: DomainError) -> DomainError {
    let detail = format!("{} {shown} step={}", e.code.code(), step.code());
    app.audit.record(actor.entry("card.resolve", "card", "", None, FAILED, &detail)).await;
    if !e.fields.is_empty() {
        return e;
    }
    let (code, args) = (e.code, e.args.clone());
    e.and_field("code", code, args)
}

/// The card-use log of a patient, newest first.
pub async fn uses(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<CardUse>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    crate::patient::known(app, actor, patient_id).await?;
    dayi_store::card::uses(&app.db, actor.org_id, patient_id, 50).await.or_internal()
}
