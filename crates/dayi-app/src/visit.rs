//! The doctor's workstation (门诊医生站): the called patient's visit, its
//! record, diagnoses, orders and certificates. An order is saved with its
//! charge in one transaction, so what the doctor orders is what the cashier
//! and the phone show as owed. Finishing the visit finishes the queue entry.

use dayi_core::audit::OK;
use dayi_core::catalog::{self, Item, Kind};
use dayi_core::queue::{Action, Status as QStatus};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::visit::{self as v, Limits, OrderKind, OrderStatus, VisitStatus, Warning};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::booking::Charge;
use dayi_store::visit::{Certificate, Diagnosis, Order, Template, Visit};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Actor, App, OrInternal, catalog as cat, policy};

pub const LIMITS: &str = "visit.limits";

pub async fn limits(app: &App, org_id: Uuid) -> Result<Limits, DomainError> {
    policy::json(app, org_id, LIMITS).await
}

/// A visit with everything the workstation shows.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VisitView {
    pub visit: Visit,
    pub status_name: &'static str,
    /// Masked (张*三): the screen faces the room.
    pub patient_name: String,
    pub sex: String,
    pub age: i64,
    pub hospital_no: String,
    pub diagnoses: Vec<Diagnosis>,
    pub orders: Vec<OrderLine>,
    pub certificates: Vec<Certificate>,
    /// Sum of the orders not cancelled or refunded, fen.
    pub total_fen: i64,
    pub total: String,
    /// Earlier visits, newest first, with their diagnoses.
    pub past: Vec<PastVisit>,
    /// Chronic diseases diagnosed at any visit (慢病), by name.
    pub chronic: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderLine {
    #[serde(flatten)]
    pub order: Order,
    pub kind_name: &'static str,
    pub status_name: &'static str,
    pub dose_text: String,
    pub amount: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PastVisit {
    pub id: Uuid,
    pub day: String,
    pub doctor_name: String,
    pub diagnoses: Vec<String>,
}

fn line(o: Order) -> OrderLine {
    let dose_text = match (o.dose, o.days) {
        (Some(d), Some(days)) => format!(
            "每次 {}{} {} × {} 天",
            catalog::show_milli(d),
            o.dose_unit,
            catalog::Frequency::parse(&o.frequency).map(|f| f.zh()).unwrap_or(""),
            days
        ),
        _ => String::new(),
    };
    OrderLine {
        kind_name: OrderKind::parse(&o.kind).map(|k| k.zh()).unwrap_or(""),
        status_name: OrderStatus::parse(&o.status).map(|s| s.zh()).unwrap_or(""),
        amount: catalog::yuan(o.amount_fen),
        dose_text,
        order: o,
    }
}

async fn load(app: &App, org_id: Uuid, id: Uuid) -> Result<Visit, DomainError> {
    dayi_store::visit::get(&app.db, org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::VisitUnknown))
}

/// The visit, for a change by its doctor while it is open.
async fn editable(app: &App, actor: &Actor, id: Uuid) -> Result<Visit, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, id).await?;
    if visit.status != VisitStatus::Open.code() {
        return Err(DomainError::new(ErrorCode::VisitFinished));
    }
    if visit.doctor_id != actor.staff_id && actor.via != crate::Via::Cli {
        return Err(DomainError::with(ErrorCode::VisitNotYours, [visit.doctor_name.clone()]));
    }
    Ok(visit)
}

