//! `visit`: the outpatient visit from the doctor's desk to the cashier's
//! receipt (接诊、诊断、医嘱、划价、收费). One timed call is one whole visit
//! of five requests:
//!
//! 1. **open**: the doctor opens the visit of a patient they have called
//!    (`POST /api/visits/open/{booking}`);
//! 2. **diagnose**: one diagnosis from the catalogue (`POST /api/visits/{id}/diagnoses`);
//! 3. **order**: one order, a drug with its dose or a lab test, which makes
//!    its unpaid charge (`POST /api/visits/{id}/orders`);
//! 4. **charge**: the cashier looks up what the patient owes (划价,
//!    `GET /api/billing/due/{patient}`): the registration fee and the order;
//! 5. **pay**: the cashier takes it in cash (`POST /api/billing/pay` with an
//!    `Idempotency-Key`), for exactly the total the lookup showed.
//!
//! Prepared in-process and over HTTP before the clock starts, like `queue`:
//! [`Scale::doctors`] doctor accounts with API tokens, one clinic session
//! each today, [`Scale::per_doctor`] generated patients registered (walk-in)
//! in each session, every patient checked in, and every patient called by
//! their doctor (`POST /api/queue/entries/{booking}/call`), since only a
//! called patient's visit can be opened. Calling is the `queue` scenario's
//! subject, not this one's. Visits run in an order that takes the doctors in
//! turn; the cashier is the registration clerk of the run's token.
//!
//! Reported: each step's latency, visits per second, and the money taken.
//! Checked afterwards: every visit took all five steps; each was paid
//! exactly once, for its registration fee and its order, and left nothing
//! owed; a payment sent again with its key is answered with the same
//! receipt; the till's open totals grew by exactly the money taken; and the
//! issue's targets (≥ 500 visits/s, p99 of each step < 50 ms).

mod checks;
mod prepare;
mod steps;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use futures::future::BoxFuture;
use hdrhistogram::Histogram;
use reqwest::header::HeaderValue;
use uuid::Uuid;

use super::Scenario;
use crate::http::{Ctx, Outcome};
use crate::report::{Check, Figure, Setup};

/// The targets: visits per second, and each step's p99.
pub const TARGET_VISITS_PER_S: f64 = 500.0;
pub const TARGET_P99_MS: f64 = 50.0;
/// Requests sent at once while preparing.
const AT_ONCE: usize = 32;
/// Payments sent again after the run, to see the same receipt come back.
const REPEATS: usize = 20;

/// The five timed steps, in order: name and request.
pub const STEPS: [(&str, &str); 5] = [
    ("open", "POST /api/visits/open/{booking}"),
    ("diagnose", "POST /api/visits/{id}/diagnoses"),
    ("order", "POST /api/visits/{id}/orders"),
    ("charge", "GET /api/billing/due/{patient}"),
    ("pay", "POST /api/billing/pay"),
];

/// What the doctor writes, one case in turn per visit: a diagnosis and one
/// order (catalogue code, and for a drug its dose, frequency and days).
struct Case {
    diagnosis: &'static str,
    order: &'static str,
    drug: Option<(&'static str, &'static str, &'static str)>,
}

const CASES: &[Case] = &[
    // 急性上呼吸道感染: 阿莫西林胶囊 0.5 g three times a day for 3 days.
    Case { diagnosis: "J06.900", order: "YP000046", drug: Some(("0.5", "tid", "3")) },
    // 急性支气管炎: 血常规.
    Case { diagnosis: "J20.900", order: "250101015", drug: None },
    // 高血压 (chronic, so 14 days pass): 苯磺酸氨氯地平片 5 mg once a day.
    Case { diagnosis: "I10.x00x002", order: "YP000001", drug: Some(("5", "qd", "14")) },
];

/// How much is prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Doctors, each with one session today.
    pub doctors: usize,
    /// Patients called in each doctor's session (1–480): the visits on offer.
    pub per_doctor: u32,
    /// Clinical departments used, at most (0: all).
    pub departments: usize,
}

