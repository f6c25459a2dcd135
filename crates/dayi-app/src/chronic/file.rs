//! A patient's chronic-disease file (慢病档案): registry records, follow-ups,
//! readings and the series the charts draw. Read by the managing staff and,
//! on the phone, by the patient or their family.

use dayi_core::DomainError;
use dayi_core::audit::OK;
use dayi_core::catalog::show_milli;
use dayi_core::chronic::{Class, Disease, Mode, Next, RiskFactor, Rules, Source};
use dayi_core::timefmt::today_cst;
use dayi_store::chronic::{Enrolment, Followup, Screening};
use serde::Serialize;
use uuid::Uuid;

use super::{Detail, day, require_work, rules, split};
use crate::patient::PatientView;
use crate::{Actor, App, OrInternal, Via};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChronicFile {
    pub patient: PatientView,
    pub enrolments: Vec<EnrolmentView>,
    /// Newest first.
    pub followups: Vec<FollowupView>,
    /// Newest first.
    pub readings: Vec<ReadingView>,
    pub series: Series,
    /// Diseases the patient may still be enrolled for.
    pub enrollable: Vec<(Disease, &'static str)>,
    /// The latest follow-up's advice, for the patient.
    pub advice: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnrolmentView {
    pub id: Uuid,
    pub disease: String,
    pub disease_name: &'static str,
    pub diagnosed_on: String,
    pub enrolled_on: String,
    pub source_name: &'static str,
    pub doctor: String,
    pub village: String,
    pub related: Vec<String>,
    pub related_names: Vec<String>,
    pub active: bool,
    pub closed_on: Option<String>,
    pub closed_reason: String,
    pub next_due: Option<String>,
    pub next_kind: String,
    pub next_name: &'static str,
    pub overdue: bool,
    pub last_class_name: Option<&'static str>,
    pub last_visit_on: Option<String>,
    pub last_checkup_on: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowupView {
    pub id: Uuid,
    pub round_id: Uuid,
    pub visited_on: String,
    pub disease_name: &'static str,
    pub mode_name: &'static str,
    pub bp: Option<String>,
    pub fbg: Option<String>,
    pub ldl: Option<String>,
    pub bmi: Option<String>,
    pub heart_rate: Option<i64>,
    pub class: String,
    pub class_name: &'static str,
    pub next_name: &'static str,
    pub next_due: String,
    pub checkup: bool,
    pub detail: Detail,
    pub doctor: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReadingView {
    pub id: Uuid,
    pub screened_on: String,
    pub source_name: &'static str,
    pub bp: Option<String>,
    pub fbg: Option<String>,
    pub tc: Option<String>,
    pub ldl: Option<String>,
    pub tg: Option<String>,
    pub hdl: Option<String>,
    pub bmi: Option<String>,
    pub risks: Vec<&'static str>,
    pub suspected: Vec<&'static str>,
    pub proposal: String,
}

/// One value on a day; several series per chart.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Point {
    pub day: String,
    /// mmHg, or thousandths of mmol/L.
    pub value: i64,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub sbp: Vec<Point>,
    pub dbp: Vec<Point>,
    pub fbg: Vec<Point>,
    pub tc: Vec<Point>,
    pub ldl: Vec<Point>,
}

pub async fn file(app: &App, actor: &Actor, patient_id: Uuid) -> Result<ChronicFile, DomainError> {
    match actor.via {
        Via::Portal => crate::portal::require_family(app, actor, patient_id).await?,
        _ => require_work(app, actor).await?,
    }
    let p = crate::patient::load(app, actor.org_id, patient_id).await?;
    let r = rules(app, actor.org_id).await?;
    let enrolments = dayi_store::chronic::enrolments_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    let followups = dayi_store::chronic::followups_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    let readings = dayi_store::chronic::screenings_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    app.audit.record(actor.entry("chronic.file", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    let today = day(today_cst());
    let series = series(&followups, &readings);
    let advice = followups.last().and_then(|f| serde_json::from_str::<Detail>(&f.detail).ok()).map(|d| d.advice);
    let enrollable = Disease::ALL
        .iter()
        .filter(|d| !enrolments.iter().any(|e| e.status == "active" && e.disease == d.code()))
        .map(|d| (*d, d.zh()))
        .collect();
    Ok(ChronicFile {
        patient: PatientView::new(&p, false),
        enrolments: enrolments.iter().map(|e| enrolment_view(e, &r, &today)).collect(),
        followups: followups.iter().rev().map(followup_view).collect(),
        readings: readings.iter().rev().map(reading_view).collect(),
        series,
        enrollable,
        advice: advice.unwrap_or_default(),
    })
}

pub(crate) fn enrolment_view(e: &Enrolment, r: &Rules, today: &str) -> EnrolmentView {
    let related: Vec<String> = split(&e.related).map(str::to_string).collect();
    let next = Next::parse(&e.next_kind).unwrap_or(Next::Routine);
    EnrolmentView {
        id: e.id,
        disease: e.disease.clone(),
        disease_name: Disease::parse(&e.disease).map(|d| d.zh()).unwrap_or(""),
        diagnosed_on: e.diagnosed_on.clone(),
        enrolled_on: e.enrolled_on.clone(),
        source_name: Source::parse(&e.source).map(|s| s.zh()).unwrap_or(""),
        doctor: e.doctor.clone(),
        village: e.village.clone(),
        related_names: related
            .iter()
            .map(|c| r.related.iter().find(|x| &x.code == c).map(|x| x.name.clone()).unwrap_or_else(|| c.clone()))
            .collect(),
        related,
        active: e.status == "active",
        closed_on: e.closed_on.clone(),
        closed_reason: e.closed_reason.clone(),
        next_due: e.next_due.clone(),
        next_kind: next.code().into(),
        next_name: next.zh(),
        overdue: e.status == "active" && e.next_due.as_deref().is_some_and(|d| d < today),
        last_class_name: e.last_class.as_deref().and_then(Class::parse).map(|c| c.zh()),
        last_visit_on: e.last_visit_on.clone(),
        last_checkup_on: e.last_checkup_on.clone(),
    }
}

fn bp(s: Option<i64>, d: Option<i64>) -> Option<String> {
    Some(format!("{}/{}", s?, d?))
}

fn mmol(v: Option<i64>) -> Option<String> {
    v.map(show_milli)
}

fn bmi(v: Option<i64>) -> Option<String> {
    v.map(|b| format!("{}.{}", b / 10, b % 10))
}

fn followup_view(f: &Followup) -> FollowupView {
    let class = Class::parse(&f.class).unwrap_or(Class::Satisfied);
    FollowupView {
        id: f.id,
        round_id: f.round_id,
        visited_on: f.visited_on.clone(),
        disease_name: Disease::parse(&f.disease).map(|d| d.zh()).unwrap_or(""),
        mode_name: Mode::parse(&f.mode).map(|m| m.zh()).unwrap_or(""),
        bp: bp(f.sbp, f.dbp),
        fbg: mmol(f.fbg_milli),
        ldl: mmol(f.ldl_milli),
        bmi: bmi(f.bmi_tenths),
        heart_rate: f.heart_rate,
        class: class.code().into(),
        class_name: class.zh(),
        next_name: Next::parse(&f.next_kind).map(|n| n.zh()).unwrap_or(""),
        next_due: f.next_due.clone(),
        checkup: f.checkup,
        detail: serde_json::from_str(&f.detail).unwrap_or_default(),
        doctor: f.doctor.clone(),
    }
}

fn reading_view(s: &Screening) -> ReadingView {
    ReadingView {
        id: s.id,
        screened_on: s.screened_on.clone(),
        source_name: match s.source.as_str() {
            "visit" => "门诊测量",
            "lab" => "检验结果",
            _ => "筛查",
        },
        bp: bp(s.sbp, s.dbp),
        fbg: mmol(s.fbg_milli),
        tc: mmol(s.tc_milli),
        ldl: mmol(s.ldl_milli),
        tg: mmol(s.tg_milli),
        hdl: mmol(s.hdl_milli),
        bmi: bmi(s.bmi_tenths),
        risks: split(&s.risks).filter_map(RiskFactor::parse).map(|f| f.zh()).collect(),
        suspected: split(&s.suspected).filter_map(Disease::parse).map(|d| d.zh()).collect(),
        proposal: s.proposal.clone(),
    }
}

/// The charts' series from follow-ups (once per round) and readings, by day.
fn series(followups: &[Followup], readings: &[Screening]) -> Series {
    // per day: sbp, dbp, fbg, tc, ldl
    let mut points: Vec<(String, [Option<i64>; 5])> = vec![];
    let mut rounds = std::collections::HashSet::new();
    for f in followups.iter().filter(|f| rounds.insert(f.round_id)) {
        points.push((f.visited_on.clone(), [f.sbp, f.dbp, f.fbg_milli, None, f.ldl_milli]));
    }
    for s in readings {
        points.push((s.screened_on.clone(), [s.sbp, s.dbp, s.fbg_milli, s.tc_milli, s.ldl_milli]));
    }
    points.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Series::default();
    for (day, values) in points {
        let lists = [&mut out.sbp, &mut out.dbp, &mut out.fbg, &mut out.tc, &mut out.ldl];
        for (v, list) in values.into_iter().zip(lists) {
            if let Some(value) = v {
                list.push(Point { day: day.clone(), value });
            }
        }
    }
    out
}
