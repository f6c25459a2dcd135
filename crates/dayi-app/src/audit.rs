//! Writing and reading the audit log.
//!
//! Changes to data append their audit entry inside their own transaction
//! (`dayi_store::audit::append`). Reads and security events go through the
//! `AuditSink`: one task collects entries from all requests and commits them
//! in batches (group commit); each caller waits until its entry is durable.

use std::collections::BTreeMap;

use dayi_core::audit::Entry;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Db;
use dayi_store::audit::{Filter, Row, VerifyReport};
use uuid::Uuid;

use crate::batch::Batcher;
use crate::{Actor, App, OrInternal};

/// Entries committed together at most.
const BATCH: usize = 1024;

#[derive(Clone)]
pub struct AuditSink(Batcher<Entry, ()>);

impl AuditSink {
    pub fn start(db: Db) -> Self {
        Self(Batcher::start(db, "audit", BATCH, write_batch))
    }

    /// Appends one entry and waits until it is committed. A failure to audit is
    /// logged loudly; the caller's action has already happened.
    pub async fn record(&self, e: Entry) {
        if let Err(e) = self.0.submit(e).await {
            tracing::error!(error = %e, "audit entry could not be written");
        }
    }

    /// Appends several entries and waits for all: they go out together, so
    /// the writer commits them in one batch rather than one after another.
    pub async fn record_all(&self, entries: Vec<Entry>) {
        futures::future::join_all(entries.into_iter().map(|e| self.record(e))).await;
    }
}

async fn write_batch(db: Db, batch: Vec<Entry>) -> dayi_store::Result<Vec<()>> {
    let n = batch.len();
    let mut by_org: BTreeMap<Uuid, Vec<Entry>> = BTreeMap::new();
    for e in batch {
        by_org.entry(e.org_id).or_default().push(e);
    }
    let mut tx = db.begin().await?;
    for (org, entries) in by_org {
        dayi_store::audit::append(&mut tx, org, entries).await?;
    }
    tx.commit().await?;
    Ok(vec![(); n])
}

/// Search for the audit administrator's page.
pub async fn search(app: &App, actor: &Actor, f: &Filter) -> Result<Vec<Row>, DomainError> {
    actor.require(app, Perm::AuditRead).await?;
    let rows = dayi_store::audit::search(&app.db, actor.org_id, f).await.or_internal()?;
    app.audit.record(actor.entry("audit.search", "audit_log", "", None, dayi_core::audit::OK, &describe(f))).await;
    Ok(rows)
}

fn describe(f: &Filter) -> String {
    let mut parts = vec![];
    if let Some(v) = &f.actor_name {
        parts.push(format!("actor={v}"));
    }
    if let Some(v) = &f.action_prefix {
        parts.push(format!("action={v}"));
    }
    if let Some(v) = &f.entity_id {
        parts.push(format!("entity={v}"));
    }
    if let Some(v) = &f.outcome {
        parts.push(format!("outcome={v}"));
    }
    parts.join(" ")
}

pub async fn verify(app: &App, actor: &Actor) -> Result<VerifyReport, DomainError> {
    actor.require(app, Perm::AuditRead).await?;
    let r = dayi_store::audit::verify(&app.db, actor.org_id).await.or_internal()?;
    let outcome = if r.broken.is_none() { dayi_core::audit::OK } else { dayi_core::audit::FAILED };
    app.audit.record(actor.entry("audit.verify", "audit_log", "", None, outcome, &format!("{:?}", r.broken))).await;
    Ok(r)
}

/// Asked before a form is read, so a caller without the duty is refused as
/// such; `purge` checks it again.
pub async fn require_purge(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::AuditPurge).await
}

/// Deletes entries older than `before` (micros), refusing anything younger than the retention period.
pub async fn purge(app: &App, actor: &Actor, before: i64) -> Result<u64, DomainError> {
    actor.require(app, Perm::AuditPurge).await?;
    let days = app.security.audit_retention_days.max(180);
    let oldest_allowed = dayi_core::timefmt::now_micros() - i64::from(days) * 86_400_000_000;
    if before > oldest_allowed {
        return Err(DomainError::with(
            ErrorCode::AuditRetention,
            [days.to_string(), dayi_core::timefmt::show(oldest_allowed)],
        ));
    }
    let mut tx = app.db.begin().await.or_internal()?;
    let n = dayi_store::audit::purge_before(&mut tx, actor.org_id, before).await.or_internal()?;
    let e = actor.entry(
        "audit.purge",
        "audit_log",
        "",
        None,
        dayi_core::audit::OK,
        &format!("deleted={n} before={}", dayi_core::timefmt::show(before)),
    );
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(n)
}
