//! ORU^R01 (unsolicited observation result) as a typed value: the header,
//! the patient, and each order (OBR) with its results (OBX) and specimen (SPM).

use super::message::{Delimiters, Message, Segment, unescape};
use super::{Hl7Error, Hl7Time, Location};

/// A hierarchic designator (HD): an application or facility in MSH-3..6.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hd {
    pub namespace_id: String,
    pub universal_id: String,
    pub universal_id_type: String,
}

/// A coded element (CE/CWE): code^text^coding system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coded {
    pub code: String,
    pub text: String,
    pub system: String,
}

/// The message header, also what the ACK is addressed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub sending_application: Hd,
    pub sending_facility: Hd,
    pub receiving_application: Hd,
    pub receiving_facility: Hd,
    /// MSH-7 as sent.
    pub sent_at: String,
    /// MSH-9 as sent, e.g. `ORU^R01^ORU_R01`.
    pub message_type: String,
    /// MSH-10: the ACK's MSA-2 quotes it.
    pub control_id: String,
    /// MSH-11: P production, D debugging, T training.
    pub processing_id: String,
    /// MSH-12, e.g. `2.5.1`.
    pub version: String,
    /// MSH-18, kept for the record (see the module note on character sets).
    pub charset: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientId {
    pub id: String,
    /// CX-4 assigning authority (its namespace).
    pub authority: String,
    /// CX-5 identifier type, e.g. MR (medical record number).
    pub type_code: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patient {
    /// PID-3, every repetition.
    pub ids: Vec<PatientId>,
    /// PID-5 family name; Chinese analyzers usually put the whole name here.
    pub family: String,
    pub given: String,
}

/// OBX-2. Other types (SN, ED, …) are refused so no result is misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Numeric,
    String,
    Text,
    FormattedText,
    Coded,
    CodedWithExceptions,
}

impl ValueType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NM" => Self::Numeric,
            "ST" => Self::String,
            "TX" => Self::Text,
            "FT" => Self::FormattedText,
            "CE" => Self::Coded,
            "CWE" => Self::CodedWithExceptions,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A checked decimal number kept as written, so "5.10" keeps its precision.
    Numeric(String),
    /// ST, TX and FT; repetitions are joined by line breaks.
    Text(String),
    /// CE and CWE: the first repetition.
    Coded(Coded),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Numeric(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// OBX-11, HL7 table 0085.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    /// C: replaces a final result.
    Corrected,
    /// D: delete the result.
    Deleted,
    /// F: final.
    Final,
    /// I: specimen in lab, not yet processed.
    Pending,
    /// N: not asked.
    NotAsked,
    /// O: order detail only.
    OrderDetail,
    /// P: preliminary.
    Preliminary,
    /// R: entered, not verified.
    NotVerified,
    /// S: partial.
    Partial,
    /// U: changes status to final without retransmitting the value.
    MadeFinal,
    /// W: wrong patient; the result was posted in error.
    Wrong,
    /// X: the result cannot be obtained.
    CannotObtain,
}

impl ResultStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "C" => Self::Corrected,
            "D" => Self::Deleted,
            "F" => Self::Final,
            "I" => Self::Pending,
            "N" => Self::NotAsked,
            "O" => Self::OrderDetail,
            "P" => Self::Preliminary,
            "R" => Self::NotVerified,
            "S" => Self::Partial,
            "U" => Self::MadeFinal,
            "W" => Self::Wrong,
            "X" => Self::CannotObtain,
            _ => return None,
        })
    }
}

/// One result (OBX).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub set_id: Option<u32>,
    pub value_type: Option<ValueType>,
    /// OBX-3: the analyte, e.g. `GLU^葡萄糖^L`.
    pub code: Coded,
    pub sub_id: String,
    /// OBX-5; `None` when empty (e.g. status X, cannot obtain).
    pub value: Option<Value>,
    /// OBX-6: the unit's code, or its text when the code is empty.
    pub units: String,
    /// OBX-7, e.g. `3.9-6.1`.
    pub reference_range: String,
    /// OBX-8, e.g. H, L, HH, LL, A, N.
    pub abnormal_flags: Vec<String>,
    pub status: Option<ResultStatus>,
    /// OBX-14.
    pub observed_at: Option<Hl7Time>,
    /// OBX-18: the instrument (first repetition's entity identifier).
    pub equipment: String,
}

/// Which field gave an order's specimen barcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeFrom {
    /// SPM-2 specimen ID (v2.5.1): the specimen's own identifier.
    Specimen,
    /// OBR-3 filler order number: the lab's number, which is the tube barcode
    /// when the lab (Dayi) prints the labels.
    Filler,
    /// OBR-2 placer order number: the ordering system's number.
    Placer,
}

