//! Sign-in: passwords (argon2id, hashed off the async threads), lockout,
//! server-side sessions with an idle timeout, TOTP second factor, API tokens.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dayi_core::audit::{DENIED, FAILED, OK};
use dayi_core::security::{Perm, Role, Roles};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::auth::{ApiToken, Session};
use dayi_store::staff::Staff;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::throttle::{self, Subject};
use crate::{Actor, App, OrInternal, Via, new_id};

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

async fn totp_required(app: &App, staff: &Staff) -> Result<bool, DomainError> {
    if staff.totp_required {
        return Ok(true);
    }
    let roles = Roles::parse_list(&staff.roles)?;
    let policy = dayi_store::auth::totp_roles(&app.db, staff.org_id).await.or_internal()?;
    Ok(policy.iter().filter_map(|r| Role::parse(r)).any(|r| roles.contains(r)))
}

/// A resolved browser session.
#[derive(Debug, Clone)]
pub struct SessionCtx {
    pub actor: Actor,
    pub stage: String,
    pub csrf: String,
    token_hash: String,
}

impl SessionCtx {
    pub fn is_full(&self) -> bool {
        self.stage == STAGE_FULL
    }
}

/// The organisation and token of a session cookie (`{org}.{token}`).
pub(crate) fn split_cookie(cookie: &str) -> Option<(Uuid, &str)> {
    let (org, token) = cookie.split_once('.')?;
    Some((Uuid::parse_str(org).ok()?, token))
}

/// Finds the session behind a cookie, enforcing the idle timeout.
pub async fn resolve_session(app: &App, cookie: &str, ip: &str) -> Result<SessionCtx, DomainError> {
    let (org_id, token) = split_cookie(cookie).ok_or_else(|| DomainError::new(ErrorCode::LoginRequired))?;
    let token_hash = sha256_hex(token);
    let s = dayi_store::auth::get_session(&app.db, org_id, &token_hash)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::SessionExpired))?;
    let now = now_micros();
    let idle = i64::from(app.security.session_idle_minutes) * 60_000_000;
    if now - s.last_seen_at > idle {
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::auth::delete_session(&mut tx, org_id, &token_hash).await.or_internal()?;
        let e = dayi_core::audit::Entry {
            actor_id: Some(s.staff_id),
            ..anon_entry(org_id, "", "auth.session_expired", OK, &Origin { ip: ip.into(), ..Default::default() }, "")
        };
        dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
        tx.commit().await.or_internal()?;
        return Err(DomainError::new(ErrorCode::SessionExpired));
    }
    let staff = dayi_store::staff::get(&app.db, org_id, s.staff_id)
        .await
        .or_internal()?
        .filter(|st| st.active)
        .ok_or_else(|| DomainError::new(ErrorCode::SessionExpired))?;
    // Refresh the idle clock at most every 30 s: one write per page view would be wasteful.
    if now - s.last_seen_at > 30_000_000 {
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::auth::touch_session(&mut tx, org_id, &token_hash, now).await.or_internal()?;
        tx.commit().await.or_internal()?;
    }
    Ok(SessionCtx { actor: actor_of(&staff, ip, Via::Session)?, stage: s.stage, csrf: s.csrf, token_hash })
}

/// Deletes sessions idle past the timeout, every ten minutes, so the table
/// holds only live sessions; and sign-in failures a day old.
pub async fn purge_sessions_forever(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let cutoff = now_micros() - i64::from(app.security.session_idle_minutes) * 60_000_000;
        let result = async {
            let mut tx = app.db.begin().await?;
            let n = dayi_store::auth::purge_idle_sessions(&mut tx, cutoff).await?;
            tx.commit().await?;
            Ok::<_, dayi_store::StoreError>(n)
        }
        .await;
        match result {
            Ok(n) if n > 0 => tracing::info!(sessions = n, "idle sessions removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "idle-session purge failed"),
        }
        if let Err(e) = throttle::purge(&app).await {
            tracing::warn!(error = %e, "sign-in failure purge failed");
        }
    }
}

