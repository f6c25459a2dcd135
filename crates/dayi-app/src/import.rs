//! Loading data from another system (a FHIR transaction or batch Bundle, or
//! `dayi import fhir`): patients become our patients under the registration
//! rules; the clinical records become outside records (院外记录) of those
//! patients, kept as received with their references rewritten to our ids.
//! Every source key is remembered, so importing the same data again finds
//! what the first import wrote and writes nothing twice.

use std::collections::HashMap;

use dayi_core::audit::OK;
use dayi_core::patient::{Channel, NewPatient, validate};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::outside::{ImportKey, OutsideRecord};
use dayi_store::patient::Patient;
use rand::RngCore;
use serde_json::Value;
use uuid::Uuid;

use crate::patient::identifier::{self, ForeignId};
use crate::patient::{hospital_no, record};
use crate::{Actor, App, OrInternal, new_id, policy};

/// The clinical resource types kept as outside records.
pub const OUTSIDE_KINDS: &[&str] = &[
    "Encounter",
    "Observation",
    "DiagnosticReport",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "AllergyIntolerance",
    "Immunization",
    "CarePlan",
    "Practitioner",
    "Organization",
    "Location",
];

/// One resource to import.
#[derive(Debug, Clone)]
pub struct Item {
    /// What identifies it in the other system: its fullUrl, `Kind/id`
    /// there, foreign identifiers. Other entries may refer to any of them.
    pub sources: Vec<String>,
    pub kind: String,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub enum Body {
    /// A patient, with the identifiers the other system gave them, kept
    /// (and matched on) like those of a FHIR create.
    Patient(Box<NewPatient>, Vec<ForeignId>),
    /// The resource as received (its references are rewritten on import).
    Outside(Value),
}

/// What became of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    Created {
        kind: String,
        id: Uuid,
    },
    /// Imported before, or (a patient) already registered with its document.
    Existing {
        kind: String,
        id: Uuid,
    },
}

/// Where planning put an item.
enum Slot {
    Failed(DomainError),
    Existing(Uuid),
    NewPatient(Box<Patient>, Vec<ForeignId>),
    NewOutside(Uuid),
}

/// What an import did with each item, and whether anything was written.
#[derive(Debug)]
pub struct Report {
    pub answers: Vec<Result<Done, DomainError>>,
    /// False when an atomic import was refused: then the `Ok` answers say
    /// what would have been done, and nothing was.
    pub written: bool,
}

/// Who may post a bundle at all, asked before it is read: a registrar
/// (patients) or a clinician (outside records). Which entry needs which is
/// `import`'s to check.
pub async fn require_some(app: &App, actor: &Actor) -> Result<(), DomainError> {
    if actor.can(Perm::PatientWrite) {
        return Ok(());
    }
    actor.require(app, Perm::Clinical).await
}

