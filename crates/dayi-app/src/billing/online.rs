//! Online payment through the payment seam (`pay`): the order at the provider, its signed callback,
//! refreshes and closes, and the local provider's checkout.

use std::sync::Arc;

use dayi_core::audit::OK;
use dayi_core::billing::{Method, PaymentStatus};
use dayi_core::catalog::yuan;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::billing::Payment;
use rand::RngCore;
use uuid::Uuid;

use super::{
    PayForm, Receipt, answer_or_replay, billed_payment, due_of, insert_payment, key_of, may_bill, parse_ids, pay_no,
    payment_of, receipt_of, replay, store_parts,
};
use crate::pay::{self, Callback, Order, PayError, Provider, State};
use crate::{Actor, App, OrInternal, Via};

/// The account online payments count in (closed by any cashier).
pub const ONLINE: &str = "online";

/// The local provider of an organisation (its merchant key kept in `org_secret`).
pub async fn local(app: &App, org_id: Uuid) -> Result<pay::local::LocalPay, DomainError> {
    let cached = app.pay.keys.lock().unwrap_or_else(|e| e.into_inner()).get(&org_id).cloned();
    let key = match cached {
        Some(k) => k,
        None => {
            let mut fresh = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut fresh);
            let mut tx = app.db.begin().await.or_internal()?;
            let k =
                dayi_store::patient::secret(&mut tx, org_id, "local_pay", &fresh, now_micros()).await.or_internal()?;
            tx.commit().await.or_internal()?;
            app.pay.keys.lock().unwrap_or_else(|e| e.into_inner()).insert(org_id, k.clone());
            k
        }
    };
    Ok(pay::local::LocalPay::new(app.db.clone(), org_id, key, app.pay.client.clone()))
}

/// The provider a payment of this organisation uses.
pub(super) async fn provider(app: &App, org_id: Uuid, name: &str) -> Result<Arc<dyn Provider>, DomainError> {
    match (name, &app.pay.wechat) {
        ("wechat", Some(w)) => Ok(w.clone()),
        ("local", _) => Ok(Arc::new(local(app, org_id).await?)),
        _ => Err(DomainError::with(ErrorCode::BillingMethod, [name])),
    }
}

pub(super) fn provider_name(app: &App) -> &'static str {
    if app.pay.wechat.is_some() { "wechat" } else { "local" }
}

pub(super) fn pay_error(e: PayError) -> DomainError {
    match e {
        PayError::Signature(_) => DomainError::new(ErrorCode::BillingSignature),
        PayError::Refused(m) | PayError::Unavailable(m) => DomainError::with(ErrorCode::BillingProvider, [m]),
    }
}

