//! ORU^R01 extraction and ACKs on messages shaped like the township centre's
//! analyzers send (biochemistry with OBR-3 barcodes, v2.5.1 with SPM).

use proptest::prelude::*;
use time::macros::datetime;

use super::*;
use crate::{DomainError, ErrorCode};

const BIOCHEM: &str = "MSH|^~\\&|BS-480|生化室^2.16.840.1.113883.3.1^ISO|DAYI|CIQIU|20261203094512||ORU^R01^ORU_R01|MSG00042|P|2.3.1||||||UNICODE UTF-8\r\
PID|1||0012345678^^^CIQIU^MR~370830198607151234^^^^NI||张三^^^^^^L|||M\r\
PV1|1|O\r\
OBR|1|PL-77|2612030001^BS-480|BIO^生化全项^L|||20261203090000\r\
OBX|1|NM|GLU^葡萄糖^L||5.62|mmol/L|3.9-6.1|N|||F|||20261203094500||||BS-480-01\r\
OBX|2|NM|ALT^谷丙转氨酶^L||  88 |U/L|9-50|H~A|||F|||20261203094501\r\
OBX|3|ST|HBSAG^乙肝表面抗原^L||阴性 \\T\\ 弱阳性 \\F\\ 复查|||N|||P\r\
OBX|4|CE|ABO^血型^L||A^A型^L\r\
NTE|1||仪器备注\r\
OBX|5|NM|K^钾^L|||mmol/L|3.5-5.3||||X\r";

#[test]
fn a_biochemistry_result_is_typed() {
    let oru = parse_oru(BIOCHEM.as_bytes()).unwrap();
    let h = &oru.header;
    assert_eq!(h.sending_application.namespace_id, "BS-480");
    assert_eq!(h.sending_facility.namespace_id, "生化室");
    assert_eq!(h.sending_facility.universal_id, "2.16.840.1.113883.3.1");
    assert_eq!(h.receiving_facility.namespace_id, "CIQIU");
    assert_eq!((h.control_id.as_str(), h.processing_id.as_str(), h.version.as_str()), ("MSG00042", "P", "2.3.1"));
    assert_eq!(h.message_type, "ORU^R01^ORU_R01");
    assert_eq!(h.charset, "UNICODE UTF-8");

    let p = oru.patient.as_ref().unwrap();
    assert_eq!(p.family, "张三");
    assert_eq!(p.ids.len(), 2);
    assert_eq!(
        (p.ids[0].id.as_str(), p.ids[0].authority.as_str(), p.ids[0].type_code.as_str()),
        ("0012345678", "CIQIU", "MR")
    );
    assert_eq!(p.ids[1].type_code, "NI");

    assert_eq!(oru.orders.len(), 1);
    let o = &oru.orders[0];
    assert_eq!((o.placer_number.as_str(), o.filler_number.as_str()), ("PL-77", "2612030001"));
    assert_eq!(o.barcode(), Some(("2612030001", BarcodeFrom::Filler)));
    assert_eq!(o.service.text, "生化全项");

    let x = &o.observations;
    assert_eq!(x.len(), 5);
    assert_eq!(x[0].set_id, Some(1));
    assert_eq!(x[0].value_type, Some(ValueType::Numeric));
    assert_eq!(x[0].code, Coded { code: "GLU".into(), text: "葡萄糖".into(), system: "L".into() });
    assert_eq!(x[0].value, Some(Value::Numeric("5.62".into())));
    assert_eq!(x[0].value.as_ref().unwrap().as_f64(), Some(5.62));
    assert_eq!((x[0].units.as_str(), x[0].reference_range.as_str()), ("mmol/L", "3.9-6.1"));
    assert_eq!(x[0].abnormal_flags, ["N"]);
    assert_eq!(x[0].status, Some(ResultStatus::Final));
    assert_eq!(x[0].observed_at.unwrap().local, datetime!(2026-12-03 09:45:00));
    assert_eq!(x[0].equipment, "BS-480-01");
    assert_eq!(x[1].value, Some(Value::Numeric("88".into())));
    assert_eq!(x[1].abnormal_flags, ["H", "A"]);
    assert_eq!(x[2].value, Some(Value::Text("阴性 & 弱阳性 | 复查".into())));
    assert_eq!(x[2].status, Some(ResultStatus::Preliminary));
    assert_eq!(x[3].value, Some(Value::Coded(Coded { code: "A".into(), text: "A型".into(), system: "L".into() })));
    assert_eq!((x[4].value.as_ref(), x[4].status), (None, Some(ResultStatus::CannotObtain)));
    assert_eq!(oru.observations().count(), 5);
}

