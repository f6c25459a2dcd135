//! The measurements of a follow-up or a screening, parsed from what was typed
//! and checked against plausible ranges: a reading outside (BP 400/20,
//! glucose 0) is a typing slip and refused with the field named.

use serde::{Deserialize, Serialize};

use super::{Range, Rules};
use crate::catalog::parse_milli;
use crate::error::Checks;
use crate::{DomainError, ErrorCode};

/// What was typed; every field may be empty (not measured).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Measured {
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = i64)]
    pub sbp: String,
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = i64)]
    pub dbp: String,
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = i64)]
    pub heart_rate: String,
    /// kg
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub weight: String,
    /// cm
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub height: String,
    /// cm
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub waist: String,
    /// Fasting blood glucose, mmol/L.
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub fbg: String,
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub tc: String,
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub ldl: String,
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub tg: String,
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub hdl: String,
    /// °C
    #[serde(deserialize_with = "crate::lenient::text")]
    #[schema(value_type = f64)]
    pub temperature: String,
}

/// Parsed measurements: mmHg and beats as integers, the rest in thousandths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reading {
    pub sbp: Option<i64>,
    pub dbp: Option<i64>,
    pub heart_rate: Option<i64>,
    pub weight_milli: Option<i64>,
    pub height_milli: Option<i64>,
    pub waist_milli: Option<i64>,
    pub fbg_milli: Option<i64>,
    pub tc_milli: Option<i64>,
    pub ldl_milli: Option<i64>,
    pub tg_milli: Option<i64>,
    pub hdl_milli: Option<i64>,
    pub temperature_milli: Option<i64>,
}

impl Reading {
    pub fn bmi_tenths(&self) -> Option<i64> {
        bmi_tenths(self.weight_milli?, self.height_milli?)
    }
    pub fn has_lipids(&self) -> bool {
        self.tc_milli.is_some() || self.ldl_milli.is_some() || self.tg_milli.is_some() || self.hdl_milli.is_some()
    }
}

/// BMI in tenths of kg/m², rounded, from kg and cm in thousandths.
pub fn bmi_tenths(weight_milli: i64, height_milli: i64) -> Option<i64> {
    if weight_milli <= 0 || height_milli <= 0 {
        return None;
    }
    let h2 = height_milli.checked_mul(height_milli)?;
    let num = weight_milli.checked_mul(200_000_000)?.checked_add(h2)?;
    Some(num / (2 * h2))
}

/// Parses and range-checks every field, reporting all faults at once.
pub fn parse_reading(m: &Measured, rules: &Rules) -> Result<Reading, DomainError> {
    let r = &rules.ranges;
    let mut checks = Checks::new();
    let mut field = |name: &str, label: &str, value: &str, range: &Range| -> Option<i64> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let Some(v) = parse_milli(value) else {
            checks.add(name, ErrorCode::InvalidFormat, [range.min.clone()]);
            return None;
        };
        let (lo, hi) = (parse_milli(&range.min).unwrap_or(0), parse_milli(&range.max).unwrap_or(i64::MAX));
        if !(lo..=hi).contains(&v) {
            checks.add(name, ErrorCode::ChronicRange, [label.to_string(), range.min.clone(), range.max.clone()]);
            return None;
        }
        Some(v)
    };
    let whole = |v: Option<i64>| v.map(|v| v / 1000);
    let reading = Reading {
        sbp: whole(field("sbp", "收缩压（mmHg）", &m.sbp, &r.sbp)),
        dbp: whole(field("dbp", "舒张压（mmHg）", &m.dbp, &r.dbp)),
        heart_rate: whole(field("heart_rate", "心率（次/分）", &m.heart_rate, &r.heart_rate)),
        weight_milli: field("weight", "体重（kg）", &m.weight, &r.weight),
        height_milli: field("height", "身高（cm）", &m.height, &r.height),
        waist_milli: field("waist", "腰围（cm）", &m.waist, &r.waist),
        fbg_milli: field("fbg", "空腹血糖（mmol/L）", &m.fbg, &r.glucose),
        tc_milli: field("tc", "总胆固醇（mmol/L）", &m.tc, &r.lipid),
        ldl_milli: field("ldl", "低密度脂蛋白胆固醇（mmol/L）", &m.ldl, &r.lipid),
        tg_milli: field("tg", "甘油三酯（mmol/L）", &m.tg, &r.lipid),
        hdl_milli: field("hdl", "高密度脂蛋白胆固醇（mmol/L）", &m.hdl, &r.lipid),
        temperature_milli: field("temperature", "体温（℃）", &m.temperature, &r.temperature),
    };
    match (reading.sbp, reading.dbp) {
        (Some(s), Some(d)) if s <= d => checks.add("sbp", ErrorCode::ChronicBloodPressure, [""; 0]),
        (Some(_), None) => checks.add("dbp", ErrorCode::Required, [""; 0]),
        (None, Some(_)) => checks.add("sbp", ErrorCode::Required, [""; 0]),
        _ => {}
    }
    checks.finish()?;
    Ok(reading)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chronic::testrules::shipped;

    fn typed(pairs: &[(&str, &str)]) -> Measured {
        let mut v = serde_json::Map::new();
        for (k, val) in pairs {
            v.insert((*k).into(), (*val).into());
        }
        serde_json::from_value(v.into()).expect("known fields")
    }

    #[test]
    fn a_plausible_reading_parses() {
        let r = parse_reading(&typed(&[("sbp", "142"), ("dbp", "88"), ("fbg", "7.2"), ("weight", "70.5")]), &shipped())
            .expect("plausible");
        assert_eq!((r.sbp, r.dbp, r.fbg_milli, r.weight_milli), (Some(142), Some(88), Some(7200), Some(70_500)));
        assert_eq!(r.heart_rate, None);
    }

    #[test]
    fn impossible_readings_are_refused_field_by_field() {
        let e = parse_reading(&typed(&[("sbp", "400"), ("dbp", "20"), ("fbg", "0")]), &shipped()).unwrap_err();
        assert_eq!(e.field_error("sbp").map(|f| f.code), Some(ErrorCode::ChronicRange));
        assert_eq!(e.field_error("fbg").map(|f| f.code), Some(ErrorCode::ChronicRange));
        let e = parse_reading(&typed(&[("sbp", "80"), ("dbp", "90")]), &shipped()).unwrap_err();
        assert_eq!(e.field_error("sbp").map(|f| f.code), Some(ErrorCode::ChronicBloodPressure));
        let e = parse_reading(&typed(&[("sbp", "140")]), &shipped()).unwrap_err();
        assert_eq!(e.field_error("dbp").map(|f| f.code), Some(ErrorCode::Required));
        let e = parse_reading(&typed(&[("weight", "七十")]), &shipped()).unwrap_err();
        assert_eq!(e.field_error("weight").map(|f| f.code), Some(ErrorCode::InvalidFormat));
    }

    #[test]
    fn bmi_is_rounded_to_a_tenth() {
        // 70 kg, 170 cm: 24.22 → 24.2
        assert_eq!(bmi_tenths(70_000, 170_000), Some(242));
        // 80 kg, 160 cm: 31.25 → 31.3 (half up)
        assert_eq!(bmi_tenths(80_000, 160_000), Some(313));
        assert_eq!(bmi_tenths(70_000, 0), None);
    }
}
