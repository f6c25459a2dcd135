//! Queue stories (候诊排队) and the pre-triage desk that feeds them, on
//! SQLite and PostgreSQL: an entry per registration, changed only from the
//! state its caller saw, call counters, and doctors' panels.

use dayi_store::queue::{self, Change, Entry, Panel};
use dayi_store::triage::{self, Triage};
use dayi_store::{Db, Tx};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    a_second_check_in_is_ignored,
    an_entry_moves_only_from_what_was_seen,
    live_queues_name_their_patients,
    calls_are_counted_per_queue,
    panels_are_saved_and_replaced,
    triage_records_are_read_by_day_and_route,
);

fn entry(org: Uuid, session: Uuid, patient: Uuid, seq: i64, status: &str) -> Entry {
    Entry {
        org_id: org,
        booking_id: Uuid::now_v7(),
        session_id: session,
        patient_id: patient,
        day: "2026-12-01".into(),
        seq,
        appointment: seq % 2 == 1,
        checked_in_at: 100 - seq,
        late: false,
        recalled: false,
        mark: 0,
        priority: None,
        priority_group: None,
        status: status.into(),
        calls: 0,
        called_by: None,
        called_at: None,
        updated_at: 1,
    }
}

async fn put(db: &Db, rows: &[Entry]) -> u64 {
    let mut tx = db.begin().await.unwrap();
    let n = queue::insert(&mut tx, rows).await.unwrap();
    tx.commit().await.unwrap();
    n
}

/// A doctor's call, as the app builds it from the entry it read.
fn called(e: &Entry, at: i64) -> Change {
    Change {
        session_id: e.session_id,
        status: "called".into(),
        recalled: e.recalled,
        mark: e.mark,
        calls: e.calls + 1,
        called_by: Some("doc01".into()),
        called_at: Some(at),
        priority: e.priority,
        priority_group: e.priority_group.clone(),
        updated_at: at,
    }
}

async fn a_second_check_in_is_ignored(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let (s, p) = (Uuid::now_v7(), Uuid::now_v7());
    let (a, b) = (entry(org, s, p, 1, "waiting"), entry(org, Uuid::now_v7(), p, 2, "waiting"));
    assert_eq!(put(&t.db, &[a.clone(), b.clone()]).await, 2);
    let again = Entry { status: "called".into(), seq: 9, ..a.clone() };
    assert_eq!(put(&t.db, &[again]).await, 0);
    assert_eq!(put(&t.db, &[]).await, 0);
    assert_eq!(queue::get(&t.db, org, a.booking_id).await.unwrap(), Some(a.clone()), "the first check-in stands");
    assert!(queue::get(&t.db, other, a.booking_id).await.unwrap().is_none());
    // Seq 2 checked in earlier (98 before 99), so it comes first.
    let mine = queue::of_patient(&t.db, org, p, "2026-12-01").await.unwrap();
    assert_eq!(mine, vec![b, a]);
    assert!(queue::of_patient(&t.db, org, p, "2026-12-02").await.unwrap().is_empty());
}

async fn an_entry_moves_only_from_what_was_seen(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let e = entry(org, Uuid::now_v7(), Uuid::now_v7(), 1, "waiting");
    put(&t.db, std::slice::from_ref(&e)).await;
    let c = called(&e, 50);
    let mut tx = t.db.begin().await.unwrap();
    assert!(!queue::update(&mut tx, other, e.booking_id, "waiting", 1, &c).await.unwrap());
    assert!(!queue::update(&mut tx, org, e.booking_id, "waiting", 0, &c).await.unwrap(), "changed since it was read");
    assert!(!queue::update(&mut tx, org, e.booking_id, "called", 1, &c).await.unwrap(), "not in that state");
    assert!(queue::update(&mut tx, org, e.booking_id, "waiting", 1, &c).await.unwrap());
    // A second doctor who read the same row loses.
    assert!(!queue::update(&mut tx, org, e.booking_id, "waiting", 1, &called(&e, 51)).await.unwrap());
    // A transfer to another queue with a priority, from the state now stored.
    let to = Uuid::now_v7();
    let moved = Change {
        session_id: to,
        status: "waiting".into(),
        recalled: true,
        mark: 4,
        priority: Some(1),
        priority_group: Some("elderly".into()),
        updated_at: 60,
        ..c.clone()
    };
    assert!(queue::update(&mut tx, org, e.booking_id, "called", 50, &moved).await.unwrap());
    tx.commit().await.unwrap();

    let read = queue::get(&t.db, org, e.booking_id).await.unwrap().unwrap();
    let want = Entry {
        session_id: to,
        status: "waiting".into(),
        recalled: true,
        mark: 4,
        calls: 1,
        called_by: Some("doc01".into()),
        called_at: Some(50),
        priority: Some(1),
        priority_group: Some("elderly".into()),
        updated_at: 60,
        ..e
    };
    assert_eq!(read, want);
}

