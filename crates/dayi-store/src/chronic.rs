//! Chronic-disease management (三高共管): the registry, follow-ups, the
//! screening readings, the worklists and the facts behind the indicators.

use std::collections::BTreeMap;

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::walk::{Step, Walk, walked};
use crate::{Db, Result, Tx, args, row};

/// A registry record: one disease of one patient.
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ChronicEnrolment)]
pub struct Enrolment {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    /// `htn`, `t2dm`, `lipid`.
    pub disease: String,
    pub diagnosed_on: String,
    pub enrolled_on: String,
    pub source: String,
    /// The managing doctor's user name.
    pub doctor: String,
    pub village: String,
    /// Co-prevented diseases present, comma-separated codes.
    pub related: String,
    /// `active`, `closed`.
    pub status: String,
    pub closed_on: Option<String>,
    pub closed_reason: String,
    pub next_due: Option<String>,
    pub next_kind: String,
    pub last_class: Option<String>,
    pub last_visit_on: Option<String>,
    pub last_checkup_on: Option<String>,
    pub enrolled_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

crate::lite_row!(Enrolment {
    org_id,
    id,
    patient_id,
    disease,
    diagnosed_on,
    enrolled_on,
    source,
    doctor,
    village,
    related,
    status,
    closed_on,
    closed_reason,
    next_due,
    next_kind,
    last_class,
    last_visit_on,
    last_checkup_on,
    enrolled_by,
    created_at,
    updated_at
});

macro_rules! enrolment_cols {
    () => {
        "org_id, id, patient_id, disease, diagnosed_on, enrolled_on, source, doctor, village, related, status, \
         closed_on, closed_reason, next_due, next_kind, last_class, last_visit_on, last_checkup_on, enrolled_by, \
         created_at, updated_at"
    };
}

/// One follow-up of one registry record.
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize)]
pub struct Followup {
    pub org_id: Uuid,
    pub id: Uuid,
    /// Shared by the rows of one visit that covered several diseases.
    pub round_id: Uuid,
    pub enrolment_id: Uuid,
    pub patient_id: Uuid,
    pub disease: String,
    pub visited_on: String,
    /// `clinic`, `home`, `phone`.
    pub mode: String,
    pub sbp: Option<i64>,
    pub dbp: Option<i64>,
    pub heart_rate: Option<i64>,
    pub weight_milli: Option<i64>,
    pub bmi_tenths: Option<i64>,
    pub fbg_milli: Option<i64>,
    pub ldl_milli: Option<i64>,
    pub class: String,
    pub next_kind: String,
    pub next_due: String,
    pub controlled: Option<bool>,
    /// This visit was also the annual health check.
    pub checkup: bool,
    /// JSON: symptoms, signs, lifestyle, adherence, reactions, medication, advice, reasons.
    pub detail: String,
    pub doctor: String,
    pub created_at: i64,
}

crate::lite_row!(Followup {
    org_id,
    id,
    round_id,
    enrolment_id,
    patient_id,
    disease,
    visited_on,
    mode,
    sbp,
    dbp,
    heart_rate,
    weight_milli,
    bmi_tenths,
    fbg_milli,
    ldl_milli,
    class,
    next_kind,
    next_due,
    controlled,
    checkup,
    detail,
    doctor,
    created_at
});

macro_rules! followup_cols {
    () => {
        "org_id, id, round_id, enrolment_id, patient_id, disease, visited_on, mode, sbp, dbp, heart_rate, \
         weight_milli, bmi_tenths, fbg_milli, ldl_milli, class, next_kind, next_due, controlled, checkup, detail, \
         doctor, created_at"
    };
}

