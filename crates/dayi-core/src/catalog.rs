//! The outpatient catalogues (目录): diagnoses (ICD-10 国家临床版 2.0 with
//! the 医保版 mapping), TCM diseases and syndromes, charge items, drugs and
//! TCM techniques. The shipped lists are CSV files under `catalog/`; this
//! module parses them and the numbers in them. Prices are integer fen and
//! dose amounts integer thousandths of the dose unit, so no float ever
//! touches money or a dose.

use crate::security::named_enum;
use crate::{DomainError, ErrorCode};
use pinyin::ToPinyin;
use serde::{Deserialize, Serialize};

named_enum! {
    /// Which catalogue an item belongs to.
    Kind {
        Diagnosis = ("diagnosis", "西医诊断", "Diagnosis"),
        Tcm = ("tcm", "中医病证", "TCM disease or syndrome"),
        ChargeItem = ("charge_item", "收费项目", "Charge item"),
        Drug = ("drug", "药品", "Drug"),
        Technique = ("technique", "中医适宜技术", "TCM technique"),
    }
}

named_enum! {
    /// The insurance class of an item or drug (医保甲/乙/丙类).
    Class as "CatalogClass" {
        A = ("a", "甲类", "Class A"),
        B = ("b", "乙类", "Class B"),
        C = ("c", "丙类（自费）", "Class C (self-pay)"),
    }
}

impl Class {
    /// From the catalogue files' 甲, 乙, 丙.
    pub fn from_zh(s: &str) -> Option<Class> {
        match s.trim() {
            "甲" | "甲类" => Some(Class::A),
            "乙" | "乙类" => Some(Class::B),
            "丙" | "丙类" => Some(Class::C),
            _ => Class::parse(s.trim()),
        }
    }
}

named_enum! {
    /// How often a drug is taken (the usual Latin abbreviations).
    Frequency {
        Qd = ("qd", "每日一次", "once a day"),
        Bid = ("bid", "每日两次", "twice a day"),
        Tid = ("tid", "每日三次", "three times a day"),
        Qid = ("qid", "每日四次", "four times a day"),
        Qn = ("qn", "每晚一次", "every night"),
        Q8h = ("q8h", "每8小时一次", "every 8 hours"),
        Q12h = ("q12h", "每12小时一次", "every 12 hours"),
        Qw = ("qw", "每周一次", "once a week"),
        Prn = ("prn", "必要时", "as needed"),
        St = ("st", "立即（一次）", "at once"),
    }
}

impl Frequency {
    /// Doses over `days` days (`prn` counts one a day, as prescribed at most).
    pub fn doses(self, days: i64) -> i64 {
        match self {
            Frequency::Qd | Frequency::Qn | Frequency::Prn => days,
            Frequency::Bid | Frequency::Q12h => 2 * days,
            Frequency::Tid | Frequency::Q8h => 3 * days,
            Frequency::Qid => 4 * days,
            Frequency::Qw => (days + 6) / 7,
            Frequency::St => 1,
        }
    }

    /// Doses in one day at most (for the daily limit).
    pub fn per_day(self) -> i64 {
        self.doses(1).max(1)
    }
}

/// Parses "0.25", "1", "12.5" into thousandths (250, 1000, 12500).
pub fn parse_milli(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 3
        || whole.len() > 12
    {
        return None;
    }
    let w: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let f: i64 = format!("{frac:0<3}").parse().ok()?;
    Some(w * 1000 + f)
}

/// 250 → "0.25", 1000 → "1", 12500 → "12.5".
pub fn show_milli(v: i64) -> String {
    let (w, f) = (v / 1000, (v % 1000).abs());
    if f == 0 {
        return w.to_string();
    }
    let frac = format!("{f:03}");
    format!("{w}.{}", frac.trim_end_matches('0'))
}

/// Parses a price in yuan ("12.3", "12.30", "12") into fen.
pub fn parse_fen(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) || whole.len() > 10 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + format!("{frac:0<2}").parse::<i64>().ok()?)
}

/// 1230 → "12.30" (yuan, as on receipts).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

