//! Charges, payments, refunds and cashiers' closings, and the ledger of the
//! built-in local payment provider. Every change of money is a conditional
//! update (`… AND status = 'unpaid'`), so a repeated request finds nothing
//! left to change instead of charging twice.

use sqlx::FromRow;
use uuid::Uuid;

use crate::booking::{Charge, charge_cols};
use crate::fetch::Sql;
use crate::{Db, On, Result, Tx, args, row};

/// A patient's charges in the given statuses, oldest first.
pub async fn charges_of(db: &Db, org_id: Uuid, patient_id: Uuid, statuses: &[&str]) -> Result<Vec<Charge>> {
    let mut q = Sql::new(concat!("SELECT ", charge_cols!(), " FROM charge WHERE org_id = "));
    q.arg(org_id).push(" AND patient_id = ").arg(patient_id).push(" AND status IN (");
    q.list(statuses.iter().copied());
    q.push(") ORDER BY created_at, id");
    db.all::<Charge>(&q.text, &q.args).await
}

/// Charges by id (any patient; the caller checks).
pub async fn charges_by_id(tx: &mut Tx, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Charge>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(concat!("SELECT ", charge_cols!(), " FROM charge WHERE org_id = "));
    q.arg(org_id).push(" AND id IN (");
    q.list(ids.iter().copied());
    q.push(") ORDER BY created_at, id");
    tx.all::<Charge>(&q.text, &q.args).await
}

pub async fn charges_of_payment<'a>(on: impl Into<On<'a>>, org_id: Uuid, payment_id: Uuid) -> Result<Vec<Charge>> {
    let sql = concat!(
        "SELECT ",
        charge_cols!(),
        " FROM charge WHERE org_id = $1 AND payment_id = $2 ORDER BY created_at, id"
    );
    On::of(on).all::<Charge>(sql, args![org_id, payment_id]).await
}

/// Holds unpaid charges for a payment (`payment_id` set, still unpaid): only
/// charges free or held by a payment in `released` states are taken.
/// Returns how many were taken; the caller compares with what it asked for.
pub async fn hold(tx: &mut Tx, org_id: Uuid, ids: &[Uuid], payment_id: Uuid, at: i64) -> Result<u64> {
    let mut q = Sql::new("UPDATE charge SET payment_id = ");
    q.arg(payment_id).push(", updated_at = ").arg(at).push(" WHERE org_id = ").arg(org_id);
    q.push(
        " AND status = 'unpaid' AND (payment_id IS NULL OR payment_id IN \
             (SELECT id FROM payment WHERE org_id = ",
    )
    .arg(org_id);
    q.push(" AND status IN ('failed', 'closed'))) AND id IN (");
    q.list(ids.iter().copied());
    q.push(")");
    tx.execute(&q.text, &q.args).await
}

/// Marks the charges a payment holds as paid; returns how many.
pub async fn settle(tx: &mut Tx, org_id: Uuid, payment_id: Uuid, at: i64) -> Result<u64> {
    let sql = "UPDATE charge SET status = 'paid', updated_at = $3 WHERE org_id = $1 AND payment_id = $2 AND status = 'unpaid'";
    tx.execute(sql, args![org_id, payment_id, at]).await
}

/// Lets go of the charges a payment held (it failed or was closed).
pub async fn release(tx: &mut Tx, org_id: Uuid, payment_id: Uuid, at: i64) -> Result<u64> {
    let sql = "UPDATE charge SET payment_id = NULL, updated_at = $3 WHERE org_id = $1 AND payment_id = $2 AND status = 'unpaid'";
    tx.execute(sql, args![org_id, payment_id, at]).await
}

/// Marks paid charges refunded; returns how many.
pub async fn refund_charges(tx: &mut Tx, org_id: Uuid, ids: &[Uuid], refund_id: Uuid, at: i64) -> Result<u64> {
    let mut q = Sql::new("UPDATE charge SET status = 'refunded', refund_id = ");
    q.arg(refund_id).push(", updated_at = ").arg(at).push(" WHERE org_id = ").arg(org_id);
    q.push(" AND status = 'paid' AND id IN (");
    q.list(ids.iter().copied());
    q.push(")");
    tx.execute(&q.text, &q.args).await
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    pub org_id: Uuid,
    pub id: Uuid,
    /// The receipt number and the provider's `out_trade_no`.
    pub pay_no: String,
    pub idem_key: String,
    pub patient_id: Uuid,
    /// cash, card, online.
    pub method: String,
    /// counter, portal.
    pub channel: String,
    pub amount_fen: i64,
    pub tendered_fen: i64,
    pub change_fen: i64,
    /// created, paid, failed, closed.
    pub status: String,
    /// `local`, `wechat`; empty for cash and card.
    pub provider: String,
    pub pay_url: String,
    pub transaction_id: Option<String>,
    /// Whose till it counts in: the cashier's user name, or `online`.
    pub account: String,
    pub cashier: String,
    pub closing_id: Option<Uuid>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub updated_at: i64,
}

