//! 微信支付 (WeChat Pay) API v3 for a directly connected merchant (直连商户),
//! Native payment: Dayi creates an order and receives a `weixin://wxpay/bizpayurl?pr=…`
//! code URL, shown as a QR code at the cashier or on the patient's phone; the
//! patient scans it in WeChat and pays there.
//!
//! JSON over HTTPS at `https://api.mch.weixin.qq.com`:
//!
//! - `POST /v3/pay/transactions/native` (appid, mchid, description, out_trade_no,
//!   notify_url, amount {total, currency}) answers `{"code_url": …}`;
//! - `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…` answers the
//!   transaction (`trade_state`, `transaction_id`, `amount`);
//! - `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` ({mchid}) answers 204;
//! - `POST /v3/refund/domestic/refunds` (out_trade_no, out_refund_no, reason,
//!   amount {refund, total, currency}) answers the refund (`refund_id`, `status`).
//!
//! Both directions are signed with SHA256-RSA2048 (RSASSA-PKCS1-v1_5, SHA-256):
//!
//! 1. a request carries `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
//!    signature="…",timestamp="…",serial_no="…"`, the signature made with the merchant
//!    API key over `METHOD\nPATH?QUERY\nTIMESTAMP\nNONCE\nBODY\n` (the body exactly as
//!    sent, empty for a GET) and `serial_no` naming the merchant API certificate;
//! 2. WeChat Pay signs every answer and every callback over `TIMESTAMP\nNONCE\nBODY\n`
//!    (headers `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature`) with the
//!    key named by `Wechatpay-Serial`: a platform certificate's serial, or the id
//!    (`PUB_KEY_ID_…`) of a WeChat Pay public key. A 2xx answer that does not verify is
//!    forged or tampered with (WeChat's words), so it is never believed: the call fails
//!    with [`PayError::Signature`], which names the cause (often a rotated platform key
//!    missing from the configuration) where "unavailable" would hide it.
//!
//! A callback's body is `{"id", "event_type": "TRANSACTION.SUCCESS", "resource": {…}}`;
//! the resource is the transaction, encrypted with AEAD_AES_256_GCM under the API v3
//! key (`nonce`, `associated_data`, and base64 `ciphertext` ending in the 16-byte tag).
//! WeChat also sends probes signed `WECHATPAY/SIGNTEST/…` to check that merchants
//! verify: they fail like any bad signature, as they should.
//!
//! Refusals are a 4xx with `{"code": "PARAM_ERROR", "message": "…"}`; a 5xx
//! (`SYSTEM_ERROR`) or a 429 (`FREQUENCY_LIMITED`) is worth retrying later.