/// Imports `items`. When `atomic`, one refused item refuses them all and
/// nothing is written (a transaction Bundle); otherwise each item succeeds
/// or fails alone (a batch), an item referring to a failed one failing too.
pub async fn import(app: &App, actor: &Actor, items: &[Item], atomic: bool) -> Result<Report, DomainError> {
    if items.iter().any(|i| matches!(i.body, Body::Patient(..))) {
        actor.require(app, Perm::PatientWrite).await?;
    }
    if items.iter().any(|i| matches!(i.body, Body::Outside(_))) {
        actor.require(app, Perm::Clinical).await?;
    }
    let org = actor.org_id;
    let mut asked: Vec<String> = items.iter().flat_map(|i| i.sources.clone()).collect();
    for i in items {
        if let Body::Outside(r) = &i.body {
            references(r, &mut |s| asked.push(s.to_string()));
        }
    }
    asked.sort();
    asked.dedup();
    let known: HashMap<String, ImportKey> = dayi_store::outside::keys(&app.db, org, &asked)
        .await
        .or_internal()?
        .into_iter()
        .map(|k| (k.source.clone(), k))
        .collect();
    let mut slots = plan(app, actor, items, &known).await?;
    let mut target: HashMap<String, String> =
        known.values().map(|k| (k.source.clone(), format!("{}/{}", k.kind, k.local_id))).collect();
    let mut resources: Vec<Option<Value>> = vec![None; items.len()];
    let mut ours: HashMap<String, bool> = HashMap::new();
    // A failure can strand the entries that refer to it: repeat until none does.
    loop {
        for (i, item) in items.iter().enumerate() {
            let id = match &slots[i] {
                Slot::Failed(_) => continue,
                Slot::Existing(id) | Slot::NewOutside(id) => *id,
                Slot::NewPatient(p, _) => p.id,
            };
            for s in &item.sources {
                target.insert(s.clone(), format!("{}/{id}", item.kind));
            }
        }
        let mut failed = false;
        for (i, item) in items.iter().enumerate() {
            let (Slot::NewOutside(id), Body::Outside(r)) = (&slots[i], &item.body) else { continue };
            match rewrite(app, org, r, *id, &target, &mut ours).await? {
                Ok(r) => resources[i] = Some(r),
                Err(missing) => {
                    slots[i] = Slot::Failed(DomainError::with(ErrorCode::ImportReference, [missing]));
                    failed = true;
                }
            }
        }
        if !failed {
            break;
        }
        target.clear();
        target.extend(known.values().map(|k| (k.source.clone(), format!("{}/{}", k.kind, k.local_id))));
    }
    let refused = slots.iter().any(|s| matches!(s, Slot::Failed(_)));
    let written = !(atomic && refused);
    if written {
        write(app, actor, items, &slots, &resources).await?;
    }
    let answers = slots
        .into_iter()
        .zip(items)
        .map(|(s, item)| match s {
            Slot::Failed(e) => Err(e),
            Slot::Existing(id) => Ok(Done::Existing { kind: item.kind.clone(), id }),
            Slot::NewPatient(p, _) => Ok(Done::Created { kind: item.kind.clone(), id: p.id }),
            Slot::NewOutside(id) => Ok(Done::Created { kind: item.kind.clone(), id }),
        })
        .collect();
    Ok(Report { answers, written })
}

/// Decides each item: known from an earlier import, an existing patient
/// (same document), a new patient (checked as registration checks it), or
/// a new outside record.
async fn plan(
    app: &App,
    actor: &Actor,
    items: &[Item],
    known: &HashMap<String, ImportKey>,
) -> Result<Vec<Slot>, DomainError> {
    let under = policy::int(app, actor.org_id, policy::GUARDIAN_UNDER_AGE).await? as i32;
    let today = today_cst();
    let mut documents: HashMap<(String, String), Uuid> = HashMap::new();
    // Identifiers of the patients this import creates, as the table will hold them.
    let mut claimed: HashMap<ForeignId, Uuid> = HashMap::new();
    let mut slots = Vec::with_capacity(items.len());
    for item in items {
        if let Some(k) = item.sources.iter().find_map(|s| known.get(s)) {
            slots.push(match k.kind == item.kind {
                true => Slot::Existing(k.local_id),
                false => Slot::Failed(DomainError::new(ErrorCode::Conflict)),
            });
            continue;
        }
        let slot = match &item.body {
            Body::Outside(_) if !OUTSIDE_KINDS.contains(&item.kind.as_str()) => {
                Slot::Failed(DomainError::with(ErrorCode::ImportKind, [item.kind.clone(), OUTSIDE_KINDS.join("、")]))
            }
            Body::Outside(_) => Slot::NewOutside(new_id()),
            Body::Patient(form, ids) => match validate(form, today, under) {
                Err(e) => Slot::Failed(e),
                Ok(reg) => {
                    let doc = reg.document.as_ref().map(|d| (d.kind().code().to_string(), d.number().to_string()));
                    let on_file = match &doc {
                        Some((kind, number)) => match documents.get(&(kind.clone(), number.clone())) {
                            Some(id) => Some(*id),
                            None => dayi_store::patient::by_document(&app.db, actor.org_id, kind, number)
                                .await
                                .or_internal()?
                                .map(|p| p.id),
                        },
                        None => None,
                    };
                    match (on_file, identifier::checked(ids)) {
                        (Some(id), _) => Slot::Existing(id),
                        (None, Err(e)) => Slot::Failed(e),
                        (None, Ok(ids)) => match held(app, actor.org_id, &ids, &claimed, doc.is_some()).await? {
                            Some(found) => found,
                            None => {
                                let mut random = [0u8; 32];
                                rand::thread_rng().fill_bytes(&mut random);
                                let p = record(actor.org_id, &reg, Channel::Import, &actor.username, random);
                                if let Some(d) = doc {
                                    documents.insert(d, p.id);
                                }
                                claimed.extend(ids.iter().filter(|i| i.is_unique()).map(|i| (i.clone(), p.id)));
                                Slot::NewPatient(Box::new(p), ids)
                            }
                        },
                    }
                }
            },
        };
        slots.push(slot);
    }
    Ok(slots)
}

