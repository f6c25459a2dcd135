//! Text messages to patients (clinic-stop notices, sign-in codes) through a
//! gateway. Every message is first written to the `message` table, then
//! handed to the gateway, and its outcome recorded there.
//!
//! `MessageLog` is the built-in gateway: it delivers into that table (the
//! /messages page shows it), for demos and hospitals without an SMS
//! contract. `aliyun::AliyunSms` speaks Alibaba Cloud's SendSms API.

pub mod aliyun;

use futures::future::BoxFuture;

/// One text message, by template, with the rendered text kept for the log.
#[derive(Debug, Clone)]
pub struct Sms {
    /// 11-digit mobile number.
    pub phone: String,
    /// Our template name (`otp`, `clinic_stopped`, …); gateways map it to theirs.
    pub template: &'static str,
    /// Template parameters, in order, by name.
    pub params: Vec<(&'static str, String)>,
    /// The text as the patient reads it.
    pub text: String,
}

/// What the gateway answered for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The gateway's id for the message (for delivery reports).
    pub reference: String,
}

pub trait SmsGateway: Send + Sync {
    /// Short name stored with each message (`log`, `aliyun`).
    fn name(&self) -> &'static str;
    /// Sends one message; `Err` carries the gateway's reason, shown in the log.
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<Receipt, String>>;
}

/// The built-in gateway: the message log is the delivery.
pub struct MessageLog;

impl SmsGateway for MessageLog {
    fn name(&self) -> &'static str {
        "log"
    }
    fn send<'a>(&'a self, _sms: &'a Sms) -> BoxFuture<'a, Result<Receipt, String>> {
        Box::pin(async { Ok(Receipt { reference: String::new() }) })
    }
}

/// Writes the message to the log, hands it to the gateway and records the
/// outcome. A gateway failure is recorded, not raised: the caller's action
/// (a clinic stop, say) has happened and the log shows who was not reached.
pub async fn send(
    app: &crate::App,
    org_id: uuid::Uuid,
    patient_id: Option<uuid::Uuid>,
    sms: Sms,
) -> Result<dayi_store::message::Message, dayi_core::DomainError> {
    use crate::OrInternal;
    let now = dayi_core::timefmt::now_micros();
    let mut m = dayi_store::message::Message {
        org_id,
        id: crate::new_id(),
        patient_id,
        phone: sms.phone.clone(),
        template: sms.template.into(),
        body: sms.text.clone(),
        gateway: app.sms.name().into(),
        status: "queued".into(),
        reference: None,
        error: None,
        created_at: now,
        sent_at: None,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::message::insert_message(&mut tx, &m).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let outcome = app.sms.send(&sms).await;
    let now = dayi_core::timefmt::now_micros();
    match outcome {
        Ok(r) => {
            m.status = "sent".into();
            m.reference = (!r.reference.is_empty()).then_some(r.reference);
        }
        Err(e) => {
            tracing::warn!(gateway = app.sms.name(), error = %e, "text message not sent");
            m.status = "failed".into();
            m.error = Some(e);
        }
    }
    m.sent_at = Some(now);
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::message::settle_message(
        &mut tx,
        org_id,
        m.id,
        &m.status,
        m.reference.as_deref(),
        m.error.as_deref(),
        now,
    )
    .await
    .or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(m)
}
