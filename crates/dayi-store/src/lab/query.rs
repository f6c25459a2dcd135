//! Read-only lookups of published lab results for other systems (the FHIR
//! interface): the current results of verified tests, and the verified
//! tests themselves, by patient, visit, id, code, day and status, answered
//! as a total and one page. Nothing here sees a result before it is
//! verified, nor a version a correction retired. The row types and column
//! lists are those of `lab.rs`.

use uuid::Uuid;

use crate::fetch::Sql;
use crate::filter::{push_in, push_sub};
use crate::lab::{LabResult, LabTest, Specimen, result_cols, specimen_cols, test_cols};
pub use crate::visit::query::Page;
use crate::visit::query::paged;
use crate::walk::{Step, Walk, walked};
use crate::{Db, Result};

/// A code a search asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// Results: the item's own code or its LOINC code; tests: the panel's code.
    Any(String),
    /// Results: the item's own code.
    Item(String),
    /// Results: the LOINC code.
    Loinc(String),
}

/// What a search keeps. `None` does not narrow; an empty list keeps nothing.
/// Every part that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub patients: Option<Vec<Uuid>>,
    pub visits: Option<Vec<Uuid>>,
    /// Results: their ids.
    pub results: Option<Vec<Uuid>>,
    /// Tests (and the results of them): the lab orders' ids.
    pub orders: Option<Vec<Uuid>>,
    pub codes: Option<Vec<Code>>,
    /// `final` (never corrected) and `corrected` (a later version).
    pub statuses: Option<Vec<String>>,
    /// From and before these instants (µs): results by when they were
    /// entered, tests by when their specimen was collected.
    pub from: Option<i64>,
    pub before: Option<i64>,
}

impl Filter {
    /// True when a part that is set can match nothing.
    pub fn empty(&self) -> bool {
        fn none<T>(v: &Option<Vec<T>>) -> bool {
            v.as_ref().is_some_and(Vec::is_empty)
        }
        none(&self.patients)
            || none(&self.visits)
            || none(&self.results)
            || none(&self.orders)
            || none(&self.codes)
            || none(&self.statuses)
            || matches!((self.from, self.before), (Some(f), Some(b)) if f >= b)
    }

    /// Which of the two statuses the filter keeps: (final, corrected).
    fn keeps(&self) -> (bool, bool) {
        match &self.statuses {
            None => (true, true),
            Some(s) => (s.iter().any(|x| x == "final"), s.iter().any(|x| x == "corrected")),
        }
    }
}

macro_rules! result_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM lab_result r WHERE r.org_id = ").arg($org);
        $qb.push(" AND r.current = ").arg(true);
        $qb.push(" AND EXISTS (SELECT 1 FROM lab_test t WHERE t.org_id = r.org_id AND t.order_id = r.order_id");
        $qb.push(" AND t.status = 'verified')");
        push_in!($qb, "patient_id", &$f.patients);
        push_sub!($qb, "order_id", "visit_order", "visit_id", $org, &$f.visits);
        push_in!($qb, "id", &$f.results);
        push_in!($qb, "order_id", &$f.orders);
        if let Some(codes) = &$f.codes {
            $qb.push(" AND (");
            for (i, c) in codes.iter().enumerate() {
                $qb.push(if i == 0 { "" } else { " OR " });
                match c {
                    Code::Any(x) => $qb.push("item_code = ").arg(x.clone()).push(" OR loinc = ").arg(x.clone()),
                    Code::Item(x) => $qb.push("item_code = ").arg(x.clone()),
                    Code::Loinc(x) => $qb.push("loinc = ").arg(x.clone()),
                };
            }
            $qb.push(")");
        }
        match $f.keeps() {
            (true, false) => {
                $qb.push(" AND version = 1");
            }
            (false, true) => {
                $qb.push(" AND version > 1");
            }
            _ => {}
        }
        if let Some(at) = $f.from {
            $qb.push(" AND entered_at >= ").arg(at);
        }
        if let Some(at) = $f.before {
            $qb.push(" AND entered_at < ").arg(at);
        }
    };
}

