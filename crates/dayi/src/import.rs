//! `dayi import fhir <file or dir>`: loads FHIR R4 data from another system.
//! A `.json` file is a Bundle (a transaction is all or nothing; a batch,
//! collection or searchset is taken entry by entry) or one resource; an
//! `.ndjson` file holds one resource per line (bulk export), taken in
//! batches. A directory is read file by file: NDJSON of patients before the
//! records that refer to them, then the bundles in name order. Importing the
//! same data again writes nothing twice (see `dayi_app::import`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use dayi_app::import::Done;
use dayi_app::{Actor, App};
use dayi_web::fhir::bundle::{self, Answer};
use futures::{StreamExt, stream};
use serde_json::{Value, json};

/// NDJSON lines per batch.
const LINES: usize = 500;

/// What an import did, per resource type.
#[derive(Debug, Default)]
pub struct Summary {
    pub created: BTreeMap<String, u64>,
    pub existing: BTreeMap<String, u64>,
    /// Refused entries: where, and why (in Chinese, with the code).
    pub refused: Vec<String>,
    pub files: u64,
}

impl Summary {
    fn add(&mut self, file: &Path, answers: &[(usize, Result<Done, String>)]) {
        for (i, a) in answers {
            match a {
                Ok(Done::Created { kind, .. }) => *self.created.entry(kind.clone()).or_default() += 1,
                Ok(Done::Existing { kind, .. }) => *self.existing.entry(kind.clone()).or_default() += 1,
                Err(why) => self.refused.push(format!("{} #{i}: {why}", file.display())),
            }
        }
    }

    pub fn created_total(&self) -> u64 {
        self.created.values().sum()
    }
}

/// The files to read, in the order that lets references resolve.
fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("无法读取目录 / cannot read {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "ndjson")))
        .collect();
    found.sort_by_key(|p| (rank(p), p.clone()));
    Ok(found)
}

/// Patients first, then who and where, then the rest; bundles last.
fn rank(p: &Path) -> u8 {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.ends_with(".ndjson") {
        return 9;
    }
    ["Patient", "Organization", "Location", "Practitioner", "Encounter"]
        .iter()
        .position(|k| name.starts_with(k))
        .map(|i| i as u8)
        .unwrap_or(5)
}

fn why(e: &dayi_core::DomainError) -> String {
    let fields: Vec<String> = e.fields.iter().map(|f| format!("{}: {}", f.field, f.zh())).collect();
    match fields.is_empty() {
        true => format!("{} [{}]", e.zh(), e.code.code()),
        false => format!("{}（{}）[{}]", e.zh(), fields.join("；"), e.code.code()),
    }
}

/// Files imported at once. Each is its own transactions, so on PostgreSQL
/// one file's commit waits for the disk while the others are parsed and
/// planned (one at a time, 1,000 bundles took 58 s, nearly all of it waiting).
const AT_ONCE: usize = 8;

/// Imports everything under `path` for the organisation `actor` acts in.
/// Files of one rank (see `rank`) go in parallel; a file that failed or had
/// refused entries is then imported once more on its own, because what it
/// refers to, or the same patient, may have been in a file written beside it
/// (the unique keys turn such a race into a conflict, never a duplicate).
/// Imports are idempotent, so the second pass writes only what the first
/// could not, and only its failure stops the import.
pub async fn fhir(app: &App, actor: &Actor, org_code: &str, path: &Path) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    let files = files(path)?;
    for group in files.chunk_by(|a, b| rank(a) == rank(b)) {
        let first: Vec<anyhow::Result<Answers>> =
            stream::iter(group).map(|f| file(app, actor, org_code, f)).buffered(AT_ONCE).collect().await;
        for (f, answers) in group.iter().zip(first) {
            let answers = match answers {
                Ok(a) if a.iter().all(|(_, a)| a.is_ok()) => a,
                _ => file(app, actor, org_code, f).await?,
            };
            summary.add(f, &answers);
            summary.files += 1;
        }
    }
    Ok(summary)
}

