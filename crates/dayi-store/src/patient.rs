//! The patient index: records, search by every key a station types, the
//! duplicate finder and merges (with undo).

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::walk::{Step, Walk, walked};
use crate::{Db, Result, Tx, args, row};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Patient {
    pub org_id: Uuid,
    pub id: Uuid,
    /// The number printed on the hospital card (就诊卡号).
    pub hospital_no: String,
    /// The electronic health card id (64 hex).
    pub card_id: String,
    pub name: String,
    pub name_pinyin: String,
    pub name_initials: String,
    /// GB/T 2261.1 code.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    pub ethnicity: Option<String>,
    pub id_kind: Option<String>,
    pub id_number: Option<String>,
    /// The ID number reversed, so "ends with" is an index range.
    pub id_rev: Option<String>,
    pub nationality: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub insurance: String,
    pub emergency_name: Option<String>,
    pub emergency_relation: Option<String>,
    pub emergency_phone: Option<String>,
    pub guardian_name: Option<String>,
    pub guardian_relation: Option<String>,
    pub guardian_id_number: Option<String>,
    pub guardian_phone: Option<String>,
    pub channel: String,
    /// Set when this record was merged into another; it then only forwards.
    pub merged_into: Option<Uuid>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! cols {
    () => {
        "org_id, id, hospital_no, card_id, name, name_pinyin, name_initials, sex, birth_date, ethnicity, \
         id_kind, id_number, id_rev, nationality, phone, address, region_code, insurance, emergency_name, \
         emergency_relation, emergency_phone, guardian_name, guardian_relation, guardian_id_number, guardian_phone, \
         channel, merged_into, created_by, created_at, updated_at"
    };
}

/// Tables with a `patient_id` column and an `id` key: a merge re-points their
/// rows. Each capability that stores patient data adds its tables here. The
/// audit log is deliberately absent: it records what happened, unchanged.
pub const REFERENCES: &[(&str, &str)] = &[
    ("card_use", "id"),
    ("booking", "id"),
    ("charge", "id"),
    ("notification", "id"),
    ("message", "id"),
    ("triage", "id"),
    ("visit", "id"),
    ("visit_order", "id"),
    ("certificate", "id"),
    ("payment", "id"),
    ("refund", "id"),
    ("specimen", "id"),
    ("lab_test", "order_id"),
    ("lab_result", "id"),
    ("lab_alert", "id"),
    ("outside_record", "id"),
    ("patient_identifier", "id"),
    ("chronic_enrolment", "id"),
    ("chronic_followup", "id"),
    ("chronic_screening", "id"),
];

/// Tables whose `patient_id` a merge leaves alone, and why.
pub const NOT_MOVED: &[&str] = &[
    // the record itself, and the log that must show what happened to whom
    "patient",
    "audit_log",
    // a sign-in of the person who signed in; a block of that person's bookings
    "portal_session",
    "booking_block",
    // today's queue, keyed by its booking (which moves)
    "queue_entry",
];

/// Rows per multi-row INSERT: 30 columns × 500 stays under both databases'
/// bind-parameter limits.
const BATCH: usize = 500;

/// Inserts records in batches inside the caller's transaction.
pub async fn insert(tx: &mut Tx, rows: &[Patient]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new(concat!("INSERT INTO patient (", cols!(), ") "));
        q.values(chunk, |p| {
            row![
                p.org_id,
                p.id,
                p.hospital_no.clone(),
                p.card_id.clone(),
                p.name.clone(),
                p.name_pinyin.clone(),
                p.name_initials.clone(),
                p.sex.clone(),
                p.birth_date.clone(),
                p.ethnicity.clone(),
                p.id_kind.clone(),
                p.id_number.clone(),
                p.id_rev.clone(),
                p.nationality.clone(),
                p.phone.clone(),
                p.address.clone(),
                p.region_code.clone(),
                p.insurance.clone(),
                p.emergency_name.clone(),
                p.emergency_relation.clone(),
                p.emergency_phone.clone(),
                p.guardian_name.clone(),
                p.guardian_relation.clone(),
                p.guardian_id_number.clone(),
                p.guardian_phone.clone(),
                p.channel.clone(),
                p.merged_into,
                p.created_by.clone(),
                p.created_at,
                p.updated_at
            ]
        });
        tx.execute(&q.text, &q.args).await?;
    }
    Ok(())
}

