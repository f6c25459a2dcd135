//! Chronic-disease management (慢病管理, 三高共管 六病同防): the registry of
//! residents with hypertension, type 2 diabetes and dyslipidaemia, screening,
//! the standard follow-up with its classification, and the indicators. The
//! rules are the national basic public-health service standard, 3rd edition
//! (domain-rules-cn.md §3); every number is dated configuration
//! (`chronic.rules`), this module only applies it.

mod classify;
mod indicator;
mod reading;
mod screen;

pub use classify::{Assessment, Findings, classify};
pub use indicator::{Fact, Measure, Rates, Tally, show_rate, tally};
pub use reading::{Measured, Reading, bmi_tenths, parse_reading};
pub use screen::{RiskFactor, ScreenInput, Screening, screen};

use serde::{Deserialize, Serialize};

use crate::security::named_enum;

named_enum! {
    /// A disease of the registry (三高).
    Disease {
        Hypertension = ("htn", "高血压", "Hypertension"),
        Diabetes = ("t2dm", "2型糖尿病", "Type 2 diabetes"),
        Dyslipidaemia = ("lipid", "血脂异常", "Dyslipidaemia"),
    }
}

named_enum! {
    /// How a follow-up was made. The standard counts face-to-face visits:
    /// at the clinic or at home (入户随访); a phone call is recorded but not counted.
    Mode {
        Clinic = ("clinic", "门诊面对面", "At the clinic"),
        Home = ("home", "入户随访", "Home visit"),
        Phone = ("phone", "电话随访", "Phone call"),
    }
}

impl Mode {
    pub fn face_to_face(self) -> bool {
        matches!(self, Mode::Clinic | Mode::Home)
    }
}

named_enum! {
    /// The classification of a follow-up (此次随访分类).
    Class as "ChronicClass" {
        Satisfied = ("satisfied", "控制满意", "Controlled"),
        Unsatisfied = ("unsatisfied", "控制不满意", "Not controlled"),
        Adverse = ("adverse", "不良反应", "Adverse reaction"),
        Complication = ("complication", "并发症", "Complication"),
    }
}

named_enum! {
    /// What the classification fixes for the next visit.
    Next {
        Routine = ("routine", "常规随访", "Routine visit"),
        TwoWeeks = ("two_weeks", "2 周内随访", "Revisit within 2 weeks"),
        Referral = ("referral", "转诊，2 周内随访", "Referral, follow up within 2 weeks"),
        Urgent = ("urgent", "紧急转诊，2 周内随访", "Urgent referral, follow up within 2 weeks"),
    }
}

impl Next {
    /// Referrals whose result must be followed up within two weeks.
    pub fn is_referral(self) -> bool {
        matches!(self, Next::Referral | Next::Urgent)
    }
}

named_enum! {
    /// Where a registry record came from.
    Source {
        Outpatient = ("outpatient", "门诊发现", "Found at an outpatient visit"),
        Screening = ("screening", "筛查发现", "Found by screening"),
        Checkup = ("checkup", "健康体检", "Health check"),
        Referred = ("referred", "上级转回", "Referred back"),
        Known = ("known", "既往确诊", "Known diagnosis"),
    }
}

named_enum! {
    /// The organisation's tier in the county's three-highs network.
    Tier {
        Centre = ("centre", "三高中心", "Three-highs centre"),
        Base = ("base", "三高基地", "Three-highs base"),
        Home = ("home", "三高之家", "Three-highs home"),
    }
}

/// A co-prevented disease (六病同防) screened for among registry patients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub code: String,
    pub name: String,
}

/// A blood-pressure target for patients from an age on (some guides use
/// 150/90 for the elderly; the standard uses 140/90 for all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpTarget {
    pub from_age: i32,
    pub sbp: i64,
    pub dbp: i64,
}

/// A plausible range: a value outside is a typing slip, refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub min: String,
    pub max: String,
}

