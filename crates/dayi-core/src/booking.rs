//! Appointments and registration (挂号): the booking rules, registration
//! numbers; the sessions booked into are the roster's (`roster`). The rules'
//! numbers come from the policy catalogue; here they are only applied.

use time::{Date, Duration, Time};

use crate::roster::{SessionStatus, instant};
use crate::security::named_enum;
use crate::{DomainError, ErrorCode};

named_enum! {
    BookingStatus {
        Booked = ("booked", "已预约", "Booked"),
        CheckedIn = ("checked_in", "已签到", "Checked in"),
        Cancelled = ("cancelled", "已取消", "Cancelled"),
        NoShow = ("no_show", "爽约", "No-show"),
        Stopped = ("stopped", "停诊退号", "Clinic stopped"),
    }
}

impl BookingStatus {
    /// Holds its slot.
    pub fn is_active(self) -> bool {
        matches!(self, BookingStatus::Booked | BookingStatus::CheckedIn)
    }
}

named_enum! {
    /// Where a booking was made.
    BookingChannel {
        Counter = ("counter", "窗口预约", "Counter"),
        Portal = ("portal", "网上预约", "Patient portal"),
        Phone = ("phone", "电话预约", "Phone"),
        WalkIn = ("walk_in", "现场挂号", "Walk-in"),
        Added = ("added", "医生加号", "Added by the doctor"),
    }
}

named_enum! {
    /// Why a booking is held by someone other than the patient.
    OnBehalf {
        Self_ = ("self", "本人", "Self"),
        Family = ("family", "家属代约", "Family member"),
        Staff = ("staff", "工作人员帮办", "Staff assistance"),
    }
}

/// The booking rules in force (policy catalogue keys `booking.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Slots open this many days before the session…
    pub release_days_ahead: i64,
    /// …at this minute of the day (480 = 08:00).
    pub release_minute: i64,
    /// Active bookings per patient per day, all departments.
    pub max_per_day: i64,
    /// Active bookings per patient per day in one department.
    pub max_per_dept_day: i64,
    /// Real-name booking: one slot per patient per session.
    pub one_per_session: bool,
    /// Cancelling closes this many minutes before the slot.
    pub cancel_deadline_minutes: i64,
    /// This many no-shows within the window block booking…
    pub no_show_limit: i64,
    pub no_show_window_days: i64,
    /// …for this many days.
    pub block_days: i64,
}

/// A patient's bookings as they ask for one more.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    pub day_total: i64,
    pub dept_day_total: i64,
    pub in_session: i64,
    /// Booking is blocked through this date (`YYYY-MM-DD`).
    pub blocked_until: Option<String>,
}

/// When a session's slots open for booking.
pub fn release_at(day: Date, rules: &Rules) -> i64 {
    let minute = rules.release_minute.clamp(0, 24 * 60 - 1);
    let at = Time::from_hms((minute / 60) as u8, (minute % 60) as u8, 0).unwrap_or(Time::MIDNIGHT);
    instant(day - Duration::days(rules.release_days_ahead), at)
}

/// Registration number (挂号流水号): department code (3 characters, numeric
/// codes zero-padded), the date, and the department's daily sequence in 5
/// digits, e.g. `0032026112300012` (domain-rules-cn §7.2).
pub fn registration_no(dept_code: &str, day: Date, seq: i64) -> String {
    format!(
        "{:0>3}{:04}{:02}{:02}{:05}",
        dept_code.to_ascii_uppercase(),
        day.year(),
        u8::from(day.month()),
        day.day(),
        seq
    )
}

/// Checks that a slot starting at `slot_start` in a session can be booked
/// now: released, not stopped, not past. Walk-ins skip the release check
/// and may take a slot until the session ends.
pub fn check_bookable(
    status: SessionStatus,
    release_at: i64,
    slot_start: i64,
    session_end: i64,
    now: i64,
    walk_in: bool,
) -> Result<(), DomainError> {
    if status == SessionStatus::Stopped {
        return Err(DomainError::new(ErrorCode::BookingStopped));
    }
    if walk_in {
        if now >= session_end {
            return Err(DomainError::new(ErrorCode::BookingPast));
        }
        return Ok(());
    }
    if slot_start <= now {
        return Err(DomainError::new(ErrorCode::BookingPast));
    }
    if now < release_at {
        return Err(DomainError::with(
            ErrorCode::BookingNotReleased,
            [crate::timefmt::show(release_at)[..16].to_string()],
        ));
    }
    Ok(())
}

/// Applies the per-patient rules. `advance` is a booking ahead of the day
/// (not a walk-in): only those are refused for a no-show block.
pub fn check_patient(rules: &Rules, s: &Standing, today: Date, advance: bool) -> Result<(), DomainError> {
    if advance
        && let Some(until) = &s.blocked_until
        && until.as_str() >= today.to_string().as_str()
    {
        return Err(DomainError::with(ErrorCode::BookingBlocked, [until.clone(), rules.no_show_limit.to_string()]));
    }
    if rules.one_per_session && s.in_session > 0 {
        return Err(DomainError::new(ErrorCode::BookingSessionTaken));
    }
    if s.dept_day_total >= rules.max_per_dept_day {
        return Err(DomainError::with(ErrorCode::BookingDeptLimit, [rules.max_per_dept_day.to_string()]));
    }
    if s.day_total >= rules.max_per_day {
        return Err(DomainError::with(ErrorCode::BookingDayLimit, [rules.max_per_day.to_string()]));
    }
    Ok(())
}

