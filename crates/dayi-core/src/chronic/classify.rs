//! The classified intervention of the standard (分类干预): from one
//! follow-up's findings and the previous classification, the class
//! (控制满意 / 控制不满意 / 不良反应 / 并发症) and the next visit.
//!
//! | finding | next |
//! |---|---|
//! | emergency (BP ≥ 180/110; for diabetes also glucose ≥ 16.7 or ≤ 3.9, heart rate > 100, temperature > 39; a sign ticked; pregnancy with raised values) | urgent referral, follow up within 2 weeks |
//! | new or worsening complication | referral, 2 weeks |
//! | second consecutive 控制不满意, or an adverse reaction that persists | referral, 2 weeks |
//! | first 控制不满意, or an adverse reaction | revisit within 2 weeks |
//! | controlled, no reaction, no complication | routine visit (quarterly) |

use serde::Serialize;

use super::{Class, Disease, Next, Reading, Rules, milli};
use crate::catalog::show_milli;
use crate::{DomainError, ErrorCode};

/// What one follow-up found, for one disease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub reading: Reading,
    pub age: i32,
    /// Codes of the emergency signs ticked.
    pub signs: Vec<String>,
    /// Pregnant or lactating.
    pub pregnant: bool,
    /// An adverse drug reaction (药物不良反应).
    pub adverse: bool,
    /// The reaction is hard to control or not improving.
    pub adverse_persisting: bool,
    /// A new or worsening complication (新发或加重的并发症).
    pub complication: bool,
}

/// The outcome of the classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Assessment {
    pub class: Class,
    pub next: Next,
    /// Days from this visit to the next.
    pub due_in_days: i64,
    /// The reading meets the target (the control-rate indicator); `None`
    /// when the target's measurement was not taken (lipids are not measured
    /// at every visit).
    pub controlled: Option<bool>,
    pub emergency: bool,
    /// Why, in Chinese, for the doctor and the record.
    pub reasons: Vec<String>,
}

/// Classifies one follow-up of `disease`. `previous` is the class of the
/// last follow-up of the same registry record.
pub fn classify(
    disease: Disease,
    f: &Findings,
    previous: Option<Class>,
    rules: &Rules,
) -> Result<Assessment, DomainError> {
    let r = &f.reading;
    if let Some(s) = f.signs.iter().find(|s| !rules.emergency_signs.iter().any(|e| &e.code == *s)) {
        return Err(DomainError::field("signs", ErrorCode::ChronicSignUnknown, [s]));
    }
    let mut reasons = vec![];
    let above = match disease {
        Disease::Hypertension => {
            let (Some(sbp), Some(dbp)) = (r.sbp, r.dbp) else {
                return Err(DomainError::field("sbp", ErrorCode::Required, [""; 0]));
            };
            let (ts, td) = rules.bp_target(f.age);
            let above = sbp >= ts || dbp >= td;
            if above {
                reasons.push(format!("血压 {sbp}/{dbp} mmHg，未达到 {ts}/{td} 以下的目标"));
            }
            Some(above)
        }
        Disease::Diabetes => {
            let Some(fbg) = r.fbg_milli else {
                return Err(DomainError::field("fbg", ErrorCode::Required, [""; 0]));
            };
            let above = fbg >= milli(&rules.fbg_target);
            if above {
                reasons.push(format!("空腹血糖 {} mmol/L，未达到 {} 以下的目标", show_milli(fbg), rules.fbg_target));
            }
            Some(above)
        }
        Disease::Dyslipidaemia => r.ldl_milli.map(|ldl| {
            let above = ldl >= milli(&rules.ldl_target);
            if above {
                reasons.push(format!("LDL-C {} mmol/L，未达到 {} 以下的目标", show_milli(ldl), rules.ldl_target));
            }
            above
        }),
    };
    let emergency = emergency(disease, f, above == Some(true), rules, &mut reasons);
    // Low glucose meets the "below 7.0" target but is no control at all.
    let hypo = disease == Disease::Diabetes && r.fbg_milli.is_some_and(|g| g <= milli(&rules.emergency_glucose_low));
    let unsatisfied = above == Some(true) || hypo;
    let twice = unsatisfied && previous == Some(Class::Unsatisfied);
    if twice {
        reasons.push("连续两次控制不满意".into());
    }
    if f.complication {
        reasons.push("出现新的并发症或原有并发症加重".into());
    }
    if f.adverse {
        reasons.push(if f.adverse_persisting { "药物不良反应难以控制" } else { "出现药物不良反应" }.into());
    }
    let class = if f.complication {
        Class::Complication
    } else if unsatisfied {
        Class::Unsatisfied
    } else if f.adverse {
        Class::Adverse
    } else {
        Class::Satisfied
    };
    let next = if emergency {
        Next::Urgent
    } else if f.complication || twice || (f.adverse && f.adverse_persisting) {
        Next::Referral
    } else if unsatisfied || f.adverse {
        Next::TwoWeeks
    } else {
        Next::Routine
    };
    let due_in_days = if next == Next::Routine { rules.routine_days } else { rules.recheck_days };
    Ok(Assessment { class, next, due_in_days, controlled: above.map(|a| !a && !hypo), emergency, reasons })
}

