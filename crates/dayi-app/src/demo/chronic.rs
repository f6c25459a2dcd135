//! The demo township hospital's three-highs registry: residents of two
//! villages with hypertension or diabetes, a year of follow-ups (some
//! controlled, some not, one referred), lipid screenings, and the area's
//! expected numbers, so the worklists and the indicators have something to show.

use std::collections::BTreeMap;

use dayi_core::DomainError;
use dayi_core::chronic::{Assessment, Class, Disease, Findings, Mode, Next, Reading, Rules, classify};
use dayi_core::patient::Channel;
use dayi_core::timefmt::today_cst;
use dayi_store::chronic::{Enrolment, Followup, Screening};
use time::{Date, Duration};
use uuid::Uuid;

use super::people;
use crate::OrInternal;
use crate::chronic::{self, Area, EnrolForm, FollowupForm, ScreenForm, VillageEstimate};

/// Generated people of the registry, above the seeded counter patients.
const FROM: u64 = 370_000_100;

/// A follow-up of the demo: days ago, systolic, diastolic, fasting glucose.
type Visit = (i64, &'static str, &'static str, &'static str);

pub async fn seed(app: &crate::App, org_id: Uuid, doctor: &str) -> Result<(), DomainError> {
    let actor = crate::Actor::cli(org_id);
    let today = today_cst();
    let day = |d: i64| (today + Duration::days(d)).to_string();
    // (village, disease, follow-ups as (days ago, sbp, dbp, fbg))
    let plans: [(&str, &str, &[Visit]); 8] = [
        (
            "王庄村",
            "htn",
            &[
                (-300, "148", "92", ""),
                (-286, "136", "84", ""),
                (-196, "132", "82", ""),
                (-106, "128", "80", ""),
                (-16, "130", "82", ""),
            ],
        ),
        ("王庄村", "htn", &[(-250, "152", "96", ""), (-236, "150", "94", "")]),
        ("王庄村", "t2dm", &[(-200, "", "", "8.2"), (-186, "", "", "6.8"), (-96, "", "", "6.5")]),
        ("王庄村", "htn", &[]),
        (
            "李庄村",
            "htn",
            &[
                (-330, "138", "86", ""),
                (-240, "134", "80", ""),
                (-150, "142", "90", ""),
                (-136, "136", "82", ""),
                (-46, "132", "84", ""),
            ],
        ),
        ("李庄村", "t2dm", &[(-120, "", "", "7.6"), (-106, "", "", "7.2")]),
        ("李庄村", "htn", &[(-95, "126", "78", "")]),
        ("李庄村", "htn", &[(-20, "158", "98", "")]),
    ];
    let mut i = 0;
    for (village, disease, visits) in plans {
        // The next generated person old enough for the programme.
        let patient = loop {
            let p =
                crate::patient::register(app, &actor, &people::person(FROM + i, 2026, today), Channel::Counter).await?;
            i += 1;
            let born = time::Date::parse(&p.birth_date, time::macros::format_description!("[year]-[month]-[day]"));
            if born.is_ok_and(|b| dayi_core::patient::age_on(b, today) >= 40) {
                break p;
            }
        };
        let pid = patient.id.to_string();
        let form = EnrolForm {
            patient_id: pid.clone(),
            disease: disease.into(),
            diagnosed_on: day(-400),
            source: "known".into(),
            doctor: doctor.into(),
            village: village.into(),
            related: vec![],
        };
        chronic::enrol(app, &actor, &form).await?;
        for (on, sbp, dbp, fbg) in visits {
            let mut f = FollowupForm {
                patient_id: pid.clone(),
                visited_on: day(*on),
                mode: if *on % 3 == 0 { "home" } else { "clinic" }.into(),
                ..FollowupForm::default()
            };
            f.measured.sbp = sbp.to_string();
            f.measured.dbp = dbp.to_string();
            f.measured.fbg = fbg.to_string();
            f.measured.weight = "68".into();
            f.detail.advice = "低盐低脂饮食，规律服药，每周运动 5 次".into();
            chronic::record(app, &actor, &f).await?;
        }
        if i % 2 == 0 {
            let mut s = ScreenForm { patient_id: pid.clone(), screened_on: day(-60), ..ScreenForm::default() };
            (s.measured.tc, s.measured.ldl, s.measured.tg, s.measured.hdl) =
                ("5.6".into(), "3.5".into(), "1.9".into(), "1.1".into());
            chronic::screen(app, &actor, &s).await?;
        }
    }
    let expected = |htn: u64, t2dm: u64| BTreeMap::from([("htn".to_string(), htn), ("t2dm".to_string(), t2dm)]);
    let area = Area {
        tier: dayi_core::chronic::Tier::Base,
        expected: expected(10, 4),
        villages: vec![
            VillageEstimate { name: "王庄村".into(), expected: expected(5, 2) },
            VillageEstimate { name: "李庄村".into(), expected: expected(5, 2) },
        ],
    };
    chronic::set_area(app, &actor, &area).await?;
    Ok(())
}

/// What [`load`] wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct Loaded {
    pub records: u64,
    pub followups: u64,
    pub screenings: u64,
}