crate::lite_row!(Payment {
    org_id,
    id,
    pay_no,
    idem_key,
    patient_id,
    method,
    channel,
    amount_fen,
    tendered_fen,
    change_fen,
    status,
    provider,
    pay_url,
    transaction_id,
    account,
    cashier,
    closing_id,
    created_at,
    paid_at,
    updated_at
});

macro_rules! payment_cols {
    () => {
        "org_id, id, pay_no, idem_key, patient_id, method, channel, amount_fen, tendered_fen, change_fen, \
                       status, provider, pay_url, transaction_id, account, cashier, closing_id, created_at, paid_at, updated_at"
    };
}

/// Adds a payment; false when its request key or number is taken (a repeat).
pub async fn insert_payment(tx: &mut Tx, p: &Payment) -> Result<bool> {
    let sql = concat!(
        "INSERT INTO payment (",
        payment_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
         ON CONFLICT DO NOTHING"
    );
    tx.execute(
        sql,
        args![
            p.org_id,
            p.id,
            p.pay_no.clone(),
            p.idem_key.clone(),
            p.patient_id,
            p.method.clone(),
            p.channel.clone(),
            p.amount_fen,
            p.tendered_fen,
            p.change_fen,
            p.status.clone(),
            p.provider.clone(),
            p.pay_url.clone(),
            p.transaction_id.clone(),
            p.account.clone(),
            p.cashier.clone(),
            p.closing_id,
            p.created_at,
            p.paid_at,
            p.updated_at
        ],
    )
    .await
    .map(|n| n == 1)
}

/// Stores who pays a payment: (payer code, fen) parts that sum to its amount.
pub async fn insert_parts(tx: &mut Tx, org_id: Uuid, payment_id: Uuid, parts: &[(&str, i64)]) -> Result<()> {
    let mut q = Sql::new("INSERT INTO payment_part (org_id, payment_id, payer, fen) ");
    q.values(parts, |(payer, fen)| row![org_id, payment_id, *payer, *fen]);
    tx.execute(&q.text, &q.args).await?;
    Ok(())
}

/// A payment's parts, (payer code, fen), by payer code.
pub async fn parts_of(db: &Db, org_id: Uuid, payment_id: Uuid) -> Result<Vec<(String, i64)>> {
    let sql = "SELECT payer, fen FROM payment_part WHERE org_id = $1 AND payment_id = $2 ORDER BY payer";
    db.all::<(String, i64)>(sql, args![org_id, payment_id]).await
}

