//! What a run reports: one row per scenario, as a table for people and as
//! JSON (`--json`) for scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::engine::{Latency, Stats};

/// A named correctness check a scenario ran after its load.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub pass: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, pass: bool, detail: impl Into<String>) -> Check {
        Check { name: name.into(), pass, detail: detail.into() }
    }
}

/// A step a scenario took before the clock started, e.g. a bulk load.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Setup {
    pub step: String,
    pub count: u64,
    pub secs: f64,
}

/// A figure a scenario measured besides the latency of its requests (e.g.
/// how long a call took to reach the screens, or the process's memory).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figure {
    pub name: String,
    pub detail: String,
    /// When the figure is a latency distribution.
    pub latency_ms: Option<Latency>,
}

impl Figure {
    pub fn new(name: &str, detail: impl Into<String>) -> Figure {
        Figure { name: name.into(), detail: detail.into(), latency_ms: None }
    }
}

/// One scenario's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub requests: u64,
    pub successes: u64,
    pub failed: u64,
    /// Failed requests by API error code, `http.<status>` or `transport.<kind>`.
    pub failures: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub throughput_rps: f64,
    /// Successful requests per second (for book-rush: bookings made per second).
    pub ok_rps: f64,
    /// Throughput divided by `baseline`'s in the same run.
    pub ratio_to_baseline: Option<f64>,
    /// Throughput divided by `ceiling`'s (a static file) in the same run.
    pub ratio_to_ceiling: Option<f64>,
    /// Of every completed request, successes and failures alike.
    pub latency_ms: Latency,
    pub setup: Vec<Setup>,
    /// Other measurements the scenario reports.
    pub figures: Vec<Figure>,
    pub checks: Vec<Check>,
    /// Why the scenario did not run, when it did not.
    pub error: Option<String>,
}

impl ScenarioReport {
    pub fn new(name: &str, stats: &Stats, setup: Vec<Setup>, checks: Vec<Check>) -> ScenarioReport {
        ScenarioReport {
            name: name.into(),
            requests: stats.requests,
            successes: stats.successes,
            failed: stats.failed(),
            failures: stats.failures.clone(),
            elapsed_s: stats.elapsed.as_secs_f64(),
            throughput_rps: stats.throughput(),
            ok_rps: stats.success_rate(),
            ratio_to_baseline: None,
            ratio_to_ceiling: None,
            latency_ms: Latency::of(&stats.latency),
            setup,
            figures: vec![],
            checks,
            error: None,
        }
    }

    /// A scenario that could not start (its preparation failed).
    pub fn not_run(name: &str, error: String) -> ScenarioReport {
        ScenarioReport { error: Some(error), ..ScenarioReport::new(name, &Stats::new(), vec![], vec![]) }
    }

