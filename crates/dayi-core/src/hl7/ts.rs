//! HL7 timestamps (TS/DTM): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A timestamp as the analyzer wrote it. Most analyzers send local time
/// without a zone, so the offset is kept only when one was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hl7Time {
    pub local: PrimitiveDateTime,
    pub offset: Option<UtcOffset>,
}

impl Hl7Time {
    /// Parses a TS; `None` when it is not one. Missing parts default to the
    /// start of the period (`202612` is 1 December 2026, 00:00).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (body, offset) = match s.find(['+', '-']) {
            Some(i) => (&s[..i], Some(parse_offset(&s[i..])?)),
            None => (s, None),
        };
        let (digits, fraction) = match body.split_once('.') {
            Some((d, f)) => (d, Some(f)),
            None => (body, None),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) || ![4, 6, 8, 10, 12, 14].contains(&digits.len()) {
            return None;
        }
        let part = |i: usize, default: u32| -> u32 { digits.get(i..i + 2).map_or(default, |p| p.parse().unwrap_or(0)) };
        let year: i32 = digits[..4].parse().ok()?;
        let month = Month::try_from(u8::try_from(part(4, 1)).ok()?).ok()?;
        let date = Date::from_calendar_date(year, month, u8::try_from(part(6, 1)).ok()?).ok()?;
        let mut micro = 0;
        if let Some(f) = fraction {
            // Fractions belong to whole seconds only, and have 1–4 digits.
            if digits.len() != 14 || !(1..=4).contains(&f.len()) || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            micro = f.parse::<u32>().ok()? * 10u32.pow(6 - f.len() as u32);
        }
        let [h, m, sec] = [part(8, 0), part(10, 0), part(12, 0)].map(|v| u8::try_from(v).unwrap_or(u8::MAX));
        let time = Time::from_hms_micro(h, m, sec, micro).ok()?;
        Some(Self { local: PrimitiveDateTime::new(date, time), offset })
    }

    /// The instant, taking `default` (China Standard Time, usually) when the
    /// analyzer gave no offset.
    pub fn at(&self, default: UtcOffset) -> OffsetDateTime {
        self.local.assume_offset(self.offset.unwrap_or(default))
    }
}

fn parse_offset(s: &str) -> Option<UtcOffset> {
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let d = &s[1..];
    if d.len() != 4 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i8 = d[..2].parse().ok()?;
    let m: i8 = d[2..].parse().ok()?;
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn precisions_and_offsets() {
        let t = Hl7Time::parse("20261203094512").unwrap();
        assert_eq!((t.local, t.offset), (datetime!(2026-12-03 09:45:12), None));
        assert_eq!(t.at(offset!(+8)), datetime!(2026-12-03 09:45:12 +8));
        assert_eq!(Hl7Time::parse("202612").unwrap().local, datetime!(2026-12-01 00:00));
        assert_eq!(Hl7Time::parse("2026120309").unwrap().local, datetime!(2026-12-03 09:00));
        let t = Hl7Time::parse("20261203094512.25+0800").unwrap();
        assert_eq!(t.at(offset!(UTC)), datetime!(2026-12-03 09:45:12.25 +8));
        assert_eq!(Hl7Time::parse("202612030945-0130").unwrap().offset, Some(offset!(-1:30)));
    }

    #[test]
    fn nonsense_is_none() {
        for bad in [
            "",
            "20261",
            "20261332",
            "20260230",
            "20261203246000",
            "2026120309451",
            "abcd",
            "20261203.5",
            "202612030945+08",
            "20261203094512.12345",
            "2026-12-03",
        ] {
            assert!(Hl7Time::parse(bad).is_none(), "{bad}");
        }
        assert!(Hl7Time::parse("2026").is_some());
    }
}
