//! Identifiers other systems give a patient (another hospital's record
//! number, another country's national number, one with no system), kept as
//! received beside our own documents so that their clients find the patient.

use crate::error::ErrorCode;

/// At most this many identifiers of other systems per patient.
pub const MAX_FOREIGN_IDS: usize = 10;
const SYSTEM_MAX: usize = 255;
const VALUE_MAX: usize = 100;

/// An identifier as another system wrote it: its namespace (a URI; empty
/// when it named none) and its value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ForeignId {
    pub system: String,
    pub value: String,
}

impl ForeignId {
    /// Checks one identifier: a value, no spaces inside the system, nothing
    /// unprintable, within the lengths stored. The refusal is a code and its
    /// argument.
    pub fn parse(system: &str, value: &str) -> Result<Self, (ErrorCode, String)> {
        let (system, value) = (system.trim(), value.trim());
        if value.is_empty() {
            return Err((ErrorCode::Required, String::new()));
        }
        if system.chars().count() > SYSTEM_MAX {
            return Err((ErrorCode::TooLong, SYSTEM_MAX.to_string()));
        }
        if value.chars().count() > VALUE_MAX {
            return Err((ErrorCode::TooLong, VALUE_MAX.to_string()));
        }
        if system.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err((ErrorCode::InvalidFormat, format!("标识系统「{system}」应为不含空白的 URI")));
        }
        if value.chars().any(char::is_control) {
            return Err((ErrorCode::InvalidFormat, "标识值含有控制字符".into()));
        }
        Ok(Self { system: system.into(), value: value.into() })
    }

    /// `system|value` as FHIR search writes it (`|value` without a system).
    pub fn token(&self) -> String {
        format!("{}|{}", self.system, self.value)
    }

    /// Identifiers in a system name one person; a bare value names no namespace.
    pub fn is_unique(&self) -> bool {
        !self.system.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_kept_as_sent_within_limits() {
        let id = ForeignId::parse(" http://hospital.example.org/mrn ", " 12345 ").unwrap();
        assert_eq!((id.system.as_str(), id.value.as_str()), ("http://hospital.example.org/mrn", "12345"));
        assert_eq!(id.token(), "http://hospital.example.org/mrn|12345");
        assert!(id.is_unique());
        let bare = ForeignId::parse("", "A-77").unwrap();
        assert!(!bare.is_unique() && bare.token() == "|A-77");
        assert_eq!(ForeignId::parse("urn:x", " ").unwrap_err().0, ErrorCode::Required);
        assert_eq!(ForeignId::parse("urn:x", &"9".repeat(101)).unwrap_err().0, ErrorCode::TooLong);
        assert_eq!(ForeignId::parse(&"u".repeat(256), "1").unwrap_err().0, ErrorCode::TooLong);
        assert_eq!(ForeignId::parse("urn:a b", "1").unwrap_err().0, ErrorCode::InvalidFormat);
        assert_eq!(ForeignId::parse("urn:x", "1\u{0}").unwrap_err().0, ErrorCode::InvalidFormat);
        assert!(ForeignId::parse("urn:x", &"患".repeat(100)).is_ok(), "characters, not bytes");
    }
}
