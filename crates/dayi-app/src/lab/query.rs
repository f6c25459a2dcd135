//! Published lab results for other systems (the FHIR interface): one
//! result or one verified test, and searches over them a page at a time.
//! Only what has been verified is published, and of a corrected result only
//! its current version. Each needs `clinical`, as the doctor's published
//! results do, and audits every patient whose results it shows (and each
//! patient a search asked about, found or not).

use std::collections::{BTreeSet, HashMap};

use dayi_core::audit::OK;
use dayi_core::lab::LabCatalog;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
pub use dayi_store::lab::query::{Code, Filter, Page};
use dayi_store::lab::{LabResult, LabTest, Specimen};
use dayi_store::walk::{Step, Walk};
use uuid::Uuid;

use crate::visit::query::{MAX_PAGE, capped};
use crate::{Actor, App, OrInternal};

/// A published result, its test and specimen, and who verified it.
#[derive(Debug, Clone)]
pub struct ResultRead {
    pub result: LabResult,
    pub test: LabTest,
    pub specimen: Option<Specimen>,
    /// The verifier's name ("" when the account is gone).
    pub verifier: String,
    /// The verifier's account, when it is still there.
    pub verifier_id: Option<Uuid>,
}

/// A verified test with its current results in the panel's order.
#[derive(Debug, Clone)]
pub struct TestRead {
    pub test: LabTest,
    pub results: Vec<LabResult>,
    pub specimen: Option<Specimen>,
    pub verifier: String,
    pub verifier_id: Option<Uuid>,
}

/// One published result by its id.
pub async fn result(app: &App, actor: &Actor, id: Uuid) -> Result<ResultRead, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter { results: Some(vec![id]), ..Default::default() };
    let page = dayi_store::lab::query::results(&app.db, actor.org_id, &f, 1, 0).await.or_internal()?;
    let mut rows = with_tests(app, actor.org_id, page.rows).await?;
    let r = rows.pop().ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let entry = actor.entry("lab.observation.read", "lab_result", &id.to_string(), Some(r.result.patient_id), OK, "");
    app.audit.record(entry).await;
    Ok(r)
}

/// Published results matching `f`, newest first: `limit` of them from `offset`.
pub async fn results(
    app: &App,
    actor: &Actor,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<Page<ResultRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let page = dayi_store::lab::query::results(&app.db, actor.org_id, f, limit.clamp(0, MAX_PAGE), offset.max(0))
        .await
        .or_internal()?;
    let rows = with_tests(app, actor.org_id, page.rows).await?;
    let shown: Vec<Uuid> = rows.iter().map(|r| r.result.patient_id).collect();
    audit_search(app, actor, "lab.observation.search", f, &shown).await;
    Ok(Page { total: page.total, rows })
}

/// Every published result in id order, a page at a time (a FHIR search with no parameter).
pub async fn walk_results(app: &App, actor: &Actor, step: &Step) -> Result<Walk<ResultRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter::default();
    let page = dayi_store::lab::query::walk_results(&app.db, actor.org_id, &f, &capped(step)).await.or_internal()?;
    let (total, more) = (page.total, page.more);
    let rows = with_tests(app, actor.org_id, page.rows).await?;
    let shown: Vec<Uuid> = rows.iter().map(|r| r.result.patient_id).collect();
    audit_search(app, actor, "lab.observation.search", &f, &shown).await;
    Ok(Walk { total, rows, more })
}

/// One verified test by its order's id.
pub async fn test(app: &App, actor: &Actor, order_id: Uuid) -> Result<TestRead, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter { orders: Some(vec![order_id]), ..Default::default() };
    let page = dayi_store::lab::query::tests(&app.db, actor.org_id, &f, 1, 0).await.or_internal()?;
    let mut rows = with_results(app, actor.org_id, page.rows).await?;
    let t = rows.pop().ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    let entry = actor.entry(
        "lab.report.read",
        "lab_test",
        &order_id.to_string(),
        Some(t.test.patient_id),
        OK,
        &t.test.panel_name,
    );
    app.audit.record(entry).await;
    Ok(t)
}

/// Verified tests matching `f`, the latest verified first.
pub async fn tests(
    app: &App,
    actor: &Actor,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> Result<Page<TestRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let page = dayi_store::lab::query::tests(&app.db, actor.org_id, f, limit.clamp(0, MAX_PAGE), offset.max(0))
        .await
        .or_internal()?;
    let rows = with_results(app, actor.org_id, page.rows).await?;
    let shown: Vec<Uuid> = rows.iter().map(|t| t.test.patient_id).collect();
    audit_search(app, actor, "lab.report.search", f, &shown).await;
    Ok(Page { total: page.total, rows })
}

/// Every verified test in order id order, a page at a time.
pub async fn walk_tests(app: &App, actor: &Actor, step: &Step) -> Result<Walk<TestRead>, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let f = Filter::default();
    let page = dayi_store::lab::query::walk_tests(&app.db, actor.org_id, &f, &capped(step)).await.or_internal()?;
    let (total, more) = (page.total, page.more);
    let rows = with_results(app, actor.org_id, page.rows).await?;
    let shown: Vec<Uuid> = rows.iter().map(|t| t.test.patient_id).collect();
    audit_search(app, actor, "lab.report.search", &f, &shown).await;
    Ok(Walk { total, rows, more })
}

