//! Results (检验结果): entered by hand or received from an analyzer, judged
//! against the patient's reference range, verified by a second person before
//! anyone outside the lab sees them, corrected only as a new version.

use dayi_core::audit::OK;
use dayi_core::lab::Flag;
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, show};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::lab::{LabResult, LabTest, Specimen};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::batch::Batch;
use super::specimen::specimen_state;
use crate::{Actor, App, OrInternal, Via};

/// One reported value: the item (its code or LOINC code), the value and the
/// unit it came in (empty: the catalogue's).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Reported {
    pub item: String,
    pub value: String,
    pub unit: String,
}

/// Results for one specimen; `reason` is needed to correct verified ones.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = LabEntry)]
#[serde(default)]
pub struct Entry {
    pub barcode: String,
    pub results: Vec<Reported>,
    pub reason: String,
}

/// What was stored: how many results, and the critical ones raised.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Stored {
    pub barcode: String,
    pub results: usize,
    pub critical: Vec<String>,
}

/// Stores results for a specimen. `source` is `manual` or `hl7:<application>`.
/// Everything is checked before anything is written: one bad value refuses all.
pub async fn enter(app: &App, actor: &Actor, e: &Entry, source: &str) -> Result<Stored, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    let mut batch = Batch::load(app, &mut tx, actor.org_id, &[e.barcode.trim()]).await?;
    let stored = batch.add(actor, std::slice::from_ref(e), source)?.pop().unwrap_or_default();
    batch.write(&mut tx).await?;
    tx.commit().await.or_internal()?;
    Ok(stored)
}

/// Verifies a test's results (审核) and publishes them: by someone other
/// than whoever entered them, with every item of the panel present.
pub async fn verify(app: &App, actor: &Actor, order_id: Uuid) -> Result<TestView, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let cat = super::catalog(app, actor.org_id).await?;
    let t = test_of(app, actor.org_id, order_id).await?;
    if t.status != "resulted" {
        return Err(DomainError::with(ErrorCode::LabTestState, [t.panel_name.clone(), test_state(&t.status).into()]));
    }
    let results = dayi_store::lab::results(&app.db, actor.org_id, order_id).await.or_internal()?;
    let current: Vec<&LabResult> = results.iter().filter(|r| r.current).collect();
    if current.iter().any(|r| r.entered_by == actor.username) {
        return Err(DomainError::new(ErrorCode::LabSameVerifier));
    }
    if let Some(panel) = cat.panel(&t.panel_code) {
        let missing: Vec<&str> = panel
            .item
            .iter()
            .filter(|i| !current.iter().any(|r| r.item_code == i.code))
            .map(|i| i.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(DomainError::with(ErrorCode::LabIncomplete, [t.panel_name.clone(), missing.join("、")]));
        }
    }
    let now = now_micros();
    let feed = crate::chronic::feed_lab(app, actor.org_id, order_id, &results, &actor.username).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if dayi_store::lab::set_tests(
        &mut tx,
        actor.org_id,
        &[order_id],
        &["resulted"],
        "verified",
        Some(&actor.username),
        now,
    )
    .await
    .or_internal()?
        != 1
    {
        return Err(DomainError::new(ErrorCode::Conflict));
    }
    feed.write(&mut tx).await?;
    let entry = actor.entry("lab.verify", "lab_test", &order_id.to_string(), Some(t.patient_id), OK, &t.panel_name);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    let t = test_of(app, actor.org_id, order_id).await?;
    assemble(app, actor.org_id, t, true).await
}

async fn test_of(app: &App, org_id: Uuid, order_id: Uuid) -> Result<LabTest, DomainError> {
    dayi_store::lab::test(&app.db, org_id, order_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))
}

pub fn test_state(s: &str) -> &'static str {
    match s {
        "collected" => "已采集",
        "received" => "已签收",
        "rejected" => "标本已拒收",
        "resulted" => "待审核",
        "verified" => "已审核发布",
        _ => "",
    }
}

/// A test with its results as shown: current values, and the history when asked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TestView {
    pub test: LabTest,
    pub status_name: &'static str,
    pub verified: String,
    pub results: Vec<ResultLine>,
    pub history: Vec<ResultLine>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResultLine {
    #[serde(flatten)]
    pub result: LabResult,
    pub flag_name: &'static str,
    pub arrow: &'static str,
    pub abnormal: bool,
    pub critical: bool,
    pub at: String,
}

