//! Billing stories (收费), on SQLite and PostgreSQL: every change of money is
//! conditional, so a repeated request finds nothing left to change.

use dayi_store::billing::{self, Closing, LocalMove, LocalOrder, Movement, Payment, Refund};
use dayi_store::booking::{self, Charge};
use dayi_store::{Db, Tx};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    a_charge_is_settled_once,
    a_failed_payment_lets_its_charges_go,
    payments_and_their_parts_are_stored_once,
    a_till_is_closed_once,
    the_local_provider_refunds_no_more_than_was_paid,
);

fn charge(org: Uuid, patient: Uuid, fen: i64, at: i64) -> Charge {
    Charge {
        org_id: org,
        id: Uuid::now_v7(),
        patient_id: patient,
        booking_id: None,
        item_code: "250101001".into(),
        item_name: "血常规".into(),
        category: "04".into(),
        unit_fen: fen,
        quantity: 1,
        amount_fen: fen,
        status: "unpaid".into(),
        created_by: "doc01".into(),
        created_at: at,
        updated_at: at,
        visit_id: Some(Uuid::now_v7()),
        order_id: Some(Uuid::now_v7()),
        payment_id: None,
        refund_id: None,
    }
}

fn payment(org: Uuid, patient: Uuid, key: &str, method: &str, status: &str, fen: i64) -> Payment {
    let id = Uuid::now_v7();
    Payment {
        org_id: org,
        id,
        pay_no: format!("P{}", id.simple()),
        idem_key: key.into(),
        patient_id: patient,
        method: method.into(),
        channel: "counter".into(),
        amount_fen: fen,
        tendered_fen: fen,
        change_fen: 0,
        status: status.into(),
        provider: String::new(),
        pay_url: String::new(),
        transaction_id: None,
        account: "cash01".into(),
        cashier: "cash01".into(),
        closing_id: None,
        created_at: now(),
        paid_at: None,
        updated_at: now(),
    }
}

async fn put_charges(db: &Db, rows: &[Charge]) {
    let mut tx = db.begin().await.unwrap();
    booking::insert_charges(&mut tx, rows).await.unwrap();
    tx.commit().await.unwrap();
}

async fn put_payment(tx: &mut Tx, p: &Payment) {
    assert!(billing::insert_payment(tx, p).await.unwrap());
}

fn ids(rows: &[Charge]) -> Vec<Uuid> {
    rows.iter().map(|c| c.id).collect()
}

async fn a_charge_is_settled_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let pat = Uuid::now_v7();
    let (a, b) = (charge(org, pat, 2_000, 1), charge(org, pat, 3_000, 2));
    put_charges(&t.db, &[b.clone(), a.clone()]).await;
    let (p, q) = (payment(org, pat, "k1", "cash", "paid", 5_000), payment(org, pat, "k2", "cash", "paid", 5_000));

    let mut tx = t.db.begin().await.unwrap();
    put_payment(&mut tx, &p).await;
    put_payment(&mut tx, &q).await;
    assert_eq!(billing::hold(&mut tx, other, &[a.id, b.id], p.id, 5).await.unwrap(), 0);
    assert_eq!(billing::hold(&mut tx, org, &[a.id, b.id], p.id, 5).await.unwrap(), 2);
    // A second payment finds the charges taken by one still in force.
    assert_eq!(billing::hold(&mut tx, org, &[a.id, b.id], q.id, 6).await.unwrap(), 0);
    assert_eq!(billing::settle(&mut tx, org, p.id, 7).await.unwrap(), 2);
    assert_eq!(billing::settle(&mut tx, org, p.id, 8).await.unwrap(), 0, "settled once");
    assert_eq!(billing::settle(&mut tx, org, q.id, 8).await.unwrap(), 0);
    assert!(!billing::void_free(&mut tx, org, a.id, 8).await.unwrap(), "a paid charge is not voided");
    let held = billing::charges_of_payment(&mut tx, org, p.id).await.unwrap();
    assert_eq!(
        held.iter().map(|c| (c.id, c.status.as_str(), c.updated_at)).collect::<Vec<_>>(),
        [(a.id, "paid", 7), (b.id, "paid", 7)]
    );
    let refund = Uuid::now_v7();
    assert_eq!(billing::refund_charges(&mut tx, org, &[a.id], refund, 9).await.unwrap(), 1);
    assert_eq!(billing::refund_charges(&mut tx, org, &[a.id], Uuid::now_v7(), 10).await.unwrap(), 0);
    tx.commit().await.unwrap();

    assert!(billing::charges_of(&t.db, org, pat, &["unpaid"]).await.unwrap().is_empty());
    let refunded = billing::charges_of(&t.db, org, pat, &["refunded"]).await.unwrap();
    assert_eq!(refunded.iter().map(|c| (c.id, c.refund_id)).collect::<Vec<_>>(), [(a.id, Some(refund))]);
    assert_eq!(ids(&billing::charges_of(&t.db, org, pat, &["paid", "refunded"]).await.unwrap()), [a.id, b.id]);
    assert!(billing::charges_of(&t.db, other, pat, &["paid", "refunded"]).await.unwrap().is_empty());
}

