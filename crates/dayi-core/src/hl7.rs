//! HL7 v2 results from laboratory analyzers: the message grammar
//! (`message`), the typed ORU^R01 (`oru`), acknowledgements (`ack`) and MLLP
//! framing (`mllp`). Pure: bytes in, values and bytes out; the TCP listener
//! lives in `dayi_app::lab::mllp`.
//!
//! Character set: the bytes must be UTF-8 (ASCII is a subset). MSH-18 is
//! read and kept but not acted on: a message that declares GB18030 yet holds
//! only ASCII is accepted, one that really holds GB18030 bytes is refused with
//! `hl7.encoding`.

mod ack;
mod error;
mod message;
pub mod mllp;
mod oru;
mod ts;

#[cfg(test)]
mod tests;

pub use ack::{Ack, AckCode, hl7_error_code};
pub use error::{Hl7Error, Location};
pub use message::{Delimiters, Message, Segment, escape, unescape};
pub use oru::{
    BarcodeFrom, Coded, Hd, Header, Observation, Order, Oru, Patient, PatientId, ResultStatus, Value, ValueType,
    parse_header, parse_oru,
};
pub use ts::Hl7Time;
