//! Preparing a lab run, before the clock starts: the patients, their
//! collected tubes and tests written straight into the store, every
//! message rendered, the verifier's token and the watching phones.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Instant;

use anyhow::{Context, bail};
use dayi_app::{Actor, App};
use dayi_core::lab::LabCatalog;
use dayi_core::timefmt::now_micros;
use dayi_store::lab::{LabTest, Specimen};
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::header::HeaderValue;
use uuid::Uuid;

use super::message::{Line, lines, message};
use super::{BATCH, Lab, ORDERER, Planned, Prepared, TUBES, VERIFIER, Watcher};
use crate::http::Ctx;
use crate::report::Setup;
use crate::scenarios::book_rush::{Loaded, load_patients, sign_in, zh};

pub(super) async fn prepare(l: &Lab, ctx: &Ctx) -> anyhow::Result<Vec<Setup>> {
    let local = ctx.local.as_ref().context(
        "lab writes its tubes in-process and needs the MLLP listener: let dayi-load start the server (no --url)",
    )?;
    let mllp = local.mllp.context("the server has no MLLP listener (mllp_listen)")?;
    let (app, org) = (&local.app, local.org_id);
    let scale = l.scale;
    if !(2..=999_998).contains(&scale.specimens) || scale.sample == 0 {
        bail!("lab: 2–999,998 specimens and a sample of at least one");
    }
    let mut actor = Actor::cli(org);
    actor.username = "dayi-load".into();
    let actor = &actor;
    let mut setup = vec![];
    let cat = dayi_app::lab::catalog(app, org).await.map_err(zh)?;
    let lines: Vec<Vec<Line>> = TUBES.iter().map(|t| lines(&cat, t)).collect::<anyhow::Result<_>>()?;
    let kinds: Vec<(String, String)> = TUBES
        .iter()
        .map(|t| cat.panel(t.panels[0]).map(|p| (p.specimen.clone(), p.tube.clone())).unwrap_or_default())
        .collect();
    let doctor = dayi_app::staff::find(app, actor, ORDERER).await.map_err(zh)?.id;

    let n = scale.specimens as usize;
    let t = Instant::now();
    eprintln!("  lab: bulk-loading {} patients in-process…", n.div_ceil(2));
    let patients = load_patients(app, actor, n.div_ceil(2) as u32, l.seed).await?;
    setup.push(Setup {
        step: "patients bulk-loaded in-process".into(),
        count: patients.len() as u64,
        secs: t.elapsed().as_secs_f64(),
    });

    // Barcodes of this run: 9, five digits of the seed, the tube's number.
    let tag = format!("9{:05}", l.seed % 100_000);
    let prefix = (format!("{tag}000000"), format!("{tag}999999"));
    let t = Instant::now();
    eprintln!("  lab: writing {n} collected tubes and their tests in-process…");
    let stock = Stock { org, doctor, cat: &cat, lines: &lines, kinds: &kinds, tag: &tag, now: now_micros() };
    let (tubes, rows): (Vec<Planned>, Vec<(Specimen, Vec<LabTest>)>) =
        (0..n).map(|k| stock.tube(k, &patients[k / 2])).unzip();
    let tests = store_tubes(app, &rows).await?;
    drop(rows);
    setup.push(Setup {
        step: format!("tubes collected (written to the store in-process) with {tests} tests"),
        count: n as u64,
        secs: t.elapsed().as_secs_f64(),
    });

    let t = Instant::now();
    let back_to_back = n.div_ceil(2);
    let verifier = verifier(app, actor).await?;
    let watched = sample(back_to_back, scale.sample as usize);
    let watchers = sign_in_watchers(ctx, &patients, watched).await?;
    setup.push(Setup {
        step: "patients signed in to the portal over HTTP (to watch for their results)".into(),
        count: watchers.len() as u64,
        secs: t.elapsed().as_secs_f64(),
    });

    let prepared = Prepared {
        mllp,
        acked: (0..tubes.len()).map(|_| AtomicBool::new(false)).collect(),
        tubes,
        back_to_back,
        conn: tokio::sync::Mutex::new(None),
        acks: Mutex::new(BTreeMap::new()),
        span: Mutex::new(None),
        sent: AtomicU64::new(0),
        verifier,
        watchers,
        prefix,
    };
    if l.prepared.set(prepared).is_err() {
        bail!("lab was already prepared");
    }
    Ok(setup)
}

/// What every tube is made from.
struct Stock<'a> {
    org: Uuid,
    /// The orderer of every test.
    doctor: Uuid,
    cat: &'a LabCatalog,
    /// Per kind of tube: its OBX lines, and its (specimen, tube) names.
    lines: &'a [Vec<Line>],
    kinds: &'a [(String, String)],
    tag: &'a str,
    now: i64,
}

