//! The outpatient visit (门诊就诊): what a doctor orders and the checks a
//! prescription passes before it is saved: the dose against the
//! catalogue's limits, the patient's allergies, and orders already given.
//! A warning the doctor may override needs a confirmation with a reason;
//! an absurd dose never passes.

use serde::{Deserialize, Serialize};

use crate::catalog::{self, DrugFacts, Frequency, Item, Kind};
use crate::security::named_enum;
use crate::{DomainError, ErrorCode};

named_enum! {
    /// What an order asks for.
    OrderKind {
        Lab = ("lab", "检验", "Lab test"),
        Exam = ("exam", "检查", "Examination"),
        Drug = ("drug", "药品", "Drug"),
        Treatment = ("treatment", "治疗", "Treatment"),
        Technique = ("technique", "中医适宜技术", "TCM technique"),
    }
}

impl OrderKind {
    /// The kind of order a catalogue item makes, if it can be ordered.
    pub fn of(item: &Item) -> Option<OrderKind> {
        match item.kind {
            Kind::Drug => Some(OrderKind::Drug),
            Kind::Technique => Some(OrderKind::Technique),
            Kind::ChargeItem => match item.category.as_str() {
                "lab" => Some(OrderKind::Lab),
                "exam" => Some(OrderKind::Exam),
                "treatment" | "nursing" | "material" => Some(OrderKind::Treatment),
                _ => None,
            },
            Kind::Diagnosis | Kind::Tcm => None,
        }
    }
}

named_enum! {
    VisitStatus {
        Open = ("open", "接诊中", "Open"),
        Finished = ("finished", "已完成", "Finished"),
    }
}

named_enum! {
    /// An order's life: ordered, then paid (its charge), then carried out;
    /// or cancelled before payment, or refunded after it.
    OrderStatus {
        Ordered = ("ordered", "待缴费", "Awaiting payment"),
        Paid = ("paid", "已缴费", "Paid"),
        Executed = ("executed", "已执行", "Carried out"),
        Cancelled = ("cancelled", "已撤销", "Cancelled"),
        Refunded = ("refunded", "已退费", "Refunded"),
    }
}

/// Limits on a prescription that are the hospital's policy (`visit.limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Longest prescription in days (门诊处方一般不超过 7 日，慢病可延长).
    pub max_days: i64,
    /// Longest for a chronic-disease patient.
    pub max_days_chronic: i64,
    /// A dose this many times over the single or daily limit is refused outright.
    pub absurd_factor: i64,
    /// Most units of one item on one order.
    pub max_quantity: i64,
    pub max_sick_leave_days: i64,
    /// Allergy words and the drug names they warn about (青霉素 → 西林).
    pub allergy_groups: Vec<AllergyGroup>,
    /// Plausible vital signs: a reading outside is a typing slip (体温 3.66).
    #[serde(default)]
    pub vitals: Vec<VitalRange>,
}

/// The plausible range of one vital sign (`bp_systolic`, `bp_diastolic` for blood pressure).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VitalRange {
    pub vital: String,
    pub name: String,
    pub min: String,
    pub max: String,
}

/// Checks one vital sign against its plausible range; vitals without a range pass.
pub fn check_vital(vital: &str, value: &str, ranges: &[VitalRange]) -> Result<(), DomainError> {
    let field = format!("vitals.{vital}");
    let within = |key: &str, v: i64| -> Result<(), DomainError> {
        let Some(r) = ranges.iter().find(|r| r.vital == key) else { return Ok(()) };
        let (lo, hi) =
            (catalog::parse_milli(&r.min).unwrap_or(i64::MIN), catalog::parse_milli(&r.max).unwrap_or(i64::MAX));
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(DomainError::field(&field, ErrorCode::VisitVital, [r.name.clone(), r.min.clone(), r.max.clone()]))
        }
    };
    let value = value.trim();
    if vital == "bp" {
        let bad = || DomainError::field(&field, ErrorCode::VisitBloodPressure, [""; 0]);
        let (s, d) = value.split_once('/').ok_or_else(bad)?;
        let (s, d) = (s.trim().parse::<i64>().map_err(|_| bad())?, d.trim().parse::<i64>().map_err(|_| bad())?);
        if s <= d {
            return Err(bad());
        }
        within("bp_systolic", s * 1000)?;
        return within("bp_diastolic", d * 1000);
    }
    let v =
        catalog::parse_milli(value).ok_or_else(|| DomainError::field(&field, ErrorCode::InvalidFormat, ["36.8"]))?;
    within(vital, v)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllergyGroup {
    /// A word in the allergy history.
    pub allergen: String,
    /// Parts of drug names that belong to it.
    pub drugs: Vec<String>,
}