/// Starts an online payment: the charges are held for it and the patient
/// is sent to the provider's checkout. `base` is the server's own address,
/// for the provider's callback and the way back.
pub async fn pay_online(app: &App, actor: &Actor, f: &PayForm, base: &str, back: &str) -> Result<Receipt, DomainError> {
    let patient_id = Uuid::parse_str(f.patient_id.trim()).map_err(|_| DomainError::new(ErrorCode::PatientUnknown))?;
    may_bill(app, actor, patient_id).await?;
    let key = key_of(f)?;
    let ids = parse_ids(&f.charge_ids)?;
    let _turn = app.flights.take(actor.org_id, "pay", &key).await;
    if let Some(r) = replay(app, actor, &key, patient_id, &ids).await? {
        return Ok(r);
    }
    let started = start_online(app, actor, f, &key, patient_id, &ids, base, back).await;
    answer_or_replay(started, replay(app, actor, &key, patient_id, &ids)).await
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn start_online(
    app: &App,
    actor: &Actor,
    f: &PayForm,
    key: &str,
    patient_id: Uuid,
    ids: &[Uuid],
    base: &str,
    back: &str,
) -> Result<Receipt, DomainError> {
    let now = now_micros();
    let id = crate::new_id();
    let name = provider_name(app);
    let mut tx = app.db.begin().await.or_internal()?;
    let total = due_of(&mut tx, actor.org_id, ids, patient_id, f.expected_fen).await?;
    let mut p = Payment {
        org_id: actor.org_id,
        id,
        pay_no: pay_no(now, id),
        idem_key: key.to_string(),
        patient_id,
        method: Method::Online.code().into(),
        channel: if actor.via == Via::Portal { "portal".into() } else { "counter".into() },
        amount_fen: total,
        tendered_fen: total,
        change_fen: 0,
        status: PaymentStatus::Created.code().into(),
        provider: name.into(),
        pay_url: String::new(),
        transaction_id: None,
        account: ONLINE.into(),
        cashier: actor.username.clone(),
        closing_id: None,
        created_at: now,
        paid_at: None,
        updated_at: now,
    };
    if !insert_payment(app, &mut tx, &mut p).await? {
        drop(tx);
        return replay(app, actor, key, patient_id, ids).await?.ok_or_else(|| DomainError::new(ErrorCode::Conflict));
    }
    let id = p.id;
    if dayi_store::billing::hold(&mut tx, actor.org_id, ids, id, now).await.or_internal()? != ids.len() as u64 {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    store_parts(&mut tx, actor.org_id, id, total, Method::Online).await?;
    let entry =
        actor.entry("billing.pay_online", "payment", &p.pay_no, Some(patient_id), OK, &format!("{} 元", yuan(total)));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let prov = provider(app, actor.org_id, name).await?;
    let org =
        dayi_store::tenancy::get_org(&app.db, actor.org_id).await.or_internal()?.map(|o| o.name).unwrap_or_default();
    let order = Order {
        out_trade_no: p.pay_no.clone(),
        amount_fen: total,
        description: format!("{org}门诊缴费"),
        notify_url: format!("{base}/api/pay/notify/{name}/{}", actor.org_id.simple()),
        return_url: format!("{base}{back}"),
    };
    match prov.create(&order).await {
        Ok(c) => {
            p.pay_url = c.pay_url;
            let mut tx = app.db.begin().await.or_internal()?;
            dayi_store::billing::set_pay_url(&mut tx, actor.org_id, id, &p.pay_url).await.or_internal()?;
            tx.commit().await.or_internal()?;
            receipt_of(app, actor.org_id, p).await
        }
        Err(e) => {
            apply(app, actor.org_id, &p, State::Failed, None, 0, "provider refused the order").await?;
            Err(pay_error(e))
        }
    }
}

/// A provider's callback: verified, then applied once. Answers what the provider expects.
pub async fn notify(app: &App, name: &str, org_id: Uuid, cb: &Callback) -> Result<(u16, String), DomainError> {
    let prov = provider(app, org_id, name).await?;
    let status = match prov.verify(cb).await {
        Ok(s) => s,
        Err(e) => {
            let entry = Actor::cli(org_id).entry(
                "billing.callback",
                "payment",
                "",
                None,
                dayi_core::audit::DENIED,
                &e.to_string(),
            );
            app.audit.record(entry).await;
            return Err(pay_error(e));
        }
    };
    let p = dayi_store::billing::payment_by_no(&app.db, org_id, &status.out_trade_no)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::BillingPaymentUnknown))?;
    apply(app, org_id, &p, status.state, status.transaction_id.as_deref(), status.paid_fen, "callback").await?;
    Ok(prov.ack())
}

/// Asks the provider how an online payment stands and applies it (when a
/// callback is late or lost; the phone's return page does this).
pub async fn refresh(app: &App, actor: &Actor, payment_id: Uuid) -> Result<Receipt, DomainError> {
    let p = billed_payment(app, actor, payment_id).await?;
    if p.method == Method::Online.code() && p.status == PaymentStatus::Created.code() {
        let prov = provider(app, actor.org_id, &p.provider).await?;
        let s = prov.query(&p.pay_no).await.map_err(pay_error)?;
        apply(app, actor.org_id, &p, s.state, s.transaction_id.as_deref(), s.paid_fen, "query").await?;
    }
    let p = payment_of(app, actor.org_id, payment_id).await?;
    receipt_of(app, actor.org_id, p).await
}

