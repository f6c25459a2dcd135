//! The read-backs the load generator checks a run with: booking-rule
//! breaches, bookings by channel, what a range of lab tubes left behind, and
//! folding SQLite's log into the file. On SQLite and PostgreSQL.

use std::collections::HashSet;

use dayi_store::booking::{self, Booking, Per};
use dayi_store::lab::tally::{self, BarcodeTally};
use dayi_store::lab::{self, LabResult, LabTest, Specimen};
use dayi_store::{Db, db};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    rule_breaches_count_active_groups_of_one_org,
    bookings_are_read_by_channel,
    a_barcode_range_is_tallied,
    the_log_is_folded_into_the_file
);

/// Where a booking sits: session, department, day.
type At = (Uuid, Uuid, &'static str);

fn booking(org: Uuid, at: At, seq: i64, patient: Uuid, status: &str) -> Booking {
    let id = Uuid::now_v7();
    Booking {
        org_id: org,
        id,
        reg_no: id.simple().to_string(),
        session_id: at.0,
        seq,
        slot_start: seq * 1_000,
        patient_id: patient,
        dept_id: at.1,
        day: at.2.into(),
        fee_fen: 500,
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

async fn put_bookings(db: &Db, rows: &[Booking]) {
    let mut tx = db.begin().await.unwrap();
    booking::insert(&mut tx, rows).await.unwrap();
    tx.commit().await.unwrap();
}

async fn rule_breaches_count_active_groups_of_one_org(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let s1: At = (Uuid::now_v7(), a, "2026-12-01");
    let s2: At = (Uuid::now_v7(), a, "2026-12-01");
    let s3: At = (Uuid::now_v7(), b, "2026-12-01");
    let (p, q, r) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    put_bookings(
        &t.db,
        &[
            // p: four active on the day, three in department a, two in s1.
            booking(org, s1, 1, p, "booked"),
            booking(org, s1, 2, p, "checked_in"),
            booking(org, s2, 1, p, "booked"),
            booking(org, s3, 1, p, "booked"),
            // q: one active in s1; the cancelled one does not count.
            booking(org, s1, 3, q, "cancelled"),
            booking(org, s1, 4, q, "booked"),
            // r: the other organisation's, well over every limit.
            booking(other, s1, 1, r, "booked"),
            booking(other, s1, 2, r, "booked"),
            booking(other, s1, 3, r, "booked"),
        ],
    )
    .await;
    let over = |per, limit| booking::groups_over(&t.db, org, per, limit);
    assert_eq!(over(Per::Day, 1).await.unwrap(), 1);
    assert_eq!(over(Per::Day, 3).await.unwrap(), 1);
    assert_eq!(over(Per::Day, 4).await.unwrap(), 0);
    assert_eq!(over(Per::DeptDay, 2).await.unwrap(), 1);
    assert_eq!(over(Per::DeptDay, 3).await.unwrap(), 0);
    assert_eq!(over(Per::Session, 1).await.unwrap(), 1);
    assert_eq!(over(Per::Session, 2).await.unwrap(), 0);
    // r alone breaks each limit once in the other organisation.
    assert_eq!(booking::groups_over(&t.db, other, Per::Session, 1).await.unwrap(), 1);
    assert_eq!(booking::groups_over(&t.db, other, Per::Day, 3).await.unwrap(), 0);
}

async fn bookings_are_read_by_channel(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let s: At = (Uuid::now_v7(), Uuid::now_v7(), "2026-12-02");
    let portal = |o, seq, status| Booking { channel: "portal".into(), ..booking(o, s, seq, Uuid::now_v7(), status) };
    let mine = [portal(org, 1, "booked"), portal(org, 2, "cancelled")];
    put_bookings(&t.db, &mine).await;
    put_bookings(&t.db, &[booking(org, s, 3, Uuid::now_v7(), "booked"), portal(other, 1, "booked")]).await;

    let got = booking::of_channel(&t.db, org, "portal").await.unwrap();
    let ids: HashSet<Uuid> = got.iter().map(|b| b.id).collect();
    assert_eq!(ids, mine.iter().map(|b| b.id).collect());
    let cancelled = got.iter().find(|b| b.seq == 2).unwrap();
    assert_eq!((cancelled.status.as_str(), cancelled.session_id), ("cancelled", s.0));
    assert_eq!(booking::of_channel(&t.db, org, "counter").await.unwrap().len(), 1);
    assert!(booking::of_channel(&t.db, org, "kiosk").await.unwrap().is_empty());
}

fn specimen(org: Uuid, barcode: &str, status: &str) -> Specimen {
    Specimen {
        org_id: org,
        id: Uuid::now_v7(),
        barcode: barcode.into(),
        patient_id: Uuid::now_v7(),
        visit_id: Uuid::now_v7(),
        kind: "blood".into(),
        tube: "EDTA".into(),
        status: status.into(),
        reject_reason: String::new(),
        collected_by: "nurse01".into(),
        collected_at: now(),
        received_by: None,
        received_at: None,
        updated_at: now(),
    }
}

fn test_of(s: &Specimen, status: &str) -> LabTest {
    LabTest {
        org_id: s.org_id,
        order_id: Uuid::now_v7(),
        specimen_id: s.id,
        visit_id: s.visit_id,
        patient_id: s.patient_id,
        doctor_id: Uuid::now_v7(),
        panel_code: "CBC".into(),
        panel_name: "血常规".into(),
        status: status.into(),
        verified_by: None,
        verified_at: None,
        updated_at: now(),
    }
}

fn result_of(t: &LabTest, item: &str, version: i64) -> LabResult {
    LabResult {
        org_id: t.org_id,
        id: Uuid::now_v7(),
        order_id: t.order_id,
        specimen_id: t.specimen_id,
        patient_id: t.patient_id,
        item_code: item.into(),
        item_name: item.into(),
        loinc: String::new(),
        value: "5.1".into(),
        milli: Some(5_100),
        unit: "10^9/L".into(),
        flag: "N".into(),
        range_text: "3.5-9.5".into(),
        version,
        current: true,
        source: "hl7:LIS".into(),
        entered_by: "lab01".into(),
        entered_at: now(),
        reason: String::new(),
    }
}

/// Stores a tube with its one test and the given (item, version) results.
async fn put_tube(db: &Db, s: &Specimen, test_status: &str, results: &[(&str, i64)]) {
    let t = test_of(s, test_status);
    let rows: Vec<LabResult> = results.iter().map(|(item, v)| result_of(&t, item, *v)).collect();
    let mut tx = db.begin().await.unwrap();
    lab::insert_specimen(&mut tx, s).await.unwrap();
    lab::upsert_tests(&mut tx, std::slice::from_ref(&t)).await.unwrap();
    lab::insert_results(&mut tx, &rows).await.unwrap();
    tx.commit().await.unwrap();
}

async fn a_barcode_range_is_tallied(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    // In the range: a verified tube with WBC stored twice, a received tube
    // not yet resulted, a tube only collected (sorts between the two).
    put_tube(&t.db, &specimen(org, "L0001", "received"), "verified", &[("WBC", 1), ("WBC", 2), ("RBC", 1)]).await;
    put_tube(&t.db, &specimen(org, "L0002", "received"), "received", &[]).await;
    put_tube(&t.db, &specimen(org, "L0001A", "collected"), "collected", &[]).await;
    // Outside it: a later barcode, and the same barcode in another organisation.
    put_tube(&t.db, &specimen(org, "L0003", "received"), "resulted", &[("WBC", 1), ("WBC", 2)]).await;
    put_tube(&t.db, &specimen(other, "L0001", "received"), "verified", &[("WBC", 1), ("WBC", 2)]).await;

    let got = tally::of_barcodes(&t.db, org, "L0001", "L0002").await.unwrap();
    assert_eq!(got, BarcodeTally { results: 3, received: 2, resulted: 1, repeated: 1 });
    let wide = tally::of_barcodes(&t.db, org, "L0001", "L0009").await.unwrap();
    assert_eq!(wide, BarcodeTally { results: 5, received: 3, resulted: 2, repeated: 2 });
    assert_eq!(tally::of_barcodes(&t.db, org, "M", "N").await.unwrap(), BarcodeTally::default());
}

async fn the_log_is_folded_into_the_file(t: &TestDb) {
    make_org(&t.db, "h1").await;
    let wal = db::sqlite_path(&t.url).map(|f| format!("{f}-wal"));
    let wal_bytes = || wal.as_ref().map_or(0, |w| std::fs::metadata(w).map_or(0, |m| m.len()));
    // The commit above left its pages in SQLite's log.
    assert_eq!(wal_bytes() > 0, !t.db.is_postgres());
    assert!(t.db.fold_log().await.unwrap());
    assert_eq!(wal_bytes(), 0);
    // Still all there, read through the file.
    assert!(dayi_store::tenancy::org_by_code(&t.db, "h1").await.unwrap().is_some());
}
