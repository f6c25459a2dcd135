//! Screening (筛查): what a reading from a visit, a lab result or the annual
//! free BP check suggests. A raised reading proposes enrolment (the doctor
//! confirms the diagnosis); the six risk factors make a resident high-risk,
//! checked every 6 months instead of once a year.

use serde::Serialize;

use super::{Disease, Reading, Rules, milli};
use crate::catalog::show_milli;
use crate::identity::Sex;
use crate::security::named_enum;

named_enum! {
    /// The risk factors of a high-risk resident (高危人群).
    RiskFactor {
        HighNormalBp = ("high_normal_bp", "血压正常高值", "High-normal blood pressure"),
        Overweight = ("overweight", "超重或肥胖", "Overweight or obese"),
        Waist = ("waist", "中心型肥胖", "Central obesity"),
        FamilyHistory = ("family_history", "家族史", "Family history"),
        HighSalt = ("high_salt", "长期高盐饮食", "High-salt diet"),
        Drinking = ("drinking", "长期过量饮酒", "Heavy drinking"),
        Age = ("age", "年龄≥55 岁", "Aged 55 or over"),
        ImpairedGlucose = ("impaired_glucose", "空腹血糖受损", "Impaired fasting glucose"),
    }
}

/// A resident's reading and answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScreenInput {
    pub age: i32,
    pub sex: Option<Sex>,
    pub reading: Reading,
    pub family_history: bool,
    pub high_salt: bool,
    pub drinking: bool,
}

/// What the screening suggests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Screening {
    /// Diseases the reading suggests; each proposes enrolment.
    pub suspected: Vec<Disease>,
    pub risks: Vec<RiskFactor>,
    /// Days until the next check is due: 6 months when high-risk, else a year.
    pub next_in_days: i64,
    pub reasons: Vec<String>,
}

impl Screening {
    pub fn high_risk(&self) -> bool {
        !self.risks.is_empty()
    }
}

