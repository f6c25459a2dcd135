//! The ID documents a patient may show, and their number formats
//! (domain-rules-cn.md §1.3).

use std::fmt;

use time::Date;

use super::Sex;
use super::idcard::{ResidentId, birth_date, check_ok, is_18_shape, normalize_number};
use crate::error::{DomainError, ErrorCode};
use crate::security::named_enum;

named_enum! {
    /// Kind of ID document.
    IdKind {
        ResidentId = ("resident_id", "居民身份证", "Resident ID card"),
        ForeignPr = ("foreign_pr", "外国人永久居留身份证", "Foreign permanent residence ID card"),
        HkMoTwResidence = ("hk_mo_tw_residence", "港澳台居民居住证", "HK/Macao/Taiwan residence permit"),
        HkMoTravel = ("hk_mo_travel", "港澳居民来往内地通行证", "HK/Macao travel permit to the mainland"),
        TwTravel = ("tw_travel", "台湾居民来往大陆通行证", "Taiwan travel permit to the mainland"),
        Passport = ("passport", "护照", "Passport"),
        Other = ("other", "其他证件", "Other document"),
    }
}

/// Holders of these documents are Chinese citizens.
const CHN: &str = "CHN";
/// Longest number accepted for `IdKind::Other` (e.g. 军官证 numbers with Chinese text).
const OTHER_MAX_CHARS: usize = 50;

/// A checked ID document. Birth date and sex are set when the number carries them.
/// `Debug` masks the number so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdDocument {
    kind: IdKind,
    number: String,
    birth_date: Option<Date>,
    sex: Option<Sex>,
    nationality: Option<String>,
}

impl IdDocument {
    /// Checks `number` for `kind`. Errors about the number carry no field (the
    /// caller files them under its number field); errors about `nationality`
    /// are field errors on `nationality`.
    pub fn parse(kind: IdKind, number: &str, nationality: Option<&str>, today: Date) -> Result<Self, DomainError> {
        if number.trim().is_empty() {
            return Err(DomainError::new(ErrorCode::Required));
        }
        let given = parse_nationality(nationality)?;
        let doc = |number: String, birth_date, sex, nationality| Self { kind, number, birth_date, sex, nationality };
        let s = normalize_number(number);
        match kind {
            IdKind::ResidentId => Ok(ResidentId::parse(number, today)?.into()),
            IdKind::ForeignPr => foreign_pr(s, given, today),
            IdKind::HkMoTwResidence => {
                if !is_18_shape(&s) {
                    return Err(DomainError::new(ErrorCode::ResidencePermitFormat));
                }
                if !matches!(&s[..6], "810000" | "820000" | "830000") {
                    return Err(DomainError::new(ErrorCode::ResidencePermitPrefix));
                }
                let birth = birth_date(&s[6..14], today)?;
                if !check_ok(&s) {
                    return Err(DomainError::new(ErrorCode::DocChecksum));
                }
                let sex = Sex::from_sequence_digit(s.as_bytes()[16]);
                Ok(doc(s, Some(birth), Some(sex), Some(CHN.into())))
            }
            // H = Hong Kong, M = Macao; two optional trailing digits count re-issues.
            IdKind::HkMoTravel => match s.as_bytes() {
                [b'H' | b'M', rest @ ..] if matches!(rest.len(), 8 | 10) && all_digits(rest) => {
                    Ok(doc(s, None, None, Some(CHN.into())))
                }
                _ => Err(DomainError::new(ErrorCode::HkMoTravelFormat)),
            },
            IdKind::TwTravel if matches!(s.len(), 8 | 10) && all_digits(s.as_bytes()) => {
                Ok(doc(s, None, None, Some(CHN.into())))
            }
            IdKind::TwTravel => Err(DomainError::new(ErrorCode::TwTravelFormat)),
            // Formats differ by country: keep it as text, but the nationality is needed.
            IdKind::Passport => {
                if !(5..=20).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(DomainError::new(ErrorCode::PassportFormat));
                }
                match given {
                    Some(n) => Ok(doc(s, None, None, Some(n))),
                    None => Err(DomainError::field("nationality", ErrorCode::Required, [""; 0])),
                }
            }
            IdKind::Other => {
                let text = number.trim();
                if text.chars().count() > OTHER_MAX_CHARS {
                    return Err(DomainError::with(ErrorCode::TooLong, [OTHER_MAX_CHARS]));
                }
                Ok(doc(text.to_string(), None, None, given))
            }
        }
    }

    pub fn kind(&self) -> IdKind {
        self.kind
    }
    /// The canonical number (normalised; free text for `Other`).
    pub fn number(&self) -> &str {
        &self.number
    }
    pub fn birth_date(&self) -> Option<Date> {
        self.birth_date
    }
    pub fn sex(&self) -> Option<Sex> {
        self.sex
    }
    /// ISO 3166-1 alpha-3; `CHN` for the Chinese documents.
    pub fn nationality(&self) -> Option<&str> {
        self.nationality.as_deref()
    }
    pub fn masked(&self) -> String {
        crate::mask::id_number(&self.number)
    }
}

