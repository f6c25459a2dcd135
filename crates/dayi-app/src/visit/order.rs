//! Orders (医嘱): each saved with its charge, checked against the limits, cancelled or executed.

use dayi_core::audit::OK;
use dayi_core::catalog::{self, DrugFacts, Item, Kind};
use dayi_core::security::Perm;
use dayi_core::timefmt::now_micros;
use dayi_core::visit::{self as v, Limits, OrderKind, OrderStatus, VisitStatus, Warning};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::booking::Charge;
use dayi_store::visit::{Order, Visit};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OrderLine, VisitView, assemble, chronic, editable, history, limits, line, load};
use crate::{Actor, App, OrInternal, catalog as cat};

/// An order as the doctor writes it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct OrderForm {
    /// `drug`, `technique` or `charge_item` (lab, exam, treatment).
    #[schema(value_type = dayi_core::catalog::Kind)]
    pub catalog: String,
    pub code: String,
    /// Drugs: dose in the drug's dose unit ("0.5"), frequency code, days.
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = f64)]
    pub dose: String,
    pub frequency: String,
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub days: String,
    /// Other orders: how many (default 1); drugs: packs, computed when empty.
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub quantity: String,
    pub note: String,
    /// The doctor confirms the warnings shown.
    pub confirm: bool,
    pub reason: String,
}

/// What ordering answered: the visit and the warnings the doctor confirmed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ordered {
    pub order: OrderLine,
    pub warnings: Vec<Warning>,
}

/// Unconfirmed warnings refuse the order, each on the `confirm` box.
pub(super) fn refuse(warnings: &[Warning]) -> DomainError {
    let mut e = DomainError::new(ErrorCode::Validation);
    e.fields.extend(warnings.iter().map(|w| w.field.clone()));
    e
}

/// Orders one item: the checks, the order and its unpaid charge, in one go.
pub async fn order(app: &App, actor: &Actor, id: Uuid, f: &OrderForm) -> Result<Ordered, DomainError> {
    let visit = editable(app, actor, id).await?;
    let cat = cat::current(app, actor.org_id).await?;
    let lim = limits(app, actor.org_id).await?;
    let (item, kind) = orderable(&cat, f)?;
    let existing = dayi_store::visit::orders(&app.db, actor.org_id, id).await.or_internal()?;
    let quantity = parse_quantity(&f.quantity, &lim)?;
    let (dosing, mut warnings) = match &item.drug {
        Some(drug) => {
            let chronic = !chronic(&history(app, actor.org_id, &visit).await?.1, &cat).is_empty();
            dose_drug(item, drug, f, &visit.allergies, &lim, chronic, quantity)?
        }
        None => (Dosing { dose: None, days: None, frequency: String::new(), quantity }, vec![]),
    };
    warnings.extend(v::check_duplicate(item, &live_orders(&existing)));
    confirmed(&warnings, f)?;
    let o = order_row(actor, &visit, item, kind, dosing, &warnings, f);
    let charge = charge_of(actor, &visit, &o, kind);
    save(app, actor, &o, &charge, !warnings.is_empty()).await?;
    Ok(Ordered { order: line(o), warnings })
}

/// The catalogue item the form names, searched in the catalogues it asks
/// for (any orderable one when it names none), and what kind of order it makes.
fn orderable<'a>(cat: &'a cat::Catalog, f: &OrderForm) -> Result<(&'a Item, OrderKind), DomainError> {
    let kinds: &[Kind] = match f.catalog.trim() {
        "drug" => &[Kind::Drug],
        "technique" => &[Kind::Technique],
        _ => &[Kind::ChargeItem, Kind::Drug, Kind::Technique],
    };
    let code = f.code.trim();
    let item: &Item = kinds
        .iter()
        .find_map(|k| cat.get(*k, code))
        .ok_or_else(|| DomainError::field("code", ErrorCode::CatalogUnknown, [code]))?;
    let kind = OrderKind::of(item)
        .ok_or_else(|| DomainError::field("code", ErrorCode::CatalogKind, [item.name.as_str(), "可开立的医嘱"]))?;
    Ok((item, kind))
}

