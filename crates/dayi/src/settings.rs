//! Settings: built-in defaults, then a TOML file, then `DAYI_*` environment
//! variables and command-line flags (clap reads both; flags win).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use dayi_app::lab::mllp::MllpConfig;
use dayi_app::pay::wechat::{WechatConfig, WechatPay};
use dayi_app::sms::aliyun::AliyunConfig;
use serde::Deserialize;

/// Every setting, documented for `dayi serve --help`. In the TOML file the
/// keys are the same names with underscores (e.g. `session_idle_minutes = 30`).
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Configuration file (TOML). Read when it exists; `dayi.toml` in the working directory by default.
    #[arg(long, global = true, env = "DAYI_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Database URL: `sqlite:./data/dayi.db` (default, embedded) or `postgres://user@host/db`.
    #[arg(long, global = true, env = "DAYI_DB", value_name = "URL")]
    pub db: Option<String>,

    /// Connections in the pool (PostgreSQL) or reader connections (SQLite). Default 8.
    #[arg(long, global = true, env = "DAYI_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,

    /// How long a SQLite writer waits for the lock, in milliseconds. Default 5000.
    #[arg(long, global = true, env = "DAYI_DB_BUSY_TIMEOUT_MS", value_name = "MS")]
    pub db_busy_timeout_ms: Option<u64>,

    /// Address to listen on. Default 127.0.0.1:8080.
    #[arg(long, global = true, env = "DAYI_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Address the lab analyzers send HL7 v2 results to over MLLP, e.g. 0.0.0.0:2575. Off when unset.
    #[arg(long, global = true, env = "DAYI_MLLP_LISTEN", value_name = "ADDR")]
    pub mllp_listen: Option<String>,

    /// Code of the organisation whose lab the analyzers belong to (needed with mllp_listen).
    #[arg(long, global = true, env = "DAYI_MLLP_ORG", value_name = "CODE")]
    pub mllp_org: Option<String>,

    /// Seconds an HL7 frame may take from its start block to its end; then the connection is closed. Default 15.
    #[arg(long, global = true, env = "DAYI_MLLP_FRAME_TIMEOUT_SECS", value_name = "SECS")]
    pub mllp_frame_timeout_secs: Option<u64>,

    /// Connections one address may hold to the MLLP listener (a serial device server with several analyzers needs one each). Default 8.
    #[arg(long, global = true, env = "DAYI_MLLP_MAX_PER_PEER", value_name = "N")]
    pub mllp_max_per_peer: Option<usize>,

    /// MLLP connections of addresses not in mllp_known_peers, all together. Default 64; 0 admits known analyzers only.
    #[arg(long, global = true, env = "DAYI_MLLP_MAX_CONNECTIONS", value_name = "N")]
    pub mllp_max_connections: Option<usize>,

    /// The analyzers' IP addresses, comma-separated: they have MLLP connection places no other peer can take.
    #[arg(long, global = true, env = "DAYI_MLLP_KNOWN_PEERS", value_name = "IP,…", value_delimiter = ',')]
    pub mllp_known_peers: Option<Vec<String>>,

    /// Mark cookies `Secure` (set when served over HTTPS, directly or behind a proxy). Default false.
    #[arg(long, global = true, env = "DAYI_SECURE_COOKIES", value_name = "BOOL")]
    pub secure_cookies: Option<bool>,

    /// Largest request body accepted, in KiB. Default 2048.
    #[arg(long, global = true, env = "DAYI_BODY_LIMIT_KB", value_name = "KIB")]
    pub body_limit_kb: Option<usize>,

    /// Sign a user out after this many idle minutes. Default 30.
    #[arg(long, global = true, env = "DAYI_SESSION_IDLE_MINUTES", value_name = "MIN")]
    pub session_idle_minutes: Option<u32>,

    /// Failed sign-ins in a row before the account locks. Default 5.
    #[arg(long, global = true, env = "DAYI_MAX_FAILED_LOGINS", value_name = "N")]
    pub max_failed_logins: Option<u32>,

    /// Minutes a locked account stays locked. Default 15.
    #[arg(long, global = true, env = "DAYI_LOCKOUT_MINUTES", value_name = "MIN")]
    pub lockout_minutes: Option<u32>,

    /// Failed sign-ins (staff and portal) from one address within the lockout time before that address is refused for it. Default 30.
    #[arg(long, global = true, env = "DAYI_MAX_FAILED_LOGINS_PER_IP", value_name = "N")]
    pub max_failed_logins_per_ip: Option<u32>,

    /// Shortest password accepted (letters and digits required). Default 8.
    #[arg(long, global = true, env = "DAYI_PASSWORD_MIN_LEN", value_name = "N")]
    pub password_min_len: Option<usize>,

    /// Days the audit log is kept before it may be purged (at least 180, per the Cybersecurity Law). Default 180.
    #[arg(long, global = true, env = "DAYI_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u32>,

    // Disk, memory and audit anchors (issue 22).
    /// SQLite: once the write-ahead log passes this many MiB it is copied into the database and cut to nothing. Default 64.
    #[arg(long, global = true, env = "DAYI_WAL_TRUNCATE_MB", value_name = "MIB")]
    pub wal_truncate_mb: Option<u64>,

    /// Largest body of an ordinary form or JSON request, in KiB (FHIR documents take body_limit_kb). Default 64.
    #[arg(long, global = true, env = "DAYI_FORM_BODY_LIMIT_KB", value_name = "KIB")]
    pub form_body_limit_kb: Option<usize>,

    /// Append-only file that gets every organisation's audit chain head (each minute it moved, at start and stop,
    /// and at each backup); keep copies off the machine. Default: audit-anchor.log beside the SQLite database, none
    /// on PostgreSQL. An empty value turns it off.
    #[arg(long, global = true, env = "DAYI_AUDIT_ANCHOR_FILE", value_name = "FILE")]
    pub audit_anchor_file: Option<PathBuf>,

    /// Log filter, e.g. `info` or `dayi=debug,tower_http=info`. Default `info`.
    #[arg(long, global = true, env = "DAYI_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Text messages: the `[sms]` table of the file.
    #[command(flatten)]
    pub sms: SmsSettings,

    /// Online payment: the `[pay]` table of the file.
    #[command(flatten)]
    pub pay: PaySettings,
}