impl Default for Scale {
    /// 50 doctors with 200 patients each: 10,000 visits.
    fn default() -> Self {
        Scale { doctors: 50, per_doctor: 200, departments: 0 }
    }
}

impl Scale {
    /// Fifty doctors with enough patients between them for `visits` visits.
    pub fn for_visits(visits: u32) -> Self {
        let d = Scale::default();
        Scale { per_doctor: visits.div_ceil(d.doctors as u32).clamp(1, 480), ..d }
    }

    /// Four doctors in two departments with ten patients each, for tests.
    pub fn small() -> Self {
        Scale { doctors: 4, per_doctor: 10, departments: 2 }
    }
}

pub struct Visit {
    seed: u64,
    scale: Scale,
    prepared: OnceLock<Prepared>,
    figures: Mutex<Vec<Figure>>,
}

impl Visit {
    pub fn new(seed: u64, scale: Scale) -> Visit {
        Visit { seed, scale, prepared: OnceLock::new(), figures: Mutex::new(vec![]) }
    }
}

/// What `prepare` made and `call` and `checks` use.
struct Prepared {
    /// `Bearer dayi_…` of each doctor.
    doctors: Vec<HeaderValue>,
    /// The visits on offer, in the order they are taken.
    visits: Vec<Planned>,
    /// One per visit, set when it is paid.
    done: Vec<OnceLock<Done>>,
    /// Visits begun.
    started: AtomicU64,
    /// Each step's latency (µs), successes and failures alike.
    steps: Vec<Mutex<Histogram<u64>>>,
    /// The first visit's start and the last visit's end.
    span: Mutex<Option<(Instant, Instant)>>,
    /// The cashier's open till before the run: (payments, fen).
    till: (i64, i64),
}

/// A called patient: their registration, and who sees them.
#[derive(Debug, Clone, Copy)]
struct Planned {
    booking: Uuid,
    patient: Uuid,
    doctor: u16,
    case: u8,
}

/// A visit paid.
#[derive(Debug, Clone)]
struct Done {
    visit: Uuid,
    payment: Uuid,
    /// What the charge step showed: the charges and their total.
    charges: Vec<String>,
    total_fen: i64,
    order_fen: i64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Scenario for Visit {
    fn name(&self) -> &'static str {
        "visit"
    }

    fn max_requests(&self) -> Option<u64> {
        Some(self.scale.doctors as u64 * u64::from(self.scale.per_doctor))
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(prepare::prepare(self, ctx))
    }

    /// One whole visit: the doctor's three steps, then the cashier's two.
    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let p = self.prepared.get().ok_or("load.not_prepared")?;
            let v = *p.visits.get(seq as usize).ok_or("load.no_visit_left")?;
            p.started.fetch_add(1, Ordering::Relaxed);
            let t0 = Instant::now();
            lock(&p.span).get_or_insert((t0, t0));
            let r = steps::visit(p, ctx, v).await;
            let end = Instant::now();
            if let Some(s) = lock(&p.span).as_mut() {
                s.1 = s.1.max(end);
            }
            let done = r?;
            let _ = p.done[seq as usize].set(done);
            Ok(())
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let Some(p) = self.prepared.get() else {
                return vec![Check::new("prepared", false, "visit did not prepare")];
            };
            let (checks, figures) = checks::judge(p, ctx).await;
            *lock(&self.figures) = figures;
            checks
        })
    }

    fn figures(&self) -> Vec<Figure> {
        lock(&self.figures).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales() {
        assert_eq!(Scale::default().doctors as u32 * Scale::default().per_doctor, 10_000);
        assert_eq!(Scale::for_visits(10_000), Scale::default());
        assert_eq!(Scale::for_visits(1).per_doctor, 1);
        assert_eq!(Scale::for_visits(1_000_000).per_doctor, 480);
        assert_eq!(Scale::for_visits(5_001).per_doctor, 101);
    }
}
