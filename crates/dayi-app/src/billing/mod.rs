//! Billing (收费): what a patient owes, payment at the counter (cash, card)
//! and online (the payment seam in `pay`), refunds of unexecuted items,
//! receipts, and each account's daily closing (日结).
//!
//! Every payment carries a request key (Idempotency-Key). The same key
//! again answers the payment already made; a charge is taken by a
//! conditional update, so two payments can never settle it twice; a
//! provider's callback moves a payment only from an unpaid state, so a
//! repeated callback changes nothing.

mod closing;
mod counter;
mod family;
mod online;
mod refund;

pub use closing::{ClosingView, close_day, closing, closings, open_totals};
pub use counter::{PayForm, pay};
pub use family::{MemberBills, family_bills};
pub use online::{ONLINE, checkout, checkout_settle, close, local, notify, pay_online, refresh};
pub use refund::{RefundForm, refund};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dayi_core::audit::OK;
use dayi_core::billing::settlement::Payer;
use dayi_core::billing::{self as b, Method, PaymentStatus};
use dayi_core::catalog::yuan;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::billing::{Payment, Refund};
use dayi_store::booking::Charge;
use serde::Serialize;
use uuid::Uuid;

use crate::pay::Provider;
use crate::{Actor, App, OrInternal, Via, portal};
use counter::{answer_or_replay, due_of, insert_payment, key_of, parse_ids, pay_no, replay, store_parts};
use online::{pay_error, provider};

/// Online payment providers: the local one unless WeChat Pay is configured.
#[derive(Clone)]
pub struct Pay {
    /// WeChat Pay, when `[pay.wechat]` is configured.
    pub wechat: Option<Arc<dyn Provider>>,
    client: reqwest::Client,
    keys: Arc<Mutex<HashMap<Uuid, Vec<u8>>>>,
}

impl Default for Pay {
    fn default() -> Self {
        let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap_or_default();
        Pay { wechat: None, client, keys: Default::default() }
    }
}

async fn payment_of(app: &App, org_id: Uuid, id: Uuid) -> Result<Payment, DomainError> {
    dayi_store::billing::payment(&app.db, org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::BillingPaymentUnknown))
}

/// A payment the actor may see: staff need the billing permission before
/// anything is looked up; a patient only their own or their family's.
async fn billed_payment(app: &App, actor: &Actor, id: Uuid) -> Result<Payment, DomainError> {
    if actor.via != Via::Portal {
        actor.require(app, Perm::Billing).await?;
    }
    let p = payment_of(app, actor.org_id, id).await?;
    may_bill(app, actor, p.patient_id).await?;
    Ok(p)
}

/// Staff with the billing permission, or the patient (or family) on the portal.
async fn may_bill(app: &App, actor: &Actor, patient_id: Uuid) -> Result<(), DomainError> {
    match actor.via {
        Via::Portal => portal::require_family(app, actor, patient_id).await,
        _ => {
            actor.require(app, Perm::Billing).await?;
            crate::patient::known(app, actor, patient_id).await
        }
    }
}

/// The counter's view: with a patient, their bills due and their payments.
#[derive(Debug, Default, Serialize)]
pub struct Counter {
    pub due: Option<Due>,
    pub paid: Vec<Receipt>,
}

pub async fn counter(app: &App, actor: &Actor, patient: Option<Uuid>) -> Result<Counter, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let Some(id) = patient else { return Ok(Counter::default()) };
    Ok(Counter { due: Some(due(app, actor, id).await?), paid: payments(app, actor, id).await? })
}

/// The patient whose code is scanned or typed at the counter.
pub async fn find(app: &App, actor: &Actor, code: &str) -> Result<Uuid, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let p = crate::card::Presented {
        code: code.to_string(),
        step: dayi_core::card::CareStep::Cashier.code().into(),
        station: "收费窗口".into(),
        voucher: false,
        on_behalf: false,
    };
    Ok(crate::card::resolve(app, actor, &p).await?.patient.id)
}

/// A charge as the cashier and the phone show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChargeLine {
    #[serde(flatten)]
    pub charge: Charge,
    pub amount: String,
    /// Unit price, yuan.
    pub price: String,
    /// 检验, 药品 … or 挂号费 for a registration fee.
    pub category_name: &'static str,
    pub status_name: &'static str,
    /// An online payment holds it while the patient pays.
    pub held: bool,
}

fn charge_line(c: Charge) -> ChargeLine {
    ChargeLine {
        amount: yuan(c.amount_fen),
        price: yuan(c.unit_fen),
        category_name: dayi_core::visit::OrderKind::parse(&c.category).map(|k| k.zh()).unwrap_or("挂号费"),
        status_name: b::ChargeStatus::parse(&c.status).map(|s| s.zh()).unwrap_or(""),
        held: c.status == "unpaid" && c.payment_id.is_some(),
        charge: c,
    }
}

