//! Acknowledgements (ACK^R01): MSA-1 AA, AE or AR, MSA-2 the message's
//! control id, and for a refusal an ERR segment with the reason.

use std::fmt::Write;

use time::OffsetDateTime;

use super::message::{Delimiters, escape};
use super::{Hd, Header, Location};
use crate::{DomainError, ErrorCode};

/// MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// AA: stored.
    Accept,
    /// AE: understood but not stored (e.g. unknown barcode); resending the
    /// same message will not help.
    Error,
    /// AR: refused: malformed or unsupported, or the system could not take
    /// it now (the sender may retry).
    Reject,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }

    /// The verdict for a failure: the message's form (`hl7.*` codes except the
    /// barcode lookups) and server trouble are rejections; any other rule of
    /// the application is an application error.
    pub fn for_error(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Hl7BarcodeMissing | ErrorCode::Hl7BarcodeUnknown => AckCode::Error,
            ErrorCode::Internal | ErrorCode::Unavailable => AckCode::Reject,
            c if c.code().starts_with("hl7.") => AckCode::Reject,
            _ => AckCode::Error,
        }
    }
}

/// HL7 table 0357 (message error condition codes) for ERR-3.
pub fn hl7_error_code(code: ErrorCode) -> (u16, &'static str) {
    match code {
        ErrorCode::Hl7NoMsh | ErrorCode::Hl7Segment | ErrorCode::Hl7WithoutObr | ErrorCode::Hl7NoOrder => {
            (100, "Segment sequence error")
        }
        ErrorCode::Hl7ControlId | ErrorCode::Hl7FieldMissing | ErrorCode::Hl7BarcodeMissing => {
            (101, "Required field missing")
        }
        ErrorCode::Hl7Encoding
        | ErrorCode::Hl7Delimiters
        | ErrorCode::Hl7FieldInvalid
        | ErrorCode::Hl7NotNumeric
        | ErrorCode::Hl7FrameTooLarge => (102, "Data type error"),
        ErrorCode::Hl7ValueType => (103, "Table value not found"),
        ErrorCode::Hl7MessageType => (200, "Unsupported message type"),
        ErrorCode::Hl7Version => (203, "Unsupported version id"),
        ErrorCode::Hl7BarcodeUnknown | ErrorCode::LabItemUnknown => (204, "Unknown key identifier"),
        _ => (207, "Application internal error"),
    }
}

/// An acknowledgement to render. `to` is the header of the message answered,
/// when it could be read; without it the ACK still goes out, unaddressed.
#[derive(Debug, Clone)]
pub struct Ack<'a> {
    pub to: Option<&'a Header>,
    pub code: AckCode,
    /// MSA-3 for an AA; a refusal's text is its error's specific reasons in
    /// Chinese (`DomainError::reasons_zh`), ERR-5.2 the same in English.
    pub text: &'a str,
    pub error: Option<(&'a DomainError, Option<Location>)>,
}

/// Version used when the message's own could not be read.
const DEFAULT_VERSION: &str = "2.5.1";

fn hd(h: &Hd, d: &Delimiters) -> String {
    let parts = [&h.namespace_id, &h.universal_id, &h.universal_id_type].map(|p| escape(p, d).into_owned());
    parts.join(&d.component.to_string()).trim_end_matches(d.component).to_string()
}

/// MSA-3 is ST(80) in v2.5: cut by characters, never inside one.
fn cut(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

impl Ack<'_> {
    /// The ACK's segments, CR-terminated. The sender and receiver of the
    /// message swap places; `control_id` is the ACK's own MSH-10.
    pub fn render(&self, control_id: &str, now: OffsetDateTime) -> String {
        let d = Delimiters::default();
        let e = |s: &str| escape(s, &d).into_owned();
        let empty = Header::default();
        let h = self.to.unwrap_or(&empty);
        let version = if h.version.starts_with("2.") { h.version.as_str() } else { DEFAULT_VERSION };
        let processing = if h.processing_id.is_empty() { "P" } else { h.processing_id.as_str() };
        let mut out = String::with_capacity(256);
        let _ = write!(
            out,
            "MSH|{enc}|{}|{}|{}|{}|{}||ACK^R01^ACK|{}|{}|{}|||||CHN|UNICODE UTF-8\r",
            hd(&h.receiving_application, &d),
            hd(&h.receiving_facility, &d),
            hd(&h.sending_application, &d),
            hd(&h.sending_facility, &d),
            timestamp(now),
            e(control_id),
            e(processing),
            e(version),
            enc = d.encoding_chars(),
        );
        let text = match self.error {
            Some((err, _)) => err.reasons_zh(),
            None => self.text.to_string(),
        };
        let _ = write!(out, "MSA|{}|{}|{}\r", self.code.as_str(), e(&h.control_id), e(cut(&text, 80)));
        if let Some((err, at)) = self.error {
            let code = err.specific_code();
            let (n, label) = hl7_error_code(code);
            let loc = at.map(|l| format!("{}^{}^{}", l.segment, l.seq, l.field)).unwrap_or_default();
            let severity = if self.code == AckCode::Accept { "W" } else { "E" };
            let _ = write!(
                out,
                "ERR||{loc}|{n}^{label}^HL70357|{severity}|{}^{}^L|||{}\r",
                e(code.code()),
                e(&err.reasons_en()),
                e(&text),
            );
        }
        out
    }
}

/// TS with seconds and the offset, e.g. `20261203094512+0800`.
fn timestamp(t: OffsetDateTime) -> String {
    let o = t.offset();
    let (h, m, _) = o.as_hms();
    let sign = if o.is_negative() { '-' } else { '+' };
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{sign}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        h.unsigned_abs(),
        m.unsigned_abs()
    )
}
