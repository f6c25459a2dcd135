//! Results stored in one transaction: one tube entered by hand, or every
//! message an analyzer has sent ahead of its ACKs. The tubes, their tests,
//! their earlier results and the patients are read once for all; each
//! entry is then checked and planned in memory, refused alone when bad, and
//! what was kept is written with a handful of statements at the end.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dayi_core::audit::OK;
use dayi_core::lab::{LabCatalog, LabItem};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Tx;
use dayi_store::lab::{LabAlert, LabResult, LabTest, Specimen};
use uuid::Uuid;

use super::result::{Entry, Reported, Stored};
use super::specimen::specimen_state;
use crate::{Actor, App, OrInternal};

/// Test states a new result moves to `resulted` (a verified one is corrected).
const RESULTABLE: [&str; 3] = ["collected", "received", "verified"];

pub(super) struct Batch {
    org_id: Uuid,
    cat: Arc<LabCatalog>,
    now: i64,
    specimens: HashMap<String, Specimen>,
    tests: Vec<LabTest>,
    /// Earlier results: the database's, then those planned here.
    results: Vec<Known>,
    /// Patients' sex code and age in years, for reference ranges.
    patients: HashMap<Uuid, (String, i64)>,
    /// To write.
    retire: Vec<(Uuid, String)>,
    /// Tubes received, and by whom.
    receive: Vec<(Uuid, String)>,
    audit: Vec<dayi_core::audit::Entry>,
    alerts: Vec<LabAlert>,
}

struct Known {
    row: LabResult,
    /// Planned here (not yet in the database).
    new: bool,
}

/// What one entry would write; kept only if every result in it is good.
struct Plan {
    rows: Vec<LabResult>,
    /// Indexes into `Batch::results` of the rows these replace.
    replaces: Vec<usize>,
    alerts: Vec<LabAlert>,
    audit: Vec<dayi_core::audit::Entry>,
    stored: Stored,
}

/// One entry being planned: its tube and the tube's tests, the patient's
/// sex and age (for the reference ranges), and where the entry came from.
struct Tube<'a> {
    entry: &'a Entry,
    source: &'a str,
    specimen: &'a Specimen,
    tests: Vec<&'a LabTest>,
    sex: &'a str,
    age: i64,
}

/// One result planned.
struct Line {
    row: LabResult,
    /// The index into `Batch::results` of the current row it replaces.
    replaces: Option<usize>,
    alert: Option<LabAlert>,
    /// It corrects a verified (published) result.
    corrects: bool,
}

impl Batch {
    /// Reads what entries for these barcodes need, inside `tx`.
    pub async fn load(app: &App, tx: &mut Tx, org_id: Uuid, barcodes: &[&str]) -> Result<Batch, DomainError> {
        let cat = super::catalog(app, org_id).await?;
        let specimens = dayi_store::lab::by_barcodes(&mut *tx, org_id, barcodes).await.or_internal()?;
        let ids: Vec<Uuid> = specimens.iter().map(|s| s.id).collect();
        let tests = dayi_store::lab::tests_of_specimens(&mut *tx, org_id, &ids).await.or_internal()?;
        let orders: Vec<Uuid> = tests.iter().map(|t| t.order_id).collect();
        let results = dayi_store::lab::results_of(&mut *tx, org_id, &orders).await.or_internal()?;
        let people: Vec<Uuid> = specimens.iter().map(|s| s.patient_id).collect::<HashSet<_>>().into_iter().collect();
        let mut patients = HashMap::new();
        for p in dayi_store::patient::get_many(&app.db, org_id, &people).await.or_internal()? {
            patients.insert(p.id, super::sex_age_of(&p)?);
        }
        Ok(Batch {
            org_id,
            cat,
            now: now_micros(),
            specimens: specimens.into_iter().map(|s| (s.barcode.clone(), s)).collect(),
            tests,
            results: results.into_iter().map(|row| Known { row, new: false }).collect(),
            patients,
            retire: vec![],
            receive: vec![],
            audit: vec![],
            alerts: vec![],
        })
    }

    /// The tube with this barcode, if it was loaded.
    pub fn specimen(&self, barcode: &str) -> Option<&Specimen> {
        self.specimens.get(barcode)
    }

    /// Checks and keeps a group of entries (one message's tubes) together:
    /// all of them, or, when one is refused, none.
    pub fn add(&mut self, actor: &Actor, entries: &[Entry], source: &str) -> Result<Vec<Stored>, DomainError> {
        let plans = entries.iter().map(|e| self.plan(actor, e, source)).collect::<Result<Vec<_>, _>>()?;
        Ok(plans.into_iter().map(|p| self.keep(p, &actor.username)).collect())
    }

