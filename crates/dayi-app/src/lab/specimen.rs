//! Specimens (标本): the collection worklist, drawing a visit's paid lab
//! orders into one labelled tube per specimen kind, receiving in the lab or
//! rejecting with a reason (the orders then come back to the worklist).

use std::collections::BTreeMap;

use dayi_core::audit::OK;
use dayi_core::security::Perm;
use dayi_core::timefmt::{CST, from_micros, now_micros};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::lab::{LabTest, Specimen};
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, App, OrInternal};

/// A visit's lab orders waiting to be drawn.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = LabWorkLine)]
pub struct WorkLine {
    pub visit_id: Uuid,
    pub patient_id: Uuid,
    /// Masked: the worklist is on a counter screen.
    pub patient_name: String,
    pub hospital_no: String,
    pub orders: Vec<WorkOrder>,
    /// All paid: it can be drawn now.
    pub ready: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkOrder {
    pub order_id: Uuid,
    pub name: String,
    pub paid: bool,
    /// The tube it goes in (from the lab catalogue).
    pub tube: String,
}

/// Today's lab orders not yet in a specimen, by visit.
pub async fn worklist(app: &App, actor: &Actor) -> Result<Vec<WorkLine>, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let cat = super::catalog(app, actor.org_id).await?;
    let orders = dayi_store::lab::to_collect(&app.db, actor.org_id, super::today_start(), 500).await.or_internal()?;
    let mut by_visit: BTreeMap<Uuid, Vec<dayi_store::visit::Order>> = BTreeMap::new();
    for o in orders {
        by_visit.entry(o.visit_id).or_default().push(o);
    }
    let mut out = vec![];
    for (visit_id, orders) in by_visit {
        let p = crate::patient::load(app, actor.org_id, orders[0].patient_id).await?;
        let lines: Vec<WorkOrder> = orders
            .iter()
            .map(|o| WorkOrder {
                order_id: o.id,
                name: o.name.clone(),
                paid: o.status != "ordered",
                tube: cat.by_charge(&o.code).map(|p| p.tube.clone()).unwrap_or_default(),
            })
            .collect();
        out.push(WorkLine {
            visit_id,
            patient_id: p.id,
            patient_name: mask::name(&p.name),
            hospital_no: p.hospital_no,
            ready: lines.iter().all(|l| l.paid),
            orders: lines,
        });
    }
    Ok(out)
}

/// A barcode: the day (yymmdd) and the specimen's number of the day.
fn barcode(at: i64, n: i64) -> String {
    let d = from_micros(at).to_offset(CST).date();
    format!("{:02}{:02}{:02}{:06}", d.year() % 100, u8::from(d.month()), d.day(), n)
}

/// Draws a visit's paid lab orders: one specimen per specimen kind and tube,
/// each with its barcode. The orders count as carried out (no refund now).
pub async fn collect(app: &App, actor: &Actor, visit_id: Uuid) -> Result<Vec<Specimen>, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let cat = super::catalog(app, actor.org_id).await?;
    let waiting: Vec<_> = dayi_store::lab::to_collect(&app.db, actor.org_id, 0, 10_000)
        .await
        .or_internal()?
        .into_iter()
        .filter(|o| o.visit_id == visit_id)
        .collect();
    if waiting.is_empty() {
        return Err(DomainError::new(ErrorCode::LabNothingToCollect));
    }
    if let Some(o) = waiting.iter().find(|o| o.status == "ordered") {
        return Err(DomainError::with(ErrorCode::LabUnpaid, [o.name.clone()]));
    }
    let visit = dayi_store::visit::get(&app.db, actor.org_id, visit_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::VisitUnknown))?;
    // Group the orders by the tube they go in.
    let mut tubes: BTreeMap<(String, String), Vec<(&dayi_store::visit::Order, &dayi_core::lab::Panel)>> =
        BTreeMap::new();
    for o in &waiting {
        let panel = cat.by_charge(&o.code).ok_or_else(|| DomainError::with(ErrorCode::LabNoPanel, [o.name.clone()]))?;
        tubes.entry((panel.specimen.clone(), panel.tube.clone())).or_default().push((o, panel));
    }
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    let mut made = vec![];
    let mut n = dayi_store::lab::count_since(&mut tx, actor.org_id, super::today_start()).await.or_internal()?;
    for ((kind, tube), orders) in tubes {
        n += 1;
        let s = Specimen {
            org_id: actor.org_id,
            id: crate::new_id(),
            barcode: barcode(now, n),
            patient_id: visit.patient_id,
            visit_id,
            kind,
            tube,
            status: "collected".into(),
            reject_reason: String::new(),
            collected_by: actor.username.clone(),
            collected_at: now,
            received_by: None,
            received_at: None,
            updated_at: now,
        };
        dayi_store::lab::insert_specimen(&mut tx, &s).await.or_internal()?;
        let tests: Vec<LabTest> = orders
            .iter()
            .map(|(o, p)| LabTest {
                org_id: actor.org_id,
                order_id: o.id,
                specimen_id: s.id,
                visit_id,
                patient_id: visit.patient_id,
                doctor_id: visit.doctor_id,
                panel_code: p.code.clone(),
                panel_name: p.name.clone(),
                status: "collected".into(),
                verified_by: None,
                verified_at: None,
                updated_at: now,
            })
            .collect();
        dayi_store::lab::upsert_tests(&mut tx, &tests).await.or_internal()?;
        for (o, _) in &orders {
            // A paid order is now carried out; a redrawn one already was.
            dayi_store::visit::set_order_status(&mut tx, actor.org_id, o.id, "paid", "executed", now)
                .await
                .or_internal()?;
        }
        made.push(s);
    }
    let codes: Vec<&str> = made.iter().map(|s| s.barcode.as_str()).collect();
    let entry =
        actor.entry("lab.collect", "visit", &visit_id.to_string(), Some(visit.patient_id), OK, &codes.join(","));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(made)
}