/// The rules in force (configuration `chronic.rules`). Glucose and lipids
/// are in mmol/L written as decimals ("7.0"), BMI in kg/m².
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// The programme's youngest age (国家基本公卫：35 岁及以上常住居民).
    pub min_age: i32,
    pub bp_targets: Vec<BpTarget>,
    /// Fasting glucose at or above this is not controlled.
    pub fbg_target: String,
    /// LDL-C at or above this is not controlled (dyslipidaemia).
    pub ldl_target: String,
    /// A screening reading at or above these suggests hypertension.
    pub diagnose_sbp: i64,
    pub diagnose_dbp: i64,
    /// A screening fasting glucose at or above this suggests diabetes.
    pub diagnose_fbg: String,
    pub emergency_sbp: i64,
    pub emergency_dbp: i64,
    pub emergency_glucose_high: String,
    pub emergency_glucose_low: String,
    /// Diabetes emergencies: heart rate above, temperature above.
    pub emergency_heart_rate: i64,
    pub emergency_temperature: String,
    /// Emergency signs the doctor ticks (意识改变、剧烈头痛…).
    pub emergency_signs: Vec<Related>,
    pub routine_days: i64,
    pub recheck_days: i64,
    /// The annual free BP check, and the check of high-risk residents.
    pub screen_days: i64,
    pub high_risk_screen_days: i64,
    /// Days between annual health checks of registry patients.
    pub checkup_days: i64,
    pub high_risk: HighRisk,
    pub lipid: LipidThresholds,
    /// Face-to-face follow-ups a year for standard management (规范管理).
    pub standard_visits: i64,
    /// 六病同防: the complications and related diseases screened for.
    pub related: Vec<Related>,
    pub ranges: Ranges,
    /// The lab catalogue's item codes whose results feed screening.
    pub lab: LabItems,
}

/// Lab item codes (catalog/lab.toml) of fasting glucose and the lipids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabItems {
    pub fbg: String,
    pub tc: String,
    pub ldl: String,
    pub tg: String,
    pub hdl: String,
}

/// The six risk factors of a high-risk resident (高危人群).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HighRisk {
    pub sbp: i64,
    pub dbp: i64,
    pub bmi: String,
    pub waist_male: i64,
    pub waist_female: i64,
    pub age: i32,
    /// Fasting glucose at or above this (and below diabetes) is impaired.
    pub fbg: String,
}

/// Dyslipidaemia thresholds (TC, LDL-C, TG at or above; HDL-C below).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LipidThresholds {
    pub tc: String,
    pub ldl: String,
    pub tg: String,
    pub hdl_below: String,
}

/// Plausible ranges of what a follow-up records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ranges {
    pub sbp: Range,
    pub dbp: Range,
    pub heart_rate: Range,
    pub weight: Range,
    pub height: Range,
    pub waist: Range,
    pub glucose: Range,
    pub lipid: Range,
    pub temperature: Range,
}

impl Rules {
    /// The BP target for a patient of `age`.
    pub fn bp_target(&self, age: i32) -> (i64, i64) {
        self.bp_targets
            .iter()
            .filter(|t| t.from_age <= age)
            .max_by_key(|t| t.from_age)
            .map(|t| (t.sbp, t.dbp))
            .unwrap_or((140, 90))
    }
}

/// Decimal configuration as thousandths; a malformed value never matches.
pub(crate) fn milli(s: &str) -> i64 {
    crate::catalog::parse_milli(s).unwrap_or(i64::MAX)
}

#[cfg(test)]
pub(crate) mod testrules {
    use super::*;

    /// The shipped rules, read from the catalogue so the tests check what ships.
    pub fn shipped() -> Rules {
        #[derive(Deserialize)]
        struct Cat {
            policy: Vec<Row>,
        }
        #[derive(Deserialize)]
        struct Row {
            key: String,
            value: toml::Value,
        }
        let cat: Cat = toml::from_str(include_str!("../../../../catalog/policy.toml")).expect("catalogue parses");
        let row = cat.policy.into_iter().rev().find(|r| r.key == "chronic.rules").expect("chronic.rules ships");
        row.value.try_into().expect("chronic.rules is well formed")
    }
}
