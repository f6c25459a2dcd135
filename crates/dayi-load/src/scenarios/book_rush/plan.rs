//! The book-rush plan: where the sessions are, and the shuffled attempts
//! with their deliberate repeats; and the roster forms for the sessions.

use std::collections::HashMap;

use dayi_app::roster::RosterForm;
use dayi_core::booking::Rules;
use time::Date;
use uuid::Uuid;

use super::{Attempt, DAY_LIMIT, DEPT_LIMIT, Kind, SESSION_TAKEN, Scale, Spot};
use crate::data::SplitMix;

/// Repeats follow their original within this many attempts, so many are in
/// flight at the same time as it.
pub(super) const REPEAT_WITHIN: u64 = 256;

/// Sessions spread over `days` days and `depts` departments, mornings
/// first; every `hot_every`-th one is oversubscribed.
pub(super) fn spots(n: usize, days: usize, depts: usize, hot_every: usize) -> Vec<(Spot, bool)> {
    (0..n)
        .map(|i| {
            let spot = Spot {
                day: (i % days) as u16,
                dept: ((i / days) % depts) as u16,
                hot: hot_every > 0 && i % hot_every == hot_every - 1,
            };
            let afternoon = (i / (days * depts)) % 2 == 1;
            (spot, afternoon)
        })
        .collect()
}

/// The code a second attempt in the same session gets, if the rules refuse it.
pub(super) fn same_session_code(r: &Rules) -> Option<&'static str> {
    if r.one_per_session {
        Some(SESSION_TAKEN)
    } else if r.max_per_dept_day <= 1 {
        Some(DEPT_LIMIT)
    } else if r.max_per_day <= 1 {
        Some(DAY_LIMIT)
    } else {
        None
    }
}

/// The code a second session of the same department that day gets, if the rules refuse it.
pub(super) fn same_dept_code(r: &Rules) -> Option<&'static str> {
    (r.max_per_dept_day <= 1).then_some(DEPT_LIMIT)
}

/// The attempts, in the order they are sent. Every ordinary and
/// oversubscribed attempt keeps within the rules whatever order the server
/// sees them in; ordinary sessions are never asked for more than their slots,
/// counting a repeat that may win in their place.
pub(super) fn plan(spots: &[Spot], patients: u32, scale: &Scale, rules: &Rules, seed: u64) -> Vec<Attempt> {
    let per_day = usize::try_from(rules.max_per_day).unwrap_or(0);
    let per_dept = usize::try_from(rules.max_per_dept_day).unwrap_or(0);
    let days = spots.iter().map(|s| usize::from(s.day) + 1).max().unwrap_or(0);
    if patients == 0 || per_day == 0 || per_dept == 0 {
        return vec![];
    }
    let mut cursor = vec![0u32; days];
    // (patient, day) → (department, session) of what is planned.
    let mut taken: HashMap<(u32, u16), Vec<(u16, u32)>> = HashMap::new();
    // Bookings an ordinary session may end up with.
    let mut load = vec![0u32; spots.len()];
    let mut main = vec![];
    for (si, s) in spots.iter().enumerate() {
        let si = si as u32;
        let want = if s.hot { scale.hot_fill } else { scale.fill.min(scale.slots) };
        for _ in 0..want {
            let start = cursor[usize::from(s.day)];
            let fits = |p: &u32| {
                let mine = taken.get(&(*p, s.day)).map_or(&[][..], Vec::as_slice);
                mine.len() < per_day
                    && mine.iter().filter(|(d, _)| *d == s.dept).count() < per_dept
                    && !mine.iter().any(|(_, x)| *x == si)
            };
            let Some(p) = (0..patients).map(|k| (start + k) % patients).find(fits) else { break };
            cursor[usize::from(s.day)] = (p + 1) % patients;
            taken.entry((p, s.day)).or_default().push((s.dept, si));
            let kind = if s.hot { Kind::Oversubscribed } else { Kind::Ordinary };
            main.push(Attempt { patient: p, session: si, kind, pair: None });
            if !s.hot {
                load[si as usize] += 1;
            }
        }
    }
    let mut rng = SplitMix::new(seed ^ 0xB00C_2A54);
    for i in (1..main.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        main.swap(i, j);
    }
    // Ordinary sessions by (day, department), for repeats in another session.
    let mut by_dept: HashMap<(u16, u16), Vec<u32>> = HashMap::new();
    for (si, s) in spots.iter().enumerate() {
        if !s.hot {
            by_dept.entry((s.day, s.dept)).or_default().push(si as u32);
        }
    }
    let (same_session, same_dept) = (same_session_code(rules), same_dept_code(rules));
    let n = main.len();
    // Repeats to send after main attempt `i`: (original, session, code).
    let mut after: Vec<Vec<(usize, u32, &'static str)>> = vec![vec![]; n];
    let mut turn = 0u64;
    for (i, a) in main.iter().enumerate() {
        if a.kind != Kind::Ordinary || rng.below(1000) >= scale.repeats_per_mille {
            continue;
        }
        turn += 1;
        let s = spots[a.session as usize];
        let elsewhere = same_dept.filter(|_| turn.is_multiple_of(2)).and_then(|code| {
            let others = by_dept.get(&(s.day, s.dept))?;
            let k = rng.below(others.len() as u64) as usize;
            let free = |x: &&u32| **x != a.session && load[**x as usize] < scale.slots;
            let target = others[k..].iter().chain(&others[..k]).find(free).copied()?;
            Some((target, code))
        });
        let Some((session, code)) = elsewhere.or(same_session.map(|c| (a.session, c))) else { continue };
        if session != a.session {
            load[session as usize] += 1;
        }
        let at = (i + 1 + rng.below(REPEAT_WITHIN) as usize).min(n - 1);
        after[at].push((i, session, code));
    }
    let mut out = Vec::with_capacity(n + after.iter().map(Vec::len).sum::<usize>());
    let mut placed = vec![0u32; n];
    for (i, a) in main.iter().enumerate() {
        placed[i] = out.len() as u32;
        out.push(*a);
        for &(orig, session, code) in &after[i] {
            let j = out.len() as u32;
            let o = placed[orig];
            out[o as usize].pair = Some((j, code));
            out.push(Attempt { patient: main[orig].patient, session, kind: Kind::Repeat, pair: Some((o, code)) });
        }
    }
    out
}

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "孙", "周", "吴", "郑", "冯", "孔", "孟", "颜"];
const GIVEN: &[&str] = &["建国", "海燕", "志强", "秀英", "文博", "丽华", "明", "静", "德胜", "春梅", "立新", "玉兰"];

/// One-off sessions (as entered at the roster screen) for the spots.
pub(super) fn forms(spots: &[(Spot, bool)], days: &[Date], depts: &[Uuid], slots: u32) -> Vec<RosterForm> {
    spots
        .iter()
        .enumerate()
        .map(|(i, (s, afternoon))| RosterForm {
            dept_id: depts[usize::from(s.dept)].to_string(),
            day: days[usize::from(s.day)].to_string(),
            half_day: if *afternoon { "pm" } else { "am" }.into(),
            clinic_type: if s.hot { "expert" } else { "general" }.into(),
            doctor_name: format!("{}{}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len()) % GIVEN.len()]),
            doctor_title: if s.hot { "主任医师" } else { "主治医师" }.into(),
            room: format!("门诊{}室", 101 + i % 40),
            start_time: if *afternoon { "14:00" } else { "08:00" }.into(),
            slot_minutes: "5".into(),
            slot_count: slots.to_string(),
            ..Default::default()
        })
        .collect()
}
