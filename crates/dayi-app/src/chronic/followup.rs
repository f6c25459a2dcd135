//! A follow-up visit (随访): one round covers every registry record of the
//! patient it names, classifies each by the standard and sets its next visit.

use dayi_core::audit::OK;
use dayi_core::chronic::{
    Assessment, Class, Disease, Findings, Measured, Mode, Reading, Rules, classify, parse_reading,
};
use dayi_core::error::Checks;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::chronic::{Enrolment, Followup};
use serde::{Deserialize, Serialize};
use time::{Date, Duration};
use uuid::Uuid;

use super::{age_of, day, parse_day, past_day, require_work, rules};
use crate::{Actor, App, OrInternal};

/// What the follow-up form submits.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct FollowupForm {
    pub patient_id: String,
    #[schema(format = Date)]
    pub visited_on: String,
    #[schema(value_type = dayi_core::chronic::Mode)]
    pub mode: String,
    /// Disease codes this visit covers; empty covers every active record.
    #[schema(value_type = Vec<dayi_core::chronic::Disease>)]
    pub diseases: Vec<String>,
    #[serde(flatten)]
    pub measured: Measured,
    /// Emergency signs ticked (codes of `chronic.rules` emergency_signs).
    pub signs: Vec<String>,
    pub pregnant: bool,
    /// The reaction, in words; empty when none.
    pub adverse: String,
    pub adverse_persisting: bool,
    /// A new or worsening complication, in words; empty when none.
    pub complication: String,
    /// Co-prevented diseases found (六病同防 codes), added to the records.
    pub related: Vec<String>,
    #[serde(flatten)]
    pub detail: Detail,
    /// This visit was also the annual health check.
    pub checkup: bool,
}

/// The rest of the standard's form, kept as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Detail {
    pub symptoms: String,
    /// Cigarettes a day.
    pub smoking: String,
    /// Liquor, liang (两) a day.
    pub drinking: String,
    /// Times a week and minutes each.
    pub exercise: String,
    /// 轻 / 中 / 重
    pub salt: String,
    /// 规律 / 间断 / 不服药
    pub adherence: String,
    pub medication: String,
    /// Diabetes: 触及正常 / 减弱 / 消失
    pub dorsalis_pedis: String,
    pub advice: String,
    // Set by `record` from the form's own fields and the classification.
    pub adverse: String,
    pub complication: String,
    pub signs: Vec<String>,
    pub reasons: Vec<String>,
}

/// The classification of each record the round covered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub round_id: Uuid,
    pub patient_id: Uuid,
    pub visited_on: String,
    pub results: Vec<(Disease, Assessment, String)>,
}

const CHOICES: &[(&str, &[&str])] = &[
    ("salt", &["", "轻", "中", "重"]),
    ("adherence", &["", "规律", "间断", "不服药"]),
    ("dorsalis_pedis", &["", "触及正常", "减弱", "消失"]),
];

/// Records one follow-up round: the form checked, every chosen registry
/// record classified, then the rows, the records' plans and the audit in one go.
pub async fn record(app: &App, actor: &Actor, f: &FollowupForm) -> Result<Outcome, DomainError> {
    require_work(app, actor).await?;
    let patient = super::patient_of(app, actor, &f.patient_id).await?;
    let patient_id = patient.id;
    let r = rules(app, actor.org_id).await?;
    let (visited, mode, reading) = check_form(f, &r, today_cst())?;
    let all = dayi_store::chronic::enrolments_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    let chosen = chosen_records(all, &f.diseases)?;
    let age = age_of(&patient.birth_date, visited).unwrap_or(0);
    let findings = findings_of(f, reading, age);
    let planned = classify_records(&chosen, &findings, visited, &r)?;
    let now = now_micros();
    let round = Round {
        actor,
        f,
        id: crate::new_id(),
        patient_id,
        visited,
        visited_on: day(visited),
        mode,
        reading,
        signs: findings.signs,
        now,
    };
    round.save(app, planned).await
}

