//! The order in which a clinic's waiting patients are called (叫号顺序),
//! from the department's queue rules (domain-rules-cn.md §7.2). Pure: the
//! caller passes who is waiting and the rules; the answer is the call order.
//!
//! Who comes first:
//! 1. priority groups (军人、老人、残障、急危重…), by rank (lower first);
//! 2. everyone else by the base order (check-in or registration number),
//!    appointments before walk-ins when the rule says so, with late
//!    arrivals and recalled patients (过号回来, back from tests) placed by
//!    their own rules: one after every N regular patients, at the end of
//!    the half-day, or (late only) without penalty.

use crate::security::named_enum;

named_enum! {
    /// What the base order follows.
    OrderBy {
        CheckIn = ("check_in", "签到号序", "Check-in order"),
        Registration = ("registration", "挂号号序", "Registration number"),
    }
}

named_enum! {
    /// Where a patient who arrives after their slot goes.
    LateMode {
        Interval = ("interval", "迟到间隔插入", "After every N on time"),
        HalfDayEnd = ("half_day_end", "上下午最后", "End of the half-day"),
        NoPenalty = ("no_penalty", "正常", "No penalty"),
    }
}

named_enum! {
    /// Where a passed or tested patient who comes back goes.
    RecallMode {
        Interval = ("interval", "间隔召回", "After every N regular"),
        HalfDayEnd = ("half_day_end", "上下午最后", "End of the half-day"),
    }
}

/// A department's queue rules (configuration, not code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rules {
    pub order_by: OrderBy,
    pub appointments_first: bool,
    pub late: LateMode,
    /// N for `LateMode::Interval` (at least 1).
    pub late_every: u32,
    pub recall: RecallMode,
    /// N for `RecallMode::Interval` (at least 1).
    pub recall_every: u32,
}

/// One waiting patient, as the ordering sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting<K> {
    pub key: K,
    /// Queue number (号序) from the registration.
    pub seq: i64,
    /// When they checked in (µs).
    pub checked_in_at: i64,
    /// Booked ahead rather than registered on the day.
    pub appointment: bool,
    /// Arrived after their slot began.
    pub late: bool,
    /// Came back after being passed (过号) or sent for tests (检查后回诊).
    pub recalled: bool,
    /// Priority group rank, lower first; `None` for everyone else.
    pub priority: Option<u8>,
    /// Calls made in this queue since a late or recalled patient became due:
    /// "after every N" counts from their arrival, so nobody waits forever
    /// behind a stream of newcomers.
    pub waited: u32,
}

/// The call order of `waiting` under `rules`: the first is called next.
pub fn order<K: Clone>(waiting: &[Waiting<K>], rules: &Rules) -> Vec<K> {
    let base = |w: &Waiting<K>| base_key(w, rules);
    let mut first: Vec<&Waiting<K>> = waiting.iter().filter(|w| w.priority.is_some()).collect();
    first.sort_by_key(|w| (w.priority, base(w)));
    let rest = || waiting.iter().filter(|w| w.priority.is_none());
    // Late patients keep their place when lateness carries no penalty.
    let is_late = |w: &Waiting<K>| w.late && rules.late != LateMode::NoPenalty;
    let regular = sorted(rules, rest().filter(|w| !w.recalled && !is_late(w)).collect());
    let late = sorted(rules, rest().filter(|w| !w.recalled && is_late(w)).collect());
    let recalled = sorted(rules, rest().filter(|w| w.recalled).collect());

    let late_every = (rules.late == LateMode::Interval).then_some(rules.late_every.max(1) as usize);
    let recall_every = (rules.recall == RecallMode::Interval).then_some(rules.recall_every.max(1) as usize);
    // How many regular patients go before each recalled or late one; beyond
    // the regular list (or at the half-day's end) means after everyone.
    let recalled_at = slots(&recalled, recall_every, regular.len());
    let late_at = slots(&late, late_every, regular.len());
    let mut out: Vec<K> = first.iter().map(|w| w.key.clone()).collect();
    let due = |out: &mut Vec<K>, n: usize| {
        out.extend(recalled.iter().zip(&recalled_at).filter(|(_, at)| **at == n).map(|(w, _)| w.key.clone()));
        out.extend(late.iter().zip(&late_at).filter(|(_, at)| **at == n).map(|(w, _)| w.key.clone()));
    };
    due(&mut out, 0);
    for (i, w) in regular.iter().enumerate() {
        out.push(w.key.clone());
        due(&mut out, i + 1);
    }
    // Whoever the intervals did not place waits at the end: recalled first,
    // as they were called once already.
    let end = regular.len() + 1;
    out.extend(recalled.iter().zip(&recalled_at).filter(|(_, at)| **at >= end).map(|(w, _)| w.key.clone()));
    out.extend(late.iter().zip(&late_at).filter(|(_, at)| **at >= end).map(|(w, _)| w.key.clone()));
    out
}

