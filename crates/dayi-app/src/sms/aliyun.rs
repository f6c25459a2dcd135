//! Alibaba Cloud Short Message Service (阿里云短信服务): the RPC-style
//! `SendSms` action, API version 2017-05-25, sent as an HTTPS GET whose query
//! is signed with HMAC-SHA1, signature version 1.0:
//!
//! 1. every parameter but `Signature`, names and values percent-encoded
//!    (RFC 3986: `A-Z a-z 0-9 - _ . ~` stay, space is `%20`, `*` is `%2A`),
//!    sorted by name and joined as `k=v&k=v` (the canonicalized query);
//! 2. `StringToSign = "GET&%2F&" + percentEncode(canonicalized query)`;
//! 3. `Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))`,
//!    added to the query (percent-encoded like the rest).
//!
//! The gateway answers JSON: `{"Code":"OK","Message":"OK","BizId":…,"RequestId":…}`
//! for an accepted message; any other `Code` (`isv.MOBILE_NUMBER_ILLEGAL`,
//! `isv.BUSINESS_LIMIT_CONTROL`, `SignatureDoesNotMatch`, …) is a refusal.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use futures::future::BoxFuture;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{Receipt, Sms, SmsGateway};

/// Where and as whom to send.
#[derive(Clone, PartialEq, Eq)]
pub struct AliyunConfig {
    /// API endpoint; `https://dysmsapi.aliyuncs.com/` in production.
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    /// The approved signature shown as 【…】 before the text, e.g. `大医县医院`.
    pub sign_name: String,
    /// `cn-hangzhou` for the mainland service.
    pub region_id: String,
    /// Our template name (`otp`, `clinic_stopped`, …) → Aliyun template code (`SMS_123456789`).
    pub templates: BTreeMap<String, String>,
}

impl AliyunConfig {
    pub const DEFAULT_ENDPOINT: &'static str = "https://dysmsapi.aliyuncs.com/";
    pub const DEFAULT_REGION: &'static str = "cn-hangzhou";
}

/// Never prints the secret.
impl fmt::Debug for AliyunConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AliyunConfig")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field("sign_name", &self.sign_name)
            .field("region_id", &self.region_id)
            .field("templates", &self.templates)
            .finish()
    }
}

/// The Alibaba Cloud SMS gateway.
pub struct AliyunSms {
    cfg: AliyunConfig,
    http: reqwest::Client,
}

impl AliyunSms {
    /// How long one request may take, connection included.
    pub const TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(cfg: AliyunConfig) -> Result<Self, String> {
        Self::with_timeout(cfg, Self::TIMEOUT)
    }

    pub fn with_timeout(cfg: AliyunConfig, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("无法创建短信网关客户端 / cannot create the SMS gateway client: {e}"))?;
        Ok(Self { cfg, http })
    }

    /// The request parameters for one message, without `Signature`.
    fn params(&self, sms: &Sms, timestamp: &str, nonce: &str) -> Result<BTreeMap<String, String>, String> {
        let code = self
            .cfg
            .templates
            .get(sms.template)
            .ok_or_else(|| format!("未配置短信模板 {t} / no template code for {t}", t = sms.template))?;
        let mut p = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            p.insert(k.to_string(), v.to_string());
        };
        put("AccessKeyId", &self.cfg.access_key_id);
        put("Action", "SendSms");
        put("Format", "JSON");
        put("PhoneNumbers", &sms.phone);
        put("RegionId", &self.cfg.region_id);
        put("SignName", &self.cfg.sign_name);
        put("SignatureMethod", "HMAC-SHA1");
        put("SignatureNonce", nonce);
        put("SignatureVersion", "1.0");
        put("TemplateCode", code);
        if !sms.params.is_empty() {
            put("TemplateParam", &template_param(&sms.params));
        }
        put("Timestamp", timestamp);
        put("Version", "2017-05-25");
        Ok(p)
    }

    async fn deliver(&self, sms: &Sms) -> Result<Receipt, String> {
        let nonce = format!("{:032x}", rand::random::<u128>());
        let mut params = self.params(sms, &timestamp_now()?, &nonce)?;
        let signature = sign(&params, &self.cfg.access_key_secret);
        params.insert("Signature".into(), signature);
        let url = format!("{}?{}", self.cfg.endpoint, canonical_query(&params));

        let resp = self.http.get(&url).send().await.map_err(|e| {
            let e = e.without_url(); // the URL carries the key id and signature
            if e.is_timeout() {
                format!("短信网关超时 / SMS gateway timed out: {e}")
            } else {
                format!("无法连接短信网关 / SMS gateway unreachable: {e}")
            }
        })?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| format!("短信网关应答读取失败 / cannot read the SMS gateway's answer: {}", e.without_url()))?;
        read_answer(status, &body)
    }
}