/// The visit's orders still in force (code, generic name), for the duplicate check.
fn live_orders(existing: &[Order]) -> Vec<(String, String)> {
    existing
        .iter()
        .filter(|o| !matches!(o.status.as_str(), "cancelled" | "refunded"))
        .map(|o| (o.code.clone(), o.generic.clone()))
        .collect()
}

/// The quantity the doctor typed, if any, within the limit.
fn parse_quantity(quantity: &str, lim: &Limits) -> Result<Option<i64>, DomainError> {
    match quantity.trim() {
        "" => Ok(None),
        q => q
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=lim.max_quantity).contains(n))
            .map(Some)
            .ok_or_else(|| DomainError::field("quantity", ErrorCode::OrderQuantity, [lim.max_quantity.to_string()])),
    }
}

/// How much of the item the order gives: for a drug the dose, days and
/// frequency as well.
struct Dosing {
    dose: Option<i64>,
    days: Option<i64>,
    frequency: String,
    quantity: Option<i64>,
}

/// A drug's dose read and checked against the limits and the patient's
/// allergies; without a quantity, the packs the doses need.
fn dose_drug(
    item: &Item,
    drug: &DrugFacts,
    f: &OrderForm,
    allergies: &str,
    lim: &Limits,
    chronic: bool,
    quantity: Option<i64>,
) -> Result<(Dosing, Vec<Warning>), DomainError> {
    let frequency = if f.frequency.trim().is_empty() { &drug.frequency } else { &f.frequency };
    let d = v::parse_dose(drug, &f.dose, frequency, &f.days, lim, chronic)?;
    let mut warnings: Vec<Warning> = vec![];
    warnings.extend(v::check_dose(item, drug, &d, lim)?);
    warnings.extend(v::check_allergy(item, allergies, lim));
    let dosing = Dosing {
        dose: Some(d.dose),
        days: Some(d.days),
        frequency: d.frequency.code().to_string(),
        quantity: Some(quantity.unwrap_or_else(|| v::packs(drug, &d)).min(lim.max_quantity)),
    };
    Ok((dosing, warnings))
}

/// Warnings pass only when the doctor confirmed them and gave a reason.
fn confirmed(warnings: &[Warning], f: &OrderForm) -> Result<(), DomainError> {
    if !warnings.is_empty() {
        if !f.confirm {
            return Err(refuse(warnings));
        }
        if f.reason.trim().is_empty() {
            return Err(DomainError::field("reason", ErrorCode::OrderReason, [""; 0]));
        }
    }
    Ok(())
}