#[test]
fn v251_specimen_id_wins_over_order_numbers() {
    let msg = "MSH|^~\\&|CL-2000i|LAB|||20261203||ORU^R01^ORU_R01|C1|P|2.5.1\n\
OBR|1|PL-1|FL-1|TSH\n\
OBX|1|NM|TSH^促甲状腺激素^L||2.10|uIU/mL\n\
SPM|1|&PLACER^SP-9&LIS||SER\n\
OBR|2|PL-2\n\
OBX|1|TX|NOTE||第一行~第二行\n";
    let oru = parse_oru(msg.as_bytes()).unwrap();
    assert_eq!(oru.orders[0].barcode(), Some(("SP-9", BarcodeFrom::Specimen)));
    let all: Vec<_> = oru.orders[0].barcodes().map(|(b, _)| b).collect();
    assert_eq!(all, ["SP-9", "FL-1", "PL-1"]);
    assert_eq!(oru.orders[1].barcode(), Some(("PL-2", BarcodeFrom::Placer)));
    assert_eq!(oru.orders[1].observations[0].value, Some(Value::Text("第一行\n第二行".into())));
    assert!(oru.patient.is_none());
    // the placer-assigned half of SPM-2 when the filler's is empty
    let msg = msg.replace("&PLACER^SP-9&LIS", "SP-P&LIS");
    assert_eq!(parse_oru(msg.as_bytes()).unwrap().orders[0].specimen_id, "SP-P");
}

/// BIOCHEM with one thing changed.
fn changed(from: &str, to: &str) -> Result<Oru, Hl7Error> {
    assert!(BIOCHEM.contains(from), "{from}");
    parse_oru(BIOCHEM.replacen(from, to, 1).as_bytes())
}

#[test]
fn malformed_messages_have_typed_errors() {
    let at = Location::new;
    assert_eq!(changed("ORU^R01^ORU_R01", "ADT^A01").unwrap_err(), Hl7Error::MessageType("ADT^A01".into()));
    assert_eq!(changed("|2.3.1|", "|3.0|").unwrap_err(), Hl7Error::Version("3.0".into()));
    assert_eq!(changed("|2.3.1|", "||").unwrap_err(), Hl7Error::Version("".into()));
    assert_eq!(changed("|MSG00042|", "| |").unwrap_err(), Hl7Error::ControlId);
    assert_eq!(
        changed("||5.62|", "||5,62|").unwrap_err(),
        Hl7Error::NotNumeric { at: at("OBX", 1, 5), value: "5,62".into() }
    );
    assert_eq!(
        changed("||5.62|", "||1e3|").unwrap_err(),
        Hl7Error::NotNumeric { at: at("OBX", 1, 5), value: "1e3".into() }
    );
    assert_eq!(
        changed("OBX|4|CE|", "OBX|4|SN|").unwrap_err(),
        Hl7Error::ValueType { at: at("OBX", 4, 2), value: "SN".into() }
    );
    assert_eq!(changed("OBX|4|CE|", "OBX|4||").unwrap_err(), Hl7Error::Missing(at("OBX", 4, 2)));
    assert_eq!(changed("|GLU^葡萄糖^L|", "||").unwrap_err(), Hl7Error::Missing(at("OBX", 1, 3)));
    assert_eq!(changed("||||X", "||||Q").unwrap_err(), Hl7Error::Invalid { at: at("OBX", 5, 11), value: "Q".into() });
    assert_eq!(
        changed("20261203094501", "2026-12-03").unwrap_err(),
        Hl7Error::Invalid { at: at("OBX", 2, 14), value: "2026-12-03".into() }
    );
    assert_eq!(
        changed("OBX|2|", "OBX|two|").unwrap_err(),
        Hl7Error::Invalid { at: at("OBX", 2, 1), value: "two".into() }
    );
    assert_eq!(
        changed("OBR|1|PL-77|2612030001^BS-480|BIO^生化全项^L|||20261203090000\r", "").unwrap_err(),
        Hl7Error::WithoutObr { segment: "OBX", seq: 1 }
    );
    assert_eq!(parse_oru(b"MSH|^~\\&|A||||||ORU^R01|1|P|2.5\rPID|1\r").unwrap_err(), Hl7Error::NoOrder);
    assert_eq!(
        parse_oru(b"MSH|^~\\&|A||||||ORU^R01|1|P|2.5\rSPM|1|X\r").unwrap_err(),
        Hl7Error::WithoutObr { segment: "SPM", seq: 1 }
    );
    assert_eq!(parse_oru(b"hello").unwrap_err(), Hl7Error::NoMsh);
    // GB18030 bytes for 张三 are not UTF-8: refused, quoting MSH-18.
    let mut gb = b"MSH|^~\\&|A||||||ORU^R01|1|P|2.5||||||GB18030\rPID|1||1||".to_vec();
    gb.extend([0xd5, 0xc5, 0xc8, 0xfd]);
    assert_eq!(parse_oru(&gb).unwrap_err(), Hl7Error::Encoding("GB18030".into()));
    assert_eq!(parse_header(&gb).unwrap().control_id, "1");
}

