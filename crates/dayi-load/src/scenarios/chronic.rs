//! `chronic`: the three-highs worklists (`GET /api/chronic/worklist`), as
//! public-health doctors open them all day: due, overdue, never seen,
//! annual checks and referrals, for the whole organisation, one doctor or one
//! village in turn. Success is 200.
//!
//! Prepared in-process (own server only): `--registry N` (default 100,000)
//! of the organisation's adults enrolled with four years of follow-ups
//! (`dayi_app::demo::chronic::load`), patients bulk-loaded first when the
//! organisation has too few. After the run the indicators of the last whole
//! calendar year (the fullest) are computed by organisation, doctor and
//! village, each timed (the target: under 2 s), and their counts
//! checked against the registry.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, anyhow};
use futures::future::BoxFuture;

use super::Scenario;
use crate::engine::{Latency, histogram};
use crate::http::{Ctx, Outcome, expect, expect_json};
use crate::report::{Check, Figure, Setup};

/// The default registry: a county's patients under management.
pub const REGISTRY: u64 = 100_000;
const YEARS: i64 = 4;
/// Each grouping of the indicators is computed this many times.
const ROUNDS: usize = 3;
const LISTS: [&str; 5] = ["due", "overdue", "never", "checkup", "referral"];

pub struct Chronic {
    seed: u64,
    registry: u64,
    /// The public-health doctor's token (the clerk's token may not read the registry).
    token: OnceLock<String>,
    records: OnceLock<u64>,
    figures: Mutex<Vec<Figure>>,
}

impl Chronic {
    pub fn new(seed: u64, registry: Option<u64>) -> Chronic {
        Chronic {
            seed,
            registry: registry.unwrap_or(REGISTRY),
            token: OnceLock::new(),
            records: OnceLock::new(),
            figures: Mutex::new(vec![]),
        }
    }

    fn get(&self, ctx: &Ctx, path: &str) -> reqwest::RequestBuilder {
        ctx.get(path).bearer_auth(self.token.get().map(String::as_str).unwrap_or_default())
    }
}

fn zh(e: dayi_core::DomainError) -> anyhow::Error {
    anyhow!("{}", e.zh())
}

impl Scenario for Chronic {
    fn name(&self) -> &'static str {
        "chronic"
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(async move {
            let local = ctx.local.as_ref().context("chronic prepares its registry in-process: run without --url")?;
            let (app, org) = (&local.app, local.org_id);
            let mut setup = vec![];
            // About two in three generated people are of the programme's age.
            let want = self.registry * 2;
            let have = dayi_app::patient::count_seq(app, org).await.map_err(zh)?;
            if have < want {
                let t = Instant::now();
                let n = dayi_app::demo::load_patients(app, org, want - have, self.seed).await.map_err(zh)?;
                setup.push(Setup { step: "patients bulk-loaded".into(), count: n, secs: t.elapsed().as_secs_f64() });
            }
            eprintln!("  chronic: loading a registry of {} patients with {YEARS} years of follow-ups…", self.registry);
            let t = Instant::now();
            let l = dayi_app::demo::chronic::load(app, org, self.registry, YEARS, self.seed).await.map_err(zh)?;
            let secs = t.elapsed().as_secs_f64();
            eprintln!(
                "  chronic: {} records, {} follow-ups, {} lipid tests in {secs:.1} s",
                l.records, l.followups, l.screenings
            );
            setup.push(Setup { step: "registry records".into(), count: l.records, secs });
            setup.push(Setup { step: "follow-ups (same load)".into(), count: l.followups, secs: 0.0 });
            setup.push(Setup { step: "lipid tests (same load)".into(), count: l.screenings, secs: 0.0 });
            // A re-run on the same file adds to the registry: the indicators count all of it.
            let all = dayi_store::chronic::count_records(&app.db, org).await.context("counting the registry")?;
            let _ = self.records.set(u64::try_from(all).unwrap_or(0));
            let actor = dayi_app::Actor::cli(org);
            let ph = dayi_app::staff::find(app, &actor, "ph01").await.map_err(zh)?;
            let (_, token) =
                dayi_app::auth::create_token(app, &actor, ph.id, "dayi-load chronic", "").await.map_err(zh)?;
            let _ = self.token.set(token);
            Ok(setup)
        })
    }

    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let list = LISTS[(seq % LISTS.len() as u64) as usize];
            let n = seq / LISTS.len() as u64;
            let filter = match n % 3 {
                0 => String::new(),
                1 => format!("&doctor=doc{:02}", n % 25 + 1),
                _ => format!("&village=第{:02}村", n % 40 + 1),
            };
            // Doctors work down a list: mostly its first page, then the next two.
            let page = n / 3 % 3 + 1;
            expect(self.get(ctx, &format!("/api/chronic/worklist?list={list}{filter}&page={page}")), 200).await
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let year = dayi_core::timefmt::today_cst().year() - 1;
            let mut checks = vec![];
            let mut figures = vec![];
            for group in ["org", "doctor", "village"] {
                let path = format!("/api/chronic/indicators?year={year}&group={group}");
                let mut h = histogram();
                let mut managed = 0;
                let mut failed = None;
                for _ in 0..ROUNDS {
                    let t = Instant::now();
                    match expect_json(self.get(ctx, &path), 200).await {
                        Ok(v) => {
                            let _ = h.record(t.elapsed().as_micros() as u64);
                            managed = v["rows"]
                                .as_array()
                                .map(|rows| rows.iter().filter_map(|r| r["tally"]["managed"].as_u64()).sum::<u64>())
                                .unwrap_or(0);
                        }
                        Err(e) => failed = Some(e),
                    }
                }
                let l = Latency::of(&h);
                let want = self.records.get().copied().unwrap_or(0);
                checks.push(Check::new(
                    &format!("indicators by {group} count every record"),
                    failed.is_none() && managed == want,
                    format!(
                        "{managed} managed of {want} records{}",
                        failed.map(|e| format!("; {e}")).unwrap_or_default()
                    ),
                ));
                checks.push(Check::new(
                    &format!("indicators by {group} under 2 s"),
                    l.max > 0.0 && l.max < 2_000.0,
                    format!("slowest of {ROUNDS}: {:.0} ms", l.max),
                ));
                figures.push(Figure {
                    name: format!("indicators by {group}"),
                    detail: format!("{year}, {ROUNDS} runs: p50 {:.0} ms, max {:.0} ms", l.p50, l.max),
                    latency_ms: Some(l),
                });
            }
            let due = expect_json(self.get(ctx, "/api/chronic/worklist?list=overdue"), 200).await;
            let n = due.as_ref().ok().and_then(|v| v["lines"].as_array().map(Vec::len)).unwrap_or(0);
            checks.push(Check::new("the overdue worklist has lines", n > 0, format!("{n} lines on its first page")));
            *self.figures.lock().unwrap_or_else(|e| e.into_inner()) = figures;
            checks
        })
    }

    fn figures(&self) -> Vec<Figure> {
        self.figures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
