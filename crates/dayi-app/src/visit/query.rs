//! Reading finished and open visits for other systems (the FHIR interface):
//! a visit with its diagnoses, one diagnosis, one order, and searches over
//! them a page at a time. Each needs `clinical` — the record is the
//! doctors' — and each audits every patient whose record it shows (and each
//! patient a search asked about, found or not).

pub use dayi_store::visit::query::{Code, Filter, Page};
pub use dayi_store::walk::{After, Step, Walk};

use std::collections::{BTreeSet, HashMap};

use dayi_core::audit::OK;
use dayi_core::catalog::Kind;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::visit::{Diagnosis, Order, Visit};
use uuid::Uuid;

use crate::{Actor, App, OrInternal, catalog as cat};

/// Most rows in one page.
pub const MAX_PAGE: i64 = 200;

/// A visit and its diagnoses (in their order).
#[derive(Debug, Clone)]
pub struct VisitRead {
    pub visit: Visit,
    pub diagnoses: Vec<Diagnosis>,
}

/// A diagnosis and the visit it was made at.
#[derive(Debug, Clone)]
pub struct DiagnosisRead {
    pub diagnosis: Diagnosis,
    pub visit: Visit,
}

/// An order, its visit, and the item's insurance code in the catalogue in force ("" if none).
#[derive(Debug, Clone)]
pub struct OrderRead {
    pub order: Order,
    pub visit: Visit,
    pub insurance_code: String,
}

/// One visit with its diagnoses.
pub async fn visit(app: &App, actor: &Actor, id: Uuid) -> Result<VisitRead, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let visit = dayi_store::visit::get(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::VisitUnknown))?;
    app.audit.record(actor.entry("visit.read", "visit", &id.to_string(), Some(visit.patient_id), OK, "")).await;
    let diagnoses = dayi_store::visit::diagnoses(&app.db, actor.org_id, &[id]).await.or_internal()?;
    Ok(VisitRead { visit, diagnoses })
}

/// Visits matching `f`, newest first: `limit` of them from `offset`.
pub async fn visits(
    app: &App,
    actor: &Actor,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<Page<VisitRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let page = dayi_store::visit::query::visits(&app.db, actor.org_id, f, limit.clamp(0, MAX_PAGE), offset.max(0))
        .await
        .or_internal()?;
    let rows = with_diagnoses(app, actor.org_id, page.rows).await?;
    let shown: Vec<&Visit> = rows.iter().map(|r| &r.visit).collect();
    audit_search(app, actor, "visit.search", f, &shown).await;
    Ok(Page { total: page.total, rows })
}

/// Every visit in id order, a page at a time (a FHIR search with no parameter).
pub async fn walk_visits(app: &App, actor: &Actor, step: &Step) -> Result<Walk<VisitRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let step = capped(step);
    let page =
        dayi_store::visit::query::walk_visits(&app.db, actor.org_id, &Filter::default(), &step).await.or_internal()?;
    let (total, more) = (page.total, page.more);
    let rows = with_diagnoses(app, actor.org_id, page.rows).await?;
    let shown: Vec<&Visit> = rows.iter().map(|r| &r.visit).collect();
    audit_search(app, actor, "visit.search", &Filter::default(), &shown).await;
    Ok(Walk { total, rows, more })
}

async fn with_diagnoses(app: &App, org_id: Uuid, visits: Vec<Visit>) -> Result<Vec<VisitRead>, DomainError> {
    let ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    let dx = dayi_store::visit::diagnoses(&app.db, org_id, &ids).await.or_internal()?;
    Ok(visits
        .into_iter()
        .map(|visit| VisitRead { diagnoses: dx.iter().filter(|d| d.visit_id == visit.id).cloned().collect(), visit })
        .collect())
}

/// A walk's page no larger than a search's.
pub(crate) fn capped(step: &Step) -> Step {
    Step { limit: step.limit.clamp(0, MAX_PAGE), ..*step }
}

/// One diagnosis of a visit, by its number.
pub async fn diagnosis(app: &App, actor: &Actor, visit_id: Uuid, seq: i64) -> Result<DiagnosisRead, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let unknown = || DomainError::new(ErrorCode::NotFound);
    let visit = dayi_store::visit::get(&app.db, actor.org_id, visit_id).await.or_internal()?.ok_or_else(unknown)?;
    let all = dayi_store::visit::diagnoses(&app.db, actor.org_id, &[visit_id]).await.or_internal()?;
    let diagnosis = all.into_iter().find(|d| d.seq == seq).ok_or_else(unknown)?;
    let id = format!("{visit_id}-{seq}");
    app.audit.record(actor.entry("diagnosis.read", "diagnosis", &id, Some(visit.patient_id), OK, "")).await;
    Ok(DiagnosisRead { diagnosis, visit })
}

/// Diagnoses matching `f`, the newest visit's first.
pub async fn diagnoses(
    app: &App,
    actor: &Actor,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<Page<DiagnosisRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let page = dayi_store::visit::query::diagnoses(&app.db, actor.org_id, f, limit.clamp(0, MAX_PAGE), offset.max(0))
        .await
        .or_internal()?;
    let rows = with_visits(app, actor.org_id, page.rows).await?;
    let shown: Vec<&Visit> = rows.iter().map(|r| &r.visit).collect();
    audit_search(app, actor, "diagnosis.search", f, &shown).await;
    Ok(Page { total: page.total, rows })
}

