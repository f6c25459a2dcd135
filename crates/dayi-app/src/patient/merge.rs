//! Duplicate records: the finder, merges and their undo.

use dayi_core::audit::OK;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::patient::Merge;
use serde::Serialize;
use uuid::Uuid;

use super::{PatientView, SEARCH_LIMIT, load};
use crate::{Actor, App, OrInternal, new_id};

/// Records that may be the same person as this one.
pub async fn duplicates_of(app: &App, actor: &Actor, id: Uuid) -> Result<Vec<PatientView>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let p = load(app, actor.org_id, id).await?;
    let found = dayi_store::patient::duplicates_of(&app.db, &p, SEARCH_LIMIT).await.or_internal()?;
    app.audit
        .record(actor.entry(
            "patient.duplicates",
            "patient",
            &id.to_string(),
            Some(id),
            OK,
            &format!("hits={}", found.len()),
        ))
        .await;
    Ok(found.iter().map(|p| PatientView::new(p, false)).collect())
}

/// A pair of records that look like one person.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub a: PatientView,
    pub b: PatientView,
    /// `pinyin_birth` and/or `phone`.
    pub reasons: Vec<String>,
}

/// Suspected duplicates across the organisation (the service centre's worklist).
pub async fn duplicate_pairs(app: &App, actor: &Actor) -> Result<Vec<Pair>, DomainError> {
    actor.require(app, Perm::PatientMerge).await?;
    let pairs = dayi_store::patient::duplicate_pairs(&app.db, actor.org_id, 50).await.or_internal()?;
    let mut out: Vec<Pair> = vec![];
    for (a, b, reason) in pairs {
        if let Some(seen) = out.iter_mut().find(|p| p.a.id == a && p.b.id == b) {
            seen.reasons.push(reason);
            continue;
        }
        let (Some(pa), Some(pb)) = (
            dayi_store::patient::get(&app.db, actor.org_id, a).await.or_internal()?,
            dayi_store::patient::get(&app.db, actor.org_id, b).await.or_internal()?,
        ) else {
            continue;
        };
        out.push(Pair { a: PatientView::new(&pa, false), b: PatientView::new(&pb, false), reasons: vec![reason] });
    }
    app.audit.record(actor.entry("patient.duplicates", "patient", "", None, OK, &format!("pairs={}", out.len()))).await;
    Ok(out)
}

/// Asked before a form is read, so a caller without the duty is refused as
/// such; `merge` checks it again.
pub async fn require_merge(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::PatientMerge).await
}

/// Merges `merged` into `survivor`: every reference moves, the merged record
/// forwards to the survivor, and the merge can be undone.
pub async fn merge(app: &App, actor: &Actor, survivor: Uuid, merged: Uuid, reason: &str) -> Result<Merge, DomainError> {
    actor.require(app, Perm::PatientMerge).await?;
    if survivor == merged {
        return Err(DomainError::new(ErrorCode::MergeSelf));
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DomainError::field("reason", ErrorCode::Required, [""; 0]));
    }
    for id in [survivor, merged] {
        if load(app, actor.org_id, id).await?.merged_into.is_some() {
            return Err(DomainError::new(ErrorCode::MergeAlreadyMerged));
        }
    }
    let m = Merge {
        org_id: actor.org_id,
        id: new_id(),
        survivor_id: survivor,
        merged_id: merged,
        reason: reason.chars().take(200).collect(),
        merged_by: actor.username.clone(),
        merged_at: now_micros(),
        undone_by: None,
        undone_at: None,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    let Some(moved) = dayi_store::patient::merge(&mut tx, &m).await.or_internal()? else {
        return Err(DomainError::new(ErrorCode::MergeAlreadyMerged));
    };
    let detail = format!("merged={merged} survivor={survivor} moved={moved} reason={}", m.reason);
    let entries = vec![
        actor.entry("patient.merge", "patient_merge", &m.id.to_string(), Some(survivor), OK, &detail),
        actor.entry("patient.merge", "patient_merge", &m.id.to_string(), Some(merged), OK, &detail),
    ];
    dayi_store::audit::append(&mut tx, actor.org_id, entries).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.portal_sessions.forget_all();
    Ok(m)
}

pub async fn undo_merge(app: &App, actor: &Actor, merge_id: Uuid) -> Result<Merge, DomainError> {
    actor.require(app, Perm::PatientMerge).await?;
    let m = dayi_store::patient::get_merge(&app.db, actor.org_id, merge_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::MergeUnknown))?;
    if m.undone_at.is_some() {
        return Err(DomainError::new(ErrorCode::MergeUndone));
    }
    let mut tx = app.db.begin().await.or_internal()?;
    match dayi_store::patient::undo_merge(&mut tx, &m, &actor.username, now_micros()).await {
        Ok(true) => {}
        Ok(false) => return Err(DomainError::new(ErrorCode::MergeAlreadyMerged)),
        Err(e) if dayi_store::is_unique_violation(&e) => return Err(DomainError::new(ErrorCode::MergeUndoConflict)),
        Err(e) => return Err(crate::internal(e)),
    }
    let detail = format!("merged={} survivor={}", m.merged_id, m.survivor_id);
    let entries = vec![
        actor.entry("patient.merge_undo", "patient_merge", &m.id.to_string(), Some(m.survivor_id), OK, &detail),
        actor.entry("patient.merge_undo", "patient_merge", &m.id.to_string(), Some(m.merged_id), OK, &detail),
    ];
    dayi_store::audit::append(&mut tx, actor.org_id, entries).await.or_internal()?;
    tx.commit().await.or_internal()?;
    app.portal_sessions.forget_all();
    dayi_store::patient::get_merge(&app.db, actor.org_id, merge_id)
        .await
        .or_internal()?
        .ok_or_else(|| crate::internal("merge vanished"))
}

/// Merges touching a patient, or the organisation's latest when `patient` is None.
pub async fn merges(app: &App, actor: &Actor, patient: Option<Uuid>) -> Result<Vec<Merge>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    match patient {
        Some(p) => dayi_store::patient::merges_of(&app.db, actor.org_id, p).await,
        None => dayi_store::patient::recent_merges(&app.db, actor.org_id, 50).await,
    }
    .or_internal()
}