crate::lite_row!(Patient {
    org_id,
    id,
    hospital_no,
    card_id,
    name,
    name_pinyin,
    name_initials,
    sex,
    birth_date,
    ethnicity,
    id_kind,
    id_number,
    id_rev,
    nationality,
    phone,
    address,
    region_code,
    insurance,
    emergency_name,
    emergency_relation,
    emergency_phone,
    guardian_name,
    guardian_relation,
    guardian_id_number,
    guardian_phone,
    channel,
    merged_into,
    created_by,
    created_at,
    updated_at,
});

pub async fn get(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Patient>> {
    let sql = concat!("SELECT ", cols!(), " FROM patient WHERE org_id = $1 AND id = $2");
    db.optional(sql, args![org_id, id]).await
}

pub async fn get_many(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Patient>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = Sql::new(concat!("SELECT ", cols!(), " FROM patient WHERE org_id = "));
        q.arg(org_id).push(" AND id IN (").list(chunk).push(")");
        out.extend(db.all::<Patient>(&q.text, &q.args).await?);
    }
    Ok(out)
}

/// Rewrites an active record's demographics if it is still the version the
/// caller read (`updated_at` is the version). `false` when someone changed
/// or merged it meanwhile. Identity keys (hospital number, card id) and the
/// creation facts never change.
pub async fn update(tx: &mut Tx, p: &Patient, read_version: i64) -> Result<bool> {
    let sql = "UPDATE patient SET name = $3, name_pinyin = $4, name_initials = $5, sex = $6, birth_date = $7, \
               ethnicity = $8, id_kind = $9, id_number = $10, id_rev = $11, nationality = $12, phone = $13, \
               address = $14, region_code = $15, insurance = $16, emergency_name = $17, emergency_relation = $18, \
               emergency_phone = $19, guardian_name = $20, guardian_relation = $21, guardian_id_number = $22, \
               guardian_phone = $23, updated_at = $24 \
               WHERE org_id = $1 AND id = $2 AND updated_at = $25 AND merged_into IS NULL";
    let n = tx
        .execute(
            sql,
            args![
                p.org_id,
                p.id,
                &p.name,
                &p.name_pinyin,
                &p.name_initials,
                &p.sex,
                &p.birth_date,
                &p.ethnicity,
                &p.id_kind,
                &p.id_number,
                &p.id_rev,
                &p.nationality,
                &p.phone,
                &p.address,
                &p.region_code,
                &p.insurance,
                &p.emergency_name,
                &p.emergency_relation,
                &p.emergency_phone,
                &p.guardian_name,
                &p.guardian_relation,
                &p.guardian_id_number,
                &p.guardian_phone,
                p.updated_at,
                read_version
            ],
        )
        .await?;
    Ok(n == 1)
}

/// The active record holding this document (merged records forward and are skipped).
pub async fn by_document(db: &Db, org_id: Uuid, kind: &str, number: &str) -> Result<Option<Patient>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM patient WHERE org_id = $1 AND id_kind = $2 AND id_number = $3 AND merged_into IS NULL"
    );
    db.optional(sql, args![org_id, kind, number]).await
}

pub async fn by_card(db: &Db, org_id: Uuid, card_id: &str) -> Result<Option<Patient>> {
    let sql = concat!("SELECT ", cols!(), " FROM patient WHERE org_id = $1 AND card_id = $2");
    db.optional(sql, args![org_id, card_id]).await
}

pub async fn by_hospital_no(db: &Db, org_id: Uuid, no: &str) -> Result<Option<Patient>> {
    let sql = concat!("SELECT ", cols!(), " FROM patient WHERE org_id = $1 AND hospital_no = $2");
    db.optional(sql, args![org_id, no]).await
}

