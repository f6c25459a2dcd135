//! After a queue run: the doctors' answers and what the screens saw, as
//! checks, and the delivery latency, fan-out and memory, as figures.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use super::memory::memory_detail;
use super::{Call, Prepared, SETTLE, TARGET_MS};
use crate::engine::{Latency, histogram};
use crate::report::{Check, Figure};
use crate::scenarios::book_rush::tally;

/// Waits for the last boards, then checks the calls and what the screens saw.
pub(super) async fn judge(p: &Prepared) -> (Vec<Check>, Vec<Figure>) {
    let calls: Vec<Vec<Call>> =
        p.doctors.iter().map(|d| d.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect();
    let made: u64 = calls.iter().map(|c| c.len() as u64).sum();
    let expected: u64 =
        p.doctors.iter().zip(&calls).map(|(d, c)| c.len() as u64 * p.watchers[usize::from(d.session)]).sum();
    settle(p, expected).await;
    let memory = p.memory.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut checks = vec![answers_check(p, &calls, made)];
    checks.extend(screen_checks(p, &calls, made, expected));
    let (target, mut figures) = delivery(p);
    checks.push(target);
    figures.extend(counts(p, &calls, made, expected));
    figures.push(Figure::new("memory", memory_detail(&memory)));
    (checks, figures)
}

/// Calls received by all screens together.
fn received(p: &Prepared) -> u64 {
    p.screens
        .iter()
        .map(|s| {
            let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.got.iter().flatten().map(|w| u64::from(w.count_ones())).sum::<u64>()
        })
        .sum()
}

/// The last calls' boards may still be on their way: waits until all
/// arrived, nothing arrived for 2 s, or [`SETTLE`] passed.
async fn settle(p: &Prepared, expected: u64) {
    let t = Instant::now();
    let (mut last, mut since) = (received(p), Instant::now());
    while last < expected && t.elapsed() < SETTLE && since.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = received(p);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
}

/// The doctors' answers: each for their own queue, no patient twice.
fn answers_check(p: &Prepared, calls: &[Vec<Call>], made: u64) -> Check {
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for d in &p.doctors {
        for (k, n) in d.refused.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *refused.entry(k.clone()).or_default() += n;
        }
    }
    let mut wrong = 0u64;
    let mut bookings = HashSet::new();
    let mut twice = 0u64;
    for (d, mine) in p.doctors.iter().zip(calls) {
        for c in mine {
            wrong +=
                u64::from(c.session != p.sessions[usize::from(d.session)] || c.seq < 1 || c.seq > i64::from(p.slots));
            twice += u64::from(!bookings.insert(c.booking));
        }
    }
    let mut detail =
        format!("{made} calls answered 200; {wrong} for another queue or slot, {twice} patients called twice");
    if !refused.is_empty() {
        detail += &format!("; refused: {}", tally(refused.clone()));
    }
    Check::new(
        "every call answered for the doctor's own queue",
        made > 0 && wrong == 0 && twice == 0 && refused.is_empty(),
        detail,
    )
}

/// Per session, a bit for each slot number its doctor called.
fn called_bits(p: &Prepared, calls: &[Vec<Call>]) -> Vec<Vec<u64>> {
    let words =
        p.screens.first().and_then(|s| s.seen.lock().ok().and_then(|g| g.got.first().map(Vec::len))).unwrap_or(0);
    let mut called = vec![vec![0u64; words]; p.sessions.len()];
    for (d, mine) in p.doctors.iter().zip(calls) {
        for c in mine.iter().filter(|c| c.seq >= 0 && (c.seq as usize) < words * 64) {
            called[usize::from(d.session)][c.seq as usize / 64] |= 1 << (c.seq % 64);
        }
    }
    called
}

