//! The electronic health card (电子健康卡) and the codes a station accepts
//! (一码通用): the card's QR code, static or dynamic, a resident ID number, a
//! hospital card number, or an insurance voucher token.
//!
//! QR plaintext follows the health-card platform (domain-rules-cn.md §2.1):
//! static `<card id>:1`; dynamic `<card id>:0:<expiry>`. Our dynamic code adds
//! an HMAC so a forged or altered code is refused without asking anyone:
//! `<card id>:0:<yyyyMMddHHmmss, CST>:<signature>`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::error::{DomainError, ErrorCode};
use crate::identity::{ResidentId, normalize_number};
use crate::security::named_enum;
use crate::timefmt::{CST, from_micros, to_micros};

/// Length of a card id: 64 hex characters, as the national platform issues.
pub const CARD_ID_LEN: usize = 64;
/// Random digits at the end of a hospital card number (就诊卡号), so that
/// one number tells nothing of the next: sequential numbers let anyone who
/// knew an ID number find its card by counting.
const HOSPITAL_NO_RANDOM: u32 = 100_000;

/// The card number of an organisation's n-th patient: the sequence
/// (`1_000_000 + n`, which keeps numbers unique) and five random digits.
/// Twelve digits up to n = 8,999,999, thirteen after.
pub fn hospital_no(n: i64, random: u32) -> String {
    format!("{}{:05}", 1_000_000 + n, random % HOSPITAL_NO_RANDOM)
}

/// Whether digits have the shape of a hospital card number: 12–13 digits,
/// or 10 for numbers issued before the random part (`1_000_000_000 + n`).
pub fn is_hospital_no(s: &str) -> bool {
    matches!(s.len(), 10 | 12 | 13) && s.bytes().all(|b| b.is_ascii_digit())
}
const SIGNATURE_BYTES: usize = 16;

named_enum! {
    /// The care step (诊疗环节) at which a code was presented.
    CareStep {
        Registration = ("registration", "挂号登记", "Registration"),
        CheckIn = ("checkin", "签到", "Check-in"),
        Triage = ("triage", "预检分诊", "Triage"),
        Consultation = ("consultation", "门诊就诊", "Consultation"),
        Lab = ("lab", "检验", "Laboratory"),
        Pharmacy = ("pharmacy", "取药", "Pharmacy"),
        Cashier = ("cashier", "收费", "Cashier"),
        Ward = ("ward", "住院", "Ward"),
    }
}

named_enum! {
    /// What kind of code identified the patient.
    CodeKind {
        StaticQr = ("static_qr", "健康卡静态码", "Health card static QR"),
        DynamicQr = ("dynamic_qr", "健康卡动态码", "Health card dynamic QR"),
        ResidentId = ("resident_id", "居民身份证号", "Resident ID number"),
        HospitalNo = ("hospital_no", "就诊卡号", "Hospital card number"),
        Voucher = ("voucher", "医保电子凭证", "Insurance voucher"),
    }
}

/// A code as presented, checked for shape (and, when dynamic, not yet for
/// signature or expiry: that needs the organisation's key and the clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    StaticQr { card_id: String },
    DynamicQr { card_id: String, expires: String, signature: String },
    ResidentId(String),
    HospitalNo(String),
    Voucher(String),
}

impl Code {
    pub fn kind(&self) -> CodeKind {
        match self {
            Code::StaticQr { .. } => CodeKind::StaticQr,
            Code::DynamicQr { .. } => CodeKind::DynamicQr,
            Code::ResidentId(_) => CodeKind::ResidentId,
            Code::HospitalNo(_) => CodeKind::HospitalNo,
            Code::Voucher(_) => CodeKind::Voucher,
        }
    }

    /// Recognises what a scanner or a keyboard produced. `voucher` says the
    /// station scanned an insurance voucher, whose content is opaque to us.
    pub fn parse(input: &str, voucher: bool, today: time::Date) -> Result<Code, DomainError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DomainError::new(ErrorCode::Required));
        }
        if voucher {
            return Ok(Code::Voucher(s.to_string()));
        }
        if s.contains(':') {
            return parse_qr(s);
        }
        let n = normalize_number(s);
        if is_hospital_no(&n) {
            return Ok(Code::HospitalNo(n));
        }
        if matches!(n.len(), 15 | 18) {
            return Ok(Code::ResidentId(ResidentId::parse(&n, today)?.as_str().to_string()));
        }
        Err(DomainError::new(ErrorCode::CardCodeUnrecognised))
    }
}

fn is_card_id(s: &str) -> bool {
    s.len() == CARD_ID_LEN && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_qr(s: &str) -> Result<Code, DomainError> {
    let parts: Vec<&str> = s.split(':').collect();
    let tampered = || DomainError::new(ErrorCode::CardQrTampered);
    if !is_card_id(parts[0]) {
        return Err(tampered());
    }
    let card_id = parts[0].to_ascii_uppercase();
    match parts[1..] {
        ["1"] => Ok(Code::StaticQr { card_id }),
        ["0", expires, signature] if expires.len() == 14 && expires.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Code::DynamicQr { card_id, expires: expires.into(), signature: signature.to_ascii_uppercase() })
        }
        _ => Err(tampered()),
    }
}

/// A new card id from 32 random bytes.
pub fn new_card_id(random: [u8; 32]) -> String {
    hex::encode_upper(random)
}

/// The static QR text: `<card id>:1`.
pub fn static_qr(card_id: &str) -> String {
    format!("{card_id}:1")
}