/// The patient whose hospital number lies in `[from, to)` (numbers of one
/// length compare as text in numeric order): a number's sequence part found
/// without its random digits.
pub async fn by_hospital_no_range(db: &Db, org_id: Uuid, from: &str, to: &str) -> Result<Option<Patient>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM patient WHERE org_id = $1 AND hospital_no >= $2 AND hospital_no < $3 ORDER BY hospital_no LIMIT 1"
    );
    db.optional(sql, args![org_id, from, to]).await
}

/// Which search key a query uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Name,
    Pinyin,
    Initials,
    IdRev,
    Phone,
    HospitalNo,
    CardId,
    IdNumber,
}

/// The smallest string greater than every string starting with `prefix`:
/// the last character incremented. Both databases compare these columns
/// byte-wise, where that order holds.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    if let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        chars.push(char::from_u32(next).unwrap_or(char::MAX));
    }
    chars.into_iter().collect()
}

/// Active records whose key starts with (prefix keys) or equals (exact keys) `value`.
pub async fn search(db: &Db, org_id: Uuid, key: Key, value: &str, limit: i64) -> Result<Vec<Patient>> {
    macro_rules! range {
        ($col:literal) => {
            concat!(
                "SELECT ",
                cols!(),
                " FROM patient WHERE org_id = $1 AND ",
                $col,
                " >= $2 AND ",
                $col,
                " < $3 AND merged_into IS NULL ORDER BY ",
                $col,
                " LIMIT $4"
            )
        };
    }
    macro_rules! exact {
        ($col:literal) => {
            concat!(
                "SELECT ",
                cols!(),
                " FROM patient WHERE org_id = $1 AND ",
                $col,
                " = $2 AND merged_into IS NULL LIMIT $4"
            )
        };
    }
    if key == Key::IdNumber {
        return by_number(db, org_id, value, limit).await;
    }
    let sql = match key {
        Key::Name => range!("name"),
        Key::Pinyin => range!("name_pinyin"),
        Key::Initials => range!("name_initials"),
        Key::IdRev => range!("id_rev"),
        Key::Phone => exact!("phone"),
        Key::HospitalNo => exact!("hospital_no"),
        Key::CardId => exact!("card_id"),
        Key::IdNumber => unreachable!("by_number"),
    };
    let end = prefix_end(value);
    db.all(sql, args![org_id, value, end, limit]).await
}

/// Active records holding a document number, of any kind. The index on
/// documents is `(org_id, id_kind, id_number)`: naming every kind lets both
/// databases seek it, one probe per kind. Without the kinds SQLite walked
/// every record of the organisation (0.7 s a search at 20,000 patients).
async fn by_number(db: &Db, org_id: Uuid, number: &str, limit: i64) -> Result<Vec<Patient>> {
    let mut q = Sql::new(concat!("SELECT ", cols!(), " FROM patient WHERE org_id = "));
    q.arg(org_id).push(" AND id_kind IN (").list(dayi_core::identity::IdKind::ALL.iter().map(|k| k.code()));
    q.push(") AND id_number = ").arg(number).push(" AND merged_into IS NULL LIMIT ").arg(limit);
    db.all(&q.text, &q.args).await
}

/// Active records that may be the same person as `p`: same name and birth
/// date, same pinyin and birth date (张/章), or same phone.
pub async fn duplicates_of(db: &Db, p: &Patient, limit: i64) -> Result<Vec<Patient>> {
    let sql = concat!(
        "SELECT ",
        cols!(),
        " FROM patient WHERE org_id = $1 AND id <> $2 AND merged_into IS NULL AND \
         ((name_pinyin = $3 AND birth_date = $4) OR (name = $5 AND birth_date = $4) OR phone = $6) LIMIT $7"
    );
    db.all(sql, args![p.org_id, p.id, &p.name_pinyin, &p.birth_date, &p.name, &p.phone, limit]).await
}