use std::fmt;
use std::time::Duration;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{self, Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::{PrivateKey, PublicKey};
use serde::{Deserialize, Serialize};

use super::{Callback, Created, Order, PayError, Provider, RefundOrder, RefundState, Refunded, State, Status};
// RFC 3986 encoding: an out_trade_no may hold `|` or `*`, which must reach the path (and its signature) encoded.
use crate::sms::aliyun::percent_encode;

/// The authentication scheme of API v3, in `Authorization` and `Wechatpay-Signature-Type`.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// Headers of a signed answer or callback (lower case, as [`Callback`] keeps them).
pub const TIMESTAMP: &str = "wechatpay-timestamp";
pub const NONCE: &str = "wechatpay-nonce";
pub const SIGNATURE: &str = "wechatpay-signature";
pub const SERIAL: &str = "wechatpay-serial";
pub const SIGNATURE_TYPE: &str = "wechatpay-signature-type";
/// An answer or callback signed further from now than this is refused (replay).
const SKEW_SECS: i64 = 300;

/// `[pay.wechat]` in dayi.toml, from the merchant platform (商户平台 → API安全):
///
/// ```toml
/// [pay.wechat]
/// mchid = "1900000109"
/// appid = "wxd678efh567hg6787"
/// serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"  # 商户API证书序列号
/// private_key_pem = """                                    # apiclient_key.pem
/// -----BEGIN PRIVATE KEY-----
/// …
/// -----END PRIVATE KEY-----"""
/// api_v3_key = "…32 characters…"                           # APIv3密钥
/// platform_certs = [["PUB_KEY_ID_0119000001092025…", """
/// -----BEGIN PUBLIC KEY-----
/// …
/// -----END PUBLIC KEY-----"""]]
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatConfig {
    /// 商户号.
    pub mchid: String,
    /// The AppID bound to the merchant (公众号, 小程序 or 移动应用).
    pub appid: String,
    /// Serial number of the merchant API certificate.
    pub serial_no: String,
    /// The merchant API private key, PKCS#8 PEM (PKCS#1 is taken too).
    pub private_key_pem: String,
    /// The API v3 key: 32 characters, the AES-256 key of callbacks.
    pub api_v3_key: String,
    /// WeChat Pay's public keys as (serial, SubjectPublicKeyInfo PEM): a WeChat Pay
    /// public key with its `PUB_KEY_ID_…`, or a platform certificate's serial with the
    /// key taken out of it (`openssl x509 -in cert.pem -pubkey -noout`). Several while
    /// keys rotate.
    pub platform_certs: Vec<(String, String)>,
    /// API root; the default unless testing.
    #[serde(default = "WechatConfig::default_base_url")]
    pub base_url: String,
}

impl WechatConfig {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.mch.weixin.qq.com";

    fn default_base_url() -> String {
        Self::DEFAULT_BASE_URL.into()
    }
}

/// Never prints the private key or the API v3 key.
impl fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serials: Vec<&str> = self.platform_certs.iter().map(|(s, _)| s.as_str()).collect();
        f.debug_struct("WechatConfig")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("serial_no", &self.serial_no)
            .field("private_key_pem", &"***")
            .field("api_v3_key", &"***")
            .field("platform_certs", &serials)
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// The WeChat Pay provider, its keys read once.
pub struct WechatPay {
    mchid: String,
    appid: String,
    serial_no: String,
    base_url: String,
    key: PrivateKey,
    platform: Vec<(String, PublicKey)>,
    aead: Aes256Gcm,
    http: reqwest::Client,
}

impl WechatPay {
    /// How long one request may take, connection included.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(cfg: WechatConfig) -> Result<Self, String> {
        Self::with_timeout(cfg, Self::TIMEOUT)
    }

    /// Checks the configuration: a bad key is found at start, not at the first payment.
    pub fn with_timeout(cfg: WechatConfig, timeout: Duration) -> Result<Self, String> {
        for (name, v) in [("mchid", &cfg.mchid), ("appid", &cfg.appid), ("serial_no", &cfg.serial_no)] {
            if v.trim().is_empty() {
                return Err(format!("微信支付缺少 {name} / [pay.wechat] needs {name}"));
            }
        }
        let pem = cfg.private_key_pem.trim();
        let key = PrivateKey::from_pkcs8_pem(pem).or_else(|_| PrivateKey::from_pkcs1_pem(pem)).map_err(|_| {
            "微信支付商户私钥无法读取 / private_key_pem is not an RSA private key in PEM (apiclient_key.pem)"
                .to_string()
        })?;
        let aead = Aes256Gcm::new_from_slice(cfg.api_v3_key.as_bytes())
            .map_err(|_| "APIv3密钥应为32个字符 / api_v3_key must be 32 characters".to_string())?;
        let mut platform = Vec::new();
        for (serial, pem) in &cfg.platform_certs {
            let k = PublicKey::from_public_key_pem(pem.trim()).map_err(|_| {
                format!(
                    "微信支付公钥 {serial} 无法读取 / platform key {serial} is not a PUBLIC KEY PEM \
                     (from a certificate: openssl x509 -in cert.pem -pubkey -noout)"
                )
            })?;
            platform.push((serial.trim().to_string(), k));
        }
        if platform.is_empty() {
            return Err("微信支付缺少平台公钥 / [pay.wechat] needs platform_certs to verify answers".into());
        }
        let base_url = cfg.base_url.trim().trim_end_matches('/').to_string();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) || Url::parse(&base_url).is_err() {
            return Err(format!("微信支付地址无效 / base_url must be an https:// URL: {base_url}"));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // API v3 refuses requests without a User-Agent.
            .user_agent(concat!("dayi/", env!("CARGO_PKG_VERSION"), " (WeChatPay-APIv3)"))
            .build()
            .map_err(|e| format!("无法创建微信支付客户端 / cannot create the WeChat Pay client: {e}"))?;
        Ok(Self {
            mchid: cfg.mchid.trim().into(),
            appid: cfg.appid.trim().into(),
            serial_no: cfg.serial_no.trim().into(),
            base_url,
            key,
            platform,
            aead,
            http,
        })
    }

    /// The `Authorization` header of one request to `target` (path and query).
    fn authorization(
        &self,
        method: &str,
        target: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> Result<String, PayError> {
        let message = request_message(method, target, timestamp, nonce, body);
        let signature = self
            .key
            .pkcs1v15_sign::<Sha256>(message.as_bytes())
            .map_err(|e| PayError::Unavailable(format!("无法签名 / cannot sign the request: {e}")))?;
        Ok(format!(
            r#"{SCHEME} mchid="{}",nonce_str="{nonce}",signature="{}",timestamp="{timestamp}",serial_no="{}""#,
            self.mchid,
            B64.encode(signature),
            self.serial_no
        ))
    }

    /// Checks WeChat Pay's signature on an answer or a callback, `now` in Unix seconds.
    fn check_signed(&self, s: &Signed, body: &[u8], now: i64) -> Result<(), PayError> {
        let ts: i64 = s.timestamp.parse().map_err(|_| bad(format!("unreadable timestamp {:?}", s.timestamp)))?;
        if (now - ts).abs() > SKEW_SECS {
            return Err(bad(format!("timestamp {ts} is {} s from now", now - ts)));
        }
        let key = self
            .platform
            .iter()
            .find(|(serial, _)| serial.eq_ignore_ascii_case(&s.serial))
            .map(|(_, k)| k)
            .ok_or_else(|| bad(format!("unknown Wechatpay-Serial {} (add it to platform_certs)", s.serial)))?;
        let signature = B64.decode(&s.signature).map_err(|_| bad("signature is not base64"))?;
        key.pkcs1v15_verify::<Sha256>(&signed_message(&s.timestamp, &s.nonce, body), &signature)
            .map_err(|_| bad("signature does not match"))
    }

    /// A callback's resource, decrypted with the API v3 key.
    fn decrypt(&self, r: &Resource) -> Result<Vec<u8>, PayError> {
        if r.algorithm != "AEAD_AES_256_GCM" {
            return Err(bad(format!("unknown algorithm {}", r.algorithm)));
        }
        let nonce = aead::Nonce::<Aes256Gcm>::try_from(r.nonce.as_bytes()).map_err(|_| bad("nonce is not 12 bytes"))?;
        let sealed = B64.decode(&r.ciphertext).map_err(|_| bad("ciphertext is not base64"))?;
        let aad = r.associated_data.as_deref().unwrap_or("").as_bytes();
        self.aead
            .decrypt(&nonce, Payload { msg: &sealed, aad })
            .map_err(|_| bad("resource does not decrypt (wrong api_v3_key?)"))
    }

    /// One signed request; the verified body of a 2xx answer.
    async fn call<B: Serialize>(&self, method: Method, path: &str, body: Option<&B>) -> Result<Vec<u8>, PayError> {
        let url =
            Url::parse(&format!("{}{path}", self.base_url)).map_err(|e| unavailable(format!("bad URL {path}: {e}")))?;
        // What is signed is what is sent: the URL's path and query after parsing.
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let body = match body {
            Some(b) => serde_json::to_string(b).map_err(unavailable)?,
            None => String::new(),
        };
        let nonce = format!("{:032X}", rand::random::<u128>());
        let auth = self.authorization(method.as_str(), &target, now_secs(), &nonce, &body)?;
        let mut req = self.http.request(method, url).header(AUTHORIZATION, auth).header(ACCEPT, "application/json");
        if !body.is_empty() {
            req = req.header(CONTENT_TYPE, "application/json").body(body);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                unavailable(format!("微信支付超时 / WeChat Pay timed out: {e}"))
            } else {
                unavailable(format!("无法连接微信支付 / WeChat Pay unreachable: {e}"))
            }
        })?;
        let status = resp.status();
        let signed = Signed::read(|name| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(String::from));
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| unavailable(format!("微信支付应答读取失败 / cannot read WeChat Pay's answer: {e}")))?;
        if !status.is_success() {
            return Err(refusal(status, &bytes));
        }
        self.check_signed(&signed?, &bytes, now_secs())?;
        Ok(bytes.to_vec())
    }

    /// A transaction (from a query or a callback) as Dayi's status.
    fn status(t: Transaction) -> Result<Status, PayError> {
        let state =
            trade_state(&t.trade_state).ok_or_else(|| unavailable(format!("unknown trade_state {}", t.trade_state)))?;
        // The order's total, not `payer_total`: a WeChat coupon may pay part of a paid
        // order, and what the hospital is owed is the total it asked for.
        let paid_fen = match state {
            State::Paid | State::Refunded => t
                .amount
                .and_then(|a| a.total)
                .ok_or_else(|| unavailable(format!("paid order {} without an amount", t.out_trade_no)))?,
            _ => 0,
        };
        Ok(Status {
            out_trade_no: t.out_trade_no,
            state,
            transaction_id: t.transaction_id.filter(|id| !id.is_empty()),
            paid_fen,
        })
    }
}

impl Provider for WechatPay {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn create<'a>(&'a self, order: &'a Order) -> BoxFuture<'a, Result<Created, PayError>> {
        Box::pin(async move {
            let body = NativeOrder {
                appid: &self.appid,
                mchid: &self.mchid,
                description: &order.description,
                out_trade_no: &order.out_trade_no,
                notify_url: &order.notify_url,
                amount: OrderAmount { total: order.amount_fen, currency: "CNY" },
            };
            let answer = self.call(Method::POST, "/v3/pay/transactions/native", Some(&body)).await?;
            let a: CodeUrl = read(&answer)?;
            Ok(Created { pay_url: a.code_url })
        })
    }

    fn query<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<Status, PayError>> {
        Box::pin(async move {
            let path = format!(
                "/v3/pay/transactions/out-trade-no/{}?mchid={}",
                percent_encode(out_trade_no),
                percent_encode(&self.mchid)
            );
            let t: Transaction = read(&self.call(Method::GET, &path, None::<&()>).await?)?;
            if t.out_trade_no != out_trade_no {
                return Err(unavailable(format!("asked for {out_trade_no}, answered {}", t.out_trade_no)));
            }
            WechatPay::status(t)
        })
    }