pub async fn payment(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Payment>> {
    let sql = concat!("SELECT ", payment_cols!(), " FROM payment WHERE org_id = $1 AND id = $2");
    db.optional::<Payment>(sql, args![org_id, id]).await
}

pub async fn payment_by_key(db: &Db, org_id: Uuid, key: &str) -> Result<Option<Payment>> {
    let sql = concat!("SELECT ", payment_cols!(), " FROM payment WHERE org_id = $1 AND idem_key = $2");
    db.optional::<Payment>(sql, args![org_id, key]).await
}

pub async fn payment_by_no(db: &Db, org_id: Uuid, pay_no: &str) -> Result<Option<Payment>> {
    let sql = concat!("SELECT ", payment_cols!(), " FROM payment WHERE org_id = $1 AND pay_no = $2");
    db.optional::<Payment>(sql, args![org_id, pay_no]).await
}

pub async fn payments_of(db: &Db, org_id: Uuid, patient_id: Uuid, limit: i64) -> Result<Vec<Payment>> {
    let sql = concat!(
        "SELECT ",
        payment_cols!(),
        " FROM payment WHERE org_id = $1 AND patient_id = $2 ORDER BY created_at DESC LIMIT $3"
    );
    db.all::<Payment>(sql, args![org_id, patient_id, limit]).await
}

/// Moves a payment between states; false when it was not in one of `from`.
pub async fn set_payment_status(
    tx: &mut Tx,
    org_id: Uuid,
    id: Uuid,
    from: &[&str],
    to: &str,
    transaction_id: Option<&str>,
    at: i64,
) -> Result<bool> {
    let mut q = Sql::new("UPDATE payment SET status = ");
    q.arg(to).push(", updated_at = ").arg(at);
    if to == "paid" {
        q.push(", paid_at = ").arg(at);
    }
    if let Some(t) = transaction_id {
        q.push(", transaction_id = ").arg(t);
    }
    q.push(" WHERE org_id = ").arg(org_id).push(" AND id = ").arg(id).push(" AND status IN (");
    q.list(from.iter().copied());
    q.push(")");
    tx.execute(&q.text, &q.args).await.map(|n| n == 1)
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Refund {
    pub org_id: Uuid,
    pub id: Uuid,
    pub refund_no: String,
    pub idem_key: String,
    pub payment_id: Uuid,
    pub patient_id: Uuid,
    pub method: String,
    pub amount_fen: i64,
    /// done, processing, failed.
    pub status: String,
    pub provider_id: Option<String>,
    pub reason: String,
    pub account: String,
    pub cashier: String,
    pub closing_id: Option<Uuid>,
    pub created_at: i64,
}

crate::lite_row!(Refund {
    org_id,
    id,
    refund_no,
    idem_key,
    payment_id,
    patient_id,
    method,
    amount_fen,
    status,
    provider_id,
    reason,
    account,
    cashier,
    closing_id,
    created_at
});

macro_rules! refund_cols {
    () => {
        "org_id, id, refund_no, idem_key, payment_id, patient_id, method, amount_fen, status, provider_id, \
                      reason, account, cashier, closing_id, created_at"
    };
}

/// Adds a refund; false when its request key is taken (a repeat).
pub async fn insert_refund(tx: &mut Tx, r: &Refund) -> Result<bool> {
    let sql = concat!(
        "INSERT INTO refund (",
        refund_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT DO NOTHING"
    );
    tx.execute(
        sql,
        args![
            r.org_id,
            r.id,
            r.refund_no.clone(),
            r.idem_key.clone(),
            r.payment_id,
            r.patient_id,
            r.method.clone(),
            r.amount_fen,
            r.status.clone(),
            r.provider_id.clone(),
            r.reason.clone(),
            r.account.clone(),
            r.cashier.clone(),
            r.closing_id,
            r.created_at
        ],
    )
    .await
    .map(|n| n == 1)
}

pub async fn refund_by_key(db: &Db, org_id: Uuid, key: &str) -> Result<Option<Refund>> {
    let sql = concat!("SELECT ", refund_cols!(), " FROM refund WHERE org_id = $1 AND idem_key = $2");
    db.optional::<Refund>(sql, args![org_id, key]).await
}

pub async fn refunds_of_payment(db: &Db, org_id: Uuid, payment_id: Uuid) -> Result<Vec<Refund>> {
    let sql =
        concat!("SELECT ", refund_cols!(), " FROM refund WHERE org_id = $1 AND payment_id = $2 ORDER BY created_at");
    db.all::<Refund>(sql, args![org_id, payment_id]).await
}

pub async fn set_refund(tx: &mut Tx, org_id: Uuid, id: Uuid, status: &str, provider_id: Option<&str>) -> Result<()> {
    let sql = "UPDATE refund SET status = $3, provider_id = COALESCE($4, provider_id) WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, status, provider_id]).await.map(|_| ())
}

/// One movement of money in an account not yet closed: (method, fen), a
/// refund negative.
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize)]
pub struct Movement {
    pub method: String,
    pub fen: i64,
}

crate::lite_row!(Movement { method, fen });

/// What an account took and gave back since its last closing.
pub async fn open_movements(tx: &mut Tx, org_id: Uuid, account: &str) -> Result<Vec<Movement>> {
    let sql = "SELECT method, amount_fen AS fen FROM payment WHERE org_id = $1 AND account = $2 AND closing_id IS NULL \
               AND status = 'paid' \
               UNION ALL SELECT method, -amount_fen AS fen FROM refund WHERE org_id = $1 AND account = $2 \
               AND closing_id IS NULL AND status = 'done'";
    tx.all::<Movement>(sql, args![org_id, account]).await
}