/// The order as saved, with the ids of itself and of its charge.
fn order_row(
    actor: &Actor,
    visit: &Visit,
    item: &Item,
    kind: OrderKind,
    dosing: Dosing,
    warnings: &[Warning],
    f: &OrderForm,
) -> Order {
    let quantity = dosing.quantity.unwrap_or(1);
    let now = now_micros();
    let (order_id, charge_id) = (crate::new_id(), crate::new_id());
    let drug = item.drug.clone().unwrap_or_default();
    Order {
        org_id: actor.org_id,
        id: order_id,
        visit_id: visit.id,
        patient_id: visit.patient_id,
        kind: kind.code().into(),
        code: item.code.clone(),
        name: item.name.clone(),
        generic: drug.generic_name.clone(),
        spec: drug.spec.clone(),
        dose: dosing.dose,
        dose_unit: drug.dose_unit.clone(),
        frequency: dosing.frequency,
        days: dosing.days,
        route: drug.route.clone(),
        quantity,
        unit: item.unit.clone(),
        unit_fen: item.price_fen,
        amount_fen: item.price_fen * quantity,
        class: item.class.map(|c| c.code().into()),
        status: OrderStatus::Ordered.code().into(),
        warnings: warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>().join("\n"),
        reason: if warnings.is_empty() { String::new() } else { f.reason.trim().chars().take(200).collect() },
        note: f.note.trim().chars().take(200).collect(),
        charge_id,
        created_by: actor.username.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// The order's unpaid charge, for the cashier and the patient's phone.
fn charge_of(actor: &Actor, visit: &Visit, o: &Order, kind: OrderKind) -> Charge {
    Charge {
        org_id: actor.org_id,
        id: o.charge_id,
        patient_id: visit.patient_id,
        booking_id: visit.booking_id,
        item_code: o.code.clone(),
        item_name: o.name.clone(),
        category: kind.code().into(),
        unit_fen: o.unit_fen,
        quantity: o.quantity,
        amount_fen: o.amount_fen,
        status: "unpaid".into(),
        created_by: actor.username.clone(),
        created_at: o.created_at,
        updated_at: o.created_at,
        visit_id: Some(o.visit_id),
        order_id: Some(o.id),
        payment_id: None,
        refund_id: None,
    }
}

/// Writes the order, its charge and the audit entry, unless the visit was
/// finished meanwhile.
async fn save(app: &App, actor: &Actor, o: &Order, charge: &Charge, warned: bool) -> Result<(), DomainError> {
    let mut tx = app.db.begin().await.or_internal()?;
    // Finished meanwhile: nothing is written.
    match dayi_store::visit::get(&mut tx, actor.org_id, o.visit_id).await.or_internal()? {
        Some(v) if v.status == VisitStatus::Open.code() => {}
        _ => return Err(DomainError::new(ErrorCode::VisitFinished)),
    }
    dayi_store::visit::insert_orders(&mut tx, std::slice::from_ref(o)).await.or_internal()?;
    dayi_store::booking::insert_charges(&mut tx, std::slice::from_ref(charge)).await.or_internal()?;
    let detail = format!(
        "{} ×{} {} 元{}",
        o.name,
        o.quantity,
        catalog::yuan(o.amount_fen),
        if warned { "（已确认警示）" } else { "" }
    );
    let entry = actor.entry("visit.order", "visit_order", &o.id.to_string(), Some(o.patient_id), OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// Cancels an unpaid order and voids its charge.
pub async fn cancel_order(app: &App, actor: &Actor, visit_id: Uuid, order_id: Uuid) -> Result<VisitView, DomainError> {
    let visit = editable(app, actor, visit_id).await?;
    let orders = dayi_store::visit::orders(&app.db, actor.org_id, visit_id).await.or_internal()?;
    let o = orders.iter().find(|o| o.id == order_id).ok_or_else(|| DomainError::new(ErrorCode::OrderUnknown))?;
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    let voided = dayi_store::billing::void_free(&mut tx, actor.org_id, o.charge_id, now).await.or_internal()?;
    if !voided
        || !dayi_store::visit::set_order_status(&mut tx, actor.org_id, order_id, "ordered", "cancelled", now)
            .await
            .or_internal()?
    {
        return Err(DomainError::with(ErrorCode::OrderPaid, [o.name.clone()]));
    }
    let entry =
        actor.entry("visit.cancel_order", "visit_order", &order_id.to_string(), Some(visit.patient_id), OK, &o.name);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    assemble(app, actor.org_id, visit).await
}

/// Marks a paid order carried out (dispensed, done); it can no longer be refunded.
pub async fn execute(app: &App, actor: &Actor, order_id: Uuid, visit_id: Uuid) -> Result<(), DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, visit_id).await?;
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::visit::set_order_status(&mut tx, actor.org_id, order_id, "paid", "executed", now)
        .await
        .or_internal()?
    {
        return Err(DomainError::with(ErrorCode::BillingRefundNotPaid, ["该医嘱"]));
    }
    let entry = actor.entry("visit.execute", "visit_order", &order_id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()
}
