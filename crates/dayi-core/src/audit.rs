//! The audit log's hash chain. Every entry's hash covers its own fields and the
//! previous entry's hash, so a changed, inserted or deleted row breaks the chain
//! from that point on and `dayi audit verify` names it.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The hash that precedes an organisation's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Outcome of the audited action.
pub const OK: &str = "ok";
pub const DENIED: &str = "denied";
pub const FAILED: &str = "failed";

/// One audit record as it is hashed and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub org_id: Uuid,
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    /// What was done, e.g. `patient.read`, `auth.login`, `staff.create`.
    pub action: String,
    /// The kind of record touched, e.g. `patient`, `staff`, `session`.
    pub entity: String,
    pub entity_id: String,
    /// Set whenever the record belongs to a patient, so one patient's accesses can be listed.
    pub patient_id: Option<Uuid>,
    pub ip: String,
    pub outcome: String,
    pub detail: String,
}

impl Entry {
    /// SHA-256 over the previous hash and every field, each length-prefixed so
    /// that no two different entries share a byte string.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut h = Sha256::new();
        let mut put = |s: &[u8]| {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s);
        };
        put(prev_hash.as_bytes());
        put(self.org_id.as_bytes());
        put(&self.seq.to_be_bytes());
        put(&self.at.to_be_bytes());
        put(self.actor_id.map(|u| *u.as_bytes()).unwrap_or_default().as_slice());
        put(self.actor_name.as_bytes());
        put(self.action.as_bytes());
        put(self.entity.as_bytes());
        put(self.entity_id.as_bytes());
        put(self.patient_id.map(|u| *u.as_bytes()).unwrap_or_default().as_slice());
        put(self.ip.as_bytes());
        put(self.outcome.as_bytes());
        put(self.detail.as_bytes());
        hex::encode(h.finalize())
    }
}

/// A stored entry with its chain fields.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub entry: Entry,
    pub prev_hash: String,
    pub hash: String,
}

/// Where verification found the chain broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The entry's fields do not match its hash: it was edited.
    Altered { seq: i64 },
    /// The entry does not follow the one before it: something between was deleted or inserted.
    Gap { expected_seq: i64, found_seq: i64 },
    /// The newest entries are missing: the log ends before the recorded head
    /// (or before an anchor kept outside the database, `crate::anchor`).
    Truncated { head_seq: i64, last_seq: i64 },
    /// The entry is not the one an anchor outside the database recorded: the
    /// chain was sealed again from this entry or an earlier one.
    Rewritten { seq: i64 },
}

impl Break {
    pub fn seq(&self) -> i64 {
        match self {
            Break::Altered { seq } => *seq,
            Break::Gap { expected_seq, .. } => *expected_seq,
            Break::Truncated { last_seq, .. } => last_seq + 1,
            Break::Rewritten { seq } => *seq,
        }
    }
}

/// Checks a run of entries in `seq` order. `anchor` is the (seq, hash) just
/// before the first entry (the genesis or the last purged entry); `head` the
/// newest (seq, hash) the database recorded.
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
    pub checked: u64,
}

impl Verifier {
    pub fn new(anchor_seq: i64, anchor_hash: &str) -> Self {
        Self { expected_seq: anchor_seq + 1, prev_hash: anchor_hash.to_string(), checked: 0 }
    }

    pub fn next(&mut self, s: &Sealed) -> Result<(), Break> {
        if s.entry.seq != self.expected_seq || s.prev_hash != self.prev_hash {
            return Err(Break::Gap { expected_seq: self.expected_seq, found_seq: s.entry.seq });
        }
        if s.entry.hash(&s.prev_hash) != s.hash {
            return Err(Break::Altered { seq: s.entry.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = s.hash.clone();
        self.checked += 1;
        Ok(())
    }

    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Break> {
        let last = self.expected_seq - 1;
        if last != head_seq || self.prev_hash != head_hash {
            return Err(Break::Truncated { head_seq, last_seq: last });
        }
        Ok(())
    }
}

/// Seals entries in order after `(prev_seq, prev_hash)`, giving each its seq and hash.
pub fn seal(prev_seq: i64, prev_hash: &str, entries: Vec<Entry>) -> Vec<Sealed> {
    let mut prev = prev_hash.to_string();
    entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e.seq = prev_seq + 1 + i as i64;
            let hash = e.hash(&prev);
            let s = Sealed { entry: e, prev_hash: prev.clone(), hash: hash.clone() };
            prev = hash;
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> Entry {
        Entry {
            org_id: Uuid::nil(),
            seq: 0,
            at: 1,
            actor_id: None,
            actor_name: "张医生".into(),
            action: action.into(),
            entity: "patient".into(),
            entity_id: "p1".into(),
            patient_id: None,
            ip: "127.0.0.1".into(),
            outcome: OK.into(),
            detail: String::new(),
        }
    }

    fn chain(n: usize) -> Vec<Sealed> {
        seal(0, GENESIS, (0..n).map(|i| entry(&format!("a{i}"))).collect())
    }

    fn verify(rows: &[Sealed], head: (i64, &str)) -> Result<(), Break> {
        let mut v = Verifier::new(0, GENESIS);
        for r in rows {
            v.next(r)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        let last = c.last().unwrap();
        assert_eq!(verify(&c, (5, &last.hash.clone())), Ok(()));
    }

    #[test]
    fn edit_delete_insert_truncate_are_detected() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        let mut edited = c.clone();
        edited[2].entry.detail = "changed".into();
        assert_eq!(verify(&edited, (head.0, &head.1)), Err(Break::Altered { seq: 3 }));

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, (head.0, &head.1)), Err(Break::Gap { expected_seq: 2, found_seq: 3 }));

        let truncated = &c[..4];
        assert_eq!(verify(truncated, (head.0, &head.1)), Err(Break::Truncated { head_seq: 5, last_seq: 4 }));

        // a re-hashed edit still breaks the link to the next entry
        let mut forged = c.clone();
        forged[2].entry.detail = "x".into();
        forged[2].hash = forged[2].entry.hash(&forged[2].prev_hash);
        assert_eq!(verify(&forged, (head.0, &head.1)), Err(Break::Gap { expected_seq: 4, found_seq: 4 }));
    }

    #[test]
    fn fields_are_unambiguous() {
        let mut a = entry("ab");
        a.entity = "c".into();
        let mut b = entry("a");
        b.entity = "bc".into();
        assert_ne!(a.hash(GENESIS), b.hash(GENESIS));
    }
}
