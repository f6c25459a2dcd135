//! Instants are stored as microseconds since the Unix epoch (UTC) in both
//! databases, and shown in China Standard Time (UTC+8, no daylight saving).

use time::{OffsetDateTime, UtcOffset, macros::format_description};

/// China Standard Time.
pub const CST: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(o) => o,
    Err(_) => panic!("static offset"),
};

pub fn now_micros() -> i64 {
    to_micros(OffsetDateTime::now_utc())
}

pub fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-11-23 10:05:09` in Beijing time.
pub fn show(us: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    from_micros(us).to_offset(CST).format(&fmt).unwrap_or_default()
}

/// Today's date in Beijing time.
pub fn today_cst() -> time::Date {
    OffsetDateTime::now_utc().to_offset(CST).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_beijing_time() {
        // 2026-11-23T02:00:00Z is 10:00 in Beijing
        let t = time::macros::datetime!(2026-11-23 02:00:00 UTC);
        assert_eq!(show(to_micros(t)), "2026-11-23 10:00:00");
        assert_eq!(from_micros(to_micros(t)), t);
    }
}