/// Stamps the account's open payments and refunds with the closing; returns (payments, refunds).
pub async fn close_movements(tx: &mut Tx, org_id: Uuid, account: &str, closing_id: Uuid) -> Result<(u64, u64)> {
    let p = "UPDATE payment SET closing_id = $3 WHERE org_id = $1 AND account = $2 AND closing_id IS NULL AND status = 'paid'";
    let r = "UPDATE refund SET closing_id = $3 WHERE org_id = $1 AND account = $2 AND closing_id IS NULL AND status = 'done'";
    let a = tx.execute(p, args![org_id, account, closing_id]).await?;
    let b = tx.execute(r, args![org_id, account, closing_id]).await?;
    Ok((a, b))
}

/// The money a closing covers, read back from its payments and refunds.
pub async fn closed_movements(db: &Db, org_id: Uuid, closing_id: Uuid) -> Result<Vec<Movement>> {
    let sql = "SELECT method, amount_fen AS fen FROM payment WHERE org_id = $1 AND closing_id = $2 \
               UNION ALL SELECT method, -amount_fen AS fen FROM refund WHERE org_id = $1 AND closing_id = $2";
    db.all::<Movement>(sql, args![org_id, closing_id]).await
}

#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Closing {
    pub org_id: Uuid,
    pub id: Uuid,
    pub account: String,
    pub closed_by: String,
    pub payments: i64,
    pub refunds: i64,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    pub net_fen: i64,
    /// Per method, JSON.
    pub lines: String,
    pub created_at: i64,
}

crate::lite_row!(Closing {
    org_id,
    id,
    account,
    closed_by,
    payments,
    refunds,
    paid_fen,
    refunded_fen,
    net_fen,
    lines,
    created_at
});

macro_rules! closing_cols {
    () => {
        "org_id, id, account, closed_by, payments, refunds, paid_fen, refunded_fen, net_fen, lines, created_at"
    };
}

pub async fn insert_closing(tx: &mut Tx, r: &Closing) -> Result<()> {
    let sql =
        concat!("INSERT INTO closing (", closing_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
    tx.execute(
        sql,
        args![
            r.org_id,
            r.id,
            r.account.clone(),
            r.closed_by.clone(),
            r.payments,
            r.refunds,
            r.paid_fen,
            r.refunded_fen,
            r.net_fen,
            r.lines.clone(),
            r.created_at
        ],
    )
    .await
    .map(|_| ())
}

pub async fn closings(db: &Db, org_id: Uuid, account: &str, limit: i64) -> Result<Vec<Closing>> {
    let sql = concat!(
        "SELECT ",
        closing_cols!(),
        " FROM closing WHERE org_id = $1 AND account = $2 ORDER BY created_at DESC LIMIT $3"
    );
    db.all::<Closing>(sql, args![org_id, account, limit]).await
}

pub async fn closing(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Closing>> {
    let sql = concat!("SELECT ", closing_cols!(), " FROM closing WHERE org_id = $1 AND id = $2");
    db.optional::<Closing>(sql, args![org_id, id]).await
}

/// The local payment provider's own order (its ledger, not Dayi's).
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize)]
pub struct LocalOrder {
    pub org_id: Uuid,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub description: String,
    pub notify_url: String,
    pub return_url: String,
    /// created, paid, failed, closed, refunded.
    pub state: String,
    pub transaction_id: Option<String>,
    pub paid_fen: i64,
    pub refunded_fen: i64,
    /// Callbacks delivered and acknowledged.
    pub notified: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

crate::lite_row!(LocalOrder {
    org_id,
    out_trade_no,
    amount_fen,
    description,
    notify_url,
    return_url,
    state,
    transaction_id,
    paid_fen,
    refunded_fen,
    notified,
    created_at,
    updated_at
});

macro_rules! local_cols {
    () => {
        "org_id, out_trade_no, amount_fen, description, notify_url, return_url, state, transaction_id, \
                     paid_fen, refunded_fen, notified, created_at, updated_at"
    };
}

/// Creates the order; false when the number exists (the provider then answers with the existing one).
pub async fn local_insert(db: &Db, o: &LocalOrder) -> Result<bool> {
    let sql = concat!(
        "INSERT INTO local_pay_order (",
        local_cols!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING"
    );
    // The provider's own writes, each in a transaction of its own (SQLite writes through the writer).
    let mut tx = db.begin().await?;
    let done = tx
        .execute(
            sql,
            args![
                o.org_id,
                o.out_trade_no.clone(),
                o.amount_fen,
                o.description.clone(),
                o.notify_url.clone(),
                o.return_url.clone(),
                o.state.clone(),
                o.transaction_id.clone(),
                o.paid_fen,
                o.refunded_fen,
                o.notified,
                o.created_at,
                o.updated_at
            ],
        )
        .await
        .map(|n| n == 1)?;
    tx.commit().await?;
    Ok(done)
}

pub async fn local_get(db: &Db, org_id: Uuid, out_trade_no: &str) -> Result<Option<LocalOrder>> {
    let sql = concat!("SELECT ", local_cols!(), " FROM local_pay_order WHERE org_id = $1 AND out_trade_no = $2");
    db.optional::<LocalOrder>(sql, args![org_id, out_trade_no]).await
}

/// Moves the order from `from` to `to`; false when it was elsewhere.
/// Where a local order moves: its new state, the transaction id once paid, what was paid.
pub struct LocalMove<'a> {
    pub to: &'a str,
    pub transaction_id: Option<&'a str>,
    pub paid_fen: i64,
    pub at: i64,
}

