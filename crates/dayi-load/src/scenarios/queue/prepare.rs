//! Preparing a queue run, before the clock starts: the doctors' accounts
//! and sessions, the patients registered and checked in, the doctors'
//! panels, then the screens (see `screens.rs`) and the memory sampler.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use dayi_app::Actor;
use dayi_app::booking::BookRequest;
use dayi_app::records::Staff;
use dayi_app::staff::NewStaff;
use dayi_core::booking::Rules;
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Client;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::json;
use uuid::Uuid;

use super::memory::{open_files_limit, rss_kb, sample};
use super::plan::{GIVEN, SURNAMES, registrations};
use super::{AT_ONCE, CALL_TIMEOUT, Doctor, Memory, Prepared, Queue, Scale, screens};
use crate::http::{Ctx, expect_json};
use crate::report::Setup;
use crate::scenarios::book_rush::{Loaded, load_patients, zh};
use crate::scenarios::prepare::{Making, clinical_departments, refused};

/// A doctor's staff record and API token.
type Account = (Staff, String);

pub(super) async fn prepare(q: &Queue, ctx: &Ctx) -> anyhow::Result<Vec<Setup>> {
    let local = ctx.local.as_ref().context(
        "queue makes its doctors, sessions and patients in-process: let dayi-load start the server (no --url)",
    )?;
    let (app, org) = (&local.app, local.org_id);
    let scale = q.scale;
    within_limits(scale)?;
    let mut actor = Actor::cli(org);
    actor.username = "dayi-load".into();
    let rules = dayi_app::booking::rules(app, org).await.map_err(zh)?;
    let mut m = Making { app, actor: &actor, scale, setup: vec![] };

    let depts = m.departments().await?;
    let (made, screen_token) = m.accounts(q.seed, &depts).await?;
    let doctor_ids: Vec<Uuid> = made.iter().map(|(s, _)| s.id).collect();
    let dept_ids: Vec<Uuid> = depts.iter().map(|(id, _)| *id).collect();
    let sessions = m.sessions(&doctor_ids, &dept_ids, scale.per_session, 101).await?;
    let (plan, patients) = m.patients(&rules, q.seed, sessions.len(), depts.len()).await?;
    m.walk_ins(&plan, &patients, &sessions).await?;
    m.check_in(ctx, &plan, &patients).await?;
    let client = Client::builder()
        .pool_max_idle_per_host(scale.doctors)
        .tcp_nodelay(true)
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let doctors = m.panels(ctx, &client, made, &sessions).await?;

    let memory = Arc::new(Mutex::new(Memory { ready: rss_kb(), ..Default::default() }));
    let (screens, watchers, sink) =
        screens::connect(q, &ctx.base, &screen_token, &sessions, &depts, &mut m.setup).await?;
    memory.lock().unwrap_or_else(|e| e.into_inner()).connected = rss_kb();
    q.tasks.lock().unwrap_or_else(|e| e.into_inner()).push(sample(memory.clone()));

    let prepared = Prepared {
        client,
        doctors,
        sessions,
        screens,
        watchers,
        sink,
        memory,
        slots: scale.per_session,
        departments: depts.len(),
    };
    if q.prepared.set(prepared).is_err() {
        bail!("queue was already prepared");
    }
    Ok(m.setup)
}

/// Refuses a scale the scenario or the process cannot hold.
fn within_limits(scale: Scale) -> anyhow::Result<()> {
    if scale.doctors == 0 || scale.doctors > 1_000 || !(1..=480).contains(&scale.per_session) {
        bail!("queue: 1–1,000 doctors and 1–480 patients a session");
    }
    // Both ends of every connection live in this process.
    let fds = 2 * (scale.screens + scale.doctors) as u64 + 256;
    if let Some(limit) = open_files_limit().filter(|l| *l < fds) {
        bail!("queue needs about {fds} open files, the limit is {limit}: raise it (ulimit -n {})", fds * 2);
    }
    Ok(())
}