/// One order (OBR) and its results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Order {
    /// OBR-2.1
    pub placer_number: String,
    /// OBR-3.1
    pub filler_number: String,
    /// SPM-2: the filler-assigned identifier, else the placer-assigned one.
    pub specimen_id: String,
    /// OBR-4 universal service identifier (the panel).
    pub service: Coded,
    pub observations: Vec<Observation>,
}

impl Order {
    /// The specimen barcode. SPM-2 wins, then OBR-3, then OBR-2: the most
    /// specific identifier of the tube first. `barcodes` lists all three for
    /// a sink that wants to try the others when the first is unknown.
    pub fn barcode(&self) -> Option<(&str, BarcodeFrom)> {
        self.barcodes().next()
    }

    pub fn barcodes(&self) -> impl Iterator<Item = (&str, BarcodeFrom)> {
        [
            (self.specimen_id.as_str(), BarcodeFrom::Specimen),
            (self.filler_number.as_str(), BarcodeFrom::Filler),
            (self.placer_number.as_str(), BarcodeFrom::Placer),
        ]
        .into_iter()
        .filter(|(b, _)| !b.is_empty())
    }
}

/// A parsed ORU^R01.
#[derive(Debug, Clone, PartialEq)]
pub struct Oru {
    pub header: Header,
    pub patient: Option<Patient>,
    /// At least one.
    pub orders: Vec<Order>,
}

impl Oru {
    pub fn observations(&self) -> impl Iterator<Item = &Observation> {
        self.orders.iter().flat_map(|o| o.observations.iter())
    }
}

/// Decoded leaf text.
fn text(raw: &str, d: &Delimiters) -> String {
    unescape(raw, d).into_owned()
}

fn hd(raw: &str, d: &Delimiters) -> Hd {
    Hd {
        namespace_id: text(d.component(raw, 1), d),
        universal_id: text(d.component(raw, 2), d),
        universal_id_type: text(d.component(raw, 3), d),
    }
}

fn coded(raw: &str, d: &Delimiters) -> Coded {
    Coded {
        code: text(d.component(raw, 1), d),
        text: text(d.component(raw, 2), d),
        system: text(d.component(raw, 3), d),
    }
}

/// The entity identifier (first component, first subcomponent) of an EI.
fn entity_id(raw: &str, d: &Delimiters) -> String {
    text(d.subcomponent(d.component(raw, 1), 1), d)
}

fn header_of(msh: &Segment<'_>) -> Header {
    let d = msh.delims();
    let f = msh.fields::<18>();
    Header {
        sending_application: hd(f[2], &d),
        sending_facility: hd(f[3], &d),
        receiving_application: hd(f[4], &d),
        receiving_facility: hd(f[5], &d),
        sent_at: text(f[6], &d),
        message_type: text(f[8], &d),
        control_id: text(f[9], &d).trim().to_string(),
        processing_id: text(d.component(f[10], 1), &d),
        version: text(d.component(f[11], 1), &d),
        charset: text(f[17], &d),
    }
}

/// The header alone, for addressing a refusal of a message that did not parse
/// as a whole. `None` when not even MSH can be read.
pub fn parse_header(bytes: &[u8]) -> Option<Header> {
    let first_line = bytes.split(|&b| b == b'\r' || b == b'\n').find(|l| !l.trim_ascii().is_empty())?;
    let line = String::from_utf8_lossy(first_line);
    let msg = Message::parse(&line).ok()?;
    Some(header_of(msg.msh()))
}

/// Parses and checks an ORU^R01.
pub fn parse_oru(bytes: &[u8]) -> Result<Oru, Hl7Error> {
    let s = std::str::from_utf8(bytes)
        .map_err(|_| Hl7Error::Encoding(parse_header(bytes).map(|h| h.charset).unwrap_or_default()))?;
    let msg = Message::parse(s)?;
    let d = msg.delims;
    let header = header_of(msg.msh());
    check_header(&header, msg.msh())?;

    let mut patient = None;
    let mut orders: Vec<Order> = Vec::new();
    let (mut obx_seq, mut spm_seq) = (0, 0);
    for seg in &msg.segments()[1..] {
        match seg.name() {
            "PID" if patient.is_none() => patient = Some(patient_of(seg, &d)),
            "OBR" => {
                let f = seg.fields::<4>();
                orders.push(Order {
                    placer_number: entity_id(f[1], &d),
                    filler_number: entity_id(f[2], &d),
                    service: coded(f[3], &d),
                    ..Order::default()
                });
            }
            "OBX" => {
                obx_seq += 1;
                let order = orders.last_mut().ok_or(Hl7Error::WithoutObr { segment: "OBX", seq: obx_seq })?;
                order.observations.push(observation_of(seg, &d, obx_seq)?);
            }
            "SPM" => {
                spm_seq += 1;
                let order = orders.last_mut().ok_or(Hl7Error::WithoutObr { segment: "SPM", seq: spm_seq })?;
                let eip = seg.field(2);
                let filler = entity_id(d.component(eip, 2), &d);
                order.specimen_id = if filler.is_empty() { entity_id(d.component(eip, 1), &d) } else { filler };
            }
            // PV1, ORC, NTE, TQ1, Z-segments …: nothing to take from them here.
            _ => {}
        }
    }
    if orders.is_empty() {
        return Err(Hl7Error::NoOrder);
    }
    Ok(Oru { header, patient, orders })
}

