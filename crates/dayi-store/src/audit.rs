//! The append-only audit log and its hash chain (sealing rules in `dayi_core::audit`).

use dayi_core::audit::{Entry, GENESIS, Sealed, seal};
use futures::TryStreamExt;
use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::{Db, Result, Tx, args, row, with_db};

#[derive(Debug, Clone, FromRow)]
pub struct Row {
    pub org_id: Uuid,
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub patient_id: Option<Uuid>,
    pub ip: String,
    pub outcome: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

crate::lite_row!(Row {
    org_id,
    seq,
    at,
    actor_id,
    actor_name,
    action,
    entity,
    entity_id,
    patient_id,
    ip,
    outcome,
    detail,
    prev_hash,
    hash
});

impl Row {
    pub fn into_sealed(self) -> Sealed {
        Sealed {
            entry: Entry {
                org_id: self.org_id,
                seq: self.seq,
                at: self.at,
                actor_id: self.actor_id,
                actor_name: self.actor_name,
                action: self.action,
                entity: self.entity,
                entity_id: self.entity_id,
                patient_id: self.patient_id,
                ip: self.ip,
                outcome: self.outcome,
                detail: self.detail,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

macro_rules! cols {
    () => {
        "org_id, seq, at, actor_id, actor_name, action, entity, entity_id, patient_id, ip, outcome, detail, prev_hash, hash"
    };
}

/// The chain head of an organisation: newest (seq, hash) and the anchor before the oldest kept entry.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
}

crate::lite_row!(Head { seq, hash, anchor_seq, anchor_hash });

/// Reads the head and locks it until the transaction ends, creating it on first use.
async fn lock_head(tx: &mut Tx, org_id: Uuid) -> Result<Head> {
    let init = "INSERT INTO audit_head (org_id, seq, hash, anchor_seq, anchor_hash) VALUES ($1, 0, $2, 0, $2) \
                ON CONFLICT (org_id) DO NOTHING";
    tx.execute(init, args![org_id, GENESIS]).await?;
    // SQLite's write transaction already excludes other writers; PostgreSQL needs the row lock.
    let sql = match tx {
        Tx::Sqlite(_) => "SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE org_id = $1",
        Tx::Postgres(_) => "SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE org_id = $1 FOR UPDATE",
    };
    tx.one::<Head>(sql, args![org_id]).await
}

/// Seals and appends entries (all of one organisation) inside the caller's
/// transaction. Call it last before commit so the head lock is held briefly.
pub async fn append(tx: &mut Tx, org_id: Uuid, entries: Vec<Entry>) -> Result<Vec<Sealed>> {
    if entries.is_empty() {
        return Ok(vec![]);
    }
    let head = lock_head(tx, org_id).await?;
    let sealed = seal(head.seq, &head.hash, entries);
    // Batches of 500 rows stay under both databases' bind-parameter limits.
    for chunk in sealed.chunks(500) {
        let mut q = Sql::new(concat!("INSERT INTO audit_log (", cols!(), ") "));
        q.values(chunk, |s| {
            let e = &s.entry;
            row![
                org_id,
                e.seq,
                e.at,
                e.actor_id,
                e.actor_name.clone(),
                e.action.clone(),
                e.entity.clone(),
                e.entity_id.clone(),
                e.patient_id,
                e.ip.clone(),
                e.outcome.clone(),
                e.detail.clone(),
                s.prev_hash.clone(),
                s.hash.clone()
            ]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    let Some(last) = sealed.last() else { return Ok(sealed) };
    let sql = "UPDATE audit_head SET seq = $2, hash = $3 WHERE org_id = $1";
    tx.execute(sql, args![org_id, last.entry.seq, &last.hash]).await?;
    Ok(sealed)
}

pub async fn head(db: &Db, org_id: Uuid) -> Result<Head> {
    let sql = "SELECT seq, hash, anchor_seq, anchor_hash FROM audit_head WHERE org_id = $1";
    let h = db.optional::<Head>(sql, args![org_id]).await?;
    Ok(h.unwrap_or(Head { seq: 0, hash: GENESIS.into(), anchor_seq: 0, anchor_hash: GENESIS.into() }))
}

/// Every organisation's head with its code, for the anchors written outside
/// the database. Crosses organisations deliberately (architecture §4).
pub async fn heads(db: &Db) -> Result<Vec<(String, Head)>> {
    let sql = "SELECT o.code, h.seq, h.hash, h.anchor_seq, h.anchor_hash FROM audit_head h \
               JOIN org o ON o.org_id = h.org_id ORDER BY o.code";
    let rows: Vec<(String, i64, String, i64, String)> = db.all(sql, args![]).await?;
    Ok(rows
        .into_iter()
        .map(|(code, seq, hash, anchor_seq, anchor_hash)| (code, Head { seq, hash, anchor_seq, anchor_hash }))
        .collect())
}

/// The hash of one kept entry, if it is there.
pub async fn hash_at(db: &Db, org_id: Uuid, seq: i64) -> Result<Option<String>> {
    let sql = "SELECT hash FROM audit_log WHERE org_id = $1 AND seq = $2";
    db.scalar_optional(sql, args![org_id, seq]).await
}

/// Filters for the audit search page. Empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor_name: Option<String>,
    pub action_prefix: Option<String>,
    pub entity_id: Option<String>,
    pub patient_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only entries older than this seq (paging backwards).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

pub async fn search(db: &Db, org_id: Uuid, f: &Filter) -> Result<Vec<Row>> {
    let mut q = Sql::new(concat!("SELECT ", cols!(), " FROM audit_log WHERE org_id = "));
    q.arg(org_id);
    if let Some(v) = &f.actor_name {
        q.push(" AND actor_name = ").arg(v.clone());
    }
    if let Some(v) = &f.action_prefix {
        q.push(" AND action LIKE ").arg(format!("{}%", v.replace('%', "")));
    }
    if let Some(v) = &f.entity_id {
        q.push(" AND entity_id = ").arg(v.clone());
    }
    if let Some(v) = f.patient_id {
        q.push(" AND patient_id = ").arg(v);
    }
    if let Some(v) = &f.outcome {
        q.push(" AND outcome = ").arg(v.clone());
    }
    if let Some(v) = f.from {
        q.push(" AND at >= ").arg(v);
    }
    if let Some(v) = f.to {
        q.push(" AND at < ").arg(v);
    }
    if let Some(v) = f.before_seq {
        q.push(" AND seq < ").arg(v);
    }
    q.push(" ORDER BY seq DESC LIMIT ").arg(f.limit.clamp(1, 1000));
    db.all::<Row>(&q.text, &q.args).await
}

/// Outcome of walking the whole chain of one organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyReport {
    pub org_id: Uuid,
    pub checked: u64,
    pub broken: Option<dayi_core::audit::Break>,
}

/// Streams every kept entry in order and checks the chain against the head.
pub async fn verify(db: &Db, org_id: Uuid) -> Result<VerifyReport> {
    let head = head(db, org_id).await?;
    let mut v = dayi_core::audit::Verifier::new(head.anchor_seq, &head.anchor_hash);
    let sql = concat!("SELECT ", cols!(), " FROM audit_log WHERE org_id = $1 ORDER BY seq");
    let broken = with_db!(db, p => {
        let mut rows = sqlx::query_as::<_, Row>(sql).bind(org_id).fetch(p);
        let mut broken = None;
        while let Some(r) = rows.try_next().await? {
            if let Err(b) = v.next(&r.into_sealed()) {
                broken = Some(b);
                break;
            }
        }
        broken
    });
    let broken = broken.or_else(|| v.finish(head.seq, &head.hash).err());
    Ok(VerifyReport { org_id, checked: v.checked, broken })
}

/// Deletes entries recorded before `cutoff` and moves the anchor to the last
/// deleted one, so the kept chain still verifies. Returns how many were deleted.
pub async fn purge_before(tx: &mut Tx, org_id: Uuid, cutoff: i64) -> Result<u64> {
    let head = lock_head(tx, org_id).await?;
    let sql = "SELECT MIN(seq) FROM audit_log WHERE org_id = $1 AND at >= $2";
    let first_kept: Option<i64> = tx.scalar(sql, args![org_id, cutoff]).await?;
    let last_deleted = first_kept.map(|s| s - 1).unwrap_or(head.seq);
    if last_deleted <= head.anchor_seq {
        return Ok(0);
    }
    let sql = "SELECT hash FROM audit_log WHERE org_id = $1 AND seq = $2";
    let anchor_hash: String = tx.scalar(sql, args![org_id, last_deleted]).await?;
    let sql = "DELETE FROM audit_log WHERE org_id = $1 AND seq <= $2";
    let n = tx.execute(sql, args![org_id, last_deleted]).await?;
    let sql = "UPDATE audit_head SET anchor_seq = $2, anchor_hash = $3 WHERE org_id = $1";
    tx.execute(sql, args![org_id, last_deleted, &anchor_hash]).await?;
    Ok(n)
}

pub async fn count(db: &Db, org_id: Uuid) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM audit_log WHERE org_id = $1";
    db.report_scalar::<i64>(sql, args![org_id]).await
}
