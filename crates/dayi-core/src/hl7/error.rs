//! Why a message was refused, with the place in it, each with a stable code.

use std::fmt;

use crate::{DomainError, ErrorCode};

/// A field in a message: `OBX-5 #3` is OBX-5 of the third OBX segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub segment: &'static str,
    /// 1-based occurrence of that segment in the message.
    pub seq: usize,
    pub field: usize,
}

impl Location {
    pub fn new(segment: &'static str, seq: usize, field: usize) -> Self {
        Self { segment, seq, field }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.segment, self.field)?;
        if self.seq > 1 || matches!(self.segment, "OBX" | "OBR" | "SPM") {
            write!(f, " #{}", self.seq)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Hl7Error {
    #[error("not UTF-8 (MSH-18 {0:?})")]
    Encoding(String),
    #[error("no MSH segment at the start")]
    NoMsh,
    #[error("invalid delimiters {0:?}")]
    Delimiters(String),
    #[error("segment {index} has an invalid name {name:?}")]
    SegmentName { index: usize, name: String },
    #[error("message type {0:?} is not ORU^R01")]
    MessageType(String),
    #[error("HL7 version {0:?} is not supported")]
    Version(String),
    #[error("MSH-10 control id is missing")]
    ControlId,
    #[error("no OBR segment")]
    NoOrder,
    #[error("{segment} before any OBR")]
    WithoutObr { segment: &'static str, seq: usize },
    #[error("{0} is empty")]
    Missing(Location),
    #[error("{at}: invalid value {value:?}")]
    Invalid { at: Location, value: String },
    #[error("{at}: NM value {value:?} is not a number")]
    NotNumeric { at: Location, value: String },
    #[error("{at}: value type {value:?} is not supported")]
    ValueType { at: Location, value: String },
}

impl Hl7Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Hl7Error::Encoding(_) => ErrorCode::Hl7Encoding,
            Hl7Error::NoMsh => ErrorCode::Hl7NoMsh,
            Hl7Error::Delimiters(_) => ErrorCode::Hl7Delimiters,
            Hl7Error::SegmentName { .. } => ErrorCode::Hl7Segment,
            Hl7Error::MessageType(_) => ErrorCode::Hl7MessageType,
            Hl7Error::Version(_) => ErrorCode::Hl7Version,
            Hl7Error::ControlId => ErrorCode::Hl7ControlId,
            Hl7Error::NoOrder => ErrorCode::Hl7NoOrder,
            Hl7Error::WithoutObr { .. } => ErrorCode::Hl7WithoutObr,
            Hl7Error::Missing(_) => ErrorCode::Hl7FieldMissing,
            Hl7Error::Invalid { .. } => ErrorCode::Hl7FieldInvalid,
            Hl7Error::NotNumeric { .. } => ErrorCode::Hl7NotNumeric,
            Hl7Error::ValueType { .. } => ErrorCode::Hl7ValueType,
        }
    }

    /// Where in the message, for the ACK's ERR-2.
    pub fn location(&self) -> Option<Location> {
        match self {
            Hl7Error::ControlId => Some(Location::new("MSH", 1, 10)),
            Hl7Error::MessageType(_) => Some(Location::new("MSH", 1, 9)),
            Hl7Error::Version(_) => Some(Location::new("MSH", 1, 12)),
            Hl7Error::Missing(at)
            | Hl7Error::Invalid { at, .. }
            | Hl7Error::NotNumeric { at, .. }
            | Hl7Error::ValueType { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// Values shown to people are cut short: an analyzer may send a whole report
/// as one bad field, and the ACK and the log need only its start.
fn short(v: &str) -> String {
    match v.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &v[..i]),
        None => v.to_string(),
    }
}

impl From<Hl7Error> for DomainError {
    fn from(e: Hl7Error) -> Self {
        let code = e.code();
        match e {
            Hl7Error::Encoding(v) | Hl7Error::Delimiters(v) | Hl7Error::MessageType(v) | Hl7Error::Version(v) => {
                DomainError::with(code, [short(&v)])
            }
            Hl7Error::SegmentName { index, name } => DomainError::with(code, [index.to_string(), short(&name)]),
            Hl7Error::WithoutObr { segment, .. } => DomainError::with(code, [segment]),
            Hl7Error::Missing(at) => DomainError::with(code, [at.to_string()]),
            Hl7Error::Invalid { at, value }
            | Hl7Error::NotNumeric { at, value }
            | Hl7Error::ValueType { at, value } => DomainError::with(code, [at.to_string(), short(&value)]),
            Hl7Error::NoMsh | Hl7Error::ControlId | Hl7Error::NoOrder => DomainError::new(code),
        }
    }
}