fn check_header(h: &Header, msh: &Segment<'_>) -> Result<(), Hl7Error> {
    let d = msh.delims();
    let ty = msh.field(9);
    let (code, event) = (d.component(ty, 1), d.component(ty, 2));
    if code != "ORU" || event != "R01" {
        return Err(Hl7Error::MessageType(h.message_type.clone()));
    }
    let v = &h.version;
    let known = v.strip_prefix("2.").is_some_and(|r| !r.is_empty() && r.split('.').all(|p| p.parse::<u8>().is_ok()));
    if !known {
        return Err(Hl7Error::Version(v.clone()));
    }
    if h.control_id.is_empty() {
        return Err(Hl7Error::ControlId);
    }
    Ok(())
}

fn patient_of(seg: &Segment<'_>, d: &Delimiters) -> Patient {
    let f = seg.fields::<5>();
    let ids = d
        .repetitions(f[2])
        .filter(|r| !r.is_empty())
        .map(|cx| PatientId {
            id: text(d.component(cx, 1), d),
            authority: text(d.subcomponent(d.component(cx, 4), 1), d),
            type_code: text(d.component(cx, 5), d),
        })
        .collect();
    let name = d.repetitions(f[4]).next().unwrap_or("");
    Patient { ids, family: text(d.subcomponent(d.component(name, 1), 1), d), given: text(d.component(name, 2), d) }
}

fn observation_of(seg: &Segment<'_>, d: &Delimiters, seq: usize) -> Result<Observation, Hl7Error> {
    let at = |field| Location::new("OBX", seq, field);
    let f = seg.fields::<18>();
    let set_id = match f[0].trim() {
        "" => None,
        s => Some(s.parse().map_err(|_| Hl7Error::Invalid { at: at(1), value: s.into() })?),
    };
    let value_type = match f[1].trim() {
        "" => None,
        s => Some(ValueType::parse(s).ok_or_else(|| Hl7Error::ValueType { at: at(2), value: s.into() })?),
    };
    let code = coded(f[2], d);
    if code.code.trim().is_empty() {
        return Err(Hl7Error::Missing(at(3)));
    }
    let value = match (f[4].is_empty(), value_type) {
        (true, _) => None,
        (false, None) => return Err(Hl7Error::Missing(at(2))),
        (false, Some(t)) => Some(value_of(f[4], t, d, at(5))?),
    };
    let units = match d.component(f[5], 1) {
        "" => text(d.component(f[5], 2), d),
        c => text(c, d),
    };
    let status = match f[10].trim() {
        "" => None,
        s => Some(ResultStatus::parse(s).ok_or_else(|| Hl7Error::Invalid { at: at(11), value: s.into() })?),
    };
    let observed_at = match f[13].trim() {
        "" => None,
        s => Some(Hl7Time::parse(s).ok_or_else(|| Hl7Error::Invalid { at: at(14), value: s.into() })?),
    };
    Ok(Observation {
        set_id,
        value_type,
        code,
        sub_id: text(f[3], d),
        value,
        units,
        reference_range: text(f[6], d),
        abnormal_flags: d.repetitions(f[7]).filter(|r| !r.is_empty()).map(|r| text(r, d)).collect(),
        status,
        observed_at,
        equipment: entity_id(d.repetitions(f[17]).next().unwrap_or(""), d),
    })
}

fn value_of(raw: &str, t: ValueType, d: &Delimiters, at: Location) -> Result<Value, Hl7Error> {
    Ok(match t {
        ValueType::Numeric => {
            let v = unescape(raw, d);
            let v = v.trim();
            if !is_decimal(v) {
                return Err(Hl7Error::NotNumeric { at, value: v.into() });
            }
            Value::Numeric(v.to_string())
        }
        ValueType::String | ValueType::Text | ValueType::FormattedText => {
            let parts: Vec<_> = d.repetitions(raw).map(|r| unescape(r, d)).collect();
            Value::Text(parts.join("\n"))
        }
        ValueType::Coded | ValueType::CodedWithExceptions => {
            Value::Coded(coded(d.repetitions(raw).next().unwrap_or(""), d))
        }
    })
}

/// HL7 NM: an optional sign, digits, at most one decimal point, no exponent.
fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}
