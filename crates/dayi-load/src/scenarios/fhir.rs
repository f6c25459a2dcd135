//! `fhir`: the FHIR R4 `Patient` API as a FHIR client uses it, over HTTP with
//! an API bearer token and `application/fhir+json`. It is a group of
//! sub-benchmarks, each a scenario of its own with its own row in the report:
//!
//! - `fhir-read`: `GET /fhir/Patient/{id}` of patients drawn at random from
//!   the organisation's index (every read is audited by the server);
//! - `fhir-search`: `GET /fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3|{number}`,
//!   the resident ID number of one of those patients; success is a searchset
//!   with exactly that patient;
//! - `fhir-create`: `POST /fhir/Patient`, a new valid Chinese patient each
//!   time (valid resident ID number, name, phone, address, contact, guardian
//!   for children), expecting 201 and a `Location`.
//!
//! `fhir` on the command line runs them all ([`PARTS`], in that order, so
//! reads and searches see the organisation as loaded). A further
//! sub-benchmark (the bundle import) is one more [`Part`] and one more entry
//! in [`PARTS`].
//!
//! When dayi-load runs the server itself, the organisation holds
//! `--patients N` (default 1,000,000) bulk-loaded patients first: on a fresh
//! SQLite file they come from a cached seeded file under `target/`
//! (see [`crate::cache`]); on a given database they are loaded unless that
//! many are there already (then `ANALYZE` on PostgreSQL). The patients read
//! and searched are a sample of them, found by random hospital numbers.
//! Against a running server (`--url`), the sample is the patients
//! `fhir-create`'s preparation registers over FHIR.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{Context, anyhow};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::Scenario;
use crate::data::{self, PatientGen};
use crate::http::{Ctx, Local, Outcome, expect, expect_body, expect_json, failure_key, is_problem, transport};
use crate::report::{Check, Figure, Setup};

pub const MEDIA_TYPE: &str = "application/fhir+json";
/// The namespace of resident ID numbers (居民身份证, GB 11643).
pub const RESIDENT_ID: &str = "urn:oid:2.16.156.10011.1.3";
const EXT_ETHNICITY: &str = "https://dayi.org.cn/fhir/StructureDefinition/ethnicity";
const EXT_INSURANCE: &str = "https://dayi.org.cn/fhir/StructureDefinition/insurance-type";
const EXT_REGION: &str = "https://dayi.org.cn/fhir/StructureDefinition/region-code";
const ETHNICITY_SYSTEM: &str = "urn:oid:2.16.156.10011.2.3.3.3";
const RELATION_SYSTEM: &str = "urn:oid:2.16.156.10011.2.3.3.8";
const V2_0131: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
const V3_ROLE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";

/// Patients drawn from the organisation for reads and searches.
const SAMPLE: usize = 10_000;
/// Patients registered over FHIR when there is no in-process access (`--url`).
const REMOTE_SAMPLE: u64 = 500;
/// Generator numbers of the created patients: apart from `register` (from 0),
/// `search`'s probes (100,000,000) and the remote sample below.
const CREATE_BASE: u64 = 200_000_000;
const REMOTE_BASE: u64 = 300_000_000;
/// Answers checked again after a run.
const CHECKED: usize = 20;

/// One sub-benchmark of `fhir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Read,
    Search,
    Create,
}

/// The sub-benchmarks, in the order `fhir` runs them.
pub const PARTS: &[(&str, Part)] =
    &[("fhir-read", Part::Read), ("fhir-search", Part::Search), ("fhir-create", Part::Create)];

/// The names of [`PARTS`] (`super::GROUPS` lists them for `fhir`).
#[cfg(test)]
pub fn part_names() -> impl Iterator<Item = &'static str> {
    PARTS.iter().map(|(n, _)| *n)
}

/// A known patient: its logical id and resident ID number.
#[derive(Debug, Clone)]
struct Known {
    id: String,
    number: String,
}

