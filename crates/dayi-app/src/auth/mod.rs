//! Sign-in: passwords (argon2id, hashed off the async threads), lockout,
//! server-side sessions with an idle timeout, TOTP second factor, API tokens.

mod session;
mod token;
mod totp;

pub use session::{SessionCtx, logout, purge_sessions_forever, resolve_session};
pub use token::{
    TOKEN_CACHE_FOR, TOKEN_PREFIX, TokenCache, create_token, list_tokens, require_tokens, resolve_token, revoke_token,
};
pub use totp::{Enrolment, confirm_enrolment, current_code, enrolment, set_totp_roles, totp_roles, verify_totp};

pub(crate) use session::split_cookie;
use totp::totp_required;

use crate::throttle::{self, Subject};
use crate::{Actor, App, OrInternal, Via};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dayi_core::audit::{DENIED, FAILED, OK};
use dayi_core::security::Roles;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::auth::Session;
use dayi_store::staff::Staff;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Session stages: signed in fully, or still owing the second factor.
pub const STAGE_FULL: &str = "full";

pub const STAGE_TOTP: &str = "totp";

pub const STAGE_ENROL: &str = "enrol";

pub async fn hash_password(pw: &str) -> Result<String, DomainError> {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || Argon2::default().hash_password(pw.as_bytes()).map(|h| h.to_string()))
        .await
        .or_internal()?
        .or_internal()
}

