//! Resident ID number (居民身份证号码, GB 11643-1999), including legacy
//! 15-digit numbers (GB 11643-1989), which are upgraded to 18 characters.

use std::fmt;

use time::{Date, Month, macros::date};

use super::Sex;
use crate::error::{DomainError, ErrorCode};

/// Weights of positions 1..17, `2^(18-i) mod 11`.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `sum mod 11` = 0..10.
const CHECK: &[u8; 11] = b"10X98765432";
/// Earliest accepted birth date; the standard's own example (440524188001010014) uses it.
const EARLIEST_BIRTH: Date = date!(1880 - 01 - 01);

/// Cleans a typed or scanned document number: drops all white space (also
/// the full-width space), turns full-width digits and letters into ASCII and
/// upper-cases letters, so `１１０…００２ｘ` becomes `110…002X`.
pub fn normalize_number(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The ISO 7064 MOD 11-2 check character of a 17-digit body.
///
/// # Panics
/// If `body17` is not 17 ASCII digits.
pub fn check_char(body17: &[u8]) -> char {
    assert!(body17.len() == 17 && body17.iter().all(u8::is_ascii_digit), "check_char needs 17 ASCII digits");
    let sum: u32 = body17.iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    char::from(CHECK[(sum % 11) as usize])
}

/// 17 digits followed by a digit or `X`.
pub(super) fn is_18_shape(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18 && b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X')
}

/// Whether an 18-character number of the right shape carries the right check.
pub(super) fn check_ok(s: &str) -> bool {
    is_18_shape(s) && check_char(&s.as_bytes()[..17]) as u8 == s.as_bytes()[17]
}

/// The birth date in 8 ASCII digits `YYYYMMDD`: it must exist and lie
/// between 1880-01-01 and `today`.
pub(super) fn birth_date(yyyymmdd: &str, today: Date) -> Result<Date, DomainError> {
    let invalid = |shown: String| DomainError::with(ErrorCode::BirthDateInvalid, [shown]);
    if yyyymmdd.len() != 8 || !yyyymmdd.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(yyyymmdd.to_string()));
    }
    let (y, m, d) = (&yyyymmdd[..4], &yyyymmdd[4..6], &yyyymmdd[6..]);
    let shown = format!("{y}-{m}-{d}");
    let num = |p: &str| p.parse::<u8>().unwrap_or(0);
    let date = Month::try_from(num(m))
        .ok()
        .and_then(|month| Date::from_calendar_date(y.parse().unwrap_or(0), month, num(d)).ok());
    match date {
        None => Err(invalid(shown)),
        Some(d) if d > today => Err(DomainError::with(ErrorCode::BirthDateFuture, [shown])),
        Some(d) if d < EARLIEST_BIRTH => Err(DomainError::with(ErrorCode::BirthDateTooEarly, [shown])),
        Some(d) => Ok(d),
    }
}

/// A checked resident ID number, always in the 18-character form.
/// `Debug` shows it masked so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId {
    number: String,
    birth: Date,
    upgraded: bool,
}

impl ResidentId {
    /// Parses a typed number. Each failure has its own code so the registrar
    /// sees what is wrong; the check digit is tested last because a bad date
    /// or region is the more useful message.
    pub fn parse(input: &str, today: Date) -> Result<Self, DomainError> {
        let s = normalize_number(input);
        let n = s.chars().count();
        let (number, upgraded) = match n {
            0 => return Err(DomainError::new(ErrorCode::Required)),
            18 if is_18_shape(&s) => (s, false),
            15 if s.bytes().all(|b| b.is_ascii_digit()) => {
                // GB 11643-1989: YYMMDD of the 1900s and no check digit.
                let body = format!("{}19{}", &s[..6], &s[6..]);
                let c = check_char(body.as_bytes());
                (format!("{body}{c}"), true)
            }
            15 | 18 => return Err(DomainError::new(ErrorCode::IdChars)),
            _ => return Err(DomainError::with(ErrorCode::IdLength, [n])),
        };
        check_region(&number, upgraded)?;
        let birth = birth_date(&number[6..14], today)?;
        if !check_ok(&number) {
            return Err(DomainError::new(ErrorCode::IdChecksum));
        }
        Ok(Self { number, birth, upgraded })
    }