/// Pairs of active records in the organisation that look like one person:
/// (first id, second id, reason `pinyin_birth` or `phone`).
pub async fn duplicate_pairs(db: &Db, org_id: Uuid, limit: i64) -> Result<Vec<(Uuid, Uuid, String)>> {
    let sql = "SELECT a.id, b.id, 'pinyin_birth' FROM patient a JOIN patient b ON b.org_id = a.org_id \
               AND b.name_pinyin = a.name_pinyin AND b.birth_date = a.birth_date AND b.id > a.id \
               WHERE a.org_id = $1 AND a.merged_into IS NULL AND b.merged_into IS NULL \
               UNION \
               SELECT a.id, b.id, 'phone' FROM patient a JOIN patient b ON b.org_id = a.org_id \
               AND b.phone = a.phone AND b.id > a.id \
               WHERE a.org_id = $1 AND a.phone IS NOT NULL AND a.merged_into IS NULL AND b.merged_into IS NULL \
               LIMIT $2";
    db.report(sql, args![org_id, limit]).await
}

/// The next value of a per-organisation counter (1, 2, …), inside the caller's transaction.
pub async fn next_counter(tx: &mut Tx, org_id: Uuid, name: &str, by: i64) -> Result<i64> {
    let sql = "INSERT INTO counter (org_id, name, value) VALUES ($1, $2, $3) \
               ON CONFLICT (org_id, name) DO UPDATE SET value = counter.value + excluded.value RETURNING value";
    tx.scalar::<i64>(sql, args![org_id, name, by]).await
}

/// Advances several counters at once: (name, by) → (name, new value).
pub async fn next_counters(tx: &mut Tx, org_id: Uuid, steps: &[(String, i64)]) -> Result<Vec<(String, i64)>> {
    if steps.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new("INSERT INTO counter (org_id, name, value) ");
    q.values(steps, |(name, by)| row![org_id, name.clone(), *by]);
    q.push(" ON CONFLICT (org_id, name) DO UPDATE SET value = counter.value + excluded.value RETURNING name, value");
    tx.all::<(String, i64)>(&q.text, &q.args).await
}

/// The organisation's secret for `purpose`, created from `fresh` on first use.
pub async fn secret(tx: &mut Tx, org_id: Uuid, purpose: &str, fresh: &[u8], now: i64) -> Result<Vec<u8>> {
    let ins = "INSERT INTO org_secret (org_id, purpose, secret, created_at) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (org_id, purpose) DO NOTHING";
    let sel = "SELECT secret FROM org_secret WHERE org_id = $1 AND purpose = $2";
    tx.execute(ins, args![org_id, purpose, fresh, now]).await?;
    tx.scalar::<Vec<u8>>(sel, args![org_id, purpose]).await
}

/// A merge of one record into another.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Merge {
    pub org_id: Uuid,
    pub id: Uuid,
    pub survivor_id: Uuid,
    pub merged_id: Uuid,
    pub reason: String,
    pub merged_by: String,
    pub merged_at: i64,
    pub undone_by: Option<String>,
    pub undone_at: Option<i64>,
}

crate::lite_row!(Merge { org_id, id, survivor_id, merged_id, reason, merged_by, merged_at, undone_by, undone_at });

macro_rules! merge_cols {
    () => {
        "org_id, id, survivor_id, merged_id, reason, merged_by, merged_at, undone_by, undone_at"
    };
}