impl SmsGateway for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<Receipt, String>> {
        Box::pin(self.deliver(sms))
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
    message: Option<String>,
    biz_id: Option<String>,
    request_id: Option<String>,
}

/// The gateway's answer: `Code` "OK" with a `BizId` is a receipt, anything else an `Err`.
fn read_answer(status: reqwest::StatusCode, body: &str) -> Result<Receipt, String> {
    let Ok(a) = serde_json::from_str::<Answer>(body) else {
        let head: String = body.chars().take(200).collect();
        return Err(format!("短信网关应答无法识别 / unexpected SMS gateway answer (HTTP {status}): {head}"));
    };
    match a.code.as_deref() {
        Some("OK") if status.is_success() => match a.biz_id {
            Some(biz_id) if !biz_id.is_empty() => Ok(Receipt { reference: biz_id }),
            _ => Err(format!("短信网关未返回 BizId / SMS gateway answered OK without a BizId (HTTP {status})")),
        },
        Some(code) => {
            let mut e = format!("{code}: {}", a.message.as_deref().unwrap_or(""));
            if !status.is_success() {
                e.push_str(&format!(" (HTTP {status})"));
            }
            if let Some(id) = a.request_id.filter(|id| !id.is_empty()) {
                e.push_str(&format!(" (RequestId {id})"));
            }
            Err(e)
        }
        None => Err(format!("短信网关应答缺少 Code / SMS gateway answer without a Code (HTTP {status})")),
    }
}

