//! Preparing a book-rush run, in-process before the clock starts: the
//! sessions on the released days, the patients loaded and signed in to the
//! portal, and the plan of attempts.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, bail};
use dayi_app::Actor;
use dayi_core::booking::Rules;
use futures::{StreamExt, TryStreamExt, stream};
use time::{Date, Duration};
use uuid::Uuid;

use super::patients::{Loaded, Signed, load_patients, sign_in};
use super::plan::{forms, plan, spots};
use super::{BookRush, Kind, Prepared, Spot, tally, zh};
use crate::http::Ctx;
use crate::report::Setup;
use crate::scenarios::prepare::clinical_departments;

/// Sign-ins in flight at once while preparing.
const SIGN_IN_AT_ONCE: usize = 32;

pub(super) async fn prepare(b: &BookRush, ctx: &Ctx) -> anyhow::Result<Vec<Setup>> {
    let local = ctx
        .local
        .as_ref()
        .context("book-rush makes its sessions and patients in-process: let dayi-load start the server (no --url)")?;
    let (app, org) = (&local.app, local.org_id);
    let mut actor = Actor::cli(org);
    actor.username = "dayi-load".into();
    let rules = dayi_app::booking::rules(app, org).await.map_err(zh)?;
    let scale = b.scale;
    let mut setup = vec![];

    let days = released_days(&rules)?;
    let (from, to) = (days[0], days[days.len() - 1]);
    let depts: Vec<Uuid> = clinical_departments(app, &actor, scale.departments).await?.iter().map(|d| d.id).collect();
    let t = Instant::now();
    let placed = spots(scale.sessions, days.len(), depts.len(), scale.hot_every);
    eprintln!(
        "  book-rush: creating {} sessions of {} slots on {from} … {to}, {} departments…",
        placed.len(),
        scale.slots,
        depts.len()
    );
    let actor = &actor;
    let sessions: Vec<Uuid> = stream::iter(forms(&placed, &days, &depts, scale.slots))
        .map(|f| async move { dayi_app::roster::create_session(app, actor, &f).await.map(|s| s.id) })
        .buffered(8)
        .try_collect()
        .await
        .map_err(zh)?;
    let step = format!(
        "sessions of {} slots created in-process ({} days, {} departments)",
        scale.slots,
        days.len(),
        depts.len()
    );
    setup.push(Setup { step, count: sessions.len() as u64, secs: t.elapsed().as_secs_f64() });

    let t = Instant::now();
    eprintln!("  book-rush: bulk-loading {} patients in-process…", scale.patients);
    let loaded = load_patients(app, actor, scale.patients, b.seed).await?;
    let step = "patients bulk-loaded in-process".to_string();
    setup.push(Setup { step, count: loaded.len() as u64, secs: t.elapsed().as_secs_f64() });

    let t = Instant::now();
    let patients = sign_in_all(ctx, &loaded).await?;
    let step = "patients signed in to the portal over HTTP".to_string();
    setup.push(Setup { step, count: patients.len() as u64, secs: t.elapsed().as_secs_f64() });

    let spots: Vec<Spot> = placed.iter().map(|(s, _)| *s).collect();
    let plan = plan(&spots, patients.len() as u32, &scale, &rules, b.seed);
    if plan.is_empty() {
        bail!("the booking rules allow no booking (booking.max_per_day, booking.max_per_dept_day)");
    }
    let repeats = plan.iter().filter(|a| a.kind == Kind::Repeat).count();
    eprintln!("  book-rush: {} attempts planned, {repeats} of them deliberate repeats", plan.len());
    let answers = (0..plan.len()).map(|_| OnceLock::new()).collect();
    let prepared = Prepared { sessions, patients, plan, answers, rules, slots: scale.slots, from, to };
    if b.prepared.set(prepared).is_err() {
        bail!("book-rush was already prepared");
    }
    Ok(setup)
}

/// The days whose slots are released by now, from tomorrow on; at least one.
fn released_days(rules: &Rules) -> anyhow::Result<Vec<Date>> {
    let today = dayi_core::timefmt::today_cst();
    let now = dayi_core::timefmt::now_micros();
    let days: Vec<Date> = (1..=rules.release_days_ahead.max(1))
        .map(|d| today + Duration::days(d))
        .filter(|d| dayi_core::booking::release_at(*d, rules) <= now)
        .collect();
    if days.is_empty() {
        bail!("no day is released for booking yet (booking.release_days_ahead = {})", rules.release_days_ahead)
    }
    Ok(days)
}

/// Signs every patient in to the portal; each must come back as themselves.
async fn sign_in_all(ctx: &Ctx, loaded: &[Loaded]) -> anyhow::Result<Vec<Signed>> {
    eprintln!("  book-rush: signing {} patients in to the portal…", loaded.len());
    let cards: Vec<(String, String)> = loaded.iter().map(|p| (p.id_number.clone(), p.hospital_no.clone())).collect();
    let results: Vec<Result<Signed, String>> = stream::iter(cards)
        .map(|(id_number, card_no)| async move { sign_in(ctx, &id_number, &card_no).await })
        .buffered(SIGN_IN_AT_ONCE)
        .collect()
        .await;
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    let mut patients = vec![];
    for (p, r) in loaded.iter().zip(results) {
        match r {
            Ok(s) if s.id == p.id => patients.push(s),
            Ok(_) => *refused.entry("response.other_patient".into()).or_default() += 1,
            Err(k) => *refused.entry(k).or_default() += 1,
        }
    }
    if !refused.is_empty() {
        bail!("portal sign-in (POST /portal/api/login) refused: {}", tally(refused));
    }
    Ok(patients)
}