/// A deterministic stream of numbers (splitmix64): the same seed, the same registry.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Bulk-loads a county-sized registry for benchmarks: `patients` of the
/// organisation's adults (bulk-loaded patients), each with hypertension,
/// diabetes or both (a fifth also dyslipidaemia), in 40 villages under 25
/// doctors, with `years` of follow-ups about quarterly — each classified by
/// the rules, as `record` would — and a yearly lipid test for two in five.
/// Rows go in by multi-row inserts, in transactions of about 50,000 rows.
pub async fn load(app: &crate::App, org_id: Uuid, patients: u64, years: i64, seed: u64) -> Result<Loaded, DomainError> {
    let rules = chronic::rules(app, org_id).await?;
    let today = today_cst();
    let born_by = (today - Duration::days(365 * i64::from(rules.min_age) + 9)).to_string();
    let adults =
        dayi_store::chronic::unenrolled_adults(&app.db, org_id, &born_by, patients as i64).await.or_internal()?;
    let mut g = Generator {
        org_id,
        rules: &rules,
        mix: Mix(seed ^ 0x5EED),
        today,
        start: today - Duration::days(365 * years),
        now: dayi_core::timefmt::now_micros(),
    };
    let mut out = Loaded::default();
    let mut rows = Rows::default();
    for (n, (patient_id, _birth)) in adults.iter().enumerate() {
        let diseases = g.diseases();
        let village = format!("第{:02}村", g.mix.below(40) + 1);
        let doctor = format!("doc{:02}", g.mix.below(25) + 1);
        // Well-controlled patients stay mostly under target; the others drift above it.
        let control = g.mix.below(100);
        for d in diseases {
            let mut e = g.enrolment(*patient_id, d, &doctor, &village);
            // One in twenty is never seen.
            g.followups(&mut e, d, control, n % 20 != 0, &mut rows.visits)?;
            rows.records.push(e);
        }
        g.lipid_tests(*patient_id, years, &mut rows.readings);
        if rows.visits.len() >= 50_000 || n + 1 == adults.len() {
            rows.write(app, &mut out).await?;
        }
    }
    for t in ["chronic_enrolment", "chronic_followup", "chronic_screening"] {
        app.db.analyze(t).await.or_internal()?;
    }
    Ok(out)
}

/// Makes the rows of the registry from one stream of numbers, so that the
/// same seed makes the same registry: the calls on `mix` keep their order.
struct Generator<'a> {
    org_id: Uuid,
    rules: &'a Rules,
    mix: Mix,
    today: Date,
    /// The first day of the years of follow-ups.
    start: Date,
    now: i64,
}

