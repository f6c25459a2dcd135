//! `soak`: a mixed load with large bodies against a server in a process of
//! its own, watching that process's memory. One request in ten is a FHIR
//! transaction of about 1.9 MB (the same patients each time, so after the
//! first it is matched, not written: the body is parsed and planned whole);
//! one in ten sends 1.9 MB to an ordinary JSON route, which must refuse it;
//! the rest register and search patients. The server's RSS is read from
//! `/proc/PID/status` before, during (its peak) and after the run has been
//! idle for `--idle` seconds. Target: idle RSS under 80 MiB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::Scenario;
use crate::child::memory_kb;
use crate::data::PatientGen;
use crate::http::{Ctx, Outcome, expect, expect_json};
use crate::report::{Check, Figure, Setup};

/// The size of the large bodies, as in the report that found the growth.
const LARGE: usize = 1_900_000;
/// Idle RSS the server must come back under, in KiB.
const TARGET_KB: u64 = 80 * 1024;
/// Generator numbers of the bundle's patients, far from the registrations'.
const BUNDLE_FROM: u64 = 50_000_000;
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

pub struct Soak {
    patients: PatientGen,
    pid: Option<u32>,
    idle: Duration,
    bundle: Vec<u8>,
    bundle_patients: usize,
    oversize: Vec<u8>,
    memory: Arc<Mutex<Memory>>,
    sampler: Mutex<Option<tokio::task::JoinHandle<()>>>,
    bundles_ok: AtomicU64,
    refused: AtomicU64,
}

/// The server's memory.
#[derive(Default, Clone)]
struct Memory {
    before: Option<crate::child::Memory>,
    /// RSS in KiB, every [`SAMPLE_EVERY`].
    during: Vec<u64>,
    peak: Option<u64>,
    after: Option<crate::child::Memory>,
}

