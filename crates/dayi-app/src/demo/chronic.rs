//! The demo township hospital's three-highs registry: residents of two
//! villages with hypertension or diabetes, a year of follow-ups (some
//! controlled, some not, one referred), lipid screenings, and the area's
//! expected numbers, so the worklists and the indicators have something to show.

use std::collections::BTreeMap;

use dayi_core::DomainError;
use dayi_core::patient::Channel;
use dayi_core::timefmt::today_cst;
use time::Duration;
use uuid::Uuid;

use super::people;
use crate::chronic::{self, Area, EnrolForm, FollowupForm, ScreenForm, VillageEstimate};

/// Generated people of the registry, above the seeded counter patients.
const FROM: u64 = 370_000_100;

pub async fn seed(app: &crate::App, org_id: Uuid, doctor: &str) -> Result<(), DomainError> {
    let actor = crate::Actor::cli(org_id);
    let today = today_cst();
    let day = |d: i64| (today + Duration::days(d)).to_string();
    // (village, disease, follow-ups as (days ago, sbp, dbp, fbg))
    let plans: [(&str, &str, &[(i64, &str, &str, &str)]); 8] = [
        ("王庄村", "htn", &[(-300, "148", "92", ""), (-286, "136", "84", ""), (-196, "132", "82", ""), (-106, "128", "80", ""), (-16, "130", "82", "")]),
        ("王庄村", "htn", &[(-250, "152", "96", ""), (-236, "150", "94", "")]),
        ("王庄村", "t2dm", &[(-200, "", "", "8.2"), (-186, "", "", "6.8"), (-96, "", "", "6.5")]),
        ("王庄村", "htn", &[]),
        ("李庄村", "htn", &[(-330, "138", "86", ""), (-240, "134", "80", ""), (-150, "142", "90", ""), (-136, "136", "82", ""), (-46, "132", "84", "")]),
        ("李庄村", "t2dm", &[(-120, "", "", "7.6"), (-106, "", "", "7.2")]),
        ("李庄村", "htn", &[(-95, "126", "78", "")]),
        ("李庄村", "htn", &[(-20, "158", "98", "")]),
    ];
    let mut i = 0;
    for (village, disease, visits) in plans {
        // The next generated person old enough for the programme.
        let patient = loop {
            let p = crate::patient::register(app, &actor, &people::person(FROM + i, 2026, today), Channel::Counter).await?;
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