/// Each result with its test, specimen and verifier.
async fn with_tests(app: &App, org_id: Uuid, rows: Vec<LabResult>) -> Result<Vec<ResultRead>, DomainError> {
    let orders: Vec<Uuid> = rows.iter().map(|r| r.order_id).collect::<BTreeSet<_>>().into_iter().collect();
    let tests = dayi_store::lab::query::tests_by_order(&app.db, org_id, &orders).await.or_internal()?;
    let tests: HashMap<Uuid, LabTest> = tests.into_iter().map(|t| (t.order_id, t)).collect();
    let specimens = specimens(app, org_id, tests.values()).await?;
    let names = verifiers(app, org_id, tests.values()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|result| {
            let test = tests.get(&result.order_id)?.clone();
            Some(ResultRead {
                specimen: specimens.get(&test.specimen_id).cloned(),
                verifier: name_of(&names, &test),
                verifier_id: id_of(&names, &test),
                result,
                test,
            })
        })
        .collect())
}

/// Each test with its current results (in the panel's order), specimen and verifier.
async fn with_results(app: &App, org_id: Uuid, tests: Vec<LabTest>) -> Result<Vec<TestRead>, DomainError> {
    let orders: Vec<Uuid> = tests.iter().map(|t| t.order_id).collect();
    let mut results = dayi_store::lab::query::current_results(&app.db, org_id, &orders).await.or_internal()?;
    let cat = super::catalog(app, org_id).await?;
    results.sort_by_key(|r| panel_rank(&cat, &tests, r));
    let specimens = specimens(app, org_id, tests.iter()).await?;
    let names = verifiers(app, org_id, tests.iter()).await?;
    Ok(tests
        .into_iter()
        .map(|test| TestRead {
            results: results.iter().filter(|r| r.order_id == test.order_id).cloned().collect(),
            specimen: specimens.get(&test.specimen_id).cloned(),
            verifier: name_of(&names, &test),
            verifier_id: id_of(&names, &test),
            test,
        })
        .collect())
}

/// Where a result stands in its panel as the catalogue lists it (items the
/// catalogue no longer has last, then as written).
fn panel_rank(cat: &LabCatalog, tests: &[LabTest], r: &LabResult) -> (usize, Uuid) {
    let panel = tests.iter().find(|t| t.order_id == r.order_id).and_then(|t| cat.panel(&t.panel_code));
    let at = panel.and_then(|p| p.item.iter().position(|i| i.code == r.item_code)).unwrap_or(usize::MAX);
    (at, r.id)
}

async fn specimens<'a>(
    app: &App,
    org_id: Uuid,
    tests: impl Iterator<Item = &'a LabTest>,
) -> Result<HashMap<Uuid, Specimen>, DomainError> {
    let ids: Vec<Uuid> = tests.map(|t| t.specimen_id).collect::<BTreeSet<_>>().into_iter().collect();
    let rows = dayi_store::lab::query::specimens_by_id(&app.db, org_id, &ids).await.or_internal()?;
    Ok(rows.into_iter().map(|s| (s.id, s)).collect())
}

/// The verifiers' names and account ids by account name.
async fn verifiers<'a>(
    app: &App,
    org_id: Uuid,
    tests: impl Iterator<Item = &'a LabTest>,
) -> Result<HashMap<String, (String, Uuid)>, DomainError> {
    let mut names = HashMap::new();
    for username in tests.filter_map(|t| t.verified_by.clone()).collect::<BTreeSet<_>>() {
        if let Some(s) = dayi_store::staff::by_username(&app.db, org_id, &username).await.or_internal()? {
            names.insert(username, (s.display_name, s.id));
        }
    }
    Ok(names)
}

fn name_of(names: &HashMap<String, (String, Uuid)>, t: &LabTest) -> String {
    t.verified_by.as_ref().and_then(|u| names.get(u)).map(|n| n.0.clone()).unwrap_or_default()
}

fn id_of(names: &HashMap<String, (String, Uuid)>, t: &LabTest) -> Option<Uuid> {
    t.verified_by.as_ref().and_then(|u| names.get(u)).map(|n| n.1)
}

/// One entry per patient the search asked about or showed, with how many of
/// their records it showed.
async fn audit_search(app: &App, actor: &Actor, action: &str, f: &Filter, shown: &[Uuid]) {
    let mut patients: BTreeSet<Uuid> = f.patients.iter().flatten().copied().collect();
    patients.extend(shown.iter().copied());
    let entries = patients.into_iter().map(|p| {
        let n = shown.iter().filter(|x| **x == p).count();
        actor.entry(action, "patient", &p.to_string(), Some(p), OK, &format!("{n} 条"))
    });
    app.audit.record_all(entries.collect()).await;
}