impl Soak {
    pub fn new(seed: u64, pid: Option<u32>, idle: Duration) -> Soak {
        let patients = PatientGen::new(seed);
        let (bundle, bundle_patients) = bundle(&patients, LARGE);
        // A registration whose address alone is 1.9 MB.
        let oversize = json!({ "name": "张三", "address": "街".repeat(LARGE / 3) }).to_string().into_bytes();
        Soak {
            patients,
            pid,
            idle,
            bundle,
            bundle_patients,
            oversize,
            memory: Arc::new(Mutex::new(Memory::default())),
            sampler: Mutex::new(None),
            bundles_ok: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A FHIR transaction of generated patients, about `size` bytes long.
fn bundle(patients: &PatientGen, size: usize) -> (Vec<u8>, usize) {
    let mut entries = vec![];
    let mut len = 0;
    let mut k = BUNDLE_FROM;
    while len < size {
        let e = json!({
            "fullUrl": format!("urn:uuid:{}", uuid::Uuid::from_u128(u128::from(k))),
            "request": { "method": "POST", "url": "Patient" },
            "resource": super::fhir::resource(&patients.patient(k)),
        });
        len += e.to_string().len() + 1;
        entries.push(e);
        k += 1;
    }
    let n = entries.len();
    (json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries }).to_string().into_bytes(), n)
}

async fn post_bundle(ctx: &Ctx, body: Vec<u8>) -> Result<Value, String> {
    let req = ctx.post("/fhir").header("content-type", "application/fhir+json").body(body);
    expect_json(req, 200).await
}

impl Scenario for Soak {
    fn name(&self) -> &'static str {
        "soak"
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(async move {
            let Some(pid) = self.pid else { anyhow::bail!("needs the server's process (own server, or --server-pid)") };
            self.memory().before = memory_kb(pid);
            // The first import writes the patients; the timed ones find them.
            let t = Instant::now();
            let v = post_bundle(ctx, self.bundle.clone()).await.map_err(|e| anyhow::anyhow!("first bundle: {e}"))?;
            let n = v["entry"].as_array().map_or(0, Vec::len);
            let sampler = tokio::spawn(sample(pid, self.memory.clone()));
            *self.sampler.lock().unwrap_or_else(|p| p.into_inner()) = Some(sampler);
            Ok(vec![Setup {
                step: format!("FHIR transaction of {} bytes", self.bundle.len()),
                count: n as u64,
                secs: t.elapsed().as_secs_f64(),
            }])
        })
    }

    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match seq % 10 {
                0 => {
                    let v = post_bundle(ctx, self.bundle.clone()).await?;
                    if v["entry"].as_array().map_or(0, Vec::len) != self.bundle_patients {
                        return Err("bundle.entries".into());
                    }
                    self.bundles_ok.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                5 => {
                    let req = ctx.post("/api/patients").header("content-type", "application/json");
                    // Refused from its length: the server may close before the whole body is sent.
                    let r = match expect(req.body(self.oversize.clone()), 413).await {
                        Err(e) if e.starts_with("transport.") => Ok(()),
                        other => other,
                    };
                    if r.is_ok() {
                        self.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    r
                }
                s if s % 2 == 0 => expect(ctx.post("/api/patients").json(&self.patients.patient(seq)), 201).await,
                _ => {
                    let phone = self.patients.patient(seq.saturating_sub(1)).phone;
                    expect(ctx.get(&format!("/api/patients?q={phone}")), 200).await
                }
            }
        })
    }

    fn checks<'a>(&'a self, _ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            if let Some(s) = self.sampler.lock().unwrap_or_else(|p| p.into_inner()).take() {
                s.abort();
            }
            let Some(pid) = self.pid else { return vec![] };
            self.memory().peak = memory_kb(pid).map(|m| m.peak);
            tokio::time::sleep(self.idle).await;
            let after = memory_kb(pid);
            self.memory().after = after;
            let after = after.map(|m| m.rss);
            let bundles = self.bundles_ok.load(Ordering::Relaxed);
            let refused = self.refused.load(Ordering::Relaxed);
            vec![
                Check::new(
                    "large FHIR bundles imported",
                    bundles > 0,
                    format!("{bundles} transactions of {} bytes", self.bundle.len()),
                ),
                Check::new("large bodies refused by an ordinary route", refused > 0, format!("{refused} refused")),
                Check::new(
                    "idle RSS under 80 MiB after the soak",
                    after.is_some_and(|kb| kb < TARGET_KB),
                    format!("{} MiB after {:.0} s idle", mib(after), self.idle.as_secs_f64()),
                ),
            ]
        })
    }

    fn figures(&self) -> Vec<Figure> {
        let m = self.memory().clone();
        let d = &m.during;
        let at = |q: usize| d.get(d.len().saturating_sub(1) * q / 4).copied();
        let series = [0, 1, 2, 3, 4].map(|q| mib(at(q))).join(" → ");
        let split = |x: Option<crate::child::Memory>| {
            x.map_or("?".into(), |x| {
                format!("{} (heap {}, files {})", mib(Some(x.rss)), mib(Some(x.anon)), mib(Some(x.file)))
            })
        };
        vec![Figure::new(
            "server RSS",
            format!(
                "RSS of the server process, MiB: {} before; during the run (start, ¼, ½, ¾, end) {series}; peak {} \
                 (VmHWM); {} after {:.0} s idle",
                split(m.before),
                mib(m.peak),
                split(m.after),
                self.idle.as_secs_f64()
            ),
        )]
    }
}

/// Samples the server's RSS until aborted (in `checks`).
async fn sample(pid: u32, memory: Arc<Mutex<Memory>>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        if let Some(m) = memory_kb(pid) {
            memory.lock().unwrap_or_else(|p| p.into_inner()).during.push(m.rss);
        }
    }
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_large_bodies_are_as_large_as_reported_and_fit_their_limits() {
        let s = Soak::new(7, None, Duration::ZERO);
        let v: Value = serde_json::from_slice(&s.bundle).unwrap();
        assert_eq!(v["type"], "transaction");
        assert_eq!(v["entry"].as_array().unwrap().len(), s.bundle_patients);
        // As large as the bodies that grew the server, and within body_limit_kb (2048) of the FHIR route.
        assert!(s.bundle.len() >= LARGE && s.bundle.len() < 2048 * 1024, "{}", s.bundle.len());
        // Far past the 64 KiB of an ordinary route.
        assert!(s.oversize.len() >= LARGE, "{}", s.oversize.len());
    }
}