/// The organisation's patients the reads and searches use, shared by the
/// parts of one run (prepared once, by whichever part comes first).
struct Sample {
    patients: Vec<Known>,
    /// Patients in the organisation when the sample was drawn.
    total: u64,
    setup: Vec<Setup>,
}

static SHARED: tokio::sync::OnceCell<Sample> = tokio::sync::OnceCell::const_new();

pub struct Fhir {
    part: Part,
    patients: PatientGen,
    /// Logical ids answered by `fhir-create`, with the generator number sent.
    created: Mutex<Vec<(u64, String)>>,
    /// Answers that were 200 but not the one patient asked for.
    wrong: Mutex<BTreeMap<String, u64>>,
    total: OnceLock<u64>,
}

impl Fhir {
    pub fn new(part: Part, seed: u64) -> Fhir {
        Fhir {
            part,
            patients: PatientGen::new(seed),
            created: Mutex::new(vec![]),
            wrong: Mutex::new(BTreeMap::new()),
            total: OnceLock::new(),
        }
    }

    fn sample(&self) -> Result<&'static [Known], String> {
        SHARED.get().map(|s| s.patients.as_slice()).filter(|s| !s.is_empty()).ok_or_else(|| "load.not_prepared".into())
    }

    fn wrong(&self, why: &str) -> String {
        *lock(&self.wrong).entry(why.to_string()).or_default() += 1;
        why.to_string()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn zh(e: dayi_core::DomainError) -> anyhow::Error {
    anyhow!("{}", e.zh())
}

/// An index into `0..len` for request `seq`, spread over the sample so that
/// consecutive requests read different patients.
fn pick(seq: u64, len: usize) -> usize {
    (seq.wrapping_mul(2_654_435_761) % len as u64) as usize
}

/// The path of an identifier search for one resident ID number.
pub fn identifier_path(number: &str) -> String {
    format!("/fhir/Patient?identifier={RESIDENT_ID}%7C{number}")
}

/// The `Patient` resource a FHIR client sends for a generated patient.
pub fn resource(p: &data::Patient) -> Value {
    let phone = |v: &str| json!([{ "system": "phone", "value": v, "use": "mobile" }]);
    let mut contacts = vec![];
    if !p.guardian_name.is_empty() {
        contacts.push(json!({
            "relationship": [{ "coding": [
                { "system": V3_ROLE, "code": "GUARD" },
                { "system": RELATION_SYSTEM, "code": p.guardian_relation },
            ] }],
            "name": { "text": p.guardian_name },
            "telecom": phone(&p.guardian_phone),
        }));
    }
    contacts.push(json!({
        "relationship": [{ "coding": [
            { "system": V2_0131, "code": "C" },
            { "system": RELATION_SYSTEM, "code": p.emergency_relation },
        ] }],
        "name": { "text": p.emergency_name },
        "telecom": phone(&p.emergency_phone),
    }));
    let (family, given) = p.name.split_at(p.name.chars().next().map_or(0, char::len_utf8));
    json!({
        "resourceType": "Patient",
        "identifier": [{ "use": "official", "system": RESIDENT_ID, "value": p.id_number }],
        "name": [{ "use": "official", "text": p.name, "family": family, "given": [given] }],
        "gender": if p.sex == "1" { "male" } else { "female" },
        "birthDate": p.birth_date.to_string(),
        "telecom": phone(&p.phone),
        "address": [{
            "use": "home",
            "text": p.address,
            "extension": [{ "url": EXT_REGION, "valueCoding": { "code": p.region_code } }],
        }],
        "extension": [
            { "url": EXT_ETHNICITY, "valueCoding": { "system": ETHNICITY_SYSTEM, "code": p.ethnicity } },
            { "url": EXT_INSURANCE, "valueCoding": { "code": p.insurance } },
        ],
        "contact": contacts,
    })
}

/// Creates one patient over FHIR; its logical id from `Location`.
async fn create(ctx: &Ctx, body: Vec<u8>) -> Result<String, String> {
    let req = ctx.post("/fhir/Patient").header(reqwest::header::CONTENT_TYPE, MEDIA_TYPE).body(body);
    let resp = req.send().await.map_err(|e| transport(&e))?;
    let status = resp.status().as_u16();
    let problem = is_problem(&resp) || content_is_fhir(&resp);
    let location = resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = resp.bytes().await.map_err(|e| transport(&e))?;
    if status != 201 {
        return Err(failure_key(status, problem, &bytes));
    }
    let loc = location.ok_or("response.no_location")?;
    Ok(loc.rsplit('/').next().unwrap_or_default().to_string())
}

fn content_is_fhir(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(MEDIA_TYPE))
}

