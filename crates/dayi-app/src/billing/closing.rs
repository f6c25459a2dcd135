//! Each account's daily closing (日结): the open totals and the closed days.

use dayi_core::audit::OK;
use dayi_core::billing::{self as b, Method, Movement, Totals};
use dayi_core::catalog::yuan;
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::billing::Closing;
use serde::Serialize;
use uuid::Uuid;

use super::ONLINE;
use crate::{Actor, App, OrInternal};

/// A closing with its lines, and whether its rows still add up to it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClosingView {
    pub closing: Closing,
    pub totals: Totals,
    /// The payments and refunds stamped with this closing, summed again.
    pub balanced: bool,
    pub net: String,
}

/// The open (not yet closed) totals of an account.
pub async fn open_totals(app: &App, actor: &Actor, account: &str) -> Result<Totals, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    let moves = movements(&mut tx, actor.org_id, account).await?;
    tx.rollback().await.or_internal()?;
    Ok(b::totals(&moves))
}

pub(super) async fn movements(
    tx: &mut dayi_store::Tx,
    org_id: Uuid,
    account: &str,
) -> Result<Vec<Movement>, DomainError> {
    Ok(dayi_store::billing::open_movements(tx, org_id, account)
        .await
        .or_internal()?
        .into_iter()
        .filter_map(movement)
        .collect())
}

pub(super) fn movement(m: dayi_store::billing::Movement) -> Option<Movement> {
    Some(Movement { method: Method::parse(&m.method)?, fen: m.fen })
}

/// The daily closing (日结) of the actor's own till, or of the online account.
pub async fn close_day(app: &App, actor: &Actor, online: bool) -> Result<ClosingView, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let account = if online { ONLINE.to_string() } else { actor.username.clone() };
    let now = now_micros();
    let id = crate::new_id();
    let mut tx = app.db.begin().await.or_internal()?;
    let moves = movements(&mut tx, actor.org_id, &account).await?;
    let t = b::totals(&moves);
    let c = Closing {
        org_id: actor.org_id,
        id,
        account: account.clone(),
        closed_by: actor.username.clone(),
        payments: t.payments,
        refunds: t.refunds,
        paid_fen: t.paid_fen,
        refunded_fen: t.refunded_fen,
        net_fen: t.net_fen,
        lines: serde_json::to_string(&t.lines).or_internal()?,
        created_at: now,
    };
    dayi_store::billing::insert_closing(&mut tx, &c).await.or_internal()?;
    let (np, nr) = dayi_store::billing::close_movements(&mut tx, actor.org_id, &account, id).await.or_internal()?;
    // What was summed is exactly what was stamped, or nothing is closed.
    if np as i64 != t.payments || nr as i64 != t.refunds {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    let detail = format!("收 {} 元，退 {} 元，净 {} 元", yuan(t.paid_fen), yuan(t.refunded_fen), yuan(t.net_fen));
    let entry = actor.entry("billing.close_day", "closing", &id.to_string(), None, OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    closing(app, actor, id).await
}

pub async fn closing(app: &App, actor: &Actor, id: Uuid) -> Result<ClosingView, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let c = dayi_store::billing::closing(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let moves: Vec<Movement> = dayi_store::billing::closed_movements(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .into_iter()
        .filter_map(movement)
        .collect();
    let again = b::totals(&moves);
    let lines: Vec<b::Line> = serde_json::from_str(&c.lines).unwrap_or_default();
    let balanced = again.net_fen == c.net_fen
        && again.paid_fen == c.paid_fen
        && again.refunded_fen == c.refunded_fen
        && again.lines == lines;
    Ok(ClosingView { net: yuan(c.net_fen), totals: again, balanced, closing: c })
}

pub async fn closings(app: &App, actor: &Actor, online: bool) -> Result<Vec<Closing>, DomainError> {
    actor.require(app, Perm::Billing).await?;
    let account = if online { ONLINE.to_string() } else { actor.username.clone() };
    dayi_store::billing::closings(&app.db, actor.org_id, &account, 30).await.or_internal()
}