async fn a_failed_payment_lets_its_charges_go(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let pat = Uuid::now_v7();
    let (a, b) = (charge(org, pat, 2_000, 1), charge(org, pat, 3_000, 2));
    put_charges(&t.db, &[a.clone(), b.clone()]).await;
    let online = payment(org, pat, "web1", "online", "created", 2_000);
    let mut tx = t.db.begin().await.unwrap();
    put_payment(&mut tx, &online).await;
    assert_eq!(billing::hold(&mut tx, org, &[a.id], online.id, 3).await.unwrap(), 1);
    // The patient is paying online: the counter may not void or take it.
    assert!(!billing::void_free(&mut tx, org, a.id, 4).await.unwrap());
    assert!(billing::void_free(&mut tx, org, b.id, 4).await.unwrap());
    assert!(!billing::void_free(&mut tx, org, b.id, 5).await.unwrap(), "voided once");
    let counter = payment(org, pat, "k1", "cash", "paid", 2_000);
    put_payment(&mut tx, &counter).await;
    assert_eq!(billing::hold(&mut tx, org, &[a.id], counter.id, 5).await.unwrap(), 0);

    assert!(billing::set_payment_status(&mut tx, org, online.id, &["created"], "failed", None, 6).await.unwrap());
    assert!(!billing::set_payment_status(&mut tx, org, online.id, &["created"], "paid", Some("T1"), 7).await.unwrap());
    // Once the online payment failed, the counter can take the charge.
    assert_eq!(billing::hold(&mut tx, org, &[a.id], counter.id, 8).await.unwrap(), 1);
    assert_eq!(billing::release(&mut tx, org, online.id, 9).await.unwrap(), 0, "no longer its charge");
    assert_eq!(billing::release(&mut tx, org, counter.id, 9).await.unwrap(), 1);
    tx.commit().await.unwrap();
    let read = billing::charges_of(&t.db, org, pat, &["unpaid", "void"]).await.unwrap();
    let got: Vec<_> = read.iter().map(|c| (c.id, c.status.as_str(), c.payment_id)).collect();
    assert_eq!(got, [(a.id, "unpaid", None), (b.id, "void", None)]);
}

