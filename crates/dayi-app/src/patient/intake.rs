//! Group commit for new patient records. SQLite has one writer, so the
//! morning queue at the counters is served best by writing many
//! registrations in one transaction: one counter step, one multi-row insert,
//! one audit append, one commit (`batch::Batcher`). A batch that fails (a
//! document registered by two counters at once) is retried one record at a
//! time so each caller gets its own answer. A record's identifiers from other
//! systems are written with it.

use std::collections::BTreeMap;

use dayi_core::audit::Entry;
use dayi_store::identifier::Identifier;
use dayi_store::patient::Patient;
use dayi_store::{Db, StoreError};
use uuid::Uuid;

use crate::batch::Batcher;

/// Registrations committed together at most.
const BATCH: usize = 256;

#[derive(Clone)]
pub struct Intake(Batcher<Registration, Patient>);

impl Intake {
    pub fn start(db: Db) -> Self {
        Self(Batcher::start(db, "intake", BATCH, |db, jobs| async move { write(&db, jobs).await }))
    }

    /// Numbers and stores the record with its identifiers and audit entry;
    /// returns it once committed.
    pub async fn write(&self, p: Patient, ids: Vec<Identifier>, e: Entry) -> Result<Patient, StoreError> {
        self.0.submit((p, ids, e)).await
    }
}

/// A record, its identifiers and its audit entry.
type Registration = (Patient, Vec<Identifier>, Entry);

async fn write(db: &Db, jobs: Vec<Registration>) -> Result<Vec<Patient>, StoreError> {
    let mut tx = db.begin().await?;
    let mut by_org: BTreeMap<Uuid, Vec<usize>> = BTreeMap::new();
    for (i, (p, _, _)) in jobs.iter().enumerate() {
        by_org.entry(p.org_id).or_default().push(i);
    }
    let mut ids: Vec<Identifier> = vec![];
    let (mut rows, mut entries): (Vec<Patient>, Vec<Entry>) = jobs
        .into_iter()
        .map(|(p, i, e)| {
            ids.extend(i);
            (p, e)
        })
        .unzip();
    for (org, idx) in &by_org {
        let last = dayi_store::patient::next_counter(&mut tx, *org, "hospital_no", idx.len() as i64).await?;
        let first = last - idx.len() as i64 + 1;
        for (k, i) in idx.iter().enumerate() {
            let no = crate::patient::hospital_no(first + k as i64);
            entries[*i].detail = format!("{no} {}", entries[*i].detail);
            rows[*i].hospital_no = no;
        }
    }
    dayi_store::patient::insert(&mut tx, &rows).await?;
    dayi_store::identifier::insert(&mut tx, &ids).await?;
    for (org, idx) in by_org {
        let mine = idx.iter().map(|i| entries[*i].clone()).collect();
        dayi_store::audit::append(&mut tx, org, mine).await?;
    }
    tx.commit().await?;
    Ok(rows)
}