/// Opens (or reopens) the visit of a registration the doctor has called.
pub async fn open(app: &App, actor: &Actor, booking_id: Uuid) -> Result<VisitView, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    if let Some(v) = dayi_store::visit::of_booking(&app.db, actor.org_id, booking_id).await.or_internal()? {
        return view(app, actor, v.id).await;
    }
    let entry = dayi_store::queue::get(&app.db, actor.org_id, booking_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    if entry.status != QStatus::Called.code() {
        return Err(DomainError::new(ErrorCode::VisitNotCalled));
    }
    let session = dayi_store::roster::get_session(&app.db, actor.org_id, entry.session_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::QueueUnknown))?;
    // The allergy history carries over from the last visit.
    let last = dayi_store::visit::of_patient(&app.db, actor.org_id, entry.patient_id, 1).await.or_internal()?;
    let now = now_micros();
    let visit = Visit {
        org_id: actor.org_id,
        id: crate::new_id(),
        patient_id: entry.patient_id,
        booking_id: Some(booking_id),
        dept_id: session.dept_id,
        doctor_id: actor.staff_id,
        doctor_name: actor.name.clone(),
        day: today_cst().to_string(),
        status: VisitStatus::Open.code().into(),
        chief_complaint: String::new(),
        present_illness: String::new(),
        history: last.first().map(|l| l.history.clone()).unwrap_or_default(),
        allergies: last.first().map(|l| l.allergies.clone()).unwrap_or_default(),
        vitals: "{}".into(),
        examination: String::new(),
        advice: String::new(),
        opened_at: now,
        finished_at: None,
        updated_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    let fresh = dayi_store::visit::insert(&mut tx, &visit).await.or_internal()?;
    let entry = actor.entry("visit.open", "visit", &visit.id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    if fresh {
        // The `visit.open` entry just committed records this access: no second (`visit.view`) entry to wait for.
        return assemble(app, actor.org_id, visit).await;
    }
    // Opened at the same moment elsewhere: that one counts.
    let id = dayi_store::visit::of_booking(&app.db, actor.org_id, booking_id)
        .await
        .or_internal()?
        .map(|v| v.id)
        .ok_or_else(|| DomainError::new(ErrorCode::Conflict))?;
    view(app, actor, id).await
}

/// The whole visit for the workstation (audited: it shows the record).
pub async fn view(app: &App, actor: &Actor, id: Uuid) -> Result<VisitView, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, id).await?;
    app.audit.record(actor.entry("visit.view", "visit", &id.to_string(), Some(visit.patient_id), OK, "")).await;
    assemble(app, actor.org_id, visit).await
}

async fn assemble(app: &App, org_id: Uuid, visit: Visit) -> Result<VisitView, DomainError> {
    let p = crate::patient::load(app, org_id, visit.patient_id).await?;
    let birth = time::Date::parse(&p.birth_date, time::macros::format_description!("[year]-[month]-[day]")).ok();
    let (past_rows, all_dx) = history(app, org_id, &visit).await?;
    let cat = cat::current(app, org_id).await?;
    let chronic = chronic(&all_dx, &cat);
    let past = past_rows
        .iter()
        .filter(|p| p.id != visit.id)
        .map(|p| PastVisit {
            id: p.id,
            day: p.day.clone(),
            doctor_name: p.doctor_name.clone(),
            diagnoses: all_dx.iter().filter(|d| d.visit_id == p.id).map(|d| d.name.clone()).collect(),
        })
        .collect();
    let orders: Vec<OrderLine> =
        dayi_store::visit::orders(&app.db, org_id, visit.id).await.or_internal()?.into_iter().map(line).collect();
    let total_fen = orders
        .iter()
        .filter(|o| !matches!(o.order.status.as_str(), "cancelled" | "refunded"))
        .map(|o| o.order.amount_fen)
        .sum();
    Ok(VisitView {
        status_name: VisitStatus::parse(&visit.status).map(|s| s.zh()).unwrap_or(""),
        patient_name: mask::name(&p.name),
        sex: dayi_core::identity::Sex::parse(&p.sex).map(|s| s.zh()).unwrap_or("").into(),
        age: birth.map(|b| i64::from(dayi_core::patient::age_on(b, today_cst()))).unwrap_or(0),
        hospital_no: p.hospital_no.clone(),
        diagnoses: all_dx.iter().filter(|d| d.visit_id == visit.id).cloned().collect(),
        certificates: dayi_store::visit::certificates(&app.db, org_id, visit.id).await.or_internal()?,
        orders,
        total_fen,
        total: catalog::yuan(total_fen),
        past,
        chronic,
        visit,
    })
}

/// The record's text fields, as the doctor writes them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RecordForm {
    pub chief_complaint: String,
    pub present_illness: String,
    pub history: String,
    pub allergies: String,
    pub examination: String,
    pub advice: String,
    /// e.g. {"temperature": "36.8", "pulse": "78", "bp": "135/85", "weight": "65"}.
    pub vitals: serde_json::Map<String, serde_json::Value>,
}

const VITALS: &[&str] = &["temperature", "pulse", "breathing", "bp", "weight", "height", "glucose", "spo2"];