pub async fn local_set(db: &Db, org_id: Uuid, out_trade_no: &str, from: &str, m: LocalMove<'_>) -> Result<bool> {
    let sql = "UPDATE local_pay_order SET state = $4, transaction_id = COALESCE($5, transaction_id), \
               paid_fen = $6, updated_at = $7 WHERE org_id = $1 AND out_trade_no = $2 AND state = $3";
    let mut tx = db.begin().await?;
    let done = tx
        .execute(sql, args![org_id, out_trade_no, from, m.to, m.transaction_id, m.paid_fen, m.at])
        .await
        .map(|n| n == 1)?;
    tx.commit().await?;
    Ok(done)
}

pub async fn local_notified(db: &Db, org_id: Uuid, out_trade_no: &str) -> Result<()> {
    let sql = "UPDATE local_pay_order SET notified = notified + 1 WHERE org_id = $1 AND out_trade_no = $2";
    let mut tx = db.begin().await?;
    tx.execute(sql, args![org_id, out_trade_no]).await.map(|_| ())?;
    tx.commit().await
}

/// Records a refund once (by its number) and adds it to the order, if the
/// order has that much left; answers the refund's id, or `None` when there
/// is not enough left.
pub async fn local_refund(
    db: &Db,
    org_id: Uuid,
    out_trade_no: &str,
    out_refund_no: &str,
    amount: i64,
    at: i64,
) -> Result<Option<String>> {
    let mut tx = db.begin().await?;
    let existing = "SELECT refund_id FROM local_pay_refund WHERE org_id = $1 AND out_refund_no = $2";
    if let Some(id) = tx.scalar_optional::<String>(existing, args![org_id, out_refund_no]).await? {
        return Ok(Some(id));
    }
    let take = "UPDATE local_pay_order SET refunded_fen = refunded_fen + $3, state = 'refunded', updated_at = $4 \
                WHERE org_id = $1 AND out_trade_no = $2 AND state IN ('paid', 'refunded') AND refunded_fen + $3 <= paid_fen";
    let ok = tx.execute(take, args![org_id, out_trade_no, amount, at]).await.map(|n| n == 1)?;
    if !ok {
        return Ok(None);
    }
    let id = format!("LR{}", Uuid::now_v7().simple());
    let add = "INSERT INTO local_pay_refund (org_id, out_refund_no, out_trade_no, amount_fen, refund_id, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6)";
    tx.execute(add, args![org_id, out_refund_no, out_trade_no, amount, id.clone(), at]).await.map(|_| ())?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Voids an unpaid charge that no online payment in progress holds; false otherwise.
pub async fn void_free(tx: &mut Tx, org_id: Uuid, id: Uuid, at: i64) -> Result<bool> {
    let sql = "UPDATE charge SET status = 'void', updated_at = $3 WHERE org_id = $1 AND id = $2 AND status = 'unpaid' \
               AND (payment_id IS NULL OR payment_id IN (SELECT id FROM payment WHERE org_id = $1 AND status IN ('failed', 'closed')))";
    tx.execute(sql, args![org_id, id, at]).await.map(|n| n == 1)
}

pub async fn set_pay_url(tx: &mut Tx, org_id: Uuid, id: Uuid, url: &str) -> Result<()> {
    let sql = "UPDATE payment SET pay_url = $3 WHERE org_id = $1 AND id = $2";
    tx.execute(sql, args![org_id, id, url]).await.map(|_| ())
}

/// A payment's receipt number, inside a transaction.
pub async fn pay_no<'a>(on: impl Into<On<'a>>, org_id: Uuid, id: Uuid) -> Result<Option<String>> {
    let sql = "SELECT pay_no FROM payment WHERE org_id = $1 AND id = $2";
    On::of(on).scalar_optional::<String>(sql, args![org_id, id]).await
}
