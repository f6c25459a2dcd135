//! API tokens for other systems: created with a subset of the owner's roles, resolved through a
//! short cache, revoked, listed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dayi_core::audit::{FAILED, OK};
use dayi_core::security::{Perm, Roles};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::auth::ApiToken;
use uuid::Uuid;

use super::{Origin, actor_of, anon_entry, random_token, sha256_hex};
use crate::{Actor, App, OrInternal, Via, new_id};

pub const TOKEN_PREFIX: &str = "dayi_";

/// Asked before a form is read, so a caller without the duty is refused as
/// such; `create_token` checks it again.
pub async fn require_tokens(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await
}

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
pub(super) type Resolved = (Instant, Actor, i64);

/// An organisation and the SHA-256 of a token's secret.
pub(super) type TokenKey = (Uuid, String);

pub const TOKEN_CACHE_FOR: Duration = Duration::from_secs(10);

/// Entries kept at most; past this the cache is emptied and refilled.
pub(super) const TOKEN_CACHE_MAX: usize = 10_000;

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
