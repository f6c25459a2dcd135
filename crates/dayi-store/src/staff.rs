//! Staff accounts.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Staff {
    pub org_id: Uuid,
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub dept_id: Option<Uuid>,
    /// Comma-separated role codes.
    pub roles: String,
    pub password_hash: String,
    pub active: bool,
    pub totp_secret: Option<String>,
    /// Set by an administrator for this account alone (`dayi user require-2fa`).
    pub totp_required: bool,
    pub failed_count: i32,
    pub locked_until: Option<i64>,
    pub last_login_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

crate::lite_row!(Staff {
    org_id,
    id,
    username,
    display_name,
    dept_id,
    roles,
    password_hash,
    active,
    totp_secret,
    totp_required,
    failed_count,
    locked_until,
    last_login_at,
    created_at,
    updated_at
});

impl Staff {
    /// A new, active account (fresh UUIDv7) with no failures, lock or second factor yet.
    pub fn new(
        org_id: Uuid,
        username: String,
        display_name: String,
        dept_id: Option<Uuid>,
        roles: String,
        password_hash: String,
        now: i64,
    ) -> Self {
        Self {
            org_id,
            id: Uuid::now_v7(),
            username,
            display_name,
            dept_id,
            roles,
            password_hash,
            active: true,
            totp_secret: None,
            totp_required: false,
            failed_count: 0,
            locked_until: None,
            last_login_at: None,
            created_at: now,
            updated_at: now,
        }
    }
}

macro_rules! cols {
    () => {
        "org_id, id, username, display_name, dept_id, roles, password_hash, active, totp_secret, \
                    totp_required, failed_count, locked_until, last_login_at, created_at, updated_at"
    };
}

pub async fn insert(tx: &mut Tx, s: &Staff) -> Result<()> {
    let sql = concat!(
        "INSERT INTO staff (",
        cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    tx.execute(
        sql,
        args![
            s.org_id,
            s.id,
            &s.username,
            &s.display_name,
            s.dept_id,
            &s.roles,
            &s.password_hash,
            s.active,
            &s.totp_secret,
            s.totp_required,
            s.failed_count,
            s.locked_until,
            s.last_login_at,
            s.created_at,
            s.updated_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Staff>> {
    let sql = concat!("SELECT ", cols!(), " FROM staff WHERE org_id = $1 AND id = $2");
    db.optional::<Staff>(sql, args![org_id, id]).await
}

pub async fn by_username(db: &Db, org_id: Uuid, username: &str) -> Result<Option<Staff>> {
    let sql = concat!("SELECT ", cols!(), " FROM staff WHERE org_id = $1 AND username = $2");
    db.optional::<Staff>(sql, args![org_id, username]).await
}

pub async fn list(db: &Db, org_id: Uuid) -> Result<Vec<Staff>> {
    let sql = concat!("SELECT ", cols!(), " FROM staff WHERE org_id = $1 ORDER BY username");
    db.all::<Staff>(sql, args![org_id]).await
}

/// Records a failed sign-in; locks the account when the count reaches `max`.
/// Returns the new count and the lock, if one was set.
pub async fn record_failure(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    max: i32,
    lock_until: i64,
    now: i64,
) -> Result<(i32, Option<i64>)> {
    let sql = "UPDATE staff SET failed_count = failed_count + 1, \
               locked_until = CASE WHEN failed_count + 1 >= $3 THEN $4 ELSE locked_until END, updated_at = $5 \
               WHERE org_id = $1 AND id = $2 RETURNING failed_count, locked_until";
    tx.one::<(i32, Option<i64>)>(sql, args![org_id, id, max, lock_until, now]).await
}

pub async fn record_success(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<()> {
    let sql = "UPDATE staff SET failed_count = 0, locked_until = NULL, last_login_at = $3, updated_at = $3 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, now]).await?;
    Ok(())
}

/// Clears the lock after its time ran out, so the count starts again.
pub async fn unlock(tx: &mut Tx, org_id: Uuid, id: Uuid, now: i64) -> Result<()> {
    let sql = "UPDATE staff SET failed_count = 0, locked_until = NULL, updated_at = $3 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, now]).await?;
    Ok(())
}

pub async fn set_password(tx: &mut Tx, org_id: Uuid, id: Uuid, hash: &str, now: i64) -> Result<u64> {
    let sql = "UPDATE staff SET password_hash = $3, failed_count = 0, locked_until = NULL, updated_at = $4 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, hash, now]).await
}

pub async fn set_totp_secret(tx: &mut Tx, org_id: Uuid, id: Uuid, secret: Option<&str>, now: i64) -> Result<()> {
    let sql = "UPDATE staff SET totp_secret = $3, updated_at = $4 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, secret, now]).await?;
    Ok(())
}

pub async fn set_totp_required(tx: &mut Tx, org_id: Uuid, id: Uuid, required: bool, now: i64) -> Result<u64> {
    let sql = "UPDATE staff SET totp_required = $3, updated_at = $4 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, required, now]).await
}

pub async fn set_active(tx: &mut Tx, org_id: Uuid, id: Uuid, active: bool, now: i64) -> Result<u64> {
    let sql = "UPDATE staff SET active = $3, updated_at = $4 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, active, now]).await
}

pub async fn set_roles(tx: &mut Tx, org_id: Uuid, id: Uuid, roles: &str, now: i64) -> Result<u64> {
    let sql = "UPDATE staff SET roles = $3, updated_at = $4 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, roles, now]).await
}
