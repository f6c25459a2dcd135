//! The patient portal's accounts: sign-in by phone and a one-time code sent
//! through the SMS gateway, or by ID number and card number; sessions; and
//! the family members an account may book for (本人、同手机号家人、绑定的家庭成员).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dayi_core::audit::{Entry, FAILED, OK};
use dayi_core::identity::IdKind;
use dayi_core::patient::Relation;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::patient::{Key, Patient};
use rand::Rng;
use serde::Serialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth::{random_token, sha256_hex};
use crate::throttle::{self, Subject};
use crate::{Actor, App, OrInternal, Via, patient, policy, sms};

/// A portal request: who is signed in, as an actor, with the form token.
#[derive(Debug, Clone)]
pub struct PortalCtx {
    pub actor: Actor,
    pub patient: Patient,
    pub csrf: String,
    token_hash: String,
}

/// Resolved sessions are remembered briefly: the 08:00 rush asks for the
/// same sessions thousands of times a second. Sign-out removes the entry.
#[derive(Clone, Default)]
pub struct SessionCache(Arc<Mutex<HashMap<String, (Instant, PortalCtx)>>>);

const CACHE_FOR: Duration = Duration::from_secs(10);
/// A session's last-seen time is written at most this often (µs): the idle
/// timeout is counted in minutes, and a write per request would queue the
/// rush behind SQLite's single writer.
const TOUCH_EVERY: i64 = 60_000_000;