impl From<ResidentId> for IdDocument {
    fn from(id: ResidentId) -> Self {
        Self {
            kind: IdKind::ResidentId,
            birth_date: Some(id.birth_date()),
            sex: Some(id.sex()),
            number: id.as_str().to_string(),
            nationality: Some(CHN.into()),
        }
    }
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdDocument")
            .field("kind", &self.kind)
            .field("number", &self.masked())
            .field("birth_date", &self.birth_date)
            .field("sex", &self.sex)
            .field("nationality", &self.nationality)
            .finish()
    }
}

fn all_digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

/// An empty nationality is none; otherwise 3 letters (ISO 3166-1 alpha-3).
fn parse_nationality(input: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(n) = input.map(normalize_number).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.len() == 3 && n.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(Some(n))
    } else {
        Err(DomainError::field("nationality", ErrorCode::NationalityInvalid, [""; 0]))
    }
}

/// Foreign permanent residence ID card: the 18-digit card issued since
/// 2023-12-01, or the older 15-character one (both stay valid).
fn foreign_pr(s: String, given: Option<String>, today: Date) -> Result<IdDocument, DomainError> {
    let b = s.as_bytes();
    let doc = |number, birth, sex: u8, nationality| IdDocument {
        kind: IdKind::ForeignPr,
        number,
        birth_date: Some(birth),
        sex: Some(Sex::from_sequence_digit(sex)),
        nationality,
    };
    // New: 9, issuing province (2), ISO numeric nationality (3), YYYYMMDD,
    // sequence (3, last digit's parity = sex), MOD 11-2 check.
    if b.first() == Some(&b'9') && is_18_shape(&s) {
        let birth = birth_date(&s[6..14], today)?;
        if !check_ok(&s) {
            return Err(DomainError::new(ErrorCode::DocChecksum));
        }
        let sex = b[16];
        return Ok(doc(s, birth, sex, given));
    }
    // Old: alpha-3 nationality, issuing area (4), YYMMDD, sex digit, check
    // digit by the passport MRZ rule. UNVERIFIED: taken from open-source code
    // (CredentialKit), not the official table; confirm before relying on it.
    if b.len() == 15 && b[..3].iter().all(u8::is_ascii_uppercase) && all_digits(&b[3..]) {
        let birth = old_birth_date(&s[7..13], today)?;
        if mrz_check(&b[..14]) != b[14] {
            return Err(DomainError::new(ErrorCode::DocChecksum));
        }
        let nationality = s[..3].to_string();
        if let Some(g) = given
            && g != nationality
        {
            return Err(DomainError::field("nationality", ErrorCode::NationalityMismatch, [nationality]));
        }
        let sex = b[13];
        return Ok(doc(s, birth, sex, Some(nationality)));
    }
    Err(DomainError::new(ErrorCode::ForeignPrFormat))
}

