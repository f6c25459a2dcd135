//! Read-only lookups of visits, diagnoses and orders by patient, visit,
//! status, day and code, answered as a total and one page (for the FHIR
//! interface). The row types and column lists are those of `visit.rs`.

use uuid::Uuid;

use crate::fetch::Sql;
use crate::filter::{push_in, push_sub};
use crate::visit::{Diagnosis, Order, Visit, diagnosis_cols, order_cols, visit_cols};
use crate::walk::{Step, Walk, walked};
use crate::{Db, Result};

/// A code a search asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// The code in any of our systems.
    Any(String),
    /// A diagnosis of one catalogue (`diagnosis` or `tcm`).
    Of(String, String),
    /// A western diagnosis by its insurance-edition code.
    Insurance(String),
}

/// What a search keeps. `None` does not narrow; an empty list keeps nothing.
/// Every part that is set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub patients: Option<Vec<Uuid>>,
    pub visits: Option<Vec<Uuid>>,
    /// Status codes of the visit or order.
    pub statuses: Option<Vec<String>>,
    /// Visits: the first and last day (`YYYY-MM-DD`), inclusive.
    pub from_day: Option<String>,
    pub to_day: Option<String>,
    /// Diagnoses: (visit, seq).
    pub diagnoses: Option<Vec<(Uuid, i64)>>,
    /// Orders: their ids.
    pub orders: Option<Vec<Uuid>>,
    /// Diagnoses and orders: any of these codes.
    pub codes: Option<Vec<Code>>,
    /// Orders: drug orders (true) or the others (false).
    pub drugs: Option<bool>,
}

impl Filter {
    /// True when a part that is set can match nothing.
    pub fn empty(&self) -> bool {
        fn none<T>(v: &Option<Vec<T>>) -> bool {
            v.as_ref().is_some_and(Vec::is_empty)
        }
        none(&self.patients)
            || none(&self.visits)
            || none(&self.statuses)
            || none(&self.diagnoses)
            || none(&self.orders)
            || none(&self.codes)
    }
}

/// How many match, and the rows of one page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub total: i64,
    pub rows: Vec<T>,
}

/// The shape of every paged search here: `COUNT(*)` under the `$where`
/// macro, then one page of `$cols` rows in `$order` (none for an empty filter).
macro_rules! paged {
    ($db:expr, $org:expr, $f:expr, $limit:expr, $offset:expr, $where:ident, $cols:ident, $order:literal, $T:ty) => {{
        if $f.empty() {
            return Ok(Page { total: 0, rows: vec![] });
        }
        let mut q = Sql::new("SELECT COUNT(*)");
        $where!(q, $org, $f);
        let total: i64 = $db.report_scalar(&q.text, &q.args).await?;
        let mut rows = vec![];
        if $limit > 0 && $offset < total {
            let mut q = Sql::new(concat!("SELECT ", $cols!()));
            $where!(q, $org, $f);
            q.push(concat!(" ORDER BY ", $order, " LIMIT ")).arg($limit).push(" OFFSET ").arg($offset);
            rows = $db.all::<$T>(&q.text, &q.args).await?;
        }
        Ok(Page { total, rows })
    }};
}
pub(crate) use paged;

macro_rules! visit_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM visit WHERE org_id = ").arg($org);
        push_in!($qb, "patient_id", &$f.patients);
        push_in!($qb, "id", &$f.visits);
        push_in!($qb, "status", &$f.statuses);
        if let Some(d) = &$f.from_day {
            $qb.push(" AND day >= ").arg(d.clone());
        }
        if let Some(d) = &$f.to_day {
            $qb.push(" AND day <= ").arg(d.clone());
        }
    };
}

/// Visits, newest first.
pub async fn visits(db: &Db, org_id: Uuid, f: &Filter, limit: i64, offset: i64) -> Result<Page<Visit>> {
    paged!(db, org_id, f, limit, offset, visit_where, visit_cols, "opened_at DESC, id DESC", Visit)
}