pub async fn save(app: &App, actor: &Actor, id: Uuid, f: &RecordForm) -> Result<VisitView, DomainError> {
    let mut visit = editable(app, actor, id).await?;
    let mut err = DomainError::new(ErrorCode::Validation);
    for (field, value, max) in [
        ("chief_complaint", &f.chief_complaint, 200),
        ("present_illness", &f.present_illness, 4000),
        ("history", &f.history, 4000),
        ("allergies", &f.allergies, 500),
        ("examination", &f.examination, 4000),
        ("advice", &f.advice, 2000),
    ] {
        if value.chars().count() > max {
            err = err.and_field(field, ErrorCode::TooLong, [max.to_string()]);
        }
    }
    let lim = limits(app, actor.org_id).await?;
    for (k, val) in &f.vitals {
        let text = val.as_str().filter(|s| s.chars().count() <= 20);
        match text {
            Some(s) if VITALS.contains(&k.as_str()) => {
                if let Err(e) = v::check_vital(k, s, &lim.vitals) {
                    err.fields.extend(e.fields);
                }
            }
            _ => err = err.and_field(&format!("vitals.{k}"), ErrorCode::InvalidFormat, ["36.8 / 135/85"]),
        }
    }
    if !err.fields.is_empty() {
        return Err(err);
    }
    visit.chief_complaint = f.chief_complaint.trim().into();
    visit.present_illness = f.present_illness.trim().into();
    visit.history = f.history.trim().into();
    visit.allergies = f.allergies.trim().into();
    visit.examination = f.examination.trim().into();
    visit.advice = f.advice.trim().into();
    visit.vitals = serde_json::Value::Object(f.vitals.clone()).to_string();
    visit.updated_at = now_micros();
    let feed = crate::chronic::feed_visit(app, &visit, &actor.username).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::visit::save_record(&mut tx, &visit).await.or_internal()? {
        return Err(DomainError::new(ErrorCode::VisitFinished));
    }
    feed.write(&mut tx).await?;
    let entry = actor.entry("visit.record", "visit", &id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    assemble(app, actor.org_id, visit).await
}

/// One diagnosis as chosen: western (`diagnosis`) or TCM (`tcm`), by code.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DiagnosisForm {
    #[schema(value_type = dayi_core::catalog::Kind)]
    pub kind: String,
    pub code: String,
}

/// Sets the visit's diagnoses; the first western diagnosis is the primary one.
pub async fn diagnose(app: &App, actor: &Actor, id: Uuid, list: &[DiagnosisForm]) -> Result<VisitView, DomainError> {
    let visit = editable(app, actor, id).await?;
    let cat = cat::current(app, actor.org_id).await?;
    let mut rows: Vec<Diagnosis> = vec![];
    let now = now_micros();
    for (i, d) in list.iter().enumerate() {
        let field = format!("diagnoses.{i}");
        let kind = match d.kind.trim() {
            "" | "diagnosis" => Kind::Diagnosis,
            "tcm" => Kind::Tcm,
            k => return Err(DomainError::field(&field, ErrorCode::InvalidFormat, [k])),
        };
        let item = cat
            .get(kind, d.code.trim())
            .ok_or_else(|| DomainError::field(&field, ErrorCode::CatalogUnknown, [d.code.trim()]))?;
        if rows.iter().any(|r| r.code == item.code && r.kind == kind.code()) {
            return Err(DomainError::field(&field, ErrorCode::VisitDiagnosisTwice, [item.name.as_str()]));
        }
        let primary = kind == Kind::Diagnosis && !rows.iter().any(|r| r.is_primary);
        rows.push(Diagnosis {
            org_id: actor.org_id,
            visit_id: id,
            seq: i as i64 + 1,
            kind: kind.code().into(),
            code: item.code.clone(),
            name: item.name.clone(),
            insurance_code: item.insurance_code.clone(),
            is_primary: primary,
            created_at: now,
        });
    }
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::visit::set_diagnoses(&mut tx, actor.org_id, id, &rows).await.or_internal()?;
    let names: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    let entry = actor.entry("visit.diagnose", "visit", &id.to_string(), Some(visit.patient_id), OK, &names.join(","));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    assemble(app, actor.org_id, visit).await
}

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
fn refuse(warnings: &[Warning]) -> DomainError {
    let mut e = DomainError::new(ErrorCode::Validation);
    e.fields.extend(warnings.iter().map(|w| w.field.clone()));
    e
}

