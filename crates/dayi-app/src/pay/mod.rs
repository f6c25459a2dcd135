//! The online-payment seam (线上支付). Dayi asks a provider to create a
//! payment order, sends the patient to the provider's checkout, and learns
//! the outcome from the provider's signed callback (or by asking). The
//! built-in provider is [`local::LocalPay`], a payment service inside Dayi
//! with the states and signed callbacks of the real ones; the adapter for
//! WeChat Pay (API v3) is [`wechat::WechatPay`].
//!
//! Amounts are integer fen. Dayi's own payment number is the provider's
//! `out_trade_no`, so every retry of one payment is the same order there.

pub mod local;
pub mod wechat;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A payment order as Dayi asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Dayi's payment number; unique, at most 32 characters of [0-9A-Za-z_-].
    pub out_trade_no: String,
    pub amount_fen: i64,
    /// Shown to the patient at the checkout, e.g. "县人民医院门诊缴费".
    pub description: String,
    /// Where the provider posts its callback.
    pub notify_url: String,
    /// Where the checkout sends the patient back to.
    pub return_url: String,
}

/// What the provider answered to a new order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// Where the patient pays: a page, or a `weixin://` code URL to show as a QR code.
    pub pay_url: String,
}

/// An order's state at the provider (the states all real providers share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for the patient (WeChat `NOTPAY`, `USERPAYING`).
    Created,
    /// Money received (`SUCCESS`).
    Paid,
    /// The payment failed (`PAYERROR`).
    Failed,
    /// Closed unpaid (`CLOSED`, `REVOKED`).
    Closed,
    /// Paid, then (partly) refunded (`REFUND`).
    Refunded,
}

impl State {
    pub fn code(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Paid => "paid",
            State::Failed => "failed",
            State::Closed => "closed",
            State::Refunded => "refunded",
        }
    }
}

/// An order as the provider knows it, from a query or a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub out_trade_no: String,
    pub state: State,
    /// The provider's transaction id, once paid.
    pub transaction_id: Option<String>,
    /// What the patient paid (fen); 0 until paid.
    pub paid_fen: i64,
}

/// A refund as Dayi asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOrder {
    pub out_trade_no: String,
    /// Dayi's refund number; repeating it never refunds twice.
    pub out_refund_no: String,
    pub amount_fen: i64,
    /// The original order's total.
    pub total_fen: i64,
    pub reason: String,
}

/// A refund's state at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Processing,
    Succeeded,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refunded {
    pub out_refund_no: String,
    pub refund_id: Option<String>,
    pub state: RefundState,
}

/// A callback request as it arrived.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Callback {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why the provider could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// The callback's signature or timestamp does not verify: ignore it.
    #[error("bad signature: {0}")]
    Signature(String),
    /// The provider refused (its code and message).
    #[error("refused: {0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense: retry later.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// An online payment provider.
pub trait Provider: Send + Sync {
    /// Short name stored with each payment (`local`, `wechat`).
    fn name(&self) -> &'static str;
    fn create<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Result<Created, PayError>>;
    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<Status, PayError>>;
    /// Closes an unpaid order so it can no longer be paid.
    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<(), PayError>>;
    fn refund<'a>(&'a self, r: &'a RefundOrder) -> BoxFuture<'a, Result<Refunded, PayError>>;
    /// Verifies a payment callback and reads the order's status from it.
    fn verify<'a>(&'a self, cb: &'a Callback) -> BoxFuture<'a, Result<Status, PayError>>;
    /// The body the provider expects when a callback was taken.
    fn ack(&self) -> (u16, String);
}
