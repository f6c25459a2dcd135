//! Audit anchors kept outside the database (`dayi_core::anchor`).
//!
//! A task appends each organisation's chain head to an append-only file
//! when it moved: at start, every minute and at stop. Backups print the
//! heads too. `dayi audit verify --anchor FILE` then checks that every
//! anchored entry is still in the chain with the same hash, which the chain
//! alone cannot show once its newest rows and `audit_head` were cut back
//! together. The file is only as good as its copies off the machine.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use dayi_core::DomainError;
use dayi_core::anchor::{Anchor, Found};
use dayi_core::audit::Break;
use dayi_core::security::Perm;
use dayi_store::Db;

use crate::{Actor, App, OrInternal};

/// How often moved heads are anchored.
pub const EVERY: Duration = Duration::from_secs(60);

/// The anchor file and the heads written to it by this process.
pub struct AnchorFile {
    path: PathBuf,
    written: Mutex<HashMap<String, (i64, String)>>,
}

impl AnchorFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), written: Mutex::new(HashMap::new()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the heads that moved since the last call (every non-empty
    /// head the first time) and returns them.
    pub async fn write_moved(&self, db: &Db) -> std::io::Result<Vec<Anchor>> {
        let heads = current(db).await.map_err(std::io::Error::other)?;
        let moved: Vec<Anchor> = {
            let written = self.written.lock().map_err(|_| std::io::Error::other("anchor state poisoned"))?;
            heads.into_iter().filter(|a| written.get(&a.org_code) != Some(&(a.seq, a.hash.clone()))).collect()
        };
        append(&self.path, &moved).await?;
        if let Ok(mut written) = self.written.lock() {
            for a in &moved {
                written.insert(a.org_code.clone(), (a.seq, a.hash.clone()));
            }
        }
        Ok(moved)
    }
}

/// Every organisation's head now, as anchors (organisations without entries left out).
pub async fn current(db: &Db) -> dayi_store::Result<Vec<Anchor>> {
    let now = dayi_core::timefmt::now_micros();
    let heads = dayi_store::audit::heads(db).await?;
    Ok(heads
        .into_iter()
        .filter(|(_, h)| h.seq > 0)
        .map(|(org_code, h)| Anchor { org_code, seq: h.seq, hash: h.hash, at: now })
        .collect())
}

/// Appends anchors to the file in one write and flushes them to disk.
pub async fn append(path: &Path, anchors: &[Anchor]) -> std::io::Result<()> {
    if anchors.is_empty() {
        return Ok(());
    }
    let text: String = anchors.iter().map(|a| a.line() + "\n").collect();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Anchors the moved heads every `every` until `stop` fires, then once more.
pub async fn run(
    db: Db,
    file: std::sync::Arc<AnchorFile>,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = stop.changed() => true,
        };
        if let Err(e) = file.write_moved(&db).await {
            tracing::error!(error = %e, file = %file.path().display(), "audit anchors not written");
        }
        if stopping {
            return;
        }
    }
}

/// The outcome of checking one organisation's anchors.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorCheck {
    /// Distinct anchored entries checked.
    pub checked: usize,
    /// The oldest anchored entry that no longer matches, and how.
    pub broken: Option<(Anchor, Break)>,
    /// How many anchored entries failed.
    pub failed: usize,
}

/// Checks an organisation's anchors (all for `actor.org_id`) against its chain.
pub async fn check(app: &App, actor: &Actor, anchors: &[Anchor]) -> Result<AnchorCheck, DomainError> {
    actor.require(app, Perm::AuditRead).await?;
    let head = dayi_store::audit::head(&app.db, actor.org_id).await.or_internal()?;
    let mut distinct: Vec<&Anchor> = anchors.iter().collect();
    distinct.sort_by(|a, b| (a.seq, &a.hash).cmp(&(b.seq, &b.hash)));
    distinct.dedup_by(|a, b| a.seq == b.seq && a.hash == b.hash);
    let now = dayi_core::timefmt::now_micros();
    let mut out = AnchorCheck { checked: distinct.len(), broken: None, failed: 0 };
    for a in distinct {
        let hash = dayi_store::audit::hash_at(&app.db, actor.org_id, a.seq).await.or_internal()?;
        let found =
            Found { head_seq: head.seq, purged_seq: head.anchor_seq, purged_hash: head.anchor_hash.clone(), hash };
        if let Err(b) = dayi_core::anchor::check(a, &found, now) {
            out.failed += 1;
            if out.broken.is_none() {
                out.broken = Some((a.clone(), b));
            }
        }
    }
    let outcome = if out.broken.is_none() { dayi_core::audit::OK } else { dayi_core::audit::FAILED };
    let detail = format!("anchors={} failed={} {:?}", out.checked, out.failed, out.broken.as_ref().map(|(_, b)| b));
    app.audit.record(actor.entry("audit.verify_anchor", "audit_log", "", None, outcome, &detail)).await;
    Ok(out)
}