pub async fn logout(app: &App, ctx: &SessionCtx) -> Result<(), DomainError> {
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::auth::delete_session(&mut tx, ctx.actor.org_id, &ctx.token_hash).await.or_internal()?;
    let e = ctx.actor.entry("auth.logout", "session", "", None, OK, "");
    dayi_store::audit::append(&mut tx, ctx.actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

fn totp_for(app: &App, secret_b32: &str, account: &str) -> Result<totp_rs::Totp, DomainError> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).map_err(|_| DomainError::new(ErrorCode::TotpInvalid))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(app.security.totp_issuer.as_str()))
        .build()
        .or_internal()
}

fn code_ok(totp: &totp_rs::Totp, code: &str) -> bool {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    code.len() == 6 && totp.check_current(&code).is_some()
}

/// Completes a sign-in that owes its second factor.
pub async fn verify_totp(app: &App, ctx: &SessionCtx, code: &str, origin: &Origin) -> Result<(), DomainError> {
    let staff = dayi_store::staff::get(&app.db, ctx.actor.org_id, ctx.actor.staff_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::SessionExpired))?;
    let Some(secret) = staff.totp_secret.as_deref() else {
        return Err(DomainError::new(ErrorCode::TotpEnrolRequired));
    };
    if staff.locked_until.is_some_and(|l| l > now_micros()) {
        return Err(DomainError::with(ErrorCode::Locked, [app.security.lockout_minutes]));
    }
    if !code_ok(&totp_for(app, secret, &staff.username)?, code) {
        let e = record_failure(app, &staff, origin, "bad totp").await;
        return Err(if e.code == ErrorCode::Locked { e } else { DomainError::new(ErrorCode::TotpInvalid) });
    }
    finish_second_factor(app, ctx, "auth.totp", None).await
}

