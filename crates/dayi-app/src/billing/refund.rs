//! Refunds (退费) of charges not yet executed, once per request key, back the way they were paid.

use dayi_core::audit::OK;
use dayi_core::billing::{Method, PaymentStatus};
use dayi_core::catalog::yuan;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::billing::{Payment, Refund};
use dayi_store::booking::Charge;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    ONLINE, PayForm, Receipt, answer_or_replay, key_of, parse_ids, pay_error, pay_no, payment_of, provider, receipt_of,
};
use crate::pay::{self, RefundOrder};
use crate::{Actor, App, OrInternal};

/// A refund request: paid, unexecuted charges of one payment.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RefundForm {
    #[schema(value_type = uuid::Uuid)]
    pub payment_id: String,
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub charge_ids: Vec<String>,
    pub reason: String,
    pub key: String,
}

/// Refunds paid, unexecuted charges. The same request key again answers
/// the same receipt, also while the first request is still running.
pub async fn refund(app: &App, actor: &Actor, f: &RefundForm) -> Result<Receipt, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let key = key_of(&PayForm { key: f.key.clone(), ..Default::default() })?;
    let payment_id =
        Uuid::parse_str(f.payment_id.trim()).map_err(|_| DomainError::new(ErrorCode::BillingPaymentUnknown))?;
    let p = payment_of(app, actor.org_id, payment_id).await?;
    let ids = parse_ids(&f.charge_ids)?;
    let _turn = app.flights.take(actor.org_id, "refund", &key).await;
    if let Some(r) = refund_replay(app, actor, &key, &p, &ids).await? {
        return Ok(r);
    }
    let done = refund_now(app, actor, f, &key, p.clone(), &ids).await;
    answer_or_replay(done, refund_replay(app, actor, &key, &p, &ids)).await
}

/// The same refund key seen before: the payment's receipt if it asked the
/// same (the payment and the charges).
pub(super) async fn refund_replay(
    app: &App,
    actor: &Actor,
    key: &str,
    p: &Payment,
    ids: &[Uuid],
) -> Result<Option<Receipt>, DomainError> {
    let Some(r) = dayi_store::billing::refund_by_key(&app.db, actor.org_id, key).await.or_internal()? else {
        return Ok(None);
    };
    let charges = dayi_store::billing::charges_of_payment(&app.db, actor.org_id, r.payment_id).await.or_internal()?;
    let mut held: Vec<Uuid> = charges.iter().filter(|c| c.refund_id == Some(r.id)).map(|c| c.id).collect();
    held.sort();
    if r.payment_id != p.id || held != ids {
        return Err(DomainError::new(ErrorCode::BillingKeyReused));
    }
    receipt_of(app, actor.org_id, payment_of(app, actor.org_id, p.id).await?).await.map(Some)
}

/// Refunds now: the checks, the refund and its charges written, then, for
/// an online payment, the provider asked.
pub(super) async fn refund_now(
    app: &App,
    actor: &Actor,
    f: &RefundForm,
    key: &str,
    p: Payment,
    ids: &[Uuid],
) -> Result<Receipt, DomainError> {
    check_refundable(&p, f)?;
    let amount = amount_of(app, actor.org_id, p.id, ids).await?;
    check_balance(app, actor.org_id, &p, amount).await?;
    let now = now_micros();
    let r = refund_row(actor, f, key, &p, amount, now);
    save_refund(app, actor, &r, ids, now).await?;
    if p.method == Method::Online.code() {
        refund_online(app, actor.org_id, &p, &r).await?;
    }
    receipt_of(app, actor.org_id, p).await
}

/// Only a paid payment is refunded, and only with a reason.
fn check_refundable(p: &Payment, f: &RefundForm) -> Result<(), DomainError> {
    if p.status != PaymentStatus::Paid.code() {
        let s = PaymentStatus::parse(&p.status).map(|s| s.zh()).unwrap_or("");
        return Err(DomainError::with(ErrorCode::BillingPaymentState, [s, "退费"]));
    }
    if f.reason.trim().is_empty() {
        return Err(DomainError::field("reason", ErrorCode::Required, [""; 0]));
    }
    Ok(())
}

/// The sum of the charges asked for, each of them a paid charge of the
/// payment whose order is not carried out.
async fn amount_of(app: &App, org_id: Uuid, payment_id: Uuid, ids: &[Uuid]) -> Result<i64, DomainError> {
    let charges = dayi_store::billing::charges_of_payment(&app.db, org_id, payment_id).await.or_internal()?;
    let orders_executed = executed_orders(app, org_id, &charges).await?;
    let mut amount = 0;
    for id in ids {
        let c = charges
            .iter()
            .find(|c| c.id == *id)
            .ok_or_else(|| DomainError::field("charge_ids", ErrorCode::BillingChargeUnknown, [id.to_string()]))?;
        if c.status != "paid" {
            return Err(DomainError::with(ErrorCode::BillingRefundNotPaid, [c.item_name.as_str()]));
        }
        if c.order_id.is_some_and(|o| orders_executed.contains(&o)) {
            return Err(DomainError::with(ErrorCode::BillingRefundExecuted, [c.item_name.as_str()]));
        }
        amount += c.amount_fen;
    }
    Ok(amount)
}

