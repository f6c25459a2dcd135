//! Server-side sessions, API tokens and per-role sign-in policy.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

/// A signed-in browser. `stage` is `full`, or `totp` / `enrol` while the
/// second factor is still owed.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Session {
    pub org_id: Uuid,
    pub token_hash: String,
    pub staff_id: Uuid,
    pub stage: String,
    pub csrf: String,
    pub ip: String,
    pub user_agent: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

crate::lite_row!(Session { org_id, token_hash, staff_id, stage, csrf, ip, user_agent, created_at, last_seen_at });

macro_rules! session_cols {
    () => {
        "org_id, token_hash, staff_id, stage, csrf, ip, user_agent, created_at, last_seen_at"
    };
}

pub async fn insert_session(tx: &mut Tx, s: &Session) -> Result<()> {
    let sql = concat!("INSERT INTO session (", session_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    tx.execute(
        sql,
        args![
            s.org_id,
            &s.token_hash,
            s.staff_id,
            &s.stage,
            &s.csrf,
            &s.ip,
            &s.user_agent,
            s.created_at,
            s.last_seen_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_session(db: &Db, org_id: Uuid, token_hash: &str) -> Result<Option<Session>> {
    let sql = concat!("SELECT ", session_cols!(), " FROM session WHERE org_id = $1 AND token_hash = $2");
    db.optional::<Session>(sql, args![org_id, token_hash]).await
}

pub async fn touch_session(tx: &mut Tx, org_id: Uuid, token_hash: &str, now: i64) -> Result<()> {
    let sql = "UPDATE session SET last_seen_at = $3 WHERE org_id = $1 AND token_hash = $2";
    tx.execute(sql, args![org_id, token_hash, now]).await?;
    Ok(())
}

pub async fn set_session_stage(tx: &mut Tx, org_id: Uuid, token_hash: &str, stage: &str) -> Result<()> {
    let sql = "UPDATE session SET stage = $3 WHERE org_id = $1 AND token_hash = $2";
    tx.execute(sql, args![org_id, token_hash, stage]).await?;
    Ok(())
}

pub async fn delete_session(tx: &mut Tx, org_id: Uuid, token_hash: &str) -> Result<()> {
    let sql = "DELETE FROM session WHERE org_id = $1 AND token_hash = $2";
    tx.execute(sql, args![org_id, token_hash]).await?;
    Ok(())
}

/// Ends every session of an account (password reset, deactivation).
pub async fn delete_staff_sessions(tx: &mut Tx, org_id: Uuid, staff_id: Uuid) -> Result<u64> {
    let sql = "DELETE FROM session WHERE org_id = $1 AND staff_id = $2";
    tx.execute(sql, args![org_id, staff_id]).await
}

/// Removes sessions idle since before `cutoff`.
pub async fn purge_idle_sessions(tx: &mut Tx, cutoff: i64) -> Result<u64> {
    let sql = "DELETE FROM session WHERE last_seen_at < $1";
    tx.execute(sql, args![cutoff]).await
}

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct ApiToken {
    pub org_id: Uuid,
    pub id: Uuid,
    pub staff_id: Uuid,
    pub name: String,
    pub token_hash: String,
    pub created_by: Uuid,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The roles the token acts with (comma-separated codes), a subset of
    /// the account's; `None`: all of the account's roles.
    pub roles: Option<String>,
}

crate::lite_row!(ApiToken {
    org_id,
    id,
    staff_id,
    name,
    token_hash,
    created_by,
    created_at,
    last_used_at,
    revoked_at,
    roles
});

macro_rules! token_cols {
    () => {
        "org_id, id, staff_id, name, token_hash, created_by, created_at, last_used_at, revoked_at, roles"
    };
}

pub async fn insert_token(tx: &mut Tx, t: &ApiToken) -> Result<()> {
    let sql = concat!("INSERT INTO api_token (", token_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
    tx.execute(
        sql,
        args![
            t.org_id,
            t.id,
            t.staff_id,
            &t.name,
            &t.token_hash,
            t.created_by,
            t.created_at,
            t.last_used_at,
            t.revoked_at,
            &t.roles
        ],
    )
    .await?;
    Ok(())
}

pub async fn token_by_hash(db: &Db, org_id: Uuid, token_hash: &str) -> Result<Option<ApiToken>> {
    let sql = concat!("SELECT ", token_cols!(), " FROM api_token WHERE org_id = $1 AND token_hash = $2");
    db.optional::<ApiToken>(sql, args![org_id, token_hash]).await
}

pub async fn list_tokens(db: &Db, org_id: Uuid) -> Result<Vec<ApiToken>> {
    let sql = concat!("SELECT ", token_cols!(), " FROM api_token WHERE org_id = $1 ORDER BY created_at DESC");
    db.all::<ApiToken>(sql, args![org_id]).await
}

pub async fn revoke_token(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<u64> {
    let sql = "UPDATE api_token SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL";
    tx.execute(sql, args![org_id, id, now]).await
}

pub async fn touch_token(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<()> {
    let sql = "UPDATE api_token SET last_used_at = $3 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, now]).await?;
    Ok(())
}

/// Roles whose members must sign in with a second factor.
pub async fn totp_roles(db: &Db, org_id: Uuid) -> Result<Vec<String>> {
    let sql = "SELECT role FROM role_policy WHERE org_id = $1 AND require_totp = $2 ORDER BY role";
    db.scalars::<String>(sql, args![org_id, true]).await
}

pub async fn set_role_totp(tx: &mut Tx, org_id: Uuid, role: &str, require: bool, now: i64) -> Result<()> {
    let sql = "INSERT INTO role_policy (org_id, role, require_totp, updated_at) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (org_id, role) DO UPDATE SET require_totp = excluded.require_totp, updated_at = excluded.updated_at";
    tx.execute(sql, args![org_id, role, require, now]).await?;
    Ok(())
}

/// Failed sign-ins of a subject without a counter of its own (an unknown
/// user name, a portal identity, a client address).
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Failures {
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: Option<i64>,
}

crate::lite_row!(Failures { failures, window_start, locked_until });

pub async fn failures(db: &Db, org_id: Uuid, subject: &str) -> Result<Option<Failures>> {
    let sql = "SELECT failures, window_start, locked_until FROM login_failure WHERE org_id = $1 AND subject = $2";
    db.optional::<Failures>(sql, args![org_id, subject]).await
}

/// Counts one failure and locks the subject until `lock_until` when the count
/// reaches `max`. The count starts again when its window began before
/// `window_from` or an earlier lock has run out. Returns the count and lock.
pub async fn fail(
    tx: &mut Tx,
    org_id: Uuid,
    subject: &str,
    now: i64,
    window_from: i64,
    max: i64,
    lock_until: i64,
) -> Result<(i64, Option<i64>)> {
    macro_rules! fresh {
        () => {
            "(login_failure.window_start < $4 OR login_failure.locked_until <= $3)"
        };
    }
    let sql = concat!(
        "INSERT INTO login_failure (org_id, subject, failures, window_start, locked_until) \
         VALUES ($1, $2, 1, $3, CASE WHEN 1 >= $5 THEN $6 END) \
         ON CONFLICT (org_id, subject) DO UPDATE SET \
         failures = CASE WHEN ",
        fresh!(),
        " THEN 1 ELSE login_failure.failures + 1 END, \
         window_start = CASE WHEN ",
        fresh!(),
        " THEN $3 ELSE login_failure.window_start END, \
         locked_until = CASE WHEN (CASE WHEN ",
        fresh!(),
        " THEN 1 ELSE login_failure.failures + 1 END) >= $5 THEN $6 END \
         RETURNING failures, locked_until"
    );
    tx.one::<(i64, Option<i64>)>(sql, args![org_id, subject, now, window_from, max, lock_until]).await
}

/// Forgets a subject's failures (after a successful sign-in).
pub async fn clear_failures(tx: &mut Tx, org_id: Uuid, subject: &str) -> Result<()> {
    let sql = "DELETE FROM login_failure WHERE org_id = $1 AND subject = $2";
    tx.execute(sql, args![org_id, subject]).await?;
    Ok(())
}

/// Removes address and identity counts neither locked nor counted since
/// `cutoff`. User-name counts stay, as an account's own counter does.
pub async fn purge_failures(tx: &mut Tx, cutoff: i64) -> Result<u64> {
    let sql = "DELETE FROM login_failure WHERE subject NOT LIKE 'user:%' AND window_start < $1 \
               AND (locked_until IS NULL OR locked_until < $1)";
    tx.execute(sql, args![cutoff]).await
}