/// Checks the whole form at once: the day, the mode, the measurements, the
/// lengths of the texts and the choices.
fn check_form(f: &FollowupForm, r: &Rules, today: Date) -> Result<(Date, Mode, Reading), DomainError> {
    let mut checks = Checks::new();
    let visited = checks.take("visited_on", past_day("visited_on", &f.visited_on, today));
    let mode = Mode::parse(f.mode.trim());
    if mode.is_none() {
        checks.add("mode", ErrorCode::Required, [""; 0]);
    }
    let reading = checks.take("measured", parse_reading(&f.measured, r));
    check_lengths(&mut checks, f);
    check_choices(&mut checks, &f.detail);
    super::check_related(&mut checks, r, &f.related);
    checks.finish()?;
    let (Some(visited), Some(mode), Some(reading)) = (visited, mode, reading) else {
        return Err(DomainError::new(ErrorCode::Validation));
    };
    Ok((visited, mode, reading))
}

fn check_lengths(checks: &mut Checks, f: &FollowupForm) {
    for (field, value, max) in [
        ("symptoms", &f.detail.symptoms, 500),
        ("medication", &f.detail.medication, 1000),
        ("advice", &f.detail.advice, 1000),
        ("adverse", &f.adverse, 200),
        ("complication", &f.complication, 200),
        ("smoking", &f.detail.smoking, 20),
        ("drinking", &f.detail.drinking, 20),
        ("exercise", &f.detail.exercise, 40),
    ] {
        if value.chars().count() > max {
            checks.add(field, ErrorCode::TooLong, [max]);
        }
    }
}

/// The standard's fixed answers: empty or one of `CHOICES`.
fn check_choices(checks: &mut Checks, d: &Detail) {
    for (field, allowed) in CHOICES {
        let value = match *field {
            "salt" => &d.salt,
            "adherence" => &d.adherence,
            _ => &d.dorsalis_pedis,
        };
        if !allowed.contains(&value.trim()) {
            checks.add(field, ErrorCode::InvalidFormat, [allowed[1..].join("/")]);
        }
    }
}

/// The patient's active records of the diseases asked for (all of them when
/// none is asked for); at least one.
fn chosen_records(all: Vec<Enrolment>, diseases: &[String]) -> Result<Vec<Enrolment>, DomainError> {
    let active: Vec<_> = all.into_iter().filter(|e| e.status == "active").collect();
    let chosen: Vec<_> = active
        .into_iter()
        .filter(|e| diseases.iter().all(|d| d.is_empty()) || diseases.iter().any(|d| d == &e.disease))
        .collect();
    if chosen.is_empty() {
        return Err(DomainError::field("diseases", ErrorCode::ChronicNotEnrolled, [""; 0]));
    }
    Ok(chosen)
}

fn findings_of(f: &FollowupForm, reading: Reading, age: i32) -> Findings {
    Findings {
        reading,
        age,
        signs: f.signs.iter().filter(|s| !s.is_empty()).cloned().collect(),
        pregnant: f.pregnant,
        adverse: !f.adverse.trim().is_empty(),
        adverse_persisting: f.adverse_persisting && !f.adverse.trim().is_empty(),
        complication: !f.complication.trim().is_empty(),
    }
}

/// A record with its disease and the classification of this visit.
type Planned = (Enrolment, Disease, Assessment);

/// Classifies the visit for each record; a visit before a diagnosis or a
/// reading a disease cannot use refuses the round.
fn classify_records(
    chosen: &[Enrolment],
    findings: &Findings,
    visited: Date,
    r: &Rules,
) -> Result<Vec<Planned>, DomainError> {
    let mut checks = Checks::new();
    let mut planned = vec![];
    for e in chosen {
        let disease = Disease::parse(&e.disease).ok_or_else(|| crate::internal("unknown disease in registry"))?;
        if parse_day("diagnosed_on", &e.diagnosed_on)? > visited {
            checks.add("visited_on", ErrorCode::ChronicBeforeDiagnosis, [disease.zh(), e.diagnosed_on.as_str()]);
            continue;
        }
        // The previous class counts only for a visit after the last one.
        let previous = e
            .last_class
            .as_deref()
            .and_then(Class::parse)
            .filter(|_| e.last_visit_on.as_deref() <= Some(&day(visited)));
        match classify(disease, findings, previous, r) {
            Ok(a) => planned.push((e.clone(), disease, a)),
            Err(err) => {
                checks.take("measured", Err::<(), _>(err));
            }
        }
    }
    checks.finish()?;
    Ok(planned)
}