/// `TemplateParam`: a JSON object of the parameters, in their order.
fn template_param(params: &[(&'static str, String)]) -> String {
    let fields: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}:{}", serde_json::Value::from(*k), serde_json::Value::from(v.as_str())))
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// Now, as `Timestamp` wants it: ISO 8601 in UTC, `YYYY-MM-DDThh:mm:ssZ`.
fn timestamp_now() -> Result<String, String> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc().format(&fmt).map_err(|e| format!("时间格式化失败 / cannot format the time: {e}"))
}

/// Percent-encoding of the RPC signature: RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) stay, every other byte of the UTF-8 becomes `%XY`
/// (upper-case hex), so a space is `%20` and `*` is `%2A`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encoded `name=value` pairs sorted by name, joined with `&`.
pub fn canonical_query(params: &BTreeMap<String, String>) -> String {
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// What is signed for a GET to `/`.
pub fn string_to_sign(params: &BTreeMap<String, String>) -> String {
    format!("GET&{}&{}", percent_encode("/"), percent_encode(&canonical_query(params)))
}

/// The `Signature` parameter for these parameters (which must not include it).
pub fn sign(params: &BTreeMap<String, String>, access_key_secret: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(format!("{access_key_secret}&").as_bytes())
        .expect("HMAC accepts a key of any length");
    mac.update(string_to_sign(params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The worked example of Alibaba Cloud's SMS documentation ("HTTP 协议及签名"):
    /// key id `testId`, secret `testSecret`, fixed nonce and time.
    #[test]
    fn signature_matches_alibabas_published_sms_example() {
        let p = map(&[
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]);
        assert_eq!(
            canonical_query(&p),
            "AccessKeyId=testId&Action=SendSms&Format=XML&OutId=123&PhoneNumbers=15300000001&RegionId=cn-hangzhou\
             &SignName=%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95%E4%B8%93%E7%94%A8\
             &SignatureMethod=HMAC-SHA1&SignatureNonce=45e25e9b-0a6f-4070-8c85-2956eda1b466&SignatureVersion=1.0\
             &TemplateCode=SMS_71390007&TemplateParam=%7B%22customer%22%3A%22test%22%7D\
             &Timestamp=2017-07-12T02%3A42%3A19Z&Version=2017-05-25"
        );
        assert_eq!(
            string_to_sign(&p),
            "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123\
             %26PhoneNumbers%3D15300000001%26RegionId%3Dcn-hangzhou\
             %26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4%25BF%25A1\
             %25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466\
             %26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007\
             %26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D\
             %26Timestamp%3D2017-07-12T02%253A42%253A19Z%26Version%3D2017-05-25"
        );
        assert_eq!(sign(&p, "testSecret"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        // The key is the secret plus "&": another secret gives another signature.
        assert_ne!(sign(&p, "testSecreT"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
    }

    #[test]
    fn percent_encoding_follows_the_rpc_rules() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("%"), "%25");
        assert_eq!(percent_encode("a=b&c:d"), "a%3Db%26c%3Ad");
        assert_eq!(percent_encode("\"{}\""), "%22%7B%7D%22");
        assert_eq!(percent_encode("\n"), "%0A");
        assert_eq!(percent_encode("阿"), "%E9%98%BF");
        assert_eq!(percent_encode("😀"), "%F0%9F%98%80");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn canonical_query_sorts_by_name_after_encoding() {
        // Upper-case sorts before lower-case, as byte order.
        let p = map(&[("b", "2"), ("B", "1"), ("a", "x y")]);
        assert_eq!(canonical_query(&p), "B=1&a=x%20y&b=2");
    }

    #[test]
    fn template_param_is_a_json_object_in_order_with_escaping() {
        let tp = template_param(&[("name", "王\"建国\"".into()), ("code", "123456".into())]);
        assert_eq!(tp, r#"{"name":"王\"建国\"","code":"123456"}"#);
        let v: serde_json::Value = serde_json::from_str(&tp).unwrap();
        assert_eq!(v["name"], "王\"建国\"");
    }

    #[test]
    fn answers_are_read_strictly() {
        let ok = reqwest::StatusCode::OK;
        assert_eq!(
            read_answer(ok, r#"{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"F655A8D5"}"#),
            Ok(Receipt { reference: "900619746936498440^0".into() })
        );
        let e = read_answer(ok, r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控","RequestId":"R1"}"#)
            .unwrap_err();
        assert!(e.starts_with("isv.BUSINESS_LIMIT_CONTROL: 触发分钟级流控"), "{e}");
        assert!(e.contains("R1"), "{e}");
        assert!(read_answer(ok, r#"{"Code":"OK","Message":"OK"}"#).unwrap_err().contains("BizId"));
        assert!(read_answer(ok, "<html>").unwrap_err().contains("<html>"));
        let e = read_answer(
            reqwest::StatusCode::BAD_REQUEST,
            r#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched."}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("SignatureDoesNotMatch: ") && e.contains("400"), "{e}");
        let e = read_answer(reqwest::StatusCode::BAD_GATEWAY, "Bad Gateway").unwrap_err();
        assert!(e.contains("502"), "{e}");
    }

    #[test]
    fn the_secret_is_not_printed() {
        let dbg = format!("{:?}", config("http://127.0.0.1:9/"));
        assert!(!dbg.contains(SECRET) && dbg.contains("key-id"), "{dbg}");
    }

    // ---- end to end, against a gateway on 127.0.0.1 ----

    const SECRET: &str = "s3cret/+=~";

    fn config(endpoint: &str) -> AliyunConfig {
        AliyunConfig {
            endpoint: endpoint.into(),
            access_key_id: "key-id".into(),
            access_key_secret: SECRET.into(),
            sign_name: "大医县医院".into(),
            region_id: "cn-hangzhou".into(),
            templates: [("clinic_stopped".to_string(), "SMS_123456789".to_string())].into(),
        }
    }

    fn stop_notice() -> Sms {
        Sms {
            phone: "13800138000".into(),
            template: "clinic_stopped",
            params: vec![("name", "王 建国".into()), ("date", "2026-05-04".into()), ("dept", "内科*专家".into())],
            text: "王 建国您好，您预约的 2026-05-04 内科*专家门诊停诊。".into(),
        }
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// What the fake gateway saw of one request.
    #[derive(Debug)]
    struct Seen {
        path: String,
        params: BTreeMap<String, String>,
        signature_ok: bool,
    }

    /// A gateway that checks the signature like Alibaba's does (400
    /// `SignatureDoesNotMatch` when wrong) and otherwise answers `status`, `body`.
    async fn fake_gateway(status: u16, body: &'static str) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let target = head.lines().next().unwrap_or("").split(' ').nth(1).unwrap_or("").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let mut params: BTreeMap<String, String> = query
                    .split('&')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (percent_decode(k), percent_decode(v))
                    })
                    .collect();
                let given = params.remove("Signature");
                let signature_ok = given.as_deref() == Some(sign(&params, SECRET).as_str());
                let (status, body) = if signature_ok {
                    (status, body)
                } else {
                    (400, r#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched."}"#)
                };
                log.lock().unwrap().push(Seen { path: path.to_string(), params, signature_ok });
                let resp = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (endpoint, seen)
    }

    #[tokio::test]
    async fn sends_a_signed_request_and_returns_the_biz_id() {
        let (endpoint, seen) = fake_gateway(
            200,
            r#"{"Message":"OK","RequestId":"2184201F-BFB3-446B-B1F2-C746B7BF0657","BizId":"197703245997295588^0","Code":"OK"}"#,
        )
        .await;
        let gw = AliyunSms::new(config(&endpoint)).unwrap();
        assert_eq!(gw.name(), "aliyun");
        let r = gw.send(&stop_notice()).await;
        assert_eq!(r, Ok(Receipt { reference: "197703245997295588^0".into() }));

        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let s = &seen[0];
        assert!(s.signature_ok, "signature rejected: {s:?}");
        assert_eq!(s.path, "/");
        let p = &s.params;
        assert_eq!(p["Action"], "SendSms");
        assert_eq!(p["Version"], "2017-05-25");
        assert_eq!(p["Format"], "JSON");
        assert_eq!(p["AccessKeyId"], "key-id");
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert_eq!(p["SignatureMethod"], "HMAC-SHA1");
        assert_eq!(p["SignatureVersion"], "1.0");
        assert_eq!(p["PhoneNumbers"], "13800138000");
        assert_eq!(p["SignName"], "大医县医院");
        assert_eq!(p["TemplateCode"], "SMS_123456789");
        let tp: serde_json::Value = serde_json::from_str(&p["TemplateParam"]).unwrap();
        assert_eq!(tp, serde_json::json!({"name": "王 建国", "date": "2026-05-04", "dept": "内科*专家"}));
        assert!(!p["SignatureNonce"].is_empty());
        let ts = &p["Timestamp"];
        let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let t = time::PrimitiveDateTime::parse(ts, &fmt).unwrap_or_else(|e| panic!("Timestamp {ts}: {e}"));
        let skew = (time::OffsetDateTime::now_utc() - t.assume_utc()).abs();
        assert!(skew < time::Duration::minutes(1), "Timestamp {ts} is not now in UTC");
        assert_eq!(p.len(), 13, "unexpected parameters: {p:?}");
    }

    #[tokio::test]
    async fn each_request_has_a_fresh_nonce() {
        let (endpoint, seen) = fake_gateway(200, r#"{"Code":"OK","Message":"OK","BizId":"1^0"}"#).await;
        let gw = AliyunSms::new(config(&endpoint)).unwrap();
        gw.send(&stop_notice()).await.unwrap();
        gw.send(&stop_notice()).await.unwrap();
        let seen = seen.lock().unwrap();
        assert_ne!(seen[0].params["SignatureNonce"], seen[1].params["SignatureNonce"]);
    }

    #[tokio::test]
    async fn a_refusal_carries_the_code_and_message() {
        let (endpoint, seen) =
            fake_gateway(200, r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号","RequestId":"A1"}"#).await;
        let gw = AliyunSms::new(config(&endpoint)).unwrap();
        let e = gw.send(&stop_notice()).await.unwrap_err();
        assert!(e.contains("isv.MOBILE_NUMBER_ILLEGAL") && e.contains("非法手机号"), "{e}");
        assert!(seen.lock().unwrap()[0].signature_ok);
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_by_the_gateway() {
        let (endpoint, _) = fake_gateway(200, r#"{"Code":"OK","Message":"OK","BizId":"1^0"}"#).await;
        let mut cfg = config(&endpoint);
        cfg.access_key_secret = "not-the-secret".into();
        let e = AliyunSms::new(cfg).unwrap().send(&stop_notice()).await.unwrap_err();
        assert!(e.starts_with("SignatureDoesNotMatch") && e.contains("400"), "{e}");
    }

    #[tokio::test]
    async fn an_unmapped_template_fails_without_a_request() {
        let (endpoint, seen) = fake_gateway(200, r#"{"Code":"OK","Message":"OK","BizId":"1^0"}"#).await;
        let gw = AliyunSms::new(config(&endpoint)).unwrap();
        let otp = Sms { phone: "13800138000".into(), template: "otp", params: vec![], text: "123456".into() };
        let e = gw.send(&otp).await.unwrap_err();
        assert_eq!(e, "未配置短信模板 otp / no template code for otp");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn server_errors_and_dead_gateways_are_errors() {
        let (endpoint, _) = fake_gateway(500, "Internal Server Error").await;
        let e = AliyunSms::new(config(&endpoint)).unwrap().send(&stop_notice()).await.unwrap_err();
        assert!(e.contains("500"), "{e}");

        // Nobody listening.
        let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let e = AliyunSms::new(config(&format!("http://127.0.0.1:{port}/"))).unwrap().send(&stop_notice()).await;
        let e = e.unwrap_err();
        assert!(e.contains("unreachable"), "{e}");
        assert!(!e.contains("key-id") && !e.contains("Signature"), "the URL leaked into the error: {e}");
    }

    #[tokio::test]
    async fn a_silent_gateway_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(sock);
        });
        let gw = AliyunSms::with_timeout(config(&endpoint), Duration::from_millis(300)).unwrap();
        let started = std::time::Instant::now();
        let e = gw.send(&stop_notice()).await.unwrap_err();
        assert!(e.contains("timed out"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        hold.abort();
    }
}