async fn payments_and_their_parts_are_stored_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let pat = Uuid::now_v7();
    let mut p = payment(org, pat, "k1", "online", "created", 10_000);
    p.created_at = 100;
    let mut older = payment(org, pat, "k0", "cash", "paid", 500);
    older.created_at = 50;
    let mut tx = t.db.begin().await.unwrap();
    put_payment(&mut tx, &p).await;
    put_payment(&mut tx, &older).await;
    // The same request key again is a repeat, not a second payment.
    assert!(!billing::insert_payment(&mut tx, &payment(org, pat, "k1", "cash", "paid", 10_000)).await.unwrap());
    assert!(billing::insert_payment(&mut tx, &payment(other, pat, "k1", "cash", "paid", 1)).await.unwrap());
    billing::insert_parts(&mut tx, org, p.id, &[("self_online", 4_000), ("fund", 6_000)]).await.unwrap();
    billing::set_pay_url(&mut tx, org, p.id, "https://pay.example/x").await.unwrap();
    assert!(
        billing::set_payment_status(&mut tx, org, p.id, &["created", "failed"], "paid", Some("T9"), 200).await.unwrap()
    );
    assert!(!billing::set_payment_status(&mut tx, org, p.id, &["created"], "paid", Some("T10"), 300).await.unwrap());
    assert_eq!(billing::pay_no(&mut tx, org, p.id).await.unwrap(), Some(p.pay_no.clone()));
    tx.commit().await.unwrap();

    assert_eq!(
        billing::parts_of(&t.db, org, p.id).await.unwrap(),
        [("fund".to_string(), 6_000), ("self_online".to_string(), 4_000)]
    );
    assert!(billing::parts_of(&t.db, other, p.id).await.unwrap().is_empty());
    let read = billing::payment(&t.db, org, p.id).await.unwrap().unwrap();
    let want = (Some("T9"), Some(200), "paid", "https://pay.example/x");
    assert_eq!((read.transaction_id.as_deref(), read.paid_at, read.status.as_str(), read.pay_url.as_str()), want);
    assert_eq!(billing::payment_by_key(&t.db, org, "k1").await.unwrap().unwrap().id, p.id);
    assert_eq!(billing::payment_by_no(&t.db, org, &p.pay_no).await.unwrap(), Some(read));
    assert!(billing::payment(&t.db, other, p.id).await.unwrap().is_none());
    let mine: Vec<Uuid> = billing::payments_of(&t.db, org, pat, 10).await.unwrap().iter().map(|p| p.id).collect();
    assert_eq!(mine, [p.id, older.id], "newest first");
    assert_eq!(billing::payments_of(&t.db, org, pat, 1).await.unwrap().len(), 1);
}

fn refund_of(p: &Payment, key: &str, fen: i64, status: &str) -> Refund {
    let id = Uuid::now_v7();
    Refund {
        org_id: p.org_id,
        id,
        refund_no: format!("R{}", id.simple()),
        idem_key: key.into(),
        payment_id: p.id,
        patient_id: p.patient_id,
        method: p.method.clone(),
        amount_fen: fen,
        status: status.into(),
        provider_id: None,
        reason: "退费".into(),
        account: p.account.clone(),
        cashier: p.cashier.clone(),
        closing_id: None,
        created_at: now(),
    }
}

fn sorted(mut v: Vec<Movement>) -> Vec<(String, i64)> {
    v.sort_by_key(|m| m.fen);
    v.into_iter().map(|m| (m.method, m.fen)).collect()
}

