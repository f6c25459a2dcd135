//! The plan and the judging of answers, against a model of the server's rules.

use std::collections::{HashMap, HashSet};

use super::checks::judge;
use super::plan::{REPEAT_WITHIN, plan, same_dept_code, same_session_code, spots};
use super::*;
use crate::data::SplitMix;

fn rules() -> Rules {
    Rules {
        release_days_ahead: 7,
        release_minute: 480,
        max_per_day: 3,
        max_per_dept_day: 1,
        one_per_session: true,
        cancel_deadline_minutes: 120,
        no_show_limit: 3,
        no_show_window_days: 90,
        block_days: 90,
    }
}

fn layout(scale: &Scale, days: usize, depts: usize) -> Vec<Spot> {
    let depts = if scale.departments > 0 { depts.min(scale.departments) } else { depts };
    spots(scale.sessions, days, depts, scale.hot_every).into_iter().map(|(s, _)| s).collect()
}

/// The server's rules, deciding the attempts in `order` one at a time.
fn model(plan: &[Attempt], spots: &[Spot], slots: u32, r: &Rules, order: &[usize]) -> Vec<Option<Answer>> {
    let mut free = vec![slots; spots.len()];
    let mut mine: HashMap<(u32, u16), Vec<(u16, u32)>> = HashMap::new();
    let mut out = vec![None; plan.len()];
    for (n, &i) in order.iter().enumerate() {
        let a = plan[i];
        let s = spots[a.session as usize];
        let day = mine.entry((a.patient, s.day)).or_default();
        let answer = if r.one_per_session && day.iter().any(|(_, x)| *x == a.session) {
            Err(SESSION_TAKEN.to_string())
        } else if day.iter().filter(|(d, _)| *d == s.dept).count() as i64 >= r.max_per_dept_day {
            Err(DEPT_LIMIT.to_string())
        } else if day.len() as i64 >= r.max_per_day {
            Err(DAY_LIMIT.to_string())
        } else if free[a.session as usize] == 0 {
            Err(FULL.to_string())
        } else {
            free[a.session as usize] -= 1;
            day.push((s.dept, a.session));
            Ok(Acked { id: Uuid::from_u128(n as u128), seq: i64::from(slots - free[a.session as usize]) })
        };
        out[i] = Some(answer);
    }
    out
}

/// The plan's order with each window of `w` attempts shuffled: what many
/// workers in flight at once look like to the server.
fn jumbled(n: usize, w: usize, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for chunk in order.chunks_mut(w) {
        for i in (1..chunk.len()).rev() {
            chunk.swap(i, rng.below(i as u64 + 1) as usize);
        }
    }
    order
}

#[test]
fn the_default_plan_keeps_the_rules_and_the_room() {
    let scale = Scale::default();
    let spots = layout(&scale, 7, 9);
    let plan = plan(&spots, scale.patients, &scale, &rules(), 1);
    let (mut per_day, mut per_dept, mut per_session): (HashMap<_, u32>, HashMap<_, u32>, HashMap<_, u32>) =
        Default::default();
    let mut load = vec![0u32; spots.len()];
    for a in plan.iter().filter(|a| a.kind != Kind::Repeat) {
        let s = spots[a.session as usize];
        *per_day.entry((a.patient, s.day)).or_default() += 1;
        *per_dept.entry((a.patient, s.day, s.dept)).or_default() += 1;
        *per_session.entry((a.patient, a.session)).or_default() += 1;
        load[a.session as usize] += u32::from(a.kind == Kind::Ordinary);
    }
    assert!(per_day.values().all(|n| *n <= 3));
    assert!(per_dept.values().all(|n| *n <= 1));
    assert!(per_session.values().all(|n| *n <= 1));
    let (mut same, mut other) = (0, 0);
    for (j, a) in plan.iter().enumerate().filter(|(_, a)| a.kind == Kind::Repeat) {
        let (o, code) = a.pair.unwrap();
        let first = plan[o as usize];
        assert!((o as usize) < j && j - (o as usize) <= REPEAT_WITHIN as usize + 600, "{o} {j}");
        assert_eq!(first.pair, Some((j as u32, code)));
        assert_eq!((first.kind, first.patient), (Kind::Ordinary, a.patient));
        if a.session == first.session {
            assert_eq!(code, SESSION_TAKEN);
            same += 1;
        } else {
            let (s, f) = (spots[a.session as usize], spots[first.session as usize]);
            assert_eq!((code, s.day, s.dept, s.hot), (DEPT_LIMIT, f.day, f.dept, false));
            load[a.session as usize] += 1;
            other += 1;
        }
    }
    for (si, s) in spots.iter().enumerate() {
        if !s.hot {
            assert!(load[si] <= scale.slots, "session {si}: {}", load[si]);
        }
    }
    let ordinary = plan.iter().filter(|a| a.kind == Kind::Ordinary).count();
    let hot = plan.iter().filter(|a| a.kind == Kind::Oversubscribed).count();
    assert_eq!((ordinary, hot), (900 * 27, 100 * 40));
    let share = (same + other) as f64 / ordinary as f64;
    assert!((0.015..0.025).contains(&share), "{share}");
    assert!(same > 100 && other > 100, "{same} {other}");
}