/// The amount must fit in what the payment's earlier refunds (not failed) left.
async fn check_balance(app: &App, org_id: Uuid, p: &Payment, amount: i64) -> Result<(), DomainError> {
    let refunded: i64 = dayi_store::billing::refunds_of_payment(&app.db, org_id, p.id)
        .await
        .or_internal()?
        .iter()
        .filter(|r| r.status != "failed")
        .map(|r| r.amount_fen)
        .sum();
    if amount > p.amount_fen - refunded {
        return Err(DomainError::with(ErrorCode::BillingRefundTooMuch, [yuan(amount), yuan(p.amount_fen - refunded)]));
    }
    Ok(())
}

/// The refund as saved: done at once, or processing until the online provider answers.
fn refund_row(actor: &Actor, f: &RefundForm, key: &str, p: &Payment, amount: i64, now: i64) -> Refund {
    let id = crate::new_id();
    let online = p.method == Method::Online.code();
    Refund {
        org_id: actor.org_id,
        id,
        refund_no: format!("TF{}", &pay_no(now, id)[2..]),
        idem_key: key.to_string(),
        payment_id: p.id,
        patient_id: p.patient_id,
        method: p.method.clone(),
        amount_fen: amount,
        status: if online { "processing".into() } else { "done".into() },
        provider_id: None,
        reason: f.reason.trim().chars().take(200).collect(),
        // Cash and card go back from this cashier's till; online refunds from the online account.
        account: if online { ONLINE.into() } else { actor.username.clone() },
        cashier: actor.username.clone(),
        closing_id: None,
        created_at: now,
    }
}

/// Writes the refund, marks its charges and their orders refunded, and audits it.
async fn save_refund(app: &App, actor: &Actor, r: &Refund, ids: &[Uuid], now: i64) -> Result<(), DomainError> {
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::billing::insert_refund(&mut tx, r).await.or_internal()? {
        // The key was taken meanwhile (another server): `refund` answers it.
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    if dayi_store::billing::refund_charges(&mut tx, actor.org_id, ids, r.id, now).await.or_internal()?
        != ids.len() as u64
    {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    dayi_store::visit::set_order_status_by_charges(&mut tx, actor.org_id, ids, "paid", "refunded", now)
        .await
        .or_internal()?;
    let entry = actor.entry(
        "billing.refund",
        "refund",
        &r.refund_no,
        Some(r.patient_id),
        OK,
        &format!("{} 元：{}", yuan(r.amount_fen), r.reason),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// Asks the online provider to refund, and records its answer (a failure
/// too) before answering it.
async fn refund_online(app: &App, org_id: Uuid, p: &Payment, r: &Refund) -> Result<(), DomainError> {
    let prov = provider(app, org_id, &p.provider).await?;
    let order = RefundOrder {
        out_trade_no: p.pay_no.clone(),
        out_refund_no: r.refund_no.clone(),
        amount_fen: r.amount_fen,
        total_fen: p.amount_fen,
        reason: r.reason.clone(),
    };
    let outcome = prov.refund(&order).await;
    let mut tx = app.db.begin().await.or_internal()?;
    match &outcome {
        Ok(done) => {
            let status = if done.state == pay::RefundState::Failed { "failed" } else { "done" };
            dayi_store::billing::set_refund(&mut tx, org_id, r.id, status, done.refund_id.as_deref())
                .await
                .or_internal()?;
        }
        Err(_) => dayi_store::billing::set_refund(&mut tx, org_id, r.id, "failed", None).await.or_internal()?,
    }
    tx.commit().await.or_internal()?;
    outcome.map_err(pay_error)?;
    Ok(())
}

pub(super) async fn executed_orders(app: &App, org_id: Uuid, charges: &[Charge]) -> Result<Vec<Uuid>, DomainError> {
    let mut visits: Vec<Uuid> = charges.iter().filter_map(|c| c.visit_id).collect();
    visits.sort();
    visits.dedup();
    let mut out = vec![];
    for v in visits {
        out.extend(
            dayi_store::visit::orders(&app.db, org_id, v)
                .await
                .or_internal()?
                .into_iter()
                .filter(|o| o.status == "executed")
                .map(|o| o.id),
        );
    }
    Ok(out)
}