async fn a_till_is_closed_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let pat = Uuid::now_v7();
    let cash = payment(org, pat, "k1", "cash", "paid", 5_000);
    let card = payment(org, pat, "k2", "card", "paid", 3_000);
    let pending = payment(org, pat, "k3", "cash", "created", 9_000);
    let mut elsewhere = payment(org, pat, "k4", "cash", "paid", 7_000);
    elsewhere.account = "cash02".into();
    let (done, waiting) = (refund_of(&cash, "r1", 1_000, "done"), refund_of(&card, "r2", 500, "processing"));
    let mut tx = t.db.begin().await.unwrap();
    for p in [&cash, &card, &pending, &elsewhere] {
        put_payment(&mut tx, p).await;
    }
    assert!(billing::insert_refund(&mut tx, &done).await.unwrap());
    assert!(!billing::insert_refund(&mut tx, &refund_of(&cash, "r1", 1_000, "done")).await.unwrap(), "a repeat");
    assert!(billing::insert_refund(&mut tx, &waiting).await.unwrap());
    let open = sorted(billing::open_movements(&mut tx, org, "cash01").await.unwrap());
    assert_eq!(open, [("cash".to_string(), -1_000), ("card".to_string(), 3_000), ("cash".to_string(), 5_000)]);
    let closing = Uuid::now_v7();
    assert_eq!(billing::close_movements(&mut tx, org, "cash01", closing).await.unwrap(), (2, 1));
    assert_eq!(billing::close_movements(&mut tx, org, "cash01", Uuid::now_v7()).await.unwrap(), (0, 0));
    assert!(billing::open_movements(&mut tx, org, "cash01").await.unwrap().is_empty());
    // The card refund completes later and counts in the next closing.
    billing::set_refund(&mut tx, org, waiting.id, "done", Some("PR1")).await.unwrap();
    billing::set_refund(&mut tx, org, waiting.id, "done", None).await.unwrap();
    assert_eq!(sorted(billing::open_movements(&mut tx, org, "cash01").await.unwrap()), [("card".to_string(), -500)]);
    let c = Closing {
        org_id: org,
        id: closing,
        account: "cash01".into(),
        closed_by: "cash01".into(),
        payments: 2,
        refunds: 1,
        paid_fen: 8_000,
        refunded_fen: 1_000,
        net_fen: 7_000,
        lines: "{}".into(),
        created_at: now(),
    };
    billing::insert_closing(&mut tx, &c).await.unwrap();
    tx.commit().await.unwrap();

    let closed = sorted(billing::closed_movements(&t.db, org, closing).await.unwrap());
    assert_eq!(closed, [("cash".to_string(), -1_000), ("card".to_string(), 3_000), ("cash".to_string(), 5_000)]);
    assert_eq!(billing::closing(&t.db, org, closing).await.unwrap(), Some(c.clone()));
    assert_eq!(billing::closings(&t.db, org, "cash01", 5).await.unwrap(), [c]);
    assert!(billing::closings(&t.db, org, "cash02", 5).await.unwrap().is_empty());
    let refunds = billing::refunds_of_payment(&t.db, org, card.id).await.unwrap();
    assert_eq!(
        refunds.iter().map(|r| (r.status.as_str(), r.provider_id.as_deref())).collect::<Vec<_>>(),
        [("done", Some("PR1"))]
    );
    assert_eq!(billing::refund_by_key(&t.db, org, "r1").await.unwrap().unwrap().id, done.id);
}

async fn the_local_provider_refunds_no_more_than_was_paid(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let o = LocalOrder {
        org_id: org,
        out_trade_no: "P001".into(),
        amount_fen: 5_000,
        description: "门诊缴费".into(),
        notify_url: "http://localhost/notify".into(),
        return_url: "http://localhost/back".into(),
        state: "created".into(),
        transaction_id: None,
        paid_fen: 0,
        refunded_fen: 0,
        notified: 0,
        created_at: 1,
        updated_at: 1,
    };
    assert!(billing::local_insert(&t.db, &o).await.unwrap());
    assert!(!billing::local_insert(&t.db, &o).await.unwrap(), "the number exists");
    let paid = || LocalMove { to: "paid", transaction_id: Some("LT1"), paid_fen: 5_000, at: 2 };
    assert!(!billing::local_set(&t.db, other, "P001", "created", paid()).await.unwrap());
    assert!(billing::local_set(&t.db, org, "P001", "created", paid()).await.unwrap());
    assert!(!billing::local_set(&t.db, org, "P001", "created", paid()).await.unwrap(), "paid once");
    billing::local_notified(&t.db, org, "P001").await.unwrap();
    billing::local_notified(&t.db, org, "P001").await.unwrap();

    let first = billing::local_refund(&t.db, org, "P001", "R1", 3_000, 3).await.unwrap().unwrap();
    // The same refund number answers the same refund and takes nothing more.
    assert_eq!(billing::local_refund(&t.db, org, "P001", "R1", 3_000, 4).await.unwrap(), Some(first));
    assert_eq!(billing::local_refund(&t.db, org, "P001", "R2", 2_001, 5).await.unwrap(), None);
    assert!(billing::local_refund(&t.db, org, "P001", "R3", 2_000, 6).await.unwrap().is_some());
    let read = billing::local_get(&t.db, org, "P001").await.unwrap().unwrap();
    let got = (read.state.as_str(), read.transaction_id.as_deref(), read.paid_fen, read.refunded_fen, read.notified);
    assert_eq!(got, ("refunded", Some("LT1"), 5_000, 5_000, 2));
    assert!(billing::local_get(&t.db, other, "P001").await.unwrap().is_none());
}