/// Every diagnosis in (visit, number) order, a page at a time.
pub async fn walk_diagnoses(app: &App, actor: &Actor, step: &Step) -> Result<Walk<DiagnosisRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter::default();
    let page =
        dayi_store::visit::query::walk_diagnoses(&app.db, actor.org_id, &f, &capped(step)).await.or_internal()?;
    let (total, more) = (page.total, page.more);
    let rows = with_visits(app, actor.org_id, page.rows).await?;
    let shown: Vec<&Visit> = rows.iter().map(|r| &r.visit).collect();
    audit_search(app, actor, "diagnosis.search", &f, &shown).await;
    Ok(Walk { total, rows, more })
}

async fn with_visits(app: &App, org_id: Uuid, rows: Vec<Diagnosis>) -> Result<Vec<DiagnosisRead>, DomainError> {
    let visits = visits_of(app, org_id, rows.iter().map(|d| d.visit_id)).await?;
    Ok(rows
        .into_iter()
        .filter_map(|d| Some(DiagnosisRead { visit: visits.get(&d.visit_id)?.clone(), diagnosis: d }))
        .collect())
}

/// One order: a drug order when `drug`, otherwise any other kind.
pub async fn order(app: &App, actor: &Actor, id: Uuid, drug: bool) -> Result<OrderRead, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter { orders: Some(vec![id]), drugs: Some(drug), ..Default::default() };
    let page = dayi_store::visit::query::orders(&app.db, actor.org_id, &f, 1, 0).await.or_internal()?;
    let order = page.rows.into_iter().next().ok_or_else(|| DomainError::new(ErrorCode::OrderUnknown))?;
    let visit = dayi_store::visit::get(&app.db, actor.org_id, order.visit_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::OrderUnknown))?;
    app.audit
        .record(actor.entry("order.read", "visit_order", &id.to_string(), Some(visit.patient_id), OK, &order.kind))
        .await;
    let catalog = cat::current(app, actor.org_id).await?;
    Ok(OrderRead { insurance_code: insurance_code(&catalog, &order), order, visit })
}

/// Orders matching `f`, newest first.
pub async fn orders(
    app: &App,
    actor: &Actor,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<Page<OrderRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let page = dayi_store::visit::query::orders(&app.db, actor.org_id, f, limit.clamp(0, MAX_PAGE), offset.max(0))
        .await
        .or_internal()?;
    let rows = order_reads(app, actor.org_id, page.rows).await?;
    let shown: Vec<&Visit> = rows.iter().map(|r| &r.visit).collect();
    audit_search(app, actor, "order.search", f, &shown).await;
    Ok(Page { total: page.total, rows })
}

/// Every drug order (`drug`), or every other order, in id order, a page at a time.
pub async fn walk_orders(app: &App, actor: &Actor, drug: bool, step: &Step) -> Result<Walk<OrderRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter { drugs: Some(drug), ..Default::default() };
    let page = dayi_store::visit::query::walk_orders(&app.db, actor.org_id, &f, &capped(step)).await.or_internal()?;
    let (total, more) = (page.total, page.more);
    let rows = order_reads(app, actor.org_id, page.rows).await?;
    let shown: Vec<&Visit> = rows.iter().map(|r| &r.visit).collect();
    audit_search(app, actor, "order.search", &f, &shown).await;
    Ok(Walk { total, rows, more })
}

async fn order_reads(app: &App, org_id: Uuid, rows: Vec<Order>) -> Result<Vec<OrderRead>, DomainError> {
    let visits = visits_of(app, org_id, rows.iter().map(|o| o.visit_id)).await?;
    let catalog = cat::current(app, org_id).await?;
    Ok(rows
        .into_iter()
        .filter_map(|o| {
            let visit = visits.get(&o.visit_id)?.clone();
            Some(OrderRead { insurance_code: insurance_code(&catalog, &o), order: o, visit })
        })
        .collect())
}

/// The item's insurance code in the catalogue in force, if it has one.
fn insurance_code(catalog: &cat::Catalog, o: &Order) -> String {
    let kinds: &[Kind] = match o.kind.as_str() {
        "drug" => &[Kind::Drug],
        "technique" => &[Kind::Technique],
        _ => &[Kind::ChargeItem],
    };
    kinds.iter().find_map(|k| catalog.get(*k, &o.code)).map(|i| i.insurance_code.clone()).unwrap_or_default()
}

async fn visits_of(
    app: &App,
    org_id: Uuid,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Visit>, DomainError> {
    let ids: Vec<Uuid> = ids.collect::<BTreeSet<_>>().into_iter().collect();
    let rows = dayi_store::visit::query::visits_by_id(&app.db, org_id, &ids).await.or_internal()?;
    Ok(rows.into_iter().map(|v| (v.id, v)).collect())
}

/// One entry per patient the search asked about or showed, with how many of
/// their records it showed.
async fn audit_search(app: &App, actor: &Actor, action: &str, f: &Filter, shown: &[&Visit]) {
    let mut patients: BTreeSet<Uuid> = f.patients.iter().flatten().copied().collect();
    patients.extend(shown.iter().map(|v| v.patient_id));
    let entries = patients.into_iter().map(|p| {
        let n = shown.iter().filter(|v| v.patient_id == p).count();
        actor.entry(action, "patient", &p.to_string(), Some(p), OK, &format!("{n} 条"))
    });
    app.audit.record_all(entries.collect()).await;
}
