//! The analyzers' ORU^R01 messages, rendered from the lab catalogue in
//! force before the clock starts.

use anyhow::Context;
use dayi_core::hl7::{Delimiters, escape};
use dayi_core::lab::{LabCatalog, LabItem};

use super::Tube;

/// One OBX line of a tube's message: the catalogue item and its value's basis.
pub(super) struct Line {
    code: String,
    name: String,
    unit: String,
    range: String,
    /// A mid-range value and its decimals.
    mid: f64,
    decimals: usize,
}

/// The OBX lines of a tube, from the catalogue in force.
pub(super) fn lines(cat: &LabCatalog, tube: &Tube) -> anyhow::Result<Vec<Line>> {
    let mut out = vec![];
    for code in tube.panels {
        let panel = cat.panel(code).with_context(|| format!("the lab catalogue has no panel {code}"))?;
        for item in &panel.item {
            out.push(line(item).with_context(|| format!("item {} of {code} is not numeric", item.code))?);
        }
    }
    Ok(out)
}

fn line(item: &LabItem) -> Option<Line> {
    let r = item.range.first()?;
    let dec = |s: &str| s.split_once('.').map_or(0, |(_, f)| f.len());
    let (low, high) = (r.low.parse::<f64>().ok(), r.high.parse::<f64>().ok());
    let mid = match (low, high) {
        (Some(l), Some(h)) => (l + h) / 2.0,
        (None, Some(h)) => h * 0.6,
        (Some(l), None) => l * 1.5,
        (None, None) => return None,
    };
    let range = match (low, high) {
        (Some(_), Some(_)) => format!("{}-{}", r.low, r.high),
        (None, Some(_)) => format!("<{}", r.high),
        _ => format!(">{}", r.low),
    };
    Some(Line {
        code: item.code.clone(),
        name: item.name.clone(),
        unit: item.unit.clone(),
        range,
        mid,
        decimals: dec(&r.low).max(dec(&r.high)).max(1),
    })
}

/// The ORU^R01 of tube `k`: MSH, PID, one OBR, its OBX, SPM. Values vary
/// around mid-range (±10 %) from tube to tube, so flags stay normal.
pub(super) fn message(
    tube: &Tube,
    lines: &[Line],
    hospital_no: &str,
    barcode: &str,
    kind: &str,
    control: &str,
    k: usize,
) -> String {
    let d = Delimiters::default();
    let at = "20261203101500";
    let mut m = format!(
        "MSH|^~\\&|{}|LAB|DAYI|WSXRMYY|{at}||ORU^R01^ORU_R01|{control}|P|2.5.1\r\
         PID|1||{hospital_no}^^^WSXRMYY^MR\r\
         OBR|1||{barcode}|{}^{}|||{at}\r",
        tube.analyzer,
        tube.panels[0],
        escape(tube.panels.join("+").as_str(), &d),
    );
    for (j, l) in lines.iter().enumerate() {
        let factor = 0.9 + 0.02 * ((k * 7 + j * 13) % 11) as f64;
        let value = format!("{:.*}", l.decimals, l.mid * factor);
        m.push_str(&format!(
            "OBX|{}|NM|{}^{}^L||{value}|{}|{}|N|||F|||{at}\r",
            j + 1,
            escape(&l.code, &d),
            escape(&l.name, &d),
            escape(&l.unit, &d),
            escape(&l.range, &d),
        ));
    }
    m.push_str(&format!("SPM|1|^{barcode}||{}\r", escape(kind, &d)));
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::lab::TUBES;

    #[test]
    fn messages_parse_with_every_result() {
        let toml = include_str!("../../../../../catalog/lab.toml");
        let cat: LabCatalog = toml::from_str(toml).unwrap();
        for (i, tube) in TUBES.iter().enumerate() {
            let lines = lines(&cat, tube).unwrap();
            let m = message(tube, &lines, "0000000001", "912345000001", "全血", "C1", i);
            let oru = dayi_core::hl7::parse_oru(m.as_bytes()).unwrap();
            assert_eq!(oru.orders.len(), 1);
            assert_eq!(oru.orders[0].barcode().unwrap().0, "912345000001");
            assert_eq!(oru.observations().count(), lines.len());
            let items: Vec<&LabItem> =
                tube.panels.iter().flat_map(|code| cat.panel(code).unwrap().item.iter()).collect();
            for ((o, l), item) in oru.observations().zip(&lines).zip(items) {
                assert_eq!((o.code.code.as_str(), o.units.as_str()), (item.code.as_str(), item.unit.as_str()));
                let value = match &o.value {
                    Some(dayi_core::hl7::Value::Numeric(s)) => s.clone(),
                    v => panic!("{v:?}"),
                };
                let j = item.judge(&value, &o.units, "1", 40).unwrap();
                assert!(!j.flag.is_critical(), "{} {value}", l.code);
            }
        }
        assert_eq!(lines(&cat, &TUBES[0]).unwrap().len(), 12);
        assert_eq!(lines(&cat, &TUBES[1]).unwrap().len(), 16);
    }
}
