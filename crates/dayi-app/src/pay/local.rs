//! 本地模拟支付 (LocalPay): the built-in payment provider. It is a payment
//! service of its own inside Dayi, with its own ledger (`local_pay_order`,
//! `local_pay_refund`) apart from Dayi's payments, and it behaves as the
//! real providers do:
//!
//! - an order is created once per `out_trade_no` (a repeat answers the
//!   same checkout; a different amount is refused);
//! - the patient pays, or the payment fails, on the provider's checkout
//!   page (`/pay/local/{merchant}/{out_trade_no}`), never in Dayi's pages;
//! - the outcome is posted to Dayi's `notify_url`, signed
//!   (HMAC-SHA256 over `timestamp\nnonce\nbody\n` with the merchant's key), and
//!   retried until acknowledged, so Dayi may receive it more than once;
//! - orders can be queried, closed while unpaid, and refunded up to what was paid.
//!
//! No money moves: the checkout says so. A hospital that takes real online
//! payments configures the WeChat Pay adapter instead.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use dayi_core::timefmt::now_micros;
use dayi_store::Db;
use dayi_store::billing::{LocalMove, LocalOrder};
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

use super::{Callback, Created, Order, PayError, Provider, RefundOrder, RefundState, Refunded, State, Status};

/// Headers of a callback.
pub const TIMESTAMP: &str = "dayi-pay-timestamp";
pub const NONCE: &str = "dayi-pay-nonce";
pub const SIGNATURE: &str = "dayi-pay-signature";
/// A callback older or newer than this is refused (replay).
const SKEW_SECS: i64 = 300;
/// Waits between callback attempts (the real providers back off similarly).
const RETRIES: [u64; 7] = [0, 1, 2, 4, 8, 15, 30];

/// The provider for one merchant (one hospital).
#[derive(Clone)]
pub struct LocalPay {
    db: Db,
    merchant: Uuid,
    key: Vec<u8>,
    client: reqwest::Client,
}

/// The body of a callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Notice {
    pub merchant: Uuid,
    pub out_trade_no: String,
    pub state: State,
    pub transaction_id: Option<String>,
    pub paid_fen: i64,
}

fn err(e: impl std::fmt::Display) -> PayError {
    PayError::Unavailable(e.to_string())
}

fn state_of(s: &str) -> State {
    match s {
        "paid" => State::Paid,
        "failed" => State::Failed,
        "closed" => State::Closed,
        "refunded" => State::Refunded,
        _ => State::Created,
    }
}

impl LocalPay {
    pub fn new(db: Db, merchant: Uuid, key: Vec<u8>, client: reqwest::Client) -> LocalPay {
        LocalPay { db, merchant, key, client }
    }

    /// The checkout page of an order (relative to the server).
    pub fn checkout_path(merchant: Uuid, out_trade_no: &str) -> String {
        format!("/pay/local/{}/{out_trade_no}", merchant.simple())
    }

    pub async fn order(&self, out_trade_no: &str) -> Result<Option<LocalOrder>, PayError> {
        dayi_store::billing::local_get(&self.db, self.merchant, out_trade_no).await.map_err(err)
    }

    /// The patient confirms at the checkout: the order is paid and Dayi told.
    pub async fn pay(&self, out_trade_no: &str) -> Result<LocalOrder, PayError> {
        self.settle(out_trade_no, true).await
    }

    /// The payment fails at the checkout (e.g. the balance is short).
    pub async fn fail(&self, out_trade_no: &str) -> Result<LocalOrder, PayError> {
        self.settle(out_trade_no, false).await
    }