macro_rules! overlay {
    ($base:ident, $top:ident, $($f:ident),*) => { $( if $top.$f.is_some() { $base.$f = $top.$f.clone(); } )* };
}

/// Text messages to patients (sign-in codes, clinic-stop notices). The
/// built-in `log` gateway only writes them to the message log (/messages);
/// `aliyun` sends them through Alibaba Cloud SMS. In the TOML file:
///
/// ```toml
/// [sms]
/// gateway = "aliyun"
/// sign_name = "大医县医院"            # the approved 短信签名
/// [sms.templates]                     # our template name = Aliyun template code
/// otp = "SMS_123456789"
/// clinic_stopped = "SMS_123456790"
/// booking = "SMS_123456791"
/// ```
///
/// with the AccessKey in `DAYI_SMS_ACCESS_KEY_ID` / `DAYI_SMS_ACCESS_KEY_SECRET`.
#[derive(Args, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[command(next_help_heading = "Text messages (短信; [sms] in the config file)")]
pub struct SmsSettings {
    /// SMS gateway: `log` (kept in the message log only) or `aliyun` (Alibaba Cloud SMS). Default `log`.
    ///
    /// `aliyun` needs an AccessKey (best given as DAYI_SMS_ACCESS_KEY_ID and DAYI_SMS_ACCESS_KEY_SECRET), the
    /// approved sign name and a template code for each of our templates (`otp`, `clinic_stopped`, `booking`). In the
    /// config file: `[sms]` with `gateway = "aliyun"` and `sign_name = "大医县医院"`, then `[sms.templates]` with
    /// `otp = "SMS_123456789"` and so on. A template without a code fails to send and says so in the message log.
    #[arg(long = "sms-gateway", global = true, env = "DAYI_SMS_GATEWAY", value_name = "NAME")]
    pub gateway: Option<String>,

    /// Alibaba Cloud SMS endpoint. Default https://dysmsapi.aliyuncs.com/.
    #[arg(long = "sms-endpoint", global = true, env = "DAYI_SMS_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,

    /// AccessKey ID of a RAM user allowed to send SMS (`aliyun`).
    #[arg(
        long = "sms-access-key-id",
        global = true,
        env = "DAYI_SMS_ACCESS_KEY_ID",
        hide_env_values = true,
        value_name = "ID"
    )]
    pub access_key_id: Option<String>,

    /// AccessKey secret (`aliyun`); give it in the environment rather than on the command line.
    #[arg(
        long = "sms-access-key-secret",
        global = true,
        env = "DAYI_SMS_ACCESS_KEY_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub access_key_secret: Option<String>,

    /// Approved SMS signature (短信签名) shown as 【…】, e.g. 大医县医院 (`aliyun`).
    #[arg(long = "sms-sign-name", global = true, env = "DAYI_SMS_SIGN_NAME", value_name = "NAME")]
    pub sign_name: Option<String>,

    /// Alibaba Cloud region. Default cn-hangzhou.
    #[arg(long = "sms-region-id", global = true, env = "DAYI_SMS_REGION_ID", value_name = "REGION")]
    pub region_id: Option<String>,

    /// Template codes as NAME=CODE, comma-separated (`otp=SMS_123456789,clinic_stopped=SMS_123456790`); they
    /// add to or replace the file's `[sms.templates]`.
    #[arg(
        long = "sms-templates",
        global = true,
        env = "DAYI_SMS_TEMPLATES",
        value_name = "NAME=CODE,…",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub template_codes: Vec<String>,

    /// `[sms.templates]`: our template name (`otp`, `clinic_stopped`, `booking`) = Aliyun template code.
    #[arg(skip)]
    pub templates: BTreeMap<String, String>,
}

/// Never prints the secret.
impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("gateway", &self.gateway)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &self.access_key_secret.as_ref().map(|_| "***"))
            .field("sign_name", &self.sign_name)
            .field("region_id", &self.region_id)
            .field("template_codes", &self.template_codes)
            .field("templates", &self.templates)
            .finish()
    }
}