/// Readings from a visit, a lab result or a screening, and what they suggest.
#[derive(Debug, Clone, FromRow, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ChronicScreening)]
pub struct Screening {
    pub org_id: Uuid,
    pub id: Uuid,
    pub patient_id: Uuid,
    pub screened_on: String,
    /// `visit`, `lab`, `screening`.
    pub source: String,
    /// The visit or lab order it came from; a later save replaces it.
    pub source_id: Option<Uuid>,
    pub sbp: Option<i64>,
    pub dbp: Option<i64>,
    pub fbg_milli: Option<i64>,
    pub tc_milli: Option<i64>,
    pub ldl_milli: Option<i64>,
    pub tg_milli: Option<i64>,
    pub hdl_milli: Option<i64>,
    pub bmi_tenths: Option<i64>,
    /// Risk-factor codes, comma-separated.
    pub risks: String,
    /// Disease codes suggested, comma-separated.
    pub suspected: String,
    /// `none`, `open`, `enrolled`, `dismissed`.
    pub proposal: String,
    pub next_due: String,
    pub screened_by: String,
    pub created_at: i64,
}

crate::lite_row!(Screening {
    org_id,
    id,
    patient_id,
    screened_on,
    source,
    source_id,
    sbp,
    dbp,
    fbg_milli,
    tc_milli,
    ldl_milli,
    tg_milli,
    hdl_milli,
    bmi_tenths,
    risks,
    suspected,
    proposal,
    next_due,
    screened_by,
    created_at
});

macro_rules! screening_cols {
    () => {
        "org_id, id, patient_id, screened_on, source, source_id, sbp, dbp, fbg_milli, tc_milli, ldl_milli, \
         tg_milli, hdl_milli, bmi_tenths, risks, suspected, proposal, next_due, screened_by, created_at"
    };
}

pub async fn insert_enrolment(tx: &mut Tx, e: &Enrolment) -> Result<()> {
    insert_enrolments(tx, std::slice::from_ref(e)).await
}

/// Writes every changeable column of a registry record.
pub async fn update_enrolment(tx: &mut Tx, e: &Enrolment) -> Result<()> {
    let sql = "UPDATE chronic_enrolment SET doctor = $3, village = $4, related = $5, status = $6, closed_on = $7, \
               closed_reason = $8, next_due = $9, next_kind = $10, last_class = $11, last_visit_on = $12, \
               last_checkup_on = $13, updated_at = $14 WHERE org_id = $1 AND id = $2";
    tx.execute(
        sql,
        args![
            e.org_id,
            e.id,
            e.doctor.clone(),
            e.village.clone(),
            e.related.clone(),
            e.status.clone(),
            e.closed_on.clone(),
            e.closed_reason.clone(),
            e.next_due.clone(),
            e.next_kind.clone(),
            e.last_class.clone(),
            e.last_visit_on.clone(),
            e.last_checkup_on.clone(),
            e.updated_at
        ],
    )
    .await
    .map(|_| ())
}

pub async fn get_enrolment(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Enrolment>> {
    let sql = concat!("SELECT ", enrolment_cols!(), " FROM chronic_enrolment WHERE org_id = $1 AND id = $2");
    db.optional::<Enrolment>(sql, args![org_id, id]).await
}

pub async fn enrolments_of(db: &Db, org_id: Uuid, patient_id: Uuid) -> Result<Vec<Enrolment>> {
    let sql = concat!(
        "SELECT ",
        enrolment_cols!(),
        " FROM chronic_enrolment WHERE org_id = $1 AND patient_id = $2 ORDER BY created_at"
    );
    db.all::<Enrolment>(sql, args![org_id, patient_id]).await
}

/// Rows per multi-row INSERT, under both databases' bind limits.
const BATCH: usize = 1000;

pub async fn insert_followups(tx: &mut Tx, rows: &[Followup]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new(concat!("INSERT INTO chronic_followup (", followup_cols!(), ") "));
        q.values(chunk, |f| {
            row![
                f.org_id,
                f.id,
                f.round_id,
                f.enrolment_id,
                f.patient_id,
                f.disease.clone(),
                f.visited_on.clone(),
                f.mode.clone(),
                f.sbp,
                f.dbp,
                f.heart_rate,
                f.weight_milli,
                f.bmi_tenths,
                f.fbg_milli,
                f.ldl_milli,
                f.class.clone(),
                f.next_kind.clone(),
                f.next_due.clone(),
                f.controlled,
                f.checkup,
                f.detail.clone(),
                f.doctor.clone(),
                f.created_at
            ]
        });
        tx.execute(&q.text, &q.args).await.map(|_| ())?;
        add_to_years(tx, chunk).await?;
    }
    Ok(())
}