    async fn settle(&self, out_trade_no: &str, paid: bool) -> Result<LocalOrder, PayError> {
        let o = self.order(out_trade_no).await?.ok_or_else(|| PayError::Refused("ORDER_NOT_EXIST".into()))?;
        let (to, txn, fen) = match paid {
            true => ("paid", Some(format!("LP{}", Uuid::now_v7().simple())), o.amount_fen),
            false => ("failed", None, 0),
        };
        let mut moved = false;
        for from in ["created", "failed"] {
            if from == "failed" && !paid {
                continue;
            }
            moved |= dayi_store::billing::local_set(
                &self.db,
                self.merchant,
                out_trade_no,
                from,
                LocalMove { to, transaction_id: txn.as_deref(), paid_fen: fen, at: now_micros() },
            )
            .await
            .map_err(err)?;
        }
        let now = self.order(out_trade_no).await?.ok_or_else(|| PayError::Refused("ORDER_NOT_EXIST".into()))?;
        if !moved {
            return Err(PayError::Refused(format!("ORDER_{}", now.state.to_uppercase())));
        }
        self.notify(&now);
        Ok(now)
    }

    /// The signed callback for an order as it stands.
    pub fn callback(&self, o: &LocalOrder, timestamp: i64, nonce: &str) -> Callback {
        let notice = Notice {
            merchant: self.merchant,
            out_trade_no: o.out_trade_no.clone(),
            state: state_of(&o.state),
            transaction_id: o.transaction_id.clone(),
            paid_fen: o.paid_fen,
        };
        let body = serde_json::to_vec(&notice).unwrap_or_default();
        let signature = self.sign(timestamp, nonce, &body);
        Callback {
            headers: vec![
                (TIMESTAMP.into(), timestamp.to_string()),
                (NONCE.into(), nonce.into()),
                (SIGNATURE.into(), signature),
                ("content-type".into(), "application/json".into()),
            ],
            body,
        }
    }

    /// The MAC over `timestamp\nnonce\nbody\n`, for signing and verifying alike.
    fn mac(&self, timestamp: i64, nonce: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{timestamp}\n{nonce}\n").as_bytes());
        mac.update(body);
        mac.update(b"\n");
        mac
    }

    fn sign(&self, timestamp: i64, nonce: &str, body: &[u8]) -> String {
        B64.encode(self.mac(timestamp, nonce, body).finalize().into_bytes())
    }

    /// Posts the callback in the background until Dayi acknowledges it.
    fn notify(&self, o: &LocalOrder) {
        let me = self.clone();
        let o = o.clone();
        tokio::spawn(async move {
            for wait in RETRIES {
                tokio::time::sleep(Duration::from_secs(wait)).await;
                let mut nonce = [0u8; 12];
                rand::thread_rng().fill_bytes(&mut nonce);
                let cb = me.callback(&o, now_micros() / 1_000_000, &hex::encode(nonce));
                let mut req = me.client.post(&o.notify_url).body(cb.body.clone());
                for (k, v) in &cb.headers {
                    req = req.header(k, v);
                }
                match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = dayi_store::billing::local_notified(&me.db, me.merchant, &o.out_trade_no).await;
                        return;
                    }
                    Ok(r) => {
                        tracing::warn!(status = %r.status(), order = %o.out_trade_no, "local pay: callback refused")
                    }
                    Err(e) => tracing::warn!(error = %e, order = %o.out_trade_no, "local pay: callback failed"),
                }
            }
        });
    }

    fn status(o: &LocalOrder) -> Status {
        Status {
            out_trade_no: o.out_trade_no.clone(),
            state: state_of(&o.state),
            transaction_id: o.transaction_id.clone(),
            paid_fen: o.paid_fen,
        }
    }
}