impl SmsSettings {
    /// The command line and environment over the file.
    fn overlay(&mut self, cli: &SmsSettings) -> anyhow::Result<()> {
        let (file, top) = (self, cli);
        overlay!(file, top, gateway, endpoint, access_key_id, access_key_secret, sign_name, region_id);
        for pair in top.template_codes.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let Some((name, code)) = pair.split_once('=') else {
                anyhow::bail!("短信模板应写成 名称=模板代码 / sms template must be NAME=CODE: {pair}");
            };
            file.templates.insert(name.trim().to_string(), code.trim().to_string());
        }
        Ok(())
    }

    /// `None` for the built-in message log; the Aliyun settings, checked, otherwise.
    fn resolve(&self) -> anyhow::Result<Option<AliyunConfig>> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        match self.gateway.as_deref().map(str::trim).unwrap_or("log") {
            "log" => Ok(None),
            "aliyun" => {
                let mut missing = Vec::new();
                let key_id = given(&self.access_key_id);
                let secret = given(&self.access_key_secret);
                let sign_name = given(&self.sign_name);
                if key_id.is_none() {
                    missing.push("access_key_id (DAYI_SMS_ACCESS_KEY_ID)");
                }
                if secret.is_none() {
                    missing.push("access_key_secret (DAYI_SMS_ACCESS_KEY_SECRET)");
                }
                if sign_name.is_none() {
                    missing.push("sign_name (DAYI_SMS_SIGN_NAME)");
                }
                if self.templates.is_empty() {
                    missing.push("[sms.templates] (DAYI_SMS_TEMPLATES)");
                }
                if !missing.is_empty() {
                    anyhow::bail!("短信网关 aliyun 缺少设置 / sms gateway \"aliyun\" needs: {}", missing.join(", "));
                }
                if let Some((name, _)) = self.templates.iter().find(|(n, c)| n.is_empty() || c.trim().is_empty()) {
                    anyhow::bail!("短信模板代码为空 / empty sms template code for \"{name}\"");
                }
                let endpoint = given(&self.endpoint).unwrap_or_else(|| AliyunConfig::DEFAULT_ENDPOINT.into());
                if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                    anyhow::bail!("短信网关地址应以 https:// 开头 / sms endpoint must be an https:// URL: {endpoint}");
                }
                Ok(Some(AliyunConfig {
                    endpoint,
                    access_key_id: key_id.unwrap_or_default(),
                    access_key_secret: secret.unwrap_or_default(),
                    sign_name: sign_name.unwrap_or_default(),
                    region_id: given(&self.region_id).unwrap_or_else(|| AliyunConfig::DEFAULT_REGION.into()),
                    templates: self.templates.clone(),
                }))
            }
            other => anyhow::bail!("未知的短信网关 / unknown sms gateway \"{other}\"（可选 / one of: log, aliyun）"),
        }
    }
}

/// Online payment. Without `[pay.wechat]`, online payments go through the
/// built-in local provider (本地模拟支付).
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaySettings {
    #[command(flatten)]
    pub wechat: WechatSettings,
}

/// WeChat Pay API v3 (微信支付, a directly connected merchant). In the TOML file:
///
/// ```toml
/// [pay.wechat]
/// mchid = "1900000109"
/// appid = "wxd678efh567hg6787"
/// serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"     # 商户API证书序列号
/// private_key_file = "/etc/dayi/wechat/apiclient_key.pem"     # 商户API私钥
/// api_v3_key_file = "/etc/dayi/wechat/apiv3.key"              # APIv3密钥, 32 characters
/// [pay.wechat.platform_keys]                                  # WeChat Pay's public keys
/// "PUB_KEY_ID_0119000001092025011600000000" = "/etc/dayi/wechat/pub_key.pem"
/// ```
///
/// The two secrets are only ever read from files (readable by the server's
/// user alone), never given as values on the command line or in this file.
/// Setting any of these turns WeChat Pay on, and then every one but
/// `base_url` is needed.
#[derive(Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[command(next_help_heading = "WeChat Pay (微信支付; [pay.wechat] in the config file)")]
pub struct WechatSettings {
    /// WeChat Pay merchant number (商户号). Setting it (or any other pay-wechat setting) turns WeChat Pay on for
    /// online payments instead of the built-in local provider.
    #[arg(long = "pay-wechat-mchid", global = true, env = "DAYI_PAY_WECHAT_MCHID", value_name = "MCHID")]
    pub mchid: Option<String>,

    /// The AppID bound to the merchant (公众号, 小程序 or 移动应用).
    #[arg(long = "pay-wechat-appid", global = true, env = "DAYI_PAY_WECHAT_APPID", value_name = "APPID")]
    pub appid: Option<String>,

    /// Serial number of the merchant API certificate (商户API证书序列号).
    #[arg(long = "pay-wechat-serial-no", global = true, env = "DAYI_PAY_WECHAT_SERIAL_NO", value_name = "SERIAL")]
    pub serial_no: Option<String>,