/// The current results of verified tests, newest first (a test's in the
/// order they were written).
pub async fn results(db: &Db, org_id: Uuid, f: &Filter, limit: i64, offset: i64) -> Result<Page<LabResult>> {
    paged!(db, org_id, f, limit, offset, result_where, result_cols, "entered_at DESC, id", LabResult)
}

/// A current result of a later version than the first, of this test.
const CORRECTED: &str = "EXISTS (SELECT 1 FROM lab_result r WHERE r.org_id = t.org_id AND r.order_id = t.order_id \
                         AND r.current = ";

macro_rules! test_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM lab_test t WHERE t.org_id = ").arg($org).push(" AND t.status = 'verified'");
        push_in!($qb, "patient_id", &$f.patients);
        push_sub!($qb, "order_id", "visit_order", "visit_id", $org, &$f.visits);
        push_in!($qb, "order_id", &$f.orders);
        if let Some(codes) = &$f.codes {
            let codes = codes.iter().map(|(Code::Any(x) | Code::Item(x) | Code::Loinc(x))| x.as_str());
            $qb.push(" AND panel_code IN (").list(codes).push(")");
        }
        match $f.keeps() {
            (true, false) => {
                $qb.push(" AND NOT ").push(CORRECTED).arg(true).push(" AND r.version > 1)");
            }
            (false, true) => {
                $qb.push(" AND ").push(CORRECTED).arg(true).push(" AND r.version > 1)");
            }
            _ => {}
        }
        if $f.from.is_some() || $f.before.is_some() {
            $qb.push(" AND EXISTS (SELECT 1 FROM specimen s WHERE s.org_id = t.org_id AND s.id = t.specimen_id");
            if let Some(at) = $f.from {
                $qb.push(" AND s.collected_at >= ").arg(at);
            }
            if let Some(at) = $f.before {
                $qb.push(" AND s.collected_at < ").arg(at);
            }
            $qb.push(")");
        }
    };
}

/// Verified tests, the latest verified first. `results` and `codes` as
/// result ids and item codes do not apply: codes are the panels'.
pub async fn tests(db: &Db, org_id: Uuid, f: &Filter, limit: i64, offset: i64) -> Result<Page<LabTest>> {
    paged!(db, org_id, f, limit, offset, test_where, test_cols, "verified_at DESC, order_id DESC", LabTest)
}

/// The tests of these orders (any order, any status).
pub async fn tests_by_order(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<LabTest>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(concat!("SELECT ", test_cols!(), " FROM lab_test WHERE org_id = "));
    q.arg(org_id);
    push_in!(q, "order_id", Some(ids));
    db.all::<LabTest>(&q.text, &q.args).await
}

/// The current results of these tests, by test and in the order written.
pub async fn current_results(db: &Db, org_id: Uuid, order_ids: &[Uuid]) -> Result<Vec<LabResult>> {
    if order_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(concat!("SELECT ", result_cols!(), " FROM lab_result WHERE org_id = "));
    q.arg(org_id).push(" AND current = ").arg(true);
    push_in!(q, "order_id", Some(order_ids));
    q.push(" ORDER BY order_id, id");
    db.all::<LabResult>(&q.text, &q.args).await
}

/// The specimens of these ids (any order).
pub async fn specimens_by_id(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Specimen>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new(concat!("SELECT ", specimen_cols!(), " FROM specimen WHERE org_id = "));
    q.arg(org_id);
    push_in!(q, "id", Some(ids));
    db.all::<Specimen>(&q.text, &q.args).await
}

/// Published results matching `f` in id order, a page at a time.
pub async fn walk_results(db: &Db, org_id: Uuid, f: &Filter, step: &Step) -> Result<Walk<LabResult>> {
    walked!(db, org_id, f, step, result_where, result_cols, "id", LabResult)
}

/// Verified tests matching `f` in order id order, a page at a time.
pub async fn walk_tests(db: &Db, org_id: Uuid, f: &Filter, step: &Step) -> Result<Walk<LabTest>> {
    walked!(db, org_id, f, step, test_where, test_cols, "order_id", LabTest)
}
