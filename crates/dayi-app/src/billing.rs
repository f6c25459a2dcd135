//! Billing (收费): what a patient owes, payment at the counter (cash, card)
//! and online (the payment seam in `pay`), refunds of unexecuted items,
//! receipts, and each account's daily closing (日结).
//!
//! Every payment carries a request key (Idempotency-Key). The same key
//! again answers the payment already made; a charge is taken by a
//! conditional update, so two payments can never settle it twice; a
//! provider's callback moves a payment only from an unpaid state, so a
//! repeated callback changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dayi_core::audit::OK;
use dayi_core::billing::{self as b, Method, Movement, PaymentStatus, Totals};
use dayi_core::catalog::yuan;
use dayi_core::security::Perm;
use dayi_core::settlement::{Payer, Settlement};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::billing::{Closing, Payment, Refund};
use dayi_store::booking::Charge;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::pay::{self, Callback, Order, PayError, Provider, RefundOrder, State};
use crate::{Actor, App, OrInternal, Via, portal};

/// The account online payments count in (closed by any cashier).
pub const ONLINE: &str = "online";

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
async fn provider(app: &App, org_id: Uuid, name: &str) -> Result<Arc<dyn Provider>, DomainError> {
    match (name, &app.pay.wechat) {
        ("wechat", Some(w)) => Ok(w.clone()),
        ("local", _) => Ok(Arc::new(local(app, org_id).await?)),
        _ => Err(DomainError::with(ErrorCode::BillingMethod, [name])),
    }
}

fn provider_name(app: &App) -> &'static str {
    if app.pay.wechat.is_some() { "wechat" } else { "local" }
}

fn pay_error(e: PayError) -> DomainError {
    match e {
        PayError::Signature(_) => DomainError::new(ErrorCode::BillingSignature),
        PayError::Refused(m) | PayError::Unavailable(m) => DomainError::with(ErrorCode::BillingProvider, [m]),
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

/// A payment request from the cashier or the phone.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PayForm {
    #[schema(value_type = uuid::Uuid)]
    pub patient_id: String,
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub charge_ids: Vec<String>,
    /// The total the payer saw, fen: a change since then refuses the payment.
    pub expected_fen: i64,
    /// cash, card, online.
    #[schema(value_type = dayi_core::billing::Method)]
    pub method: String,
    /// Cash handed over, yuan ("100"); empty: exactly the amount.
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = f64)]
    pub tendered: String,
    /// The request key; the same key again answers the same payment.
    pub key: String,
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

fn parse_ids(ids: &[String]) -> Result<Vec<Uuid>, DomainError> {
    let mut out: Vec<Uuid> = ids
        .iter()
        .map(|s| {
            Uuid::parse_str(s.trim())
                .map_err(|_| DomainError::field("charge_ids", ErrorCode::BillingChargeUnknown, [s.as_str()]))
        })
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(DomainError::new(ErrorCode::BillingNothingDue));
    }
    Ok(out)
}

fn key_of(f: &PayForm) -> Result<String, DomainError> {
    let k = f.key.trim();
    if k.is_empty() || k.len() > 64 || !k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
        return Err(DomainError::new(ErrorCode::BillingKey));
    }
    Ok(k.to_string())
}

/// The same request key seen before: the same payment if it asked the same.
async fn replay(
    app: &App,
    actor: &Actor,
    key: &str,
    patient_id: Uuid,
    ids: &[Uuid],
) -> Result<Option<Receipt>, DomainError> {
    let Some(p) = dayi_store::billing::payment_by_key(&app.db, actor.org_id, key).await.or_internal()? else {
        return Ok(None);
    };
    let mut held: Vec<Uuid> = dayi_store::billing::charges_of_payment(&app.db, actor.org_id, p.id)
        .await
        .or_internal()?
        .into_iter()
        .map(|c| c.id)
        .collect();
    held.sort();
    let released = matches!(p.status.as_str(), "failed" | "closed");
    if p.patient_id != patient_id || (!released && held != ids) {
        return Err(DomainError::new(ErrorCode::BillingKeyReused));
    }
    receipt_of(app, actor.org_id, p).await.map(Some)
}

/// Pays charges at the counter, in cash or by card, at once.
pub async fn pay(app: &App, actor: &Actor, f: &PayForm) -> Result<Receipt, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let method = match Method::parse(f.method.trim()) {
        Some(m @ (Method::Cash | Method::Card)) => m,
        _ => return Err(DomainError::field("method", ErrorCode::BillingMethod, [f.method.as_str()])),
    };
    let patient_id = Uuid::parse_str(f.patient_id.trim()).map_err(|_| DomainError::new(ErrorCode::PatientUnknown))?;
    let key = key_of(f)?;
    let ids = parse_ids(&f.charge_ids)?;
    let _turn = app.flights.take(actor.org_id, "pay", &key).await;
    if let Some(r) = replay(app, actor, &key, patient_id, &ids).await? {
        return Ok(r);
    }
    let paid = pay_at_counter(app, actor, f, method, &key, patient_id, &ids).await;
    answer_or_replay(paid, replay(app, actor, &key, patient_id, &ids)).await
}