macro_rules! diagnosis_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM diagnosis WHERE org_id = ").arg($org);
        push_sub!($qb, "visit_id", "visit", "patient_id", $org, &$f.patients);
        push_in!($qb, "visit_id", &$f.visits);
        if let Some(keys) = &$f.diagnoses {
            $qb.push(" AND (");
            for (i, (visit, seq)) in keys.iter().enumerate() {
                $qb.push(if i == 0 { "(visit_id = " } else { " OR (visit_id = " });
                $qb.arg(*visit).push(" AND seq = ").arg(*seq).push(")");
            }
            $qb.push(")");
        }
        if let Some(codes) = &$f.codes {
            $qb.push(" AND (");
            for (i, c) in codes.iter().enumerate() {
                $qb.push(if i == 0 { "(" } else { " OR (" });
                match c {
                    Code::Any(code) => $qb.push("code = ").arg(code.clone()),
                    Code::Of(kind, code) => {
                        $qb.push("kind = ").arg(kind.clone()).push(" AND code = ").arg(code.clone())
                    }
                    Code::Insurance(code) => $qb.push("kind = 'diagnosis' AND insurance_code = ").arg(code.clone()),
                };
                $qb.push(")");
            }
            $qb.push(")");
        }
    };
}

/// Diagnoses, the newest visit's first, each visit's in their order.
pub async fn diagnoses(db: &Db, org_id: Uuid, f: &Filter, limit: i64, offset: i64) -> Result<Page<Diagnosis>> {
    paged!(db, org_id, f, limit, offset, diagnosis_where, diagnosis_cols, "visit_id DESC, seq", Diagnosis)
}

macro_rules! order_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM visit_order WHERE org_id = ").arg($org);
        push_sub!($qb, "visit_id", "visit", "patient_id", $org, &$f.patients);
        push_in!($qb, "visit_id", &$f.visits);
        push_in!($qb, "id", &$f.orders);
        push_in!($qb, "status", &$f.statuses);
        match $f.drugs {
            Some(true) => {
                $qb.push(" AND kind = 'drug'");
            }
            Some(false) => {
                $qb.push(" AND kind <> 'drug'");
            }
            None => {}
        }
        if let Some(codes) = &$f.codes {
            let codes = codes.iter().map(|(Code::Any(code) | Code::Of(_, code) | Code::Insurance(code))| code.as_str());
            $qb.push(" AND code IN (").list(codes).push(")");
        }
    };
}

/// Orders, newest first.
pub async fn orders(db: &Db, org_id: Uuid, f: &Filter, limit: i64, offset: i64) -> Result<Page<Order>> {
    paged!(db, org_id, f, limit, offset, order_where, order_cols, "created_at DESC, id DESC", Order)
}

/// The visits of these ids (any order).
pub async fn visits_by_id(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Visit>> {
    let f = Filter { visits: Some(ids.to_vec()), ..Default::default() };
    Ok(visits(db, org_id, &f, ids.len() as i64, 0).await?.rows)
}

/// Visits matching `f` in id order, a page at a time.
pub async fn walk_visits(db: &Db, org_id: Uuid, f: &Filter, step: &Step) -> Result<Walk<Visit>> {
    walked!(db, org_id, f, step, visit_where, visit_cols, "id", Visit)
}

/// Diagnoses matching `f` in (visit, number) order, a page at a time.
pub async fn walk_diagnoses(db: &Db, org_id: Uuid, f: &Filter, step: &Step) -> Result<Walk<Diagnosis>> {
    walked!(db, org_id, f, step, diagnosis_where, diagnosis_cols, "visit_id, seq", Diagnosis)
}

/// Orders matching `f` in id order, a page at a time.
pub async fn walk_orders(db: &Db, org_id: Uuid, f: &Filter, step: &Step) -> Result<Walk<Order>> {
    walked!(db, org_id, f, step, order_where, order_cols, "id", Order)
}