/// What a batch of follow-ups adds to one record's year.
struct YearPart {
    face: i64,
    latest_on: String,
    latest_at: i64,
    latest_controlled: Option<bool>,
}

/// Folds follow-ups into their records' yearly summaries (`chronic_year`):
/// face-to-face visits add up; the later follow-up sets the latest verdict.
/// The batch is folded first, so one statement touches each row once.
async fn add_to_years(tx: &mut Tx, rows: &[Followup]) -> Result<()> {
    let mut parts: BTreeMap<(Uuid, i64, Uuid), YearPart> = BTreeMap::new();
    for f in rows {
        let year = f.visited_on.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
        let face = i64::from(f.mode != "phone");
        let part = parts.entry((f.org_id, year, f.enrolment_id)).or_insert(YearPart {
            face: 0,
            latest_on: String::new(),
            latest_at: i64::MIN,
            latest_controlled: None,
        });
        part.face += face;
        if (f.visited_on.as_str(), f.created_at) >= (part.latest_on.as_str(), part.latest_at) {
            (part.latest_on, part.latest_at, part.latest_controlled) =
                (f.visited_on.clone(), f.created_at, f.controlled);
        }
    }
    let parts: Vec<_> = parts.into_iter().collect();
    let mut q = Sql::new(
        "INSERT INTO chronic_year (org_id, year, enrolment_id, face, latest_on, latest_at, latest_controlled) ",
    );
    q.values(&parts, |((org, year, enrolment), p)| {
        row![*org, *year, *enrolment, p.face, p.latest_on.clone(), p.latest_at, p.latest_controlled]
    });
    // Every SET expression reads the row as it was, so `newer` is asked of the old latest.
    let newer = "(excluded.latest_on > chronic_year.latest_on OR (excluded.latest_on = chronic_year.latest_on \
                 AND excluded.latest_at >= chronic_year.latest_at))";
    q.push(&format!(
        " ON CONFLICT (org_id, year, enrolment_id) DO UPDATE SET face = chronic_year.face + excluded.face, \
         latest_on = CASE WHEN {newer} THEN excluded.latest_on ELSE chronic_year.latest_on END, \
         latest_at = CASE WHEN {newer} THEN excluded.latest_at ELSE chronic_year.latest_at END, \
         latest_controlled = CASE WHEN {newer} THEN excluded.latest_controlled \
         ELSE chronic_year.latest_controlled END"
    ));
    tx.execute(&q.text, &q.args).await.map(|_| ())
}

/// A patient's follow-ups, oldest first.
pub async fn followups_of(db: &Db, org_id: Uuid, patient_id: Uuid) -> Result<Vec<Followup>> {
    let sql = concat!(
        "SELECT ",
        followup_cols!(),
        " FROM chronic_followup WHERE org_id = $1 AND patient_id = $2 ORDER BY visited_on, created_at"
    );
    db.all::<Followup>(sql, args![org_id, patient_id]).await
}