/// What a patient owes now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Due {
    pub patient_id: Uuid,
    /// Masked.
    pub patient_name: String,
    pub hospital_no: String,
    pub charges: Vec<ChargeLine>,
    pub total_fen: i64,
    pub total: String,
}

pub async fn due(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Due, DomainError> {
    may_bill(app, actor, patient_id).await?;
    let p = crate::patient::load(app, actor.org_id, patient_id).await?;
    let charges: Vec<ChargeLine> = dayi_store::billing::charges_of(&app.db, actor.org_id, patient_id, &["unpaid"])
        .await
        .or_internal()?
        .into_iter()
        .map(charge_line)
        .collect();
    let total_fen = charges.iter().map(|c| c.charge.amount_fen).sum();
    app.audit.record(actor.entry("billing.due", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    Ok(Due {
        patient_id,
        patient_name: mask::name(&p.name),
        hospital_no: p.hospital_no,
        charges,
        total_fen,
        total: yuan(total_fen),
    })
}

/// A payment with its receipt lines.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    pub payment: Payment,
    pub method_name: &'static str,
    pub status_name: &'static str,
    pub amount: String,
    pub change: String,
    pub patient_name: String,
    pub hospital_no: String,
    pub charges: Vec<ChargeLine>,
    pub refunds: Vec<Refund>,
    /// Who paid: the settlement's parts, third payers first, the patient last.
    pub parts: Vec<PartLine>,
    pub refunded_fen: i64,
    pub refunded: String,
    /// When paid (or, unpaid, when made), Beijing time.
    pub at: String,
    pub tendered: String,
}

/// One payer's part of a payment, as the receipt shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartLine {
    pub payer: String,
    pub payer_name: &'static str,
    pub fen: i64,
    pub amount: String,
}

async fn receipt_of(app: &App, org_id: Uuid, p: Payment) -> Result<Receipt, DomainError> {
    let patient = crate::patient::load(app, org_id, p.patient_id).await?;
    let charges = dayi_store::billing::charges_of_payment(&app.db, org_id, p.id)
        .await
        .or_internal()?
        .into_iter()
        .map(charge_line)
        .collect();
    let refunds = dayi_store::billing::refunds_of_payment(&app.db, org_id, p.id).await.or_internal()?;
    let refunded_fen = refunds.iter().filter(|r| r.status == "done").map(|r| r.amount_fen).sum();
    let mut parts: Vec<PartLine> = dayi_store::billing::parts_of(&app.db, org_id, p.id)
        .await
        .or_internal()?
        .into_iter()
        .map(|(payer, fen)| PartLine {
            payer_name: Payer::parse(&payer).map(|p| p.zh()).unwrap_or(""),
            payer,
            fen,
            amount: yuan(fen),
        })
        .collect();
    parts.sort_by_key(|l| Payer::parse(&l.payer).is_some_and(|p| p.is_patient()));
    Ok(Receipt {
        parts,
        method_name: Method::parse(&p.method).map(|m| m.zh()).unwrap_or(""),
        status_name: PaymentStatus::parse(&p.status).map(|s| s.zh()).unwrap_or(""),
        amount: yuan(p.amount_fen),
        change: yuan(p.change_fen),
        patient_name: mask::name(&patient.name),
        hospital_no: patient.hospital_no,
        charges,
        refunds,
        refunded_fen,
        refunded: yuan(refunded_fen),
        at: dayi_core::timefmt::show(p.paid_at.unwrap_or(p.created_at)),
        tendered: yuan(p.tendered_fen),
        payment: p,
    })
}

/// One payment's receipt (audited: it names the patient and what they had).
pub async fn receipt(app: &App, actor: &Actor, payment_id: Uuid) -> Result<Receipt, DomainError> {
    let p = billed_payment(app, actor, payment_id).await?;
    app.audit.record(actor.entry("billing.receipt", "payment", &p.pay_no, Some(p.patient_id), OK, "")).await;
    receipt_of(app, actor.org_id, p).await
}

/// A patient's payments, newest first.
pub async fn payments(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<Receipt>, DomainError> {
    may_bill(app, actor, patient_id).await?;
    let mut out = vec![];
    for p in dayi_store::billing::payments_of(&app.db, actor.org_id, patient_id, 50).await.or_internal()? {
        out.push(receipt_of(app, actor.org_id, p).await?);
    }
    Ok(out)
}