    /// Plans one entry: a row for each result not stored already, the
    /// critical-value alerts and the audit.
    fn plan(&self, actor: &Actor, e: &Entry, source: &str) -> Result<Plan, DomainError> {
        let tube = self.tube(e, source)?;
        let mut plan = Plan {
            rows: vec![],
            replaces: vec![],
            alerts: vec![],
            audit: vec![],
            stored: Stored { barcode: tube.specimen.barcode.clone(), results: 0, critical: vec![] },
        };
        let mut corrected = false;
        for (i, r) in e.results.iter().enumerate() {
            let Some(line) = self.line(actor, &tube, i, r, &plan.rows)? else {
                continue;
            };
            corrected |= line.corrects;
            plan.replaces.extend(line.replaces);
            plan.alerts.extend(line.alert);
            plan.rows.push(line.row);
        }
        if plan.rows.is_empty() {
            return Ok(plan);
        }
        summarise(&mut plan, actor, tube.specimen, corrected);
        Ok(plan)
    }

    /// The entry's tube, which must be known, not rejected and given results.
    fn tube<'a>(&'a self, e: &'a Entry, source: &'a str) -> Result<Tube<'a>, DomainError> {
        let barcode = e.barcode.trim();
        let s =
            self.specimens.get(barcode).ok_or_else(|| DomainError::with(ErrorCode::LabBarcodeUnknown, [barcode]))?;
        if s.status == "rejected" {
            return Err(DomainError::with(ErrorCode::LabSpecimenState, [specimen_state(&s.status)]));
        }
        if e.results.is_empty() {
            return Err(DomainError::field("results", ErrorCode::Required, [""; 0]));
        }
        let (sex, age) = self.patients.get(&s.patient_id).ok_or_else(|| DomainError::new(ErrorCode::PatientUnknown))?;
        let tests: Vec<&LabTest> = self.tests.iter().filter(|t| t.specimen_id == s.id).collect();
        Ok(Tube { entry: e, source, specimen: s, tests, sex, age: *age })
    }

    /// Plans result `i` of the entry, judged against its range; `None` when
    /// the same value is stored already.
    fn line(
        &self,
        actor: &Actor,
        t: &Tube,
        i: usize,
        r: &Reported,
        planned: &[LabResult],
    ) -> Result<Option<Line>, DomainError> {
        let s = t.specimen;
        let field = |code, args: &[&str]| DomainError::field(&format!("results.{i}"), code, args);
        let code = r.item.trim();
        let (test, item) = find(&self.cat, &t.tests, &r.item)
            .ok_or_else(|| field(ErrorCode::LabItemUnknown, &[code, s.barcode.as_str()]))?;
        if planned.iter().any(|x| x.order_id == test.order_id && x.item_code == item.code) {
            return Err(field(ErrorCode::LabItemTwice, &[code]));
        }
        let mine = |k: &&Known| k.row.order_id == test.order_id && k.row.item_code == item.code;
        let current = self.results.iter().position(|k| mine(&k) && k.row.current);
        // The same value again (an analyzer resending after a lost ACK) is already stored.
        if current.is_some_and(|c| self.results[c].row.value == r.value.trim()) {
            return Ok(None);
        }
        let corrects = test.status == "verified";
        // A correction of a published result: by hand, with a reason.
        if corrects && (t.source != "manual" || t.entry.reason.trim().is_empty()) {
            return Err(DomainError::field("reason", ErrorCode::LabCorrectionReason, [""; 0]));
        }
        let j = item.judge(&r.value, &r.unit, t.sex, t.age).map_err(|mut x| {
            for f in &mut x.fields {
                f.field = format!("results.{i}");
            }
            x
        })?;
        let version = self.results.iter().filter(mine).map(|k| k.row.version).max().unwrap_or(0) + 1;
        let row = LabResult {
            org_id: self.org_id,
            id: crate::new_id(),
            order_id: test.order_id,
            specimen_id: s.id,
            patient_id: s.patient_id,
            item_code: item.code.clone(),
            item_name: item.name.clone(),
            loinc: item.loinc.clone(),
            value: r.value.trim().to_string(),
            milli: j.milli,
            unit: item.unit.clone(),
            flag: j.flag.code().into(),
            range_text: j.range_text,
            version,
            current: true,
            source: t.source.into(),
            entered_by: actor.username.clone(),
            entered_at: self.now,
            reason: if version > 1 { t.entry.reason.trim().chars().take(200).collect() } else { String::new() },
        };
        let alert = j.flag.is_critical().then(|| self.alert(&row, test));
        Ok(Some(Line { row, replaces: current, alert, corrects }))
    }

    /// The critical-value alert of a result, to its ordering doctor.
    fn alert(&self, row: &LabResult, test: &LabTest) -> LabAlert {
        LabAlert {
            org_id: self.org_id,
            id: crate::new_id(),
            result_id: row.id,
            order_id: test.order_id,
            patient_id: row.patient_id,
            doctor_id: test.doctor_id,
            item_name: row.item_name.clone(),
            value: row.value.clone(),
            unit: row.unit.clone(),
            flag: row.flag.clone(),
            raised_at: self.now,
            acked_by: None,
            acked_at: None,
            ack_note: String::new(),
        }
    }

    /// Makes a plan part of the batch: later entries see its results.
    fn keep(&mut self, plan: Plan, by: &str) -> Stored {
        for i in plan.replaces {
            let k = &mut self.results[i];
            k.row.current = false;
            if !k.new {
                self.retire.push((k.row.order_id, k.row.item_code.clone()));
            }
        }
        for row in &plan.rows {
            if let Some(t) = self.tests.iter_mut().find(|t| t.order_id == row.order_id) {
                t.status = "resulted".into();
            }
            // An analyzer's tube is received when its results arrive.
            if let Some(s) = self.specimens.values_mut().find(|s| s.id == row.specimen_id)
                && s.status == "collected"
            {
                s.status = "received".into();
                self.receive.push((s.id, by.to_string()));
            }
        }
        self.results.extend(plan.rows.into_iter().map(|row| Known { row, new: true }));
        self.alerts.extend(plan.alerts);
        self.audit.extend(plan.audit);
        plan.stored
    }

    /// Writes what was kept, inside `tx`; the caller commits.
    pub async fn write(self, tx: &mut Tx) -> Result<(), DomainError> {
        let org = self.org_id;
        for (order, item) in &self.retire {
            dayi_store::lab::retire(tx, org, *order, item).await.or_internal()?;
        }
        let rows: Vec<LabResult> = self.results.into_iter().filter(|k| k.new).map(|k| k.row).collect();
        dayi_store::lab::insert_results(tx, &rows).await.or_internal()?;
        let mut by: Vec<&str> = self.receive.iter().map(|(_, b)| b.as_str()).collect();
        by.sort();
        by.dedup();
        for b in by {
            let ids: Vec<Uuid> = self.receive.iter().filter(|(_, x)| x == b).map(|(id, _)| *id).collect();
            dayi_store::lab::receive_specimens(tx, org, &ids, b, self.now).await.or_internal()?;
        }
        let mut touched: Vec<Uuid> = rows.iter().map(|r| r.order_id).collect();
        touched.sort();
        touched.dedup();
        dayi_store::lab::set_tests(tx, org, &touched, &RESULTABLE, "resulted", None, self.now).await.or_internal()?;
        dayi_store::lab::insert_alerts(tx, &self.alerts).await.or_internal()?;
        dayi_store::audit::append(tx, org, self.audit).await.or_internal()?;
        Ok(())
    }
}