    /// File holding the merchant API private key (apiclient_key.pem, PKCS#8 or PKCS#1 PEM).
    #[arg(
        long = "pay-wechat-private-key-file",
        global = true,
        env = "DAYI_PAY_WECHAT_PRIVATE_KEY_FILE",
        value_name = "FILE"
    )]
    pub private_key_file: Option<PathBuf>,

    /// File holding the API v3 key (APIv3密钥, 32 characters; a final newline is ignored).
    #[arg(
        long = "pay-wechat-api-v3-key-file",
        global = true,
        env = "DAYI_PAY_WECHAT_API_V3_KEY_FILE",
        value_name = "FILE"
    )]
    pub api_v3_key_file: Option<PathBuf>,

    /// WeChat Pay's public keys as SERIAL=FILE, comma-separated (`PUB_KEY_ID_…=/etc/dayi/wechat/pub_key.pem`, or a
    /// platform certificate's serial with its key taken out by `openssl x509 -pubkey -noout`); they add to or
    /// replace the file's `[pay.wechat.platform_keys]`. Several while keys rotate.
    #[arg(
        long = "pay-wechat-platform-keys",
        global = true,
        env = "DAYI_PAY_WECHAT_PLATFORM_KEYS",
        value_name = "SERIAL=FILE,…",
        value_delimiter = ','
    )]
    #[serde(skip)]
    pub platform_key_files: Vec<String>,

    /// `[pay.wechat.platform_keys]`: serial = file of the public key (PEM).
    #[arg(skip)]
    pub platform_keys: BTreeMap<String, PathBuf>,

    /// WeChat Pay API root. Default https://api.mch.weixin.qq.com.
    #[arg(long = "pay-wechat-base-url", global = true, env = "DAYI_PAY_WECHAT_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
}

impl WechatSettings {
    /// The command line and environment over the file.
    fn overlay(&mut self, cli: &WechatSettings) -> anyhow::Result<()> {
        let (file, top) = (self, cli);
        overlay!(file, top, mchid, appid, serial_no, private_key_file, api_v3_key_file, base_url);
        for pair in top.platform_key_files.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let Some((serial, path)) = pair.split_once('=') else {
                anyhow::bail!("微信支付公钥应写成 序列号=文件 / pay-wechat-platform-keys must be SERIAL=FILE: {pair}");
            };
            file.platform_keys.insert(serial.trim().to_string(), PathBuf::from(path.trim()));
        }
        Ok(())
    }

    /// `None` when WeChat Pay is not configured; its checked settings, with
    /// the keys read from their files, otherwise.
    fn resolve(&self) -> anyhow::Result<Option<WechatConfig>> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
        let (mchid, appid, serial_no, base_url) =
            (given(&self.mchid), given(&self.appid), given(&self.serial_no), given(&self.base_url));
        let any = mchid.is_some()
            || appid.is_some()
            || serial_no.is_some()
            || base_url.is_some()
            || self.private_key_file.is_some()
            || self.api_v3_key_file.is_some()
            || !self.platform_keys.is_empty();
        if !any {
            return Ok(None);
        }
        let mut missing = Vec::new();
        for (name, absent) in [
            ("mchid (DAYI_PAY_WECHAT_MCHID)", mchid.is_none()),
            ("appid (DAYI_PAY_WECHAT_APPID)", appid.is_none()),
            ("serial_no (DAYI_PAY_WECHAT_SERIAL_NO)", serial_no.is_none()),
            ("private_key_file (DAYI_PAY_WECHAT_PRIVATE_KEY_FILE)", self.private_key_file.is_none()),
            ("api_v3_key_file (DAYI_PAY_WECHAT_API_V3_KEY_FILE)", self.api_v3_key_file.is_none()),
            ("[pay.wechat.platform_keys] (DAYI_PAY_WECHAT_PLATFORM_KEYS)", self.platform_keys.is_empty()),
        ] {
            if absent {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            anyhow::bail!("微信支付缺少设置 / [pay.wechat] needs: {}", missing.join(", "));
        }
        let (Some(key_file), Some(v3_file)) = (&self.private_key_file, &self.api_v3_key_file) else {
            anyhow::bail!("微信支付缺少密钥文件 / [pay.wechat] needs private_key_file and api_v3_key_file");
        };
        let read = |what: &str, path: &PathBuf| {
            std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("无法读取微信支付{what} / cannot read [pay.wechat] {what} {}: {e}", path.display())
            })
        };
        let private_key_pem = read("private_key_file", key_file)?;
        let api_v3_key = read("api_v3_key_file", v3_file)?;
        let mut platform_certs = Vec::new();
        for (serial, path) in &self.platform_keys {
            platform_certs.push((serial.clone(), read("platform key", path)?));
        }
        let cfg = WechatConfig {
            mchid: mchid.unwrap_or_default(),
            appid: appid.unwrap_or_default(),
            serial_no: serial_no.unwrap_or_default(),
            private_key_pem,
            api_v3_key: api_v3_key.trim_end_matches(['\r', '\n']).to_string(),
            platform_certs,
            base_url: base_url.unwrap_or_else(|| WechatConfig::DEFAULT_BASE_URL.into()),
        };
        if !cfg.mchid.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!("微信支付商户号应为数字 / [pay.wechat] mchid must be digits: {}", cfg.mchid);
        }
        // The keys are parsed now, so a bad one stops the start rather than the first payment.
        WechatPay::new(cfg.clone()).map_err(|e| anyhow::anyhow!("微信支付设置有误 / invalid [pay.wechat]: {e}"))?;
        Ok(Some(cfg))
    }
}