impl Provider for LocalPay {
    fn name(&self) -> &'static str {
        "local"
    }

    fn create<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Result<Created, PayError>> {
        Box::pin(async move {
            if order.amount_fen <= 0 {
                return Err(PayError::Refused("INVALID_AMOUNT".into()));
            }
            let now = now_micros();
            let row = LocalOrder {
                org_id: self.merchant,
                out_trade_no: order.out_trade_no.clone(),
                amount_fen: order.amount_fen,
                description: order.description.clone(),
                notify_url: order.notify_url.clone(),
                return_url: order.return_url.clone(),
                state: "created".into(),
                transaction_id: None,
                paid_fen: 0,
                refunded_fen: 0,
                notified: 0,
                created_at: now,
                updated_at: now,
            };
            if !dayi_store::billing::local_insert(&self.db, &row).await.map_err(err)? {
                let had = self.order(&order.out_trade_no).await?.ok_or_else(|| err("order vanished"))?;
                if had.amount_fen != order.amount_fen {
                    return Err(PayError::Refused("OUT_TRADE_NO_USED: 订单号已用于另一金额".into()));
                }
            }
            Ok(Created { pay_url: LocalPay::checkout_path(self.merchant, &order.out_trade_no) })
        })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<Status, PayError>> {
        Box::pin(async move {
            let o = self.order(out_trade_no).await?.ok_or_else(|| PayError::Refused("ORDER_NOT_EXIST".into()))?;
            Ok(LocalPay::status(&o))
        })
    }

    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<(), PayError>> {
        Box::pin(async move {
            for from in ["created", "failed"] {
                dayi_store::billing::local_set(
                    &self.db,
                    self.merchant,
                    out_trade_no,
                    from,
                    LocalMove { to: "closed", transaction_id: None, paid_fen: 0, at: now_micros() },
                )
                .await
                .map_err(err)?;
            }
            let o = self.order(out_trade_no).await?.ok_or_else(|| PayError::Refused("ORDER_NOT_EXIST".into()))?;
            match o.state.as_str() {
                "closed" => Ok(()),
                s => Err(PayError::Refused(format!("ORDER_{}", s.to_uppercase()))),
            }
        })
    }

    fn refund<'a>(&'a self, r: &'a RefundOrder) -> BoxFuture<'a, Result<Refunded, PayError>> {
        Box::pin(async move {
            if r.amount_fen <= 0 {
                return Err(PayError::Refused("INVALID_AMOUNT".into()));
            }
            let id = dayi_store::billing::local_refund(
                &self.db,
                self.merchant,
                &r.out_trade_no,
                &r.out_refund_no,
                r.amount_fen,
                now_micros(),
            )
            .await
            .map_err(err)?
            .ok_or_else(|| PayError::Refused("NOT_ENOUGH: 可退金额不足或订单未支付".into()))?;
            Ok(Refunded { out_refund_no: r.out_refund_no.clone(), refund_id: Some(id), state: RefundState::Succeeded })
        })
    }

    fn verify<'a>(&'a self, cb: &'a Callback) -> BoxFuture<'a, Result<Status, PayError>> {
        Box::pin(async move {
            let bad = |why: &str| PayError::Signature(why.into());
            let ts: i64 = cb.header(TIMESTAMP).and_then(|t| t.parse().ok()).ok_or_else(|| bad("no timestamp"))?;
            if (now_micros() / 1_000_000 - ts).abs() > SKEW_SECS {
                return Err(bad("stale timestamp"));
            }
            let nonce = cb.header(NONCE).ok_or_else(|| bad("no nonce"))?;
            let given = cb.header(SIGNATURE).and_then(|s| B64.decode(s).ok()).ok_or_else(|| bad("no signature"))?;
            self.mac(ts, nonce, &cb.body).verify_slice(&given).map_err(|_| bad("signature mismatch"))?;
            let n: Notice = serde_json::from_slice(&cb.body).map_err(|_| bad("unreadable body"))?;
            if n.merchant != self.merchant {
                return Err(bad("another merchant"));
            }
            Ok(Status {
                out_trade_no: n.out_trade_no,
                state: n.state,
                transaction_id: n.transaction_id,
                paid_fen: n.paid_fen,
            })
        })
    }

    fn ack(&self) -> (u16, String) {
        (200, r#"{"code":"SUCCESS","message":"成功"}"#.into())
    }
}
