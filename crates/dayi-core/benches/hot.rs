//! Micro-benchmarks of the pure functions on the hot paths: ID validation at
//! every registration and card lookup, pinyin keys at every registration,
//! search classification at every search, and the booking rules the desk
//! checks for every ticket of the 08:00 rush, and the call order a doctor's
//! "call next" computes.
//!
//! `cargo bench -p dayi-core --bench hot`

use std::hint::black_box;

use dayi_core::booking::{self, Rules, Standing};
use dayi_core::identity::{IdDocument, IdKind, ResidentId, make_resident_id};
use dayi_core::patient::{classify, pinyin};
use dayi_core::queue::{self, LateMode, OrderBy, RecallMode, Waiting};
use dayi_core::roster::SessionStatus;
use time::macros::date;

fn main() {
    divan::main();
}

const TODAY: time::Date = date!(2026 - 11 - 23);

fn ids(n: u16) -> Vec<String> {
    (0..n)
        .map(|i| make_resident_id("370830", date!(1958 - 03 - 12) + time::Duration::days(i64::from(i) * 37), i % 999))
        .collect()
}

/// GB 11643 parsing and check digit of a valid 18-digit number.
#[divan::bench]
fn resident_id_valid(b: divan::Bencher) {
    let all = ids(1000);
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % all.len();
        black_box(ResidentId::parse(black_box(&all[i]), TODAY)).is_ok()
    });
}

/// The common typing error: one wrong digit, caught by the check digit.
#[divan::bench]
fn resident_id_wrong_digit(b: divan::Bencher) {
    let bad: Vec<String> = ids(1000)
        .into_iter()
        .map(|s| {
            let mut c: Vec<char> = s.chars().collect();
            c[10] = if c[10] == '1' { '2' } else { '1' };
            c.into_iter().collect()
        })
        .collect();
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % bad.len();
        black_box(ResidentId::parse(black_box(&bad[i]), TODAY)).is_err()
    });
}

/// The full document check the registration form runs (kind, number, nationality).
#[divan::bench]
fn id_document(b: divan::Bencher) {
    let all = ids(1000);
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) % all.len();
        black_box(IdDocument::parse(IdKind::ResidentId, black_box(&all[i]), None, TODAY)).is_ok()
    });
}

const NAMES: &[&str] =
    &["张三", "欧阳娜娜", "单于成", "孔维民", "李秀英", "王建国", "尉迟敬德", "曾长青", "朴智星", "阿依古丽·买买提"];

/// Full pinyin and initials (surname readings, polyphones, ethnic names).
#[divan::bench(args = NAMES)]
fn pinyin_keys(name: &str) -> pinyin::NameKeys {
    pinyin::keys(black_box(name))
}

/// What a search box holds: initials, an ID tail, a phone, a name.
#[divan::bench(args = ["zs", "129317", "13853712345", "张三", "370830195803129317"])]
fn search_classify(q: &str) -> bool {
    matches!(classify(black_box(q)), dayi_core::patient::Query::Name(_))
}

/// The rules the booking desk checks for one ticket.
#[divan::bench]
fn booking_rules() -> bool {
    let rules = Rules {
        release_days_ahead: 7,
        release_minute: 480,
        max_per_day: 3,
        max_per_dept_day: 1,
        one_per_session: true,
        cancel_deadline_minutes: 60,
        no_show_limit: 3,
        no_show_window_days: 180,
        block_days: 90,
    };
    let standing = Standing { day_total: 1, dept_day_total: 0, in_session: 0, blocked_until: None };
    let now = 1_795_000_000_000_000;
    booking::check_bookable(
        SessionStatus::Open,
        now - 1,
        now + 3_600_000_000,
        now + 3_600_000_000,
        black_box(now),
        false,
    )
    .is_ok()
        && booking::check_patient(&rules, black_box(&standing), TODAY, true).is_ok()
}

/// A registration number: department, date and daily sequence.
#[divan::bench]
fn registration_number() -> String {
    booking::registration_no(black_box("003"), TODAY, black_box(4321))
}

/// The call order of a busy room (`n` waiting: appointments, walk-ins, late,
/// recalled and priority patients) under interval rules.
#[divan::bench(args = [10, 60, 300])]
fn queue_order(b: divan::Bencher, n: i64) {
    let waiting: Vec<Waiting<i64>> = (1..=n)
        .map(|i| Waiting {
            key: i,
            seq: i,
            checked_in_at: (i * 7919) % (n + 1),
            appointment: i % 3 == 0,
            late: i % 4 == 0,
            recalled: i % 5 == 0,
            priority: (i % 11 == 0).then_some((i % 3) as u8),
            waited: (i % 7) as u32,
        })
        .collect();
    let rules = queue::Rules {
        order_by: OrderBy::CheckIn,
        appointments_first: true,
        late: LateMode::Interval,
        late_every: 2,
        recall: RecallMode::Interval,
        recall_every: 3,
    };
    b.bench_local(|| queue::order(black_box(&waiting), black_box(&rules)));
}