/// Loads patients in-process until the organisation has `want`, unless it has them already.
async fn ensure_loaded(local: &Local, want: u64, seed: u64) -> anyhow::Result<Option<Setup>> {
    let have = dayi_app::patient::count_seq(&local.app, local.org_id).await.map_err(zh)?;
    if have >= want {
        return Ok(None);
    }
    let n = want - have;
    eprintln!("  fhir: bulk-loading {n} patients in-process…");
    let t = Instant::now();
    let n = dayi_app::demo::load_patients(&local.app, local.org_id, n, seed).await.map_err(zh)?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!("  fhir: loaded {n} patients in {secs:.1} s");
    Ok(Some(Setup { step: "bulk load (dayi_app::demo::load_patients, ANALYZE on PostgreSQL)".into(), count: n, secs }))
}

/// Patients with resident ID numbers found by random sequence numbers (the
/// first part of the hospital number).
async fn draw(local: &Local, total: u64, seed: u64) -> anyhow::Result<Vec<Known>> {
    let mut rng = data::SplitMix::new(seed ^ 0x00f4_1b5e);
    let mut wanted: Vec<i64> = (0..SAMPLE * 2).map(|_| 1 + rng.below(total.max(1)) as i64).collect();
    wanted.sort();
    wanted.dedup();
    let mut out = vec![];
    for n in wanted {
        let Some(p) = dayi_app::patient::by_sequence(&local.app, local.org_id, n).await.map_err(zh)? else {
            continue;
        };
        if p.merged_into.is_none()
            && p.id_kind.as_deref() == Some("resident_id")
            && let Some(number) = p.id_number
        {
            out.push(Known { id: p.id.to_string(), number });
        }
    }
    // Shuffle (the key order follows the hospital number), then keep SAMPLE.
    for i in (1..out.len()).rev() {
        out.swap(i, rng.below(i as u64 + 1) as usize);
    }
    out.truncate(SAMPLE);
    Ok(out)
}

/// The sample, prepared once per run.
async fn prepare_sample(ctx: &Ctx, patient_gen: &PatientGen) -> anyhow::Result<Sample> {
    let mut setup = vec![];
    let t = Instant::now();
    if let Some(local) = &ctx.local {
        if ctx.patients > 0 {
            setup.extend(ensure_loaded(local, ctx.patients, ctx.seed).await?);
        }
        let total = dayi_app::patient::count_seq(&local.app, local.org_id).await.map_err(zh)?;
        let t = Instant::now();
        let patients = draw(local, total, ctx.seed).await.context("drawing the sample")?;
        setup.push(Setup {
            step: format!("sample of patients drawn in-process ({total} in the organisation)"),
            count: patients.len() as u64,
            secs: t.elapsed().as_secs_f64(),
        });
        return Ok(Sample { patients, total, setup });
    }
    // A running server: register the sample over FHIR.
    let mut patients = vec![];
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for k in REMOTE_BASE..REMOTE_BASE + REMOTE_SAMPLE {
        let p = patient_gen.patient(k);
        let body = serde_json::to_vec(&resource(&p))?;
        match create(ctx, body).await {
            Ok(id) => patients.push(Known { id, number: p.id_number }),
            Err(key) => *refused.entry(key).or_default() += 1,
        }
    }
    if patients.is_empty() {
        anyhow::bail!("no patient could be registered over FHIR: {refused:?}");
    }
    let count = patients.len() as u64;
    setup.push(Setup {
        step: "sample registered over POST /fhir/Patient".into(),
        count,
        secs: t.elapsed().as_secs_f64(),
    });
    Ok(Sample { patients, total: count, setup })
}

