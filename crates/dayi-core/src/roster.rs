//! The roster (排班): clinic types, half-day sessions and their slots (号源),
//! the weekly templates' dates. Booking takes slots from these sessions.

use time::{Date, Duration, PrimitiveDateTime, Time, Weekday};

use crate::security::named_enum;
use crate::timefmt::{CST, to_micros};

named_enum! {
    /// Clinic type (号别); the registration fee depends on it.
    ClinicType {
        General = ("general", "普通门诊", "General clinic"),
        Expert = ("expert", "专家门诊", "Expert clinic"),
        Special = ("special", "特需门诊", "Special-needs clinic"),
    }
}

named_enum! {
    HalfDay {
        Am = ("am", "上午", "Morning"),
        Pm = ("pm", "下午", "Afternoon"),
        Night = ("night", "夜间", "Evening"),
    }
}

named_enum! {
    SessionStatus {
        Open = ("open", "出诊", "Open"),
        Stopped = ("stopped", "停诊", "Stopped"),
    }
}

/// The instant of a local (Beijing) date and time, in microseconds.
pub fn instant(day: Date, at: Time) -> i64 {
    to_micros(PrimitiveDateTime::new(day, at).assume_offset(CST))
}

/// Start times of `count` slots of `minutes` each from `start`.
pub fn slot_starts(start: Time, minutes: i64, count: i64) -> Vec<Time> {
    (0..count).map(|i| start + Duration::minutes(i * minutes)).collect()
}

/// `HH:MM`.
pub fn parse_hm(s: &str) -> Option<Time> {
    let (h, m) = s.trim().split_once(':')?;
    if h.len() > 2 || m.len() != 2 {
        return None;
    }
    Time::from_hms(h.parse().ok()?, m.parse().ok()?, 0).ok()
}

pub fn show_hm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// The dates in `[from, from + weeks)` that fall on `weekday` (1 = Monday … 7 = Sunday).
pub fn dates_on(weekday: u8, from: Date, weeks: i64) -> Vec<Date> {
    let Some(wd) = weekday_of(weekday) else { return vec![] };
    let mut d = from;
    while d.weekday() != wd {
        d = d.next_day().unwrap_or(d);
    }
    let end = from + Duration::weeks(weeks);
    let mut out = vec![];
    while d < end {
        out.push(d);
        d += Duration::weeks(1);
    }
    out
}

pub fn weekday_of(n: u8) -> Option<Weekday> {
    Some(match n {
        1 => Weekday::Monday,
        2 => Weekday::Tuesday,
        3 => Weekday::Wednesday,
        4 => Weekday::Thursday,
        5 => Weekday::Friday,
        6 => Weekday::Saturday,
        7 => Weekday::Sunday,
        _ => return None,
    })
}

pub const WEEKDAY_ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, time};

    #[test]
    fn slots_and_times() {
        let s = slot_starts(time!(8:00), 15, 3);
        assert_eq!(s.iter().map(|t| show_hm(*t)).collect::<Vec<_>>(), ["08:00", "08:15", "08:30"]);
        assert_eq!(parse_hm("8:05"), Some(time!(8:05)));
        assert_eq!(parse_hm("25:00"), None);
        assert_eq!(parse_hm("08:5"), None);
    }

    #[test]
    fn weekly_dates() {
        // 2026-11-23 is a Monday
        let d = dates_on(3, date!(2026 - 11 - 23), 2);
        assert_eq!(d, [date!(2026 - 11 - 25), date!(2026 - 12 - 02)]);
        assert_eq!(dates_on(1, date!(2026 - 11 - 23), 1), [date!(2026 - 11 - 23)]);
        assert!(dates_on(8, date!(2026 - 11 - 23), 1).is_empty());
    }
}