fn line(r: LabResult) -> ResultLine {
    let flag = Flag::parse(&r.flag).unwrap_or(Flag::Normal);
    ResultLine {
        flag_name: flag.zh(),
        arrow: flag.arrow(),
        abnormal: flag != Flag::Normal,
        critical: flag.is_critical(),
        at: show(r.entered_at),
        result: r,
    }
}

async fn assemble(app: &App, org_id: Uuid, test: LabTest, history: bool) -> Result<TestView, DomainError> {
    let rows = dayi_store::lab::results(&app.db, org_id, test.order_id).await.or_internal()?;
    let (cur, old): (Vec<LabResult>, Vec<LabResult>) = rows.into_iter().partition(|r| r.current);
    Ok(TestView {
        status_name: test_state(&test.status),
        verified: test.verified_at.map(show).unwrap_or_default(),
        results: cur.into_iter().map(line).collect(),
        history: if history { old.into_iter().map(line).collect() } else { vec![] },
        test,
    })
}

/// A specimen in the lab: its tests with every result and correction.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpecimenView {
    pub specimen: Specimen,
    pub status_name: &'static str,
    pub patient_name: String,
    pub sex: String,
    pub age: i64,
    pub collected: String,
    pub tests: Vec<TestView>,
}

/// The lab bench's pages; each specimen read checks it again.
pub async fn require_bench(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::Lab).await
}

/// Several specimens, for their tube labels (at most 20 at a time).
pub async fn specimens(app: &App, actor: &Actor, barcodes: &[&str]) -> Result<Vec<SpecimenView>, DomainError> {
    require_bench(app, actor).await?;
    let mut found = vec![];
    for code in barcodes.iter().take(20) {
        found.push(specimen(app, actor, code).await?);
    }
    Ok(found)
}

pub async fn specimen(app: &App, actor: &Actor, barcode: &str) -> Result<SpecimenView, DomainError> {
    actor.require(app, Perm::Lab).await?;
    let s = dayi_store::lab::by_barcode(&app.db, actor.org_id, barcode.trim())
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::with(ErrorCode::LabBarcodeUnknown, [barcode.trim()]))?;
    let p = crate::patient::load(app, actor.org_id, s.patient_id).await?;
    let (sex, age) = super::sex_age(app, actor.org_id, s.patient_id).await?;
    let mut tests = vec![];
    for t in dayi_store::lab::tests_of_specimen(&app.db, actor.org_id, s.id).await.or_internal()? {
        tests.push(assemble(app, actor.org_id, t, true).await?);
    }
    app.audit.record(actor.entry("lab.view", "specimen", &s.barcode, Some(s.patient_id), OK, "")).await;
    Ok(SpecimenView {
        status_name: specimen_state(&s.status),
        patient_name: mask::name(&p.name),
        sex: dayi_core::identity::Sex::parse(&sex).map(|x| x.zh()).unwrap_or("").into(),
        age,
        collected: show(s.collected_at),
        tests,
        specimen: s,
    })
}

/// A patient's published results, newest first: for the doctor (clinical)
/// and for the patient or their family on the phone.
pub async fn published(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<TestView>, DomainError> {
    match actor.via {
        Via::Portal => crate::portal::require_family(app, actor, patient_id).await?,
        _ => {
            actor.require(app, Perm::Clinical).await?;
            crate::patient::known(app, actor, patient_id).await?;
        }
    }
    let mut out = vec![];
    for t in dayi_store::lab::published(&app.db, actor.org_id, patient_id, 50).await.or_internal()? {
        out.push(assemble(app, actor.org_id, t, false).await?);
    }
    app.audit.record(actor.entry("lab.results", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    Ok(out)
}

/// One item's published values over time, oldest first.
pub async fn trend(
    app: &App,
    actor: &Actor,
    patient_id: Uuid,
    item_code: &str,
) -> Result<Vec<ResultLine>, DomainError> {
    match actor.via {
        Via::Portal => crate::portal::require_family(app, actor, patient_id).await?,
        _ => {
            actor.require(app, Perm::Clinical).await?;
            crate::patient::known(app, actor, patient_id).await?;
        }
    }
    let rows = dayi_store::lab::trend(&app.db, actor.org_id, patient_id, item_code.trim(), 50).await.or_internal()?;
    app.audit
        .record(actor.entry("lab.trend", "patient", &patient_id.to_string(), Some(patient_id), OK, item_code))
        .await;
    Ok(rows.into_iter().map(line).collect())
}
