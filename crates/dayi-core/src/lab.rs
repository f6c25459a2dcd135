//! Laboratory rules (检验): the lab catalogue's shape (panels and items with
//! units, reference ranges by sex and age, critical limits, LOINC codes), and
//! judging a result against them. Numbers are thousandths (`catalog::parse_milli`),
//! so a range check is exact; every limit is configuration (`catalog/lab.toml`).

use serde::{Deserialize, Serialize};

use crate::catalog::{parse_milli, show_milli};
use crate::security::named_enum;
use crate::{DomainError, ErrorCode};

/// The lab catalogue: what can be ordered and measured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabCatalog {
    pub panel: Vec<Panel>,
}

/// A panel (检验项目组合), ordered as one charge item and drawn as one specimen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Panel {
    pub code: String,
    pub name: String,
    /// The charge item (catalog `charge_item`) a doctor orders.
    pub charge_code: String,
    /// 全血, 血清, 尿液 …
    pub specimen: String,
    /// The tube's cap (紫头管 EDTA …), printed on the label.
    #[serde(default)]
    pub tube: String,
    pub item: Vec<LabItem>,
}

/// One measured item (检验指标).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabItem {
    pub code: String,
    pub name: String,
    /// LOINC code, where one is known.
    #[serde(default)]
    pub loinc: String,
    /// Unit as reported ("10^9/L", "mmol/L"); empty for text results.
    #[serde(default)]
    pub unit: String,
    /// Reference ranges; the first that fits the patient's sex and age applies.
    #[serde(default)]
    pub range: Vec<Range>,
    #[serde(default)]
    pub critical_low: String,
    #[serde(default)]
    pub critical_high: String,
    /// Text results (尿蛋白 阴性/+): the answers that are normal.
    #[serde(default)]
    pub normal_text: Vec<String>,
}

/// A reference range for a sex (empty: both) and an age band in years, [from, to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(default)]
    pub sex: String,
    #[serde(default)]
    pub age_from: i64,
    #[serde(default = "no_upper_age")]
    pub age_to: i64,
    #[serde(default)]
    pub low: String,
    #[serde(default)]
    pub high: String,
}

fn no_upper_age() -> i64 {
    200
}

named_enum! {
    /// How a result stands against its range and critical limits.
    Flag {
        Normal = ("N", "正常", "Normal"),
        Low = ("L", "偏低", "Low"),
        High = ("H", "偏高", "High"),
        CriticalLow = ("LL", "危急偏低", "Critically low"),
        CriticalHigh = ("HH", "危急偏高", "Critically high"),
        Abnormal = ("A", "异常", "Abnormal"),
    }
}

impl Flag {
    pub fn is_critical(self) -> bool {
        matches!(self, Flag::CriticalLow | Flag::CriticalHigh)
    }
    /// An arrow for screens and reports (↑ ↓, doubled when critical).
    pub fn arrow(self) -> &'static str {
        match self {
            Flag::Normal => "",
            Flag::Low => "↓",
            Flag::High => "↑",
            Flag::CriticalLow => "↓↓",
            Flag::CriticalHigh => "↑↑",
            Flag::Abnormal => "*",
        }
    }
}

/// A result judged: the flag and the range it was judged by, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judged {
    /// Thousandths, for numeric items.
    pub milli: Option<i64>,
    pub flag: Flag,
    pub range_text: String,
}

impl LabCatalog {
    pub fn panel(&self, code: &str) -> Option<&Panel> {
        self.panel.iter().find(|p| p.code == code)
    }
    /// The panel a charge item orders.
    pub fn by_charge(&self, charge_code: &str) -> Option<&Panel> {
        self.panel.iter().find(|p| p.charge_code == charge_code)
    }
    /// Finds an item of a panel by its code or its LOINC code (analyzers send either).
    pub fn item<'a>(&'a self, panel: &'a Panel, code: &str) -> Option<&'a LabItem> {
        let code = code.trim();
        panel.item.iter().find(|i| i.code.eq_ignore_ascii_case(code) || (!i.loinc.is_empty() && i.loinc == code))
    }