    fn close<'a>(&'a self, out_trade_no: &'a str) -> BoxFuture<'a, Result<(), PayError>> {
        Box::pin(async move {
            let path = format!("/v3/pay/transactions/out-trade-no/{}/close", percent_encode(out_trade_no));
            self.call(Method::POST, &path, Some(&Mchid { mchid: &self.mchid })).await.map(|_| ())
        })
    }

    fn refund<'a>(&'a self, r: &'a RefundOrder) -> BoxFuture<'a, Result<Refunded, PayError>> {
        Box::pin(async move {
            // No notify_url: Dayi takes the refund's state from this answer.
            let body = RefundRequest {
                out_trade_no: &r.out_trade_no,
                out_refund_no: &r.out_refund_no,
                reason: Some(r.reason.as_str()).filter(|s| !s.is_empty()),
                amount: RefundAmount { refund: r.amount_fen, total: r.total_fen, currency: "CNY" },
            };
            let a: RefundAnswer = read(&self.call(Method::POST, "/v3/refund/domestic/refunds", Some(&body)).await?)?;
            let state =
                refund_status(&a.status).ok_or_else(|| unavailable(format!("unknown refund status {}", a.status)))?;
            Ok(Refunded {
                out_refund_no: r.out_refund_no.clone(),
                refund_id: a.refund_id.filter(|id| !id.is_empty()),
                state,
            })
        })
    }

    fn verify<'a>(&'a self, cb: &'a Callback) -> BoxFuture<'a, Result<Status, PayError>> {
        Box::pin(async move {
            let signed = Signed::read(|name| cb.header(name).map(String::from))?;
            self.check_signed(&signed, &cb.body, now_secs())?;
            let n: Notification = read(&cb.body)?;
            let t: Transaction = read(&self.decrypt(&n.resource)?)?;
            if t.mchid.as_deref() != Some(self.mchid.as_str()) {
                return Err(bad(format!("callback for merchant {:?}", t.mchid.unwrap_or_default())));
            }
            WechatPay::status(t)
        })
    }

    /// API v3 takes a callback as received on a 200 or 204 (now without a body);
    /// the `{"code":"SUCCESS"}` of its first documents does no harm and says so.
    fn ack(&self) -> (u16, String) {
        (200, r#"{"code":"SUCCESS","message":"成功"}"#.into())
    }
}

/// What a request's signature covers: five lines, each ending in `\n`.
pub fn request_message(method: &str, target: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{target}\n{timestamp}\n{nonce}\n{body}\n")
}

/// What WeChat Pay's signature of an answer or callback covers: three lines.
pub fn signed_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    for part in [timestamp.as_bytes(), b"\n", nonce.as_bytes(), b"\n", body, b"\n"] {
        m.extend_from_slice(part);
    }
    m
}

/// `trade_state` as Dayi's state.
fn trade_state(s: &str) -> Option<State> {
    Some(match s {
        "SUCCESS" => State::Paid,
        "NOTPAY" | "USERPAYING" => State::Created,
        "PAYERROR" => State::Failed,
        "CLOSED" | "REVOKED" => State::Closed,
        "REFUND" => State::Refunded,
        _ => return None,
    })
}

/// A refund's `status` as Dayi's state.
fn refund_status(s: &str) -> Option<RefundState> {
    Some(match s {
        "SUCCESS" => RefundState::Succeeded,
        "PROCESSING" => RefundState::Processing,
        "ABNORMAL" | "CLOSED" => RefundState::Failed,
        _ => return None,
    })
}

/// A non-2xx answer. A 4xx with WeChat's `{code, message}` is a refusal; a rate
/// limit, a server error or an answer that is not WeChat's is worth a retry.
fn refusal(status: StatusCode, body: &[u8]) -> PayError {
    #[derive(Deserialize)]
    struct Problem {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Problem>(body) {
        Ok(p) if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS => {
            PayError::Refused(format!("{}: {}", p.code, p.message))
        }
        Ok(p) => unavailable(format!("{}: {} (HTTP {status})", p.code, p.message)),
        Err(_) => {
            let head: String = String::from_utf8_lossy(body).chars().take(200).collect();
            unavailable(format!("微信支付应答无法识别 / unexpected WeChat Pay answer (HTTP {status}): {head}"))
        }
    }
}

fn read<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, PayError> {
    serde_json::from_slice(body).map_err(|e| {
        let head: String = String::from_utf8_lossy(body).chars().take(200).collect();
        unavailable(format!("微信支付应答无法识别 / unexpected WeChat Pay answer ({e}): {head}"))
    })
}

fn bad(why: impl Into<String>) -> PayError {
    PayError::Signature(why.into())
}

fn unavailable(why: impl fmt::Display) -> PayError {
    PayError::Unavailable(why.to_string())
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The signature headers of an answer or callback.
struct Signed {
    timestamp: String,
    nonce: String,
    signature: String,
    serial: String,
}

impl Signed {
    fn read(header: impl Fn(&str) -> Option<String>) -> Result<Signed, PayError> {
        if let Some(t) = header(SIGNATURE_TYPE)
            && t != SCHEME
        {
            return Err(bad(format!("unknown signature type {t}")));
        }
        let get = |name: &str| header(name).filter(|v| !v.is_empty()).ok_or_else(|| bad(format!("no {name} header")));
        Ok(Signed { timestamp: get(TIMESTAMP)?, nonce: get(NONCE)?, signature: get(SIGNATURE)?, serial: get(SERIAL)? })
    }
}

#[derive(Serialize)]
struct NativeOrder<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    notify_url: &'a str,
    amount: OrderAmount,
}

#[derive(Serialize)]
struct OrderAmount {
    total: i64,
    currency: &'static str,
}

#[derive(Serialize)]
struct Mchid<'a> {
    mchid: &'a str,
}

#[derive(Serialize)]
struct RefundRequest<'a> {
    out_trade_no: &'a str,
    out_refund_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    amount: RefundAmount,
}

#[derive(Serialize)]
struct RefundAmount {
    refund: i64,
    total: i64,
    currency: &'static str,
}

#[derive(Deserialize)]
struct CodeUrl {
    code_url: String,
}

/// A transaction, as a query answers it and a callback's resource holds it.
#[derive(Deserialize)]
struct Transaction {
    mchid: Option<String>,
    out_trade_no: String,
    trade_state: String,
    transaction_id: Option<String>,
    amount: Option<TransactionAmount>,
}

#[derive(Deserialize)]
struct TransactionAmount {
    total: Option<i64>,
}

#[derive(Deserialize)]
struct RefundAnswer {
    refund_id: Option<String>,
    status: String,
}

#[derive(Deserialize)]
struct Notification {
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: String,
    ciphertext: String,
    nonce: String,
    associated_data: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method as HttpMethod, StatusCode as HttpStatus, Uri};
    use axum::response::{IntoResponse, Response};
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use serde_json::json;

    use super::*;

    /// Test keys made with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
    const MERCHANT_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCtrXG0k5QUcILW