/// The follow-ups of these records, each record's oldest first.
pub async fn followups_of_enrolments(db: &Db, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Followup>> {
    let mut out = vec![];
    for chunk in ids.chunks(BATCH) {
        {
            let mut q = Sql::new(concat!("SELECT ", followup_cols!(), " FROM chronic_followup WHERE org_id = "));
            q.arg(org_id).push(" AND enrolment_id IN (");
            q.list(chunk.iter().copied());
            q.push(") ORDER BY enrolment_id, visited_on, created_at");
            out.extend(db.all::<Followup>(&q.text, &q.args).await?);
        };
    }
    Ok(out)
}

pub async fn insert_screenings(tx: &mut Tx, rows: &[Screening]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new(concat!("INSERT INTO chronic_screening (", screening_cols!(), ") "));
        q.values(chunk, |s| {
            row![
                s.org_id,
                s.id,
                s.patient_id,
                s.screened_on.clone(),
                s.source.clone(),
                s.source_id,
                s.sbp,
                s.dbp,
                s.fbg_milli,
                s.tc_milli,
                s.ldl_milli,
                s.tg_milli,
                s.hdl_milli,
                s.bmi_tenths,
                s.risks.clone(),
                s.suspected.clone(),
                s.proposal.clone(),
                s.next_due.clone(),
                s.screened_by.clone(),
                s.created_at
            ]
        });
        tx.execute(&q.text, &q.args).await.map(|_| ())?;
    }
    Ok(())
}

/// Removes the readings a visit or lab order wrote before, so a resave replaces them.
pub async fn delete_screenings_from(tx: &mut Tx, org_id: Uuid, source_id: Uuid) -> Result<()> {
    let sql = "DELETE FROM chronic_screening WHERE org_id = $1 AND source_id = $2";
    tx.execute(sql, args![org_id, source_id]).await.map(|_| ())
}

/// A patient's readings, oldest first.
pub async fn screenings_of(db: &Db, org_id: Uuid, patient_id: Uuid) -> Result<Vec<Screening>> {
    let sql = concat!(
        "SELECT ",
        screening_cols!(),
        " FROM chronic_screening WHERE org_id = $1 AND patient_id = $2 ORDER BY screened_on, created_at"
    );
    db.all::<Screening>(sql, args![org_id, patient_id]).await
}

pub async fn get_screening(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Screening>> {
    let sql = concat!("SELECT ", screening_cols!(), " FROM chronic_screening WHERE org_id = $1 AND id = $2");
    db.optional::<Screening>(sql, args![org_id, id]).await
}

/// Sets the proposal state of readings (enrolled, dismissed).
pub async fn set_proposal(tx: &mut Tx, org_id: Uuid, ids: &[Uuid], proposal: &str) -> Result<()> {
    for id in ids {
        let sql = "UPDATE chronic_screening SET proposal = $3 WHERE org_id = $1 AND id = $2";
        tx.execute(sql, args![org_id, *id, proposal]).await.map(|_| ())?;
    }
    Ok(())
}

/// A worklist line: a registry record and who it is.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct WorkRow {
    #[sqlx(flatten)]
    pub enrolment: Enrolment,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub phone: Option<String>,
}

crate::lite_row!(WorkRow { name, sex, birth_date, phone } flatten { enrolment });