/// The patient already holding one of a new patient's identifiers (in our
/// records or earlier in this import), who is then the one meant. When both
/// carry an ID document, theirs differ (it was not found on file): refused.
async fn held(
    app: &App,
    org: Uuid,
    ids: &[ForeignId],
    claimed: &HashMap<ForeignId, Uuid>,
    with_document: bool,
) -> Result<Option<Slot>, DomainError> {
    for id in ids.iter().filter(|i| i.is_unique()) {
        if let Some(p) = claimed.get(id) {
            return Ok(Some(Slot::Existing(*p)));
        }
        let rows = dayi_store::identifier::find(&app.db, org, Some(&id.system), &id.value, 1).await.or_internal()?;
        if let Some(r) = rows.first() {
            let holder = crate::patient::load(app, org, r.patient_id).await?;
            return Ok(Some(match with_document && holder.id_number.is_some() {
                true => Slot::Failed(identifier::duplicate(id, &holder)),
                false => Slot::Existing(holder.id),
            }));
        }
    }
    Ok(None)
}

/// Calls `f` with every `reference` string in a resource.
fn references(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => f(s),
                    _ => references(x, f),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, f)),
        _ => {}
    }
}

/// The resource with our id and every reference pointing at our records;
/// `Err` names the first reference that points nowhere.
async fn rewrite(
    app: &App,
    org: Uuid,
    r: &Value,
    id: Uuid,
    target: &HashMap<String, String>,
    ours: &mut HashMap<String, bool>,
) -> Result<Result<Value, String>, DomainError> {
    let mut refs = vec![];
    references(r, &mut |s| refs.push(s.to_string()));
    let mut map: HashMap<String, String> = HashMap::new();
    for s in refs {
        if s.starts_with('#') || map.contains_key(&s) {
            continue;
        }
        if let Some(t) = target.get(&s) {
            map.insert(s.clone(), t.clone());
        } else if is_ours(app, org, &s, ours).await? {
            map.insert(s.clone(), s.clone());
        } else {
            return Ok(Err(s));
        }
    }
    let mut out = r.clone();
    replace(&mut out, &map);
    out["id"] = Value::String(id.to_string());
    Ok(Ok(out))
}

fn replace(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), &*x) {
                    ("reference", Value::String(s)) => {
                        if let Some(t) = map.get(s) {
                            *x = Value::String(t.clone());
                        }
                    }
                    _ => replace(x, map),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace(x, map)),
        _ => {}
    }
}

/// Whether `Kind/{uuid}` names a patient or outside record of ours.
async fn is_ours(app: &App, org: Uuid, reference: &str, ours: &mut HashMap<String, bool>) -> Result<bool, DomainError> {
    if let Some(b) = ours.get(reference) {
        return Ok(*b);
    }
    let found = match reference.split_once('/').map(|(k, id)| (k, Uuid::parse_str(id))) {
        Some(("Patient", Ok(id))) => dayi_store::patient::get(&app.db, org, id).await.or_internal()?.is_some(),
        Some((kind, Ok(id))) => dayi_store::outside::get(&app.db, org, kind, id).await.or_internal()?.is_some(),
        _ => false,
    };
    ours.insert(reference.to_string(), found);
    Ok(found)
}