DYb+zo0J9qCFcuvSh9uMMe84gf60f1tZZvZjRSWgwUzL+KVpnU8YDTyxcGF3Psve
RlSc5A7Zv/JrYUy9cQNWY+yKZZyf44pXaciiMd4fEJIvwyfxza3BR0x4BLDTMqFn
tZVKylxmEllHd/aQ22rENPUPMPbBD8dGiS57DmQJZ+jd1MuRNgowNm2y596MvN0f
x6eGhT2IndYIec3i8Jn36M3H/PClL4ivL6FOZ0tN3bz8mibmWTlnP4dL2bCw7COh
+3BIBDPXVu0BEyT0fJS2w5geXQMYUAusiZqk9fMAol97QJGFQveUJH80KeROtO0p
7T8e7e+nAgMBAAECggEAA4g7yTLzvE6unxWNoZUDiLrpU7IK7J4OJnEzQSc8zgU8
fPFEjq+35Z5/pjLkqAmCIW9hMp4P6xrt16X/GNLk1v8ng0ghTo66su7N4+GG310D
UdRdyafRaF15De3nkuw58COBE3xeFERfn/pVtzyJNRtebOOsjX42nDwUDqx2067h
mf1FXtX4fMb6HBafwo1K6OZNLYRb6Pzuus6bMyHZkq5vfvphoK6PGvJCKQGbgNOT
qH7P8TNxD3lN/o9u7ALud6zKYB05n2K7qGOUOaPYHZ8Rpab1S449qViVJwmUPnpU
3XsE5oxrPXo9E3JuJNCBVfGlv8WJuFVwAxbAQjTJwQKBgQDYRPfbZMqpGQ4aMf+O
gbfVZj/1mUitnRkuQv54RukPoAsap7YOcveGs7rxa0/dVBDTStkO+dC2rN+aWBvN
cBRsDAaf1IxPLFFJ+8dUNcaCkkJXUauN7nA/XLRIhIrcqSkjKb47IsuVhd7MTHy+
n3KJg7itGOHxQD+1Bd7XwexIsQKBgQDNlWcVKl3DFORPe1h6WfpiyygsL38ywz8z
/RI5ZWIYE0QBLx/vI/zZBwEIkbtM6LObF5XCrJ58zRkuk6WFakdmLmu12StaYF9w
EgSwHTP4qEoeyxxkOAUvZsyYRpjVCoHa/hHfEfaoL8rujtbVu1MeE8ygnAyPiOKT
vSAk/4PT1wKBgC5BagW5pALQwgxmPzN6mRgCW5Gq7Dl9zUHwwD53ZCecYmOcFTs3
6ascy9IQ0q8S6NpYOt6SHcrEZLq9N40T+Lo3RD9xFWVlpCk/uZ1QNxn8MEY+yIN9
yPI0YLbV6mFRqOPFbNN3GLXtQP7PKSsYLUYuLxSOqtyPklCkZcodxuyxAoGBAJnu
Zxva+A+s4fJ9adda7fbxJOhIvBYXSYi00eN1/QgHzOCSF3go2xbpfqWa8MJ6bpkP
BMyaEaVisJtGZCZMWJ+y3GVx8VsfU/aHF0mC5DooUC9UZ7LGm2NNtp3CJodF8cs2
d80uFyEBgBI1k7i/JVIdAxezIFiM5xI2Bw6M33lLAoGBANcb22EclG/w7+/DY6uJ
WEGLyG0z1lqFbV6GyfKE97b9vAjFPAjY27x4H5sUSjcR4uxYDhRmbf7OfFB4pu8d
EKL3a/4LZloNdVtFtgrrJuD2nDD1zZglZz81ZWVK1srMLduwogJbnRMTXR27fJNN
9HVC5eLc3uX/7CZMTwNZfyXy
-----END PRIVATE KEY-----";

    /// WeChat Pay's side: signs answers and callbacks.
    const PLATFORM_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC+NtG1Keo51Omz
