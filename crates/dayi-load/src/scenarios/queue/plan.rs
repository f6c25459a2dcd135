//! How a queue run is laid out: which screens watch what, and which
//! sessions each patient registers in.

use super::Watch;

/// Each screen's watch: `room` door screens per session first (as many as
/// fit), then zone screens round-robin over the departments that have a
/// session.
pub(super) fn layout(sessions: usize, depts: usize, screens: usize, room: usize) -> Vec<Watch> {
    let depts = depts.min(sessions).max(1);
    let rooms = (sessions * room).min(screens);
    let mut out: Vec<Watch> = (0..rooms).map(|i| Watch::Room((i % sessions) as u16)).collect();
    out.extend((0..screens - rooms).map(|i| Watch::Zone((i % depts) as u16)));
    out
}

/// The sessions a watch shows; session `i` is in department `i % depts`.
pub(super) fn covers(w: Watch, sessions: usize, depts: usize) -> Vec<u16> {
    match w {
        Watch::Room(s) => vec![s],
        Watch::Zone(d) => (0..sessions).filter(|s| s % depts == usize::from(d)).map(|s| s as u16).collect(),
    }
}

/// Each patient's sessions: at most `k`, each in a different department,
/// until every session has `per_session` patients. The fullest sessions
/// are taken first, so they fill evenly.
pub(super) fn registrations(session_dept: &[u16], per_session: u32, k: usize) -> Vec<Vec<u16>> {
    let mut left = vec![per_session; session_dept.len()];
    let mut out = vec![];
    let mut order: Vec<usize> = (0..session_dept.len()).collect();
    while left.iter().any(|n| *n > 0) {
        order.sort_by_key(|s| (std::cmp::Reverse(left[*s]), *s));
        let mut mine: Vec<u16> = vec![];
        for &s in &order {
            if mine.len() == k || left[s] == 0 {
                break;
            }
            if mine.iter().all(|m| session_dept[usize::from(*m)] != session_dept[s]) {
                mine.push(s as u16);
            }
        }
        for s in &mine {
            left[usize::from(*s)] -= 1;
        }
        out.push(mine);
    }
    out
}

/// Doctors' names, as the roster shows them.
pub(super) const SURNAMES: &[&str] =
    &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高"];
pub(super) const GIVEN: &[&str] = &["卫东", "晓燕", "建华", "丽娟", "志刚", "红梅", "国庆", "秀兰", "海涛", "春燕"];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::scenarios::queue::Scale;

    #[test]
    fn registrations_fill_every_session_within_the_rules() {
        for (sessions, depts, per, k) in [(50, 9, 240, 3), (4, 2, 30, 2), (7, 3, 11, 3), (5, 1, 6, 3)] {
            let dept: Vec<u16> = (0..sessions).map(|s| (s % depts) as u16).collect();
            let plan = registrations(&dept, per, k);
            let mut load = vec![0u32; sessions];
            for mine in &plan {
                assert!(!mine.is_empty() && mine.len() <= k, "{mine:?}");
                let ds: HashSet<u16> = mine.iter().map(|s| dept[usize::from(*s)]).collect();
                assert_eq!(ds.len(), mine.len(), "two sessions of one department: {mine:?}");
                for s in mine {
                    load[usize::from(*s)] += 1;
                }
            }
            assert!(load.iter().all(|n| *n == per), "{load:?}");
            let least = (sessions * per as usize).div_ceil(k.min(depts));
            assert!(plan.len() <= least + sessions, "{} patients for {least}", plan.len());
        }
    }

    #[test]
    fn the_default_layout_shows_each_call_on_many_screens() {
        let s = Scale::default();
        let w = layout(s.doctors, 9, s.screens, s.room_screens);
        assert_eq!(w.len(), 500);
        assert_eq!(w.iter().filter(|x| matches!(x, Watch::Room(_))).count(), 250);
        let mut watchers = vec![0usize; s.doctors];
        for x in &w {
            for c in covers(*x, s.doctors, 9) {
                watchers[usize::from(c)] += 1;
            }
        }
        // 5 door screens and the 27 or 28 zone screens of the session's department.
        assert!(watchers.iter().all(|n| (32..=33).contains(n)), "{watchers:?}");
        // Fewer screens than doors: door screens only.
        let w = layout(4, 2, 3, 2);
        assert_eq!(w, [Watch::Room(0), Watch::Room(1), Watch::Room(2)]);
    }
}