impl Settings {
    /// Command line and environment over the file over the defaults.
    pub fn resolve(cli: &Settings, default_db: &str) -> anyhow::Result<Resolved> {
        let path = cli.config.clone().unwrap_or_else(|| PathBuf::from("dayi.toml"));
        let mut s = if path.exists() {
            let text = std::fs::read_to_string(&path)?;
            toml::from_str::<Settings>(&text)
                .map_err(|e| anyhow::anyhow!("配置文件 {} 有误 / invalid config: {e}", path.display()))?
        } else if cli.config.is_some() {
            anyhow::bail!("配置文件不存在 / config file not found: {}", path.display());
        } else {
            Settings::default()
        };
        overlay!(
            s,
            cli,
            db,
            db_max_connections,
            db_busy_timeout_ms,
            listen,
            mllp_listen,
            mllp_org,
            mllp_frame_timeout_secs,
            mllp_max_per_peer,
            mllp_max_connections,
            mllp_known_peers,
            secure_cookies,
            body_limit_kb,
            session_idle_minutes,
            max_failed_logins,
            lockout_minutes,
            max_failed_logins_per_ip,
            password_min_len,
            audit_retention_days,
            log,
            wal_truncate_mb,
            form_body_limit_kb,
            audit_anchor_file
        );
        s.sms.overlay(&cli.sms)?;
        s.pay.wechat.overlay(&cli.pay.wechat)?;
        let d = dayi_app::SecurityConfig::default();
        let retention = s.audit_retention_days.unwrap_or(d.audit_retention_days);
        if retention < 180 {
            anyhow::bail!("audit_retention_days 不能少于 180 天（网络安全法第二十一条）/ must be at least 180");
        }
        let url = s.db.clone().unwrap_or_else(|| default_db.to_string());
        let body_limit = s.body_limit_kb.unwrap_or(2048).max(1) * 1024;
        Ok(Resolved {
            mllp: mllp(&s)?,
            audit_anchor_file: anchor_file(s.audit_anchor_file.clone(), &url),
            db: dayi_store::DbConfig {
                url,
                max_connections: s.db_max_connections.unwrap_or(8),
                busy_timeout: std::time::Duration::from_millis(s.db_busy_timeout_ms.unwrap_or(5000)),
                wal_truncate_bytes: s
                    .wal_truncate_mb
                    .map_or(dayi_store::DbConfig::WAL_TRUNCATE_BYTES, |m| m.max(1) << 20),
            },
            listen: s.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into()),
            web: dayi_web::WebConfig {
                secure_cookies: s.secure_cookies.unwrap_or(false),
                body_limit,
                form_body_limit: (s.form_body_limit_kb.unwrap_or(64).max(1) * 1024).min(body_limit),
            },
            security: dayi_app::SecurityConfig {
                session_idle_minutes: s.session_idle_minutes.unwrap_or(d.session_idle_minutes),
                max_failed_logins: s.max_failed_logins.unwrap_or(d.max_failed_logins).max(1),
                lockout_minutes: s.lockout_minutes.unwrap_or(d.lockout_minutes),
                max_failed_logins_per_ip: s.max_failed_logins_per_ip.unwrap_or(d.max_failed_logins_per_ip).max(1),
                password_min_len: s.password_min_len.unwrap_or(d.password_min_len).max(6),
                audit_retention_days: retention,
                totp_issuer: d.totp_issuer,
            },
            log: s.log.clone().unwrap_or_else(|| "info".into()),
            sms: s.sms.resolve()?,
            wechat: s.pay.wechat.resolve()?,
        })
    }
}

/// The audit anchor file: as set (empty: none), else beside a SQLite database.
fn anchor_file(set: Option<PathBuf>, db_url: &str) -> Option<PathBuf> {
    match set {
        Some(p) if p.as_os_str().is_empty() => None,
        Some(p) => Some(p),
        None => dayi_store::db::sqlite_path(db_url)
            .map(|db| std::path::Path::new(&db).parent().unwrap_or(std::path::Path::new("")).join("audit-anchor.log")),
    }
}

/// The analyzers' MLLP listener: where, for which organisation, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mllp {
    pub listen: String,
    pub org: String,
    pub config: MllpConfig,
}

