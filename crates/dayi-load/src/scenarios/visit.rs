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

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, bail};
use dayi_app::Actor;
use dayi_app::booking::BookRequest;
use dayi_app::roster::RosterForm;
use dayi_app::staff::NewStaff;
use dayi_core::catalog::Kind;
use dayi_core::catalog::yuan;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;
use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Scenario;
use super::book_rush::{load_patients, tally, zh};
use crate::engine::{Latency, histogram};
use crate::http::{Ctx, Outcome, expect_json};
use crate::report::{Check, Figure, Setup};
use crate::server::CLERK;

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

/// Doctors' names, as the roster shows them.
const SURNAMES: &[&str] = &["孔", "孟", "颜", "曾", "闵", "冉", "端木", "仲", "卜", "宰"];
const GIVEN: &[&str] = &["繁荣", "振华", "淑芬", "立军", "雪梅", "德华", "玉珍", "宪法"];

impl Scenario for Visit {
    fn name(&self) -> &'static str {
        "visit"
    }

    fn max_requests(&self) -> Option<u64> {
        Some(self.scale.doctors as u64 * u64::from(self.scale.per_doctor))
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(async move {
            let local = ctx.local.as_ref().context(
                "visit makes its doctors, sessions and patients in-process: let dayi-load start the server (no --url)",
            )?;
            let (app, org) = (&local.app, local.org_id);
            let scale = self.scale;
            if scale.doctors == 0 || scale.doctors > 1_000 || !(1..=480).contains(&scale.per_doctor) {
                bail!("visit: 1–1,000 doctors and 1–480 patients each");
            }
            let mut actor = Actor::cli(org);
            actor.username = "dayi-load".into();
            let actor = &actor;
            let mut setup = vec![];

            // The catalogue has what the doctors will write.
            let cat = dayi_app::catalog::current(app, org).await.map_err(zh)?;
            for c in CASES {
                let kind = if c.drug.is_some() { Kind::Drug } else { Kind::ChargeItem };
                if cat.get(Kind::Diagnosis, c.diagnosis).is_none() || cat.get(kind, c.order).is_none() {
                    bail!("the catalogue lacks {} or {}", c.diagnosis, c.order);
                }
            }
            let rules = dayi_app::booking::rules(app, org).await.map_err(zh)?;
            if rules.max_per_dept_day < 1 || rules.max_per_day < 1 {
                bail!("the booking rules allow no registration");
            }
            let mut depts: Vec<Uuid> = dayi_app::tenancy::list_depts(app, actor)
                .await
                .map_err(zh)?
                .into_iter()
                .filter(|d| d.kind == "clinical" && d.active)
                .map(|d| d.id)
                .collect();
            if scale.departments > 0 {
                depts.truncate(scale.departments);
            }
            if depts.is_empty() {
                bail!("the organisation has no clinical department");
            }
            let nd = depts.len();

            let t = Instant::now();
            let tag = format!("{:06x}", self.seed & 0xff_ffff);
            eprintln!("  visit: creating {} doctor accounts and their API tokens…", scale.doctors);
            let password = format!("Load{tag}visit2026");
            let made: Vec<_> = stream::iter(0..scale.doctors)
                .map(|i| {
                    let f = NewStaff {
                        username: format!("lv{tag}d{i:03}"),
                        display_name: format!(
                            "{}{}",
                            SURNAMES[i % SURNAMES.len()],
                            GIVEN[(i / SURNAMES.len()) % GIVEN.len()]
                        ),
                        dept_id: Some(depts[i % nd]),
                        roles: vec!["doctor".into()],
                        password: password.clone(),
                    };
                    async move {
                        let s = dayi_app::staff::create(app, actor, &f).await.map_err(zh)?;
                        let (_, token) =
                            dayi_app::auth::create_token(app, actor, s.id, "dayi-load visit", "").await.map_err(zh)?;
                        let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))?;
                        auth.set_sensitive(true);
                        anyhow::Ok((s.id, auth))
                    }
                })
                .buffered(2)
                .try_collect()
                .await?;
            setup.push(Setup {
                step: "doctor accounts with API tokens".into(),
                count: made.len() as u64,
                secs: t.elapsed().as_secs_f64(),
            });

            let t = Instant::now();
            let today = dayi_core::timefmt::today_cst();
            let minutes = (1440 / scale.per_doctor).min(240);
            let forms: Vec<RosterForm> = made
                .iter()
                .enumerate()
                .map(|(i, (id, _))| RosterForm {
                    dept_id: depts[i % nd].to_string(),
                    day: today.to_string(),
                    half_day: "am".into(),
                    clinic_type: "general".into(),
                    doctor_id: id.to_string(),
                    doctor_title: "主治医师".into(),
                    room: format!("{}诊室", 201 + i),
                    start_time: "00:00".into(),
                    slot_minutes: minutes.to_string(),
                    slot_count: scale.per_doctor.to_string(),
                    ..Default::default()
                })
                .collect();
            let sessions: Vec<Uuid> = stream::iter(forms)
                .map(|f| async move { dayi_app::roster::create_session(app, actor, &f).await.map(|s| s.id) })
                .buffered(8)
                .try_collect()
                .await
                .map_err(zh)?;
            let step = format!("sessions today, {} slots each, in {nd} departments", scale.per_doctor);
            setup.push(Setup { step, count: sessions.len() as u64, secs: t.elapsed().as_secs_f64() });

            let n = scale.doctors * scale.per_doctor as usize;
            let t = Instant::now();
            eprintln!("  visit: bulk-loading {n} patients in-process…");
            let patients = load_patients(app, actor, n as u32, self.seed).await?;
            let step = "patients bulk-loaded in-process".to_string();
            setup.push(Setup { step, count: patients.len() as u64, secs: t.elapsed().as_secs_f64() });

            // Patient k sees doctor k mod doctors, so the visits take the doctors in turn.
            let t = Instant::now();
            eprintln!("  visit: registering {n} walk-ins in-process…");
            let reqs: Vec<BookRequest> = patients
                .iter()
                .enumerate()
                .map(|(k, p)| BookRequest {
                    session_id: sessions[k % scale.doctors].to_string(),
                    patient_id: p.id.to_string(),
                    ..Default::default()
                })
                .collect();
            let bookings: Vec<Result<Uuid, String>> = stream::iter(reqs)
                .map(|req| async move {
                    dayi_app::booking::walk_in(app, actor, &req)
                        .await
                        .map(|b| b.id)
                        .map_err(|e| e.code.code().to_string())
                })
                .buffered(64)
                .collect()
                .await;
            refused("walk-ins", bookings.iter())?;
            let bookings: Vec<Uuid> = bookings.into_iter().flatten().collect();
            let step = "walk-ins registered in-process (one per patient, today)".to_string();
            setup.push(Setup { step, count: bookings.len() as u64, secs: t.elapsed().as_secs_f64() });

            let t = Instant::now();
            eprintln!("  visit: checking in {n} patients in-process…");
            let codes: Vec<String> = patients.iter().map(|p| p.hospital_no.clone()).collect();
            let answers: Vec<Result<(), String>> = stream::iter(codes)
                .map(|code| async move {
                    dayi_app::booking::check_in(app, actor, &code, "dayi-load")
                        .await
                        .map(|_| ())
                        .map_err(|e| e.code.code().to_string())
                })
                .buffer_unordered(AT_ONCE)
                .collect()
                .await;
            refused("check-in", answers.iter())?;
            let step = "patients checked in in-process (by hospital number)".to_string();
            setup.push(Setup { step, count: answers.len() as u64, secs: t.elapsed().as_secs_f64() });

            let visits: Vec<Planned> = patients
                .iter()
                .zip(&bookings)
                .enumerate()
                .map(|(k, (p, b))| Planned {
                    booking: *b,
                    patient: p.id,
                    doctor: (k % scale.doctors) as u16,
                    case: (k / scale.doctors % CASES.len()) as u8,
                })
                .collect();
            let doctors: Vec<HeaderValue> = made.into_iter().map(|(_, auth)| auth).collect();
            let t = Instant::now();
            eprintln!("  visit: each doctor calls their patients over HTTP…");
            let reqs: Vec<RequestBuilder> = visits
                .iter()
                .map(|v| {
                    let path = format!("/api/queue/entries/{}/call", v.booking);
                    as_doctor(ctx, &doctors[usize::from(v.doctor)], reqwest::Method::POST, &path)
                })
                .collect();
            let calls: Vec<Result<Value, String>> =
                stream::iter(reqs).map(|req| expect_json(req, 200)).buffer_unordered(AT_ONCE).collect().await;
            refused("calls (POST /api/queue/entries/{id}/call)", calls.iter())?;
            let step = "patients called by their doctors over HTTP (POST /api/queue/entries/{id}/call)".to_string();
            setup.push(Setup { step, count: calls.len() as u64, secs: t.elapsed().as_secs_f64() });

            let till = dayi_app::billing::open_totals(app, actor, CLERK).await.map_err(zh)?;
            let prepared = Prepared {
                doctors,
                done: (0..visits.len()).map(|_| OnceLock::new()).collect(),
                visits,
                started: AtomicU64::new(0),
                steps: STEPS.iter().map(|_| Mutex::new(histogram())).collect(),
                span: Mutex::new(None),
                till: (till.payments, till.paid_fen),
            };
            if self.prepared.set(prepared).is_err() {
                bail!("visit was already prepared");
            }
            Ok(setup)
        })
    }

    /// One whole visit: the doctor's three steps, then the cashier's two.
    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let p = self.prepared.get().ok_or("load.not_prepared")?;
            let v = *p.visits.get(seq as usize).ok_or("load.no_visit_left")?;
            p.started.fetch_add(1, Ordering::Relaxed);
            let t0 = Instant::now();
            lock(&p.span).get_or_insert((t0, t0));
            let r = visit(p, ctx, v).await;
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
            let (checks, figures) = judge(p, ctx).await;
            *lock(&self.figures) = figures;
            checks
        })
    }

    fn figures(&self) -> Vec<Figure> {
        lock(&self.figures).clone()
    }
}