/// Applies a provider's word on a payment, once.
pub(super) async fn apply(
    app: &App,
    org_id: Uuid,
    p: &Payment,
    state: State,
    txn: Option<&str>,
    paid_fen: i64,
    via: &str,
) -> Result<(), DomainError> {
    let now = now_micros();
    let actor = Actor::cli(org_id);
    let mut tx = app.db.begin().await.or_internal()?;
    let (to, moved) = match state {
        State::Paid | State::Refunded => {
            if paid_fen != p.amount_fen {
                let e = actor.entry(
                    "billing.callback",
                    "payment",
                    &p.pay_no,
                    Some(p.patient_id),
                    dayi_core::audit::DENIED,
                    &format!("amount {paid_fen} ≠ {}", p.amount_fen),
                );
                dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
                tx.commit().await.or_internal()?;
                return Err(DomainError::with(ErrorCode::BillingCallbackAmount, [yuan(paid_fen), yuan(p.amount_fen)]));
            }
            let moved = dayi_store::billing::set_payment_status(
                &mut tx,
                org_id,
                p.id,
                &["created", "failed"],
                "paid",
                txn,
                now,
            )
            .await
            .or_internal()?;
            if moved {
                dayi_store::billing::settle(&mut tx, org_id, p.id, now).await.or_internal()?;
                let ids: Vec<Uuid> = dayi_store::billing::charges_of_payment(&mut tx, org_id, p.id)
                    .await
                    .or_internal()?
                    .into_iter()
                    .map(|c| c.id)
                    .collect();
                dayi_store::visit::set_order_status_by_charges(&mut tx, org_id, &ids, "ordered", "paid", now)
                    .await
                    .or_internal()?;
            }
            ("paid", moved)
        }
        State::Failed => (
            "failed",
            dayi_store::billing::set_payment_status(&mut tx, org_id, p.id, &["created"], "failed", None, now)
                .await
                .or_internal()?,
        ),
        State::Closed => (
            "closed",
            dayi_store::billing::set_payment_status(&mut tx, org_id, p.id, &["created", "failed"], "closed", None, now)
                .await
                .or_internal()?,
        ),
        State::Created => ("created", false),
    };
    if moved && to != "paid" {
        dayi_store::billing::release(&mut tx, org_id, p.id, now).await.or_internal()?;
    }
    if moved {
        let e = actor.entry(&format!("billing.{to}"), "payment", &p.pay_no, Some(p.patient_id), OK, via);
        dayi_store::audit::append(&mut tx, org_id, vec![e]).await.or_internal()?;
    }
    tx.commit().await.or_internal()
}

/// Closes an unpaid online payment (at the provider first), freeing its charges.
pub async fn close(app: &App, actor: &Actor, payment_id: Uuid) -> Result<Receipt, DomainError> {
    let p = billed_payment(app, actor, payment_id).await?;
    if !matches!(p.status.as_str(), "created" | "failed") {
        let s = PaymentStatus::parse(&p.status).map(|s| s.zh()).unwrap_or("");
        return Err(DomainError::with(ErrorCode::BillingPaymentState, [s, "关闭"]));
    }
    let prov = provider(app, actor.org_id, &p.provider).await?;
    match prov.close(&p.pay_no).await {
        Ok(()) => apply(app, actor.org_id, &p, State::Closed, None, 0, "closed").await?,
        // Paid meanwhile: the provider's word counts.
        Err(_) => {
            let s = prov.query(&p.pay_no).await.map_err(pay_error)?;
            apply(app, actor.org_id, &p, s.state, s.transaction_id.as_deref(), s.paid_fen, "query").await?;
        }
    }
    refresh(app, actor, payment_id).await
}

/// The local provider's checkout (收银台): the order as the provider shows
/// it to the payer. Public, as a real provider's page is: whoever holds the
/// link pays, and no money moves.
pub async fn checkout(
    app: &App,
    merchant: Uuid,
    out_trade_no: &str,
) -> Result<dayi_store::billing::LocalOrder, DomainError> {
    if dayi_store::tenancy::get_org(&app.db, merchant).await.or_internal()?.is_none() {
        return Err(DomainError::new(ErrorCode::BillingPaymentUnknown));
    }
    local(app, merchant)
        .await?
        .order(out_trade_no)
        .await
        .map_err(pay_error)?
        .ok_or_else(|| DomainError::new(ErrorCode::BillingPaymentUnknown))
}

/// The payer confirms (or the payment fails) at the local checkout; the
/// provider then tells Dayi by its signed callback.
pub async fn checkout_settle(
    app: &App,
    merchant: Uuid,
    out_trade_no: &str,
    paid: bool,
) -> Result<dayi_store::billing::LocalOrder, DomainError> {
    checkout(app, merchant, out_trade_no).await?;
    let lp = local(app, merchant).await?;
    let r = if paid { lp.pay(out_trade_no).await } else { lp.fail(out_trade_no).await };
    r.map_err(pay_error)
}
