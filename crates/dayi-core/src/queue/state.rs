//! One patient's place in the queue and the doctor's actions on it, as a
//! state machine: every action either moves the entry or is refused with a
//! code that says why, leaving it as it was.

use crate::ErrorCode;
use crate::security::named_enum;

named_enum! {
    /// Where a checked-in patient stands.
    Status {
        Waiting = ("waiting", "候诊", "Waiting"),
        Called = ("called", "就诊中", "With the doctor"),
        Passed = ("passed", "过号", "Passed"),
        Testing = ("testing", "检查中", "Away at tests"),
        Diverted = ("diverted", "已分流", "Sent to another clinic"),
        Done = ("done", "已完成", "Finished"),
    }
}

impl Status {
    /// Out of the room but expected back: re-checking in returns them by the recall rule.
    pub fn is_away(self) -> bool {
        matches!(self, Status::Passed | Status::Testing | Status::Diverted)
    }
}

named_enum! {
    /// What a doctor, nurse or screen-side check-in does to an entry.
    Action {
        Call = ("call", "叫号", "Call"),
        CallAgain = ("call_again", "复呼", "Call again"),
        Pass = ("pass", "过号", "No-show"),
        Test = ("test", "置为检查", "Sent for tests"),
        Finish = ("finish", "完成就诊", "Finish"),
        Transfer = ("transfer", "转诊", "Transfer"),
        Divert = ("divert", "分流", "Divert"),
        Return = ("return", "回诊报到", "Back in the queue"),
    }
}

named_enum! {
    /// Groups served first (优先就诊), ranked by configuration.
    PriorityGroup {
        Critical = ("critical", "急危重症", "Critically ill"),
        Military = ("military", "军人", "Military"),
        Elderly = ("elderly", "老年人", "Elderly"),
        Disabled = ("disabled", "残疾人", "Disabled"),
        MartyrFamily = ("martyr_family", "烈士家属", "Martyr's family"),
    }
}

/// An entry as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub status: Status,
    /// Came back after being away; the recall rule places them.
    pub recalled: bool,
    /// Times announced in the current call (复呼 counts up).
    pub calls: u32,
}

impl Entry {
    pub fn waiting() -> Self {
        Entry { status: Status::Waiting, recalled: false, calls: 0 }
    }
}

/// The entry after `action`, or the code refusing it.
pub fn step(e: Entry, action: Action) -> Result<Entry, ErrorCode> {
    use Status::*;
    if e.status == Done {
        return Err(ErrorCode::QueueFinished);
    }
    let to = |status| Ok(Entry { status, ..e });
    match (action, e.status) {
        (Action::Call, Waiting) => Ok(Entry { status: Called, calls: 1, ..e }),
        (Action::Call, Called) => Err(ErrorCode::QueueTaken),
        (Action::Call, _) => Err(ErrorCode::QueueNotWaiting),
        (Action::CallAgain, Called) => Ok(Entry { calls: e.calls + 1, ..e }),
        (Action::Pass, Called) => to(Passed),
        (Action::Test, Called) => to(Testing),
        (Action::Finish, Called) => to(Done),
        (Action::CallAgain | Action::Pass | Action::Test | Action::Finish, _) => Err(ErrorCode::QueueNotCalled),
        // A transfer keeps the check-in time and any recall standing.
        (Action::Transfer, _) => Ok(Entry { status: Waiting, calls: 0, ..e }),
        (Action::Divert, _) => Ok(Entry { status: Diverted, calls: 0, ..e }),
        (Action::Return, s) if s.is_away() => Ok(Entry { status: Waiting, recalled: true, calls: 0 }),
        (Action::Return, _) => Err(ErrorCode::QueueNotAway),
    }
}

/// Whether a patient checked in after their slot (plus grace) began. Walk-ins
/// registered on the day are never late.
pub fn is_late(appointment: bool, slot_start: i64, checked_in_at: i64, grace_minutes: i64) -> bool {
    appointment && checked_in_at > slot_start + grace_minutes * 60_000_000
}

