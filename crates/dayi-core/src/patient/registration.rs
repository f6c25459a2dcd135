//! The registration form and its checks (domain-rules-cn.md §1, §10, §11).

use serde::{Deserialize, Serialize};
use time::Date;

use super::{Insurance, Relation, parse_phone};
use crate::error::{Checks, DomainError, ErrorCode};
use crate::identity::{ETHNICITIES, IdDocument, IdKind, Sex, cross_check};
use crate::tenancy::RegionCode;

const NAME_MAX: usize = 30;
const ADDRESS_MAX: usize = 100;

/// What the registrar typed (or an API client sent). Every field is text so a
/// refused form comes back exactly as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewPatient {
    pub name: String,
    pub sex: String,
    /// `YYYY-MM-DD`; may be left empty when the ID number carries it.
    pub birth_date: String,
    pub ethnicity: String,
    pub id_kind: String,
    pub id_number: String,
    pub nationality: String,
    pub phone: String,
    pub address: String,
    pub region_code: String,
    pub insurance: String,
    pub emergency_name: String,
    pub emergency_relation: String,
    pub emergency_phone: String,
    pub guardian_name: String,
    pub guardian_relation: String,
    pub guardian_id_number: String,
    pub guardian_phone: String,
}

/// A guardian, required for children under the configured age (PIPL Art. 28, 31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardian {
    pub name: String,
    pub relation: Relation,
    pub id_number: Option<String>,
    pub phone: String,
}

/// A checked registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub name: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub ethnicity: Option<String>,
    pub document: Option<IdDocument>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub region_code: Option<String>,
    pub insurance: Insurance,
    pub emergency: Option<(String, Option<Relation>, String)>,
    pub guardian: Option<Guardian>,
}

/// Full years of age on `day`.
pub fn age_on(birth: Date, day: Date) -> i32 {
    let mut age = day.year() - birth.year();
    if (u8::from(day.month()), day.day()) < (u8::from(birth.month()), birth.day()) {
        age -= 1;
    }
    age
}

fn opt(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

fn valid_name(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{3400}'..='\u{9fff}' | '\u{20000}'..='\u{2ffff}' | '·' | '•' | '.' | ' ' | '-')
            || c.is_ascii_alphabetic()
    })
}

fn date(c: &mut Checks, field: &str, s: &str, today: Date) -> Option<Date> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    match Date::parse(s.trim(), &f) {
        Ok(d) if d > today => {
            c.add(field, ErrorCode::BirthDateFuture, [s.trim()]);
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            c.add(field, ErrorCode::DateInvalid, [s.trim()]);
            None
        }
    }
}

fn phone(c: &mut Checks, field: &str, s: &str) -> Option<String> {
    let p = parse_phone(s);
    if p.is_none() {
        c.add(field, ErrorCode::PhoneInvalid, [""; 0]);
    }
    p
}

fn choice<T>(c: &mut Checks, field: &str, s: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    let v = parse(s.trim());
    if v.is_none() {
        c.add(field, ErrorCode::ChoiceInvalid, [s.trim()]);
    }
    v
}