impl Making<'_, Scale> {
    /// The active clinical departments used, no more than the doctors: (id, code).
    async fn departments(&self) -> anyhow::Result<Vec<(Uuid, String)>> {
        let depts = clinical_departments(self.app, self.actor, self.scale.departments).await?;
        Ok(depts.into_iter().take(self.scale.doctors).map(|d| (d.id, d.code)).collect())
    }

    /// The doctors, and one kiosk account for every screen (its token).
    async fn accounts(&mut self, seed: u64, depts: &[(Uuid, String)]) -> anyhow::Result<(Vec<Account>, String)> {
        let (app, actor, nd) = (self.app, self.actor, depts.len());
        let t = Instant::now();
        let tag = format!("{:06x}", seed & 0xff_ffff);
        eprintln!("  queue: creating {} doctor accounts and their API tokens…", self.scale.doctors);
        let password = format!("Load{tag}queue2026");
        let account = |username: String, display_name: String, dept_id: Option<Uuid>, role: &'static str| {
            let password = password.clone();
            async move {
                let f = NewStaff { username, display_name, dept_id, roles: vec![role.into()], password };
                let s = dayi_app::staff::create(app, actor, &f).await.map_err(zh)?;
                let (_, token) =
                    dayi_app::auth::create_token(app, actor, s.id, "dayi-load queue", "").await.map_err(zh)?;
                anyhow::Ok((s, token))
            }
        };
        let made: Vec<Account> = stream::iter(0..self.scale.doctors)
            .map(|i| {
                let name = format!("{}{}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len()) % GIVEN.len()]);
                account(format!("lq{tag}d{i:03}"), name, Some(depts[i % nd].0), "doctor")
            })
            .buffered(2)
            .try_collect()
            .await?;
        let (_, screen_token) = account(format!("lq{tag}screens"), "候诊屏".into(), None, "kiosk").await?;
        let step = "doctor accounts with API tokens, and a kiosk account for the screens".to_string();
        self.done(step, made.len() + 1, t);
        Ok((made, screen_token))
    }

    /// Enough patients for every session, each to register (walk-in) in up
    /// to 3 sessions of different departments: the plan (per patient, the
    /// sessions by index) and the patients.
    async fn patients(
        &mut self,
        rules: &Rules,
        seed: u64,
        sessions: usize,
        nd: usize,
    ) -> anyhow::Result<(Vec<Vec<u16>>, Vec<Loaded>)> {
        let session_dept: Vec<u16> = (0..sessions).map(|s| (s % nd) as u16).collect();
        let k = usize::try_from(rules.max_per_day).unwrap_or(1).clamp(1, 3).min(nd);
        if rules.max_per_dept_day < 1 {
            bail!("the booking rules allow no registration (booking.max_per_dept_day)");
        }
        let plan = registrations(&session_dept, self.scale.per_session, k);
        let t = Instant::now();
        eprintln!("  queue: bulk-loading {} patients in-process…", plan.len());
        let patients = load_patients(self.app, self.actor, plan.len() as u32, seed).await?;
        self.done("patients bulk-loaded in-process".to_string(), patients.len(), t);
        Ok((plan, patients))
    }

    /// Registers every planned walk-in in-process.
    async fn walk_ins(&mut self, plan: &[Vec<u16>], patients: &[Loaded], sessions: &[Uuid]) -> anyhow::Result<()> {
        let (app, actor) = (self.app, self.actor);
        let t = Instant::now();
        let wanted: Vec<(Uuid, Uuid)> = plan
            .iter()
            .zip(patients)
            .flat_map(|(mine, p)| mine.iter().map(|s| (sessions[usize::from(*s)], p.id)))
            .collect();
        eprintln!("  queue: registering {} walk-ins in-process…", wanted.len());
        let answers: Vec<Result<(), String>> = stream::iter(wanted)
            .map(|(session, patient)| async move {
                let req = BookRequest::new(session, patient);
                dayi_app::booking::walk_in(app, actor, &req).await.map(|_| ()).map_err(|e| e.code.code().to_string())
            })
            .buffer_unordered(64)
            .collect()
            .await;
        refused("walk-ins", &answers)?;
        let step = "walk-ins registered in-process (today, 1 per patient and department)".to_string();
        self.done(step, answers.len(), t);
        Ok(())
    }

    /// Every patient checks in at the counter over HTTP: all their
    /// registrations join their queues.
    async fn check_in(&mut self, ctx: &Ctx, plan: &[Vec<u16>], patients: &[Loaded]) -> anyhow::Result<()> {
        let t = Instant::now();
        eprintln!("  queue: checking in {} patients over HTTP…", patients.len());
        let codes: Vec<(String, usize)> =
            patients.iter().zip(plan).map(|(p, mine)| (p.hospital_no.clone(), mine.len())).collect();
        let answers: Vec<Result<(), String>> = stream::iter(codes)
            .map(|(code, n)| async move {
                let body = json!({"code": code, "station": "dayi-load"});
                let v = expect_json(ctx.post("/api/check-in").json(&body), 200).await?;
                let got = v["bookings"].as_array().map_or(0, Vec::len);
                if got == n { Ok(()) } else { Err(format!("response.{got}_of_{n}_checked_in")) }
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        refused("check-in (POST /api/check-in)", &answers)?;
        self.done("patients checked in over HTTP (POST /api/check-in)".to_string(), answers.len(), t);
        Ok(())
    }

    /// Each doctor's panel set to their session, which must hold everyone
    /// registered in it.
    async fn panels(
        &mut self,
        ctx: &Ctx,
        client: &Client,
        made: Vec<Account>,
        sessions: &[Uuid],
    ) -> anyhow::Result<Vec<Doctor>> {
        let per_session = self.scale.per_session;
        let t = Instant::now();
        let doctors = doctors(made)?;
        let base = &ctx.base;
        let chosen: Vec<(String, HeaderValue, Uuid)> =
            doctors.iter().map(|d| (d.username.clone(), d.auth.clone(), sessions[usize::from(d.session)])).collect();
        let panels: Vec<Result<(), String>> = stream::iter(chosen)
            .map(|(username, auth, session)| {
                let req = client
                    .post(format!("{base}/api/queue/panel"))
                    .header(AUTHORIZATION, auth)
                    .json(&json!({"sessions": [session]}));
                async move {
                    let v = expect_json(req, 200).await.map_err(|e| format!("{username}: {e}"))?;
                    let waiting = v["waiting"].as_array().map_or(0, Vec::len);
                    if waiting != per_session as usize {
                        return Err(format!("{username}: {waiting} waiting, not {per_session}"));
                    }
                    Ok(())
                }
            })
            .buffered(8)
            .collect()
            .await;
        if let Some(e) = panels.iter().find_map(|p| p.as_ref().err()) {
            bail!("doctor's panel (POST /api/queue/panel): {e}");
        }
        let step = format!("doctors' panels set (POST /api/queue/panel), {per_session} waiting in each");
        self.done(step, doctors.len(), t);
        Ok(doctors)
    }
}

/// The doctors as the workers use them: doctor `i` calls from session `i`.
fn doctors(made: Vec<Account>) -> anyhow::Result<Vec<Doctor>> {
    made.into_iter()
        .enumerate()
        .map(|(i, (s, token))| {
            let mut auth = HeaderValue::from_str(&format!("Bearer {token}"))?;
            auth.set_sensitive(true);
            anyhow::Ok(Doctor {
                username: s.username,
                auth,
                session: i as u16,
                busy: tokio::sync::Mutex::new(()),
                calls: Mutex::new(vec![]),
                refused: Mutex::new(BTreeMap::new()),
            })
        })
        .collect()
}