/// Places a group one after every N regular patients, counting each one's
/// wait since they became due; without an interval, after everyone.
fn slots<K>(group: &[&Waiting<K>], every: Option<usize>, regular: usize) -> Vec<usize> {
    let Some(every) = every else { return vec![regular + 1; group.len()] };
    let mut prev: Option<usize> = None;
    group
        .iter()
        .map(|w| {
            let due = every.saturating_sub(w.waited as usize);
            let at = prev.map_or(due, |p| due.max(p + every));
            prev = Some(at);
            at
        })
        .collect()
}

fn base_key<K>(w: &Waiting<K>, rules: &Rules) -> (i64, i64) {
    match rules.order_by {
        OrderBy::CheckIn => (w.checked_in_at, w.seq),
        OrderBy::Registration => (w.seq, w.checked_in_at),
    }
}

/// A group in base order, appointments first when the rules say so.
fn sorted<'a, K>(rules: &Rules, mut v: Vec<&'a Waiting<K>>) -> Vec<&'a Waiting<K>> {
    v.sort_by_key(|w| (rules.appointments_first && !w.appointment, base_key(w, rules)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        order_by: OrderBy::CheckIn,
        appointments_first: false,
        late: LateMode::NoPenalty,
        late_every: 2,
        recall: RecallMode::HalfDayEnd,
        recall_every: 2,
    };

    /// A patient: seq, check-in minute, then flags.
    fn w(seq: i64, at: i64) -> Waiting<i64> {
        Waiting {
            key: seq,
            seq,
            checked_in_at: at,
            appointment: false,
            late: false,
            recalled: false,
            priority: None,
            waited: 0,
        }
    }

    fn appt(mut x: Waiting<i64>) -> Waiting<i64> {
        x.appointment = true;
        x
    }
    fn late(mut x: Waiting<i64>) -> Waiting<i64> {
        x.late = true;
        x
    }
    fn back(mut x: Waiting<i64>) -> Waiting<i64> {
        x.recalled = true;
        x
    }
    fn waited(mut x: Waiting<i64>, n: u32) -> Waiting<i64> {
        x.waited = n;
        x
    }
    fn rank(mut x: Waiting<i64>, r: u8) -> Waiting<i64> {
        x.priority = Some(r);
        x
    }

    #[test]
    fn base_order_follows_check_in_or_registration() {
        let q = [w(3, 1), w(1, 3), w(2, 2)];
        assert_eq!(order(&q, &RULES), [3, 2, 1]);
        let by_reg = Rules { order_by: OrderBy::Registration, ..RULES };
        assert_eq!(order(&q, &by_reg), [1, 2, 3]);
        // Ties in the first key fall back to the other.
        let tie = [w(2, 5), w(1, 5)];
        assert_eq!(order(&tie, &RULES), [1, 2]);
    }

    #[test]
    fn appointments_first_or_not() {
        let q = [w(1, 1), appt(w(2, 2)), w(3, 3), appt(w(4, 4))];
        assert_eq!(order(&q, &RULES), [1, 2, 3, 4]);
        let first = Rules { appointments_first: true, ..RULES };
        assert_eq!(order(&q, &first), [2, 4, 1, 3]);
    }

    #[test]
    fn late_arrivals_by_each_mode() {
        let q = [late(w(1, 1)), w(2, 2), w(3, 3), late(w(4, 4)), w(5, 5), w(6, 6), w(7, 7)];
        assert_eq!(order(&q, &RULES), [1, 2, 3, 4, 5, 6, 7], "no penalty");
        let end = Rules { late: LateMode::HalfDayEnd, ..RULES };
        assert_eq!(order(&q, &end), [2, 3, 5, 6, 7, 1, 4]);
        let every2 = Rules { late: LateMode::Interval, late_every: 2, ..RULES };
        assert_eq!(order(&q, &every2), [2, 3, 1, 5, 6, 4, 7]);
        let every1 = Rules { late: LateMode::Interval, late_every: 1, ..RULES };
        assert_eq!(order(&q, &every1), [2, 1, 3, 4, 5, 6, 7]);
        // Fewer on time than N: the late wait at the end.
        let every9 = Rules { late: LateMode::Interval, late_every: 9, ..RULES };
        assert_eq!(order(&q, &every9), [2, 3, 5, 6, 7, 1, 4]);
        // N = 0 is read as 1, never a division by zero.
        let zero = Rules { late: LateMode::Interval, late_every: 0, ..RULES };
        assert_eq!(order(&q, &zero), order(&q, &every1));
    }

    #[test]
    fn recalled_patients_by_each_mode() {
        let q = [back(w(1, 1)), w(2, 2), w(3, 3), w(4, 4), back(w(5, 5)), w(6, 6)];
        assert_eq!(order(&q, &RULES), [2, 3, 4, 6, 1, 5], "end of the half-day");
        let every2 = Rules { recall: RecallMode::Interval, recall_every: 2, ..RULES };
        assert_eq!(order(&q, &every2), [2, 3, 1, 4, 6, 5]);
        let every3 = Rules { recall: RecallMode::Interval, recall_every: 3, ..RULES };
        assert_eq!(order(&q, &every3), [2, 3, 4, 1, 6, 5]);
    }

    #[test]
    fn recalled_before_late_when_both_fall_due() {
        let q = [late(w(1, 1)), back(w(2, 2)), w(3, 3), w(4, 4)];
        let both =
            Rules { late: LateMode::Interval, late_every: 1, recall: RecallMode::Interval, recall_every: 1, ..RULES };
        assert_eq!(order(&q, &both), [3, 2, 1, 4]);
        // A late patient who was passed and came back follows the recall rule.
        let q = [back(late(w(1, 1))), w(2, 2)];
        let end = Rules { late: LateMode::Interval, late_every: 1, ..RULES };
        assert_eq!(order(&q, &end), [2, 1]);
    }

    #[test]
    fn priority_groups_go_first_by_rank() {
        let q = [w(1, 1), rank(w(2, 2), 2), w(3, 3), rank(w(4, 4), 1), rank(w(5, 5), 2)];
        assert_eq!(order(&q, &RULES), [4, 2, 5, 1, 3]);
        // Priority outranks appointments, lateness and recall.
        let q = [appt(w(1, 1)), rank(late(w(2, 2)), 3), rank(back(w(3, 3)), 3)];
        let strict = Rules { appointments_first: true, late: LateMode::HalfDayEnd, ..RULES };
        assert_eq!(order(&q, &strict), [2, 3, 1]);
    }

    #[test]
    fn everyone_is_called_exactly_once_under_every_rule() {
        // Every combination of the options over a mixed waiting room.
        let q: Vec<Waiting<i64>> = (1..=40)
            .map(|i| {
                let mut x = w(i, (i * 7919) % 41);
                x.appointment = i % 3 == 0;
                x.late = i % 4 == 0;
                x.recalled = i % 5 == 0;
                x.priority = (i % 11 == 0).then_some((i % 3) as u8);
                x.waited = (i % 7) as u32;
                x
            })
            .collect();
        for &order_by in OrderBy::ALL {
            for appointments_first in [false, true] {
                for &late in LateMode::ALL {
                    for &recall in RecallMode::ALL {
                        for every in 0..5 {
                            let r = Rules {
                                order_by,
                                appointments_first,
                                late,
                                late_every: every,
                                recall,
                                recall_every: every,
                            };
                            let mut got = order(&q, &r);
                            assert_eq!(got.len(), q.len(), "{r:?}");
                            got.sort();
                            assert_eq!(got, (1..=40).collect::<Vec<_>>(), "{r:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn the_interval_counts_from_the_return() {
        let every2 = Rules { recall: RecallMode::Interval, recall_every: 2, ..RULES };
        let q = |n| [back(waited(w(1, 1), n)), w(2, 2), w(3, 3), w(4, 4)];
        assert_eq!(order(&q(0), &every2), [2, 3, 1, 4]);
        assert_eq!(order(&q(1), &every2), [2, 1, 3, 4]);
        assert_eq!(order(&q(2), &every2), [1, 2, 3, 4], "waited N calls: next");
        assert_eq!(order(&q(9), &every2), [1, 2, 3, 4]);
        // Two recalled patients stay N apart after the first is due.
        let two = [back(waited(w(1, 1), 5)), back(waited(w(2, 2), 5)), w(3, 3), w(4, 4), w(5, 5)];
        assert_eq!(order(&two, &every2), [1, 3, 4, 2, 5]);
        // Late arrivals too.
        let late2 = Rules { late: LateMode::Interval, late_every: 2, ..RULES };
        let q = [late(waited(w(1, 1), 1)), w(2, 2), w(3, 3)];
        assert_eq!(order(&q, &late2), [2, 1, 3]);
    }

    #[test]
    fn nobody_waits_forever_behind_newcomers() {
        // Each call takes the head; a newcomer checks in after every call.
        for every in 1..5u32 {
            let r = Rules {
                late: LateMode::Interval,
                late_every: every,
                recall: RecallMode::Interval,
                recall_every: every,
                ..RULES
            };
            let mut q: Vec<Waiting<i64>> = (2..8).map(|i| w(i, i)).collect();
            q.push(back(w(1, 1)));
            q.push(late(w(100, 100)));
            let (mut called_back, mut called_late) = (None, None);
            for call in 0..40 {
                let head = order(&q, &r)[0];
                q.retain(|x| x.key != head);
                for x in q.iter_mut().filter(|x| x.recalled || x.late) {
                    x.waited += 1;
                }
                q.push(w(200 + call, 200 + call));
                if head == 1 {
                    called_back = Some(call);
                }
                if head == 100 {
                    called_late = Some(call);
                }
            }
            assert!(called_back.is_some_and(|c| c <= every as i64), "recalled, every {every}: {called_back:?}");
            assert!(called_late.is_some_and(|c| c <= every as i64 + 1), "late, every {every}: {called_late:?}");
        }
    }

    #[test]
    fn an_empty_room_has_no_one_to_call() {
        assert!(order::<i64>(&[], &RULES).is_empty());
    }
}