/// The listener when both `mllp_listen` and `mllp_org` are set, with its
/// limits; an address that is not an IP stops the start.
fn mllp(s: &Settings) -> anyhow::Result<Option<Mllp>> {
    let (listen, org) = match (s.mllp_listen.clone(), s.mllp_org.clone()) {
        (None, None) => return Ok(None),
        (Some(listen), Some(org)) => (listen, org),
        _ => anyhow::bail!("mllp_listen 与 mllp_org 须同时设置 / set both mllp_listen and mllp_org"),
    };
    let mut known_peers = Vec::new();
    for peer in s.mllp_known_peers.iter().flatten().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        known_peers.push(peer.parse::<IpAddr>().map_err(|_| {
            anyhow::anyhow!("mllp_known_peers 中的地址应为 IP 地址 / mllp_known_peers needs IP addresses: {peer}")
        })?);
    }
    let d = MllpConfig::default();
    let config = MllpConfig {
        frame_timeout: s.mllp_frame_timeout_secs.map_or(d.frame_timeout, |v| Duration::from_secs(v.max(1))),
        max_per_peer: s.mllp_max_per_peer.unwrap_or(d.max_per_peer).max(1),
        max_connections: s.mllp_max_connections.unwrap_or(d.max_connections),
        known_peers,
        ..d
    };
    Ok(Some(Mllp { listen, org, config }))
}

