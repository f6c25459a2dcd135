//! The indicators (管理率、规范管理率、控制率、血脂检测率) by organisation,
//! doctor or village for a period, and the patients behind each number. The
//! formulas are `dayi_core::chronic::indicator`; this gathers the facts.

use std::collections::{BTreeMap, HashMap, HashSet};

use dayi_core::audit::OK;
use dayi_core::chronic::{Disease, Fact, Measure, Mode, Rates, Tally, Tier, show_rate, tally};
use dayi_core::identity::Sex;
use dayi_core::mask;
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::chronic::PeriodRecord;
use serde::Serialize;
use uuid::Uuid;

use super::{age_of, area, day, parse_day, require_indicators, rules};
use crate::{Actor, App, OrInternal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// First and last day, inclusive (`YYYY-MM-DD`).
    pub from: String,
    pub to: String,
    /// `org` (or empty), `doctor`, `village`.
    pub group: String,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct Indicators {
    pub from: String,
    pub to: String,
    pub group: Group,
    pub tier: Tier,
    pub tier_name: &'static str,
    pub standard_visits: i64,
    pub rows: Vec<IndicatorRow>,
}

/// One registry record's facts in the period, and the record.
struct Gathered {
    records: Vec<(PeriodRecord, Fact)>,
    standard_visits: i64,
}

async fn gather(app: &App, org_id: Uuid, from: &str, to: &str) -> Result<Gathered, DomainError> {
    let r = rules(app, org_id).await?;
    let records = dayi_store::chronic::in_force(&app.db, org_id, from, to).await.or_internal()?;
    let visits = dayi_store::chronic::visits_in(&app.db, org_id, from, to).await.or_internal()?;
    let lipids: HashSet<Uuid> =
        dayi_store::chronic::lipid_tested(&app.db, org_id, from, to).await.or_internal()?.into_iter().collect();
    // Visits come ordered by record and day: the last of each record is its latest.
    let mut per: HashMap<Uuid, (i64, Option<bool>)> = HashMap::with_capacity(records.len());
    for v in &visits {
        let face = Mode::parse(&v.mode).is_some_and(Mode::face_to_face);
        let e = per.entry(v.enrolment_id).or_insert((0, None));
        e.0 += i64::from(face);
        e.1 = v.controlled;
    }
    let records = records
        .into_iter()
        .filter_map(|rec| {
            let disease = Disease::parse(&rec.disease)?;
            let (face_visits, latest_controlled) = per.get(&rec.id).copied().unwrap_or((0, None));
            let fact = Fact {
                disease,
                doctor: rec.doctor.clone(),
                village: rec.village.clone(),
                face_visits,
                latest_controlled,
                lipid_tested: lipids.contains(&rec.patient_id),
            };
            Some((rec, fact))
        })
        .collect();
    Ok(Gathered { records, standard_visits: r.standard_visits })
}

fn group_of(q: &IndicatorQuery) -> Result<Group, DomainError> {
    Group::parse(q.group.trim())
        .ok_or_else(|| DomainError::field("group", ErrorCode::InvalidFormat, ["org|doctor|village"]))
}

fn period(q: &IndicatorQuery) -> Result<(String, String), DomainError> {
    let from = parse_day("from", &q.from)?;
    let to = parse_day("to", &q.to)?;
    if from > to {
        return Err(DomainError::field("to", ErrorCode::InvalidFormat, [day(from)]));
    }
    Ok((day(from), day(to)))
}

fn key_of(group: Group, f: &Fact) -> &str {
    match group {
        Group::Org => "",
        Group::Doctor => &f.doctor,
        Group::Village => &f.village,
    }
}

pub async fn indicators(app: &App, actor: &Actor, q: &IndicatorQuery) -> Result<Indicators, DomainError> {
    require_indicators(app, actor).await?;
    let (from, to) = period(q)?;
    let group = group_of(q)?;
    let g = gather(app, actor.org_id, &from, &to).await?;
    let a = area(app, actor.org_id).await?;
    let mut groups: BTreeMap<(String, Disease), Vec<&Fact>> = BTreeMap::new();
    for (_, f) in &g.records {
        groups.entry((key_of(group, f).to_string(), f.disease)).or_default().push(f);
    }
    if group == Group::Org {
        for d in Disease::ALL {
            groups.entry((String::new(), *d)).or_default();
        }
    }
    let rows = groups
        .into_iter()
        .map(|((key, disease), facts)| {
            let expected = match group {
                Group::Org => a.expected.get(disease.code()).copied(),
                Group::Village => {
                    a.villages.iter().find(|v| v.name == key).and_then(|v| v.expected.get(disease.code()).copied())
                }
                Group::Doctor => None,
            }
            .filter(|e| *e > 0);
            let t = tally(facts, g.standard_visits);
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
    app.audit
        .record(actor.entry("chronic.indicators", "chronic", &format!("{from}..{to}"), None, OK, group.code()))
        .await;
    Ok(Indicators { from, to, group, tier: a.tier, tier_name: a.tier.zh(), standard_visits: g.standard_visits, rows })
}

#[derive(Debug, Clone, Serialize)]
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
    let (from, to) = period(q)?;
    let group = group_of(q)?;
    let bad = |f: &str, hint: &str| DomainError::field(f, ErrorCode::InvalidFormat, [hint]);
    let disease = Disease::parse(disease.trim()).ok_or_else(|| bad("disease", "htn|t2dm|lipid"))?;
    let measure =
        Measure::parse(measure.trim()).ok_or_else(|| bad("measure", "managed|standard|controlled|lipid_tested"))?;
    let g = gather(app, actor.org_id, &from, &to).await?;
    let chosen: Vec<&(PeriodRecord, Fact)> = g
        .records
        .iter()
        .filter(|(_, f)| f.disease == disease && key_of(group, f) == key && f.meets(measure, g.standard_visits))
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