/// `YYMMDD` without a century: the latest century that is not in the future.
fn old_birth_date(yymmdd: &str, today: Date) -> Result<Date, DomainError> {
    birth_date(&format!("20{yymmdd}"), today).or_else(|_| birth_date(&format!("19{yymmdd}"), today))
}

/// ICAO 9303 check digit (weights 7-3-1; digits, A=10..Z=35, `<`=0), as an ASCII digit.
fn mrz_check(chars: &[u8]) -> u8 {
    let value = |c: u8| match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A'..=b'Z' => u32::from(c - b'A') + 10,
        _ => 0,
    };
    let sum: u32 = chars.iter().zip([7, 3, 1].iter().cycle()).map(|(&c, w)| value(c) * w).sum();
    b'0' + (sum % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 01 - 01);

    fn parse(kind: IdKind, n: &str, nat: Option<&str>) -> Result<IdDocument, DomainError> {
        IdDocument::parse(kind, n, nat, TODAY)
    }
    fn code(kind: IdKind, n: &str, nat: Option<&str>) -> ErrorCode {
        parse(kind, n, nat).unwrap_err().code
    }

    #[test]
    fn resident_id_dispatch() {
        let d = parse(IdKind::ResidentId, "11010519491231002x", Some("")).unwrap();
        assert_eq!((d.kind(), d.number()), (IdKind::ResidentId, "11010519491231002X"));
        assert_eq!(
            (d.birth_date(), d.sex(), d.nationality()),
            (Some(date!(1949 - 12 - 31)), Some(Sex::Female), Some("CHN"))
        );
        assert_eq!(code(IdKind::ResidentId, "110101202311012171", None), ErrorCode::IdChecksum);
        assert_eq!(code(IdKind::ResidentId, " ", None), ErrorCode::Required);
    }

    #[test]
    fn foreign_pr_new_format() {
        // 9, Shandong 37, USA 840, 1980-01-01, sequence 001.
        let d = parse(IdKind::ForeignPr, "937840198001010012", Some("usa")).unwrap();
        assert_eq!(
            (d.birth_date(), d.sex(), d.nationality()),
            (Some(date!(1980 - 01 - 01)), Some(Sex::Male), Some("USA"))
        );
        assert_eq!(code(IdKind::ForeignPr, "937840198001010013", None), ErrorCode::DocChecksum);
        assert_eq!(code(IdKind::ForeignPr, "93784019801301001X", None), ErrorCode::BirthDateInvalid);
        assert_eq!(code(IdKind::ForeignPr, "11010519491231002X", None), ErrorCode::ForeignPrFormat);
    }

    #[test]
    fn foreign_pr_old_format() {
        // USA, area 3700, 800101, sex 1, MRZ check 3 (worked by hand: 383 mod 10).
        let d = parse(IdKind::ForeignPr, "usa370080010113", None).unwrap();
        assert_eq!(d.number(), "USA370080010113");
        assert_eq!(
            (d.birth_date(), d.sex(), d.nationality()),
            (Some(date!(1980 - 01 - 01)), Some(Sex::Male), Some("USA"))
        );
        // 050615 is read as 2005, not 1905.
        let d = parse(IdKind::ForeignPr, "JPN110005061526", Some("JPN")).unwrap();
        assert_eq!((d.birth_date(), d.sex()), (Some(date!(2005 - 06 - 15)), Some(Sex::Female)));
        assert_eq!(code(IdKind::ForeignPr, "USA370080010114", None), ErrorCode::DocChecksum);
        let e = parse(IdKind::ForeignPr, "USA370080010113", Some("KOR")).unwrap_err();
        let f = e.field_error("nationality").unwrap();
        assert_eq!((f.code, f.zh()), (ErrorCode::NationalityMismatch, "国籍与证件号码不符（证件为 USA）".into()));
    }

    #[test]
    fn residence_permits() {
        for (n, birth, sex) in [
            ("810000199408230021", date!(1994 - 08 - 23), Sex::Female),
            ("830000199201300022", date!(1992 - 01 - 30), Sex::Female),
            ("820000199001010029", date!(1990 - 01 - 01), Sex::Female),
        ] {
            let d = parse(IdKind::HkMoTwResidence, n, None).unwrap();
            assert_eq!((d.birth_date(), d.sex(), d.nationality()), (Some(birth), Some(sex), Some("CHN")));
        }
        assert_eq!(code(IdKind::HkMoTwResidence, "81000019940823002", None), ErrorCode::ResidencePermitFormat);
        assert_eq!(code(IdKind::HkMoTwResidence, "11010519491231002X", None), ErrorCode::ResidencePermitPrefix);
        assert_eq!(code(IdKind::HkMoTwResidence, "810000199408230022", None), ErrorCode::DocChecksum);
        assert_eq!(code(IdKind::HkMoTwResidence, "810000199402300021", None), ErrorCode::BirthDateInvalid);
    }

    #[test]
    fn travel_permits() {
        assert_eq!(parse(IdKind::HkMoTravel, "h1234567８", None).unwrap().number(), "H12345678");
        assert!(parse(IdKind::HkMoTravel, "M1234567801", None).is_ok());
        for bad in ["H123456789", "X12345678", "HA1234567", "12345678"] {
            assert_eq!(code(IdKind::HkMoTravel, bad, None), ErrorCode::HkMoTravelFormat, "{bad}");
        }
        assert!(parse(IdKind::TwTravel, "12345678", None).is_ok());
        assert!(parse(IdKind::TwTravel, "1234567801", None).is_ok());
        for bad in ["123456789", "T12345678", "1234567"] {
            assert_eq!(code(IdKind::TwTravel, bad, None), ErrorCode::TwTravelFormat, "{bad}");
        }
    }

    #[test]
    fn passports_need_a_nationality() {
        let d = parse(IdKind::Passport, "e 1234 5678", Some(" kor ")).unwrap();
        assert_eq!((d.number(), d.nationality(), d.birth_date()), ("E12345678", Some("KOR"), None));
        let e = parse(IdKind::Passport, "E12345678", None).unwrap_err();
        assert_eq!(e.field_error("nationality").unwrap().code, ErrorCode::Required);
        let e = parse(IdKind::Passport, "E12345678", Some("KR")).unwrap_err();
        assert_eq!(e.field_error("nationality").unwrap().code, ErrorCode::NationalityInvalid);
        assert_eq!(code(IdKind::Passport, "E123", Some("KOR")), ErrorCode::PassportFormat);
        assert_eq!(code(IdKind::Passport, "E1234-5678", Some("KOR")), ErrorCode::PassportFormat);
    }

    #[test]
    fn other_is_free_text() {
        assert_eq!(parse(IdKind::Other, " 军字第 0012345 号 ", None).unwrap().number(), "军字第 0012345 号");
        assert_eq!(code(IdKind::Other, &"一".repeat(51), None), ErrorCode::TooLong);
    }

    #[test]
    fn kind_codes_round_trip() {
        for k in IdKind::ALL {
            assert_eq!(IdKind::parse(k.code()), Some(*k));
        }
        assert_eq!(IdKind::HkMoTwResidence.zh(), "港澳台居民居住证");
    }

    #[test]
    fn debug_is_masked() {
        let d = parse(IdKind::ResidentId, "11010519491231002X", None).unwrap();
        assert!(format!("{d:?}").contains("110105********002X"));
    }

    proptest! {
        #[test]
        fn random_input_never_panics(s in any::<String>(), t in "[0-9A-Z９Ｘ <]{0,20}", nat in proptest::option::of("[A-Za-z]{0,4}")) {
            for k in IdKind::ALL {
                let _ = IdDocument::parse(*k, &s, nat.as_deref(), TODAY);
                let _ = IdDocument::parse(*k, &t, nat.as_deref(), TODAY);
            }
        }
    }
}