async fn by_barcode(app: &App, org_id: Uuid, barcode: &str) -> Result<Specimen, DomainError> {
    dayi_store::lab::by_barcode(&app.db, org_id, barcode.trim())
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::with(ErrorCode::LabBarcodeUnknown, [barcode.trim()]))
}

/// The lab takes the tube in (签收).
pub async fn receive(app: &App, actor: &Actor, barcode: &str) -> Result<Specimen, DomainError> {
    move_specimen(app, actor, barcode, "received", "").await
}

/// The lab refuses the tube (溶血, 凝块, 量不足 …); its orders return to the worklist.
pub async fn reject(app: &App, actor: &Actor, barcode: &str, reason: &str) -> Result<Specimen, DomainError> {
    actor.require(app, Perm::Lab).await?;
    if reason.trim().is_empty() {
        return Err(DomainError::field("reason", ErrorCode::Required, [""; 0]));
    }
    move_specimen(app, actor, barcode, "rejected", reason.trim()).await
}

async fn move_specimen(
    app: &App,
    actor: &Actor,
    barcode: &str,
    to: &str,
    reason: &str,
) -> Result<Specimen, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let s = by_barcode(app, actor.org_id, barcode).await?;
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::lab::set_specimen(&mut tx, actor.org_id, s.id, to, reason, &actor.username, now)
        .await
        .or_internal()?
    {
        return Err(DomainError::with(ErrorCode::LabSpecimenState, [specimen_state(&s.status)]));
    }
    let ids: Vec<Uuid> = dayi_store::lab::tests_of_specimen(&mut tx, actor.org_id, s.id)
        .await
        .or_internal()?
        .iter()
        .map(|t| t.order_id)
        .collect();
    dayi_store::lab::set_tests(&mut tx, actor.org_id, &ids, &["collected"], to, None, now).await.or_internal()?;
    let entry = actor.entry(&format!("lab.{to}"), "specimen", &s.barcode, Some(s.patient_id), OK, reason);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    dayi_store::lab::specimen(&app.db, actor.org_id, s.id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::Conflict))
}

pub fn specimen_state(s: &str) -> &'static str {
    match s {
        "collected" => "已采集",
        "received" => "已签收",
        "rejected" => "已拒收",
        _ => "",
    }
}

/// A specimen on the lab's list of the day.
#[derive(Debug, Clone, Serialize)]
pub struct DayLine {
    pub specimen: Specimen,
    pub status_name: &'static str,
    /// Masked.
    pub patient_name: String,
    pub collected: String,
}

/// The specimens collected today, newest first.
pub async fn today(app: &App, actor: &Actor) -> Result<Vec<DayLine>, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let rows = dayi_store::lab::specimens(&app.db, actor.org_id, super::today_start(), 300).await.or_internal()?;
    let mut out = Vec::with_capacity(rows.len());
    for s in rows {
        let p = crate::patient::load(app, actor.org_id, s.patient_id).await?;
        out.push(DayLine {
            status_name: specimen_state(&s.status),
            patient_name: mask::name(&p.name),
            collected: dayi_core::timefmt::show(s.collected_at),
            specimen: s,
        });
    }
    Ok(out)
}
