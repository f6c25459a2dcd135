//! The scenarios, one file each. To add one:
//! write `scenarios/<name>.rs` with a type implementing [`Scenario`], add its
//! name to [`NAMES`] and a line to [`by_name`].

mod baseline;
mod book_rush;
mod ceiling;
mod chronic;
mod fhir;
mod lab;
mod prepare;
mod queue;
mod register;
mod search;
mod soak;
mod visit;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::http::{Ctx, Outcome};
use crate::report::{Check, Figure, Setup};

pub use baseline::Baseline;
pub use book_rush::{BookRush, Scale};
pub use ceiling::Ceiling;
pub use chronic::Chronic;
pub use fhir::{Fhir, PARTS as FHIR_PARTS, Part as FhirPart};
pub use lab::{Lab, Scale as LabScale};
pub use queue::{Queue, Scale as QueueScale};
pub use register::Register;
pub use search::Search;
pub use soak::Soak;
pub use visit::{Scale as VisitScale, Visit};

/// Every scenario, in the order `all` runs them. `ceiling` and `baseline`
/// are first so the others have a ratio to them.
pub const NAMES: &[&str] = &[
    "ceiling",
    "baseline",
    "register",
    "book-rush",
    "search",
    "queue",
    "visit",
    "lab",
    "fhir-read",
    "fhir-search",
    "fhir-create",
    "chronic",
];

/// Scenarios that run alone, against a server in a process of their own
/// (not part of `all`): `soak` measures that process's memory.
pub const ALONE: &[&str] = &["soak"];

/// Names that stand for several scenarios: `fhir` is its sub-benchmarks.
pub const GROUPS: &[(&str, &[&str])] = &[("fhir", &["fhir-read", "fhir-search", "fhir-create"])];

/// One kind of traffic. The engine calls `call` from many workers at once;
/// `prepare` runs before the clock starts and `checks` after it stops.
pub trait Scenario: Send + Sync {
    fn name(&self) -> &'static str;

    /// Whether the scenario needs an API token (most do; `baseline` does not).
    fn needs_token(&self) -> bool {
        true
    }

    /// Data the scenario needs before it is timed (bulk loads, probe records).
    fn prepare<'a>(&'a self, _ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(async { Ok(vec![]) })
    }

    /// The number of workers the scenario needs, whatever `--concurrency`
    /// says (`queue`: one per doctor).
    fn workers(&self) -> Option<usize> {
        None
    }

    /// The most requests the prepared data has room for, if any (a fixed plan
    /// of attempts); the run's own bound applies when it is lower.
    fn max_requests(&self) -> Option<u64> {
        None
    }

    /// One timed request (or one short exchange). `seq` is unique across all
    /// workers of the run; `worker` is the worker's index.
    fn call<'a>(&'a self, ctx: &'a Ctx, worker: usize, seq: u64) -> BoxFuture<'a, Outcome>;

    /// Correctness checks after the run, from what `call` saw and fresh requests.
    fn checks<'a>(&'a self, _ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async { vec![] })
    }

    /// Other measurements, reported after `checks` ran.
    fn figures(&self) -> Vec<Figure> {
        vec![]
    }
}

/// A new instance of the scenario called `name`.
pub fn by_name(name: &str, ctx: &Ctx) -> Option<Arc<dyn Scenario>> {
    Some(match name {
        "ceiling" => Arc::new(Ceiling),
        "baseline" => Arc::new(Baseline),
        "register" => Arc::new(Register::new(ctx.seed)),
        "book-rush" => Arc::new(BookRush::new(ctx.seed, Scale::default())),
        "search" => Arc::new(Search::new(ctx.seed)),
        "queue" => {
            let d = QueueScale::default();
            Arc::new(Queue::new(ctx.seed, QueueScale { per_session: ctx.queue_waiting.unwrap_or(d.per_session), ..d }))
        }
        "visit" => Arc::new(Visit::new(ctx.seed, ctx.visits.map_or_else(VisitScale::default, VisitScale::for_visits))),
        "chronic" => Arc::new(Chronic::new(ctx.seed, ctx.registry)),
        "soak" => Arc::new(Soak::new(ctx.seed, ctx.server_pid, ctx.soak_idle)),
        "lab" => Arc::new(Lab::new(ctx.seed, ctx.specimens.map_or_else(LabScale::default, LabScale::for_specimens))),
        other => {
            let (_, part) = fhir::PARTS.iter().find(|(n, _)| *n == other)?;
            Arc::new(Fhir::new(*part, ctx.seed))
        }
    })
}