/// Checks a form. `guardian_under` is the configured age below which a
/// guardian is required.
pub fn validate(f: &NewPatient, today: Date, guardian_under: i32) -> Result<Registration, DomainError> {
    let mut c = Checks::new();
    let name = c.required("name", &f.name, NAME_MAX);
    if let Some(n) = &name
        && !valid_name(n)
    {
        c.add("name", ErrorCode::PatientNameInvalid, [""; 0]);
    }
    let sex = match opt(&f.sex) {
        None => None,
        Some(s) => choice(&mut c, "sex", s, Sex::parse),
    };
    let typed_birth = opt(&f.birth_date).and_then(|s| date(&mut c, "birth_date", s, today));
    let kind = match opt(&f.id_kind) {
        None => Some(IdKind::ResidentId),
        Some(k) => choice(&mut c, "id_kind", k, IdKind::parse),
    };
    let document = opt(&f.id_number).and_then(|number| {
        let r = IdDocument::parse(kind?, number, opt(&f.nationality), today);
        c.take("id_number", r)
    });
    // A resident ID number gives the birth date and sex; when the typed one is
    // wrong, its own message says so and the two are not also "required".
    let from_number = opt(&f.id_number).is_some() && kind == Some(IdKind::ResidentId);
    if let Some(doc) = &document {
        c.take("birth_date", cross_check(doc, typed_birth, sex));
    }
    let birth_date = typed_birth.or_else(|| document.as_ref().and_then(|d| d.birth_date()));
    if birth_date.is_none() && opt(&f.birth_date).is_none() && !from_number {
        c.add("birth_date", ErrorCode::Required, [""; 0]);
    }
    let sex = sex.or_else(|| document.as_ref().and_then(|d| d.sex()));
    if sex.is_none() && opt(&f.sex).is_none() && !from_number {
        c.add("sex", ErrorCode::Required, [""; 0]);
    }
    let ethnicity = opt(&f.ethnicity).and_then(|e| {
        choice(&mut c, "ethnicity", e, |e| ETHNICITIES.iter().find(|(code, _)| *code == e).map(|(code, _)| *code))
            .map(String::from)
    });
    let phone_no = opt(&f.phone).and_then(|p| phone(&mut c, "phone", p));
    let address = opt(&f.address).and_then(|a| c.required("address", a, ADDRESS_MAX));
    let region_code =
        opt(&f.region_code).and_then(|r| c.take("region_code", RegionCode::parse(r))).map(|r| r.as_str().to_string());
    let insurance = match opt(&f.insurance) {
        None => Some(Insurance::SelfPay),
        Some(i) => choice(&mut c, "insurance", i, Insurance::parse),
    };
    let emergency = match (opt(&f.emergency_name), opt(&f.emergency_phone)) {
        (None, None) => None,
        (n, p) => {
            let name = c.required("emergency_name", n.unwrap_or(""), NAME_MAX);
            let phone = match p {
                None => {
                    c.add("emergency_phone", ErrorCode::Required, [""; 0]);
                    None
                }
                Some(p) => phone(&mut c, "emergency_phone", p),
            };
            let relation =
                opt(&f.emergency_relation).and_then(|r| choice(&mut c, "emergency_relation", r, Relation::parse));
            name.zip(phone).map(|(n, p)| (n, relation, p))
        }
    };
    let child = birth_date.is_some_and(|b| age_on(b, today) < guardian_under);
    let guardian = if child { guardian(&mut c, f, today, guardian_under) } else { None };
    c.finish()?;
    let (Some(name), Some(sex), Some(birth_date), Some(insurance)) = (name, sex, birth_date, insurance) else {
        unreachable!("a missing value was reported above")
    };
    Ok(Registration {
        name,
        sex,
        birth_date,
        ethnicity,
        document,
        phone: phone_no,
        address,
        region_code,
        insurance,
        emergency,
        guardian,
    })
}