/// Pinyin initials for search: 阿莫西林胶囊 → amxljn; letters and digits
/// are kept (维生素B1 → wssb1).
pub fn initials(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c.to_pinyin() {
            Some(p) => p.plain().chars().next(),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

/// A drug's prescribing facts (the `drugs.csv` columns beyond the common ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct DrugFacts {
    pub generic_name: String,
    pub form: String,
    pub spec: String,
    /// The unit a dose is written in (mg, g, 片, ml …).
    pub dose_unit: String,
    /// Dose units in one dispensing unit, in thousandths.
    pub units_per_pack: i64,
    /// Largest single dose, thousandths of the dose unit.
    pub max_dose: i64,
    /// Largest daily dose, thousandths of the dose unit.
    pub max_daily: i64,
    pub route: String,
    pub frequency: String,
}

/// One catalogue item, as every catalogue has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    pub kind: Kind,
    pub code: String,
    pub name: String,
    pub initials: String,
    pub insurance_code: String,
    pub insurance_name: String,
    /// Diagnoses: common/chronic/infectious/screening; TCM: disease/syndrome;
    /// charge items: consult/lab/exam/treatment/nursing/material/registration.
    pub category: String,
    pub unit: String,
    pub price_fen: i64,
    pub class: Option<Class>,
    pub drug: Option<DrugFacts>,
}

/// Charge-item categories, and what an order of each is.
pub const CATEGORIES: &[&str] = &["consult", "lab", "exam", "treatment", "nursing", "material", "registration"];
pub const DIAGNOSIS_GROUPS: &[&str] = &["common", "chronic", "infectious", "screening"];

fn bad(line: usize, what: impl std::fmt::Display) -> DomainError {
    DomainError::with(ErrorCode::CatalogFile, [format!("第 {line} 行：{what}")])
}

/// Parses one shipped catalogue file (CSV with the header of its kind).
pub fn parse_csv(kind: Kind, text: &str) -> Result<Vec<Item>, DomainError> {
    let want = columns(kind);
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.trim_start_matches('\u{feff}').split(',').map(str::trim).collect())
        .unwrap_or_default();
    if header != want {
        return Err(bad(1, format!("表头应为 {}", want.join(","))));
    }
    let mut out = vec![];
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines {
        let row = Row { n: i + 1, want, f: line.split(',').map(str::trim).collect() };
        let code = row.code()?;
        if !seen.insert(code.clone()) {
            return Err(bad(row.n, format!("编码 {code} 重复")));
        }
        out.push(row.item(kind, code)?);
    }
    Ok(out)
}

/// The header of each kind's file.
fn columns(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Diagnosis => &["code", "name", "insurance_code", "insurance_name", "group"],
        Kind::Tcm => &["code", "name", "kind"],
        Kind::ChargeItem => &["code", "insurance_code", "name", "unit", "price_fen", "class", "category"],
        Kind::Drug => &[
            "code",
            "insurance_code",
            "name",
            "generic_name",
            "form",
            "spec",
            "unit",
            "price_fen",
            "class",
            "dose_unit",
            "units_per_pack",
            "max_dose",
            "max_daily",
            "route",
            "frequency",
        ],
        Kind::Technique => &["code", "insurance_code", "name", "unit", "price_fen", "class"],
    }
}

/// One line of a catalogue file: its number, for the errors, and its fields
/// by the header's names.
struct Row<'a> {
    n: usize,
    want: &'a [&'a str],
    f: Vec<&'a str>,
}

