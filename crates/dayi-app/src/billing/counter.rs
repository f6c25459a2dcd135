//! Payment at the counter (cash, card): the charges asked for, checked against what is owed,
//! settled once per request key.

use dayi_core::audit::OK;
use dayi_core::billing::settlement::Settlement;
use dayi_core::billing::{self as b, Method, PaymentStatus};
use dayi_core::catalog::yuan;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::billing::Payment;
use dayi_store::booking::Charge;
use serde::Deserialize;
use uuid::Uuid;

use super::{Receipt, receipt_of};
use crate::{Actor, App, OrInternal};

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

pub(super) fn parse_ids(ids: &[String]) -> Result<Vec<Uuid>, DomainError> {
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

pub(super) fn key_of(f: &PayForm) -> Result<String, DomainError> {
    let k = f.key.trim();
    if k.is_empty() || k.len() > 64 || !k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
        return Err(DomainError::new(ErrorCode::BillingKey));
    }
    Ok(k.to_string())
}

/// The same request key seen before: the same payment if it asked the same.
pub(super) async fn replay(
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
pub(super) async fn answer_or_replay(
    answer: Result<Receipt, DomainError>,
    replay: impl std::future::Future<Output = Result<Option<Receipt>, DomainError>>,
) -> Result<Receipt, DomainError> {
    match answer {
        Err(e) if e.code != ErrorCode::Internal => replay.await?.ok_or(e),
        other => other,
    }
}

pub(super) async fn pay_at_counter(
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
pub(super) async fn store_parts(
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
pub(super) async fn due_of(
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
pub(super) fn check_charges(
    charges: &[Charge],
    ids: &[Uuid],
    patient_id: Uuid,
    expected: i64,
) -> Result<i64, DomainError> {
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
pub(super) async fn insert_payment(app: &App, tx: &mut dayi_store::Tx, p: &mut Payment) -> Result<bool, DomainError> {
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
pub(super) const RECEIPT_DRAWS: usize = 4;

/// A receipt number that sorts by time: SF + yymmddHHMMSS + 6 of the id.
pub(super) fn pay_no(now: i64, id: Uuid) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(now / 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(dayi_core::timefmt::CST);
    let fmt = time::macros::format_description!("[year repr:last_two][month][day][hour][minute][second]");
    format!("SF{}{}", t.format(fmt).unwrap_or_default(), &id.simple().to_string()[26..])
}