/// What the screens saw, against the calls made; and whether they stayed
/// connected.
fn screen_checks(p: &Prepared, calls: &[Vec<Call>], made: u64, expected: u64) -> [Check; 2] {
    let called = called_bits(p, calls);
    let (mut got, mut missing, mut extra, mut dups, mut stray, mut ended) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut endings: BTreeMap<String, u64> = BTreeMap::new();
    for s in &p.screens {
        let seen = s.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (bits, sess) in seen.got.iter().zip(&s.covers) {
            for (have, want) in bits.iter().zip(&called[usize::from(*sess)]) {
                got += u64::from(have.count_ones());
                missing += u64::from((want & !have).count_ones());
                extra += u64::from((have & !want).count_ones());
            }
        }
        dups += seen.dups;
        stray += seen.stray;
        if let Some(e) = &seen.ended {
            ended += 1;
            *endings.entry(e.clone()).or_default() += 1;
        }
    }
    let (fmin, fmax) = fan_out(p);
    let every = Check::new(
        "every screen got every call of its queues, once",
        made > 0 && got == expected && missing == 0 && extra == 0 && dups == 0 && stray == 0,
        format!(
            "{got} of {expected} receipts (each call × the {fmin}–{fmax} screens watching its queue); \
             {missing} missing, {dups} twice, {extra} for calls not answered, {stray} on screens not watching"
        ),
    );
    let mut detail = format!("{ended} of {} event streams ended during the run", p.screens.len());
    if !endings.is_empty() {
        detail += &format!(" ({})", tally(endings));
    }
    [every, Check::new("screens stayed connected", ended == 0, detail)]
}

/// The fewest and most screens watching one session.
fn fan_out(p: &Prepared) -> (u64, u64) {
    (p.watchers.iter().min().copied().unwrap_or(0), p.watchers.iter().max().copied().unwrap_or(0))
}

/// The target, and the delivery, first-screen and spread figures.
fn delivery(p: &Prepared) -> (Check, Vec<Figure>) {
    let h = p.sink.delivery.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let l = Latency::of(&h);
    let (mut first, mut spread) = (histogram(), histogram());
    for (at, a, z) in p.sink.arrivals.lock().unwrap_or_else(|e| e.into_inner()).values() {
        first.saturating_record(u64::try_from(a - at).unwrap_or(0).max(1));
        spread.saturating_record(u64::try_from(z - a).unwrap_or(0).max(1));
    }
    let (first, spread) = (Latency::of(&first), Latency::of(&spread));
    let target = Check::new(
        "a call on every screen within 100 ms at p99 (the issue's target)",
        !h.is_empty() && l.p99 < TARGET_MS,
        format!("p99 {:.1} ms over {} receipts", l.p99, h.len()),
    );
    let figures = vec![
        Figure {
            name: "delivery".into(),
            detail: format!(
                "call → screen (arrival − board.at): p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2} over {} receipts",
                l.p50,
                l.p90,
                l.p99,
                l.max,
                h.len()
            ),
            latency_ms: Some(l),
        },
        Figure {
            name: "first screen".into(),
            detail: format!(
                "call → the first of its screens: p50 {:.2} ms, p99 {:.2}, max {:.2} (the server's own part)",
                first.p50, first.p99, first.max
            ),
            latency_ms: Some(first),
        },
        Figure {
            name: "spread".into(),
            detail: format!(
                "first → last screen of the same call: p50 {:.2} ms, p99 {:.2}, max {:.2} (the fan-out)",
                spread.p50, spread.p99, spread.max
            ),
            latency_ms: Some(spread),
        },
    ];
    (target, figures)
}

/// The calls per doctor, and how the screens watch.
fn counts(p: &Prepared, calls: &[Vec<Call>], made: u64, expected: u64) -> [Figure; 2] {
    let per: Vec<usize> = calls.iter().map(Vec::len).collect();
    let rooms = p.screens.iter().filter(|s| s.query.starts_with("session=")).count();
    let (fmin, fmax) = fan_out(p);
    [
        Figure::new(
            "calls",
            format!(
                "{made} calls by {} doctors ({}–{} each)",
                p.doctors.len(),
                per.iter().min().copied().unwrap_or(0),
                per.iter().max().copied().unwrap_or(0)
            ),
        ),
        Figure::new(
            "fan-out",
            format!(
                "{} screens: {rooms} at room doors, {} watching one of {} departments each; a call shows on {fmin}–{fmax} screens ({:.1} on average)",
                p.screens.len(),
                p.screens.len() - rooms,
                p.departments,
                if made > 0 { expected as f64 / made as f64 } else { 0.0 }
            ),
        ),
    ]
}