#[test]
fn every_error_has_a_translated_code() {
    let e: DomainError = changed("||5.62|", "||五点六|").unwrap_err().into();
    assert_eq!(e.code, ErrorCode::Hl7NotNumeric);
    assert_eq!(e.zh(), "OBX-5 #1 为数值型（NM）结果，但「五点六」不是数字");
    assert!(e.en().contains("OBX-5 #1"));
    let long: DomainError = Hl7Error::MessageType("X".repeat(500)).into();
    assert!(long.zh().chars().count() < 100);
}

#[test]
fn acks_answer_with_the_control_id_and_swap_the_parties() {
    let oru = parse_oru(BIOCHEM.as_bytes()).unwrap();
    let now = datetime!(2026-12-03 09:45:13 +8);
    let ack =
        Ack { to: Some(&oru.header), code: AckCode::Accept, text: "已接收 5 项结果", error: None }.render("DY1", now);
    let segs: Vec<&str> = ack.split_terminator('\r').collect();
    assert_eq!(
        segs,
        [
            "MSH|^~\\&|DAYI|CIQIU|BS-480|生化室^2.16.840.1.113883.3.1^ISO|20261203094513+0800||ACK^R01^ACK|DY1|P|2.3.1|||||CHN|UNICODE UTF-8",
            "MSA|AA|MSG00042|已接收 5 项结果",
        ]
    );
    // the ACK is itself a well-formed message
    let m = Message::parse(&ack).unwrap();
    assert_eq!(m.msh().field(10), "DY1");

    let err: DomainError = Hl7Error::NotNumeric { at: Location::new("OBX", 3, 5), value: "a|b".into() }.into();
    let code = AckCode::for_error(err.code);
    let ack = Ack { to: Some(&oru.header), code, text: "", error: Some((&err, Some(Location::new("OBX", 3, 5)))) }
        .render("DY2", now);
    let segs: Vec<&str> = ack.split_terminator('\r').collect();
    assert_eq!(segs[1], "MSA|AR|MSG00042|OBX-5 #3 为数值型（NM）结果，但「a\\F\\b」不是数字");
    assert_eq!(
        segs[2],
        "ERR||OBX^3^5|102^Data type error^HL70357|E|hl7.not_numeric^OBX-5 #3 is a numeric (NM) result but \"a\\F\\b\" is not a number^L|||OBX-5 #3 为数值型（NM）结果，但「a\\F\\b」不是数字"
    );
}