/// A drug line as the doctor writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dose {
    /// Thousandths of the drug's dose unit.
    pub dose: i64,
    pub frequency: Frequency,
    pub days: i64,
}

/// Reads the dose fields of a drug order.
pub fn parse_dose(
    drug: &DrugFacts,
    dose: &str,
    frequency: &str,
    days: &str,
    limits: &Limits,
    chronic: bool,
) -> Result<Dose, DomainError> {
    let d = catalog::parse_milli(dose)
        .filter(|d| *d > 0)
        .ok_or_else(|| DomainError::field("dose", ErrorCode::OrderDose, [drug.dose_unit.as_str()]))?;
    let f = Frequency::parse(frequency.trim())
        .ok_or_else(|| DomainError::field("frequency", ErrorCode::OrderFrequency, [frequency]))?;
    let max_days = if chronic { limits.max_days_chronic } else { limits.max_days };
    let n = days.trim().parse::<i64>().ok().filter(|n| (1..=max_days).contains(n));
    let days = n.ok_or_else(|| DomainError::field("days", ErrorCode::OrderDays, [max_days.to_string()]))?;
    Ok(Dose { dose: d, frequency: f, days })
}

/// Dispensing units to supply: enough packs for every dose.
pub fn packs(drug: &DrugFacts, d: &Dose) -> i64 {
    let total = d.dose.saturating_mul(d.frequency.doses(d.days));
    (total + drug.units_per_pack - 1) / drug.units_per_pack.max(1)
}

/// Something the doctor must confirm to save the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
    /// The same as a field error of the form's `confirm` box.
    #[serde(skip)]
    pub field: crate::error::FieldError,
}

impl Warning {
    fn of(e: DomainError) -> Warning {
        let field = crate::error::FieldError { field: "confirm".into(), code: e.code, args: e.args.clone() };
        Warning { code: e.code.code(), message: e.zh(), field }
    }
}

/// The dose against the limits: absurd is an error; over the limit is a warning.
pub fn check_dose(item: &Item, drug: &DrugFacts, d: &Dose, limits: &Limits) -> Result<Option<Warning>, DomainError> {
    let daily = d.dose.saturating_mul(d.frequency.per_day());
    let show = catalog::show_milli;
    let f = limits.absurd_factor.max(2);
    if d.dose > drug.max_dose.saturating_mul(f) || daily > drug.max_daily.saturating_mul(f) {
        return Err(DomainError::field(
            "dose",
            ErrorCode::OrderDoseAbsurd,
            [item.name.clone(), show(d.dose), drug.dose_unit.clone(), show(drug.max_dose), show(drug.max_daily)],
        ));
    }
    Ok((d.dose > drug.max_dose || daily > drug.max_daily).then(|| {
        Warning::of(DomainError::with(
            ErrorCode::OrderDoseOverLimit,
            [item.name.clone(), show(drug.max_dose), show(drug.max_daily), drug.dose_unit.clone()],
        ))
    }))
}