/// The emergency criteria; each one met adds its reason.
fn emergency(disease: Disease, f: &Findings, above: bool, rules: &Rules, reasons: &mut Vec<String>) -> bool {
    let r = &f.reading;
    let before = reasons.len();
    if let (Some(s), Some(d)) = (r.sbp, r.dbp)
        && (s >= rules.emergency_sbp || d >= rules.emergency_dbp)
    {
        reasons.push(format!("血压 {s}/{d} mmHg，达到 {}/{} 的紧急转诊标准", rules.emergency_sbp, rules.emergency_dbp));
    }
    for s in &f.signs {
        if let Some(sign) = rules.emergency_signs.iter().find(|e| &e.code == s) {
            reasons.push(format!("{}，需紧急转诊", sign.name));
        }
    }
    if f.pregnant && above {
        reasons.push("妊娠或哺乳期指标升高，需紧急转诊".into());
    }
    if disease == Disease::Diabetes {
        if let Some(g) = r.fbg_milli {
            if g >= milli(&rules.emergency_glucose_high) {
                reasons.push(format!("血糖 {} mmol/L ≥ {}，需紧急转诊", show_milli(g), rules.emergency_glucose_high));
            } else if g <= milli(&rules.emergency_glucose_low) {
                reasons.push(format!("血糖 {} mmol/L ≤ {}，需紧急转诊", show_milli(g), rules.emergency_glucose_low));
            }
        }
        if let Some(hr) = r.heart_rate
            && hr > rules.emergency_heart_rate
        {
            reasons.push(format!("心率 {hr} 次/分，持续心动过速"));
        }
        if let Some(t) = r.temperature_milli
            && t > milli(&rules.emergency_temperature)
        {
            reasons.push(format!("体温 {} ℃，超过 {} ℃", show_milli(t), rules.emergency_temperature));
        }
    }
    reasons.len() > before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chronic::testrules::shipped;
    use crate::chronic::{BpTarget, Disease::*};

    use Class::*;
    use Next::*;

    fn bp(s: i64, d: i64) -> Reading {
        Reading { sbp: Some(s), dbp: Some(d), ..Reading::default() }
    }
    fn glucose(g: i64) -> Reading {
        Reading { fbg_milli: Some(g), ..Reading::default() }
    }
    fn of(reading: Reading) -> Findings {
        Findings { reading, age: 60, ..Findings::default() }
    }

    /// (name, findings, previous class, class, next, controlled)
    type Row = (&'static str, Findings, Option<Class>, Class, Next, Option<bool>);

    /// Every row of the standard's table for hypertension, with the boundaries.
    #[test]
    fn hypertension_table() {
        let adverse = |r| Findings { adverse: true, ..of(r) };
        let rows: &[Row] = &[
            ("139/89 控制满意", of(bp(139, 89)), None, Satisfied, Routine, Some(true)),
            ("140/89 首次不满意", of(bp(140, 89)), None, Unsatisfied, TwoWeeks, Some(false)),
            ("139/90 首次不满意", of(bp(139, 90)), None, Unsatisfied, TwoWeeks, Some(false)),
            ("连续两次不满意 → 转诊", of(bp(150, 95)), Some(Unsatisfied), Unsatisfied, Referral, Some(false)),
            ("上次不满意、这次满意", of(bp(130, 80)), Some(Unsatisfied), Satisfied, Routine, Some(true)),
            ("上次不良反应、这次首次不满意", of(bp(150, 95)), Some(Adverse), Unsatisfied, TwoWeeks, Some(false)),
            ("不良反应", adverse(bp(130, 80)), None, Adverse, TwoWeeks, Some(true)),
            (
                "不良反应难以控制 → 转诊",
                Findings { adverse_persisting: true, ..adverse(bp(130, 80)) },
                Some(Adverse),
                Adverse,
                Referral,
                Some(true),
            ),
            (
                "新发并发症 → 转诊",
                Findings { complication: true, ..of(bp(130, 80)) },
                None,
                Complication,
                Referral,
                Some(true),
            ),
            ("180/100 紧急", of(bp(180, 100)), None, Unsatisfied, Urgent, Some(false)),
            ("179/109 非紧急", of(bp(179, 109)), None, Unsatisfied, TwoWeeks, Some(false)),
            ("150/110 紧急", of(bp(150, 110)), None, Unsatisfied, Urgent, Some(false)),
            (
                "紧急症状",
                Findings { signs: vec!["headache".into()], ..of(bp(130, 80)) },
                None,
                Satisfied,
                Urgent,
                Some(true),
            ),
            ("妊娠期血压升高", Findings { pregnant: true, ..of(bp(142, 85)) }, None, Unsatisfied, Urgent, Some(false)),
            ("妊娠期血压正常", Findings { pregnant: true, ..of(bp(120, 80)) }, None, Satisfied, Routine, Some(true)),
        ];
        let rules = shipped();
        for (name, f, prev, class, next, controlled) in rows {
            let a = classify(Hypertension, f, *prev, &rules).expect(name);
            assert_eq!((a.class, a.next, a.controlled), (*class, *next, *controlled), "{name}: {:?}", a.reasons);
            let days = if *next == Routine { rules.routine_days } else { rules.recheck_days };
            assert_eq!(a.due_in_days, days, "{name}");
            assert_eq!(a.emergency, *next == Urgent, "{name}");
        }
    }

    /// Every row of the standard's table for type 2 diabetes, with the boundaries.
    #[test]
    fn diabetes_table() {
        let with = |r: Reading, f: fn(&mut Reading)| {
            let mut r = r;
            f(&mut r);
            of(r)
        };
        let rows: &[(&str, Findings, Option<Class>, Class, Next)] = &[
            ("6.9 控制满意", of(glucose(6_900)), None, Satisfied, Routine),
            ("7.0 首次不满意", of(glucose(7_000)), None, Unsatisfied, TwoWeeks),
            ("连续两次不满意 → 转诊", of(glucose(8_100)), Some(Unsatisfied), Unsatisfied, Referral),
            ("16.7 紧急", of(glucose(16_700)), None, Unsatisfied, Urgent),
            ("16.6 首次不满意", of(glucose(16_600)), None, Unsatisfied, TwoWeeks),
            ("3.9 低血糖紧急", of(glucose(3_900)), None, Unsatisfied, Urgent),
            ("4.0 控制满意", of(glucose(4_000)), None, Satisfied, Routine),
            ("心率 101 紧急", with(glucose(6_000), |r| r.heart_rate = Some(101)), None, Satisfied, Urgent),
            ("心率 100 满意", with(glucose(6_000), |r| r.heart_rate = Some(100)), None, Satisfied, Routine),
            ("体温 39.1 紧急", with(glucose(6_000), |r| r.temperature_milli = Some(39_100)), None, Satisfied, Urgent),
            ("体温 39.0 满意", with(glucose(6_000), |r| r.temperature_milli = Some(39_000)), None, Satisfied, Routine),
            (
                "血压 180/90 紧急",
                with(glucose(6_000), |r| (r.sbp, r.dbp) = (Some(180), Some(90))),
                None,
                Satisfied,
                Urgent,
            ),
            ("不良反应", Findings { adverse: true, ..of(glucose(6_000)) }, None, Adverse, TwoWeeks),
            (
                "不良反应未改善 → 转诊",
                Findings { adverse: true, adverse_persisting: true, ..of(glucose(6_000)) },
                Some(Adverse),
                Adverse,
                Referral,
            ),
            ("并发症 → 转诊", Findings { complication: true, ..of(glucose(6_000)) }, None, Complication, Referral),
        ];
        let rules = shipped();
        for (name, f, prev, class, next) in rows {
            let a = classify(Diabetes, f, *prev, &rules).expect(name);
            assert_eq!((a.class, a.next), (*class, *next), "{name}: {:?}", a.reasons);
            assert_eq!(a.controlled, Some(*class != Unsatisfied), "{name}");
        }
    }

    #[test]
    fn the_target_may_depend_on_age() {
        let mut rules = shipped();
        rules.bp_targets.push(BpTarget { from_age: 65, sbp: 150, dbp: 90 });
        let young = classify(Hypertension, &Findings { age: 64, ..of(bp(145, 85)) }, None, &rules).expect("ok");
        let old = classify(Hypertension, &Findings { age: 65, ..of(bp(145, 85)) }, None, &rules).expect("ok");
        assert_eq!((young.class, old.class), (Unsatisfied, Satisfied));
    }

    #[test]
    fn the_measurement_of_the_disease_is_required() {
        let e = classify(Hypertension, &of(glucose(6_000)), None, &shipped()).unwrap_err();
        assert_eq!(e.field_error("sbp").map(|f| f.code), Some(ErrorCode::Required));
        let e = classify(Diabetes, &of(bp(120, 80)), None, &shipped()).unwrap_err();
        assert_eq!(e.field_error("fbg").map(|f| f.code), Some(ErrorCode::Required));
        let e = classify(Hypertension, &Findings { signs: vec!["nope".into()], ..of(bp(120, 80)) }, None, &shipped())
            .unwrap_err();
        assert_eq!(e.field_error("signs").map(|f| f.code), Some(ErrorCode::ChronicSignUnknown));
    }

    #[test]
    fn lipids_are_judged_only_when_measured() {
        let rules = shipped();
        let none = classify(Dyslipidaemia, &of(bp(120, 80)), None, &rules).expect("ok");
        assert_eq!((none.class, none.controlled), (Satisfied, None));
        let high = Reading { ldl_milli: Some(3_400), ..Reading::default() };
        let a = classify(Dyslipidaemia, &of(high), None, &rules).expect("ok");
        assert_eq!((a.class, a.next, a.controlled), (Unsatisfied, TwoWeeks, Some(false)));
    }
}
