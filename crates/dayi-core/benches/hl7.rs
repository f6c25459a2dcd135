//! HL7 ingestion's pure part, per message: parsing a typical biochemistry
//! ORU^R01 with 20 results, rendering its ACK, and MLLP deframing. The
//! target is 2,000 messages/s over one connection on two cores.
//!
//! `cargo bench -p dayi-core --bench hl7`

use std::hint::black_box;

use dayi_core::hl7::mllp::{Decoder, frame};
use dayi_core::hl7::{Ack, AckCode, parse_oru};
use time::macros::datetime;

fn main() {
    divan::main();
}

const ANALYTES: [(&str, &str, &str, &str, &str); 20] = [
    ("GLU", "葡萄糖", "5.62", "mmol/L", "3.9-6.1"),
    ("ALT", "谷丙转氨酶", "88", "U/L", "9-50"),
    ("AST", "谷草转氨酶", "35", "U/L", "15-40"),
    ("TBIL", "总胆红素", "12.4", "umol/L", "0-21"),
    ("DBIL", "直接胆红素", "3.1", "umol/L", "0-6.8"),
    ("TP", "总蛋白", "71.2", "g/L", "65-85"),
    ("ALB", "白蛋白", "43.5", "g/L", "40-55"),
    ("GGT", "谷氨酰转肽酶", "41", "U/L", "10-60"),
    ("ALP", "碱性磷酸酶", "96", "U/L", "45-125"),
    ("UREA", "尿素", "5.8", "mmol/L", "3.1-8.0"),
    ("CREA", "肌酐", "78", "umol/L", "57-97"),
    ("UA", "尿酸", "412", "umol/L", "208-428"),
    ("TC", "总胆固醇", "5.21", "mmol/L", "0-5.2"),
    ("TG", "甘油三酯", "1.93", "mmol/L", "0-1.7"),
    ("HDL", "高密度脂蛋白胆固醇", "1.12", "mmol/L", "1.04-1.55"),
    ("LDL", "低密度脂蛋白胆固醇", "3.34", "mmol/L", "0-3.37"),
    ("K", "钾", "4.12", "mmol/L", "3.5-5.3"),
    ("NA", "钠", "140.3", "mmol/L", "137-147"),
    ("CL", "氯", "101.8", "mmol/L", "99-110"),
    ("CA", "钙", "2.31", "mmol/L", "2.11-2.52"),
];

/// An ORU^R01 as a biochemistry analyzer sends it: header, patient, one
/// order with the tube's barcode, 20 numeric results.
fn typical_oru() -> String {
    let mut m = String::from(
        "MSH|^~\\&|BS-480|生化室|DAYI|CIQIU|20261203094512||ORU^R01^ORU_R01|MSG00042|P|2.3.1||||||UNICODE UTF-8\r\
         PID|1||0012345678^^^CIQIU^MR||张三^^^^^^L||19860715|M\r\
         PV1|1|O\r\
         OBR|1||2612030001^BS-480|BIO^生化全项^L|||20261203090000\r",
    );
    for (i, (code, name, value, unit, range)) in ANALYTES.iter().enumerate() {
        m.push_str(&format!(
            "OBX|{}|NM|{code}^{name}^L||{value}|{unit}|{range}|N|||F|||202612030945{i:02}||||BS-480-01\r",
            i + 1
        ));
    }
    m
}

#[divan::bench]
fn parse_oru_20_results(b: divan::Bencher) {
    let msg = typical_oru();
    assert_eq!(parse_oru(msg.as_bytes()).unwrap().observations().count(), 20);
    b.counter(divan::counter::BytesCount::new(msg.len())).bench_local(|| parse_oru(black_box(msg.as_bytes())));
}

#[divan::bench]
fn render_ack(b: divan::Bencher) {
    let oru = parse_oru(typical_oru().as_bytes()).unwrap();
    let now = datetime!(2026-12-03 09:45:13 +8);
    b.bench_local(|| {
        Ack { to: Some(black_box(&oru.header)), code: AckCode::Accept, text: "已接收 20 项结果", error: None }
            .render("DY1-1", now)
    });
}

/// Deframing 100 messages that arrive in 64 KiB reads.
#[divan::bench]
fn mllp_decode_100(b: divan::Bencher) {
    let mut bytes = Vec::new();
    for _ in 0..100 {
        frame(typical_oru().as_bytes(), &mut bytes);
    }
    b.bench_local(|| {
        let mut d = Decoder::new(1 << 20);
        let mut n = 0;
        for chunk in bytes.chunks(64 * 1024) {
            d.push(black_box(chunk));
            while d.next_frame().is_some() {
                n += 1;
            }
        }
        n
    });
}