/// Which registry records a worklist holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work<'a> {
    /// Due from `today` up to and including the day given.
    Due(&'a str),
    /// Due before today.
    Overdue,
    /// Never followed up.
    NeverSeen,
    /// No annual health check since the day given.
    CheckupSince(&'a str),
    /// Referred and awaiting the 2-week follow-up, urgent referrals first.
    Referral,
}

/// Active registry records of one worklist, soonest due first (referrals:
/// urgent first), `limit` of them after skipping `offset`.
#[allow(clippy::too_many_arguments)]
pub async fn worklist(
    db: &Db,
    org_id: Uuid,
    work: Work<'_>,
    today: &str,
    doctor: Option<&str>,
    village: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<WorkRow>> {
    let mut q = Sql::new(
        "SELECT e.org_id, e.id, e.patient_id, e.disease, e.diagnosed_on, e.enrolled_on, e.source, e.doctor, \
         e.village, e.related, e.status, e.closed_on, e.closed_reason, e.next_due, e.next_kind, e.last_class, \
         e.last_visit_on, e.last_checkup_on, e.enrolled_by, e.created_at, e.updated_at, \
         p.name, p.sex, p.birth_date, p.phone \
         FROM chronic_enrolment e JOIN patient p ON p.org_id = e.org_id AND p.id = e.patient_id \
         WHERE e.org_id = ",
    );
    q.arg(org_id).push(" AND e.status = 'active'");
    if let Some(d) = doctor {
        q.push(" AND e.doctor = ").arg(d.to_string());
    }
    if let Some(v) = village {
        q.push(" AND e.village = ").arg(v.to_string());
    }
    match work {
        Work::Due(until) => {
            q.push(" AND e.next_due >= ").arg(today.to_string());
            q.push(" AND e.next_due <= ").arg(until.to_string());
        }
        Work::Overdue => {
            q.push(" AND e.next_due < ").arg(today.to_string());
        }
        Work::NeverSeen => {
            q.push(" AND e.last_visit_on IS NULL");
        }
        Work::CheckupSince(since) => {
            q.push(" AND (e.last_checkup_on IS NULL OR e.last_checkup_on <= ").arg(since.to_string());
            q.push(")");
        }
        Work::Referral => {
            q.push(" AND e.next_kind IN ('referral', 'urgent')");
        }
    }
    // An index gives each order, so the scan stops at the page; the id keeps pages stable.
    q.push(match work {
        Work::Referral => " ORDER BY e.next_kind DESC, e.next_due, e.id",
        _ => " ORDER BY e.next_due, e.id",
    });
    q.push(" LIMIT ").arg(limit).push(" OFFSET ").arg(offset);
    db.all::<WorkRow>(&q.text, &q.args).await
}

/// An open proposal to enrol, and who it is about.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct ProposalRow {
    #[sqlx(flatten)]
    pub screening: Screening,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
}

crate::lite_row!(ProposalRow { name, sex, birth_date } flatten { screening });

pub async fn open_proposals(db: &Db, org_id: Uuid, limit: i64) -> Result<Vec<ProposalRow>> {
    let sql = "SELECT s.org_id, s.id, s.patient_id, s.screened_on, s.source, s.source_id, s.sbp, s.dbp, s.fbg_milli, \
               s.tc_milli, s.ldl_milli, s.tg_milli, s.hdl_milli, s.bmi_tenths, s.risks, s.suspected, s.proposal, \
               s.next_due, s.screened_by, s.created_at, p.name, p.sex, p.birth_date \
               FROM chronic_screening s JOIN patient p ON p.org_id = s.org_id AND p.id = s.patient_id \
               WHERE s.org_id = $1 AND s.proposal = 'open' ORDER BY s.screened_on DESC, s.id LIMIT $2";
    db.all::<ProposalRow>(sql, args![org_id, limit]).await
}

/// A resident due for a screening: no reading whose next check is after today.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct DueResident {
    pub id: Uuid,
    pub name: String,
    pub sex: String,
    pub birth_date: String,
    pub phone: Option<String>,
    pub address: Option<String>,
}

crate::lite_row!(DueResident { id, name, sex, birth_date, phone, address });

/// Residents born on or before `born_by` with no reading due after `today`
/// and no hypertension record (those are seen at follow-ups).
pub async fn screening_due(db: &Db, org_id: Uuid, born_by: &str, today: &str, limit: i64) -> Result<Vec<DueResident>> {
    let sql = "SELECT p.id, p.name, p.sex, p.birth_date, p.phone, p.address FROM patient p \
               WHERE p.org_id = $1 AND p.merged_into IS NULL AND p.birth_date <> '' AND p.birth_date <= $2 \
               AND NOT EXISTS (SELECT 1 FROM chronic_screening s WHERE s.org_id = p.org_id AND s.patient_id = p.id \
                               AND s.next_due > $3) \
               AND NOT EXISTS (SELECT 1 FROM chronic_enrolment e WHERE e.org_id = p.org_id AND e.patient_id = p.id \
                               AND e.disease = 'htn' AND e.status = 'active') \
               ORDER BY p.birth_date, p.id LIMIT $4";
    db.report::<DueResident>(sql, args![org_id, born_by, today, limit]).await
}