impl SessionCache {
    /// Forgets every resolved session, so the next request reads the patient
    /// again (after a merge changes who a session's patient is).
    pub fn forget_all(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

fn entry(
    org_id: Uuid,
    who: &str,
    action: &str,
    patient_id: Option<Uuid>,
    outcome: &str,
    ip: &str,
    detail: &str,
) -> Entry {
    Entry {
        org_id,
        seq: 0,
        at: now_micros(),
        actor_id: patient_id,
        actor_name: who.into(),
        action: action.into(),
        entity: "portal_session".into(),
        entity_id: String::new(),
        patient_id,
        ip: ip.into(),
        outcome: outcome.into(),
        detail: detail.into(),
    }
}

fn mobile(input: &str) -> Result<String, DomainError> {
    dayi_core::patient::parse_phone(input)
        .filter(|p| p.len() == 11 && p.starts_with('1'))
        .ok_or_else(|| DomainError::field("phone", ErrorCode::PhoneInvalid, [""; 0]))
}

fn otp_hash(org_id: Uuid, phone: &str, code: &str) -> String {
    sha256_hex(&format!("{org_id}:{phone}:{code}"))
}

/// Sends a six-digit sign-in code to the phone. The answer is the same
/// whether or not a patient has that phone, so the form reveals nothing.
/// Sends a sign-in code; returns how many minutes it stays valid.
pub async fn request_code(app: &App, org_id: Uuid, phone: &str, ip: &str) -> Result<i64, DomainError> {
    let phone = mobile(phone)?;
    throttle::check(app, org_id, &Subject::Address(ip.to_string())).await?;
    let now = now_micros();
    let minutes = policy::int(app, org_id, "portal.otp_minutes").await?;
    let resend = policy::int(app, org_id, "portal.otp_resend_seconds").await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if let Some(o) = dayi_store::portal::get_otp(&mut tx, org_id, &phone).await.or_internal()? {
        let wait = resend - (now - o.sent_at) / 1_000_000;
        if wait > 0 {
            tx.rollback().await.or_internal()?;
            return Err(DomainError::with(ErrorCode::OtpTooSoon, [wait.to_string()]));
        }
    }
    let code = format!("{:06}", rand::thread_rng().gen_range(0..1_000_000));
    let o = dayi_store::portal::Otp {
        org_id,
        phone: phone.clone(),
        code_hash: otp_hash(org_id, &phone, &code),
        sent_at: now,
        expires_at: now + minutes * 60_000_000,
        attempts: 0,
    };
    dayi_store::portal::put_otp(&mut tx, &o).await.or_internal()?;
    let e = entry(org_id, &mask::phone(&phone), "portal.code", None, OK, ip, "");
    dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let org = dayi_store::tenancy::get_org(&app.db, org_id).await.or_internal()?.map(|o| o.name).unwrap_or_default();
    let text = format!("【{org}】您的登录验证码为 {code}，{minutes} 分钟内有效。如非本人操作，请忽略本短信。");
    let params = vec![("code", code), ("minutes", minutes.to_string())];
    sms::send(app, org_id, None, sms::Sms { phone, template: "otp", params, text }).await?;
    Ok(minutes)
}

/// The account holder among the records sharing a phone: the earliest adult
/// record, else the earliest.
fn holder(mut found: Vec<Patient>) -> Option<Patient> {
    found.sort_by_key(|p| (p.guardian_name.is_some(), p.created_at));
    found.into_iter().next()
}

/// Signs in with the phone and the code sent to it; returns the cookie
/// value. A code takes `portal.otp_max_attempts` tries; every failure also
/// counts against the address.
pub async fn login_code(app: &App, org_id: Uuid, phone: &str, code: &str, ip: &str) -> Result<String, DomainError> {
    let phone = mobile(phone)?;
    let address = Subject::Address(ip.to_string());
    throttle::check(app, org_id, &address).await?;
    let max = policy::int(app, org_id, "portal.otp_max_attempts").await?;
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    let o = dayi_store::portal::get_otp(&mut tx, org_id, &phone).await.or_internal()?;
    let live = o.filter(|o| o.expires_at > now && o.attempts < max);
    let good = live
        .as_ref()
        .is_some_and(|o| bool::from(o.code_hash.as_bytes().ct_eq(otp_hash(org_id, &phone, code.trim()).as_bytes())));
    if !good {
        if live.is_some() {
            dayi_store::portal::otp_failed(&mut tx, org_id, &phone).await.or_internal()?;
        }
        let lock = throttle::fail(app, &mut tx, org_id, &address).await?;
        let e = entry(org_id, &mask::phone(&phone), "portal.login", None, FAILED, ip, "wrong code");
        dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
        tx.commit().await.or_internal()?;
        return Err(match (lock, live) {
            (throttle::Left::LockedFor(m), _) => DomainError::with(ErrorCode::TooManyAttempts, [m]),
            (_, None) => DomainError::field("code", ErrorCode::OtpExpired, [""; 0]),
            (_, Some(o)) => DomainError::field("code", ErrorCode::OtpInvalid, [(max - o.attempts - 1).max(0)]),
        });
    }
    dayi_store::portal::delete_otp(&mut tx, org_id, &phone).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let found = dayi_store::patient::search(&app.db, org_id, Key::Phone, &phone, 20).await.or_internal()?;
    let Some(p) = holder(found) else {
        return Err(DomainError::new(ErrorCode::PortalNoPatient));
    };
    open(app, &p, ip, "phone", None).await
}

/// Signs in with a resident ID number and the hospital card number. Failures
/// are counted per ID number and per address (`throttle`); an ID number not
/// on file is counted and answered exactly like a wrong card number.
pub async fn login_card(
    app: &App,
    org_id: Uuid,
    id_number: &str,
    card_no: &str,
    ip: &str,
) -> Result<String, DomainError> {
    let number = dayi_core::identity::normalize_number(id_number).to_ascii_uppercase();
    let identity = Subject::Identity(number.clone());
    let address = Subject::Address(ip.to_string());
    throttle::check(app, org_id, &address).await?;
    throttle::check(app, org_id, &identity).await?;
    let p =
        dayi_store::patient::by_document(&app.db, org_id, IdKind::ResidentId.code(), &number).await.or_internal()?;
    let card_no = card_no.trim().as_bytes();
    let Some(p) = p.filter(|p| bool::from(p.hospital_no.as_bytes().ct_eq(card_no))) else {
        let mut tx = app.db.begin().await.or_internal()?;
        let left = throttle::fail(app, &mut tx, org_id, &identity).await?;
        throttle::fail(app, &mut tx, org_id, &address).await?;
        let e = entry(org_id, &mask::id_number(&number), "portal.login", None, FAILED, ip, "id/card mismatch");
        dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
        tx.commit().await.or_internal()?;
        let err = throttle::refusal(&identity, left, ErrorCode::PortalLoginFailed);
        return Err(match left {
            throttle::Left::Attempts(n) => err.and_field("card_no", ErrorCode::PortalLoginFailed, [n]),
            throttle::Left::LockedFor(_) => err,
        });
    };
    open(app, &p, ip, "card", Some(&identity)).await
}

/// Opens a session; a successful sign-in forgets the identity's failures.
async fn open(app: &App, p: &Patient, ip: &str, how: &str, identity: Option<&Subject>) -> Result<String, DomainError> {
    let token = random_token();
    let now = now_micros();
    let s = dayi_store::portal::Session {
        org_id: p.org_id,
        token_hash: sha256_hex(&token),
        patient_id: p.id,
        csrf: random_token(),
        created_at: now,
        last_seen_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::portal::insert_session(&mut tx, &s).await.or_internal()?;
    if let Some(identity) = identity {
        throttle::clear(&mut tx, p.org_id, identity).await?;
    }
    let e = entry(p.org_id, &format!("portal:{}", p.hospital_no), "portal.login", Some(p.id), OK, ip, how);
    dayi_store::audit::append(&mut tx, p.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(format!("{}.{token}", p.org_id))
}

/// The signed-in patient behind a portal cookie, with the idle timeout.
pub async fn resolve(app: &App, cookie: &str, ip: &str) -> Result<PortalCtx, DomainError> {
    let (org_id, token) =
        crate::auth::split_cookie(cookie).ok_or_else(|| DomainError::new(ErrorCode::LoginRequired))?;
    let token_hash = sha256_hex(token);
    if let Some((at, ctx)) = app.portal_sessions.0.lock().unwrap_or_else(|e| e.into_inner()).get(&token_hash)
        && at.elapsed() < CACHE_FOR
    {
        let mut ctx = ctx.clone();
        ctx.actor.ip = ip.into();
        return Ok(ctx);
    }
    let s = dayi_store::portal::get_session(&app.db, org_id, &token_hash)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::SessionExpired))?;
    let now = now_micros();
    let idle = i64::from(app.security.session_idle_minutes) * 60_000_000;
    if now - s.last_seen_at > idle {
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::portal::delete_session(&mut tx, org_id, &token_hash).await.or_internal()?;
        tx.commit().await.or_internal()?;
        return Err(DomainError::new(ErrorCode::SessionExpired));
    }
    if now - s.last_seen_at > TOUCH_EVERY {
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::portal::touch_session(&mut tx, org_id, &token_hash, now).await.or_internal()?;
        tx.commit().await.or_internal()?;
    }
    let mut p = patient::load(app, org_id, s.patient_id).await?;
    for _ in 0..8 {
        let Some(next) = p.merged_into else { break };
        p = patient::load(app, org_id, next).await?;
    }
    let ctx =
        PortalCtx { actor: Actor::portal(org_id, p.id, &p.hospital_no, ip), patient: p, csrf: s.csrf, token_hash };
    app.portal_sessions
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(ctx.token_hash.clone(), (Instant::now(), ctx.clone()));
    Ok(ctx)
}

pub async fn logout(app: &App, ctx: &PortalCtx) -> Result<(), DomainError> {
    app.portal_sessions.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&ctx.token_hash);
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::portal::delete_session(&mut tx, ctx.actor.org_id, &ctx.token_hash).await.or_internal()?;
    let e = ctx.actor.entry("portal.logout", "portal_session", "", Some(ctx.patient.id), OK, "");
    dayi_store::audit::append(&mut tx, ctx.actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(())
}

/// Someone the account may act for.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub patient: patient::PatientView,
    pub relation: &'static str,
    pub is_self: bool,
}

async fn member_ids(app: &App, actor: &Actor) -> Result<Vec<(Uuid, &'static str)>, DomainError> {
    let me = patient::load(app, actor.org_id, actor.staff_id).await?;
    let mut out = vec![(me.id, "本人")];
    if let Some(phone) = &me.phone {
        for p in dayi_store::patient::search(&app.db, actor.org_id, Key::Phone, phone, 20).await.or_internal()? {
            if p.id != me.id {
                out.push((p.id, "同手机号家人"));
            }
        }
    }
    for (id, rel) in dayi_store::portal::family(&app.db, actor.org_id, me.id).await.or_internal()? {
        if !out.iter().any(|(m, _)| *m == id) {
            out.push((id, Relation::parse(&rel).map(|r| r.zh()).unwrap_or("家庭成员")));
        }
    }
    Ok(out)
}

/// Refuses unless the portal account may act for this patient.
pub async fn require_family(app: &App, actor: &Actor, patient_id: Uuid) -> Result<(), DomainError> {
    if actor.via != Via::Portal {
        return Err(DomainError::new(ErrorCode::PortalNotFamily));
    }
    if patient_id == actor.staff_id || member_ids(app, actor).await?.iter().any(|(id, _)| *id == patient_id) {
        return Ok(());
    }
    app.audit
        .record(actor.entry("portal.denied", "patient", &patient_id.to_string(), Some(patient_id), FAILED, ""))
        .await;
    Err(DomainError::new(ErrorCode::PortalNotFamily))
}

/// Bookings of the account holder and every family member, soonest first.
pub async fn bookings(app: &App, ctx: &PortalCtx) -> Result<Vec<crate::booking::Ticketed>, DomainError> {
    let mut rows = vec![];
    for m in members(app, ctx).await? {
        rows.extend(crate::booking::of_patient(app, &ctx.actor, m.patient.id).await?);
    }
    rows.sort_by_key(|b| (b.day.clone(), b.slot_start));
    crate::booking::with_sessions(app, ctx.actor.org_id, &rows).await
}

/// The account holder and everyone they may book for (masked).
pub async fn members(app: &App, ctx: &PortalCtx) -> Result<Vec<Member>, DomainError> {
    let mut out = vec![];
    for (id, relation) in member_ids(app, &ctx.actor).await? {
        let p = patient::load(app, ctx.actor.org_id, id).await?;
        if p.merged_into.is_none() {
            out.push(Member { patient: patient::PatientView::new(&p, false), relation, is_self: id == ctx.patient.id });
        }
    }
    Ok(out)
}

/// Links a family member by their name and resident ID number, both of
/// which must match an existing record (建档 at the counter first).
pub async fn link(app: &App, ctx: &PortalCtx, name: &str, id_number: &str, relation: &str) -> Result<(), DomainError> {
    let rel = Relation::parse(relation.trim())
        .ok_or_else(|| DomainError::field("relation", ErrorCode::ChoiceInvalid, [relation.trim()]))?;
    let number = dayi_core::identity::normalize_number(id_number).to_ascii_uppercase();
    let org_id = ctx.actor.org_id;
    let p =
        dayi_store::patient::by_document(&app.db, org_id, IdKind::ResidentId.code(), &number).await.or_internal()?;
    let Some(p) = p.filter(|p| p.name == name.trim()) else {
        app.audit.record(ctx.actor.entry("portal.link", "patient", "", None, FAILED, "no match")).await;
        return Err(DomainError::new(ErrorCode::CardUnknown).and_field("id_number", ErrorCode::CardUnknown, [""; 0]));
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::portal::link_family(&mut tx, org_id, ctx.patient.id, p.id, rel.code(), now_micros())
        .await
        .or_internal()?;
    let e = ctx.actor.entry("portal.link", "patient", &p.id.to_string(), Some(p.id), OK, rel.code());
    dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(())
}

/// Notifications for the account holder and family, newest first.
pub async fn notifications(app: &App, ctx: &PortalCtx) -> Result<Vec<dayi_store::message::Notification>, DomainError> {
    let mut out = vec![];
    for (id, _) in member_ids(app, &ctx.actor).await? {
        out.extend(dayi_store::message::notifications(&app.db, ctx.actor.org_id, id, 20).await.or_internal()?);
    }
    out.sort_by_key(|n| std::cmp::Reverse(n.created_at));
    Ok(out)
}