impl Row<'_> {
    fn get(&self, k: &str) -> &str {
        self.f[self.want.iter().position(|w| *w == k).unwrap_or(0)]
    }

    fn int(&self, k: &str) -> Result<i64, DomainError> {
        self.get(k).parse::<i64>().map_err(|_| bad(self.n, format!("{k} 应为整数")))
    }

    fn milli(&self, k: &str) -> Result<i64, DomainError> {
        parse_milli(self.get(k)).ok_or_else(|| bad(self.n, format!("{k} 应为数字")))
    }

    fn class(&self, k: &str) -> Result<Option<Class>, DomainError> {
        Class::from_zh(self.get(k)).map(Some).ok_or_else(|| bad(self.n, "类别应为甲、乙或丙"))
    }

    /// The line's code, once it has every column, a code and a name.
    fn code(&self) -> Result<String, DomainError> {
        if self.f.len() != self.want.len() {
            return Err(bad(self.n, format!("应有 {} 列，实有 {} 列", self.want.len(), self.f.len())));
        }
        let code = self.get("code").to_string();
        if code.is_empty() || self.get("name").is_empty() {
            return Err(bad(self.n, "编码和名称不能为空"));
        }
        Ok(code)
    }

    /// The line's item, with the fields of its kind.
    fn item(&self, kind: Kind, code: String) -> Result<Item, DomainError> {
        let n = self.n;
        let name = self.get("name").to_string();
        let mut item = Item {
            kind,
            initials: initials(&name),
            code,
            name,
            insurance_code: String::new(),
            insurance_name: String::new(),
            category: String::new(),
            unit: String::new(),
            price_fen: 0,
            class: None,
            drug: None,
        };
        match kind {
            Kind::Diagnosis => self.diagnosis(&mut item)?,
            Kind::Tcm => {
                item.category = self.get("kind").into();
                if !["disease", "syndrome"].contains(&item.category.as_str()) {
                    return Err(bad(n, "kind 应为 disease 或 syndrome"));
                }
            }
            Kind::ChargeItem | Kind::Technique => self.priced(&mut item)?,
            Kind::Drug => self.drug(&mut item)?,
        }
        if item.price_fen < 0 {
            return Err(bad(n, "价格不能为负"));
        }
        Ok(item)
    }

    /// A diagnosis: its insurance code and name, and a known group.
    fn diagnosis(&self, item: &mut Item) -> Result<(), DomainError> {
        item.insurance_code = self.get("insurance_code").into();
        item.insurance_name = self.get("insurance_name").into();
        item.category = self.get("group").into();
        if !DIAGNOSIS_GROUPS.contains(&item.category.as_str()) {
            return Err(bad(self.n, format!("未知分组 {}", item.category)));
        }
        Ok(())
    }

    /// A charge item or a TCM technique: price, unit and insurance class.
    fn priced(&self, item: &mut Item) -> Result<(), DomainError> {
        item.insurance_code = self.get("insurance_code").into();
        item.unit = self.get("unit").into();
        item.price_fen = self.int("price_fen")?;
        item.class = self.class("class")?;
        let technique = item.kind == Kind::Technique;
        item.category = if technique { "technique".into() } else { self.get("category").into() };
        if !technique && !CATEGORIES.contains(&item.category.as_str()) {
            return Err(bad(self.n, format!("未知类别 {}", item.category)));
        }
        Ok(())
    }

    /// A drug: price and class as a charge item, and its prescribing facts
    /// with sane limits.
    fn drug(&self, item: &mut Item) -> Result<(), DomainError> {
        let n = self.n;
        item.insurance_code = self.get("insurance_code").into();
        item.unit = self.get("unit").into();
        item.price_fen = self.int("price_fen")?;
        item.class = self.class("class")?;
        item.category = "drug".into();
        let frequency = self.get("frequency");
        if Frequency::parse(frequency).is_none() {
            return Err(bad(n, format!("未知频次 {frequency}")));
        }
        let facts = DrugFacts {
            generic_name: self.get("generic_name").into(),
            form: self.get("form").into(),
            spec: self.get("spec").into(),
            dose_unit: self.get("dose_unit").into(),
            units_per_pack: self.milli("units_per_pack")?,
            max_dose: self.milli("max_dose")?,
            max_daily: self.milli("max_daily")?,
            route: self.get("route").into(),
            frequency: frequency.into(),
        };
        if facts.units_per_pack <= 0 || facts.max_dose <= 0 || facts.max_daily < facts.max_dose {
            return Err(bad(n, "包装量、单次极量须大于 0，且日极量不小于单次极量"));
        }
        item.drug = Some(facts);
        Ok(())
    }
}