/// Scenarios that prepare their data inside dayi-load's own server.
pub const OWN_SERVER_ONLY: &[&str] = &["book-rush", "queue", "visit", "lab", "chronic"];

/// The scenarios to run for the names given on the command line: `all` (or
/// nothing) is every scenario that can run on the target (against a running
/// server, those not in [`OWN_SERVER_ONLY`]); otherwise the [`CEILINGS`] are
/// put first, unless only they are asked for. Unknown names are an error.
pub fn plan(asked: &[String], own_server: bool) -> anyhow::Result<Vec<&'static str>> {
    let mut out: Vec<&'static str> = vec![];
    if let Some(alone) = ALONE.iter().find(|n| asked.iter().any(|a| a.as_str() == **n)) {
        if asked.len() > 1 {
            anyhow::bail!("{alone} runs alone (it starts a server process of its own)");
        }
        return Ok(vec![*alone]);
    }
    if asked.is_empty() || asked.iter().any(|a| a == "all") {
        return Ok(NAMES.iter().copied().filter(|n| own_server || !OWN_SERVER_ONLY.contains(n)).collect());
    }
    for a in asked {
        let names: Vec<&'static str> = match GROUPS.iter().find(|(g, _)| *g == a.as_str()) {
            Some((_, parts)) => parts.to_vec(),
            None => match NAMES.iter().find(|n| **n == a.as_str()) {
                Some(n) => vec![*n],
                None => {
                    let groups: Vec<&str> = GROUPS.iter().map(|(g, _)| *g).collect();
                    anyhow::bail!("unknown scenario {a}; choose from all, {}, {}", NAMES.join(", "), groups.join(", "));
                }
            },
        };
        for name in names {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    if out.iter().all(|n| CEILINGS.contains(n)) {
        return Ok(out);
    }
    out.retain(|n| !CEILINGS.contains(n));
    out.splice(0..0, CEILINGS.iter().copied());
    Ok(out)
}

/// What HTTP alone reaches (`ceiling`) and HTTP with one trivial query
/// (`baseline`), measured first in every run so each figure has both ratios.
pub const CEILINGS: &[&str] = &["ceiling", "baseline"];

#[cfg(test)]
mod tests {
    use super::*;

    fn names(args: &[&str]) -> Vec<&'static str> {
        plan(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>(), true).unwrap()
    }

    #[test]
    fn the_ceilings_come_first() {
        assert_eq!(names(&[]), NAMES);
        assert_eq!(names(&["all"]), NAMES);
        assert_eq!(names(&["baseline"]), ["baseline"]);
        assert_eq!(names(&["ceiling", "baseline"]), ["ceiling", "baseline"]);
        assert_eq!(names(&["search"]), ["ceiling", "baseline", "search"]);
        assert_eq!(names(&["search", "baseline", "register", "search"]), ["ceiling", "baseline", "search", "register"]);
        assert!(plan(&["nope".to_string()], true).is_err());
    }

    #[test]
    fn fhir_is_its_sub_benchmarks() {
        assert_eq!(names(&["fhir"]), ["ceiling", "baseline", "fhir-read", "fhir-search", "fhir-create"]);
        assert_eq!(names(&["fhir-create", "fhir"]), ["ceiling", "baseline", "fhir-create", "fhir-read", "fhir-search"]);
        assert_eq!(names(&["fhir-search"]), ["ceiling", "baseline", "fhir-search"]);
        assert_eq!(GROUPS[0].1, fhir::part_names().collect::<Vec<_>>());
    }

    #[test]
    fn all_against_a_running_server_leaves_out_own_server_scenarios() {
        let all = plan(&["all".to_string()], false).unwrap();
        assert_eq!(all, ["ceiling", "baseline", "register", "search", "fhir-read", "fhir-search", "fhir-create"]);
        // Named explicitly, it still runs and says why it cannot prepare.
        assert_eq!(plan(&["book-rush".to_string()], false).unwrap(), ["ceiling", "baseline", "book-rush"]);
    }

    #[test]
    fn soak_runs_alone() {
        assert_eq!(names(&["soak"]), ["soak"]);
        assert!(plan(&["soak".to_string(), "register".to_string()], true).is_err());
        assert!(!names(&["all"]).contains(&"soak"));
    }

    #[test]
    fn every_name_has_a_scenario() {
        let ctx = Ctx::new("http://127.0.0.1:1", None, 1, std::time::Duration::from_secs(1)).unwrap();
        for n in NAMES {
            assert_eq!(by_name(n, &ctx).unwrap().name(), *n);
        }
    }
}
