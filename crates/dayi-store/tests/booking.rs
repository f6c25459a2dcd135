//! Booking stories (挂号), on SQLite and PostgreSQL: a slot sold once, the
//! status moves that must happen once, the no-show rules, the registration
//! fee and the card-use log of arrival.

use dayi_store::booking::{self, Booking, Charge};
use dayi_store::card::{self, CardUse};
use dayi_store::roster::{self, Session};
use dayi_store::walk::{After, Step};
use dayi_store::{Db, is_unique_violation};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    a_slot_is_sold_once,
    status_moves_happen_once,
    reads_keep_their_order_and_org,
    no_shows_lead_to_a_block,
    registration_fees_are_voided_once,
    bookings_are_walked_once,
    arrival_scans_are_logged,
);

fn booking_of(s: &Session, seq: i64, patient: Uuid, status: &str) -> Booking {
    let id = Uuid::now_v7();
    Booking {
        org_id: s.org_id,
        id,
        reg_no: format!("R{}", id.simple()),
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

async fn put(db: &Db, rows: &[Booking]) {
    let mut tx = db.begin().await.unwrap();
    booking::insert(&mut tx, rows).await.unwrap();
    tx.commit().await.unwrap();
}

/// Books and claims the slot, as the desk does in one transaction.
async fn book(db: &Db, b: &Booking) {
    let mut tx = db.begin().await.unwrap();
    booking::insert(&mut tx, std::slice::from_ref(b)).await.unwrap();
    assert_eq!(roster::claim_many(&mut tx, b.org_id, &[(b.session_id, b.seq, b.id)]).await.unwrap(), 1);
    tx.commit().await.unwrap();
}

async fn a_slot_is_sold_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let s = session_row(org, Uuid::now_v7(), "2026-12-01", 9_000);
    put_session(&t.db, &s).await;
    let first = booking_of(&s, 1, Uuid::now_v7(), "booked");
    book(&t.db, &first).await;
    assert_eq!(booking::oversold(&t.db, org).await.unwrap(), 0);

    // The database itself refuses a second active booking of the slot.
    let mut tx = t.db.begin().await.unwrap();
    let e = booking::insert(&mut tx, &[booking_of(&s, 1, Uuid::now_v7(), "booked")]).await.unwrap_err();
    assert!(is_unique_violation(&e), "{e}");
    drop(tx);

    // Once cancelled, the slot may be sold again.
    let mut tx = t.db.begin().await.unwrap();
    assert!(booking::set_status(&mut tx, org, first.id, &["booked"], "cancelled", Some("改期"), now()).await.unwrap());
    assert_eq!(roster::release(&mut tx, org, s.id, first.id).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let second = booking_of(&s, 1, Uuid::now_v7(), "booked");
    book(&t.db, &second).await;
    assert_eq!(booking::oversold(&t.db, org).await.unwrap(), 0);
    let seqs: Vec<(i64, String)> =
        booking::of_session(&t.db, org, s.id).await.unwrap().into_iter().map(|b| (b.seq, b.status)).collect();
    assert_eq!(seqs, vec![(1, "cancelled".to_string()), (1, "booked".to_string())]);

    // An active booking whose slot does not point back at it is oversold.
    put(&t.db, &[booking_of(&s, 2, Uuid::now_v7(), "booked")]).await;
    assert_eq!(booking::oversold(&t.db, org).await.unwrap(), 1);
}

async fn status_moves_happen_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let s = session_row(org, Uuid::now_v7(), "2026-12-01", 9_000);
    put_session(&t.db, &s).await;
    let (a, b) = (booking_of(&s, 1, Uuid::now_v7(), "booked"), booking_of(&s, 2, Uuid::now_v7(), "booked"));
    put(&t.db, &[a.clone(), b.clone()]).await;

    let mut tx = t.db.begin().await.unwrap();
    // Another organisation cannot touch the booking.
    assert!(!booking::check_in(&mut tx, other, a.id, 7).await.unwrap());
    assert!(!booking::set_status(&mut tx, other, b.id, &["booked"], "cancelled", None, 7).await.unwrap());
    assert!(booking::check_in(&mut tx, org, a.id, 7).await.unwrap());
    assert!(!booking::check_in(&mut tx, org, a.id, 8).await.unwrap(), "arrival is recorded once");
    // Either of two states may be left; a third is refused.
    assert!(!booking::set_status(&mut tx, org, b.id, &["checked_in", "no_show"], "cancelled", None, 8).await.unwrap());
    assert!(
        booking::set_status(&mut tx, org, b.id, &["checked_in", "booked"], "cancelled", Some("退号"), 8).await.unwrap()
    );
    // A later move without a reason keeps the first one.
    assert!(booking::set_status(&mut tx, org, b.id, &["cancelled"], "refunded", None, 9).await.unwrap());
    tx.commit().await.unwrap();

    let a = booking::get(&t.db, org, a.id).await.unwrap().unwrap();
    assert_eq!((a.status.as_str(), a.checked_in_at, a.updated_at), ("checked_in", Some(7), 7));
    let b = booking::get(&t.db, org, b.id).await.unwrap().unwrap();
    assert_eq!((b.status.as_str(), b.cancel_reason.as_deref(), b.updated_at), ("refunded", Some("退号"), 9));
    assert!(booking::get(&t.db, other, a.id).await.unwrap().is_none());
}

async fn reads_keep_their_order_and_org(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let dept = Uuid::now_v7();
    let (d1, d2, d3) = (
        session_row(org, dept, "2026-12-01", 9_000),
        session_row(org, dept, "2026-12-02", 9_000),
        session_row(other, dept, "2026-12-01", 9_000),
    );
    for s in [&d1, &d2, &d3] {
        put_session(&t.db, s).await;
    }
    let p = Uuid::now_v7();
    // Inserted out of order, so the reads must sort.
    let rows = vec![
        booking_of(&d2, 1, p, "booked"),
        booking_of(&d1, 3, p, "cancelled"),
        booking_of(&d1, 2, p, "checked_in"),
        booking_of(&d1, 1, Uuid::now_v7(), "booked"),
    ];
    put(&t.db, &rows).await;
    let mut foreign = booking_of(&d3, 1, p, "booked");
    foreign.reg_no = rows[0].reg_no.clone();
    put(&t.db, std::slice::from_ref(&foreign)).await;

    let mine: Vec<(String, i64)> = booking::of_patient(&t.db, org, p, "2026-12-01", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.day, b.seq))
        .collect();
    let want = [("2026-12-01", 2), ("2026-12-01", 3), ("2026-12-02", 1)];
    assert_eq!(mine, want.map(|(d, s)| (d.to_string(), s)));
    assert_eq!(booking::of_patient(&t.db, org, p, "2026-12-02", 10).await.unwrap()[0].id, rows[0].id);
    assert_eq!(booking::of_patient(&t.db, org, p, "2026-12-01", 1).await.unwrap()[0].id, rows[2].id);

    let seqs: Vec<i64> = booking::of_session(&t.db, org, d1.id).await.unwrap().iter().map(|b| b.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let mut tx = t.db.begin().await.unwrap();
    let active: Vec<i64> =
        booking::active_of_session(&mut tx, org, d1.id).await.unwrap().iter().map(|b| b.seq).collect();
    assert_eq!(active, vec![1, 2], "a cancelled booking is not active");
    assert!(booking::active_of_session(&mut tx, org, d3.id).await.unwrap().is_empty());
    drop(tx);

    // The same registration number in two hospitals names two bookings.
    assert_eq!(booking::by_reg_no(&t.db, org, &rows[0].reg_no).await.unwrap(), Some(rows[0].clone()));
    assert_eq!(booking::by_reg_no(&t.db, other, &rows[0].reg_no).await.unwrap().unwrap().id, foreign.id);
}

async fn no_shows_lead_to_a_block(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let dept = Uuid::now_v7();
    let (ended, later) = (session_row(org, dept, "2026-12-01", 5_000), session_row(org, dept, "2026-12-01", 50_000));
    for s in [&ended, &later] {
        put_session(&t.db, s).await;
    }
    let p = Uuid::now_v7();
    let (missed, came, pending) = (
        booking_of(&ended, 1, p, "booked"),
        booking_of(&ended, 2, p, "checked_in"),
        booking_of(&later, 1, p, "booked"),
    );
    put(&t.db, &[missed.clone(), came, pending]).await;

    let due = booking::unattended(&t.db, org, 10_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|b| b.id).collect::<Vec<_>>(), vec![missed.id]);
    assert!(booking::unattended(&t.db, other, 10_000, 10).await.unwrap().is_empty());

    let mut tx = t.db.begin().await.unwrap();
    assert!(booking::set_status(&mut tx, org, missed.id, &["booked"], "no_show", None, now()).await.unwrap());
    assert_eq!(booking::no_shows_since(&mut tx, org, p, "2026-11-01").await.unwrap(), 1);
    assert_eq!(booking::no_shows_since(&mut tx, org, p, "2026-12-02").await.unwrap(), 0);
    assert_eq!(booking::blocked_until(&mut tx, org, p).await.unwrap(), None);
    booking::block(&mut tx, org, p, "2027-01-01", 3, now()).await.unwrap();
    // A second block replaces the first rather than failing.
    booking::block(&mut tx, org, p, "2027-03-01", 4, now()).await.unwrap();
    assert_eq!(booking::blocked_until(&mut tx, org, p).await.unwrap().as_deref(), Some("2027-03-01"));
    assert_eq!(booking::blocked_until(&mut tx, other, p).await.unwrap(), None);
    tx.commit().await.unwrap();
    assert!(booking::unattended(&t.db, org, 10_000, 10).await.unwrap().is_empty(), "recorded once");
}