async fn live_queues_name_their_patients(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let (s1, s2, s3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (li, wang) = (
        make_patient(&t.db, org, 1, "李梅", "1950-02-01").await,
        make_patient(&t.db, org, 2, "王芳", "1960-03-01").await,
    );
    let stranger = make_patient(&t.db, other, 3, "赵敏", "1970-04-01").await;
    let rows = [
        entry(org, s1, li, 1, "waiting"),
        entry(org, s1, wang, 2, "called"),
        entry(org, s2, wang, 3, "passed"),
        entry(org, s2, li, 4, "testing"),
        entry(org, s1, li, 5, "finished"),
        entry(org, s1, wang, 6, "diverted"),
        entry(org, s3, li, 7, "waiting"),
    ];
    put(&t.db, &rows).await;
    put(&t.db, &[entry(other, s1, stranger, 1, "waiting")]).await;

    let mut live: Vec<(i64, String)> =
        queue::live(&t.db, org, &[s1, s2]).await.unwrap().into_iter().map(|n| (n.entry.seq, n.name)).collect();
    live.sort();
    let want = [(1, "李梅"), (2, "王芳"), (3, "王芳"), (4, "李梅")].map(|(s, n)| (s, n.to_string()));
    assert_eq!(live, want, "finished and diverted entries, other queues and hospitals are left out");
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(queue::live(&mut tx, org, &[s3]).await.unwrap()[0].entry, rows[6]);
    assert!(queue::live(&mut tx, org, &[]).await.unwrap().is_empty());
    drop(tx);
}

async fn counts(tx: &mut Tx, org: Uuid, sessions: &[Uuid]) -> Vec<(Uuid, i64)> {
    let mut c = queue::counters(tx, org, sessions).await.unwrap();
    c.sort();
    c
}

async fn calls_are_counted_per_queue(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let mut ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    ids.sort();
    let [a, b, never] = ids;
    let mut tx = t.db.begin().await.unwrap();
    // Locking creates the counters at zero and leaves existing ones as they are.
    queue::lock(&mut tx, org, &[b, a]).await.unwrap();
    queue::count_call(&mut tx, org, a).await.unwrap();
    queue::count_call(&mut tx, org, a).await.unwrap();
    queue::lock(&mut tx, org, &[a]).await.unwrap();
    queue::count_call(&mut tx, org, b).await.unwrap();
    queue::count_call(&mut tx, other, a).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(counts(&mut tx, org, &[a, b, never]).await, vec![(a, 2), (b, 1)], "a queue never called is absent");
    assert_eq!(counts(&mut tx, other, &[a, b]).await, vec![(a, 1)]);
    assert!(counts(&mut tx, org, &[]).await.is_empty());
}

async fn panels_are_saved_and_replaced(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let (s1, s2) = (Uuid::now_v7(), Uuid::now_v7());
    let first = Panel {
        org_id: org,
        username: "doc01".into(),
        day: "2026-12-01".into(),
        sessions: format!("{s2},{s1}"),
        paused: false,
        last_session: None,
        updated_at: 1,
    };
    let other_day = Panel { day: "2026-12-02".into(), paused: true, ..first.clone() };
    let mut tx = t.db.begin().await.unwrap();
    queue::save_panel(&mut tx, &first).await.unwrap();
    queue::save_panel(&mut tx, &other_day).await.unwrap();
    let paused =
        Panel { sessions: s1.to_string(), paused: true, last_session: Some(s1), updated_at: 2, ..first.clone() };
    queue::save_panel(&mut tx, &paused).await.unwrap();
    tx.commit().await.unwrap();

    let read = queue::panel(&t.db, org, "doc01", "2026-12-01").await.unwrap().unwrap();
    assert_eq!(read, paused, "the second save replaced the first");
    assert_eq!(first.session_ids(), vec![s2, s1], "the doctor's order is kept");
    assert!(queue::panel(&t.db, org, "doc02", "2026-12-01").await.unwrap().is_none());
    assert_eq!(queue::paused_panels(&t.db, org, "2026-12-01").await.unwrap(), vec![paused]);
}

fn triage_of(org: Uuid, day: &str, route: &str, at: i64) -> Triage {
    Triage {
        org_id: org,
        id: Uuid::now_v7(),
        patient_id: Uuid::now_v7(),
        booking_id: Some(Uuid::now_v7()),
        day: day.into(),
        temperature: Some(385),
        symptoms: "fever,cough".into(),
        exposures: String::new(),
        route: route.into(),
        dept_id: None,
        reasons: "体温≥37.3℃".into(),
        priority: None,
        nurse: "nurse01".into(),
        created_at: at,
    }
}

async fn triage_records_are_read_by_day_and_route(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let rows = [
        triage_of(org, "2026-12-01", "fever", 10),
        triage_of(org, "2026-12-01", "general", 30),
        triage_of(org, "2026-12-01", "fever", 20),
        triage_of(org, "2026-12-02", "fever", 40),
        triage_of(other, "2026-12-01", "fever", 50),
    ];
    let mut tx = t.db.begin().await.unwrap();
    for r in &rows {
        triage::insert(&mut tx, r).await.unwrap();
    }
    tx.commit().await.unwrap();
    let day = triage::of_day(&t.db, org, "2026-12-01", None, 10).await.unwrap();
    assert_eq!(day, vec![rows[1].clone(), rows[2].clone(), rows[0].clone()], "newest first");
    let fever: Vec<i64> = triage::of_day(&t.db, org, "2026-12-01", Some("fever"), 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.created_at)
        .collect();
    assert_eq!(fever, vec![20, 10]);
    assert_eq!(triage::of_day(&t.db, org, "2026-12-01", None, 1).await.unwrap().len(), 1);
    let counted = triage::counts(&t.db, org, "2026-12-01", "2026-12-02").await.unwrap();
    let want = [("2026-12-01", "fever", 2), ("2026-12-01", "general", 1), ("2026-12-02", "fever", 1)];
    assert_eq!(counted, want.map(|(d, r, n)| (d.to_string(), r.to_string(), n)));
    assert_eq!(triage::counts(&t.db, org, "2026-12-02", "2026-12-02").await.unwrap().len(), 1);
}
