//! The booking desk's batch reads and slot claims, on SQLite and PostgreSQL.

use dayi_store::booking::{self, Booking};
use dayi_store::roster::{self, Session};
use dayi_store::walk::{After, Step};
use dayi_store::{Db, Tx};
use uuid::Uuid;

mod common;
use common::*;

on_both!(claims_take_only_free_slots, batch_reads_see_only_their_org, slots_are_walked_by_session_and_number);

fn session(org: Uuid, dept: Uuid, day: &str) -> Session {
    Session {
        org_id: org,
        id: Uuid::now_v7(),
        template_id: None,
        dept_id: dept,
        day: day.into(),
        half_day: "am".into(),
        clinic_type: "general".into(),
        doctor_id: None,
        doctor_name: "李医生".into(),
        doctor_title: None,
        visiting_from: None,
        room: None,
        start_time: "08:00".into(),
        slot_minutes: 10,
        slot_count: 3,
        fee_fen: 500,
        release_at: 0,
        ends_at: 3_000,
        status: "open".into(),
        stop_reason: None,
        stopped_by: None,
        stopped_at: None,
        created_by: "admin".into(),
        created_at: now(),
    }
}

fn booking_of(s: &Session, seq: i64, patient: Uuid, status: &str) -> Booking {
    Booking {
        org_id: s.org_id,
        id: Uuid::now_v7(),
        reg_no: format!("001{}{seq:05}", s.day.replace('-', "")),
        session_id: s.id,
        seq,
        slot_start: seq * 1_000,
        patient_id: patient,
        dept_id: s.dept_id,
        day: s.day.clone(),
        fee_fen: s.fee_fen,
        channel: "counter".into(),
        on_behalf: "self".into(),
        booked_by: "reg01".into(),
        status: status.into(),
        cancel_reason: None,
        checked_in_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

async fn put_session(db: &Db, s: &Session) -> Tx {
    let mut tx = db.begin().await.unwrap();
    assert!(roster::insert_session(&mut tx, s, &[1_000, 2_000, 3_000]).await.unwrap());
    tx
}

async fn claims_take_only_free_slots(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let s = session(org, Uuid::now_v7(), "2026-11-24");
    let mut tx = put_session(&t.db, &s).await;
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    assert_eq!(roster::claim_many(&mut tx, org, &[(s.id, 1, a), (s.id, 2, b)]).await.unwrap(), 2);
    assert_eq!(roster::free_slots(&mut tx, org, &[(s.id, 5, i64::MIN)]).await.unwrap(), vec![(s.id, 3, 3_000)]);
    // Slot 2 is taken already: only slot 3 is claimed, and the caller is told.
    assert_eq!(roster::claim_many(&mut tx, org, &[(s.id, 2, c), (s.id, 3, c)]).await.unwrap(), 1);
    tx.commit().await.unwrap();
    // Another organisation's claim touches nothing.
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(roster::claim_many(&mut tx, other, &[(s.id, 3, a)]).await.unwrap(), 0);
    let mut taken = vec![];
    for seq in 1..=4 {
        taken.push(roster::slot_at(&mut tx, org, s.id, seq).await.unwrap().map(|p| (p.seq, p.booking_id)));
    }
    assert_eq!(taken, vec![Some((1, Some(a))), Some((2, Some(b))), Some((3, Some(c))), None]);
    assert!(roster::free_slots(&mut tx, org, &[(s.id, 5, i64::MIN)]).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}

async fn batch_reads_see_only_their_org(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let dept = Uuid::now_v7();
    let s1 = session(org, dept, "2026-11-24");
    let s2 = session(org, dept, "2026-11-25");
    let s3 = session(other, dept, "2026-11-24");
    for s in [&s1, &s2, &s3] {
        put_session(&t.db, s).await.commit().await.unwrap();
    }
    let (p, q) = (Uuid::now_v7(), Uuid::now_v7());
    let mut tx = t.db.begin().await.unwrap();
    booking::insert(
        &mut tx,
        &[
            booking_of(&s1, 1, p, "booked"),
            booking_of(&s2, 1, p, "checked_in"),
            booking_of(&s1, 2, q, "cancelled"),
            booking_of(&s3, 1, p, "booked"),
        ],
    )
    .await
    .unwrap();
    booking::block(&mut tx, org, q, "2027-02-22", 3, now()).await.unwrap();

    let mut ids: Vec<Uuid> =
        roster::bookable_in(&mut tx, org, &[s1.id, s2.id, s3.id]).await.unwrap().iter().map(|s| s.id).collect();
    ids.sort();
    assert_eq!(ids, vec![s1.id, s2.id]);
    assert!(roster::bookable_in(&mut tx, org, &[]).await.unwrap().is_empty());

    // The first k free slots after a time, per session; none of another organisation's.
    let free = roster::free_slots(&mut tx, org, &[(s1.id, 1, 1_000), (s2.id, 5, i64::MIN), (s3.id, 5, i64::MIN)])
        .await
        .unwrap();
    assert_eq!(free.iter().filter(|f| f.0 == s1.id).map(|f| f.1).collect::<Vec<_>>(), vec![2]);
    assert_eq!(free.iter().filter(|f| f.0 == s2.id).map(|f| f.1).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(free.iter().all(|f| f.0 != s3.id));

    let days = vec!["2026-11-24".to_string()];
    let mut active = booking::active_for(&mut tx, org, &[p, q], &days).await.unwrap();
    active.sort();
    // The cancelled booking, the other day and the other organisation are left out.
    assert_eq!(active, vec![(p, "2026-11-24".to_string(), dept, s1.id)]);
    let both = vec!["2026-11-24".to_string(), "2026-11-25".to_string()];
    assert_eq!(booking::active_for(&mut tx, org, &[p], &both).await.unwrap().len(), 2);

    assert_eq!(booking::blocks_for(&mut tx, org, &[p, q]).await.unwrap(), vec![(q, "2027-02-22".to_string())]);
    assert!(booking::blocks_for(&mut tx, other, &[p, q]).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}

/// A walk over a two-column key: every slot once, in (session, number)
/// order, each page resuming after the last key of the one before.
async fn slots_are_walked_by_session_and_number(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let dept = Uuid::now_v7();
    let (s1, s2, s3) =
        (session(org, dept, "2026-11-24"), session(org, dept, "2026-11-25"), session(other, dept, "2026-11-24"));
    for s in [&s1, &s2, &s3] {
        put_session(&t.db, s).await.commit().await.unwrap();
    }
    let mut seen = vec![];
    let mut step = Step { after: After::Start, limit: 2, count: true };
    let mut pages = 0;
    loop {
        let page = roster::walk_slots(&t.db, org, &step).await.unwrap();
        assert_eq!(page.total, (pages == 0).then_some(6), "counted when asked");
        pages += 1;
        seen.extend(page.rows.iter().map(|r| (r.session_id, r.seq)));
        let Some(last) = page.rows.last() else { break };
        if !page.more {
            break;
        }
        step = Step { after: After::Pair(last.session_id, last.seq), limit: 2, count: false };
    }
    let want: Vec<(Uuid, i64)> = [s1.id, s2.id].iter().flat_map(|s| (1..=3).map(move |n| (*s, n))).collect();
    assert_eq!((seen, pages), (want, 3), "another organisation's slots are not walked");
    let sessions = roster::walk_sessions(&t.db, org, &Step { after: After::Id(s1.id), limit: 5, count: false }).await;
    let sessions = sessions.unwrap();
    assert_eq!((sessions.rows.iter().map(|s| s.id).collect::<Vec<_>>(), sessions.more), (vec![s2.id], false));
}