impl Scenario for Fhir {
    fn name(&self) -> &'static str {
        PARTS.iter().find(|(_, p)| *p == self.part).map_or("fhir", |(n, _)| n)
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(async move {
            let first = !SHARED.initialized();
            let s = SHARED.get_or_try_init(|| prepare_sample(ctx, &self.patients)).await?;
            let _ = self.total.set(s.total);
            // The setup is reported once, by the part that did it.
            Ok(if first { s.setup.clone() } else { vec![] })
        })
    }

    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match self.part {
                Part::Read => {
                    let s = self.sample()?;
                    let k = &s[pick(seq, s.len())];
                    expect(ctx.get(&format!("/fhir/Patient/{}", k.id)).header("accept", MEDIA_TYPE), 200).await
                }
                Part::Search => {
                    let s = self.sample()?;
                    let k = &s[pick(seq, s.len())];
                    let body =
                        expect_body(ctx.get(&identifier_path(&k.number)).header("accept", MEDIA_TYPE), 200).await?;
                    let v: Value =
                        serde_json::from_slice(body.as_ref()).map_err(|_| "response.not_json".to_string())?;
                    match only_patient(&v) {
                        Some(id) if id == k.id => Ok(()),
                        Some(_) => Err(self.wrong("fhir.other_patient")),
                        None => Err(self.wrong("fhir.not_exactly_one")),
                    }
                }
                Part::Create => {
                    let k = CREATE_BASE + seq;
                    let body = serde_json::to_vec(&resource(&self.patients.patient(k))).map_err(|_| "load.json")?;
                    let id = create(ctx, body).await?;
                    lock(&self.created).push((k, id));
                    Ok(())
                }
            }
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            match self.part {
                Part::Read => read_checks(ctx, self.sample().unwrap_or_default()).await,
                Part::Search => {
                    let wrong = lock(&self.wrong).clone();
                    let n: u64 = wrong.values().sum();
                    let detail = if n == 0 {
                        "every 200 was exactly the patient asked for".into()
                    } else {
                        format!("{wrong:?}")
                    };
                    vec![Check::new("identifier finds exactly its patient", n == 0, detail)]
                }
                Part::Create => self.create_checks(ctx).await,
            }
        })
    }

    fn figures(&self) -> Vec<Figure> {
        match self.total.get() {
            Some(n) if self.part != Part::Create => {
                vec![Figure::new("organisation", format!("{n} patients in the organisation when the sample was drawn"))]
            }
            _ => vec![],
        }
    }
}

/// The one `Patient` of a searchset, if it holds exactly one.
fn only_patient(bundle: &Value) -> Option<&str> {
    let entries: Vec<&Value> =
        bundle["entry"].as_array()?.iter().filter(|e| e["resource"]["resourceType"] == "Patient").collect();
    match (bundle["total"].as_u64(), entries.as_slice()) {
        (Some(1), [e]) => e["resource"]["id"].as_str(),
        _ => None,
    }
}

