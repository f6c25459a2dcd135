//! What the hospital told patients: notifications shown in the portal and
//! the log of every text message handed to the SMS gateway.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Notification {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    /// `clinic_stopped`, `booking`, …
    pub kind: String,
    pub booking_id: Option<Uuid>,
    pub body: String,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

crate::lite_row!(Notification { org_id, id, patient_id, kind, booking_id, body, created_at, read_at });

pub async fn notify(tx: &mut Tx, n: &Notification) -> Result<()> {
    let sql = "INSERT INTO notification (org_id, id, patient_id, kind, booking_id, body, created_at, read_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    tx.execute(sql, args![n.org_id, n.id, n.patient_id, &n.kind, n.booking_id, &n.body, n.created_at, n.read_at])
        .await?;
    Ok(())
}

pub async fn notifications(db: &Db, org_id: Uuid, patient_id: Uuid, limit: i64) -> Result<Vec<Notification>> {
    let sql = "SELECT org_id, id, patient_id, kind, booking_id, body, created_at, read_at FROM notification \
               WHERE org_id = $1 AND patient_id = $2 ORDER BY created_at DESC LIMIT $3";
    db.all::<Notification>(sql, args![org_id, patient_id, limit]).await
}

/// One text message and what became of it.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Message {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Option<Uuid>,
    pub phone: String,
    pub template: String,
    pub body: String,
    pub gateway: String,
    /// `queued`, `sent`, `failed`.
    pub status: String,
    pub reference: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

crate::lite_row!(Message {
    org_id,
    id,
    patient_id,
    phone,
    template,
    body,
    gateway,
    status,
    reference,
    error,
    created_at,
    sent_at
});

macro_rules! cols {
    () => {
        "org_id, id, patient_id, phone, template, body, gateway, status, reference, error, created_at, sent_at"
    };
}

pub async fn insert_message(tx: &mut Tx, m: &Message) -> Result<()> {
    let sql = concat!("INSERT INTO message (", cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
    tx.execute(
        sql,
        args![
            m.org_id,
            m.id,
            m.patient_id,
            &m.phone,
            &m.template,
            &m.body,
            &m.gateway,
            &m.status,
            &m.reference,
            &m.error,
            m.created_at,
            m.sent_at
        ],
    )
    .await?;
    Ok(())
}

/// Records the gateway's answer.
pub async fn settle_message(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    status: &str,
    reference: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    let sql = "UPDATE message SET status = $3, reference = $4, error = $5, sent_at = $6 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, status, reference, error, now]).await?;
    Ok(())
}

/// Newest first; `phone` narrows to one recipient.
pub async fn messages(db: &Db, org_id: Uuid, phone: Option<&str>, limit: i64) -> Result<Vec<Message>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM message WHERE org_id = $1 AND ($2 IS NULL OR phone = $2) ORDER BY created_at DESC LIMIT $3"
    );
    db.all::<Message>(sql, args![org_id, phone, limit]).await
}