fn fee(b: &Booking, status: &str, at: i64) -> Charge {
    Charge {
        org_id: b.org_id,
        id: Uuid::now_v7(),
        patient_id: b.patient_id,
        booking_id: Some(b.id),
        item_code: "110200001".into(),
        item_name: "普通门诊诊查费".into(),
        category: "13".into(),
        unit_fen: b.fee_fen,
        quantity: 1,
        amount_fen: b.fee_fen,
        status: status.into(),
        created_by: "reg01".into(),
        created_at: at,
        updated_at: at,
        visit_id: None,
        order_id: None,
        payment_id: None,
        refund_id: None,
    }
}

async fn registration_fees_are_voided_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let s = session_row(org, Uuid::now_v7(), "2026-12-01", 9_000);
    put_session(&t.db, &s).await;
    let b = booking_of(&s, 1, Uuid::now_v7(), "booked");
    put(&t.db, std::slice::from_ref(&b)).await;
    let (paid, unpaid) = (fee(&b, "paid", 20), fee(&b, "unpaid", 10));
    let mut tx = t.db.begin().await.unwrap();
    booking::insert_charges(&mut tx, &[paid.clone(), unpaid.clone()]).await.unwrap();
    assert_eq!(booking::void_unpaid(&mut tx, other, b.id, 30).await.unwrap(), 0);
    assert_eq!(booking::void_unpaid(&mut tx, org, b.id, 30).await.unwrap(), 1);
    assert_eq!(booking::void_unpaid(&mut tx, org, b.id, 31).await.unwrap(), 0, "nothing left to void");
    tx.commit().await.unwrap();

    let read = booking::charges_of_booking(&t.db, org, b.id).await.unwrap();
    let got: Vec<(Uuid, &str, i64)> = read.iter().map(|c| (c.id, c.status.as_str(), c.updated_at)).collect();
    assert_eq!(got, vec![(unpaid.id, "void", 30), (paid.id, "paid", 20)], "oldest first");
    assert_eq!(read[1], paid, "every column read back");
    assert!(booking::charges_of_booking(&t.db, other, b.id).await.unwrap().is_empty());
}

