//! Settings: built-in defaults, then a TOML file, then `DAYI_*` environment
//! variables and command-line flags (clap reads both; flags win).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
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

    /// Shortest password accepted (letters and digits required). Default 8.
    #[arg(long, global = true, env = "DAYI_PASSWORD_MIN_LEN", value_name = "N")]
    pub password_min_len: Option<usize>,

    /// Days the audit log is kept before it may be purged (at least 180, per the Cybersecurity Law). Default 180.
    #[arg(long, global = true, env = "DAYI_AUDIT_RETENTION_DAYS", value_name = "DAYS")]
    pub audit_retention_days: Option<u32>,

    /// Log filter, e.g. `info` or `dayi=debug,tower_http=info`. Default `info`.
    #[arg(long, global = true, env = "DAYI_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// Text messages: the `[sms]` table of the file.
    #[command(flatten)]
    pub sms: SmsSettings,
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
            secure_cookies,
            body_limit_kb,
            session_idle_minutes,
            max_failed_logins,
            lockout_minutes,
            password_min_len,
            audit_retention_days,
            log
        );
        s.sms.overlay(&cli.sms)?;
        let d = dayi_app::SecurityConfig::default();
        let retention = s.audit_retention_days.unwrap_or(d.audit_retention_days);
        if retention < 180 {
            anyhow::bail!("audit_retention_days 不能少于 180 天（网络安全法第二十一条）/ must be at least 180");
        }
        Ok(Resolved {
            db: dayi_store::DbConfig {
                url: s.db.clone().unwrap_or_else(|| default_db.to_string()),
                max_connections: s.db_max_connections.unwrap_or(8),
                busy_timeout: std::time::Duration::from_millis(s.db_busy_timeout_ms.unwrap_or(5000)),
            },
            listen: s.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into()),
            web: dayi_web::WebConfig {
                secure_cookies: s.secure_cookies.unwrap_or(false),
                body_limit: s.body_limit_kb.unwrap_or(2048) * 1024,
            },
            security: dayi_app::SecurityConfig {
                session_idle_minutes: s.session_idle_minutes.unwrap_or(d.session_idle_minutes),
                max_failed_logins: s.max_failed_logins.unwrap_or(d.max_failed_logins).max(1),
                lockout_minutes: s.lockout_minutes.unwrap_or(d.lockout_minutes),
                password_min_len: s.password_min_len.unwrap_or(d.password_min_len).max(6),
                audit_retention_days: retention,
                totp_issuer: d.totp_issuer,
            },
            log: s.log.clone().unwrap_or_else(|| "info".into()),
            sms: s.sms.resolve()?,
        })
    }
}

/// Settings with every default filled in.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub db: dayi_store::DbConfig,
    pub listen: String,
    pub web: dayi_web::WebConfig,
    pub security: dayi_app::SecurityConfig,
    pub log: String,
    /// Alibaba Cloud SMS; `None` keeps the built-in message log.
    pub sms: Option<AliyunConfig>,
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

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let s = Settings { sms: keys(), ..Default::default() };
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("\"secret\"") && dbg.contains("LTAI5t"), "{dbg}");
    }
}