    /// Checks the catalogue as loaded: codes unique, limits numbers, low ≤ high.
    pub fn check(&self) -> Result<(), DomainError> {
        let bad = |what: String| Err(DomainError::with(ErrorCode::CatalogFile, [what]));
        let mut panels = std::collections::HashSet::new();
        for p in &self.panel {
            if !panels.insert(&p.code) {
                return bad(format!("检验组合 {} 重复", p.code));
            }
            let mut items = std::collections::HashSet::new();
            for i in &p.item {
                if !items.insert(&i.code) {
                    return bad(format!("{} 的指标 {} 重复", p.code, i.code));
                }
                for v in [&i.critical_low, &i.critical_high] {
                    if !v.is_empty() && parse_milli(v).is_none() {
                        return bad(format!("{} 的危急值 {v} 不是数字", i.code));
                    }
                }
                for r in &i.range {
                    let (lo, hi) = (parse_milli(&r.low), parse_milli(&r.high));
                    if (!r.low.is_empty() && lo.is_none()) || (!r.high.is_empty() && hi.is_none()) {
                        return bad(format!("{} 的参考范围 {}–{} 不是数字", i.code, r.low, r.high));
                    }
                    if let (Some(l), Some(h)) = (lo, hi)
                        && l > h
                    {
                        return bad(format!("{} 的参考范围下限高于上限", i.code));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Units compare without case and with µ/u and spaces alike ("umol/L" = "μmol/L").
pub fn same_unit(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c == 'µ' || c == 'μ' { 'u' } else { c })
            .collect::<String>()
            .to_lowercase()
    };
    norm(a) == norm(b)
}

impl LabItem {
    /// The range for a patient (sex "1" male / "2" female, GB/T 2261.1), if any.
    pub fn range_for(&self, sex: &str, age: i64) -> Option<&Range> {
        self.range.iter().find(|r| (r.sex.is_empty() || r.sex == sex) && (r.age_from..r.age_to).contains(&age))
    }

    /// Judges a value reported in `unit` (empty: the item's own unit).
    pub fn judge(&self, value: &str, unit: &str, sex: &str, age: i64) -> Result<Judged, DomainError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(DomainError::field("value", ErrorCode::Required, [""; 0]));
        }
        if !unit.trim().is_empty() && !same_unit(unit, &self.unit) {
            return Err(DomainError::with(
                ErrorCode::LabUnit,
                [self.name.clone(), unit.trim().to_string(), self.unit.clone()],
            ));
        }
        if !self.normal_text.is_empty() {
            let normal = self.normal_text.iter().any(|t| t == value);
            let range_text = self.normal_text.join("/");
            return Ok(Judged { milli: None, flag: if normal { Flag::Normal } else { Flag::Abnormal }, range_text });
        }
        let v =
            parse_milli(value).ok_or_else(|| DomainError::field("value", ErrorCode::LabValue, [self.name.clone()]))?;
        let r = self.range_for(sex, age);
        let (lo, hi) = r.map(|r| (parse_milli(&r.low), parse_milli(&r.high))).unwrap_or((None, None));
        let range_text = match (lo, hi) {
            (Some(l), Some(h)) => format!("{}–{}", show_milli(l), show_milli(h)),
            (Some(l), None) => format!("≥{}", show_milli(l)),
            (None, Some(h)) => format!("≤{}", show_milli(h)),
            (None, None) => String::new(),
        };
        let (clo, chi) = (parse_milli(&self.critical_low), parse_milli(&self.critical_high));
        let flag = if clo.is_some_and(|c| v <= c) {
            Flag::CriticalLow
        } else if chi.is_some_and(|c| v >= c) {
            Flag::CriticalHigh
        } else if lo.is_some_and(|l| v < l) {
            Flag::Low
        } else if hi.is_some_and(|h| v > h) {
            Flag::High
        } else {
            Flag::Normal
        };
        Ok(Judged { milli: Some(v), flag, range_text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn potassium() -> LabItem {
        LabItem {
            code: "K".into(),
            name: "钾".into(),
            loinc: "2823-3".into(),
            unit: "mmol/L".into(),
            range: vec![Range { sex: String::new(), age_from: 0, age_to: 200, low: "3.5".into(), high: "5.3".into() }],
            critical_low: "2.5".into(),
            critical_high: "6.5".into(),
            normal_text: vec![],
        }
    }

    fn hemoglobin() -> LabItem {
        let r = |sex: &str, from, to, low: &str, high: &str| Range {
            sex: sex.into(),
            age_from: from,
            age_to: to,
            low: low.into(),
            high: high.into(),
        };
        LabItem {
            code: "HGB".into(),
            name: "血红蛋白".into(),
            loinc: "718-7".into(),
            unit: "g/L".into(),
            range: vec![r("", 0, 14, "110", "160"), r("1", 14, 200, "130", "175"), r("2", 14, 200, "115", "150")],
            critical_low: "50".into(),
            critical_high: "200".into(),
            normal_text: vec![],
        }
    }

    #[test]
    fn flags_at_the_boundaries() {
        let k = potassium();
        for (v, want) in [
            ("3.5", Flag::Normal),
            ("5.3", Flag::Normal),
            ("3.499", Flag::Low),
            ("5.301", Flag::High),
            ("2.5", Flag::CriticalLow),
            ("2.501", Flag::Low),
            ("6.5", Flag::CriticalHigh),
            ("6.499", Flag::High),
        ] {
            assert_eq!(k.judge(v, "mmol/L", "1", 40).unwrap().flag, want, "{v}");
        }
        assert_eq!(k.judge("4.1", "", "1", 40).unwrap().range_text, "3.5–5.3");
    }

    #[test]
    fn ranges_follow_sex_and_age() {
        let h = hemoglobin();
        assert_eq!(h.judge("125", "g/L", "1", 30).unwrap().flag, Flag::Low);
        assert_eq!(h.judge("125", "g/L", "2", 30).unwrap().flag, Flag::Normal);
        assert_eq!(h.judge("125", "g/L", "1", 8).unwrap().flag, Flag::Normal);
        assert_eq!(h.judge("125", "g/L", "2", 30).unwrap().range_text, "115–150");
        assert_eq!(h.judge("45", "g/L", "2", 30).unwrap().flag, Flag::CriticalLow);
    }

    #[test]
    fn wrong_units_and_non_numbers_are_refused() {
        let k = potassium();
        assert_eq!(k.judge("4.1", "mg/dL", "1", 40).unwrap_err().code, ErrorCode::LabUnit);
        assert!(same_unit("umol/L", "μmol/L") && same_unit("10^9/L", "10^9/l"));
        assert_eq!(k.judge("high", "", "1", 40).unwrap_err().fields[0].code, ErrorCode::LabValue);
        assert_eq!(k.judge("-1", "", "1", 40).unwrap_err().fields[0].code, ErrorCode::LabValue);
    }

    #[test]
    fn text_results_are_normal_or_abnormal() {
        let pro =
            LabItem {
                normal_text: vec!["阴性".into(), "-".into()], unit: String::new(), range: vec![], ..potassium()
            };
        assert_eq!(pro.judge("阴性", "", "2", 30).unwrap().flag, Flag::Normal);
        assert_eq!(pro.judge("2+", "", "2", 30).unwrap().flag, Flag::Abnormal);
    }

    #[test]
    fn the_shipped_catalogue_holds_together() {
        let c: LabCatalog = toml::from_str(include_str!("../../../catalog/lab.toml")).unwrap();
        c.check().unwrap();
        assert!(c.panel.len() >= 8);
        assert!(c.panel.iter().all(|p| !p.item.is_empty()));
        // Every panel is ordered as a lab charge item of the shipped catalogue.
        let charges = include_str!("../../../catalog/charge_items.csv");
        for p in &c.panel {
            let line = charges.lines().find(|l| l.starts_with(&format!("{},", p.charge_code)));
            assert!(line.is_some_and(|l| l.ends_with(",lab")), "{} orders {}", p.code, p.charge_code);
        }
    }
}