/// Settings with every default filled in.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub db: dayi_store::DbConfig,
    pub listen: String,
    /// Lab analyzers over HL7 v2 / MLLP; `None` keeps it off.
    pub mllp: Option<Mllp>,
    pub web: dayi_web::WebConfig,
    /// Where audit chain heads are anchored; `None` when off.
    pub audit_anchor_file: Option<PathBuf>,
    pub security: dayi_app::SecurityConfig,
    pub log: String,
    /// Alibaba Cloud SMS; `None` keeps the built-in message log.
    pub sms: Option<AliyunConfig>,
    /// WeChat Pay for online payments; `None` keeps the built-in local provider.
    pub wechat: Option<WechatConfig>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_toml(file: &str, cli: SmsSettings) -> anyhow::Result<Option<AliyunConfig>> {
        let mut s: Settings = toml::from_str(file)?;
        s.sms.overlay(&cli)?;
        s.sms.resolve()
    }

    fn keys() -> SmsSettings {
        SmsSettings {
            access_key_id: Some("LTAI5t".into()),
            access_key_secret: Some("secret".into()),
            ..Default::default()
        }
    }

    #[test]
    fn mllp_limits_from_the_file_and_flags() {
        let file = "mllp_listen = \"0.0.0.0:2575\"\nmllp_org = \"wsxrmyy\"\nmllp_frame_timeout_secs = 20\n\
                    mllp_known_peers = [\"192.168.10.21\", \"fd00::21\"]\n";
        let s: Settings = toml::from_str(file).unwrap();
        let m = mllp(&s).unwrap().expect("listener");
        assert_eq!((m.listen.as_str(), m.org.as_str()), ("0.0.0.0:2575", "wsxrmyy"));
        assert_eq!(m.config.frame_timeout, Duration::from_secs(20));
        assert_eq!((m.config.max_per_peer, m.config.max_connections), (8, 64));
        let known: Vec<String> = m.config.known_peers.iter().map(|p| p.to_string()).collect();
        assert_eq!(known, ["192.168.10.21", "fd00::21"]);
        // flags and the environment win; 0 places per peer would lock everyone out
        let mut s = s;
        let cli = Settings {
            mllp_max_per_peer: Some(0),
            mllp_max_connections: Some(0),
            mllp_known_peers: Some(vec![" 10.0.0.7 ".into(), String::new()]),
            ..Default::default()
        };
        overlay!(s, cli, mllp_max_per_peer, mllp_max_connections, mllp_known_peers);
        let m = mllp(&s).unwrap().expect("listener");
        assert_eq!((m.config.max_per_peer, m.config.max_connections), (1, 0));
        assert_eq!(m.config.known_peers, ["10.0.0.7".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn a_known_peer_must_be_an_ip_address() {
        let file = "mllp_listen = \"0.0.0.0:2575\"\nmllp_org = \"x\"\nmllp_known_peers = [\"analyzer-1.lab\"]\n";
        let e = mllp(&toml::from_str(file).unwrap()).unwrap_err().to_string();
        assert!(e.contains("mllp_known_peers") && e.contains("analyzer-1.lab"), "{e}");
        let e = mllp(&toml::from_str("mllp_org = \"x\"\n").unwrap()).unwrap_err().to_string();
        assert!(e.contains("mllp_listen"), "{e}");
    }

    #[test]
    fn sms_defaults_to_the_message_log() {
        assert_eq!(resolve_toml("", SmsSettings::default()).unwrap(), None);
        assert_eq!(resolve_toml("[sms]\ngateway = \"log\"\n", SmsSettings::default()).unwrap(), None);
    }

    #[test]
    fn aliyun_from_the_file_with_keys_from_the_environment() {
        let file = "[sms]\ngateway = \"aliyun\"\nsign_name = \"大医县医院\"\n\
                    [sms.templates]\notp = \"SMS_1\"\nclinic_stopped = \"SMS_2\"\n";
        let cli = SmsSettings { template_codes: vec!["otp=SMS_9".into(), " booking = SMS_3 ".into()], ..keys() };
        let c = resolve_toml(file, cli).unwrap().expect("aliyun");
        assert_eq!(c.endpoint, "https://dysmsapi.aliyuncs.com/");
        assert_eq!(c.region_id, "cn-hangzhou");
        assert_eq!((c.access_key_id.as_str(), c.access_key_secret.as_str()), ("LTAI5t", "secret"));
        assert_eq!(c.sign_name, "大医县医院");
        let t: Vec<(&str, &str)> = c.templates.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(t, [("booking", "SMS_3"), ("clinic_stopped", "SMS_2"), ("otp", "SMS_9")]);
    }

    #[test]
    fn aliyun_without_keys_is_a_startup_error() {
        let file = "[sms]\ngateway = \"aliyun\"\nsign_name = \"大医\"\n[sms.templates]\notp = \"SMS_1\"\n";
        let e = resolve_toml(file, SmsSettings::default()).unwrap_err().to_string();
        assert!(
            e.contains("缺少") && e.contains("DAYI_SMS_ACCESS_KEY_ID") && e.contains("DAYI_SMS_ACCESS_KEY_SECRET"),
            "{e}"
        );
        assert!(!e.contains("sign_name"), "{e}");
        let e = resolve_toml("[sms]\ngateway = \"aliyun\"\n", keys()).unwrap_err().to_string();
        assert!(e.contains("sign_name") && e.contains("[sms.templates]") && !e.contains("ACCESS_KEY"), "{e}");
    }

    #[test]
    fn bad_sms_settings_are_refused() {
        let e = resolve_toml("[sms]\ngateway = \"twilio\"\n", SmsSettings::default()).unwrap_err().to_string();
        assert!(e.contains("未知的短信网关") && e.contains("twilio"), "{e}");
        assert!(resolve_toml("[sms]\ngatway = \"log\"\n", SmsSettings::default()).is_err());
        let cli = SmsSettings { template_codes: vec!["otp".into()], ..keys() };
        assert!(resolve_toml("", cli).unwrap_err().to_string().contains("NAME=CODE"));
        let file = "[sms]\ngateway = \"aliyun\"\nsign_name = \"大医\"\nendpoint = \"dysmsapi.aliyuncs.com\"\n\
                    [sms.templates]\notp = \"SMS_1\"\n";
        assert!(resolve_toml(file, keys()).unwrap_err().to_string().contains("https://"));
    }

    /// A test-only key pair and API v3 key (tests/fixtures/wechat).
    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/wechat/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn wechat_file() -> String {
        format!(
            "[pay.wechat]\nmchid = \"1900000109\"\nappid = \"wxd678efh567hg6787\"\n\
             serial_no = \"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\"\n\
             private_key_file = \"{}\"\napi_v3_key_file = \"{}\"\n\
             [pay.wechat.platform_keys]\n\"PUB_KEY_ID_0119000001092025011600000000\" = \"{}\"\n",
            fixture("apiclient_key.pem"),
            fixture("apiv3.key"),
            fixture("wechatpay_pub.pem")
        )
    }

    fn wechat_toml(file: &str, cli: WechatSettings) -> anyhow::Result<Option<WechatConfig>> {
        let mut s: Settings = toml::from_str(file)?;
        s.pay.wechat.overlay(&cli)?;
        s.pay.wechat.resolve()
    }

    #[test]
    fn wechat_pay_is_off_unless_configured() {
        assert_eq!(wechat_toml("", WechatSettings::default()).unwrap(), None);
        assert_eq!(wechat_toml("[pay]\n[pay.wechat]\n", WechatSettings::default()).unwrap(), None);
    }

    #[test]
    fn wechat_pay_from_the_file_with_keys_read_from_files() {
        let c = wechat_toml(&wechat_file(), WechatSettings::default()).unwrap().expect("wechat");
        assert_eq!((c.mchid.as_str(), c.appid.as_str()), ("1900000109", "wxd678efh567hg6787"));
        assert_eq!(c.serial_no, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
        assert_eq!(c.api_v3_key, "0123456789abcdef0123456789ABCDEF", "the file's newline is not part of the key");
        assert!(c.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(c.platform_certs.len(), 1);
        assert_eq!(c.platform_certs[0].0, "PUB_KEY_ID_0119000001092025011600000000");
        assert_eq!(c.base_url, "https://api.mch.weixin.qq.com");
        // Flags and the environment win over the file, and add public keys.
        let cli = WechatSettings {
            mchid: Some("1900000110".into()),
            base_url: Some("https://pay.example.cn".into()),
            platform_key_files: vec![format!(" PUB_KEY_ID_2 = {} ", fixture("wechatpay_pub.pem"))],
            ..Default::default()
        };
        let c = wechat_toml(&wechat_file(), cli).unwrap().expect("wechat");
        assert_eq!((c.mchid.as_str(), c.base_url.as_str()), ("1900000110", "https://pay.example.cn"));
        let serials: Vec<&str> = c.platform_certs.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(serials, ["PUB_KEY_ID_0119000001092025011600000000", "PUB_KEY_ID_2"]);
        // Everything from flags and the environment alone.
        let cli = WechatSettings {
            mchid: Some("1900000109".into()),
            appid: Some("wx1".into()),
            serial_no: Some("ABC".into()),
            private_key_file: Some(fixture("apiclient_key.pem").into()),
            api_v3_key_file: Some(fixture("apiv3.key").into()),
            platform_key_files: vec![format!("PUB_KEY_ID_1={}", fixture("wechatpay_pub.pem"))],
            ..Default::default()
        };
        assert!(wechat_toml("", cli).unwrap().is_some());
    }

    #[test]
    fn incomplete_wechat_settings_are_refused() {
        let cli = WechatSettings { mchid: Some("1900000109".into()), ..Default::default() };
        let e = wechat_toml("", cli).unwrap_err().to_string();
        assert!(e.contains("微信支付缺少设置") && e.contains("[pay.wechat] needs"), "{e}");
        for name in ["appid", "serial_no", "DAYI_PAY_WECHAT_PRIVATE_KEY_FILE", "api_v3_key_file", "platform_keys"] {
            assert!(e.contains(name), "{name} in {e}");
        }
        assert!(!e.contains("mchid"), "{e}");
        let cli = WechatSettings { platform_key_files: vec!["PUB_KEY_ID_1".into()], ..Default::default() };
        assert!(wechat_toml("", cli).unwrap_err().to_string().contains("SERIAL=FILE"));
    }

    #[test]
    fn bad_wechat_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.key");
        std::fs::write(&short, "0123456789").unwrap();
        let with = |f: &dyn Fn(&mut WechatSettings)| {
            let mut cli = WechatSettings::default();
            f(&mut cli);
            wechat_toml(&wechat_file(), cli).unwrap_err().to_string()
        };
        let e = with(&|c| c.api_v3_key_file = Some(short.clone()));
        assert!(e.contains("invalid [pay.wechat]") && e.contains("32"), "{e}");
        // The public key where the merchant's private key belongs.
        let e = with(&|c| c.private_key_file = Some(fixture("wechatpay_pub.pem").into()));
        assert!(e.contains("private_key"), "{e}");
        let e = with(&|c| c.private_key_file = Some(dir.path().join("missing.pem")));
        assert!(e.contains("cannot read [pay.wechat] private_key_file") && e.contains("missing.pem"), "{e}");
        let e = with(&|c| c.platform_key_files = vec![format!("PUB_KEY_ID_9={}", fixture("apiclient_key.pem"))]);
        assert!(e.contains("PUB_KEY_ID_9"), "{e}");
        let e = with(&|c| c.mchid = Some("19000-00109".into()));
        assert!(e.contains("mchid must be digits"), "{e}");
        let e = with(&|c| c.base_url = Some("api.mch.weixin.qq.com".into()));
        assert!(e.contains("base_url"), "{e}");
        // Secrets are never values in the file.
        let inline = wechat_file().replace("api_v3_key_file", "api_v3_key");
        assert!(wechat_toml(&inline, WechatSettings::default()).is_err());
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let s = Settings { sms: keys(), ..Default::default() };
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("\"secret\"") && dbg.contains("LTAI5t"), "{dbg}");
        let c = wechat_toml(&wechat_file(), WechatSettings::default()).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("0123456789abcdef") && !dbg.contains("BEGIN PRIVATE KEY"), "{dbg}");
    }

    fn resolved(file: &str, cli: Settings, db: &str) -> Resolved {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("dayi.toml");
        std::fs::write(&config, file).unwrap();
        Settings::resolve(&Settings { config: Some(config), ..cli }, db).unwrap()
    }

    #[test]
    fn disk_memory_and_anchor_defaults() {
        let r = resolved("", Settings::default(), "sqlite:./data/dayi.db");
        assert_eq!(r.db.wal_truncate_bytes, 64 << 20);
        assert_eq!((r.web.form_body_limit, r.web.body_limit), (64 << 10, 2048 << 10));
        assert_eq!(r.audit_anchor_file, Some(PathBuf::from("./data/audit-anchor.log")));
        let r = resolved("", Settings::default(), "postgres://dayi@db/dayi");
        assert_eq!(r.audit_anchor_file, None, "no default place on PostgreSQL");
    }

    #[test]
    fn disk_memory_and_anchor_settings() {
        let file = "wal_truncate_mb = 16\nform_body_limit_kb = 32\naudit_anchor_file = \"/var/lib/dayi/anchor.log\"\n";
        let r = resolved(file, Settings::default(), "postgres://dayi@db/dayi");
        assert_eq!((r.db.wal_truncate_bytes, r.web.form_body_limit), (16 << 20, 32 << 10));
        assert_eq!(r.audit_anchor_file, Some(PathBuf::from("/var/lib/dayi/anchor.log")));
        // The flag or environment wins; empty turns anchoring off; the form limit never passes the body limit.
        let cli =
            Settings { audit_anchor_file: Some(PathBuf::new()), form_body_limit_kb: Some(4096), ..Default::default() };
        let r = resolved(file, cli, "sqlite:/srv/d.db");
        assert_eq!(r.audit_anchor_file, None);
        assert_eq!(r.web.form_body_limit, r.web.body_limit);
    }
}