    /// The 18-character canonical form.
    pub fn as_str(&self) -> &str {
        &self.number
    }
    pub fn birth_date(&self) -> Date {
        self.birth
    }
    /// From the 17th digit: odd is male, even is female.
    pub fn sex(&self) -> Sex {
        Sex::from_sequence_digit(self.number.as_bytes()[16])
    }
    /// Address code (GB/T 2260) in force when the number was issued; it may
    /// since have been abolished, so it is not checked against today's list.
    pub fn region_code(&self) -> &str {
        &self.number[..6]
    }
    pub fn upgraded_from_15(&self) -> bool {
        self.upgraded
    }
    /// `110105********002X`, for screens and logs.
    pub fn masked(&self) -> String {
        crate::mask::id_number(&self.number)
    }
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ResidentId").field(&self.masked()).finish()
    }
}

/// Mainland numbers start with 1–6. 81/82/83 are HK/Macao/Taiwan residence
/// permits and 9 the new foreign permanent residence card: same layout, but
/// the registrar picked the wrong ID type, so say which one to pick.
fn check_region(number: &str, upgraded: bool) -> Result<(), DomainError> {
    let province = &number[..2];
    match (number.as_bytes()[0], upgraded) {
        (b'1'..=b'6', _) => Ok(()),
        (b'8', false) if matches!(province, "81" | "82" | "83") => {
            Err(DomainError::new(ErrorCode::IdIsResidencePermit))
        }
        (b'9', false) => Err(DomainError::new(ErrorCode::IdIsForeignPr)),
        _ => Err(DomainError::with(ErrorCode::IdRegion, [province])),
    }
}