/// Which of a doctor's queues to call from next (交叉叫号). `heads[i]` is the
/// first patient of queue i: `None` when it is empty, else that patient's
/// priority rank. A priority patient at any head goes first (lowest rank);
/// otherwise the queues take turns, starting after the one called last.
pub fn pick(heads: &[Option<Option<u8>>], last: Option<usize>) -> Option<usize> {
    let n = heads.len();
    let start = last.map_or(0, |l| l + 1);
    (0..n)
        .map(|k| (start + k) % n)
        .filter_map(|i| heads[i].map(|rank| (rank.map_or(u16::MAX, u16::from), i)))
        .min_by_key(|&(rank, _)| rank)
        .map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: Status) -> Entry {
        Entry { status, recalled: false, calls: if status == Status::Called { 1 } else { 0 } }
    }

    #[test]
    fn the_whole_table() {
        use Action as A;
        use ErrorCode as E;
        use Status::*;
        // (action, from) → to, or the refusal; every pair is listed.
        let table: &[(Action, Status, Result<Status, ErrorCode>)] = &[
            (A::Call, Waiting, Ok(Called)),
            (A::Call, Called, Err(E::QueueTaken)),
            (A::Call, Passed, Err(E::QueueNotWaiting)),
            (A::Call, Testing, Err(E::QueueNotWaiting)),
            (A::Call, Diverted, Err(E::QueueNotWaiting)),
            (A::CallAgain, Waiting, Err(E::QueueNotCalled)),
            (A::CallAgain, Called, Ok(Called)),
            (A::CallAgain, Passed, Err(E::QueueNotCalled)),
            (A::CallAgain, Testing, Err(E::QueueNotCalled)),
            (A::CallAgain, Diverted, Err(E::QueueNotCalled)),
            (A::Pass, Waiting, Err(E::QueueNotCalled)),
            (A::Pass, Called, Ok(Passed)),
            (A::Pass, Passed, Err(E::QueueNotCalled)),
            (A::Pass, Testing, Err(E::QueueNotCalled)),
            (A::Pass, Diverted, Err(E::QueueNotCalled)),
            (A::Test, Waiting, Err(E::QueueNotCalled)),
            (A::Test, Called, Ok(Testing)),
            (A::Test, Passed, Err(E::QueueNotCalled)),
            (A::Test, Testing, Err(E::QueueNotCalled)),
            (A::Test, Diverted, Err(E::QueueNotCalled)),
            (A::Finish, Waiting, Err(E::QueueNotCalled)),
            (A::Finish, Called, Ok(Done)),
            (A::Finish, Passed, Err(E::QueueNotCalled)),
            (A::Finish, Testing, Err(E::QueueNotCalled)),
            (A::Finish, Diverted, Err(E::QueueNotCalled)),
            (A::Transfer, Waiting, Ok(Waiting)),
            (A::Transfer, Called, Ok(Waiting)),
            (A::Transfer, Passed, Ok(Waiting)),
            (A::Transfer, Testing, Ok(Waiting)),
            (A::Transfer, Diverted, Ok(Waiting)),
            (A::Divert, Waiting, Ok(Diverted)),
            (A::Divert, Called, Ok(Diverted)),
            (A::Divert, Passed, Ok(Diverted)),
            (A::Divert, Testing, Ok(Diverted)),
            (A::Divert, Diverted, Ok(Diverted)),
            (A::Return, Waiting, Err(E::QueueNotAway)),
            (A::Return, Called, Err(E::QueueNotAway)),
            (A::Return, Passed, Ok(Waiting)),
            (A::Return, Testing, Ok(Waiting)),
            (A::Return, Diverted, Ok(Waiting)),
        ];
        for &a in Action::ALL {
            for &s in Status::ALL {
                let got = step(at(s), a).map(|e| e.status);
                if s == Done {
                    assert_eq!(got, Err(E::QueueFinished), "{a:?} on a finished visit");
                    continue;
                }
                let want = table.iter().find(|(ta, ts, _)| *ta == a && *ts == s).map(|r| r.2);
                assert_eq!(Some(got), want, "{a:?} from {s:?}");
            }
        }
    }

    #[test]
    fn a_refusal_changes_nothing_the_caller_keeps() {
        // `step` takes the entry by value and returns a new one only on success.
        let e = at(Status::Waiting);
        assert!(step(e, Action::Finish).is_err());
        assert_eq!(e, at(Status::Waiting));
    }

    #[test]
    fn calls_count_and_return_marks_recalled() {
        let e = step(Entry::waiting(), Action::Call).unwrap();
        let e = step(e, Action::CallAgain).unwrap();
        let e = step(e, Action::CallAgain).unwrap();
        assert_eq!(e.calls, 3);
        let e = step(e, Action::Test).unwrap();
        let back = step(e, Action::Return).unwrap();
        assert_eq!(back, Entry { status: Status::Waiting, recalled: true, calls: 0 });
        // A transfer keeps the recall standing; the new room's rule places them.
        let moved = step(step(back, Action::Call).unwrap(), Action::Transfer).unwrap();
        assert!(moved.recalled && moved.status == Status::Waiting && moved.calls == 0);
    }

    #[test]
    fn lateness_counts_only_booked_patients_after_grace() {
        let slot = 1_000_000_000;
        let min = 60_000_000;
        assert!(!is_late(true, slot, slot + 5 * min, 5));
        assert!(is_late(true, slot, slot + 5 * min + 1, 5));
        assert!(is_late(true, slot, slot + 1, 0));
        assert!(!is_late(false, slot, slot + 60 * min, 0), "walk-ins are never late");
    }

    #[test]
    fn cross_calling_takes_turns_and_lets_priority_through() {
        let plain = Some(None);
        // Turns: after queue 0 comes 1, then 2, then 0 again.
        assert_eq!(pick(&[plain, plain, plain], None), Some(0));
        assert_eq!(pick(&[plain, plain, plain], Some(0)), Some(1));
        assert_eq!(pick(&[plain, plain, plain], Some(2)), Some(0));
        // Empty queues are skipped; all empty means no one to call.
        assert_eq!(pick(&[plain, None, plain], Some(0)), Some(2));
        assert_eq!(pick(&[None, None], Some(1)), None);
        assert_eq!(pick(&[], None), None);
        // A priority head wins over the turn; the lower rank over the higher.
        assert_eq!(pick(&[plain, Some(Some(2)), plain], Some(1)), Some(1));
        assert_eq!(pick(&[Some(Some(3)), Some(Some(1)), plain], Some(1)), Some(1));
        // Equal ranks take turns too.
        assert_eq!(pick(&[Some(Some(1)), Some(Some(1))], Some(0)), Some(1));
        // A stale `last` beyond the list wraps rather than panics.
        assert_eq!(pick(&[plain, plain], Some(7)), Some(0));
    }
}
