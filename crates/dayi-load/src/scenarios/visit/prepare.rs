//! Preparing a visit run, before the clock starts: the doctors and their
//! sessions, the patients registered and checked in in-process, then every
//! patient called by their doctor over HTTP.

use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, bail};
use dayi_app::Actor;
use dayi_app::booking::BookRequest;
use dayi_app::staff::NewStaff;
use dayi_core::catalog::Kind;
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::RequestBuilder;
use reqwest::header::HeaderValue;
use serde_json::Value;
use uuid::Uuid;

use super::steps::as_doctor;
use super::{AT_ONCE, CASES, Planned, Prepared, STEPS, Scale, Visit};
use crate::engine::histogram;
use crate::http::{Ctx, expect_json};
use crate::report::Setup;
use crate::scenarios::book_rush::{Loaded, load_patients, zh};
use crate::scenarios::prepare::{Making, clinical_departments, refused};
use crate::server::CLERK;

/// Doctors' names, as the roster shows them.
const SURNAMES: &[&str] = &["孔", "孟", "颜", "曾", "闵", "冉", "端木", "仲", "卜", "宰"];
const GIVEN: &[&str] = &["繁荣", "振华", "淑芬", "立军", "雪梅", "德华", "玉珍", "宪法"];

/// A doctor's staff id and `Authorization` header.
type Account = (Uuid, HeaderValue);

pub(super) async fn prepare(vis: &Visit, ctx: &Ctx) -> anyhow::Result<Vec<Setup>> {
    let local = ctx.local.as_ref().context(
        "visit makes its doctors, sessions and patients in-process: let dayi-load start the server (no --url)",
    )?;
    let (app, org) = (&local.app, local.org_id);
    let scale = vis.scale;
    if scale.doctors == 0 || scale.doctors > 1_000 || !(1..=480).contains(&scale.per_doctor) {
        bail!("visit: 1–1,000 doctors and 1–480 patients each");
    }
    let mut actor = Actor::cli(org);
    actor.username = "dayi-load".into();
    let mut m = Making { app, actor: &actor, scale, setup: vec![] };

    let depts = m.departments().await?;
    let made = m.doctors(vis.seed, &depts).await?;
    let doctor_ids: Vec<Uuid> = made.iter().map(|(id, _)| *id).collect();
    let sessions = m.sessions(&doctor_ids, &depts, scale.per_doctor, 201).await?;
    let n = scale.doctors * scale.per_doctor as usize;
    let t = Instant::now();
    eprintln!("  visit: bulk-loading {n} patients in-process…");
    let patients = load_patients(app, &actor, n as u32, vis.seed).await?;
    m.done("patients bulk-loaded in-process".to_string(), patients.len(), t);
    let bookings = m.walk_ins(&patients, &sessions).await?;
    m.check_in(&patients).await?;

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
    m.call_patients(ctx, &visits, &doctors).await?;

    let till = dayi_app::billing::open_totals(app, &actor, CLERK).await.map_err(zh)?;
    let prepared = Prepared {
        doctors,
        done: (0..visits.len()).map(|_| OnceLock::new()).collect(),
        visits,
        started: AtomicU64::new(0),
        steps: STEPS.iter().map(|_| Mutex::new(histogram())).collect(),
        span: Mutex::new(None),
        till: (till.payments, till.paid_fen),
    };
    if vis.prepared.set(prepared).is_err() {
        bail!("visit was already prepared");
    }
    Ok(m.setup)
}

impl Making<'_, Scale> {
    /// Checks that the catalogue has what the doctors will write and the
    /// rules allow a registration; the active clinical departments used.
    async fn departments(&self) -> anyhow::Result<Vec<Uuid>> {
        let (app, org) = (self.app, self.actor.org_id);
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
        let depts = clinical_departments(app, self.actor, self.scale.departments).await?;
        Ok(depts.iter().map(|d| d.id).collect())
    }

    /// The doctor accounts with their API tokens.
    async fn doctors(&mut self, seed: u64, depts: &[Uuid]) -> anyhow::Result<Vec<Account>> {
        let (app, actor, nd) = (self.app, self.actor, depts.len());
        let t = Instant::now();
        let tag = format!("{:06x}", seed & 0xff_ffff);
        eprintln!("  visit: creating {} doctor accounts and their API tokens…", self.scale.doctors);
        let password = format!("Load{tag}visit2026");
        let made: Vec<Account> = stream::iter(0..self.scale.doctors)
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
        self.done("doctor accounts with API tokens".into(), made.len(), t);
        Ok(made)
    }

    /// Registers patient k with doctor k mod doctors, so the visits take the
    /// doctors in turn: the bookings, in patient order.
    async fn walk_ins(&mut self, patients: &[Loaded], sessions: &[Uuid]) -> anyhow::Result<Vec<Uuid>> {
        let (app, actor) = (self.app, self.actor);
        let t = Instant::now();
        let n = self.scale.doctors * self.scale.per_doctor as usize;
        eprintln!("  visit: registering {n} walk-ins in-process…");
        let reqs: Vec<BookRequest> = patients
            .iter()
            .enumerate()
            .map(|(k, p)| BookRequest::new(sessions[k % self.scale.doctors], p.id))
            .collect();
        let bookings: Vec<Result<Uuid, String>> = stream::iter(reqs)
            .map(|req| async move {
                dayi_app::booking::walk_in(app, actor, &req).await.map(|b| b.id).map_err(|e| e.code.code().to_string())
            })
            .buffered(64)
            .collect()
            .await;
        refused("walk-ins", bookings.iter())?;
        let bookings: Vec<Uuid> = bookings.into_iter().flatten().collect();
        self.done("walk-ins registered in-process (one per patient, today)".to_string(), bookings.len(), t);
        Ok(bookings)
    }

    /// Checks every patient in at the counter, in-process.
    async fn check_in(&mut self, patients: &[Loaded]) -> anyhow::Result<()> {
        let (app, actor) = (self.app, self.actor);
        let t = Instant::now();
        let n = self.scale.doctors * self.scale.per_doctor as usize;
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
        self.done("patients checked in in-process (by hospital number)".to_string(), answers.len(), t);
        Ok(())
    }

    /// Each doctor calls their patients over HTTP: only a called patient's
    /// visit can be opened.
    async fn call_patients(&mut self, ctx: &Ctx, visits: &[Planned], doctors: &[HeaderValue]) -> anyhow::Result<()> {
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
        self.done(step, calls.len(), t);
        Ok(())
    }
}
