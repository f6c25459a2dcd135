//! The HTTP side shared by all scenarios: the target, the client, and how a
//! response becomes a success or a failure key.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Client, Method, RequestBuilder, Response};
use uuid::Uuid;

/// What a request came to: `Ok`, or the key its failure is counted under
/// (an API error code such as `identity.checksum`, `http.503`, `transport.timeout`).
pub type Outcome = Result<(), String>;

/// The server inside this process, when dayi-load started it: scenarios use
/// it to prepare data without going through HTTP.
#[derive(Clone)]
pub struct Local {
    pub app: dayi_app::App,
    /// The organisation the token belongs to (汶上县人民医院).
    pub org_id: Uuid,
    /// The MLLP listener for lab analyzers (HL7 v2 over TCP), results for that organisation.
    pub mllp: Option<std::net::SocketAddr>,
}

/// Everything a scenario needs to send requests.
#[derive(Clone)]
pub struct Ctx {
    pub client: Client,
    /// The same client without the bearer token, for the patient portal: a
    /// token would take precedence over the `dayi_portal` cookie.
    pub portal: Client,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    pub has_token: bool,
    pub local: Option<Local>,
    /// Seed of the generated data (see `data::PatientGen`).
    pub seed: u64,
    /// Patients to bulk-load before `search`, when dayi-load runs the server itself.
    pub patients: u64,
    /// Patients waiting in each doctor's queue when `queue` starts (its default when `None`).
    pub queue_waiting: Option<u32>,
    /// Visits prepared for `visit` (its default when `None`).
    pub visits: Option<u32>,
    /// Specimens prepared for `lab` (its default when `None`).
    pub specimens: Option<u32>,
    /// Patients in the registry prepared for `chronic` (its default when `None`).
    pub registry: Option<u64>,
    /// The server's process, when known (`soak` watches its memory).
    pub server_pid: Option<u32>,
    /// How long `soak` lets the server idle before the last memory reading.
    pub soak_idle: Duration,
}

impl Ctx {
    /// A client with keep-alive connections (up to `concurrency` kept open)
    /// that sends the bearer token with every request.
    pub fn new(base: &str, token: Option<&str>, concurrency: usize, timeout: Duration) -> anyhow::Result<Ctx> {
        let base = loopback_base(base)?;
        let mut headers = HeaderMap::new();
        if let Some(t) = token {
            let mut v = HeaderValue::from_str(&format!("Bearer {t}")).context("token is not a valid header value")?;
            v.set_sensitive(true);
            headers.insert(AUTHORIZATION, v);
        }
        let builder = || {
            Client::builder()
                .pool_max_idle_per_host(concurrency)
                .tcp_nodelay(true)
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
        };
        let client = builder().default_headers(headers).build()?;
        let portal = builder().build()?;
        Ok(Ctx {
            client,
            portal,
            base,
            has_token: token.is_some(),
            local: None,
            seed: 0,
            patients: 0,
            queue_waiting: None,
            visits: None,
            specimens: None,
            registry: None,
            server_pid: None,
            soak_idle: Duration::from_secs(30),
        })
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// A request through the portal client (no bearer token).
    pub fn portal_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.portal.request(method, format!("{}{path}", self.base))
    }
}

/// Checks that `url` names this machine and returns it without a trailing
/// slash. Load is only ever sent to loopback addresses.
pub fn loopback_base(url: &str) -> anyhow::Result<String> {
    let u = reqwest::Url::parse(url).with_context(|| format!("not a URL: {url}"))?;
    if u.scheme() != "http" {
        bail!("only http:// is supported (loopback, no TLS): {url}");
    }
    let host = u.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("refusing to send load to {url}: only 127.0.0.1, localhost and ::1 are allowed");
    }
    if u.path() != "/" || u.query().is_some() {
        bail!("give the server's base URL without a path, e.g. http://127.0.0.1:8080: {url}");
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Sends a request and succeeds when the status is `expect`. The body is
/// always read to the end, so the connection can be reused.
pub async fn expect(req: RequestBuilder, expect: u16) -> Outcome {
    expect_body(req, expect).await.map(|_| ())
}

/// Like [`expect`], but hands back the body of a successful response.
pub async fn expect_body(req: RequestBuilder, expect: u16) -> Result<impl AsRef<[u8]>, String> {
    let resp = req.send().await.map_err(|e| transport(&e))?;
    let status = resp.status().as_u16();
    let problem = is_problem(&resp);
    let body = resp.bytes().await.map_err(|e| transport(&e))?;
    if status == expect {
        return Ok(body);
    }
    Err(failure_key(status, problem, &body))
}

/// Like [`expect_body`], parsed as JSON.
pub async fn expect_json(req: RequestBuilder, expect: u16) -> Result<serde_json::Value, String> {
    let body = expect_body(req, expect).await?;
    serde_json::from_slice(body.as_ref()).map_err(|_| "response.not_json".to_string())
}

/// Whether the answer is JSON (problem or plain), so it may carry an error code.
pub fn is_problem(resp: &Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json") || v.starts_with("application/json"))
}

/// The API's error `code` when the body is problem+json, else `http.<status>`.
/// A form refused as a whole (`request.validation`) also names its field
/// errors, since the top code alone does not say what was wrong.
pub fn failure_key(status: u16, problem: bool, body: &[u8]) -> String {
    if problem
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(code) = v.get("code").and_then(|c| c.as_str())
    {
        let fields: Vec<String> = v
            .get("fields")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
            .filter_map(|f| Some(format!("{}:{}", f.get("field")?.as_str()?, f.get("code")?.as_str()?)))
            .collect();
        return if fields.is_empty() { code.to_string() } else { format!("{code} [{}]", fields.join(", ")) };
    }
    format!("http.{status}")
}

/// A request that got no HTTP answer.
pub fn transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    };
    format!("transport.{kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        for ok in ["http://127.0.0.1:8080", "http://localhost:8080/", "http://[::1]:8080", "http://127.0.0.2:1"] {
            assert!(loopback_base(ok).is_ok(), "{ok}");
        }
        assert_eq!(loopback_base("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        for bad in [
            "http://10.0.0.1:8080",
            "http://192.168.1.2",
            "http://example.com",
            "http://localhost.example.com",
            "https://127.0.0.1:8443",
            "http://127.0.0.1:8080/api",
            "127.0.0.1:8080",
        ] {
            assert!(loopback_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn failures_are_keyed_by_code_or_status() {
        let problem = br#"{"type":"urn:dayi:error:identity.checksum","code":"identity.checksum","title":"x"}"#;
        assert_eq!(failure_key(422, true, problem), "identity.checksum");
        assert_eq!(failure_key(422, false, problem), "http.422");
        assert_eq!(failure_key(503, true, b"not json"), "http.503");
        assert_eq!(failure_key(500, true, br#"{"title":"no code"}"#), "http.500");
        let form = br#"{"code":"request.validation","fields":[{"field":"sex","code":"identity.sex_mismatch"}]}"#;
        assert_eq!(failure_key(422, true, form), "request.validation [sex:identity.sex_mismatch]");
    }
}
