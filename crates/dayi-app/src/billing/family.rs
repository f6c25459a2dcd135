//! The portal's bills page: what each member of the account's family owes
//! and has paid. Online payments still awaiting the provider are asked
//! about first, since it may have answered while the phone was away.

use dayi_core::DomainError;
use dayi_core::billing::PaymentStatus;
use serde::Serialize;

use super::{Due, Receipt, due, payments, refresh};
use crate::App;
use crate::portal::{Member, PortalCtx, members};

/// One family member's bills.
#[derive(Debug, Clone, Serialize)]
pub struct MemberBills {
    pub member: Member,
    pub due: Due,
    pub paid: Vec<Receipt>,
}

pub async fn family_bills(app: &App, ctx: &PortalCtx) -> Result<Vec<MemberBills>, DomainError> {
    let a = &ctx.actor;
    let mut rows = vec![];
    for m in members(app, ctx).await? {
        let mut paid = payments(app, a, m.patient.id).await?;
        for p in paid.iter_mut().filter(|p| p.payment.status == PaymentStatus::Created.code()) {
            // A refresh that fails leaves the payment as last known.
            if let Ok(fresh) = refresh(app, a, p.payment.id).await {
                *p = fresh;
            }
        }
        let due = due(app, a, m.patient.id).await?;
        rows.push(MemberBills { member: m, due, paid });
    }
    Ok(rows)
}