fn guardian(c: &mut Checks, f: &NewPatient, today: Date, under: i32) -> Option<Guardian> {
    let mut need = |field: &str, v: &str| -> Option<String> {
        let v = opt(v).map(String::from);
        if v.is_none() {
            c.add(field, ErrorCode::GuardianRequired, [under]);
        }
        v
    };
    let name = need("guardian_name", &f.guardian_name);
    let relation = need("guardian_relation", &f.guardian_relation);
    let phone_text = need("guardian_phone", &f.guardian_phone);
    let relation = relation.and_then(|r| choice(c, "guardian_relation", &r, Relation::parse));
    let phone = phone_text.and_then(|p| phone(c, "guardian_phone", &p));
    let id_number = opt(&f.guardian_id_number).and_then(|n| {
        c.take("guardian_id_number", IdDocument::parse(IdKind::ResidentId, n, None, today))
            .map(|d| d.number().to_string())
    });
    if let Some(n) = &name
        && n.chars().count() > NAME_MAX
    {
        c.add("guardian_name", ErrorCode::TooLong, [NAME_MAX]);
    }
    Some(Guardian { name: name?, relation: relation?, id_number, phone: phone? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 23);

    fn adult() -> NewPatient {
        NewPatient {
            name: "张三".into(),
            id_number: "11010519491231002X".into(),
            phone: "13812345678".into(),
            ..Default::default()
        }
    }

    fn fields(f: &NewPatient) -> Vec<(String, &'static str)> {
        validate(f, TODAY, 14).unwrap_err().fields.into_iter().map(|e| (e.field, e.code.code())).collect()
    }

    #[test]
    fn id_number_supplies_birth_date_and_sex() {
        let r = validate(&adult(), TODAY, 14).unwrap();
        assert_eq!(r.birth_date, date!(1949 - 12 - 31));
        assert_eq!(r.sex, Sex::Female);
        assert_eq!(r.insurance, Insurance::SelfPay);
        assert_eq!(r.guardian, None);
    }

    #[test]
    fn typed_values_must_agree_with_the_number() {
        let f = NewPatient { sex: "1".into(), birth_date: "1949-12-30".into(), ..adult() };
        let got = fields(&f);
        assert!(got.contains(&("birth_date".into(), "identity.birth_date_mismatch")), "{got:?}");
        assert!(got.contains(&("sex".into(), "identity.sex_mismatch_female")), "{got:?}");
    }

    #[test]
    fn each_bad_field_is_reported() {
        let f = NewPatient {
            name: "张3".into(),
            id_number: "110105194912310021".into(),
            phone: "123".into(),
            region_code: "37083".into(),
            insurance: "gold".into(),
            ethnicity: "99".into(),
            ..Default::default()
        };
        let got = fields(&f);
        for want in [
            ("name", "patient.name_invalid"),
            ("id_number", "identity.id_checksum"),
            ("phone", "patient.phone_invalid"),
            ("region_code", "org.region_code_invalid"),
            ("insurance", "field.choice_invalid"),
            ("ethnicity", "field.choice_invalid"),
        ] {
            assert!(got.contains(&(want.0.into(), want.1)), "{want:?} in {got:?}");
        }
    }

    #[test]
    fn a_wrong_id_number_is_the_only_error() {
        let f = NewPatient { name: "张三".into(), id_number: "11010519491231002Y".into(), ..Default::default() };
        assert_eq!(fields(&f), vec![("id_number".into(), "identity.id_chars")]);
        let f = NewPatient { name: "张三".into(), id_number: "110105194912310021".into(), ..Default::default() };
        assert_eq!(fields(&f), vec![("id_number".into(), "identity.id_checksum")]);
    }

    #[test]
    fn without_a_document_birth_date_and_sex_are_required() {
        let got = fields(&NewPatient { name: "无名氏".into(), ..Default::default() });
        assert!(got.contains(&("birth_date".into(), "field.required")));
        assert!(got.contains(&("sex".into(), "field.required")));
        let f =
            NewPatient {
                name: "李四".into(), birth_date: "2026-02-30".into(), sex: "1".into(), ..Default::default()
            };
        assert_eq!(fields(&f), vec![("birth_date".into(), "field.date_invalid")]);
    }

    #[test]
    fn a_child_needs_a_guardian() {
        let child = NewPatient {
            name: "王小明".into(),
            birth_date: "2020-05-01".into(),
            sex: "1".into(),
            ..Default::default()
        };
        let got = fields(&child);
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got.iter().all(|(_, c)| *c == "patient.guardian_required"));
        let with = NewPatient {
            guardian_name: "王建国".into(),
            guardian_relation: "51".into(),
            guardian_phone: "13912345678".into(),
            ..child.clone()
        };
        let r = validate(&with, TODAY, 14).unwrap();
        assert_eq!(r.guardian.unwrap().relation, Relation::Father);
        // fourteen today: no guardian needed
        let teen = NewPatient { birth_date: "2012-11-23".into(), ..child };
        assert!(validate(&teen, TODAY, 14).is_ok());
    }

    #[test]
    fn ages() {
        assert_eq!(age_on(date!(2012 - 11 - 24), TODAY), 13);
        assert_eq!(age_on(date!(2012 - 11 - 23), TODAY), 14);
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2001 - 02 - 28)), 0);
    }

    #[test]
    fn emergency_contact_needs_a_phone() {
        let f = NewPatient { emergency_name: "李四".into(), ..adult() };
        assert_eq!(fields(&f), vec![("emergency_phone".into(), "field.required")]);
    }
}