#[test]
fn answers_from_the_rules_are_as_planned_in_any_order() {
    for (scale, days, depts, window) in
        [(Scale::default(), 6, 9, 256), (Scale::default(), 7, 9, 1), (Scale::small(), 6, 9, 64)]
    {
        let spots = layout(&scale, days, depts);
        let plan = plan(&spots, scale.patients, &scale, &rules(), 7);
        let answers = model(&plan, &spots, scale.slots, &rules(), &jumbled(plan.len(), window, 3));
        let v = judge(&plan, &answers);
        assert!(v.unexpected.is_empty(), "{:?}", v.unexpected);
        assert_eq!(v.pairs_ok.values().sum::<u64>(), v.pairs);
        assert!(v.pairs > 0 && v.pairs_ok.len() == 2, "{v:?}");
        let hot = spots.iter().filter(|s| s.hot).count() as u64;
        assert_eq!(v.full, hot * u64::from(scale.hot_fill - scale.slots));
        assert_eq!(v.answered, plan.len() as u64);
        let ordinary = plan.iter().filter(|a| a.kind == Kind::Ordinary).count() as u64;
        assert_eq!(v.booked, ordinary + hot * u64::from(scale.slots));
    }
}

#[test]
fn a_run_cut_short_is_judged_on_what_was_sent() {
    let scale = Scale::small();
    let spots = layout(&scale, 6, 9);
    let plan = plan(&spots, scale.patients, &scale, &rules(), 5);
    let sent = plan.len() / 3;
    let mut answers = model(&plan, &spots, scale.slots, &rules(), &(0..sent).collect::<Vec<_>>());
    answers.truncate(plan.len());
    let v = judge(&plan, &answers);
    assert!(v.unexpected.is_empty(), "{:?}", v.unexpected);
    assert_eq!(v.answered, sent as u64);
}

#[test]
fn wrong_answers_are_caught() {
    let scale = Scale::small();
    let spots = layout(&scale, 6, 9);
    let plan = plan(&spots, scale.patients, &scale, &rules(), 9);
    let order: Vec<usize> = (0..plan.len()).collect();
    let good = model(&plan, &spots, scale.slots, &rules(), &order);
    let ok = || Some(Ok(Acked { id: Uuid::nil(), seq: 1 }));

    // A repeat booked as well as its original: the rule was broken.
    let j = plan.iter().position(|a| a.kind == Kind::Repeat).unwrap();
    let mut bad = good.clone();
    bad[j] = ok();
    assert_eq!(judge(&plan, &bad).unexpected.len(), 1);
    // A refusal with another code.
    bad[j] = Some(Err(DAY_LIMIT.into()));
    assert!(judge(&plan, &bad).unexpected.keys().any(|k| k.contains("not booking.")));
    // An ordinary booker refused; an oversubscribed one failing otherwise than full.
    let mut bad = good.clone();
    let i = plan.iter().position(|a| a.kind == Kind::Ordinary && a.pair.is_none()).unwrap();
    bad[i] = Some(Err("http.500".into()));
    let h = plan.iter().position(|a| a.kind == Kind::Oversubscribed).unwrap();
    bad[h] = Some(Err("transport.timeout".into()));
    let v = judge(&plan, &bad);
    assert_eq!(v.unexpected["session with room: http.500"], 1);
    assert_eq!(v.unexpected["oversubscribed session: transport.timeout"], 1);
}

#[test]
fn repeat_codes_follow_the_rules() {
    let r = rules();
    assert_eq!((same_session_code(&r), same_dept_code(&r)), (Some(SESSION_TAKEN), Some(DEPT_LIMIT)));
    let loose = Rules { one_per_session: false, max_per_dept_day: 2, max_per_day: 5, ..r };
    assert_eq!((same_session_code(&loose), same_dept_code(&loose)), (None, None));
    let scale = Scale::small();
    assert!(plan(&layout(&scale, 6, 9), scale.patients, &scale, &loose, 1).iter().all(|a| a.kind != Kind::Repeat));
    let none = Rules { max_per_day: 0, ..r };
    assert!(plan(&layout(&scale, 6, 9), scale.patients, &scale, &none, 1).is_empty());
}

#[test]
fn sessions_cover_every_day_and_department() {
    let s = spots(1_000, 7, 9, 10);
    let days: HashSet<u16> = s.iter().map(|(x, _)| x.day).collect();
    let depts: HashSet<u16> = s.iter().map(|(x, _)| x.dept).collect();
    assert_eq!((days.len(), depts.len()), (7, 9));
    assert_eq!(s.iter().filter(|(x, _)| x.hot).count(), 100);
    assert!(s.iter().any(|(_, pm)| *pm) && s.iter().any(|(_, pm)| !*pm));
    // Hot sessions fall on every day.
    let hot_days: HashSet<u16> = s.iter().filter(|(x, _)| x.hot).map(|(x, _)| x.day).collect();
    assert_eq!(hot_days.len(), 7);
}