async fn finish_second_factor(
    app: &App,
    ctx: &SessionCtx,
    action: &str,
    secret: Option<&str>,
) -> Result<(), DomainError> {
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    if let Some(s) = secret {
        dayi_store::staff::set_totp_secret(&mut tx, ctx.actor.org_id, ctx.actor.staff_id, Some(s), now)
            .await
            .or_internal()?;
    }
    dayi_store::staff::record_success(&mut tx, ctx.actor.org_id, ctx.actor.staff_id, now).await.or_internal()?;
    dayi_store::auth::set_session_stage(&mut tx, ctx.actor.org_id, &ctx.token_hash, STAGE_FULL).await.or_internal()?;
    let e = ctx.actor.entry(action, "staff", &ctx.actor.staff_id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, ctx.actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// A new authenticator secret to show as a QR code during enrolment.
pub struct Enrolment {
    pub secret: String,
    pub url: String,
    pub qr_svg: String,
}

/// A fresh secret, or the one being enrolled again after a wrong code.
pub fn enrolment(app: &App, actor: &Actor, secret: Option<String>) -> Result<Enrolment, DomainError> {
    let secret = secret.unwrap_or_else(|| {
        // 160-bit secret, as RFC 4226 recommends.
        let mut raw = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut raw);
        totp_rs::Secret::new(raw.to_vec().into_boxed_slice()).to_base32()
    });
    let totp = totp_for(app, &secret, &actor.username)?;
    let url = totp.to_url().or_internal()?;
    let qr_svg = qrcode::QrCode::new(url.as_bytes())
        .or_internal()?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(180, 180)
        .build();
    Ok(Enrolment { secret, url, qr_svg })
}

/// Stores the secret once the user proves their app produces its codes.
pub async fn confirm_enrolment(app: &App, ctx: &SessionCtx, secret: &str, code: &str) -> Result<(), DomainError> {
    if !code_ok(&totp_for(app, secret, &ctx.actor.username)?, code) {
        return Err(DomainError::field("code", ErrorCode::TotpInvalid, [""; 0]));
    }
    finish_second_factor(app, ctx, "auth.totp_enrol", Some(secret)).await
}

/// The current code of a secret (for tests and the CLI's self-check).
pub fn current_code(app: &App, secret: &str) -> Result<String, DomainError> {
    Ok(totp_for(app, secret, "x")?.generate_current().to_string())
}

// ---- API tokens --------------------------------------------------------

pub const TOKEN_PREFIX: &str = "dayi_";

/// Issues a token for an account; the plain text is shown once and only its
/// hash kept. `roles` (comma-separated codes, empty for all) narrows what
/// the token may do to some of the account's roles.
pub async fn create_token(
    app: &App,
    actor: &Actor,
    staff_id: Uuid,
    name: &str,
    roles: &str,
) -> Result<(ApiToken, String), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::field("name", ErrorCode::Required, [""; 0]));
    }
    let owner = dayi_store::staff::get(&app.db, actor.org_id, staff_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::StaffUnknown))?;
    // A token for an administrator account would let its holder act as that
    // administrator without a password or second factor.
    let held = Roles::parse_list(&owner.roles)?;
    if held.iter().any(|r| r.is_security_duty()) {
        return Err(DomainError::new(ErrorCode::DutyProtected));
    }
    let scope = match roles.trim() {
        "" => None,
        list => {
            let wanted = Roles::parse_list(list).map_err(|e| DomainError::field("roles", e.code, e.args))?;
            if let Some(r) = wanted.iter().find(|r| !held.contains(*r)) {
                return Err(DomainError::field("roles", ErrorCode::TokenRoleNotHeld, [r.zh()]));
            }
            Some(wanted.to_list())
        }
    };
    let secret = random_token();
    let plain = format!("{TOKEN_PREFIX}{}_{secret}", actor.org_id.simple());
    let t = ApiToken {
        org_id: actor.org_id,
        id: new_id(),
        staff_id: owner.id,
        name: name.chars().take(100).collect(),
        token_hash: sha256_hex(&secret),
        created_by: actor.staff_id,
        created_at: now_micros(),
        last_used_at: None,
        revoked_at: None,
        roles: scope,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::auth::insert_token(&mut tx, &t).await.or_internal()?;
    let e = actor.entry(
        "token.create",
        "api_token",
        &t.id.to_string(),
        None,
        OK,
        &format!("owner={} name={} roles={}", owner.username, t.name, t.roles.as_deref().unwrap_or("*")),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok((t, plain))
}

/// Bearer tokens resolved in the last seconds: (organisation, hash of the
/// secret) → when, the actor (without the caller's address) and when the
/// token was last marked used. A FHIR or API client sends its token with
/// every request; without this each request read the token and its account.
/// Revoking a token or disabling an account forgets every entry, so on this
/// server both take effect at once; another server process sharing the
/// database (PostgreSQL) notices within [`TOKEN_CACHE_FOR`].
#[derive(Clone, Default)]
pub struct TokenCache(Arc<Mutex<HashMap<TokenKey, Resolved>>>);

/// When a token was resolved, its actor, and when it was last marked used (µs).
type Resolved = (Instant, Actor, i64);

/// An organisation and the SHA-256 of a token's secret.
type TokenKey = (Uuid, String);

pub const TOKEN_CACHE_FOR: Duration = Duration::from_secs(10);
/// Entries kept at most; past this the cache is emptied and refilled.
const TOKEN_CACHE_MAX: usize = 10_000;

impl TokenCache {
    /// Forgets every resolved token (after a revocation or an account change).
    pub fn forget_all(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn get(&self, key: &TokenKey) -> Option<(Actor, i64)> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key).filter(|(at, _, _)| at.elapsed() < TOKEN_CACHE_FOR).map(|(_, a, used)| (a.clone(), *used))
    }

    fn put(&self, key: TokenKey, actor: &Actor, used: i64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= TOKEN_CACHE_MAX {
            map.clear();
        }
        map.insert(key, (Instant::now(), actor.clone(), used));
    }
}