/// The patient an outside record belongs to: its subject or patient.
fn patient_of(r: &Value) -> Option<Uuid> {
    ["subject", "patient"].iter().find_map(|k| {
        let s = r[*k]["reference"].as_str()?.strip_prefix("Patient/")?;
        Uuid::parse_str(s).ok()
    })
}

/// Writes the planned patients, records and keys in one transaction.
async fn write(
    app: &App,
    actor: &Actor,
    items: &[Item],
    slots: &[Slot],
    resources: &[Option<Value>],
) -> Result<(), DomainError> {
    let org = actor.org_id;
    let now = now_micros();
    let mut patients: Vec<Patient> = vec![];
    let mut identifiers = vec![];
    let mut records: Vec<OutsideRecord> = vec![];
    let mut keys: Vec<ImportKey> = vec![];
    for (i, (item, slot)) in items.iter().zip(slots).enumerate() {
        let id = match slot {
            Slot::Failed(_) => continue,
            Slot::Existing(id) => *id,
            Slot::NewPatient(p, ids) => {
                patients.push((**p).clone());
                identifiers.extend(identifier::rows(org, p.id, ids, now));
                p.id
            }
            Slot::NewOutside(id) => {
                let Some(r) = &resources[i] else { continue };
                records.push(OutsideRecord {
                    org_id: org,
                    id: *id,
                    kind: item.kind.clone(),
                    patient_id: patient_of(r),
                    resource: r.to_string(),
                    imported_by: actor.username.clone(),
                    imported_at: now,
                });
                *id
            }
        };
        let key = |s: &String| ImportKey { org_id: org, source: s.clone(), kind: item.kind.clone(), local_id: id };
        keys.extend(item.sources.iter().map(key));
    }
    if patients.is_empty() && records.is_empty() && keys.is_empty() {
        return Ok(());
    }
    let mut tx = app.db.begin().await.or_internal()?;
    if !patients.is_empty() {
        let n = patients.len() as i64;
        let last = dayi_store::patient::next_counter(&mut tx, org, "hospital_no", n).await.or_internal()?;
        for (i, p) in patients.iter_mut().enumerate() {
            p.hospital_no = hospital_no(last - n + 1 + i as i64);
        }
        let inserted = match dayi_store::patient::insert(&mut tx, &patients).await {
            Ok(()) => dayi_store::identifier::insert(&mut tx, &identifiers).await,
            Err(e) => Err(e),
        };
        if let Err(e) = inserted {
            // Someone registered one of these documents or identifiers meanwhile.
            return Err(match dayi_store::is_unique_violation(&e) {
                true => DomainError::new(ErrorCode::Conflict),
                false => crate::internal(e),
            });
        }
    }
    dayi_store::outside::insert(&mut tx, &records).await.or_internal()?;
    dayi_store::outside::insert_keys(&mut tx, &keys).await.or_internal()?;
    let mut audit = vec![];
    for p in &patients {
        let detail = format!("{} via=import", mask::name(&p.name));
        audit.push(actor.entry("patient.create", "patient", &p.id.to_string(), Some(p.id), OK, &detail));
    }
    let mut per_patient: Vec<(Option<Uuid>, usize)> = vec![];
    for r in &records {
        match per_patient.iter_mut().find(|(p, _)| *p == r.patient_id) {
            Some((_, n)) => *n += 1,
            None => per_patient.push((r.patient_id, 1)),
        }
    }
    for (p, n) in per_patient {
        let entity = p.map(|p| p.to_string()).unwrap_or_default();
        audit.push(actor.entry("outside.import", "outside_record", &entity, p, OK, &format!("records={n}")));
    }
    dayi_store::audit::append(&mut tx, org, audit).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(())
}

/// Reads one outside record (audited as an access to its patient's record).
pub async fn outside(app: &App, actor: &Actor, kind: &str, id: Uuid) -> Result<OutsideRecord, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    let r = dayi_store::outside::get(&app.db, actor.org_id, kind, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::NotFound))?;
    app.audit.record(actor.entry("outside.read", "outside_record", &id.to_string(), r.patient_id, OK, kind)).await;
    Ok(r)
}
