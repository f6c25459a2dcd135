//! The patient portal's sign-in: one-time codes by text message, sessions,
//! and the family members an account may act for.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Otp {
    pub org_id: Uuid,
    pub phone: String,
    pub code_hash: String,
    pub sent_at: i64,
    pub expires_at: i64,
    pub attempts: i64,
}

crate::lite_row!(Otp { org_id, phone, code_hash, sent_at, expires_at, attempts });

/// Stores a fresh code for the phone, replacing any earlier one.
pub async fn put_otp(tx: &mut Tx, o: &Otp) -> Result<()> {
    let sql = "INSERT INTO portal_otp (org_id, phone, code_hash, sent_at, expires_at, attempts) \
               VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (org_id, phone) DO UPDATE SET code_hash = excluded.code_hash, \
               sent_at = excluded.sent_at, expires_at = excluded.expires_at, attempts = 0";
    tx.execute(sql, args![o.org_id, &o.phone, &o.code_hash, o.sent_at, o.expires_at]).await?;
    Ok(())
}

pub async fn get_otp(tx: &mut Tx, org_id: Uuid, phone: &str) -> Result<Option<Otp>> {
    let sql = "SELECT org_id, phone, code_hash, sent_at, expires_at, attempts FROM portal_otp \
               WHERE org_id = $1 AND phone = $2";
    tx.optional::<Otp>(sql, args![org_id, phone]).await
}

pub async fn otp_failed(tx: &mut Tx, org_id: Uuid, phone: &str) -> Result<()> {
    let sql = "UPDATE portal_otp SET attempts = attempts + 1 WHERE org_id = $1 AND phone = $2";
    tx.execute(sql, args![org_id, phone]).await?;
    Ok(())
}

/// A code is good once.
pub async fn delete_otp(tx: &mut Tx, org_id: Uuid, phone: &str) -> Result<()> {
    let sql = "DELETE FROM portal_otp WHERE org_id = $1 AND phone = $2";
    tx.execute(sql, args![org_id, phone]).await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Session {
    pub org_id: Uuid,
    pub token_hash: String,
    pub patient_id: Uuid,
    pub csrf: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

crate::lite_row!(Session { org_id, token_hash, patient_id, csrf, created_at, last_seen_at });

pub async fn insert_session(tx: &mut Tx, s: &Session) -> Result<()> {
    let sql = "INSERT INTO portal_session (org_id, token_hash, patient_id, csrf, created_at, last_seen_at) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    tx.execute(sql, args![s.org_id, &s.token_hash, s.patient_id, &s.csrf, s.created_at, s.last_seen_at]).await?;
    Ok(())
}

pub async fn get_session(db: &Db, org_id: Uuid, token_hash: &str) -> Result<Option<Session>> {
    let sql = "SELECT org_id, token_hash, patient_id, csrf, created_at, last_seen_at FROM portal_session \
               WHERE org_id = $1 AND token_hash = $2";
    db.optional::<Session>(sql, args![org_id, token_hash]).await
}

pub async fn touch_session(tx: &mut Tx, org_id: Uuid, token_hash: &str, now: i64) -> Result<()> {
    let sql = "UPDATE portal_session SET last_seen_at = $3 WHERE org_id = $1 AND token_hash = $2";
    tx.execute(sql, args![org_id, token_hash, now]).await?;
    Ok(())
}

pub async fn delete_session(tx: &mut Tx, org_id: Uuid, token_hash: &str) -> Result<()> {
    let sql = "DELETE FROM portal_session WHERE org_id = $1 AND token_hash = $2";
    tx.execute(sql, args![org_id, token_hash]).await?;
    Ok(())
}

pub async fn purge_idle(tx: &mut Tx, cutoff: i64) -> Result<u64> {
    let sql = "DELETE FROM portal_session WHERE last_seen_at < $1";
    tx.execute(sql, args![cutoff]).await
}

/// Links a family member to an account (idempotent).
pub async fn link_family(tx: &mut Tx, org_id: Uuid, owner: Uuid, member: Uuid, relation: &str, now: i64) -> Result<()> {
    let sql = "INSERT INTO portal_family (org_id, owner_id, member_id, relation, created_at) VALUES ($1, $2, $3, $4, $5) \
               ON CONFLICT (org_id, owner_id, member_id) DO UPDATE SET relation = excluded.relation";
    tx.execute(sql, args![org_id, owner, member, relation, now]).await?;
    Ok(())
}

/// (member id, relation code) of the account's linked family.
pub async fn family(db: &Db, org_id: Uuid, owner: Uuid) -> Result<Vec<(Uuid, String)>> {
    let sql = "SELECT member_id, relation FROM portal_family WHERE org_id = $1 AND owner_id = $2 ORDER BY created_at";
    db.all::<(Uuid, String)>(sql, args![org_id, owner]).await
}