/// Per record in force in a year (enrolled by its end, not closed before its
/// start): the year's summary (face-to-face follow-ups, the latest one's
/// verdict) and whether the patient had lipids tested that year (the set of
/// tested patients is built once, from the partial lipid indexes). $1 the
/// organisation, $2 and $3 the year's first and last day, $4 the year.
macro_rules! year_facts {
    () => {
        "SELECT e.id, e.patient_id, e.disease, e.doctor, e.village, COALESCE(y.face, 0) AS face, \
         CAST(CASE WHEN y.latest_controlled THEN 1 WHEN NOT y.latest_controlled THEN 0 END AS BIGINT) AS latest, \
         CAST(CASE WHEN e.patient_id IN (SELECT s.patient_id FROM chronic_screening s WHERE s.org_id = $1 \
              AND s.screened_on >= $2 AND s.screened_on <= $3 \
              AND (s.tc_milli IS NOT NULL OR s.ldl_milli IS NOT NULL OR s.tg_milli IS NOT NULL OR s.hdl_milli IS NOT NULL) \
            UNION SELECT f.patient_id FROM chronic_followup f WHERE f.org_id = $1 \
              AND f.visited_on >= $2 AND f.visited_on <= $3 AND f.ldl_milli IS NOT NULL) THEN 1 ELSE 0 END AS BIGINT) AS lipid \
         FROM chronic_enrolment e \
         LEFT JOIN chronic_year y ON y.org_id = e.org_id AND y.year = $4 AND y.enrolment_id = e.id \
         WHERE e.org_id = $1 AND e.enrolled_on <= $3 AND (e.closed_on IS NULL OR e.closed_on >= $2)"
    };
}

/// A calendar year's first and last day.
fn bounds(year: i64) -> (String, String) {
    (format!("{year:04}-01-01"), format!("{year:04}-12-31"))
}

/// The counts of one (disease, doctor, village).
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Count {
    pub disease: String,
    pub doctor: String,
    pub village: String,
    pub managed: i64,
    pub standard: i64,
    /// Latest follow-up in the period met its target.
    pub controlled: i64,
    pub lipid_tested: i64,
}

crate::lite_row!(Count { disease, doctor, village, managed, standard, controlled, lipid_tested });

/// A year's numerators and denominators by disease, doctor and village.
pub async fn counts(db: &Db, org_id: Uuid, year: i64, standard_visits: i64) -> Result<Vec<Count>> {
    let (from, to) = bounds(year);
    let sql = concat!(
        "SELECT disease, doctor, village, COUNT(*) AS managed, \
         SUM(CASE WHEN face >= $5 THEN 1 ELSE 0 END) AS standard, \
         SUM(CASE WHEN latest = 1 THEN 1 ELSE 0 END) AS controlled, \
         SUM(CASE WHEN lipid = 1 THEN 1 ELSE 0 END) AS lipid_tested FROM (",
        year_facts!(),
        ") t GROUP BY disease, doctor, village"
    );
    db.report::<Count>(sql, args![org_id, from.clone(), to.clone(), year, standard_visits]).await
}

/// One record's facts in a year.
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct YearFact {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub disease: String,
    pub doctor: String,
    pub village: String,
    /// Face-to-face follow-ups.
    pub face: i64,
    /// The latest follow-up: 1 met the target, 0 did not, none: not seen or not measured.
    pub latest: Option<i64>,
    pub lipid: i64,
}

crate::lite_row!(YearFact { id, patient_id, disease, doctor, village, face, latest, lipid });

