//! `search`: `GET /api/patients?q=…&limit=20`, the search box at the
//! registration desk, taking pinyin initials, ID-number tails and phone
//! numbers in turn. Success is 200.
//!
//! When dayi-load runs the server itself, the organisation is filled up to
//! `--patients N` (default 1,000,000) bulk-loaded in-process first (none when
//! it starts from a seeded copy), so the indexes are the size of a county.
//! Then a few hundred known "probe" patients are registered over HTTP: the
//! queries are taken from them, so each query has at least one right answer.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::Instant;

use futures::future::BoxFuture;

use super::Scenario;
use crate::data::PatientGen;
use crate::http::{Ctx, Local, Outcome, expect, expect_json};
use crate::report::{Check, Setup};

/// Results asked for, as the desk's search box does.
pub const LIMIT: usize = 20;
/// Known patients the queries are drawn from.
const PROBES: u64 = 200;
/// Generator numbers of the probes: far above those `register` uses (which start at 0).
const PROBE_BASE: u64 = 100_000_000;
/// Probes looked up again after the run.
const SAMPLE: usize = 20;

pub struct Search {
    patients: PatientGen,
    probes: OnceLock<Probes>,
    /// The query strings, in the order they are sent round.
    queries: OnceLock<Vec<String>>,
}

/// The probes registered (generator number, patient id), and why others were refused.
struct Probes {
    made: Vec<(u64, String)>,
    refused: BTreeMap<String, u64>,
}

impl Search {
    pub fn new(seed: u64) -> Search {
        Search { patients: PatientGen::new(seed), probes: OnceLock::new(), queries: OnceLock::new() }
    }
}

/// Bulk-loads through the app layer, in-process: far faster than HTTP.
async fn load_patients(local: &Local, n: u64, seed: u64) -> anyhow::Result<u64> {
    dayi_app::demo::load_patients(&local.app, local.org_id, n, seed).await.map_err(|e| anyhow::anyhow!("{}", e.zh()))
}

/// The matching patients for `q`, at most [`LIMIT`].
pub(super) async fn query(ctx: &Ctx, q: &str) -> Result<Vec<serde_json::Value>, String> {
    let limit = LIMIT.to_string();
    let v = expect_json(ctx.get("/api/patients").query(&[("q", q), ("limit", &limit)]), 200).await?;
    v["items"].as_array().cloned().ok_or_else(|| "response.no_items".to_string())
}

/// The last `n` characters of an ID number.
fn tail(id: &str, n: usize) -> &str {
    &id[id.len() - n..]
}