/// Fails with a tally of the refusals, if any.
fn refused<'a, T: 'a>(what: &str, answers: impl Iterator<Item = &'a Result<T, String>>) -> anyhow::Result<()> {
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for e in answers.filter_map(|a| a.as_ref().err()) {
        *by.entry(e.clone()).or_default() += 1;
    }
    if !by.is_empty() {
        bail!("{what} refused: {}", tally(by));
    }
    Ok(())
}

/// A request with a doctor's token (through the client that carries none).
fn as_doctor(ctx: &Ctx, auth: &HeaderValue, method: reqwest::Method, path: &str) -> RequestBuilder {
    ctx.portal_request(method, path).header(AUTHORIZATION, auth.clone())
}

/// Sends step `i`'s request, records its latency, and names the step in a failure.
async fn step(p: &Prepared, i: usize, req: RequestBuilder) -> Result<Value, String> {
    let t0 = Instant::now();
    let r = expect_json(req, 200).await;
    let micros = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX).max(1);
    lock(&p.steps[i]).saturating_record(micros);
    r.map_err(|k| format!("{}: {k}", STEPS[i].0))
}

async fn visit(p: &Prepared, ctx: &Ctx, v: Planned) -> Result<Done, String> {
    let doctor = &p.doctors[usize::from(v.doctor)];
    let case = &CASES[usize::from(v.case)];
    let post = |path: &str| as_doctor(ctx, doctor, reqwest::Method::POST, path);

    let opened = step(p, 0, post(&format!("/api/visits/open/{}", v.booking)).json(&json!({}))).await?;
    let id = opened["visit"]["id"].as_str().ok_or("open: response.no_visit_id")?.to_string();

    let dx = json!({"diagnoses": [{"code": case.diagnosis}]});
    step(p, 1, post(&format!("/api/visits/{id}/diagnoses")).json(&dx)).await?;

    let order = match case.drug {
        Some((dose, frequency, days)) => {
            json!({"catalog": "drug", "code": case.order, "dose": dose, "frequency": frequency, "days": days})
        }
        None => json!({"code": case.order}),
    };
    let ordered = step(p, 2, post(&format!("/api/visits/{id}/orders")).json(&order)).await?;
    let order_fen = ordered["order"]["amount_fen"].as_i64().ok_or("order: response.no_amount")?;
    let charge = ordered["order"]["charge_id"].as_str().ok_or("order: response.no_charge")?.to_string();

    let due = step(p, 3, ctx.get(&format!("/api/billing/due/{}", v.patient))).await?;
    let charges: Vec<String> =
        due["charges"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str().map(str::to_string)).collect();
    if !charges.contains(&charge) {
        return Err("charge: response.order_not_owed".into());
    }
    let total_fen = due["total_fen"].as_i64().ok_or("charge: response.no_total")?;

    let body = json!({"patient_id": v.patient, "charge_ids": charges, "expected_fen": total_fen, "method": "cash"});
    let req = ctx.post("/api/billing/pay").header("Idempotency-Key", pay_key(v.booking)).json(&body);
    let paid = step(p, 4, req).await?;
    if paid["payment"]["amount_fen"].as_i64() != Some(total_fen) || paid["payment"]["status"] != "paid" {
        return Err("pay: response.not_paid_as_owed".into());
    }
    let payment = paid["payment"]["id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or("pay: response.no_id")?;
    let visit = Uuid::parse_str(&id).map_err(|_| "open: response.bad_visit_id")?;
    Ok(Done { visit, payment, charges, total_fen, order_fen })
}

/// The request key of a visit's payment: one per registration.
fn pay_key(booking: Uuid) -> String {
    format!("visit-{}", booking.simple())
}

/// Checks the money against the database, repeats a few payments, and
/// reports the steps.
async fn judge(p: &Prepared, ctx: &Ctx) -> (Vec<Check>, Vec<Figure>) {
    let mut checks = vec![];
    let done: Vec<(Planned, Done)> =
        p.visits.iter().zip(&p.done).filter_map(|(v, d)| d.get().map(|d| (*v, d.clone()))).collect();
    let started = p.started.load(Ordering::Relaxed);
    let paid = done.len() as u64;
    checks.push(Check::new(
        "every visit took all five steps",
        paid > 0 && paid == started,
        format!("{paid} of {started} visits begun were opened, diagnosed, ordered, charged and paid"),
    ));

    // The database, visit by visit.
    let Some(local) = ctx.local.as_ref() else {
        checks.push(Check::new("the money adds up", false, "no in-process server to read"));
        return (checks, vec![]);
    };
    let (app, org) = (&local.app, local.org_id);
    let wrong: Vec<Result<(), &'static str>> = stream::iter(done.clone())
        .map(|(v, d)| async move {
            let db = &app.db;
            let pays = dayi_store::billing::payments_of(db, org, v.patient, 5).await.map_err(|_| "read failed")?;
            let owed =
                dayi_store::billing::charges_of(db, org, v.patient, &["unpaid"]).await.map_err(|_| "read failed")?;
            let orders = dayi_store::visit::orders(db, org, d.visit).await.map_err(|_| "read failed")?;
            match pays.as_slice() {
                [one] if one.id == d.payment && one.amount_fen == d.total_fen && one.status == "paid" => {}
                [_] => return Err("payment other than answered"),
                _ => return Err("not exactly one payment"),
            }
            if !owed.is_empty() {
                return Err("charges left unpaid");
            }
            let ordered: i64 = orders.iter().map(|o| o.amount_fen).sum();
            if orders.len() != 1 || orders.iter().any(|o| o.status != "paid") || ordered != d.order_fen {
                return Err("order not paid as ordered");
            }
            if d.total_fen <= d.order_fen || d.charges.len() < 2 {
                return Err("registration fee not in the payment");
            }
            Ok(())
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut by: BTreeMap<&str, u64> = BTreeMap::new();
    for e in wrong.iter().filter_map(|r| r.as_ref().err()) {
        *by.entry(e).or_default() += 1;
    }
    let mut detail = format!("{paid} visits: one payment each for the registration fee and the order, nothing owed");
    if !by.is_empty() {
        detail = format!("{detail}; wrong: {}", tally(by.clone()));
    }
    checks.push(Check::new("each visit paid once, to the fen", paid > 0 && by.is_empty(), detail));

    // The same payment again with its key: the same receipt.
    let mut same = 0;
    let repeats = done.iter().take(REPEATS);
    for (v, d) in repeats.clone() {
        let body =
            json!({"patient_id": v.patient, "charge_ids": d.charges, "expected_fen": d.total_fen, "method": "cash"});
        let req = ctx.post("/api/billing/pay").header("Idempotency-Key", pay_key(v.booking)).json(&body);
        if let Ok(r) = expect_json(req, 200).await
            && r["payment"]["id"].as_str() == Some(d.payment.to_string().as_str())
        {
            same += 1;
        }
    }
    let sent = repeats.count();
    checks.push(Check::new(
        "a payment sent again with its key answers the same receipt",
        sent > 0 && same == sent,
        format!("{same} of {sent} repeats answered with the first receipt"),
    ));

    // The cashier's till.
    let taken: i64 = done.iter().map(|(_, d)| d.total_fen).sum();
    let actor = Actor::cli(org);
    let check = match dayi_app::billing::open_totals(app, &actor, CLERK).await {
        Ok(t) => {
            let (n, fen) = (t.payments - p.till.0, t.paid_fen - p.till.1);
            Check::new(
                "the till grew by exactly the money taken",
                n == paid as i64 && fen == taken,
                format!("{n} payments, {} 元 in the till; {paid} visits paid {} 元", yuan(fen), yuan(taken)),
            )
        }
        Err(e) => Check::new("the till grew by exactly the money taken", false, e.zh()),
    };
    checks.push(check);

    // The targets.
    let secs = lock(&p.span).map_or(0.0, |(a, z)| (z - a).as_secs_f64());
    let rate = if secs > 0.0 { paid as f64 / secs } else { 0.0 };
    checks.push(Check::new(
        "≥ 500 visits/s (the issue's target)",
        rate >= TARGET_VISITS_PER_S,
        format!("{rate:.1} visits/s ({paid} in {secs:.2} s)"),
    ));
    let lat: Vec<Latency> = p.steps.iter().map(|h| Latency::of(&lock(h))).collect();
    let worst = lat.iter().map(|l| l.p99).fold(0.0, f64::max);
    let each: Vec<String> = STEPS.iter().zip(&lat).map(|((n, _), l)| format!("{n} {:.1}", l.p99)).collect();
    checks.push(Check::new(
        "p99 of every step < 50 ms (the issue's target)",
        paid > 0 && worst < TARGET_P99_MS,
        format!("p99 ms: {}", each.join(", ")),
    ));

    let mut figures: Vec<Figure> = STEPS
        .iter()
        .zip(&p.steps)
        .zip(&lat)
        .map(|(((name, what), h), l)| Figure {
            name: (*name).into(),
            detail: format!(
                "{what}: p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2} over {} requests",
                l.p50,
                l.p90,
                l.p99,
                l.max,
                lock(h).len()
            ),
            latency_ms: Some(*l),
        })
        .collect();
    figures.push(Figure::new(
        "visits",
        format!(
            "{paid} visits paid in {secs:.2} s: {rate:.1} visits/s, {:.0} requests/s (5 a visit)",
            rate * STEPS.len() as f64
        ),
    ));
    figures.push(Figure::new(
        "money",
        format!("{} 元 taken in cash in {paid} payments ({} cases in turn)", yuan(taken), CASES.len()),
    ));
    (checks, figures)
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

    #[test]
    fn payment_keys_are_valid_request_keys() {
        let k = pay_key(Uuid::from_u128(u128::MAX));
        assert!(k.len() <= 64 && k.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'), "{k}");
    }
}