/// What became of each entry of a file: its index, and what was done or why not.
type Answers = Vec<(usize, Result<Done, String>)>;

async fn file(app: &App, actor: &Actor, org_code: &str, file: &Path) -> anyhow::Result<Answers> {
    let text =
        tokio::fs::read_to_string(file).await.with_context(|| format!("无法读取 / cannot read {}", file.display()))?;
    let ndjson = file.extension().and_then(|e| e.to_str()) == Some("ndjson");
    let bundles: Vec<Value> = match ndjson {
        true => ndjson_batches(&text, file)?,
        false => {
            let v: Value = serde_json::from_str(&text)
                .with_context(|| format!("不是有效的 JSON / not valid JSON: {}", file.display()))?;
            vec![as_bundle(v)]
        }
    };
    let mut all = vec![];
    for b in bundles {
        let (mode, parsed) =
            bundle::items(&b, org_code).map_err(|e| anyhow::anyhow!("{}: {}", file.display(), why(&e)))?;
        match bundle::run(app, actor, mode, parsed).await.map_err(|e| anyhow::anyhow!(why(&e)))? {
            Answer::Done(a) => all.extend(a.into_iter().map(|r| r.map_err(|(e, _)| why(&e))).enumerate()),
            Answer::Refused(r) => all.extend(
                r.into_iter()
                    .map(|(i, (e, _))| (i, Err(format!("交易包未写入 / transaction not written: {}", why(&e))))),
            ),
        }
    }
    Ok(all)
}

/// A file's JSON as a Bundle to import: transactions and batches as they
/// are, collections and searchsets entry by entry, a lone resource as a
/// batch of one.
fn as_bundle(v: Value) -> Value {
    match (v["resourceType"].as_str(), v["type"].as_str()) {
        (Some("Bundle"), Some("transaction" | "batch")) => v,
        (Some("Bundle"), _) => {
            let entries = v["entry"].as_array().cloned().unwrap_or_default();
            batch(entries.into_iter().map(|e| (e["fullUrl"].clone(), e["resource"].clone())).collect())
        }
        _ => batch(vec![(Value::Null, v)]),
    }
}

fn batch(resources: Vec<(Value, Value)>) -> Value {
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|(full, r)| {
            let kind = r["resourceType"].as_str().unwrap_or("").to_string();
            let mut e = json!({ "resource": r, "request": { "method": "POST", "url": kind } });
            if full.is_string() {
                e["fullUrl"] = full;
            }
            e
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "batch", "entry": entry })
}

fn ndjson_batches(text: &str, file: &Path) -> anyhow::Result<Vec<Value>> {
    let mut resources = vec![];
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line).with_context(|| {
            format!("{} 第 {} 行不是有效的 JSON / line {} is not valid JSON", file.display(), n + 1, n + 1)
        })?;
        resources.push((Value::Null, r));
    }
    Ok(resources.chunks(LINES).map(|c| batch(c.to_vec())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patients_come_before_what_refers_to_them() {
        let names = ["b.json", "Observation.ndjson", "Patient.ndjson", "a.json", "Encounter.ndjson"];
        let mut paths: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
        paths.sort_by_key(|p| (rank(p), p.clone()));
        let order: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(order, ["Patient.ndjson", "Encounter.ndjson", "Observation.ndjson", "a.json", "b.json"]);
    }

    #[test]
    fn a_collection_is_imported_entry_by_entry() {
        let c = json!({ "resourceType": "Bundle", "type": "collection", "entry": [
            { "fullUrl": "urn:uuid:1", "resource": { "resourceType": "Patient" } },
        ] });
        let b = as_bundle(c);
        assert_eq!((b["type"].as_str(), b["entry"][0]["request"]["url"].as_str()), (Some("batch"), Some("Patient")));
        assert_eq!(b["entry"][0]["fullUrl"], "urn:uuid:1");
        assert_eq!(as_bundle(json!({ "resourceType": "Observation" }))["entry"].as_array().unwrap().len(), 1);
    }
}