fn expiry_text(expires_us: i64) -> String {
    let f = format_description!("[year][month][day][hour][minute][second]");
    from_micros(expires_us).to_offset(CST).format(&f).unwrap_or_default()
}

fn parse_expiry(s: &str) -> Option<i64> {
    let f = format_description!("[year][month][day][hour][minute][second]");
    let t = time::PrimitiveDateTime::parse(s, &f).ok()?;
    Some(to_micros(t.assume_offset(CST)))
}

fn signature(key: &[u8], payload: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(payload.as_bytes());
    hex::encode_upper(&mac.finalize().into_bytes()[..SIGNATURE_BYTES])
}

/// A dynamic QR text valid until `expires_us`, signed with the organisation's key.
pub fn dynamic_qr(key: &[u8], card_id: &str, expires_us: i64) -> String {
    let payload = format!("{card_id}:0:{}", expiry_text(expires_us));
    let sig = signature(key, &payload);
    format!("{payload}:{sig}")
}

/// Checks a dynamic code's signature, then its expiry. A code whose signature
/// fails is "tampered" even if it also expired: the content cannot be trusted.
pub fn verify_dynamic(
    key: &[u8],
    card_id: &str,
    expires: &str,
    sig: &str,
    now: OffsetDateTime,
    ttl_minutes: i64,
) -> Result<(), DomainError> {
    let expected = signature(key, &format!("{card_id}:0:{expires}"));
    if !bool::from(expected.as_bytes().ct_eq(sig.as_bytes())) {
        return Err(DomainError::new(ErrorCode::CardQrTampered));
    }
    match parse_expiry(expires) {
        Some(e) if e >= to_micros(now) => Ok(()),
        Some(_) => Err(DomainError::with(ErrorCode::CardQrExpired, [ttl_minutes])),
        None => Err(DomainError::new(ErrorCode::CardQrTampered)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const KEY: &[u8] = b"organisation key for tests";
    const CARD: &str = "E1D10AAC73D0B947060B099128732C969A6EF97A6014BF41B3D19EEF9A4FBB18";

    fn parse(s: &str) -> Result<Code, DomainError> {
        Code::parse(s, false, date!(2026 - 11 - 23))
    }

    #[test]
    fn hospital_numbers_hold_the_sequence_and_random_digits() {
        assert_eq!(hospital_no(42, 7315), "100004207315");
        assert_eq!(hospital_no(1, 123_456), "100000123456");
        assert_eq!(hospital_no(9_000_000, 0), "1000000000000");
        assert!(is_hospital_no(&hospital_no(8_999_999, 99_999)));
        // two numbers in a row share only the sequence part
        assert_ne!(hospital_no(7, 1)[7..], hospital_no(8, 2)[7..]);
    }

    #[test]
    fn recognises_each_kind() {
        assert_eq!(parse(&format!("{CARD}:1")).unwrap(), Code::StaticQr { card_id: CARD.into() });
        assert_eq!(parse(" 1000000042 ").unwrap(), Code::HospitalNo("1000000042".into()));
        assert_eq!(parse("100004207315").unwrap(), Code::HospitalNo("100004207315".into()));
        assert_eq!(parse("10000000400001").unwrap_err().code, ErrorCode::CardCodeUnrecognised);
        assert_eq!(parse("11010519491231002x").unwrap(), Code::ResidentId("11010519491231002X".into()));
        assert_eq!(Code::parse("opaque", true, date!(2026 - 11 - 23)).unwrap().kind(), CodeKind::Voucher);
        assert_eq!(parse("12345").unwrap_err().code, ErrorCode::CardCodeUnrecognised);
        assert_eq!(parse("1101051949123100AX").unwrap_err().code, ErrorCode::IdChars);
        assert_eq!(parse("110105194912310021").unwrap_err().code, ErrorCode::IdChecksum);
        assert_eq!(parse("abc:1").unwrap_err().code, ErrorCode::CardQrTampered);
        assert_eq!(parse(&format!("{CARD}:2")).unwrap_err().code, ErrorCode::CardQrTampered);
    }

    #[test]
    fn dynamic_codes_are_signed_and_expire() {
        let now = datetime!(2026-11-23 08:00:00 +8);
        let qr = dynamic_qr(KEY, CARD, to_micros(now) + 300_000_000);
        assert!(qr.starts_with(&format!("{CARD}:0:20261123080500:")));
        let Code::DynamicQr { card_id, expires, signature } = parse(&qr).unwrap() else { panic!("dynamic") };
        assert!(verify_dynamic(KEY, &card_id, &expires, &signature, now, 5).is_ok());
        // after the expiry
        let later = datetime!(2026-11-23 08:05:01 +8);
        assert_eq!(
            verify_dynamic(KEY, &card_id, &expires, &signature, later, 5).unwrap_err().code,
            ErrorCode::CardQrExpired
        );
        // a later expiry written in by hand breaks the signature
        assert_eq!(
            verify_dynamic(KEY, &card_id, "20261123090000", &signature, now, 5).unwrap_err().code,
            ErrorCode::CardQrTampered
        );
        // another organisation's key
        assert_eq!(
            verify_dynamic(b"other", &card_id, &expires, &signature, now, 5).unwrap_err().code,
            ErrorCode::CardQrTampered
        );
    }

    #[test]
    fn card_ids_are_64_hex() {
        let id = new_card_id([0xab; 32]);
        assert!(is_card_id(&id));
        assert_eq!(static_qr(&id), format!("{id}:1"));
    }
}