/// The entry's count, its critical values and its audit: the results
/// entered (or corrected) and each critical value raised.
fn summarise(plan: &mut Plan, actor: &Actor, s: &Specimen, corrected: bool) {
    plan.stored.results = plan.rows.len();
    plan.stored.critical = plan.alerts.iter().map(|a| format!("{} {}{}", a.item_name, a.value, a.unit)).collect();
    let detail = format!(
        "{} 项{}",
        plan.rows.len(),
        if plan.stored.critical.is_empty() {
            String::new()
        } else {
            format!("，危急值：{}", plan.stored.critical.join("、"))
        }
    );
    let what = if corrected { "lab.correct" } else { "lab.result" };
    plan.audit.push(actor.entry(what, "specimen", &s.barcode, Some(s.patient_id), OK, &detail));
    for a in &plan.alerts {
        let detail = format!("{} {}", a.item_name, a.value);
        plan.audit.push(actor.entry("lab.critical", "lab_alert", &a.id.to_string(), Some(a.patient_id), OK, &detail));
    }
}

/// The test of a specimen that measures an item, and the item.
fn find<'a>(cat: &'a LabCatalog, tests: &[&'a LabTest], code: &str) -> Option<(&'a LabTest, &'a LabItem)> {
    tests.iter().filter(|t| t.status != "rejected").find_map(|t| {
        let panel = cat.panel(&t.panel_code)?;
        cat.item(panel, code).map(|i| (*t, i))
    })
}