/// Orders one item: the checks, the order and its unpaid charge, in one go.
pub async fn order(app: &App, actor: &Actor, id: Uuid, f: &OrderForm) -> Result<Ordered, DomainError> {
    let visit = editable(app, actor, id).await?;
    let cat = cat::current(app, actor.org_id).await?;
    let lim = limits(app, actor.org_id).await?;
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
    let existing = dayi_store::visit::orders(&app.db, actor.org_id, id).await.or_internal()?;
    let live: Vec<(String, String)> = existing
        .iter()
        .filter(|o| !matches!(o.status.as_str(), "cancelled" | "refunded"))
        .map(|o| (o.code.clone(), o.generic.clone()))
        .collect();
    let mut warnings: Vec<Warning> = vec![];
    let (mut dose, mut days, mut frequency) = (None, None, String::new());
    let mut quantity =
        match f.quantity.trim() {
            "" => None,
            q => Some(q.parse::<i64>().ok().filter(|n| (1..=lim.max_quantity).contains(n)).ok_or_else(|| {
                DomainError::field("quantity", ErrorCode::OrderQuantity, [lim.max_quantity.to_string()])
            })?),
        };
    if let Some(drug) = &item.drug {
        let chronic = !chronic(&history(app, actor.org_id, &visit).await?.1, &cat).is_empty();
        let d = v::parse_dose(
            drug,
            &f.dose,
            if f.frequency.trim().is_empty() { &drug.frequency } else { &f.frequency },
            &f.days,
            &lim,
            chronic,
        )?;
        warnings.extend(v::check_dose(item, drug, &d, &lim)?);
        warnings.extend(v::check_allergy(item, &visit.allergies, &lim));
        quantity = Some(quantity.unwrap_or_else(|| v::packs(drug, &d)).min(lim.max_quantity));
        (dose, days, frequency) = (Some(d.dose), Some(d.days), d.frequency.code().to_string());
    }
    warnings.extend(v::check_duplicate(item, &live));
    if !warnings.is_empty() {
        if !f.confirm {
            return Err(refuse(&warnings));
        }
        if f.reason.trim().is_empty() {
            return Err(DomainError::field("reason", ErrorCode::OrderReason, [""; 0]));
        }
    }
    let quantity = quantity.unwrap_or(1);
    let now = now_micros();
    let (order_id, charge_id) = (crate::new_id(), crate::new_id());
    let drug = item.drug.clone().unwrap_or_default();
    let o = Order {
        org_id: actor.org_id,
        id: order_id,
        visit_id: id,
        patient_id: visit.patient_id,
        kind: kind.code().into(),
        code: item.code.clone(),
        name: item.name.clone(),
        generic: drug.generic_name.clone(),
        spec: drug.spec.clone(),
        dose,
        dose_unit: drug.dose_unit.clone(),
        frequency,
        days,
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
    };
    let charge = Charge {
        org_id: actor.org_id,
        id: charge_id,
        patient_id: visit.patient_id,
        booking_id: visit.booking_id,
        item_code: item.code.clone(),
        item_name: item.name.clone(),
        category: kind.code().into(),
        unit_fen: item.price_fen,
        quantity,
        amount_fen: o.amount_fen,
        status: "unpaid".into(),
        created_by: actor.username.clone(),
        created_at: now,
        updated_at: now,
        visit_id: Some(id),
        order_id: Some(order_id),
        payment_id: None,
        refund_id: None,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    // Finished meanwhile: nothing is written.
    match dayi_store::visit::get(&mut tx, actor.org_id, id).await.or_internal()? {
        Some(v) if v.status == VisitStatus::Open.code() => {}
        _ => return Err(DomainError::new(ErrorCode::VisitFinished)),
    }
    dayi_store::visit::insert_orders(&mut tx, std::slice::from_ref(&o)).await.or_internal()?;
    dayi_store::booking::insert_charges(&mut tx, std::slice::from_ref(&charge)).await.or_internal()?;
    let detail = format!(
        "{} ×{} {} 元{}",
        o.name,
        quantity,
        catalog::yuan(o.amount_fen),
        if warnings.is_empty() { "" } else { "（已确认警示）" }
    );
    let entry = actor.entry("visit.order", "visit_order", &order_id.to_string(), Some(visit.patient_id), OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(Ordered { order: line(o), warnings })
}

/// The patient's recent visits (this one included) and all their diagnoses.
async fn history(app: &App, org_id: Uuid, visit: &Visit) -> Result<(Vec<Visit>, Vec<Diagnosis>), DomainError> {
    let past = dayi_store::visit::of_patient(&app.db, org_id, visit.patient_id, 20).await.or_internal()?;
    let mut ids: Vec<Uuid> = past.iter().map(|v| v.id).collect();
    if !ids.contains(&visit.id) {
        ids.push(visit.id);
    }
    let dx = dayi_store::visit::diagnoses(&app.db, org_id, &ids).await.or_internal()?;
    Ok((past, dx))
}

/// The chronic diseases (慢病) among diagnoses, by name, once each.
fn chronic(dx: &[Diagnosis], cat: &cat::Catalog) -> Vec<String> {
    let mut names: Vec<String> = dx
        .iter()
        .filter(|d| cat.get(Kind::Diagnosis, &d.code).is_some_and(|i| i.category == "chronic"))
        .map(|d| d.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
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

/// Finishes the visit (it needs a diagnosis) and the patient's queue entry.
pub async fn finish(app: &App, actor: &Actor, id: Uuid) -> Result<VisitView, DomainError> {
    let visit = editable(app, actor, id).await?;
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &[id]).await.or_internal()?;
    if dx.is_empty() {
        return Err(DomainError::new(ErrorCode::VisitNoDiagnosis));
    }
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::visit::finish(&mut tx, actor.org_id, id, now).await.or_internal()? {
        return Err(DomainError::new(ErrorCode::VisitFinished));
    }
    let entry = actor.entry("visit.finish", "visit", &id.to_string(), Some(visit.patient_id), OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    if let Some(b) = visit.booking_id {
        // The queue entry may have been finished from the panel already.
        match crate::queue::act(app, actor, b, Action::Finish).await {
            Ok(_) => {}
            Err(e)
                if matches!(e.code, ErrorCode::QueueFinished | ErrorCode::QueueNotCalled | ErrorCode::QueueUnknown) => {
            }
            Err(e) => return Err(e),
        }
    }
    let visit = load(app, actor.org_id, id).await?;
    assemble(app, actor.org_id, visit).await
}

/// A certificate request: diagnosis (诊断证明) or sick leave (病假证明).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CertificateForm {
    pub kind: String,
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub days: String,
    pub note: String,
}

pub async fn certify(app: &App, actor: &Actor, id: Uuid, f: &CertificateForm) -> Result<Certificate, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = load(app, actor.org_id, id).await?;
    let lim = limits(app, actor.org_id).await?;
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &[id]).await.or_internal()?;
    if dx.is_empty() {
        return Err(DomainError::new(ErrorCode::VisitNoDiagnosis));
    }
    let kind = match f.kind.trim() {
        k @ ("diagnosis" | "sick_leave") => k,
        k => return Err(DomainError::field("kind", ErrorCode::InvalidFormat, [k])),
    };
    let days = match kind {
        "sick_leave" => {
            Some(f.days.trim().parse::<i64>().ok().filter(|d| (1..=lim.max_sick_leave_days).contains(d)).ok_or_else(
                || DomainError::field("days", ErrorCode::CertificateDays, [lim.max_sick_leave_days.to_string()]),
            )?)
        }
        _ => None,
    };
    if f.note.chars().count() > 500 {
        return Err(DomainError::field("note", ErrorCode::TooLong, ["500"]));
    }
    let now = now_micros();
    let id_c = crate::new_id();
    let c = Certificate {
        org_id: actor.org_id,
        id: id_c,
        cert_no: format!("ZM{}{}", visit.day.replace('-', ""), &id_c.simple().to_string()[24..]),
        visit_id: id,
        patient_id: visit.patient_id,
        kind: kind.into(),
        days,
        starts: days.map(|_| visit.day.clone()),
        note: f.note.trim().into(),
        issued_by: actor.name.clone(),
        issued_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::visit::insert_certificate(&mut tx, &c).await.or_internal()?;
    let entry = actor.entry("visit.certify", "certificate", &c.cert_no, Some(visit.patient_id), OK, kind);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(c)
}

/// A certificate with its visit, for printing (full name: it is the patient's document).
pub async fn certificate(app: &App, actor: &Actor, id: Uuid) -> Result<(Certificate, VisitView, String), DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let c = dayi_store::visit::certificate(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let visit = load(app, actor.org_id, c.visit_id).await?;
    let p = crate::patient::load(app, actor.org_id, visit.patient_id).await?;
    app.audit
        .record(actor.entry("visit.print_certificate", "certificate", &c.cert_no, Some(visit.patient_id), OK, ""))
        .await;
    let view = assemble(app, actor.org_id, visit).await?;
    Ok((c, view, p.name))
}

/// The department's record templates.
pub async fn templates(app: &App, actor: &Actor, dept_id: Uuid) -> Result<Vec<Template>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    dayi_store::visit::templates(&app.db, actor.org_id, dept_id).await.or_internal()
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TemplateForm {
    #[schema(value_type = uuid::Uuid)]
    pub dept_id: String,
    pub name: String,
    pub chief_complaint: String,
    pub present_illness: String,
    pub examination: String,
    pub advice: String,
}

pub async fn add_template(app: &App, actor: &Actor, f: &TemplateForm) -> Result<Template, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let dept_id =
        Uuid::parse_str(f.dept_id.trim()).map_err(|_| DomainError::field("dept_id", ErrorCode::Required, [""; 0]))?;
    if f.name.trim().is_empty() {
        return Err(DomainError::field("name", ErrorCode::Required, [""; 0]));
    }
    let t = Template {
        org_id: actor.org_id,
        id: crate::new_id(),
        dept_id,
        name: f.name.trim().chars().take(50).collect(),
        chief_complaint: f.chief_complaint.trim().into(),
        present_illness: f.present_illness.trim().into(),
        examination: f.examination.trim().into(),
        advice: f.advice.trim().into(),
        active: true,
        created_by: actor.username.clone(),
        created_at: now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::visit::insert_template(&mut tx, &t).await.or_internal()?;
    let entry = actor.entry("visit.template", "visit_template", &t.id.to_string(), None, OK, &t.name);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(t)
}

/// A finished or open visit as the patient (and their doctor) looks back on
/// it: diagnoses and what was ordered.
#[derive(Debug, Clone, Serialize)]
pub struct PatientVisit {
    pub id: Uuid,
    pub day: String,
    pub dept_name: String,
    pub doctor_name: String,
    pub status_name: &'static str,
    pub diagnoses: Vec<String>,
    pub orders: Vec<OrderLine>,
    pub advice: String,
}

/// The patient's visits, newest first: on the phone for oneself or family,
/// at the console for clinicians.
pub async fn of_patient(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<PatientVisit>, DomainError> {
    match actor.via {
        crate::Via::Portal => crate::portal::require_family(app, actor, patient_id).await?,
        _ => actor.require(app, Perm::Clinical).await?,
    }
    let visits = dayi_store::visit::of_patient(&app.db, actor.org_id, patient_id, 50).await.or_internal()?;
    let ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &ids).await.or_internal()?;
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let orders = dayi_store::visit::orders(&app.db, actor.org_id, v.id).await.or_internal()?;
        out.push(PatientVisit {
            id: v.id,
            dept_name: depts.iter().find(|d| d.id == v.dept_id).map(|d| d.name.clone()).unwrap_or_default(),
            doctor_name: v.doctor_name.clone(),
            status_name: VisitStatus::parse(&v.status).map(|s| s.zh()).unwrap_or(""),
            diagnoses: dx.iter().filter(|d| d.visit_id == v.id).map(|d| d.name.clone()).collect(),
            orders: orders.into_iter().filter(|o| o.status != OrderStatus::Cancelled.code()).map(line).collect(),
            advice: v.advice.clone(),
            day: v.day,
        });
    }
    app.audit.record(actor.entry("visit.list", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    Ok(out)
}

/// A line of the doctor's day: who, when, how far.
#[derive(Debug, Clone, Serialize)]
pub struct DayLine {
    pub id: Uuid,
    /// Masked: the list may be seen over the doctor's shoulder.
    pub patient_name: String,
    pub opened: String,
    pub status: String,
    pub status_name: &'static str,
    pub diagnoses: Vec<String>,
}

/// The doctor's own visits of today, to go back to a patient (back from tests, a certificate).
pub async fn my_day(app: &App, actor: &Actor) -> Result<Vec<DayLine>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let day = today_cst().to_string();
    let visits = dayi_store::visit::of_doctor(&app.db, actor.org_id, actor.staff_id, &day).await.or_internal()?;
    let ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    let dx = dayi_store::visit::diagnoses(&app.db, actor.org_id, &ids).await.or_internal()?;
    let mut out = Vec::with_capacity(visits.len());
    for v in visits {
        let p = crate::patient::load(app, actor.org_id, v.patient_id).await?;
        out.push(DayLine {
            id: v.id,
            patient_name: mask::name(&p.name),
            opened: dayi_core::timefmt::show(v.opened_at),
            status_name: VisitStatus::parse(&v.status).map(|s| s.zh()).unwrap_or(""),
            diagnoses: dx.iter().filter(|d| d.visit_id == v.id).map(|d| d.name.clone()).collect(),
            status: v.status,
        });
    }
    Ok(out)
}