async fn verify_password(hash: String, pw: &str) -> bool {
    let pw = pw.to_string();
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => Argon2::default().verify_password(pw.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

/// A hash of nothing, verified against for unknown users so a wrong user name
/// takes as long as a wrong password.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Where a request comes from, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
}

fn anon_entry(
    org_id: Uuid,
    who: &str,
    action: &str,
    outcome: &str,
    origin: &Origin,
    detail: &str,
) -> dayi_core::audit::Entry {
    dayi_core::audit::Entry {
        org_id,
        seq: 0,
        at: now_micros(),
        actor_id: None,
        actor_name: who.into(),
        action: action.into(),
        entity: "session".into(),
        entity_id: String::new(),
        patient_id: None,
        ip: origin.ip.clone(),
        outcome: outcome.into(),
        detail: detail.into(),
    }
}

fn actor_of(s: &Staff, ip: &str, via: Via) -> Result<Actor, DomainError> {
    Ok(Actor {
        org_id: s.org_id,
        staff_id: s.id,
        username: s.username.clone(),
        name: s.display_name.clone(),
        roles: Roles::parse_list(&s.roles)?,
        ip: ip.to_string(),
        via,
    })
}

/// A started session: the cookie value to set and the stage it is in.
#[derive(Debug, Clone)]
pub struct Login {
    pub cookie: String,
    pub stage: String,
}

/// Checks user name and password, applies the lockout rule and opens a session.
pub async fn login(
    app: &App,
    org_code: &str,
    username: &str,
    password: &str,
    origin: &Origin,
) -> Result<Login, DomainError> {
    let org = dayi_store::tenancy::org_by_code(&app.db, org_code.trim())
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::field("org", ErrorCode::OrgUnknown, [""; 0]))?;
    let username = username.trim().to_lowercase();
    let now = now_micros();
    let address = Subject::Address(origin.ip.clone());
    if let Err(e) = throttle::check(app, org.org_id, &address).await {
        app.audit.record(anon_entry(org.org_id, &username, "auth.login", DENIED, origin, "address locked")).await;
        return Err(e);
    }
    let Some(staff) = dayi_store::staff::by_username(&app.db, org.org_id, &username).await.or_internal()? else {
        return Err(unknown_user(app, org.org_id, &username, password, origin).await);
    };
    if let Some(until) = staff.locked_until {
        if until > now {
            let minutes = throttle::minutes_left(until, now).to_string();
            app.audit.record(anon_entry(org.org_id, &username, "auth.login", DENIED, origin, "locked")).await;
            return Err(DomainError::with(ErrorCode::Locked, [minutes]));
        }
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::staff::unlock(&mut tx, org.org_id, staff.id, now).await.or_internal()?;
        tx.commit().await.or_internal()?;
    }
    if !verify_password(staff.password_hash.clone(), password).await {
        return Err(record_failure(app, &staff, origin, "bad password").await);
    }
    if !staff.active {
        app.audit.record(anon_entry(org.org_id, &username, "auth.login", DENIED, origin, "disabled")).await;
        return Err(DomainError::new(ErrorCode::AccountDisabled));
    }
    let stage = if staff.totp_secret.is_some() {
        STAGE_TOTP
    } else if totp_required(app, &staff).await? {
        STAGE_ENROL
    } else {
        STAGE_FULL
    };
    let token = random_token();
    let session = Session {
        org_id: org.org_id,
        token_hash: sha256_hex(&token),
        staff_id: staff.id,
        stage: stage.into(),
        csrf: random_token(),
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.chars().take(200).collect(),
        created_at: now,
        last_seen_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::staff::record_success(&mut tx, org.org_id, staff.id, now).await.or_internal()?;
    dayi_store::auth::insert_session(&mut tx, &session).await.or_internal()?;
    let mut e = anon_entry(org.org_id, &username, "auth.login", OK, origin, &format!("stage={stage}"));
    e.actor_id = Some(staff.id);
    dayi_store::audit::append(&mut tx, org.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(Login { cookie: format!("{}.{}", org.org_id.simple(), token), stage: stage.into() })
}

/// A user name not on file: the same password check, count, lock and answer
/// as a real account's, so the answers do not reveal which names exist.
async fn unknown_user(app: &App, org_id: Uuid, username: &str, password: &str, origin: &Origin) -> DomainError {
    let user = Subject::User(username.to_string());
    if let Err(e) = throttle::check(app, org_id, &user).await {
        app.audit.record(anon_entry(org_id, username, "auth.login", DENIED, origin, "locked")).await;
        return e;
    }
    let dummy = DUMMY_HASH
        .get_or_init(|| Argon2::default().hash_password(b"dayi-dummy").map(|h| h.to_string()).unwrap_or_default());
    verify_password(dummy.clone(), password).await;
    let result = async {
        let mut tx = app.db.begin().await.or_internal()?;
        let left = throttle::fail(app, &mut tx, org_id, &user).await?;
        throttle::fail(app, &mut tx, org_id, &Subject::Address(origin.ip.clone())).await?;
        let mut entries = vec![anon_entry(org_id, username, "auth.login", FAILED, origin, "unknown user")];
        if matches!(left, throttle::Left::LockedFor(_)) {
            let minutes = format!("minutes={}", app.security.lockout_minutes);
            entries.push(anon_entry(org_id, username, "auth.lockout", OK, origin, &minutes));
        }
        dayi_store::audit::append(&mut tx, org_id, entries).await.or_internal()?;
        tx.commit().await.or_internal()?;
        Ok::<_, DomainError>(throttle::refusal(&user, left, ErrorCode::BadCredentials))
    }
    .await;
    result.unwrap_or_else(|e| e)
}

/// Counts a failed password or code and locks the account at the limit.
async fn record_failure(app: &App, staff: &Staff, origin: &Origin, why: &str) -> DomainError {
    let cfg = &app.security;
    let now = now_micros();
    let until = now + i64::from(cfg.lockout_minutes) * 60_000_000;
    let result = async {
        let mut tx = app.db.begin().await.or_internal()?;
        let (count, locked) = dayi_store::staff::record_failure(
            &mut tx,
            staff.org_id,
            staff.id,
            cfg.max_failed_logins as i32,
            until,
            now,
        )
        .await
        .or_internal()?;
        throttle::fail(app, &mut tx, staff.org_id, &Subject::Address(origin.ip.clone())).await?;
        let mut e = anon_entry(
            staff.org_id,
            &staff.username,
            "auth.login",
            FAILED,
            origin,
            &format!("{why}; failures={count}"),
        );
        e.actor_id = Some(staff.id);
        let mut entries = vec![e];
        if locked.is_some_and(|l| l > now) {
            let mut lock = anon_entry(
                staff.org_id,
                &staff.username,
                "auth.lockout",
                OK,
                origin,
                &format!("minutes={}", cfg.lockout_minutes),
            );
            lock.actor_id = Some(staff.id);
            entries.push(lock);
        }
        dayi_store::audit::append(&mut tx, staff.org_id, entries).await.or_internal()?;
        tx.commit().await.or_internal()?;
        Ok::<_, DomainError>((count, locked))
    }
    .await;
    match result {
        Ok((_, Some(l))) if l > now => DomainError::with(ErrorCode::Locked, [cfg.lockout_minutes]),
        Ok((count, _)) => DomainError::with(ErrorCode::BadCredentials, [(cfg.max_failed_logins as i32 - count).max(0)]),
        Err(e) => e,
    }
}