/// A valid 18-character number for tests, demo data and load generation.
///
/// # Panics
/// If `region` is not 6 digits, `seq` is over 999 or the year has not 4 digits.
pub fn make_resident_id(region: &str, birth: Date, seq: u16) -> String {
    assert!(region.len() == 6 && region.bytes().all(|b| b.is_ascii_digit()), "region: 6 digits");
    assert!(seq <= 999, "seq: 0..=999");
    assert!((1000..=9999).contains(&birth.year()), "year: 4 digits");
    let body = format!("{region}{:04}{:02}{:02}{seq:03}", birth.year(), u8::from(birth.month()), birth.day());
    let c = check_char(body.as_bytes());
    format!("{body}{c}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TODAY: Date = date!(2026 - 01 - 01);

    fn code_of(input: &str) -> ErrorCode {
        ResidentId::parse(input, TODAY).unwrap_err().code
    }

    /// A number with a correct check digit around any body.
    fn with_check(body17: &str) -> String {
        format!("{body17}{}", check_char(body17.as_bytes()))
    }

    #[test]
    fn published_vectors() {
        let id = ResidentId::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.region_code(), "110105");
        assert!(!id.upgraded_from_15());

        let id = ResidentId::parse("440524188001010014", TODAY).unwrap();
        assert_eq!((id.birth_date(), id.sex()), (date!(1880 - 01 - 01), Sex::Male));
        let id = ResidentId::parse("34052419800101001X", TODAY).unwrap();
        assert_eq!((id.birth_date(), id.sex()), (date!(1980 - 01 - 01), Sex::Male));
        let id = ResidentId::parse("110101202311012176", TODAY).unwrap();
        assert_eq!((id.birth_date(), id.sex()), (date!(2023 - 11 - 01), Sex::Male));

        assert_eq!(code_of("110101202311012171"), ErrorCode::IdChecksum);
    }

    #[test]
    fn check_char_matches_vectors() {
        assert_eq!(check_char(b"11010519491231002"), 'X');
        assert_eq!(check_char(b"44052418800101001"), '4');
    }

    #[test]
    fn normalises_full_width_spaces_and_lowercase_x() {
        for input in [
            "１１０１０５１９４９１２３１００２Ｘ",
            "１１０１０５１９４９１２３１００２ｘ",
            "11010519491231002x",
            " 110105 19491231 002X\t",
            "110105\u{3000}19491231\u{3000}002x",
        ] {
            assert_eq!(ResidentId::parse(input, TODAY).unwrap().as_str(), "11010519491231002X", "{input}");
        }
    }

    #[test]
    fn upgrades_15_digits() {
        // 110105 491231 002 → insert 19, check digit X.
        let id = ResidentId::parse("110105491231002", TODAY).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert!(id.upgraded_from_15());
        assert_eq!((id.birth_date(), id.sex()), (date!(1949 - 12 - 31), Sex::Female));
        assert_eq!(code_of("110105491331002"), ErrorCode::BirthDateInvalid);
        assert_eq!(code_of("11010549123100X"), ErrorCode::IdChars);
    }

    #[test]
    fn each_failure_has_its_code() {
        assert_eq!(code_of(""), ErrorCode::Required);
        assert_eq!(code_of("　"), ErrorCode::Required);
        let e = ResidentId::parse("1101051949", TODAY).unwrap_err();
        assert_eq!((e.code, e.zh()), (ErrorCode::IdLength, "身份证号应为 18 位（旧版 15 位），现为 10 位".into()));
        assert_eq!(code_of("11010519491231002A"), ErrorCode::IdChars);
        assert_eq!(code_of("1101051949123100XX"), ErrorCode::IdChars);
        assert_eq!(code_of("11010519491231002-"), ErrorCode::IdChars);
        assert_eq!(code_of("11010519491231002é"), ErrorCode::IdChars);

        let e = ResidentId::parse(&with_check("11010519490231002"), TODAY).unwrap_err();
        assert_eq!((e.code, e.zh()), (ErrorCode::BirthDateInvalid, "出生日期不存在（号码中为 1949-02-31）".into()));
        assert_eq!(code_of(&with_check("11010519000229001")), ErrorCode::BirthDateInvalid);
        assert!(ResidentId::parse(&with_check("41010520000229001"), TODAY).is_ok());
        assert_eq!(code_of(&with_check("11010520260102001")), ErrorCode::BirthDateFuture);
        assert!(ResidentId::parse(&with_check("11010520260101001"), TODAY).is_ok());
        assert_eq!(code_of(&with_check("11010518791231001")), ErrorCode::BirthDateTooEarly);

        let e = ResidentId::parse(&with_check("71000019800101001"), TODAY).unwrap_err();
        assert_eq!((e.code, e.args.clone()), (ErrorCode::IdRegion, vec!["71".to_string()]));
        assert_eq!(code_of(&with_check("01010519800101001")), ErrorCode::IdRegion);
        assert_eq!(code_of(&with_check("84000019800101001")), ErrorCode::IdRegion);
        assert_eq!(code_of("810000199408230021"), ErrorCode::IdIsResidencePermit);
        assert_eq!(code_of("830000199201300022"), ErrorCode::IdIsResidencePermit);
        assert_eq!(code_of(&with_check("93784019800101001")), ErrorCode::IdIsForeignPr);
        assert_eq!(code_of("810000940823002"), ErrorCode::IdRegion);
    }

    #[test]
    fn debug_is_masked() {
        let id = ResidentId::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(format!("{id:?}"), "ResidentId(\"110105********002X\")");
    }

    #[test]
    fn generator_makes_valid_numbers() {
        assert_eq!(make_resident_id("110105", date!(1949 - 12 - 31), 2), "11010519491231002X");
        assert_eq!(make_resident_id("440524", date!(1880 - 01 - 01), 1), "440524188001010014");
    }

    fn region() -> impl Strategy<Value = String> {
        (1u32..=6, 0u32..100_000).prop_map(|(p, rest)| format!("{p}{rest:05}"))
    }

    fn birth() -> impl Strategy<Value = Date> {
        (1880i32..=2025, 1u16..=365).prop_map(|(y, d)| Date::from_ordinal_date(y, d).unwrap())
    }

    proptest! {
        #[test]
        fn generated_numbers_parse_back(r in region(), b in birth(), seq in 0u16..1000) {
            let id = ResidentId::parse(&make_resident_id(&r, b, seq), TODAY).unwrap();
            prop_assert_eq!(id.birth_date(), b);
            prop_assert_eq!(id.region_code(), r.as_str());
            prop_assert_eq!(id.sex(), if seq % 2 == 1 { Sex::Male } else { Sex::Female });
        }

        /// MOD 11-2 detects every single-character substitution: weights are
        /// non-zero mod 11 and two digits differ by less than 11.
        #[test]
        fn single_substitutions_are_rejected(
            r in region(), b in birth(), seq in 0u16..1000, pos in 0usize..18, to in 0usize..11,
        ) {
            let good = make_resident_id(&r, b, seq);
            let mut bytes = good.clone().into_bytes();
            let new = b"0123456789X"[to];
            prop_assume!(bytes[pos] != new);
            bytes[pos] = new;
            let bad = String::from_utf8(bytes).unwrap();
            if pos < 17 && new != b'X' {
                prop_assert_ne!(check_char(&bad.as_bytes()[..17]), check_char(&good.as_bytes()[..17]));
            }
            prop_assert!(ResidentId::parse(&bad, TODAY).is_err(), "{} accepted", bad);
        }

        #[test]
        fn random_input_never_panics(s in any::<String>(), t in "[0-9Xx０-９ｘ 　-]{0,20}") {
            let _ = ResidentId::parse(&s, TODAY);
            let _ = ResidentId::parse(&t, TODAY);
            let _ = birth_date(&s, TODAY);
        }
    }
}