impl Scenario for Search {
    fn name(&self) -> &'static str {
        "search"
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(async move {
            let mut setup = vec![];
            let have = match &ctx.local {
                Some(local) => dayi_app::patient::count_seq(&local.app, local.org_id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{}", e.zh()))?,
                None => 0,
            };
            // The organisation holds --patients in all: a seeded copy needs no more.
            if let Some(local) = &ctx.local
                && ctx.patients > have
            {
                let want = ctx.patients - have;
                eprintln!("  search: bulk-loading {want} patients in-process…");
                let t = Instant::now();
                let n = load_patients(local, want, ctx.seed).await?;
                let secs = t.elapsed().as_secs_f64();
                eprintln!("  search: loaded {n} patients in {secs:.1} s");
                setup.push(Setup { step: "bulk load (dayi_app::demo::load_patients)".into(), count: n, secs });
            }
            let t = Instant::now();
            let mut probes = vec![];
            let mut refused = BTreeMap::new();
            for k in PROBE_BASE..PROBE_BASE + PROBES {
                let p = self.patients.patient(k);
                match expect_json(ctx.post("/api/patients").json(&p), 201).await {
                    Ok(v) => probes.push((k, v["id"].as_str().unwrap_or_default().to_string())),
                    Err(key) => *refused.entry(key).or_default() += 1,
                }
            }
            let step = "probe patients registered over HTTP".to_string();
            setup.push(Setup { step, count: probes.len() as u64, secs: t.elapsed().as_secs_f64() });
            // Without probes (no patient API yet) the queries still have the right shapes.
            let ks: Vec<u64> = if probes.is_empty() {
                (PROBE_BASE..PROBE_BASE + PROBES).collect()
            } else {
                probes.iter().map(|p| p.0).collect()
            };
            let mut queries = vec![];
            for (i, k) in ks.iter().enumerate() {
                let p = self.patients.patient(*k);
                queries.push(p.initials.clone());
                queries.push(tail(&p.id_number, 4 + i % 3).to_string());
                queries.push(p.phone.clone());
            }
            let _ = self.queries.set(queries);
            let _ = self.probes.set(Probes { made: probes, refused });
            Ok(setup)
        })
    }

    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let queries = self.queries.get().ok_or("load.not_prepared")?;
            let q = &queries[(seq % queries.len() as u64) as usize];
            let limit = LIMIT.to_string();
            expect(ctx.get("/api/patients").query(&[("q", q.as_str()), ("limit", &limit)]), 200).await
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let (probes, refused) = match self.probes.get() {
                Some(p) => (p.made.as_slice(), p.refused.clone()),
                None => (&[][..], BTreeMap::new()),
            };
            // A bulk-loaded patient may already hold a probe's ID number; any other refusal is a fault.
            let only_duplicates = refused.keys().all(|k| k == "patient.duplicate_id");
            let mut detail = format!("{} of {PROBES}", probes.len());
            if !refused.is_empty() {
                let list: Vec<String> = refused.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
                detail += &format!(" (refused: {})", list.join(", "));
            }
            let mut checks =
                vec![Check::new("probe patients registered", !probes.is_empty() && only_duplicates, detail)];
            let step = (probes.len() / SAMPLE).max(1);
            let sample: Vec<&(u64, String)> = probes.iter().step_by(step).take(SAMPLE).collect();
            let mut by_phone = Tally::default();
            let mut by_tail = Tally::default();
            let mut by_initials = Tally::default();
            let mut over_limit = 0;
            for (k, id) in &sample {
                let p = self.patients.patient(*k);
                for (tally, q, must_find) in [
                    (&mut by_phone, p.phone.clone(), true),
                    (&mut by_tail, tail(&p.id_number, 6).to_string(), false),
                    (&mut by_initials, p.initials.clone(), false),
                ] {
                    match query(ctx, &q).await {
                        Ok(items) => {
                            over_limit += usize::from(items.len() > LIMIT);
                            let hit = if must_find {
                                items.iter().any(|i| i["id"].as_str() == Some(id))
                            } else {
                                !items.is_empty()
                            };
                            tally.count(hit, None);
                        }
                        Err(e) => tally.count(false, Some(e)),
                    }
                }
            }
            let n = sample.len();
            checks.push(by_phone.check("phone finds the patient", n));
            checks.push(by_tail.check("ID tail (6 digits) finds matches", n));
            checks.push(by_initials.check("pinyin initials find matches", n));
            checks.push(Check::new(
                "results within limit",
                n > 0 && over_limit == 0,
                format!("{over_limit} of {} answers over {LIMIT} items", 3 * n),
            ));
            checks
        })
    }
}

/// Hits and distinct errors of one kind of check query.
#[derive(Default)]
struct Tally {
    hits: usize,
    errors: BTreeSet<String>,
}

impl Tally {
    fn count(&mut self, hit: bool, error: Option<String>) {
        self.hits += usize::from(hit);
        self.errors.extend(error);
    }

    fn check(&self, name: &str, of: usize) -> Check {
        let mut detail = format!("{} of {of} sampled probes", self.hits);
        if !self.errors.is_empty() {
            detail += &format!(" (errors: {})", self.errors.iter().cloned().collect::<Vec<_>>().join(", "));
        }
        Check::new(name, of > 0 && self.hits == of, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_are_the_last_digits() {
        assert_eq!(tail("11010519491231002X", 4), "002X");
        assert_eq!(tail("11010519491231002X", 6), "31002X");
    }

    #[test]
    fn probes_do_not_meet_register_numbers() {
        // `register` uses generator numbers from 0 up, one per request.
        const { assert!(PROBE_BASE > 50_000_000) };
        assert!(PROBE_BASE + PROBES < crate::data::capacity());
    }
}