    pub fn passed(&self) -> bool {
        self.error.is_none() && self.checks.iter().all(|c| c.pass)
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub tool: String,
    pub target: Target,
    pub limits: LimitsReport,
    pub scenarios: Vec<ScenarioReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub url: String,
    /// True when dayi-load started the server itself.
    pub own_server: bool,
    /// `sqlite` or `postgres` when known.
    pub backend: Option<String>,
    /// The database pool's size, when set for the own server (`--db-pool`).
    pub db_pool: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitsReport {
    pub concurrency: usize,
    pub duration_s: f64,
    pub max_requests: u64,
    /// Each worker's pause between an answer and its next request.
    pub think_ms: u64,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.scenarios.iter().all(ScenarioReport::passed)
    }

    /// The human form: a header line, the figures table, then failures,
    /// setup steps and checks.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let t = &self.target;
        let pool = t.db_pool.map(|n| format!(", pool of {n}")).unwrap_or_default();
        let server = match (&t.backend, t.own_server) {
            (Some(b), true) => format!("own server, {b}{pool}"),
            (Some(b), false) => b.clone(),
            (None, _) => "given server".into(),
        };
        let think = match self.limits.think_ms {
            0 => String::new(),
            ms => format!(", {ms} ms think time"),
        };
        let _ = writeln!(
            out,
            "{} — {} ({server}) — concurrency {}{think}, up to {} s and {} requests per scenario\n",
            self.tool, t.url, self.limits.concurrency, self.limits.duration_s, self.limits.max_requests
        );
        let head = [
            "scenario",
            "requests",
            "ok",
            "failed",
            "req/s",
            "ok/s",
            "× ceiling",
            "× baseline",
            "p50 ms",
            "p90 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
        ];
        let rows: Vec<Vec<String>> = self
            .scenarios
            .iter()
            .map(|s| {
                let l = s.latency_ms;
                vec![
                    s.name.clone(),
                    s.requests.to_string(),
                    s.successes.to_string(),
                    s.failed.to_string(),
                    format!("{:.1}", s.throughput_rps),
                    format!("{:.1}", s.ok_rps),
                    s.ratio_to_ceiling.map_or("–".into(), |r| format!("{r:.3}")),
                    s.ratio_to_baseline.map_or("–".into(), |r| format!("{r:.3}")),
                    ms(l.p50),
                    ms(l.p90),
                    ms(l.p95),
                    ms(l.p99),
                    ms(l.max),
                ]
            })
            .collect();
        out.push_str(&grid(&head, &rows));
        for s in &self.scenarios {
            let mut lines = vec![];
            if let Some(e) = &s.error {
                lines.push(format!("  not run: {e}"));
            }
            for st in &s.setup {
                lines.push(format!("  setup  {} — {} in {:.1} s", st.step, st.count, st.secs));
            }
            for (code, n) in &s.failures {
                lines.push(format!("  failed {n:>9}  {code}"));
            }
            for f in &s.figures {
                lines.push(format!("  figure {} — {}", f.name, f.detail));
            }
            for c in &s.checks {
                let mark = if c.pass { "PASS" } else { "FAIL" };
                lines.push(format!("  {mark}   {} — {}", c.name, c.detail));
            }
            if !lines.is_empty() {
                let _ = writeln!(out, "\n{}", s.name);
                for l in lines {
                    let _ = writeln!(out, "{l}");
                }
            }
        }
        out
    }
}

fn ms(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// Left-aligns the first column and right-aligns the rest.
fn grid(head: &[&str], rows: &[Vec<String>]) -> String {
    let width =
        |i: usize| rows.iter().map(|r| r[i].chars().count()).chain([head[i].chars().count()]).max().unwrap_or(0);
    let widths: Vec<usize> = (0..head.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i == 0 {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str("  ");
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            }
        }
        l.trim_end().to_string() + "\n"
    };
    let mut out = line(head.to_vec());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(rule.iter().map(String::as_str).collect()));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn report() -> RunReport {
        let mut stats = Stats::new();
        stats.elapsed = Duration::from_secs(2);
        let mut s = ScenarioReport::new("register", &stats, vec![], vec![Check::new("ids unique", true, "0 ids")]);
        s.requests = 10;
        s.failures.insert("request.not_found".into(), 10);
        s.ratio_to_baseline = Some(0.5);
        RunReport {
            tool: "dayi-load 0.1.0".into(),
            target: Target {
                url: "http://127.0.0.1:1".into(),
                own_server: true,
                backend: Some("sqlite".into()),
                db_pool: None,
            },
            limits: LimitsReport { concurrency: 4, duration_s: 10.0, max_requests: 100, think_ms: 0 },
            scenarios: vec![s, ScenarioReport::not_run("search", "needs a token".into())],
        }
    }

    #[test]
    fn table_lines_up() {
        let t = report().table();
        let lines: Vec<&str> = t.lines().collect();
        let head = lines.iter().position(|l| l.starts_with("scenario")).unwrap();
        // Header, rule and rows end in the same column.
        let len = |l: &str| l.chars().count();
        assert_eq!(len(lines[head]), len(lines[head + 1]));
        assert_eq!(len(lines[head]), len(lines[head + 2]));
        assert!(t.contains("request.not_found"));
        assert!(t.contains("PASS   ids unique"));
        assert!(t.contains("not run: needs a token"));
        assert!(lines[head + 2].contains("0.500"));
    }

    #[test]
    fn json_has_the_figures() {
        let r = report();
        assert!(!r.passed());
        let v = serde_json::to_value(&r).unwrap();
        let s = &v["scenarios"][0];
        assert_eq!(s["name"], "register");
        assert_eq!(s["failures"]["request.not_found"], 10);
        assert_eq!(s["ratio_to_baseline"], 0.5);
        assert!(s["latency_ms"]["p99"].is_number());
        assert!(s["ok_rps"].is_number());
        assert_eq!(s["checks"][0]["pass"], true);
        assert_eq!(v["scenarios"][1]["error"], "needs a token");
    }
}
