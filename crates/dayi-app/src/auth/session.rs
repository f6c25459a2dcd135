//! Signed-in sessions: resolving the cookie, purging expired sessions, signing out.

use dayi_core::audit::OK;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use uuid::Uuid;

use super::{Origin, STAGE_FULL, actor_of, anon_entry, sha256_hex};
use crate::throttle::{self};
use crate::{Actor, App, OrInternal, Via};

/// A resolved browser session.
#[derive(Debug, Clone)]
pub struct SessionCtx {
    pub actor: Actor,
    pub stage: String,
    pub csrf: String,
    pub(super) token_hash: String,
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