/// A year's facts of the records of one disease, narrowed to a doctor or village.
pub async fn facts(
    db: &Db,
    org_id: Uuid,
    year: i64,
    disease: &str,
    doctor: Option<&str>,
    village: Option<&str>,
) -> Result<Vec<YearFact>> {
    let (from, to) = bounds(year);
    let sql = concat!(
        "SELECT * FROM (",
        year_facts!(),
        ") t WHERE disease = $5 AND ($6 = '' OR doctor = $6) AND ($7 = '' OR village = $7)"
    );
    db.report::<YearFact>(
        sql,
        args![org_id, from.clone(), to.clone(), year, disease, doctor.unwrap_or(""), village.unwrap_or("")],
    )
    .await
}

/// The villages and doctors of the registry, for the filters.
pub async fn villages(db: &Db, org_id: Uuid) -> Result<Vec<String>> {
    let sql = "SELECT DISTINCT village FROM chronic_enrolment WHERE org_id = $1 AND village <> '' ORDER BY village";
    Ok(db.report::<(String,)>(sql, args![org_id]).await?.into_iter().map(|(v,)| v).collect())
}

/// Many registry records at once (bulk loads for benchmarks and migrations).
pub async fn insert_enrolments(tx: &mut Tx, rows: &[Enrolment]) -> Result<()> {
    for chunk in rows.chunks(BATCH) {
        let mut q = Sql::new(concat!("INSERT INTO chronic_enrolment (", enrolment_cols!(), ") "));
        q.values(chunk, |e| {
            row![
                e.org_id,
                e.id,
                e.patient_id,
                e.disease.clone(),
                e.diagnosed_on.clone(),
                e.enrolled_on.clone(),
                e.source.clone(),
                e.doctor.clone(),
                e.village.clone(),
                e.related.clone(),
                e.status.clone(),
                e.closed_on.clone(),
                e.closed_reason.clone(),
                e.next_due.clone(),
                e.next_kind.clone(),
                e.last_class.clone(),
                e.last_visit_on.clone(),
                e.last_checkup_on.clone(),
                e.enrolled_by.clone(),
                e.created_at,
                e.updated_at
            ]
        });
        tx.execute(&q.text, &q.args).await.map(|_| ())?;
    }
    Ok(())
}

/// The organisation's registry records, open or closed.
pub async fn count_records(db: &Db, org_id: Uuid) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM chronic_enrolment WHERE org_id = $1";
    db.report_scalar::<i64>(sql, args![org_id]).await
}

/// Patients born on or before `born_by` with no registry record, oldest id first.
pub async fn unenrolled_adults(db: &Db, org_id: Uuid, born_by: &str, limit: i64) -> Result<Vec<(Uuid, String)>> {
    let sql = "SELECT p.id, p.birth_date FROM patient p WHERE p.org_id = $1 AND p.merged_into IS NULL \
               AND p.birth_date <> '' AND p.birth_date <= $2 AND NOT EXISTS (SELECT 1 FROM chronic_enrolment e \
               WHERE e.org_id = p.org_id AND e.patient_id = p.id) ORDER BY p.id LIMIT $3";
    db.all::<(Uuid, String)>(sql, args![org_id, born_by, limit]).await
}

pub async fn get_followup(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Followup>> {
    let sql = concat!("SELECT ", followup_cols!(), " FROM chronic_followup WHERE org_id = $1 AND id = $2");
    db.optional::<Followup>(sql, args![org_id, id]).await
}

macro_rules! enrolment_where {
    ($qb:expr, $org:expr, $f:expr) => {
        $qb.push(" FROM chronic_enrolment WHERE org_id = ").arg($org);
    };
}

/// Every registry record in id order, a page at a time.
pub async fn walk_enrolments(db: &Db, org_id: Uuid, step: &Step) -> Result<Walk<Enrolment>> {
    walked!(db, org_id, (), step, enrolment_where, enrolment_cols, "id", Enrolment)
}