/// The actor behind a bearer token, with the roles of the account it belongs
/// to (those of them the token was limited to).
pub async fn resolve_token(app: &App, bearer: &str, ip: &str) -> Result<Actor, DomainError> {
    let invalid = || DomainError::new(ErrorCode::TokenInvalid);
    let rest = bearer.trim().strip_prefix(TOKEN_PREFIX).ok_or_else(invalid)?;
    let (org, secret) = rest.split_once('_').ok_or_else(invalid)?;
    let org_id = Uuid::parse_str(org).map_err(|_| invalid())?;
    let key = (org_id, sha256_hex(secret));
    // `last_used_at` is written at most once a minute, so a cached token
    // still within that minute needs no write either.
    if let Some((mut actor, used)) = app.tokens.get(&key)
        && now_micros() - used <= 60_000_000
    {
        actor.ip = ip.to_string();
        return Ok(actor);
    }
    let t = dayi_store::auth::token_by_hash(&app.db, org_id, &key.1).await.or_internal()?;
    let Some(t) = t.filter(|t| t.revoked_at.is_none()) else {
        app.audit
            .record(anon_entry(
                org_id,
                "",
                "auth.token",
                FAILED,
                &Origin { ip: ip.into(), ..Default::default() },
                "invalid or revoked",
            ))
            .await;
        return Err(invalid());
    };
    let staff = dayi_store::staff::get(&app.db, org_id, t.staff_id)
        .await
        .or_internal()?
        .filter(|s| s.active)
        .ok_or_else(invalid)?;
    let now = now_micros();
    let mut used = t.last_used_at.unwrap_or(0);
    if now - used > 60_000_000 {
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::auth::touch_token(&mut tx, org_id, t.id, now).await.or_internal()?;
        tx.commit().await.or_internal()?;
        used = now;
    }
    let mut actor = actor_of(&staff, ip, Via::Token)?;
    if let Some(scope) = &t.roles {
        // Only roles the account still holds: a role taken from the account
        // is taken from its tokens too.
        let scope = Roles::parse_list(scope)?;
        actor.roles = Roles::new(actor.roles.iter().filter(|r| scope.contains(*r)).collect())?;
    }
    app.tokens.put(key, &actor, used);
    Ok(actor)
}

pub async fn revoke_token(app: &App, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    let n = dayi_store::auth::revoke_token(&mut tx, actor.org_id, id, now_micros()).await.or_internal()?;
    if n == 0 {
        return Err(DomainError::new(ErrorCode::NotFound));
    }
    let e = actor.entry("token.revoke", "api_token", &id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.tokens.forget_all();
    Ok(())
}

pub async fn list_tokens(app: &App, actor: &Actor) -> Result<Vec<ApiToken>, DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    dayi_store::auth::list_tokens(&app.db, actor.org_id).await.or_internal()
}

// ---- security policy ---------------------------------------------------

pub async fn totp_roles(app: &App, actor: &Actor) -> Result<Vec<Role>, DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let v = dayi_store::auth::totp_roles(&app.db, actor.org_id).await.or_internal()?;
    Ok(v.iter().filter_map(|r| Role::parse(r)).collect())
}

/// Sets which roles must sign in with a second factor, all at once.
pub async fn set_totp_roles(app: &App, actor: &Actor, required: &[Role]) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    for role in Role::ALL {
        dayi_store::auth::set_role_totp(&mut tx, actor.org_id, role.code(), required.contains(role), now)
            .await
            .or_internal()?;
    }
    let list: Vec<&str> = required.iter().map(|r| r.code()).collect();
    let e = actor.entry("security.role_totp", "role_policy", "", None, OK, &format!("required={}", list.join(",")));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}