impl Generator<'_> {
    /// Hypertension, diabetes or both; a fifth also dyslipidaemia.
    fn diseases(&mut self) -> Vec<Disease> {
        let kind = self.mix.below(10);
        let mut diseases = match kind {
            0..=5 => vec![Disease::Hypertension],
            6..=7 => vec![Disease::Diabetes],
            _ => vec![Disease::Hypertension, Disease::Diabetes],
        };
        if self.mix.below(5) == 0 {
            diseases.push(Disease::Dyslipidaemia);
        }
        diseases
    }

    /// A record diagnosed before the start, due for a routine visit at it.
    fn enrolment(&mut self, patient_id: Uuid, d: Disease, doctor: &str, village: &str) -> Enrolment {
        Enrolment {
            org_id: self.org_id,
            id: crate::new_id(),
            patient_id,
            disease: d.code().into(),
            diagnosed_on: (self.start - Duration::days(self.mix.below(2000) as i64)).to_string(),
            enrolled_on: (self.start - Duration::days(1)).to_string(),
            source: "known".into(),
            doctor: doctor.to_string(),
            village: village.to_string(),
            related: String::new(),
            status: "active".into(),
            closed_on: None,
            closed_reason: String::new(),
            next_due: Some(self.start.to_string()),
            next_kind: Next::Routine.code().into(),
            last_class: None,
            last_visit_on: None,
            last_checkup_on: None,
            enrolled_by: "dayi-load".into(),
            created_at: self.now,
            updated_at: self.now,
        }
    }

    /// The record's follow-ups up to today, about every 80–100 days (sooner
    /// when the classification says so), and the record's plan after them.
    /// A record not `seen` has none, but takes its first day all the same.
    fn followups(
        &mut self,
        e: &mut Enrolment,
        d: Disease,
        control: u64,
        seen: bool,
        visits: &mut Vec<Followup>,
    ) -> Result<(), DomainError> {
        let mut day = self.start + Duration::days(self.mix.below(60) as i64);
        let mut previous: Option<Class> = None;
        while seen && day <= self.today {
            let above = self.mix.below(100) >= control;
            let reading = self.reading(d, above);
            let findings = Findings { reading, age: 60, ..Findings::default() };
            let a = classify(d, &findings, previous, self.rules)?;
            let visit = self.followup(e, d, day, &reading, &a);
            e.last_visit_on = Some(visit.visited_on.clone());
            e.last_class = Some(visit.class.clone());
            e.next_due = Some(visit.next_due.clone());
            e.next_kind = visit.next_kind.clone();
            if visit.checkup {
                e.last_checkup_on = Some(visit.visited_on.clone());
            }
            visits.push(visit);
            previous = Some(a.class);
            day = if a.due_in_days < self.rules.routine_days {
                day + Duration::days(a.due_in_days + self.mix.below(5) as i64)
            } else {
                day + Duration::days(80 + self.mix.below(21) as i64)
            };
        }
        Ok(())
    }

    /// A reading of the disease's measure, under its target or `above` it.
    fn reading(&mut self, d: Disease, above: bool) -> Reading {
        let mix = &mut self.mix;
        match d {
            Disease::Hypertension => Reading {
                sbp: Some(if above { 142 + mix.below(30) } else { 112 + mix.below(26) } as i64),
                dbp: Some(if above { 86 + mix.below(16) } else { 68 + mix.below(20) } as i64),
                ..Reading::default()
            },
            Disease::Diabetes => Reading {
                fbg_milli: Some(if above { 7_000 + mix.below(5_000) } else { 4_500 + mix.below(2_400) } as i64),
                ..Reading::default()
            },
            Disease::Dyslipidaemia => {
                Reading { ldl_milli: Some(2_000 + mix.below(2_500) as i64), ..Reading::default() }
            }
        }
    }

    /// One follow-up row, as `record` would write it; a fifth are also the
    /// annual check-up.
    fn followup(&mut self, e: &Enrolment, d: Disease, day: Date, reading: &Reading, a: &Assessment) -> Followup {
        let mode = match self.mix.below(10) {
            0 => Mode::Phone,
            1..=3 => Mode::Home,
            _ => Mode::Clinic,
        };
        let due = day + Duration::days(a.due_in_days);
        let checkup = self.mix.below(5) == 0;
        Followup {
            org_id: self.org_id,
            id: crate::new_id(),
            round_id: crate::new_id(),
            enrolment_id: e.id,
            patient_id: e.patient_id,
            disease: d.code().into(),
            visited_on: day.to_string(),
            mode: mode.code().into(),
            sbp: reading.sbp,
            dbp: reading.dbp,
            heart_rate: Some(60 + self.mix.below(30) as i64),
            weight_milli: Some(55_000 + self.mix.below(35_000) as i64),
            bmi_tenths: None,
            fbg_milli: reading.fbg_milli,
            ldl_milli: reading.ldl_milli,
            class: a.class.code().into(),
            next_kind: a.next.code().into(),
            next_due: due.to_string(),
            controlled: a.controlled,
            checkup,
            detail: "{}".into(),
            doctor: e.doctor.clone(),
            created_at: self.now,
        }
    }

    /// A lipid test in two years of five, none after today.
    fn lipid_tests(&mut self, patient_id: Uuid, years: i64, readings: &mut Vec<Screening>) {
        for y in 0..years {
            if self.mix.below(5) < 2 {
                let on = self.start + Duration::days(365 * y + self.mix.below(365) as i64);
                if on <= self.today {
                    readings.push(self.screening(patient_id, on));
                }
            }
        }
    }

    fn screening(&mut self, patient_id: Uuid, on: Date) -> Screening {
        Screening {
            org_id: self.org_id,
            id: crate::new_id(),
            patient_id,
            screened_on: on.to_string(),
            source: "lab".into(),
            source_id: Some(crate::new_id()),
            sbp: None,
            dbp: None,
            fbg_milli: None,
            tc_milli: Some(3_800 + self.mix.below(3_000) as i64),
            ldl_milli: Some(2_000 + self.mix.below(2_500) as i64),
            tg_milli: Some(900 + self.mix.below(1_800) as i64),
            hdl_milli: Some(900 + self.mix.below(800) as i64),
            bmi_tenths: None,
            risks: String::new(),
            suspected: String::new(),
            proposal: "none".into(),
            next_due: (on + Duration::days(365)).to_string(),
            screened_by: "dayi-load".into(),
            created_at: self.now,
        }
    }
}

/// Rows made and not yet written.
#[derive(Default)]
struct Rows {
    records: Vec<Enrolment>,
    visits: Vec<Followup>,
    readings: Vec<Screening>,
}

impl Rows {
    /// Writes the rows in one transaction, counts them and starts afresh.
    async fn write(&mut self, app: &crate::App, out: &mut Loaded) -> Result<(), DomainError> {
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::chronic::insert_enrolments(&mut tx, &self.records).await.or_internal()?;
        dayi_store::chronic::insert_followups(&mut tx, &self.visits).await.or_internal()?;
        dayi_store::chronic::insert_screenings(&mut tx, &self.readings).await.or_internal()?;
        tx.commit().await.or_internal()?;
        out.records += self.records.len() as u64;
        out.followups += self.visits.len() as u64;
        out.screenings += self.readings.len() as u64;
        *self = Rows::default();
        Ok(())
    }
}
