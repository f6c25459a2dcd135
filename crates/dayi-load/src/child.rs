//! A Dayi server in a process of its own (the `dayi` binary), for the
//! measurements that must not include the load generator: the soak watches
//! its memory through `/proc/PID/status`. The database is prepared here
//! first (demo community, the registration clerk's token) and closed, then
//! `dayi serve` opens it as an operator would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};

pub struct ChildServer {
    child: tokio::process::Child,
    pub pid: u32,
    pub url: String,
    pub token: String,
    _dir: tempfile::TempDir,
}

impl ChildServer {
    /// Prepares a new SQLite file and starts `dayi serve` on it. `bin` is
    /// the `dayi` binary; by default the one beside this program.
    pub async fn start(bin: Option<&Path>) -> anyhow::Result<ChildServer> {
        let bin = match bin {
            Some(b) => b.to_path_buf(),
            None => beside_this_program()?,
        };
        let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
        let config = dir.path().join("dayi-load.toml");
        std::fs::write(&config, "")?;
        let url = format!("sqlite:{}", dir.path().join("dayi.db").display());
        let token = prepare(&config, &url).await?;
        let mut child = tokio::process::Command::new(&bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--log", "warn", "--db", &url, "--config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let stdout = child.stdout.take().context("no standard output")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    return Ok(rest.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
            anyhow::Ok(String::new())
        })
        .await
        .context("the server did not say where it listens within 60 s")??;
        if addr.is_empty() {
            bail!("{} stopped before listening", bin.display());
        }
        // Keep reading, so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ChildServer { child, pid, url: addr, token, _dir: dir })
    }

    /// Stops the server as an operator does (SIGTERM) and waits for it.
    pub async fn stop(mut self) {
        let _ = tokio::process::Command::new("kill").args(["-TERM", &self.pid.to_string()]).status().await;
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// The demo community and a token for the registration clerk, written with
/// the server's own code; the database is closed again before `dayi serve`.
async fn prepare(config: &Path, url: &str) -> anyhow::Result<String> {
    let cli = dayi::Settings {
        config: Some(config.to_path_buf()),
        db: Some(url.to_string()),
        audit_anchor_file: Some(PathBuf::new()),
        ..Default::default()
    };
    let r = dayi::Settings::resolve(&cli, "unused")?;
    let db = dayi::open_db(&r.db).await?;
    let app = dayi_app::App::new(db.clone(), r.security.clone());
    let token = crate::server::clerk_token(&app).await.map(|(_, t)| t);
    db.close().await;
    token
}

/// `target/release/dayi` when this is `target/release/dayi-load`.
fn beside_this_program() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name(format!("dayi{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        bail!("{} not found: build it (cargo build --release -p dayi) or give --dayi-bin", bin.display());
    }
    Ok(bin)
}

/// A process's memory in kB, from `/proc/PID/status` (Linux).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss: u64,
    /// The most ever resident (`VmHWM`).
    pub peak: u64,
    /// Of `rss`, anonymous memory (the heap) and file pages (the mapped database, the binary).
    pub anon: u64,
    pub file: u64,
}

pub fn memory_kb(pid: u32) -> Option<Memory> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        s.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
        anon: field("RssAnon:").unwrap_or(0),
        file: field("RssFile:").unwrap_or(0),
    })
}