impl Stock<'_> {
    /// Tube `k` of patient `who` (even: purple, odd: yellow): collected, as
    /// `collect` writes it, with one test per panel and its message.
    fn tube(&self, k: usize, who: &Loaded) -> (Planned, (Specimen, Vec<LabTest>)) {
        let (org, now, tag) = (self.org, self.now, self.tag);
        let ti = k % 2;
        let (visit, id) = (Uuid::now_v7(), Uuid::now_v7());
        let barcode = format!("{tag}{:06}", k + 1);
        let s = Specimen {
            org_id: org,
            id,
            barcode,
            patient_id: who.id,
            visit_id: visit,
            kind: self.kinds[ti].0.clone(),
            tube: self.kinds[ti].1.clone(),
            status: "collected".into(),
            reject_reason: String::new(),
            collected_by: "dayi-load".into(),
            collected_at: now,
            received_by: None,
            received_at: None,
            updated_at: now,
        };
        let tests: Vec<LabTest> = TUBES[ti]
            .panels
            .iter()
            .filter_map(|code| self.cat.panel(code))
            .map(|p| LabTest {
                org_id: org,
                order_id: Uuid::now_v7(),
                specimen_id: id,
                visit_id: visit,
                patient_id: who.id,
                doctor_id: self.doctor,
                panel_code: p.code.clone(),
                panel_name: p.name.clone(),
                status: "collected".into(),
                verified_by: None,
                verified_at: None,
                updated_at: now,
            })
            .collect();
        let control = format!("L{tag}{k:06}");
        let lines = &self.lines[ti];
        let text = message(&TUBES[ti], lines, &who.hospital_no, &s.barcode, &self.kinds[ti].0, &control, k);
        let mut frame = Vec::with_capacity(text.len() + 3);
        dayi_core::hl7::mllp::frame(text.as_bytes(), &mut frame);
        let planned = Planned {
            patient: who.id,
            first_order: tests[0].order_id,
            obx: lines.len() as u64,
            tests: tests.len() as u64,
            frame,
            control,
        };
        (planned, (s, tests))
    }
}

/// Writes the tubes and their tests in batches of [`BATCH`]; the number of tests.
async fn store_tubes(app: &App, rows: &[(Specimen, Vec<LabTest>)]) -> anyhow::Result<usize> {
    for chunk in rows.chunks(BATCH) {
        let mut tx = app.db.begin().await?;
        for (s, tests) in chunk {
            dayi_store::lab::insert_specimen(&mut tx, s).await?;
            dayi_store::lab::upsert_tests(&mut tx, tests).await?;
        }
        tx.commit().await?;
    }
    // As autovacuum would soon after on a live server: PostgreSQL
    // otherwise plans the key-list lookups on these tables as if empty.
    for table in ["specimen", "lab_test", "lab_result"] {
        app.db.analyze(table).await?;
    }
    Ok(rows.iter().map(|(_, t)| t.len()).sum())
}

/// The lab technician's API token, as the `Authorization` header.
async fn verifier(app: &App, actor: &Actor) -> anyhow::Result<HeaderValue> {
    let lab = dayi_app::staff::find(app, actor, VERIFIER).await.map_err(zh)?;
    let (_, token) = dayi_app::auth::create_token(app, actor, lab.id, "dayi-load lab", "").await.map_err(zh)?;
    let mut verifier = HeaderValue::from_str(&format!("Bearer {token}"))?;
    verifier.set_sensitive(true);
    Ok(verifier)
}

/// The patients of the watched tubes, signed in to the portal.
async fn sign_in_watchers(ctx: &Ctx, patients: &[Loaded], watched: Vec<usize>) -> anyhow::Result<Vec<Watcher>> {
    eprintln!("  lab: signing {} patients in to the portal…", watched.len());
    stream::iter(watched)
        .map(|k| {
            let who = &patients[k / 2];
            async move {
                let s = sign_in(ctx, &who.id_number, &who.hospital_no)
                    .await
                    .map_err(|e| anyhow::anyhow!("portal sign-in refused: {e}"))?;
                anyhow::Ok(Watcher { tube: k, cookie: s.cookie })
            }
        })
        .buffered(8)
        .try_collect()
        .await
}

/// `count` tubes spread evenly over `[0, n)`.
fn sample(n: usize, count: usize) -> Vec<usize> {
    let count = count.min(n);
    (0..count).map(|i| i * n / count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_spread_evenly() {
        assert_eq!(sample(10, 3), [0, 3, 6]);
        assert_eq!(sample(2, 5), [0, 1]);
        assert!(sample(10_000, 200).windows(2).all(|w| w[1] - w[0] == 50));
    }
}