#[test]
fn a_refusal_with_field_errors_gives_their_reasons() {
    let oru = parse_oru(BIOCHEM.as_bytes()).unwrap();
    let err = DomainError::field("results.0", ErrorCode::LabItemUnknown, ["GLU", "2612030001"]);
    let code = AckCode::for_error(err.code);
    let ack = Ack { to: Some(&oru.header), code, text: "", error: Some((&err, None)) }
        .render("DY4", datetime!(2026-12-03 09:45:13 +8));
    let segs: Vec<&str> = ack.split_terminator('\r').collect();
    assert_eq!(segs[1], "MSA|AE|MSG00042|GLU 不在该标本的检验项目中（条码 2612030001）");
    assert_eq!(
        segs[2],
        "ERR|||204^Unknown key identifier^HL70357|E|lab.item_unknown^GLU is not one of the tests ordered on this specimen (barcode 2612030001)^L|||GLU 不在该标本的检验项目中（条码 2612030001）"
    );
    // several fields: every reason, in order
    let err = err.and_field("results.1", ErrorCode::LabValue, ["钾"]);
    let ack = Ack { to: Some(&oru.header), code, text: "", error: Some((&err, None)) }
        .render("DY5", datetime!(2026-12-03 09:45:13 +8));
    assert!(ack.contains("（条码 2612030001）；钾 的结果应为数字\r"), "{ack}");
}

#[test]
fn an_unaddressed_refusal_still_renders() {
    let err = DomainError::new(ErrorCode::Hl7NoMsh);
    let ack = Ack { to: None, code: AckCode::Reject, text: "", error: Some((&err, None)) }
        .render("DY3", datetime!(2026-12-03 00:00 UTC));
    assert!(ack.starts_with("MSH|^~\\&|||||20261203000000+0000||ACK^R01^ACK|DY3|P|2.5.1|"), "{ack}");
    assert!(ack.contains("MSA|AR||HL7 消息必须以 MSH 段开头\r"));
    assert!(ack.contains("ERR|||100^Segment sequence error^HL70357|E|hl7.no_msh^"));
}

#[test]
fn verdicts_by_error_kind() {
    assert_eq!(AckCode::for_error(ErrorCode::Hl7BarcodeUnknown), AckCode::Error);
    assert_eq!(AckCode::for_error(ErrorCode::Hl7BarcodeMissing), AckCode::Error);
    assert_eq!(AckCode::for_error(ErrorCode::Hl7MessageType), AckCode::Reject);
    assert_eq!(AckCode::for_error(ErrorCode::Unavailable), AckCode::Reject);
    assert_eq!(AckCode::for_error(ErrorCode::Conflict), AckCode::Error);
    assert_eq!(hl7_error_code(ErrorCode::Hl7BarcodeUnknown).0, 204);
}

proptest! {
    #[test]
    fn the_parser_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_oru(&bytes);
        let _ = parse_header(&bytes);
    }

    #[test]
    fn the_parser_never_panics_on_mangled_messages(cut in 0..BIOCHEM.len(), junk in "[|^~\\\\&\r\nA-Z0-9.中]{0,12}") {
        let mut s = BIOCHEM.as_bytes().to_vec();
        s.splice(cut..cut, junk.bytes());
        let _ = parse_oru(&s);
        let mut prefix = BIOCHEM.as_bytes()[..cut].to_vec();
        prefix.extend(junk.bytes());
        let _ = parse_oru(&prefix);
    }

    #[test]
    fn text_values_round_trip_through_a_message(v in "[^\r\n]{0,60}") {
        let d = Delimiters::default();
        let msg = BIOCHEM.replace("||阴性 \\T\\ 弱阳性 \\F\\ 复查|", &format!("||{}|", escape(&v, &d)));
        let oru = parse_oru(msg.as_bytes()).unwrap();
        let want = if v.is_empty() { None } else { Some(Value::Text(v.clone())) };
        prop_assert_eq!(&oru.orders[0].observations[2].value, &want);
    }
}