/// A failed attempt whose key has meanwhile been used (by another server
/// sharing the database) answers that payment, as the repeat it was.
async fn answer_or_replay(
    answer: Result<Receipt, DomainError>,
    replay: impl std::future::Future<Output = Result<Option<Receipt>, DomainError>>,
) -> Result<Receipt, DomainError> {
    match answer {
        Err(e) if e.code != ErrorCode::Internal => replay.await?.ok_or(e),
        other => other,
    }
}

async fn pay_at_counter(
    app: &App,
    actor: &Actor,
    f: &PayForm,
    method: Method,
    key: &str,
    patient_id: Uuid,
    ids: &[Uuid],
) -> Result<Receipt, DomainError> {
    let now = now_micros();
    let mut id = crate::new_id();
    let mut tx = app.db.begin().await.or_internal()?;
    let total = due_of(&mut tx, actor.org_id, ids, patient_id, f.expected_fen).await?;
    let tendered = match (method, f.tendered.trim()) {
        (Method::Cash, t) if !t.is_empty() => dayi_core::catalog::parse_fen(t)
            .ok_or_else(|| DomainError::field("tendered", ErrorCode::CatalogPrice, [""; 0]))?,
        _ => total,
    };
    let change = b::change(total, tendered)
        .map_err(|_| DomainError::field("tendered", ErrorCode::BillingCashShort, [yuan(tendered), yuan(total)]))?;
    let mut p = Payment {
        org_id: actor.org_id,
        id,
        pay_no: pay_no(now, id),
        idem_key: key.to_string(),
        patient_id,
        method: method.code().into(),
        channel: "counter".into(),
        amount_fen: total,
        tendered_fen: tendered,
        change_fen: change,
        status: PaymentStatus::Paid.code().into(),
        provider: String::new(),
        pay_url: String::new(),
        transaction_id: None,
        account: actor.username.clone(),
        cashier: actor.username.clone(),
        closing_id: None,
        created_at: now,
        paid_at: Some(now),
        updated_at: now,
    };
    if !insert_payment(app, &mut tx, &mut p).await? {
        // The same key at the same moment, from another server: that payment answers.
        drop(tx);
        return replay(app, actor, key, patient_id, ids).await?.ok_or_else(|| DomainError::new(ErrorCode::Conflict));
    }
    id = p.id;
    let taken = dayi_store::billing::hold(&mut tx, actor.org_id, ids, id, now).await.or_internal()?;
    if taken != ids.len() as u64 {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    dayi_store::billing::settle(&mut tx, actor.org_id, id, now).await.or_internal()?;
    store_parts(&mut tx, actor.org_id, id, total, method).await?;
    dayi_store::visit::set_order_status_by_charges(&mut tx, actor.org_id, ids, "ordered", "paid", now)
        .await
        .or_internal()?;
    let detail = format!("{} {} 元，{} 项", method.zh(), yuan(total), ids.len());
    let entry = actor.entry("billing.pay", "payment", &p.pay_no, Some(patient_id), OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    receipt_of(app, actor.org_id, p).await
}

/// Who pays: today the patient, wholly, by the method used. The insurance
/// capability settles with the fund's parts here (`Settlement::split`).
async fn store_parts(
    tx: &mut dayi_store::Tx,
    org_id: Uuid,
    payment_id: Uuid,
    total: i64,
    method: Method,
) -> Result<(), DomainError> {
    let s = Settlement::self_pay(total, method).map_err(|_| DomainError::new(ErrorCode::BillingNothingDue))?;
    let parts: Vec<(&str, i64)> = s.parts().iter().map(|p| (p.payer.code(), p.fen)).collect();
    dayi_store::billing::insert_parts(tx, org_id, payment_id, &parts).await.or_internal()
}

/// The total of the charges asked for, checked; a charge already paid names its receipt.
async fn due_of(
    tx: &mut dayi_store::Tx,
    org_id: Uuid,
    ids: &[Uuid],
    patient_id: Uuid,
    expected: i64,
) -> Result<i64, DomainError> {
    let charges = dayi_store::billing::charges_by_id(tx, org_id, ids).await.or_internal()?;
    match check_charges(&charges, ids, patient_id, expected) {
        Err(e) if e.code == ErrorCode::BillingAlreadyPaid => {
            let by = e.args.first().and_then(|a| Uuid::parse_str(a).ok()).unwrap_or_default();
            let no = dayi_store::billing::pay_no(&mut *tx, org_id, by).await.or_internal()?.unwrap_or_default();
            Err(DomainError::with(ErrorCode::BillingAlreadyPaid, [no]))
        }
        other => other,
    }
}

/// The charges asked for, all the patient's and unpaid, totalling what the payer saw.
fn check_charges(charges: &[Charge], ids: &[Uuid], patient_id: Uuid, expected: i64) -> Result<i64, DomainError> {
    for id in ids {
        let c = charges.iter().find(|c| c.id == *id && c.patient_id == patient_id);
        match c {
            None => return Err(DomainError::field("charge_ids", ErrorCode::BillingChargeUnknown, [id.to_string()])),
            Some(c) if c.status == "paid" => {
                return Err(DomainError::with(
                    ErrorCode::BillingAlreadyPaid,
                    [c.payment_id.map(|p| p.to_string()).unwrap_or_default()],
                ));
            }
            Some(c) if c.status != "unpaid" => {
                return Err(DomainError::field("charge_ids", ErrorCode::BillingChargeUnknown, [c.item_name.as_str()]));
            }
            Some(_) => {}
        }
    }
    let total: i64 = charges.iter().map(|c| c.amount_fen).sum();
    if total != expected {
        return Err(DomainError::with(ErrorCode::BillingAmountChanged, [yuan(total)]));
    }
    Ok(total)
}

/// Inserts a payment; false when its request key is taken (a repeat). The
/// receipt number holds 24 random bits of the id, so two payments of one
/// second can draw the same one (about once a minute at 500 payments a
/// second); the later one then draws again instead of failing.
async fn insert_payment(app: &App, tx: &mut dayi_store::Tx, p: &mut Payment) -> Result<bool, DomainError> {
    for _ in 0..RECEIPT_DRAWS {
        if dayi_store::billing::insert_payment(tx, p).await.or_internal()? {
            return Ok(true);
        }
        if dayi_store::billing::payment_by_key(&app.db, p.org_id, &p.idem_key).await.or_internal()?.is_some() {
            return Ok(false);
        }
        p.id = crate::new_id();
        p.pay_no = pay_no(p.created_at, p.id);
    }
    Err(DomainError::new(ErrorCode::Conflict))
}

/// Receipt numbers drawn for one payment before giving up.
const RECEIPT_DRAWS: usize = 4;

/// A receipt number that sorts by time: SF + yymmddHHMMSS + 6 of the id.
fn pay_no(now: i64, id: Uuid) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now / 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(dayi_core::timefmt::CST);
    let fmt = time::macros::format_description!("[year repr:last_two][month][day][hour][minute][second]");
    format!("SF{}{}", t.format(fmt).unwrap_or_default(), &id.simple().to_string()[26..])
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
async fn start_online(
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
async fn apply(
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
async fn refund_replay(
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

async fn refund_now(
    app: &App,
    actor: &Actor,
    f: &RefundForm,
    key: &str,
    p: Payment,
    ids: &[Uuid],
) -> Result<Receipt, DomainError> {
    let payment_id = p.id;
    if p.status != PaymentStatus::Paid.code() {
        let s = PaymentStatus::parse(&p.status).map(|s| s.zh()).unwrap_or("");
        return Err(DomainError::with(ErrorCode::BillingPaymentState, [s, "退费"]));
    }
    if f.reason.trim().is_empty() {
        return Err(DomainError::field("reason", ErrorCode::Required, [""; 0]));
    }
    let charges = dayi_store::billing::charges_of_payment(&app.db, actor.org_id, payment_id).await.or_internal()?;
    let orders_executed = executed_orders(app, actor.org_id, &charges).await?;
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
    let refunded: i64 = dayi_store::billing::refunds_of_payment(&app.db, actor.org_id, payment_id)
        .await
        .or_internal()?
        .iter()
        .filter(|r| r.status != "failed")
        .map(|r| r.amount_fen)
        .sum();
    if amount > p.amount_fen - refunded {
        return Err(DomainError::with(ErrorCode::BillingRefundTooMuch, [yuan(amount), yuan(p.amount_fen - refunded)]));
    }
    let now = now_micros();
    let id = crate::new_id();
    let online = p.method == Method::Online.code();
    let r = Refund {
        org_id: actor.org_id,
        id,
        refund_no: format!("TF{}", &pay_no(now, id)[2..]),
        idem_key: key.to_string(),
        payment_id,
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
    };
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::billing::insert_refund(&mut tx, &r).await.or_internal()? {
        // The key was taken meanwhile (another server): `refund` answers it.
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    if dayi_store::billing::refund_charges(&mut tx, actor.org_id, ids, id, now).await.or_internal()? != ids.len() as u64
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
        Some(p.patient_id),
        OK,
        &format!("{} 元：{}", yuan(amount), r.reason),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    if online {
        let prov = provider(app, actor.org_id, &p.provider).await?;
        let order = RefundOrder {
            out_trade_no: p.pay_no.clone(),
            out_refund_no: r.refund_no.clone(),
            amount_fen: amount,
            total_fen: p.amount_fen,
            reason: r.reason.clone(),
        };
        let outcome = prov.refund(&order).await;
        let mut tx = app.db.begin().await.or_internal()?;
        match &outcome {
            Ok(done) => {
                let status = if done.state == pay::RefundState::Failed { "failed" } else { "done" };
                dayi_store::billing::set_refund(&mut tx, actor.org_id, id, status, done.refund_id.as_deref())
                    .await
                    .or_internal()?;
            }
            Err(_) => dayi_store::billing::set_refund(&mut tx, actor.org_id, id, "failed", None).await.or_internal()?,
        }
        tx.commit().await.or_internal()?;
        outcome.map_err(pay_error)?;
    }
    receipt_of(app, actor.org_id, p).await
}

async fn executed_orders(app: &App, org_id: Uuid, charges: &[Charge]) -> Result<Vec<Uuid>, DomainError> {
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

/// A closing with its lines, and whether its rows still add up to it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClosingView {
    pub closing: Closing,
    pub totals: Totals,
    /// The payments and refunds stamped with this closing, summed again.
    pub balanced: bool,
    pub net: String,
}

/// The open (not yet closed) totals of an account.
pub async fn open_totals(app: &App, actor: &Actor, account: &str) -> Result<Totals, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    let moves = movements(&mut tx, actor.org_id, account).await?;
    tx.rollback().await.or_internal()?;
    Ok(b::totals(&moves))
}

async fn movements(tx: &mut dayi_store::Tx, org_id: Uuid, account: &str) -> Result<Vec<Movement>, DomainError> {
    Ok(dayi_store::billing::open_movements(tx, org_id, account)
        .await
        .or_internal()?
        .into_iter()
        .filter_map(movement)
        .collect())
}

fn movement(m: dayi_store::billing::Movement) -> Option<Movement> {
    Some(Movement { method: Method::parse(&m.method)?, fen: m.fen })
}

/// The daily closing (日结) of the actor's own till, or of the online account.
pub async fn close_day(app: &App, actor: &Actor, online: bool) -> Result<ClosingView, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let account = if online { ONLINE.to_string() } else { actor.username.clone() };
    let now = now_micros();
    let id = crate::new_id();
    let mut tx = app.db.begin().await.or_internal()?;
    let moves = movements(&mut tx, actor.org_id, &account).await?;
    let t = b::totals(&moves);
    let c = Closing {
        org_id: actor.org_id,
        id,
        account: account.clone(),
        closed_by: actor.username.clone(),
        payments: t.payments,
        refunds: t.refunds,
        paid_fen: t.paid_fen,
        refunded_fen: t.refunded_fen,
        net_fen: t.net_fen,
        lines: serde_json::to_string(&t.lines).or_internal()?,
        created_at: now,
    };
    dayi_store::billing::insert_closing(&mut tx, &c).await.or_internal()?;
    let (np, nr) = dayi_store::billing::close_movements(&mut tx, actor.org_id, &account, id).await.or_internal()?;
    // What was summed is exactly what was stamped, or nothing is closed.
    if np as i64 != t.payments || nr as i64 != t.refunds {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    let detail = format!("收 {} 元，退 {} 元，净 {} 元", yuan(t.paid_fen), yuan(t.refunded_fen), yuan(t.net_fen));
    let entry = actor.entry("billing.close_day", "closing", &id.to_string(), None, OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    closing(app, actor, id).await
}

pub async fn closing(app: &App, actor: &Actor, id: Uuid) -> Result<ClosingView, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let c = dayi_store::billing::closing(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let moves: Vec<Movement> = dayi_store::billing::closed_movements(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .into_iter()
        .filter_map(movement)
        .collect();
    let again = b::totals(&moves);
    let lines: Vec<b::Line> = serde_json::from_str(&c.lines).unwrap_or_default();
    let balanced = again.net_fen == c.net_fen
        && again.paid_fen == c.paid_fen
        && again.refunded_fen == c.refunded_fen
        && again.lines == lines;
    Ok(ClosingView { net: yuan(c.net_fen), totals: again, balanced, closing: c })
}

pub async fn closings(app: &App, actor: &Actor, online: bool) -> Result<Vec<Closing>, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let account = if online { ONLINE.to_string() } else { actor.username.clone() };
    dayi_store::billing::closings(&app.db, actor.org_id, &account, 30).await.or_internal()
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
