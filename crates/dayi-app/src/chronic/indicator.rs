//! The indicators (管理率、规范管理率、控制率、血脂检测率) by organisation,
//! doctor or village for a calendar year (the standard defines them 年内), and
//! the patients behind each number. The formulas are
//! `dayi_core::chronic::indicator`; this gathers the facts.

use std::collections::{BTreeMap, HashMap};

use dayi_core::audit::OK;
use dayi_core::chronic::{Disease, Fact, Measure, Rates, Tally, Tier, show_rate};
use dayi_core::identity::Sex;
use dayi_core::mask;
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::chronic::YearFact;
use serde::Serialize;
use uuid::Uuid;

use super::{age_of, area, require_indicators, rules};
use crate::{Actor, App, OrInternal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = IndicatorGroup)]
pub enum Group {
    Org,
    Doctor,
    Village,
}

impl Group {
    pub fn parse(s: &str) -> Option<Group> {
        match s {
            "org" | "" => Some(Group::Org),
            "doctor" => Some(Group::Doctor),
            "village" => Some(Group::Village),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Group::Org => "org",
            Group::Doctor => "doctor",
            Group::Village => "village",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IndicatorQuery {
    /// The calendar year (`YYYY`); this year counts what has happened so far.
    pub year: String,
    /// `org` (or empty), `doctor`, `village`.
    pub group: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndicatorRow {
    /// The doctor's user name, the village, or empty for the organisation.
    pub key: String,
    pub disease: &'static str,
    pub disease_name: &'static str,
    pub tally: Tally,
    pub expected: Option<u64>,
    pub rates: Rates,
    pub management: String,
    pub standard: String,
    pub controlled: String,
    pub lipid_tested: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Indicators {
    pub year: i32,
    pub group: Group,
    pub tier: Tier,
    pub tier_name: &'static str,
    pub standard_visits: i64,
    pub rows: Vec<IndicatorRow>,
}

fn group_of(q: &IndicatorQuery) -> Result<Group, DomainError> {
    Group::parse(q.group.trim())
        .ok_or_else(|| DomainError::field("group", ErrorCode::InvalidFormat, ["org|doctor|village"]))
}

/// The first year a registry can hold; a later one may not be after this year.
const FIRST_YEAR: i32 = 2000;

fn year_of(q: &IndicatorQuery) -> Result<i32, DomainError> {
    let this = today_cst().year();
    q.year
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|y| (FIRST_YEAR..=this).contains(y))
        .ok_or_else(|| DomainError::field("year", ErrorCode::InvalidFormat, [format!("{FIRST_YEAR}–{this}")]))
}

fn key_of<'a>(group: Group, doctor: &'a str, village: &'a str) -> &'a str {
    match group {
        Group::Org => "",
        Group::Doctor => doctor,
        Group::Village => village,
    }
}

pub async fn indicators(app: &App, actor: &Actor, q: &IndicatorQuery) -> Result<Indicators, DomainError> {
    require_indicators(app, actor).await?;
    let year = year_of(q)?;
    let group = group_of(q)?;
    let r = rules(app, actor.org_id).await?;
    let counts =
        dayi_store::chronic::counts(&app.db, actor.org_id, year.into(), r.standard_visits).await.or_internal()?;
    let a = area(app, actor.org_id).await?;
    let mut groups: BTreeMap<(String, Disease), Tally> = BTreeMap::new();
    for c in &counts {
        let Some(disease) = Disease::parse(&c.disease) else { continue };
        let t = groups.entry((key_of(group, &c.doctor, &c.village).to_string(), disease)).or_default();
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        t.managed += n(c.managed);
        t.standard += n(c.standard);
        t.controlled += n(c.controlled);
        t.lipid_tested += n(c.lipid_tested);
    }
    if group == Group::Org {
        for d in Disease::ALL {
            groups.entry((String::new(), *d)).or_default();
        }
    }
    let rows = groups
        .into_iter()
        .map(|((key, disease), t)| {
            let expected = match group {
                Group::Org => a.expected.get(disease.code()).copied(),
                Group::Village => {
                    a.villages.iter().find(|v| v.name == key).and_then(|v| v.expected.get(disease.code()).copied())
                }
                Group::Doctor => None,
            }
            .filter(|e| *e > 0);
            let rates = t.rates(expected);
            IndicatorRow {
                key,
                disease: disease.code(),
                disease_name: disease.zh(),
                tally: t,
                expected,
                rates,
                management: show_rate(rates.management),
                standard: show_rate(rates.standard),
                controlled: show_rate(rates.controlled),
                lipid_tested: show_rate(rates.lipid_tested),
            }
        })
        .collect();
    app.audit.record(actor.entry("chronic.indicators", "chronic", &year.to_string(), None, OK, group.code())).await;
    Ok(Indicators { year, group, tier: a.tier, tier_name: a.tier.zh(), standard_visits: r.standard_visits, rows })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PatientLine {
    pub patient_id: Uuid,
    pub name: String,
    pub sex_name: &'static str,
    pub age: i32,
    pub disease_name: &'static str,
    pub doctor: String,
    pub village: String,
    pub face_visits: i64,
    pub latest: &'static str,
    pub lipid_tested: bool,
}

/// The records counted by one number of the table: a group (key), a disease
/// and a measure (the numerator, or its complement).
pub async fn behind(
    app: &App,
    actor: &Actor,
    q: &IndicatorQuery,
    key: &str,
    disease: &str,
    measure: &str,
) -> Result<Vec<PatientLine>, DomainError> {
    require_indicators(app, actor).await?;
    let year = year_of(q)?;
    let group = group_of(q)?;
    let bad = |f: &str, hint: &str| DomainError::field(f, ErrorCode::InvalidFormat, [hint]);
    let disease = Disease::parse(disease.trim()).ok_or_else(|| bad("disease", "htn|t2dm|lipid"))?;
    let measure =
        Measure::parse(measure.trim()).ok_or_else(|| bad("measure", "managed|standard|controlled|lipid_tested"))?;
    let r = rules(app, actor.org_id).await?;
    let (doctor, village) = match group {
        Group::Org => (None, None),
        Group::Doctor => (Some(key), None),
        Group::Village => (None, Some(key)),
    };
    let rows = dayi_store::chronic::facts(&app.db, actor.org_id, year.into(), disease.code(), doctor, village)
        .await
        .or_internal()?;
    let chosen: Vec<(YearFact, Fact)> = rows
        .into_iter()
        .map(|x| {
            let fact = Fact {
                disease,
                doctor: x.doctor.clone(),
                village: x.village.clone(),
                face_visits: x.face,
                latest_controlled: x.latest.map(|v| v == 1),
                lipid_tested: x.lipid == 1,
            };
            (x, fact)
        })
        .filter(|(_, f)| key_of(group, &f.doctor, &f.village) == key && f.meets(measure, r.standard_visits))
        .collect();
    let ids: Vec<Uuid> = chosen.iter().map(|(r, _)| r.patient_id).collect();
    let mut people = HashMap::new();
    for chunk in ids.chunks(500) {
        for p in dayi_store::patient::get_many(&app.db, actor.org_id, chunk).await.or_internal()? {
            people.insert(p.id, p);
        }
    }
    app.audit
        .record(actor.entry("chronic.behind", "chronic", measure.code(), None, OK, &format!("{} rows", chosen.len())))
        .await;
    let today = today_cst();
    let mut lines: Vec<PatientLine> = chosen
        .into_iter()
        .map(|(r, f)| {
            let p = people.get(&r.patient_id);
            PatientLine {
                patient_id: r.patient_id,
                name: p.map(|p| mask::name(&p.name)).unwrap_or_default(),
                sex_name: p.and_then(|p| Sex::parse(&p.sex)).map(|s| s.zh()).unwrap_or(""),
                age: p.and_then(|p| age_of(&p.birth_date, today)).unwrap_or(0),
                disease_name: disease.zh(),
                doctor: f.doctor.clone(),
                village: f.village.clone(),
                face_visits: f.face_visits,
                latest: match f.latest_controlled {
                    Some(true) => "达标",
                    Some(false) => "未达标",
                    None => "未测/未随访",
                },
                lipid_tested: f.lipid_tested,
            }
        })
        .collect();
    lines.sort_by(|a, b| (&a.village, &a.doctor, &a.name).cmp(&(&b.village, &b.doctor, &b.name)));
    Ok(lines)
}