50SlmSCo1Jw3dq6vQ1d5z5HjGRocgRoa0/t4cyTUZcThv5+gE7LlZyGDibA9ix6d
ODI7mWJNDd/6vn/sjLcaw2Sh3DDPMJp50G/V1Lpjs2z69naoJLmEA4FeOpWQRSuk
9WQop33VIdMSXGNHN/YEwPl356hUPogUM8lXnS/mXCjvJrIlh9435zyMYck+C7KZ
PCeItdFj9BKEapTadOE8QeInw9GBqcYfVtZgCsBDyY6ih2OXmoZUwFrtm4PCj9w5
ex12B7XImXNkaJJt1WHtdqCDbW9+WaI8MeWggolkcLdNIvLKGBRXrANjqfnO5o3T
siWwi84JAgMBAAECggEABr85ysnm8qByXjThttiCw65P8LkzWsjiF1JlJ7emGRT8
vK8gfD4kVCrcdA/4nORZ/ABfnFNz1okC39uEj5/iEF7hvxqG/dhjbc34ubOOYSkF
j7TUpLJwHpV4lAHORWpREMVRj0q3b6e+c7JXGEiRom/Z1WzEwjvSTIqeRrInQr6p
3Q8vkIFmkM2iTFb9izUy8LdcENgb9EBo8/eXO1Xbb29hz8N57iof6YNx4Xt3HRAT
GDqIjrYGGHkx2rM4Z03lKS3+5q6HT39C0WmRbfs+0X6+xsIXa+oYrN9OxpiALpVB
raAcDLiR7jwCL5moo1Mjgq2OvYiAcq8NAZEDvqyl4QKBgQDwrOB6KKm8mwqakpzR
pnO9/XVrCGpaxkChIVgzzIAD5MhFIYFw9/UAMxjklwouwxfMR8qr/iXpUhV6izSc
yMtgiwP71p/sPWOzFuIjEm4ADRkn6i0WXoJaq5LI9doGbKas0Nk9m6ikGyxSJLJo
LvNQguCLmDqCb7uiuYVr/qtM4QKBgQDKU2atf5gUcKudF/eyzNPvHytZNW2MoUxD
kzlms0tC2Cifby99J0DBSmzTVx5471zPNDCpRl4NxekRVfZwW1Zio0VmUyH4rOf1
W29MnqLGpsbed4HuZZP3AOr/Y0HcDulRahpuFYyq2FAXSZOvu9yVDFTtVGQOf47y
P1p9TD4+KQKBgQCpjJBjXqwc83hn5mtVgpa9PIZwjbAnHM1A9jWl4CY7F/xCP1Vq
GTRfHKAnwYPp54SnY9gSjGt20F3TQ6gf35DvBWAcFVn6WlEXREKxBHW70X5sURvM
S243o/E3Y4NhzT8qNcMlFLicS4xQnguVO6YrjNfVX7uwUjh0bY/hwbo54QKBgQCv
iPpNTqUIHtSVf8TUaKb7EETQqez4lLyQ6Dtl4epK/TUJVjKSV6rzx/lwxmXWsH0J
/BK32ightPJHqxgbVPM2ssa0Ry3zDThWA9UlWYCJ7woc2vxsc86S/0Xi+x+Zp4o/
q1lw5ttbIj8iZSBv2AJBgihwm8YPWhYQEG0Wxj4+OQKBgGhosn74K/S0R0H5mPGs
Ix4WqYhNId7sGftqImYsobGdYUmvOScgVRd6Wi39HwAcfUp9zboCGF9WXppSh6CM
zJsNoujnvqkqw6GyjTB0rtJfMi+xaehufh15SVrj8MqxTpI2i3RAxp2wwZFJK7w7
gjhw7+Bo30aFAu1R2xXrE33B
-----END PRIVATE KEY-----";

    const MCHID: &str = "1900000109";
    const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    const PLATFORM_SERIAL: &str = "PUB_KEY_ID_0119000001092025011600000000";
    const API_V3_KEY: &str = "0123456789abcdef0123456789ABCDEF";

    fn private(pem: &str) -> PrivateKey {
        PrivateKey::from_pkcs8_pem(pem).unwrap()
    }

    fn public_pem(pem: &str) -> String {
        private(pem).to_public_key().to_public_key_pem(LineEnding::LF).unwrap()
    }

    fn config(base_url: &str) -> WechatConfig {
        WechatConfig {
            mchid: MCHID.into(),
            appid: "wxd678efh567hg6787".into(),
            serial_no: MERCHANT_SERIAL.into(),
            private_key_pem: MERCHANT_KEY.into(),
            api_v3_key: API_V3_KEY.into(),
            platform_certs: vec![(PLATFORM_SERIAL.into(), public_pem(PLATFORM_KEY))],
            base_url: base_url.into(),
        }
    }

    fn pay() -> WechatPay {
        WechatPay::new(config("http://127.0.0.1:9")).unwrap()
    }

    /// The fields of an `Authorization` header, or `None` if it is not API v3's.
    fn parse_authorization(h: &str) -> Option<HashMap<String, String>> {
        let fields = h.strip_prefix(SCHEME)?.strip_prefix(' ')?;
        fields
            .split(',')
            .map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k.to_string(), v.strip_prefix('"')?.strip_suffix('"')?.to_string()))
            })
            .collect()
    }

    /// WeChat Pay's signature over `timestamp\nnonce\nbody\n`.
    fn wechat_sign(key: &PrivateKey, timestamp: &str, nonce: &str, body: &[u8]) -> String {
        B64.encode(key.pkcs1v15_sign::<Sha256>(&signed_message(timestamp, nonce, body)).unwrap())
    }

    // ---- request signatures ----

    #[test]
    fn the_request_message_is_five_lines_each_ending_in_a_newline() {
        assert_eq!(
            request_message("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", ""),
            "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
        );
        assert_eq!(
            request_message("POST", "/v3/pay/transactions/native", 1, "N", r#"{"a":1}"#),
            "POST\n/v3/pay/transactions/native\n1\nN\n{\"a\":1}\n"
        );
        assert_eq!(signed_message("1", "N", b"{}"), b"1\nN\n{}\n");
    }

    /// PKCS#1 v1.5 signatures are deterministic: ours must equal OpenSSL's
    /// (`openssl dgst -sha256 -sign merchant.pem msg | base64`), as WeChat's checks are.
    #[test]
    fn the_authorization_header_carries_openssls_signature() {
        let h =
            pay().authorization("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", "").unwrap();
        assert!(h.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\""), "{h}");
        let f = parse_authorization(&h).unwrap_or_else(|| panic!("unparsable: {h}"));
        assert_eq!(f.len(), 5, "{f:?}");
        assert_eq!(f["mchid"], MCHID);
        assert_eq!(f["nonce_str"], "593BEC0C930BF1AFEB40B4A08C8FB242");
        assert_eq!(f["timestamp"], "1554208460");
        assert_eq!(f["serial_no"], MERCHANT_SERIAL);
        assert_eq!(
            f["signature"],
            "pIPKgmIkMrP/mfLfL5F8FVwCsV6+E9sB4arDhelhL142DB7GWMPR7KXtayncjh72sMMJyKVdhZEXIQSY9fYpuvgsaj79vXpt1m21kpl8\
             OK4ikXGpsaeOlyAT60rEfsGeUY174w3DVqyTGur39Nan1T0f+M36TLJgGcYfGqj17j4uAuBCXi+1gPVewuBAt/b1W6vwcPD7zHWdgbo7\
             68gbTPSkIKFG96zJ+X7pEIuLdWJlAnDxFUP4R6dZt7kvLSQ56LlN06h82cRSy5xxdWsiXASYvBAgR1pmxhBE8wVEBRMInxogKUq14UTH\
             VjkpKX+krjMUv06nN/EaKfVmgLSSWA=="
        );
        let merchant = private(MERCHANT_KEY).to_public_key();
        let sig = B64.decode(&f["signature"]).unwrap();
        let message = request_message("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", "");
        merchant.pkcs1v15_verify::<Sha256>(message.as_bytes(), &sig).unwrap();
        assert!(merchant.pkcs1v15_verify::<Sha256>(b"GET\n/v3/certificates\n", &sig).is_err());
    }

    // ---- configuration ----

    #[test]
    fn the_config_reads_from_toml_with_the_default_base_url() {
        let text = format!(
            "mchid = \"{MCHID}\"\nappid = \"wxd678efh567hg6787\"\nserial_no = \"{MERCHANT_SERIAL}\"\n\
             private_key_pem = \"\"\"\n{MERCHANT_KEY}\"\"\"\napi_v3_key = \"{API_V3_KEY}\"\n\
             platform_certs = [[\"{PLATFORM_SERIAL}\", \"\"\"\n{}\"\"\"]]\n",
            public_pem(PLATFORM_KEY)
        );
        let cfg: WechatConfig = toml::from_str(&text).unwrap();
        assert_eq!(cfg.base_url, "https://api.mch.weixin.qq.com");
        assert_eq!(cfg.platform_certs[0].0, PLATFORM_SERIAL);
        assert!(WechatPay::new(cfg).is_ok());
        let typo = text.replace("appid", "app_id");
        assert!(toml::from_str::<WechatConfig>(&typo).unwrap_err().to_string().contains("app_id"));
    }

    #[test]
    fn the_secrets_are_not_printed() {
        let dbg = format!("{:?}", config("http://127.0.0.1:9"));
        assert!(!dbg.contains("MIIEvg") && !dbg.contains(API_V3_KEY), "{dbg}");
        assert!(dbg.contains(MCHID) && dbg.contains(PLATFORM_SERIAL) && !dbg.contains("PUBLIC KEY"), "{dbg}");
    }

    #[test]
    fn a_bad_config_is_refused_at_start() {
        let err = |f: fn(&mut WechatConfig)| {
            let mut cfg = config("http://127.0.0.1:9");
            f(&mut cfg);
            WechatPay::new(cfg).err().unwrap_or_else(|| panic!("accepted"))
        };
        assert!(err(|c| c.api_v3_key = "short".into()).contains("api_v3_key"));
        assert!(
            err(|c| c.private_key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----".into())
                .contains("private_key_pem")
        );
        let e = err(|c| c.platform_certs[0].1 = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----".into());
        assert!(e.contains(PLATFORM_SERIAL) && e.contains("-pubkey"), "{e}");
        assert!(err(|c| c.platform_certs.clear()).contains("platform_certs"));
        assert!(err(|c| c.mchid = " ".into()).contains("mchid"));
        assert!(err(|c| c.base_url = "api.mch.weixin.qq.com".into()).contains("base_url"));
        // A PKCS#1 key (`BEGIN RSA PRIVATE KEY`) is taken too.
        let mut cfg = config("http://127.0.0.1:9");
        cfg.private_key_pem =
            rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(&private(MERCHANT_KEY), LineEnding::LF).unwrap().to_string();
        assert!(WechatPay::new(cfg).is_ok());
    }

    #[test]
    fn states_map_as_documented() {
        assert_eq!(trade_state("SUCCESS"), Some(State::Paid));
        assert_eq!(trade_state("NOTPAY"), Some(State::Created));
        assert_eq!(trade_state("USERPAYING"), Some(State::Created));
        assert_eq!(trade_state("PAYERROR"), Some(State::Failed));
        assert_eq!(trade_state("CLOSED"), Some(State::Closed));
        assert_eq!(trade_state("REVOKED"), Some(State::Closed));
        assert_eq!(trade_state("REFUND"), Some(State::Refunded));
        assert_eq!(trade_state("success"), None);
        assert_eq!(refund_status("SUCCESS"), Some(RefundState::Succeeded));
        assert_eq!(refund_status("PROCESSING"), Some(RefundState::Processing));
        assert_eq!(refund_status("ABNORMAL"), Some(RefundState::Failed));
        assert_eq!(refund_status("CLOSED"), Some(RefundState::Failed));
        assert_eq!(refund_status("?"), None);
    }

    #[test]
    fn refusals_and_failures_are_told_apart() {
        let r = |status: u16, body: &str| refusal(StatusCode::from_u16(status).unwrap(), body.as_bytes());
        assert_eq!(
            r(400, r#"{"code":"PARAM_ERROR","message":"参数错误","detail":{"field":"/amount/total"}}"#),
            PayError::Refused("PARAM_ERROR: 参数错误".into())
        );
        assert_eq!(
            r(404, r#"{"code":"ORDER_NOT_EXIST","message":"订单不存在"}"#),
            PayError::Refused("ORDER_NOT_EXIST: 订单不存在".into())
        );
        let unavailable = |e: PayError, words: &[&str]| match e {
            PayError::Unavailable(m) => words.iter().all(|w| m.contains(w)),
            _ => false,
        };
        assert!(unavailable(r(429, r#"{"code":"FREQUENCY_LIMITED","message":"频率超限"}"#), &["FREQUENCY_LIMITED"]));
        assert!(unavailable(r(500, r#"{"code":"SYSTEM_ERROR","message":"系统错误"}"#), &["SYSTEM_ERROR", "500"]));
        assert!(unavailable(r(404, "<html>Not Found</html>"), &["404", "<html>"]));
    }

    #[test]
    fn ack_is_a_200_with_success() {
        assert_eq!(pay().ack(), (200, r#"{"code":"SUCCESS","message":"成功"}"#.to_string()));
    }

    // ---- callbacks, encrypted and signed by the test as WeChat Pay would ----

    /// A payment callback for `transaction`, its resource sealed with `api_v3_key`, signed at `timestamp`.
    fn callback(transaction: &serde_json::Value, api_v3_key: &str, timestamp: i64) -> Callback {
        let nonce = "fe3a1c0e9b7d";
        let aad = "transaction";
        let sealed = Aes256Gcm::new_from_slice(api_v3_key.as_bytes())
            .unwrap()
            .encrypt(
                &aead::Nonce::<Aes256Gcm>::try_from(nonce.as_bytes()).unwrap(),
                Payload { msg: transaction.to_string().as_bytes(), aad: aad.as_bytes() },
            )
            .unwrap();
        let body = json!({
            "id": "EV-2018022511223320873",
            "create_time": "2015-05-20T13:29:35+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": B64.encode(sealed),
                "associated_data": aad,
                "nonce": nonce,
            }
        })
        .to_string()
        .into_bytes();
        let ts = timestamp.to_string();
        let sig_nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
        Callback {
            headers: vec![
                (TIMESTAMP.into(), ts.clone()),
                (NONCE.into(), sig_nonce.into()),
                (SIGNATURE.into(), wechat_sign(&private(PLATFORM_KEY), &ts, sig_nonce, &body)),
                (SERIAL.into(), PLATFORM_SERIAL.into()),
                (SIGNATURE_TYPE.into(), SCHEME.into()),
                ("content-type".into(), "application/json".into()),
            ],
            body,
        }
    }

    fn paid_transaction() -> serde_json::Value {
        json!({
            "mchid": MCHID,
            "appid": "wxd678efh567hg6787",
            "out_trade_no": "P20260504000001",
            "transaction_id": "4200000000202605040000000001",
            "trade_type": "NATIVE",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "success_time": "2026-05-04T10:00:00+08:00",
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
            "amount": {"total": 2350, "payer_total": 2350, "currency": "CNY", "payer_currency": "CNY"}
        })
    }

    fn set_header(cb: &mut Callback, name: &str, value: &str) {
        cb.headers.iter_mut().find(|(k, _)| k == name).unwrap().1 = value.into();
    }

    #[tokio::test]
    async fn a_callback_verifies_and_decrypts_to_the_status() {
        let cb = callback(&paid_transaction(), API_V3_KEY, now_secs());
        assert_eq!(
            pay().verify(&cb).await,
            Ok(Status {
                out_trade_no: "P20260504000001".into(),
                state: State::Paid,
                transaction_id: Some("4200000000202605040000000001".into()),
                paid_fen: 2350,
            })
        );
        // Header names in any case.
        let mut shouted = cb.clone();
        for (k, _) in &mut shouted.headers {
            *k = k.replace("wechatpay", "Wechatpay");
        }
        assert!(pay().verify(&shouted).await.is_ok());
    }

    /// A resource sealed by another AES-GCM implementation (Python's `cryptography`).
    #[test]
    fn decryption_matches_an_independent_implementation() {
        let r = Resource {
            algorithm: "AEAD_AES_256_GCM".into(),
            ciphertext:
                "ILPCMdV5chqzDnLpGb8ue14DsBH9XZUPMIb7UactKA+4Mn+u0Opg+CuTJr3CdqRM7eCyfgP51aeCCNGeBVBh5/ZBXEaSukd95X8p\
                         12VodM6OYw=="
                    .into(),
            nonce: "fe3a1c0e9b7d".into(),
            associated_data: Some("transaction".into()),
        };
        assert_eq!(
            pay().decrypt(&r).unwrap(),
            br#"{"mchid":"1900000109","out_trade_no":"P1","trade_state":"SUCCESS"}"#
        );
        let other_aad = Resource { associated_data: Some("refund".into()), ..r };
        assert!(matches!(pay().decrypt(&other_aad), Err(PayError::Signature(_))));
    }

    #[tokio::test]
    async fn a_forged_or_replayed_callback_is_refused() {
        let now = now_secs();
        let good = callback(&paid_transaction(), API_V3_KEY, now);
        let refused = |cb: Callback, why: &'static str| async move {
            match pay().verify(&cb).await {
                Err(PayError::Signature(m)) => assert!(m.contains(why), "{why}: {m}"),
                other => panic!("{why}: {other:?}"),
            }
        };

        // The body changed after signing.
        let mut tampered = good.clone();
        let text = String::from_utf8(tampered.body.clone()).unwrap().replace("支付成功", "支付成功 ");
        tampered.body = text.into_bytes();
        refused(tampered, "does not match").await;

        let mut unknown = good.clone();
        set_header(&mut unknown, SERIAL, "PUB_KEY_ID_0000000000000000000000000000");
        refused(unknown, "unknown Wechatpay-Serial").await;

        refused(callback(&paid_transaction(), API_V3_KEY, now - 301), "s from now").await;
        refused(callback(&paid_transaction(), API_V3_KEY, now + 301), "s from now").await;

        // Signed by WeChat, sealed with a key that is not ours.
        refused(callback(&paid_transaction(), "ffffffffffffffffffffffffffffffff", now), "decrypt").await;

        // WeChat's probe of whether merchants verify.
        let mut probe = good.clone();
        set_header(&mut probe, SIGNATURE, "WECHATPAY/SIGNTEST/9E2F0D3A");
        refused(probe, "base64").await;

        // Signed with the merchant's own key, not WeChat's.
        let mut self_signed = good.clone();
        let ts = now.to_string();
        set_header(&mut self_signed, SIGNATURE, &wechat_sign(&private(MERCHANT_KEY), &ts, "N", &good.body));
        set_header(&mut self_signed, NONCE, "N");
        refused(self_signed, "does not match").await;

        let mut unsigned = good.clone();
        unsigned.headers.retain(|(k, _)| k != SIGNATURE);
        refused(unsigned, "no wechatpay-signature").await;

        let mut other_type = good.clone();
        set_header(&mut other_type, SIGNATURE_TYPE, "WECHATPAY2-SM2-WITH-SM3");
        refused(other_type, "signature type").await;

        // Genuine, but for another merchant.
        let mut other = paid_transaction();
        other["mchid"] = json!("1230000109");
        refused(callback(&other, API_V3_KEY, now), "merchant").await;
    }

    // ---- end to end, against a WeChat Pay on 127.0.0.1 ----

    /// How the fake spoils its next answers.
    #[derive(Clone, Copy, Debug)]
    enum Spoil {
        /// The body changed after signing.
        Body,
        /// Signed with a key Dayi does not know.
        Serial,
        /// Signed ten minutes ago.
        Stale,
        /// No signature headers at all.
        Unsigned,
        /// Answers this status and WeChat's error body.
        Fail(u16, &'static str),
    }

    #[derive(Debug)]
    struct Seen {
        method: String,
        target: String,
        body: String,
        signature_ok: bool,
    }

    struct FakeOrder {
        total: i64,
        state: &'static str,
    }

    /// WeChat Pay as far as Dayi uses it: checks each request's signature with the
    /// merchant's public key (401 SIGN_ERROR otherwise), keeps orders, signs answers.
    struct Fake {
        merchant: PublicKey,
        platform: PrivateKey,
        orders: HashMap<String, FakeOrder>,
        seen: Vec<Seen>,
        spoil: Option<Spoil>,
    }

    type Shared = Arc<Mutex<Fake>>;

    async fn fake_wechat() -> (String, Shared) {
        let fake = Arc::new(Mutex::new(Fake {
            merchant: private(MERCHANT_KEY).to_public_key(),
            platform: private(PLATFORM_KEY),
            orders: HashMap::new(),
            seen: Vec::new(),
            spoil: None,
        }));
        let app = axum::Router::new().fallback(handle).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (base, fake)
    }

    async fn handle(
        axum::extract::State(fake): axum::extract::State<Shared>,
        method: HttpMethod,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let mut f = fake.lock().unwrap();
        let target = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
        let text = String::from_utf8_lossy(&body).to_string();
        let signature_ok = headers
            .get("authorization")
            .and_then(|h| parse_authorization(h.to_str().ok()?))
            .filter(|a| a["mchid"] == MCHID && a["serial_no"] == MERCHANT_SERIAL)
            .and_then(|a| {
                let ts: i64 = a["timestamp"].parse().ok()?;
                let message = request_message(method.as_str(), &target, ts, &a["nonce_str"], &text);
                let sig = B64.decode(&a["signature"]).ok()?;
                f.merchant.pkcs1v15_verify::<Sha256>(message.as_bytes(), &sig).ok()
            })
            .is_some();
        f.seen.push(Seen { method: method.to_string(), target: target.clone(), body: text, signature_ok });
        let (status, answer) = if !signature_ok {
            (401, json!({"code": "SIGN_ERROR", "message": "签名错误"}))
        } else if let Some(Spoil::Fail(status, code)) = f.spoil {
            (status, json!({"code": code, "message": "出错了"}))
        } else {
            f.answer(&method, uri.path(), &body)
        };
        let body = if status == 204 { String::new() } else { answer.to_string() };
        f.signed(status, body)
    }

    impl Fake {
        fn answer(&mut self, method: &HttpMethod, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
            let req: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let not_found = (404, json!({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}));
            let by_no = path.strip_prefix("/v3/pay/transactions/out-trade-no/");
            match (method.as_str(), path, by_no) {
                ("POST", "/v3/pay/transactions/native", _) => {
                    let no = req["out_trade_no"].as_str().unwrap_or_default().to_string();
                    let total = req["amount"]["total"].as_i64().unwrap_or_default();
                    self.orders.entry(no.clone()).or_insert(FakeOrder { total, state: "NOTPAY" });
                    (200, json!({"code_url": format!("weixin://wxpay/bizpayurl?pr={no}")}))
                }
                ("GET", _, Some(no)) => match self.orders.get(no) {
                    Some(o) => {
                        let mut t = json!({
                            "appid": "wxd678efh567hg6787",
                            "mchid": MCHID,
                            "out_trade_no": no,
                            "trade_state": o.state,
                            "trade_state_desc": "",
                            "amount": {"total": o.total, "currency": "CNY"},
                        });
                        if o.state == "SUCCESS" {
                            t["transaction_id"] = json!("4200000000202605040000000002");
                            // A 1-fen coupon: the patient paid less than the order's total.
                            t["amount"]["payer_total"] = json!(o.total - 1);
                        }
                        (200, t)
                    }
                    None => not_found,
                },
                ("POST", _, Some(rest)) if rest.ends_with("/close") => {
                    match self.orders.get_mut(rest.trim_end_matches("/close")) {
                        Some(o) if o.state == "NOTPAY" => {
                            o.state = "CLOSED";
                            (204, json!(null))
                        }
                        Some(_) => (400, json!({"code": "ORDERPAID", "message": "订单已支付"})),
                        None => not_found,
                    }
                }
                ("POST", "/v3/refund/domestic/refunds", _) => {
                    match self.orders.get(req["out_trade_no"].as_str().unwrap_or_default()) {
                        Some(o) if o.state == "SUCCESS" && req["amount"]["refund"].as_i64() <= Some(o.total) => (
                            200,
                            json!({
                                "refund_id": "50000000382019052709732678859",
                                "out_refund_no": req["out_refund_no"],
                                "out_trade_no": req["out_trade_no"],
                                "channel": "ORIGINAL",
                                "status": "PROCESSING",
                                "amount": req["amount"],
                            }),
                        ),
                        Some(_) => (403, json!({"code": "NOT_ENOUGH", "message": "余额不足"})),
                        None => (404, json!({"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})),
                    }
                }
                _ => (404, json!({"code": "NOT_FOUND", "message": "no such API"})),
            }
        }

        /// The answer with WeChat Pay's signature headers, spoiled as asked.
        fn signed(&self, status: u16, body: String) -> Response {
            let mut ts = now_secs();
            if let Some(Spoil::Stale) = self.spoil {
                ts -= 600;
            }
            let ts = ts.to_string();
            let nonce = format!("{:032x}", rand::random::<u128>());
            let signature = wechat_sign(&self.platform, &ts, &nonce, body.as_bytes());
            let serial = match self.spoil {
                Some(Spoil::Serial) => "PUB_KEY_ID_0000000000000000000000000000",
                _ => PLATFORM_SERIAL,
            };
            let body = match self.spoil {
                Some(Spoil::Body) => body.replace("NOTPAY", "SUCCESS"),
                _ => body,
            };
            let mut headers =
                vec![("content-type", "application/json".to_string()), ("request-id", "08F8B7D3-1".into())];
            if !matches!(self.spoil, Some(Spoil::Unsigned)) {
                headers.extend([(TIMESTAMP, ts), (NONCE, nonce), (SIGNATURE, signature), (SERIAL, serial.into())]);
            }
            let mut r = (HttpStatus::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                r.headers_mut().insert(k, v.parse().unwrap());
            }
            r
        }
    }

    fn visit(no: &str) -> Order {
        Order {
            out_trade_no: no.into(),
            amount_fen: 2350,
            description: "县人民医院门诊缴费".into(),
            notify_url: "https://his.example.cn/pay/notify/wechat".into(),
            return_url: "https://his.example.cn/portal".into(),
        }
    }

    #[tokio::test]
    async fn create_query_close_and_refund_against_wechat() {
        let (base, fake) = fake_wechat().await;
        let wx = WechatPay::new(config(&base)).unwrap();
        assert_eq!(wx.name(), "wechat");

        // A paid order.
        let created = wx.create(&visit("P20260504000001")).await.unwrap();
        assert_eq!(created.pay_url, "weixin://wxpay/bizpayurl?pr=P20260504000001");
        let s = wx.query("P20260504000001").await.unwrap();
        assert_eq!((s.state, s.transaction_id.as_deref(), s.paid_fen), (State::Created, None, 0));
        fake.lock().unwrap().orders.get_mut("P20260504000001").unwrap().state = "SUCCESS";
        let s = wx.query("P20260504000001").await.unwrap();
        assert_eq!(
            s,
            Status {
                out_trade_no: "P20260504000001".into(),
                state: State::Paid,
                transaction_id: Some("4200000000202605040000000002".into()),
                paid_fen: 2350,
            }
        );
        let refund = RefundOrder {
            out_trade_no: "P20260504000001".into(),
            out_refund_no: "R20260504000001".into(),
            amount_fen: 1200,
            total_fen: 2350,
            reason: "检查项目未执行".into(),
        };
        assert_eq!(
            wx.refund(&refund).await,
            Ok(Refunded {
                out_refund_no: "R20260504000001".into(),
                refund_id: Some("50000000382019052709732678859".into()),
                state: RefundState::Processing,
            })
        );
        assert_eq!(wx.close("P20260504000001").await, Err(PayError::Refused("ORDERPAID: 订单已支付".into())));

        // An order closed unpaid, then refused a refund.
        wx.create(&visit("P20260504000002")).await.unwrap();
        assert_eq!(wx.close("P20260504000002").await, Ok(()));
        assert_eq!(wx.query("P20260504000002").await.unwrap().state, State::Closed);
        let refund = RefundOrder { out_trade_no: "P20260504000002".into(), out_refund_no: "R2".into(), ..refund };
        assert_eq!(wx.refund(&refund).await, Err(PayError::Refused("NOT_ENOUGH: 余额不足".into())));
        assert_eq!(wx.query("P-unknown").await, Err(PayError::Refused("ORDER_NOT_EXIST: 订单不存在".into())));

        // Every request was signed, and sent as WeChat documents it.
        let f = fake.lock().unwrap();
        assert!(f.seen.iter().all(|s| s.signature_ok), "{:?}", f.seen);
        let calls: Vec<(&str, &str)> = f.seen.iter().map(|s| (s.method.as_str(), s.target.as_str())).collect();
        assert_eq!(
            calls[..5],
            [
                ("POST", "/v3/pay/transactions/native"),
                ("GET", "/v3/pay/transactions/out-trade-no/P20260504000001?mchid=1900000109"),
                ("GET", "/v3/pay/transactions/out-trade-no/P20260504000001?mchid=1900000109"),
                ("POST", "/v3/refund/domestic/refunds"),
                ("POST", "/v3/pay/transactions/out-trade-no/P20260504000001/close"),
            ]
        );
        let body = |i: usize| serde_json::from_str::<serde_json::Value>(&f.seen[i].body).unwrap();
        assert_eq!(
            body(0),
            json!({
                "appid": "wxd678efh567hg6787",
                "mchid": MCHID,
                "description": "县人民医院门诊缴费",
                "out_trade_no": "P20260504000001",
                "notify_url": "https://his.example.cn/pay/notify/wechat",
                "amount": {"total": 2350, "currency": "CNY"},
            })
        );
        assert_eq!(f.seen[1].body, "", "a GET has no body");
        assert_eq!(
            body(3),
            json!({
                "out_trade_no": "P20260504000001",
                "out_refund_no": "R20260504000001",
                "reason": "检查项目未执行",
                "amount": {"refund": 1200, "total": 2350, "currency": "CNY"},
            })
        );
        assert_eq!(body(4), json!({"mchid": MCHID}));
    }

    #[tokio::test]
    async fn an_out_trade_no_is_encoded_in_the_path_and_its_signature() {
        let (base, fake) = fake_wechat().await;
        let wx = WechatPay::new(config(&base)).unwrap();
        // WeChat allows `|` and `*` in an out_trade_no; the URL must carry them encoded.
        let _ = wx.query("A|B*C").await;
        let f = fake.lock().unwrap();
        assert_eq!(f.seen[0].target, "/v3/pay/transactions/out-trade-no/A%7CB%2AC?mchid=1900000109");
        assert!(f.seen[0].signature_ok);
    }

    #[tokio::test]
    async fn a_wrong_merchant_key_is_refused_by_wechat() {
        let (base, _) = fake_wechat().await;
        let mut cfg = config(&base);
        cfg.private_key_pem = PLATFORM_KEY.into();
        let e = WechatPay::new(cfg).unwrap().create(&visit("P1")).await;
        assert_eq!(e, Err(PayError::Refused("SIGN_ERROR: 签名错误".into())));
    }

    /// A 2xx answer is believed only when WeChat Pay's signature verifies: a
    /// spoiled one fails with `Signature`, whatever it says (here: SUCCESS).
    #[tokio::test]
    async fn an_answer_that_does_not_verify_is_not_believed() {
        let (base, fake) = fake_wechat().await;
        let wx = WechatPay::new(config(&base)).unwrap();
        wx.create(&visit("P20260504000001")).await.unwrap();
        for (spoil, why) in [
            (Spoil::Body, "does not match"),
            (Spoil::Serial, "unknown Wechatpay-Serial"),
            (Spoil::Stale, "s from now"),
            (Spoil::Unsigned, "no wechatpay-timestamp"),
        ] {
            fake.lock().unwrap().spoil = Some(spoil);
            match wx.query("P20260504000001").await {
                Err(PayError::Signature(m)) => assert!(m.contains(why), "{spoil:?}: {m}"),
                other => panic!("{spoil:?}: {other:?}"),
            }
        }
        // A 204 is signed too.
        fake.lock().unwrap().spoil = Some(Spoil::Serial);
        assert!(matches!(wx.close("P20260504000001").await, Err(PayError::Signature(_))));
        fake.lock().unwrap().spoil = None;
        assert_eq!(wx.query("P20260504000001").await.unwrap().state, State::Closed);
    }

    #[tokio::test]
    async fn server_errors_rate_limits_and_dead_servers_are_unavailable() {
        let (base, fake) = fake_wechat().await;
        let wx = WechatPay::new(config(&base)).unwrap();
        for (status, code) in [(500, "SYSTEM_ERROR"), (429, "FREQUENCY_LIMITED")] {
            fake.lock().unwrap().spoil = Some(Spoil::Fail(status, code));
            match wx.create(&visit("P1")).await {
                Err(PayError::Unavailable(m)) => assert!(m.contains(code), "{m}"),
                other => panic!("{status}: {other:?}"),
            }
        }
        fake.lock().unwrap().spoil = Some(Spoil::Fail(400, "PARAM_ERROR"));
        assert_eq!(wx.create(&visit("P1")).await, Err(PayError::Refused("PARAM_ERROR: 出错了".into())));

        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let wx = WechatPay::new(config(&format!("http://127.0.0.1:{port}"))).unwrap();
        match wx.query("P1").await {
            Err(PayError::Unavailable(m)) => assert!(m.contains("unreachable"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