async fn bookings_are_walked_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let dept = Uuid::now_v7();
    let (s, t2) = (session_row(org, dept, "2026-12-01", 9_000), session_row(other, dept, "2026-12-01", 9_000));
    put_session(&t.db, &s).await;
    put_session(&t.db, &t2).await;
    let rows: Vec<Booking> = (1..=4).map(|n| booking_of(&s, n, Uuid::now_v7(), "booked")).collect();
    put(&t.db, &rows).await;
    put(&t.db, &[booking_of(&t2, 1, Uuid::now_v7(), "booked")]).await;

    let (mut seen, mut step) = (vec![], Step { after: After::Start, limit: 3, count: true });
    let first = booking::walk(&t.db, org, &step).await.unwrap();
    assert_eq!((first.total, first.rows.len(), first.more), (Some(4), 3, true));
    seen.extend(first.rows.iter().map(|b| b.id));
    step = Step { after: After::Id(*seen.last().unwrap()), limit: 3, count: false };
    let second = booking::walk(&t.db, org, &step).await.unwrap();
    assert_eq!((second.total, second.more), (None, false));
    seen.extend(second.rows.iter().map(|b| b.id));
    let mut want: Vec<Uuid> = rows.iter().map(|b| b.id).collect();
    want.sort();
    assert_eq!(seen, want);
}

fn scan(org: Uuid, patient: Uuid, at: i64, step: &str) -> CardUse {
    CardUse {
        org_id: org,
        id: Uuid::now_v7(),
        at,
        patient_id: patient,
        code_kind: "ehc_qr".into(),
        step: step.into(),
        station: "一楼挂号处".into(),
        staff_id: Some(Uuid::now_v7()),
        on_behalf: step == "register",
    }
}

async fn arrival_scans_are_logged(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let (p, q) = (Uuid::now_v7(), Uuid::now_v7());
    let rows = [scan(org, p, 10, "register"), scan(org, p, 30, "check_in"), scan(org, p, 20, "triage")];
    let mut tx = t.db.begin().await.unwrap();
    for u in rows.iter().chain([&scan(org, q, 40, "register"), &scan(other, p, 50, "register")]) {
        card::log_use(&mut tx, u).await.unwrap();
    }
    tx.commit().await.unwrap();
    let got = card::uses(&t.db, org, p, 10).await.unwrap();
    assert_eq!(got, vec![rows[1].clone(), rows[2].clone(), rows[0].clone()], "newest first, own patient and org");
    assert_eq!(card::uses(&t.db, org, p, 1).await.unwrap(), vec![rows[1].clone()]);
}