/// What matches a search box: code prefix, pinyin initials prefix or a part of the name.
pub fn matches(item: &Item, q: &str) -> bool {
    let q = q.trim();
    if q.is_empty() {
        return true;
    }
    let lower = q.to_ascii_lowercase();
    item.code.to_ascii_lowercase().starts_with(&lower)
        || item.initials.starts_with(&lower)
        || item.name.contains(q)
        || (!item.insurance_code.is_empty() && item.insurance_code.to_ascii_lowercase().starts_with(&lower))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_exact() {
        assert_eq!(parse_milli("0.25"), Some(250));
        assert_eq!(parse_milli("12.5"), Some(12_500));
        assert_eq!(parse_milli("3"), Some(3_000));
        assert_eq!(parse_milli(".5"), Some(500));
        for bad in ["", ".", "1.2345", "-1", "1e3", "abc", "1.2.3"] {
            assert_eq!(parse_milli(bad), None, "{bad}");
        }
        assert_eq!(show_milli(250), "0.25");
        assert_eq!(show_milli(12_500), "12.5");
        assert_eq!(show_milli(3_000), "3");
        assert_eq!(parse_fen("12.3"), Some(1230));
        assert_eq!(parse_fen("0.05"), Some(5));
        assert_eq!(parse_fen("7"), Some(700));
        for bad in ["", "1.234", "-1", "a", "1.a"] {
            assert_eq!(parse_fen(bad), None, "{bad}");
        }
        assert_eq!(yuan(1230), "12.30");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-250), "-2.50");
    }

    #[test]
    fn initials_of_chinese_and_latin() {
        assert_eq!(initials("阿莫西林胶囊"), "amxljn");
        assert_eq!(initials("维生素B1片"), "wssb1p");
        assert_eq!(initials("0.9%氯化钠注射液"), "09lhnzsy");
    }

    #[test]
    fn frequencies_count_doses() {
        assert_eq!(Frequency::Tid.doses(7), 21);
        assert_eq!(Frequency::Qw.doses(14), 2);
        assert_eq!(Frequency::Qw.doses(1), 1);
        assert_eq!(Frequency::St.doses(5), 1);
        assert_eq!(Frequency::Q12h.per_day(), 2);
        assert_eq!(Frequency::Qw.per_day(), 1);
    }

    const DRUGS: &str = "code,insurance_code,name,generic_name,form,spec,unit,price_fen,class,dose_unit,units_per_pack,max_dose,max_daily,route,frequency\n\
        YP001,XJ01CAA040E001,阿莫西林胶囊,阿莫西林,胶囊,0.25g×24粒,盒,850,甲,g,6,1,4,口服,tid\n";

    #[test]
    fn a_drug_file_parses() {
        let items = parse_csv(Kind::Drug, DRUGS).unwrap();
        let d = items[0].drug.as_ref().unwrap();
        assert_eq!(
            (items[0].price_fen, items[0].class, d.units_per_pack, d.max_daily),
            (850, Some(Class::A), 6_000, 4_000)
        );
        assert_eq!(items[0].initials, "amxljn");
        assert!(matches(&items[0], "amx") && matches(&items[0], "YP0") && matches(&items[0], "莫西"));
        assert!(!matches(&items[0], "tb"));
    }

    #[test]
    fn bad_files_say_which_line() {
        let e = parse_csv(Kind::Drug, "code,name\n").unwrap_err();
        assert_eq!(e.code, ErrorCode::CatalogFile);
        let dup = format!("{DRUGS}{}", DRUGS.lines().nth(1).unwrap());
        assert!(parse_csv(Kind::Drug, &dup).unwrap_err().zh().contains("第 3 行"));
        let bad_class = DRUGS.replace(",甲,", ",丁,");
        assert!(parse_csv(Kind::Drug, &bad_class).unwrap_err().zh().contains("甲、乙或丙"));
        let bad_freq = DRUGS.replace(",tid", ",thrice");
        assert!(parse_csv(Kind::Drug, &bad_freq).unwrap_err().zh().contains("频次"));
        let bad_group = "code,name,insurance_code,insurance_name,group\nI10.x00,高血压,I10.x00,高血压,rare\n";
        assert!(parse_csv(Kind::Diagnosis, bad_group).is_err());
    }
}
