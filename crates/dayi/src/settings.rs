//! Settings: built-in defaults, then a TOML file, then `DAYI_*` environment
//! variables and command-line flags (clap reads both; flags win).

use std::path::PathBuf;

use clap::Args;
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
}

macro_rules! overlay {
    ($base:ident, $top:ident, $($f:ident),*) => { $( if $top.$f.is_some() { $base.$f = $top.$f.clone(); } )* };
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
}