/// What every row of one round shares.
struct Round<'a> {
    actor: &'a Actor,
    f: &'a FollowupForm,
    id: Uuid,
    patient_id: Uuid,
    visited: Date,
    visited_on: String,
    mode: Mode,
    reading: Reading,
    /// The emergency signs ticked.
    signs: Vec<String>,
    now: i64,
}

impl Round<'_> {
    /// Writes a row for each record, moves the records' plans and audits
    /// each, in one transaction.
    async fn save(self, app: &App, planned: Vec<Planned>) -> Result<Outcome, DomainError> {
        let actor = self.actor;
        let mut rows = vec![];
        let mut results = vec![];
        let mut audit = vec![];
        let mut tx = app.db.begin().await.or_internal()?;
        for (mut e, disease, a) in planned {
            let due = day(self.visited + Duration::days(a.due_in_days));
            let row = self.row(&e, disease, &a, &due)?;
            self.advance(&mut e, &a, &due);
            dayi_store::chronic::update_enrolment(&mut tx, &e).await.or_internal()?;
            audit.push(actor.entry(
                "chronic.followup",
                "chronic_followup",
                &row.id.to_string(),
                Some(self.patient_id),
                OK,
                &format!("{} {} {}", disease.code(), a.class.code(), a.next.code()),
            ));
            results.push((disease, a, due));
            rows.push(row);
        }
        dayi_store::chronic::insert_followups(&mut tx, &rows).await.or_internal()?;
        dayi_store::audit::append(&mut tx, actor.org_id, audit).await.or_internal()?;
        tx.commit().await.or_internal()?;
        Ok(Outcome { round_id: self.id, patient_id: self.patient_id, visited_on: self.visited_on, results })
    }

    /// The follow-up row of one record, with the rest of the form as its detail.
    fn row(&self, e: &Enrolment, disease: Disease, a: &Assessment, due: &str) -> Result<Followup, DomainError> {
        let f = self.f;
        let detail = Detail {
            adverse: f.adverse.trim().into(),
            complication: f.complication.trim().into(),
            signs: self.signs.clone(),
            reasons: a.reasons.clone(),
            ..f.detail.clone()
        };
        let reading = &self.reading;
        Ok(Followup {
            org_id: self.actor.org_id,
            id: crate::new_id(),
            round_id: self.id,
            enrolment_id: e.id,
            patient_id: self.patient_id,
            disease: disease.code().into(),
            visited_on: self.visited_on.clone(),
            mode: self.mode.code().into(),
            sbp: reading.sbp,
            dbp: reading.dbp,
            heart_rate: reading.heart_rate,
            weight_milli: reading.weight_milli,
            bmi_tenths: reading.bmi_tenths(),
            fbg_milli: reading.fbg_milli,
            ldl_milli: reading.ldl_milli,
            class: a.class.code().into(),
            next_kind: a.next.code().into(),
            next_due: due.to_string(),
            controlled: a.controlled,
            checkup: f.checkup,
            detail: serde_json::to_string(&detail).or_internal()?,
            doctor: self.actor.username.clone(),
            created_at: self.now,
        })
    }

    /// The record after this visit: its next visit, its last check-up and
    /// the co-prevented diseases found.
    fn advance(&self, e: &mut Enrolment, a: &Assessment, due: &str) {
        let visited_s = self.visited_on.as_str();
        // A visit dated before the latest one is history: it does not move the plan.
        if e.last_visit_on.as_deref().is_none_or(|last| last <= visited_s) {
            e.last_visit_on = Some(visited_s.to_string());
            e.last_class = Some(a.class.code().into());
            e.next_due = Some(due.to_string());
            e.next_kind = a.next.code().into();
        }
        if self.f.checkup && e.last_checkup_on.as_deref().is_none_or(|c| c < visited_s) {
            e.last_checkup_on = Some(visited_s.to_string());
        }
        for c in self.f.related.iter().filter(|c| !c.is_empty()) {
            if !super::split(&e.related).any(|x| x == c) {
                e.related = if e.related.is_empty() { c.clone() } else { format!("{},{c}", e.related) };
            }
        }
        e.updated_at = self.now;
    }
}
