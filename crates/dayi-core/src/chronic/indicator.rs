//! The indicators of the standard (domain-rules-cn.md §3.3), for one period:
//!
//! - 管理率 = managed patients / expected patients in the area (the expected
//!   number is the organisation's estimate, configuration);
//! - 规范管理率 = patients with at least `standard_visits` face-to-face
//!   follow-ups in the period / managed patients;
//! - 控制率 = patients whose latest follow-up in the period met the target /
//!   managed patients;
//! - 血脂检测率 = patients with a lipid test in the period / managed patients.
//!
//! "Managed" counts a registry record in force at some time in the period.

use serde::Serialize;

use super::Disease;
use crate::security::named_enum;

named_enum! {
    /// An indicator's numerator, for drilling down to the patients behind it.
    Measure {
        Managed = ("managed", "已管理", "Managed"),
        Standard = ("standard", "规范管理", "Managed to the standard"),
        Controlled = ("controlled", "最近一次随访达标", "Controlled at the latest follow-up"),
        LipidTested = ("lipid_tested", "血脂检测", "Lipids tested"),
        NotStandard = ("not_standard", "未规范管理", "Not managed to the standard"),
        NotControlled = ("not_controlled", "最近一次随访未达标或未随访", "Not controlled or not seen"),
    }
}

/// One registry record's facts for the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub disease: Disease,
    pub doctor: String,
    pub village: String,
    pub face_visits: i64,
    /// The latest follow-up's verdict; `None` when none in the period or
    /// its target was not measured.
    pub latest_controlled: Option<bool>,
    pub lipid_tested: bool,
}

impl Fact {
    pub fn meets(&self, m: Measure, standard_visits: i64) -> bool {
        match m {
            Measure::Managed => true,
            Measure::Standard => self.face_visits >= standard_visits,
            Measure::Controlled => self.latest_controlled == Some(true),
            Measure::LipidTested => self.lipid_tested,
            Measure::NotStandard => self.face_visits < standard_visits,
            Measure::NotControlled => self.latest_controlled != Some(true),
        }
    }
}

/// Counts for one group of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub managed: u64,
    pub standard: u64,
    pub controlled: u64,
    pub lipid_tested: u64,
}

/// Rates in basis points (1 = 0.01 %); `None` when the denominator is 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Rates {
    pub management: Option<i64>,
    pub standard: Option<i64>,
    pub controlled: Option<i64>,
    pub lipid_tested: Option<i64>,
}

pub fn tally<'a>(facts: impl IntoIterator<Item = &'a Fact>, standard_visits: i64) -> Tally {
    let mut t = Tally::default();
    for f in facts {
        t.managed += 1;
        t.standard += u64::from(f.meets(Measure::Standard, standard_visits));
        t.controlled += u64::from(f.meets(Measure::Controlled, standard_visits));
        t.lipid_tested += u64::from(f.lipid_tested);
    }
    t
}

impl Tally {
    /// The rates, given the expected number of patients in the area if known.
    pub fn rates(&self, expected: Option<u64>) -> Rates {
        let of = |n: u64, d: u64| (d > 0).then(|| ((n as i128 * 20_000 + d as i128) / (2 * d as i128)) as i64);
        Rates {
            management: expected.and_then(|e| of(self.managed, e)),
            standard: of(self.standard, self.managed),
            controlled: of(self.controlled, self.managed),
            lipid_tested: of(self.lipid_tested, self.managed),
        }
    }
}

/// "72.35%" from basis points; "—" when there is no rate.
pub fn show_rate(bp: Option<i64>) -> String {
    match bp {
        Some(v) => format!("{}.{:02}%", v / 100, v % 100),
        None => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(doctor: &str, face_visits: i64, latest_controlled: Option<bool>, lipid_tested: bool) -> Fact {
        Fact {
            disease: Disease::Hypertension,
            doctor: doctor.into(),
            village: "东村".into(),
            face_visits,
            latest_controlled,
            lipid_tested,
        }
    }

    /// A hand-built cohort of 6 records; the answers are counted by hand.
    #[test]
    fn a_hand_computed_cohort() {
        let cohort = [
            fact("wang", 4, Some(true), true),   // standard, controlled, lipids
            fact("wang", 5, Some(false), false), // standard
            fact("wang", 3, Some(true), false),  // controlled
            fact("li", 0, None, false),          // never seen
            fact("li", 4, None, true),           // standard, lipids, target not measured
            fact("li", 1, Some(true), false),    // controlled
        ];
        let all = tally(&cohort, 4);
        assert_eq!(all, Tally { managed: 6, standard: 3, controlled: 3, lipid_tested: 2 });
        let r = all.rates(Some(8));
        // 6/8 = 75 %, 3/6 = 50 %, 2/6 = 33.33 %
        assert_eq!(
            (r.management, r.standard, r.controlled, r.lipid_tested),
            (Some(7500), Some(5000), Some(5000), Some(3333))
        );
        assert_eq!(show_rate(r.lipid_tested), "33.33%");
        assert_eq!(all.rates(None).management, None);
        let li = tally(cohort.iter().filter(|f| f.doctor == "li"), 4);
        assert_eq!(li, Tally { managed: 3, standard: 1, controlled: 1, lipid_tested: 1 });
        // 2/3 rounds to 66.67 %
        assert_eq!(li.rates(None).standard, Some(3333));
        assert_eq!(show_rate(tally(cohort.iter().filter(|f| f.face_visits < 4), 4).rates(None).controlled), "66.67%");
        // the configured count is the line
        assert_eq!(tally(&cohort, 5).standard, 1);
        let behind: Vec<_> = cohort.iter().filter(|f| f.meets(Measure::NotControlled, 4)).collect();
        assert_eq!(behind.len(), 3);
        assert_eq!(Tally::default().rates(Some(0)), Rates::default());
    }
}