/// Patients may cancel until the deadline before their slot.
pub fn check_cancel(rules: &Rules, slot_start: i64, now: i64) -> Result<(), DomainError> {
    let deadline = slot_start - rules.cancel_deadline_minutes * 60_000_000;
    if now > deadline {
        return Err(DomainError::with(ErrorCode::BookingCancelTooLate, [rules.cancel_deadline_minutes.to_string()]));
    }
    Ok(())
}

/// Whether `no_shows` within the window block booking; the last blocked date if so.
pub fn block_after(rules: &Rules, no_shows: i64, today: Date) -> Option<Date> {
    (rules.no_show_limit > 0 && no_shows >= rules.no_show_limit).then(|| today + Duration::days(rules.block_days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn rules() -> Rules {
        Rules {
            release_days_ahead: 7,
            release_minute: 480,
            max_per_day: 3,
            max_per_dept_day: 1,
            one_per_session: true,
            cancel_deadline_minutes: 60,
            no_show_limit: 3,
            no_show_window_days: 180,
            block_days: 90,
        }
    }

    #[test]
    fn release_is_days_ahead_at_the_minute_in_beijing() {
        let r = release_at(date!(2026 - 11 - 30), &rules());
        assert_eq!(crate::timefmt::show(r), "2026-11-23 08:00:00");
    }

    #[test]
    fn registration_numbers_follow_the_convention() {
        assert_eq!(registration_no("03", date!(2026 - 11 - 23), 12), "0032026112300012");
        assert_eq!(registration_no("nei", date!(2025 - 10 - 01), 1), "NEI2025100100001");
    }

    #[test]
    fn bookable_checks_each_reason() {
        let open = SessionStatus::Open;
        let (release, start, end) = (100, 1_000, 2_000);
        assert!(check_bookable(open, release, start, end, 500, false).is_ok());
        let code = |r: Result<(), DomainError>| r.unwrap_err().code;
        assert_eq!(code(check_bookable(open, release, start, end, 50, false)), ErrorCode::BookingNotReleased);
        assert_eq!(code(check_bookable(open, release, start, end, 1_000, false)), ErrorCode::BookingPast);
        assert_eq!(
            code(check_bookable(SessionStatus::Stopped, release, start, end, 500, false)),
            ErrorCode::BookingStopped
        );
        // walk-ins: before release and after the slot time are fine until the session ends
        assert!(check_bookable(open, release, start, end, 1_500, true).is_ok());
        assert_eq!(code(check_bookable(open, release, start, end, 2_000, true)), ErrorCode::BookingPast);
    }

    #[test]
    fn patient_rules_in_order() {
        let r = rules();
        let today = date!(2026 - 11 - 23);
        let ok = Standing::default();
        assert!(check_patient(&r, &ok, today, true).is_ok());
        let code = |s: Standing, adv| check_patient(&r, &s, today, adv).unwrap_err().code;
        let blocked = Standing { blocked_until: Some("2026-11-23".into()), ..ok.clone() };
        assert_eq!(code(blocked.clone(), true), ErrorCode::BookingBlocked);
        assert!(check_patient(&r, &blocked, today, false).is_ok(), "walk-ins are not blocked");
        let expired = Standing { blocked_until: Some("2026-11-22".into()), ..ok.clone() };
        assert!(check_patient(&r, &expired, today, true).is_ok());
        assert_eq!(code(Standing { in_session: 1, ..ok.clone() }, true), ErrorCode::BookingSessionTaken);
        assert_eq!(code(Standing { dept_day_total: 1, ..ok.clone() }, true), ErrorCode::BookingDeptLimit);
        assert_eq!(code(Standing { day_total: 3, ..ok.clone() }, true), ErrorCode::BookingDayLimit);
        let lenient = Rules { one_per_session: false, max_per_dept_day: 2, ..r };
        assert!(check_patient(&lenient, &Standing { in_session: 1, dept_day_total: 1, ..ok }, today, true).is_ok());
    }

    #[test]
    fn cancel_deadline_and_blocks() {
        let r = rules();
        let start = 10 * 3_600_000_000;
        assert!(check_cancel(&r, start, start - 61 * 60_000_000).is_ok());
        assert_eq!(check_cancel(&r, start, start - 59 * 60_000_000).unwrap_err().code, ErrorCode::BookingCancelTooLate);
        assert_eq!(block_after(&r, 2, date!(2026 - 11 - 23)), None);
        assert_eq!(block_after(&r, 3, date!(2026 - 11 - 23)), Some(date!(2027 - 02 - 21)));
    }
}