/// An allergy in the history that covers this drug.
pub fn check_allergy(item: &Item, allergies: &str, limits: &Limits) -> Option<Warning> {
    let names = [item.name.as_str(), item.drug.as_ref().map_or("", |d| d.generic_name.as_str())];
    let hit = |part: &str| !part.is_empty() && names.iter().any(|n| n.contains(part));
    // The history names the drug itself …
    let own = allergies
        .split(['，', ',', '、', ';', '；', ' ', '\n'])
        .map(str::trim)
        .filter(|w| w.chars().count() >= 2)
        .find(|w| names.iter().any(|n| !n.is_empty() && (n.contains(w) || w.contains(n))));
    // … or a group the drug belongs to.
    let group =
        limits.allergy_groups.iter().find(|g| allergies.contains(&g.allergen) && g.drugs.iter().any(|p| hit(p)));
    let allergen = own.map(str::to_string).or_else(|| group.map(|g| g.allergen.clone()))?;
    Some(Warning::of(DomainError::with(ErrorCode::OrderAllergy, [allergen, item.name.clone()])))
}

/// The same item (or, for drugs, the same generic drug) already ordered.
pub fn check_duplicate(item: &Item, already: &[(String, String)]) -> Option<Warning> {
    let generic = item.drug.as_ref().map(|d| d.generic_name.as_str()).filter(|g| !g.is_empty());
    already
        .iter()
        .find(|(code, g)| *code == item.code || generic.is_some_and(|x| x == g))
        .map(|_| Warning::of(DomainError::with(ErrorCode::OrderDuplicate, [item.name.clone()])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Class, parse_csv};

    fn limits() -> Limits {
        Limits {
            max_days: 7,
            max_days_chronic: 30,
            absurd_factor: 10,
            max_quantity: 99,
            max_sick_leave_days: 30,
            allergy_groups: vec![AllergyGroup { allergen: "青霉素".into(), drugs: vec!["西林".into()] }],
            vitals: vec![
                range("temperature", "34.0", "43.0"),
                range("bp_systolic", "50", "300"),
                range("bp_diastolic", "20", "200"),
            ],
        }
    }

    fn range(vital: &str, min: &str, max: &str) -> VitalRange {
        VitalRange { vital: vital.into(), name: vital.into(), min: min.into(), max: max.into() }
    }

    #[test]
    fn vitals_outside_their_range_are_typing_slips() {
        let r = limits().vitals;
        for ok in [
            ("temperature", "36.8"),
            ("temperature", "34.0"),
            ("temperature", "43"),
            ("bp", "128/80"),
            ("bp", "300/200"),
            ("pulse", "999"),
        ] {
            assert!(check_vital(ok.0, ok.1, &r).is_ok(), "{ok:?}");
        }
        for (vital, value, code) in [
            ("temperature", "3.66", ErrorCode::VisitVital),
            ("temperature", "43.1", ErrorCode::VisitVital),
            ("temperature", "高", ErrorCode::InvalidFormat),
            ("bp", "400/20", ErrorCode::VisitVital),
            ("bp", "120/10", ErrorCode::VisitVital),
            ("bp", "80/120", ErrorCode::VisitBloodPressure),
            ("bp", "128-80", ErrorCode::VisitBloodPressure),
        ] {
            let e = check_vital(vital, value, &r).unwrap_err();
            assert_eq!(e.fields[0].code, code, "{vital} {value}");
            assert_eq!(e.fields[0].field, format!("vitals.{vital}"));
        }
    }

    fn amoxicillin() -> Item {
        let csv = "code,insurance_code,name,generic_name,form,spec,unit,price_fen,class,dose_unit,units_per_pack,max_dose,max_daily,route,frequency\n\
            YP001,XJ01CAA040E001,阿莫西林胶囊,阿莫西林,胶囊,0.25g×24粒,盒,850,甲,g,6,1,4,口服,tid\n";
        parse_csv(Kind::Drug, csv).unwrap().remove(0)
    }

    #[test]
    fn packs_cover_every_dose() {
        let item = amoxicillin();
        let drug = item.drug.as_ref().unwrap();
        let d = parse_dose(drug, "0.5", "tid", "7", &limits(), false).unwrap();
        // 0.5 g × 21 doses = 10.5 g; 6 g a box → 2 boxes.
        assert_eq!(packs(drug, &d), 2);
        let d = parse_dose(drug, "0.25", "st", "1", &limits(), false).unwrap();
        assert_eq!(packs(drug, &d), 1);
        assert_eq!(item.class, Some(Class::A));
    }

    #[test]
    fn bad_dose_fields_name_the_field() {
        let item = amoxicillin();
        let drug = item.drug.as_ref().unwrap();
        let l = limits();
        for (dose, f, days, field, code) in [
            ("0", "tid", "7", "dose", ErrorCode::OrderDose),
            ("abc", "tid", "7", "dose", ErrorCode::OrderDose),
            ("0.5", "thrice", "7", "frequency", ErrorCode::OrderFrequency),
            ("0.5", "tid", "8", "days", ErrorCode::OrderDays),
            ("0.5", "tid", "0", "days", ErrorCode::OrderDays),
        ] {
            let e = parse_dose(drug, dose, f, days, &l, false).unwrap_err();
            assert_eq!((e.fields[0].field.as_str(), e.fields[0].code), (field, code), "{dose} {f} {days}");
        }
        // Chronic patients may have a month.
        assert!(parse_dose(drug, "0.5", "tid", "30", &l, true).is_ok());
    }

    #[test]
    fn doses_over_the_limit_warn_and_absurd_ones_fail() {
        let item = amoxicillin();
        let drug = item.drug.as_ref().unwrap();
        let l = limits();
        let at = |dose: &str, f: &str| check_dose(&item, drug, &parse_dose(drug, dose, f, "3", &l, false).unwrap(), &l);
        assert_eq!(at("1", "tid").unwrap(), None);
        assert_eq!(at("1", "qid").unwrap(), None);
        // 1.5 g once is over 1 g a dose; 1 g × 6 a day is not possible, but 1.2 g qid is over 4 g a day.
        assert_eq!(at("1.5", "qd").unwrap().unwrap().code, "order.dose_over_limit");
        assert_eq!(at("1.2", "qid").unwrap().unwrap().code, "order.dose_over_limit");
        let e = at("50", "tid").unwrap_err();
        let f = e.field_error("dose").unwrap();
        assert_eq!(f.code, ErrorCode::OrderDoseAbsurd);
        assert!(f.zh().contains("阿莫西林胶囊") && f.zh().contains("50g"), "{}", f.zh());
    }

    #[test]
    fn allergies_match_the_drug_or_its_group() {
        let item = amoxicillin();
        let l = limits();
        assert_eq!(check_allergy(&item, "青霉素过敏", &l).unwrap().code, "order.allergy");
        assert!(check_allergy(&item, "阿莫西林", &l).unwrap().message.contains("阿莫西林"));
        assert_eq!(check_allergy(&item, "头孢类、磺胺", &l), None);
        assert_eq!(check_allergy(&item, "", &l), None);
        assert_eq!(check_allergy(&item, "无", &l), None);
    }

    #[test]
    fn duplicates_by_code_or_generic_name() {
        let item = amoxicillin();
        assert!(check_duplicate(&item, &[("YP001".into(), String::new())]).is_some());
        assert!(check_duplicate(&item, &[("YP999".into(), "阿莫西林".into())]).is_some());
        assert!(check_duplicate(&item, &[("YP999".into(), "头孢克肟".into())]).is_none());
    }

    #[test]
    fn catalogue_items_map_to_order_kinds() {
        let mut item = amoxicillin();
        assert_eq!(OrderKind::of(&item), Some(OrderKind::Drug));
        item.kind = Kind::ChargeItem;
        item.category = "lab".into();
        assert_eq!(OrderKind::of(&item), Some(OrderKind::Lab));
        item.category = "consult".into();
        assert_eq!(OrderKind::of(&item), None);
        item.kind = Kind::Diagnosis;
        assert_eq!(OrderKind::of(&item), None);
    }
}