pub fn screen(s: &ScreenInput, rules: &Rules) -> Screening {
    let r = &s.reading;
    let (h, l) = (&rules.high_risk, &rules.lipid);
    let mut suspected = vec![];
    let mut risks = vec![];
    let mut reasons = vec![];
    if let (Some(sbp), Some(dbp)) = (r.sbp, r.dbp) {
        if sbp >= rules.diagnose_sbp || dbp >= rules.diagnose_dbp {
            suspected.push(Disease::Hypertension);
            reasons.push(format!("血压 {sbp}/{dbp} mmHg ≥ {}/{}", rules.diagnose_sbp, rules.diagnose_dbp));
        } else if sbp >= h.sbp || dbp >= h.dbp {
            risks.push(RiskFactor::HighNormalBp);
        }
    }
    if let Some(g) = r.fbg_milli {
        if g >= milli(&rules.diagnose_fbg) {
            suspected.push(Disease::Diabetes);
            reasons.push(format!("空腹血糖 {} mmol/L ≥ {}", show_milli(g), rules.diagnose_fbg));
        } else if g >= milli(&h.fbg) {
            risks.push(RiskFactor::ImpairedGlucose);
        }
    }
    let lipid = [
        (r.tc_milli.filter(|v| *v >= milli(&l.tc)), "总胆固醇", "≥", &l.tc),
        (r.ldl_milli.filter(|v| *v >= milli(&l.ldl)), "LDL-C", "≥", &l.ldl),
        (r.tg_milli.filter(|v| *v >= milli(&l.tg)), "甘油三酯", "≥", &l.tg),
        (r.hdl_milli.filter(|v| *v < milli(&l.hdl_below)), "HDL-C", "<", &l.hdl_below),
    ];
    for (v, name, op, limit) in lipid {
        if let Some(v) = v {
            reasons.push(format!("{name} {} mmol/L {op} {limit}", show_milli(v)));
        }
    }
    if lipid.iter().any(|x| x.0.is_some()) {
        suspected.push(Disease::Dyslipidaemia);
    }
    if r.bmi_tenths().is_some_and(|b| b * 100 >= milli(&h.bmi)) {
        risks.push(RiskFactor::Overweight);
    }
    let waist_limit = match s.sex {
        Some(Sex::Male) => Some(h.waist_male),
        Some(Sex::Female) => Some(h.waist_female),
        _ => None,
    };
    if let (Some(w), Some(limit)) = (r.waist_milli, waist_limit)
        && w >= limit * 1000
    {
        risks.push(RiskFactor::Waist);
    }
    let answers = [
        (s.family_history, RiskFactor::FamilyHistory),
        (s.high_salt, RiskFactor::HighSalt),
        (s.drinking, RiskFactor::Drinking),
        (s.age >= h.age, RiskFactor::Age),
    ];
    risks.extend(answers.into_iter().filter(|(yes, _)| *yes).map(|(_, f)| f));
    let next_in_days = if risks.is_empty() { rules.screen_days } else { rules.high_risk_screen_days };
    Screening { suspected, risks, next_in_days, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chronic::testrules::shipped;

    fn at(age: i32, reading: Reading) -> ScreenInput {
        ScreenInput { age, sex: Some(Sex::Male), reading, ..ScreenInput::default() }
    }

    #[test]
    fn raised_readings_suggest_the_disease() {
        let rules = shipped();
        let bp = |s, d| Reading { sbp: Some(s), dbp: Some(d), ..Reading::default() };
        assert_eq!(screen(&at(40, bp(140, 80)), &rules).suspected, vec![Disease::Hypertension]);
        assert_eq!(screen(&at(40, bp(120, 90)), &rules).suspected, vec![Disease::Hypertension]);
        let normal = screen(&at(40, bp(129, 84)), &rules);
        assert!(normal.suspected.is_empty() && !normal.high_risk());
        assert_eq!(normal.next_in_days, rules.screen_days);
        let high_normal = screen(&at(40, bp(130, 70)), &rules);
        assert_eq!(high_normal.risks, vec![RiskFactor::HighNormalBp]);
        assert_eq!(high_normal.next_in_days, rules.high_risk_screen_days);
        let fbg = |g| Reading { fbg_milli: Some(g), ..Reading::default() };
        assert_eq!(screen(&at(40, fbg(7_000)), &rules).suspected, vec![Disease::Diabetes]);
        assert_eq!(screen(&at(40, fbg(6_100)), &rules).risks, vec![RiskFactor::ImpairedGlucose]);
        assert!(screen(&at(40, fbg(6_000)), &rules).risks.is_empty());
    }

    /// TC ≥ 6.2, LDL-C ≥ 4.1, TG ≥ 2.3 or HDL-C < 1.0 flags dyslipidaemia.
    #[test]
    fn lipid_thresholds() {
        let rules = shipped();
        let lipid = |tc, ldl, tg, hdl| Reading {
            tc_milli: Some(tc),
            ldl_milli: Some(ldl),
            tg_milli: Some(tg),
            hdl_milli: Some(hdl),
            ..Reading::default()
        };
        let flagged = |r| screen(&at(40, r), &rules).suspected == vec![Disease::Dyslipidaemia];
        assert!(!flagged(lipid(6_190, 4_090, 2_290, 1_000)));
        assert!(flagged(lipid(6_200, 3_000, 1_000, 1_200)));
        assert!(flagged(lipid(5_000, 4_100, 1_000, 1_200)));
        assert!(flagged(lipid(5_000, 3_000, 2_300, 1_200)));
        assert!(flagged(lipid(5_000, 3_000, 1_000, 990)));
    }

    #[test]
    fn the_six_risk_factors() {
        let rules = shipped();
        let heavy = Reading { weight_milli: Some(70_000), height_milli: Some(170_000), ..Reading::default() };
        assert_eq!(screen(&at(40, heavy), &rules).risks, vec![RiskFactor::Overweight]);
        let slim = Reading { weight_milli: Some(69_000), height_milli: Some(170_000), ..Reading::default() };
        assert!(screen(&at(40, slim), &rules).risks.is_empty());
        let waist = |cm: i64| Reading { waist_milli: Some(cm * 1000), ..Reading::default() };
        assert_eq!(screen(&at(40, waist(90)), &rules).risks, vec![RiskFactor::Waist]);
        let woman = ScreenInput { sex: Some(Sex::Female), ..at(40, waist(85)) };
        assert_eq!(screen(&woman, &rules).risks, vec![RiskFactor::Waist]);
        assert!(screen(&at(40, waist(89)), &rules).risks.is_empty());
        let answers =
            ScreenInput { family_history: true, high_salt: true, drinking: true, ..at(55, Reading::default()) };
        assert_eq!(
            screen(&answers, &rules).risks,
            vec![RiskFactor::FamilyHistory, RiskFactor::HighSalt, RiskFactor::Drinking, RiskFactor::Age]
        );
        assert!(screen(&at(54, Reading::default()), &rules).risks.is_empty());
    }
}