/// Marks `m.merged_id` as merged into `m.survivor_id` and re-points every
/// reference, remembering which rows moved. Returns the number of rows moved,
/// or `None` when either record is no longer active (someone merged first).
pub async fn merge(tx: &mut Tx, m: &Merge) -> Result<Option<u64>> {
    let mark =
        "UPDATE patient SET merged_into = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 AND merged_into IS NULL";
    let marked = tx.execute(mark, args![m.org_id, m.merged_id, m.survivor_id, m.merged_at]).await?;
    let alive = "SELECT COUNT(*) FROM patient WHERE org_id = $1 AND id = $2 AND merged_into IS NULL";
    let survivor_alive = tx.scalar::<i64>(alive, args![m.org_id, m.survivor_id]).await?;
    if marked != 1 || survivor_alive != 1 {
        return Ok(None);
    }
    let sql = concat!("INSERT INTO patient_merge (", merge_cols!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    tx.execute(
        sql,
        args![
            m.org_id,
            m.id,
            m.survivor_id,
            m.merged_id,
            &m.reason,
            &m.merged_by,
            m.merged_at,
            &m.undone_by,
            m.undone_at
        ],
    )
    .await?;
    let mut moved = 0;
    for (table, key) in REFERENCES {
        // Table names come from the constant list above, never from input.
        let sql = format!("UPDATE {table} SET patient_id = $3 WHERE org_id = $1 AND patient_id = $2 RETURNING {key}");
        let ids = tx.scalars::<Uuid>(&sql, args![m.org_id, m.merged_id, m.survivor_id]).await?;
        moved += ids.len() as u64;
        for chunk in ids.chunks(BATCH) {
            let mut q = Sql::new("INSERT INTO patient_merge_move (org_id, merge_id, tbl, row_id) ");
            q.values(chunk, |id| row![m.org_id, m.id, *table, *id]);
            tx.execute(&q.text, &q.args).await?;
        }
    }
    Ok(Some(moved))
}

pub async fn get_merge(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Merge>> {
    let sql = concat!("SELECT ", merge_cols!(), " FROM patient_merge WHERE org_id = $1 AND id = $2");
    db.optional::<Merge>(sql, args![org_id, id]).await
}

/// Merges that touched this patient, newest first.
pub async fn merges_of(db: &Db, org_id: Uuid, patient_id: Uuid) -> Result<Vec<Merge>> {
    let sql = concat!(
        "SELECT ",
        merge_cols!(),
        " FROM patient_merge WHERE org_id = $1 AND (merged_id = $2 OR survivor_id = $2) ORDER BY merged_at DESC"
    );
    db.all::<Merge>(sql, args![org_id, patient_id]).await
}

pub async fn recent_merges(db: &Db, org_id: Uuid, limit: i64) -> Result<Vec<Merge>> {
    let sql =
        concat!("SELECT ", merge_cols!(), " FROM patient_merge WHERE org_id = $1 ORDER BY merged_at DESC LIMIT $2");
    db.all::<Merge>(sql, args![org_id, limit]).await
}

/// Undoes a merge: the merged record is active again and exactly the rows the
/// merge moved go back to it. `Ok(false)` when the merge was undone already
/// or the survivor has since been merged itself. A unique violation means the
/// merged record's ID number was taken meanwhile.
pub async fn undo_merge(tx: &mut Tx, m: &Merge, by: &str, now: i64) -> Result<bool> {
    let close =
        "UPDATE patient_merge SET undone_by = $3, undone_at = $4 WHERE org_id = $1 AND id = $2 AND undone_at IS NULL";
    let closed = tx.execute(close, args![m.org_id, m.id, by, now]).await?;
    let revive = "UPDATE patient SET merged_into = NULL, updated_at = $4 WHERE org_id = $1 AND id = $2 AND merged_into = $3 \
                  AND EXISTS (SELECT 1 FROM patient s WHERE s.org_id = $1 AND s.id = $3 AND s.merged_into IS NULL)";
    if closed != 1 {
        return Ok(false);
    }
    let revived = tx.execute(revive, args![m.org_id, m.merged_id, m.survivor_id, now]).await?;
    if revived != 1 {
        return Ok(false);
    }
    for (table, key) in REFERENCES {
        let sql = format!(
            "UPDATE {table} SET patient_id = $3 WHERE org_id = $1 AND patient_id = $4 AND {key} IN \
             (SELECT row_id FROM patient_merge_move WHERE org_id = $1 AND merge_id = $2 AND tbl = $5)"
        );
        tx.execute(&sql, args![m.org_id, m.id, m.merged_id, m.survivor_id, *table]).await?;
    }
    Ok(true)
}

pub async fn count(db: &Db, org_id: Uuid) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM patient WHERE org_id = $1";
    db.scalar::<i64>(sql, args![org_id]).await
}

macro_rules! active_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM patient WHERE org_id = ").arg($org).push(" AND merged_into IS NULL");
    };
}

/// Active records in id order, a page at a time (merged ones only forward).
pub async fn walk(db: &Db, org_id: Uuid, step: &Step) -> Result<Walk<Patient>> {
    walked!(db, org_id, (), step, active_where, cols, "id", Patient)
}