/// Reads a few sampled patients again and checks the answer is theirs.
async fn read_checks(ctx: &Ctx, sample: &[Known]) -> Vec<Check> {
    let mut ok = 0;
    let mut errors = BTreeMap::new();
    let step = (sample.len() / CHECKED).max(1);
    let picked: Vec<&Known> = sample.iter().step_by(step).take(CHECKED).collect();
    for k in &picked {
        match expect_json(ctx.get(&format!("/fhir/Patient/{}", k.id)), 200).await {
            Ok(v) => {
                let masked = mask(&k.number);
                let holds = v["resourceType"] == "Patient"
                    && v["id"].as_str() == Some(&k.id)
                    && v["identifier"].as_array().is_some_and(|ids| {
                        ids.iter().any(|i| i["system"] == RESIDENT_ID && i["value"].as_str() == Some(&masked))
                    });
                ok += usize::from(holds);
            }
            Err(e) => *errors.entry(e).or_insert(0u64) += 1,
        }
    }
    let mut detail = format!("{ok} of {} sampled patients", picked.len());
    if !errors.is_empty() {
        detail += &format!(" (errors: {errors:?})");
    }
    vec![Check::new(
        "read answers the patient asked for (masked ID number)",
        !picked.is_empty() && ok == picked.len(),
        detail,
    )]
}

/// An ID number as staff views show it: the first 6 and last 4 characters.
fn mask(n: &str) -> String {
    dayi_core::mask::id_number(n)
}

impl Fhir {
    async fn create_checks(&self, ctx: &Ctx) -> Vec<Check> {
        let (n, unique, sample) = {
            let created = lock(&self.created);
            let ids: HashSet<&str> = created.iter().map(|c| c.1.as_str()).collect();
            let step = (created.len() / CHECKED).max(1);
            let sample: Vec<(u64, String)> = created.iter().step_by(step).take(CHECKED).cloned().collect();
            (created.len(), ids.len() == created.len(), sample)
        };
        let mut found = 0;
        let mut errors = BTreeMap::new();
        for (k, id) in &sample {
            let p = self.patients.patient(*k);
            match expect_json(ctx.get(&identifier_path(&p.id_number)), 200).await {
                Ok(v) if only_patient(&v) == Some(id.as_str()) => found += 1,
                Ok(_) => *errors.entry("not exactly this patient".to_string()).or_insert(0u64) += 1,
                Err(e) => *errors.entry(e).or_insert(0u64) += 1,
            }
        }
        let mut detail = format!("{found} of {} sampled patients", sample.len());
        if !errors.is_empty() {
            detail += &format!(" (errors: {errors:?})");
        }
        vec![
            Check::new("creations succeeded", n > 0, format!("{n} patients created")),
            Check::new("logical ids unique", unique, format!("{n} ids")),
            Check::new("created patients found by identifier", !sample.is_empty() && found == sample.len(), detail),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_stay_in_range_and_spread() {
        let picks: HashSet<usize> = (0..1000).map(|s| pick(s, 10_000)).collect();
        assert!(picks.iter().all(|p| *p < 10_000));
        assert!(picks.len() > 990);
    }

    #[test]
    fn identifier_searches_escape_the_bar() {
        assert_eq!(
            identifier_path("11010519491231002X"),
            "/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3%7C11010519491231002X"
        );
    }

    #[test]
    fn resources_carry_the_document_and_a_guardian_for_children() {
        let g = PatientGen::new(7);
        let mut saw_child = false;
        for k in 0..200 {
            let p = g.patient(k);
            let r = resource(&p);
            assert_eq!(r["identifier"][0]["value"], json!(p.id_number));
            assert_eq!(r["name"][0]["text"], json!(p.name));
            let contacts = r["contact"].as_array().unwrap();
            assert_eq!(contacts.len(), if p.guardian_name.is_empty() { 1 } else { 2 });
            saw_child |= !p.guardian_name.is_empty();
        }
        assert!(saw_child);
    }

    #[test]
    fn only_one_patient_counts_as_found() {
        let one = json!({ "total": 1, "entry": [{ "resource": { "resourceType": "Patient", "id": "a" } }] });
        assert_eq!(only_patient(&one), Some("a"));
        let none = json!({ "total": 0, "entry": [] });
        assert_eq!(only_patient(&none), None);
        let two = json!({ "total": 2, "entry": [
            { "resource": { "resourceType": "Patient", "id": "a" } },
            { "resource": { "resourceType": "Patient", "id": "b" } },
        ] });
        assert_eq!(only_patient(&two), None);
    }
}
