//! Lab stories (检验), on SQLite and PostgreSQL: tubes received once, tests
//! moved once, corrections that retire the old version, critical values
//! acknowledged once, and the published lookups that see only verified
//! tests' current results.

use dayi_store::lab::query::{self, Code, Filter};
use dayi_store::lab::{self, LabAlert, LabResult, LabTest, Specimen};
use dayi_store::visit::{self, Order};
use dayi_store::walk::{After, Step};
use dayi_store::{Db, Tx};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    a_specimen_is_received_once,
    tests_move_once_and_a_redraw_starts_over,
    a_correction_retires_the_old_version,
    orders_to_collect,
    a_critical_value_is_acknowledged_once,
    only_verified_current_results_are_published,
);

/// The patient, visit and doctor a story's lab work belongs to.
#[derive(Clone, Copy)]
struct Case {
    org: Uuid,
    patient: Uuid,
    visit: Uuid,
    doctor: Uuid,
}

fn case(org: Uuid) -> Case {
    Case { org, patient: Uuid::now_v7(), visit: Uuid::now_v7(), doctor: Uuid::now_v7() }
}

fn tube(c: Case, barcode: &str, at: i64) -> Specimen {
    Specimen {
        org_id: c.org,
        id: Uuid::now_v7(),
        barcode: barcode.into(),
        patient_id: c.patient,
        visit_id: c.visit,
        kind: "全血".into(),
        tube: "紫头管".into(),
        status: "collected".into(),
        reject_reason: String::new(),
        collected_by: "nurse01".into(),
        collected_at: at,
        received_by: None,
        received_at: None,
        updated_at: at,
    }
}

fn test_of(c: Case, s: &Specimen, panel: &str) -> LabTest {
    LabTest {
        org_id: c.org,
        order_id: Uuid::now_v7(),
        specimen_id: s.id,
        visit_id: c.visit,
        patient_id: c.patient,
        doctor_id: c.doctor,
        panel_code: panel.into(),
        panel_name: panel.into(),
        status: "collected".into(),
        verified_by: None,
        verified_at: None,
        updated_at: s.collected_at,
    }
}

fn result_of(t: &LabTest, item: &str, loinc: &str, value: i64, version: i64, at: i64) -> LabResult {
    LabResult {
        org_id: t.org_id,
        id: Uuid::now_v7(),
        order_id: t.order_id,
        specimen_id: t.specimen_id,
        patient_id: t.patient_id,
        item_code: item.into(),
        item_name: item.into(),
        loinc: loinc.into(),
        value: format!("{}", value as f64 / 1000.0),
        milli: Some(value),
        unit: "mmol/L".into(),
        flag: "N".into(),
        range_text: "3.9-6.1".into(),
        version,
        current: true,
        source: "manual".into(),
        entered_by: "lab01".into(),
        entered_at: at,
        reason: String::new(),
    }
}

async fn put_tube(tx: &mut Tx, s: &Specimen, tests: &[LabTest]) {
    lab::insert_specimen(tx, s).await.unwrap();
    lab::upsert_tests(tx, tests).await.unwrap();
}

async fn status(db: &Db, s: &Specimen) -> String {
    lab::specimen(db, s.org_id, s.id).await.unwrap().unwrap().status
}

async fn a_specimen_is_received_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let c = case(org);
    let (a, b, old) = (tube(c, "A001", 20), tube(c, "A002", 30), tube(c, "A000", 5));
    let foreign = tube(case(other), "A001", 20);
    let mut tx = t.db.begin().await.unwrap();
    for s in [&a, &b, &old, &foreign] {
        put_tube(&mut tx, s, &[]).await;
    }
    assert_eq!(lab::count_since(&mut tx, org, 10).await.unwrap(), 2);
    assert!(lab::set_specimen(&mut tx, org, a.id, "rejected", "溶血", "lab01", 40).await.unwrap());
    assert!(!lab::set_specimen(&mut tx, org, a.id, "received", "", "lab01", 41).await.unwrap(), "decided once");
    assert!(!lab::set_specimen(&mut tx, other, b.id, "received", "", "lab01", 41).await.unwrap());
    // Results arriving for both tubes receive only the one still collected.
    assert_eq!(lab::receive_specimens(&mut tx, org, &[a.id, b.id], "lis", 50).await.unwrap(), 1);
    assert_eq!(lab::receive_specimens(&mut tx, org, &[b.id], "lis", 51).await.unwrap(), 0);
    let mut found: Vec<String> = lab::by_barcodes(&mut tx, org, &["A001", "A002", "B999"])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.barcode)
        .collect();
    found.sort();
    assert_eq!(found, ["A001", "A002"]);
    tx.commit().await.unwrap();

    let a = lab::by_barcode(&t.db, org, "A001").await.unwrap().unwrap();
    assert_eq!((a.status.as_str(), a.reject_reason.as_str(), a.received_at), ("rejected", "溶血", Some(40)));
    let b = lab::specimen(&t.db, org, b.id).await.unwrap().unwrap();
    assert_eq!((b.status.as_str(), b.received_by.as_deref(), b.received_at), ("received", Some("lis"), Some(50)));
    assert_eq!(lab::by_barcode(&t.db, other, "A001").await.unwrap().unwrap().id, foreign.id);
    let listed: Vec<String> =
        lab::specimens(&t.db, org, 10, 10).await.unwrap().into_iter().map(|s| s.barcode).collect();
    assert_eq!(listed, ["A002", "A001"], "newest first, none before the moment");
    assert_eq!(status(&t.db, &old).await, "collected");
}

async fn tests_move_once_and_a_redraw_starts_over(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let c = case(org);
    let (first, second) = (tube(c, "B001", 10), tube(c, "B002", 20));
    let (cbc, glu) = (test_of(c, &first, "CBC"), test_of(c, &first, "GLU"));
    let orders = [glu.order_id, cbc.order_id];
    let mut tx = t.db.begin().await.unwrap();
    put_tube(&mut tx, &first, &[glu.clone(), cbc.clone()]).await;
    let resultable = ["collected", "received"];
    assert_eq!(lab::set_tests(&mut tx, org, &orders, &resultable, "resulted", None, 30).await.unwrap(), 2);
    assert_eq!(lab::set_tests(&mut tx, org, &orders, &resultable, "resulted", None, 31).await.unwrap(), 0);
    assert_eq!(lab::set_tests(&mut tx, org, &orders, &[], "resulted", None, 31).await.unwrap(), 0);
    assert_eq!(
        lab::set_tests(&mut tx, org, &[cbc.order_id], &["resulted"], "verified", Some("lab02"), 40).await.unwrap(),
        1
    );
    let on_first: Vec<(String, String)> = lab::tests_of_specimen(&mut tx, org, first.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.panel_code, t.status))
        .collect();
    assert_eq!(on_first, [("CBC".into(), "verified".into()), ("GLU".into(), "resulted".into())], "by panel");
    // A redraw moves the test to the new tube and forgets its verification.
    let redrawn = LabTest { specimen_id: second.id, updated_at: 50, ..cbc.clone() };
    put_tube(&mut tx, &second, std::slice::from_ref(&redrawn)).await;
    tx.commit().await.unwrap();

    assert_eq!(lab::test(&t.db, org, cbc.order_id).await.unwrap(), Some(redrawn.clone()));
    let mut tx = t.db.begin().await.unwrap();
    let both = lab::tests_of_specimens(&mut tx, org, &[first.id, second.id]).await.unwrap();
    let mut want = vec![(first.id, "GLU".to_string()), (second.id, "CBC".to_string())];
    want.sort();
    assert_eq!(both.into_iter().map(|t| (t.specimen_id, t.panel_code)).collect::<Vec<_>>(), want);
}

async fn verify(tx: &mut Tx, t: &LabTest, at: i64) {
    let orders = [t.order_id];
    assert_eq!(lab::set_tests(tx, t.org_id, &orders, &["collected"], "resulted", None, at).await.unwrap(), 1);
    assert_eq!(lab::set_tests(tx, t.org_id, &orders, &["resulted"], "verified", Some("lab02"), at).await.unwrap(), 1);
}

async fn a_correction_retires_the_old_version(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let c = case(org);
    let (s1, s2, s3) = (tube(c, "C001", 10), tube(c, "C002", 20), tube(c, "C003", 30));
    let (t1, t2, t3) = (test_of(c, &s1, "GLU"), test_of(c, &s2, "GLU"), test_of(c, &s3, "GLU"));
    let mut tx = t.db.begin().await.unwrap();
    for (s, x) in [(&s1, &t1), (&s2, &t2), (&s3, &t3)] {
        put_tube(&mut tx, s, std::slice::from_ref(x)).await;
    }
    let v1 = result_of(&t2, "GLU", "2345-7", 5_600, 1, 200);
    lab::insert_results(
        &mut tx,
        &[result_of(&t1, "GLU", "2345-7", 7_100, 1, 100), v1.clone(), result_of(&t3, "GLU", "2345-7", 6_000, 1, 300)],
    )
    .await
    .unwrap();
    lab::retire(&mut tx, org, t2.order_id, "GLU").await.unwrap();
    let v2 = LabResult { reason: "录入错误".into(), ..result_of(&t2, "GLU", "2345-7", 6_500, 2, 250) };
    lab::insert_results(&mut tx, std::slice::from_ref(&v2)).await.unwrap();
    // The third test is not verified: its result stays out of the trend.
    verify(&mut tx, &t1, 110).await;
    verify(&mut tx, &t2, 260).await;
    tx.commit().await.unwrap();

    let versions: Vec<(i64, bool, i64)> = lab::results(&t.db, org, t2.order_id)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.version, r.current, r.milli.unwrap()))
        .collect();
    assert_eq!(versions, [(2, true, 6_500), (1, false, 5_600)]);
    let trend: Vec<i64> =
        lab::trend(&t.db, org, c.patient, "GLU", 10).await.unwrap().iter().map(|r| r.milli.unwrap()).collect();
    assert_eq!(trend, [7_100, 6_500], "oldest first, current versions of verified tests");
    let latest = lab::trend(&t.db, org, c.patient, "GLU", 1).await.unwrap();
    assert_eq!(latest, std::slice::from_ref(&v2), "the limit keeps the newest");
    let published: Vec<Uuid> =
        lab::published(&t.db, org, c.patient, 10).await.unwrap().iter().map(|t| t.order_id).collect();
    assert_eq!(published, [t2.order_id, t1.order_id], "latest verified first");
    let mut tx = t.db.begin().await.unwrap();
    let all = lab::results_of(&mut tx, org, &[t2.order_id, t3.order_id]).await.unwrap();
    assert_eq!(all.iter().filter(|r| r.order_id == t2.order_id).map(|r| r.version).collect::<Vec<_>>(), [2, 1]);
    assert_eq!(all.len(), 3);
}

fn lab_order(c: Case, status: &str, kind: &str, at: i64) -> Order {
    Order {
        org_id: c.org,
        id: Uuid::now_v7(),
        visit_id: c.visit,
        patient_id: c.patient,
        kind: kind.into(),
        code: "GLU".into(),
        name: "血糖".into(),
        generic: String::new(),
        spec: String::new(),
        dose: None,
        dose_unit: String::new(),
        frequency: String::new(),
        days: None,
        route: String::new(),
        quantity: 1,
        unit: "次".into(),
        unit_fen: 800,
        amount_fen: 800,
        class: None,
        status: status.into(),
        warnings: String::new(),
        reason: String::new(),
        note: String::new(),
        charge_id: Uuid::now_v7(),
        created_by: "doc01".into(),
        created_at: at,
        updated_at: at,
    }
}

async fn orders_to_collect(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let c = case(org);
    let paid = lab_order(c, "paid", "lab", 30);
    let ordered = lab_order(c, "ordered", "lab", 20);
    let too_old = lab_order(c, "ordered", "lab", 1);
    let exam = lab_order(c, "ordered", "exam", 25);
    let drawn = lab_order(c, "executed", "lab", 22);
    let redraw = lab_order(c, "executed", "lab", 24);
    let cancelled = lab_order(c, "cancelled", "lab", 26);
    let mut tx = t.db.begin().await.unwrap();
    visit::insert_orders(
        &mut tx,
        &[paid.clone(), ordered.clone(), too_old, exam, drawn.clone(), redraw.clone(), cancelled],
    )
    .await
    .unwrap();
    let (good, bad) = (tube(c, "D001", 40), tube(c, "D002", 41));
    let held = LabTest { order_id: drawn.id, ..test_of(c, &good, "GLU") };
    put_tube(&mut tx, &good, &[held]).await;
    let rejected = LabTest { order_id: redraw.id, status: "rejected".into(), ..test_of(c, &bad, "GLU") };
    put_tube(&mut tx, &bad, &[rejected]).await;
    tx.commit().await.unwrap();

    let due: Vec<Uuid> = lab::to_collect(&t.db, org, 10, 10).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(due, [ordered.id, redraw.id, paid.id], "oldest first; drawn, non-lab and old orders left out");
    assert_eq!(lab::to_collect(&t.db, org, 10, 1).await.unwrap()[0].id, ordered.id);
}

fn alert_of(c: Case, at: i64) -> LabAlert {
    LabAlert {
        org_id: c.org,
        id: Uuid::now_v7(),
        result_id: Uuid::now_v7(),
        order_id: Uuid::now_v7(),
        patient_id: c.patient,
        doctor_id: c.doctor,
        item_name: "血钾".into(),
        value: "6.8".into(),
        unit: "mmol/L".into(),
        flag: "HH".into(),
        raised_at: at,
        acked_by: None,
        acked_at: None,
        ack_note: String::new(),
    }
}

async fn a_critical_value_is_acknowledged_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let c = case(org);
    let (late, early) = (alert_of(c, 20), alert_of(c, 10));
    let someone_else = alert_of(case(org), 5);
    let mut tx = t.db.begin().await.unwrap();
    lab::insert_alerts(&mut tx, &[late.clone(), early.clone(), someone_else]).await.unwrap();
    lab::insert_alerts(&mut tx, &[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(lab::open_alerts(&t.db, org, c.doctor).await.unwrap(), [early.clone(), late.clone()], "oldest first");

    let mut tx = t.db.begin().await.unwrap();
    assert!(!lab::ack_alert(&mut tx, other, early.id, "doc09", "", 30).await.unwrap());
    assert!(lab::ack_alert(&mut tx, org, early.id, "doc01", "已电话通知患者", 30).await.unwrap());
    assert!(!lab::ack_alert(&mut tx, org, early.id, "doc02", "", 31).await.unwrap(), "acknowledged once");
    tx.commit().await.unwrap();
    let read = lab::alert(&t.db, org, early.id).await.unwrap().unwrap();
    assert_eq!(
        (read.acked_by.as_deref(), read.acked_at, read.ack_note.as_str()),
        (Some("doc01"), Some(30), "已电话通知患者")
    );
    assert_eq!(lab::open_alerts(&t.db, org, c.doctor).await.unwrap(), [late]);
}

async fn only_verified_current_results_are_published(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let c = case(org);
    let (s1, s2) = (tube(c, "E001", 100), tube(c, "E002", 200));
    let (glu, lipid, pending) = (test_of(c, &s1, "GLU"), test_of(c, &s2, "LIPID"), test_of(c, &s2, "CBC"));
    let orders: Vec<Order> = [&glu, &lipid, &pending]
        .iter()
        .map(|x| Order { id: x.order_id, ..lab_order(c, "executed", "lab", 1) })
        .collect();
    let glu_v1 = result_of(&glu, "GLU", "2345-7", 5_000, 1, 300);
    let glu_v2 = LabResult { reason: "复核".into(), ..result_of(&glu, "GLU", "2345-7", 5_500, 2, 400) };
    let ldl = result_of(&lipid, "LDL", "13457-7", 3_100, 1, 350);
    let tc = result_of(&lipid, "TC", "2093-3", 5_200, 1, 360);
    let unverified = result_of(&pending, "WBC", "6690-2", 7_000, 1, 370);
    let mut tx = t.db.begin().await.unwrap();
    visit::insert_orders(&mut tx, &orders).await.unwrap();
    put_tube(&mut tx, &s1, std::slice::from_ref(&glu)).await;
    put_tube(&mut tx, &s2, &[lipid.clone(), pending.clone()]).await;
    lab::insert_results(&mut tx, &[glu_v1, ldl.clone(), tc.clone(), unverified]).await.unwrap();
    lab::retire(&mut tx, org, glu.order_id, "GLU").await.unwrap();
    lab::insert_results(&mut tx, std::slice::from_ref(&glu_v2)).await.unwrap();
    verify(&mut tx, &glu, 500).await;
    verify(&mut tx, &lipid, 600).await;
    tx.commit().await.unwrap();

    let results = |f: Filter| async move {
        let p = query::results(&t.db, org, &f, 10, 0).await.unwrap();
        (p.total, p.rows.iter().map(|r| r.id).collect::<Vec<_>>())
    };
    let all = Filter { patients: Some(vec![c.patient]), ..Default::default() };
    assert_eq!(results(all.clone()).await, (3, vec![glu_v2.id, tc.id, ldl.id]), "newest first");
    let fin = Filter { statuses: Some(vec!["final".into()]), ..all.clone() };
    assert_eq!(results(fin).await, (2, vec![tc.id, ldl.id]));
    let corrected = Filter { statuses: Some(vec!["corrected".into()]), ..all.clone() };
    assert_eq!(results(corrected).await, (1, vec![glu_v2.id]));
    let by_loinc = Filter { codes: Some(vec![Code::Any("13457-7".into()), Code::Item("TC".into())]), ..all.clone() };
    assert_eq!(results(by_loinc).await.1, [tc.id, ldl.id]);
    let window = Filter { from: Some(355), before: Some(450), visits: Some(vec![c.visit]), ..Default::default() };
    assert_eq!(results(window).await, (2, vec![glu_v2.id, tc.id]));
    assert_eq!(results(Filter { from: Some(5), before: Some(5), ..Default::default() }).await, (0, vec![]));

    let tests = |f: Filter| async move {
        let p = query::tests(&t.db, org, &f, 10, 0).await.unwrap();
        (p.total, p.rows.iter().map(|r| r.order_id).collect::<Vec<_>>())
    };
    assert_eq!(tests(all.clone()).await, (2, vec![lipid.order_id, glu.order_id]), "latest verified first");
    let corrected = Filter { statuses: Some(vec!["corrected".into()]), ..Default::default() };
    assert_eq!(tests(corrected).await, (1, vec![glu.order_id]));
    let collected_late = Filter { from: Some(150), ..Default::default() };
    assert_eq!(tests(collected_late).await, (1, vec![lipid.order_id]));

    let step = Step { after: After::Start, limit: 2, count: true };
    let w = query::walk_results(&t.db, org, &Filter::default(), &step).await.unwrap();
    let mut want = [glu_v2.id, ldl.id, tc.id];
    want.sort();
    assert_eq!((w.total, w.rows.iter().map(|r| r.id).collect::<Vec<_>>(), w.more), (Some(3), want[..2].to_vec(), true));
    let step = Step { after: After::Id(glu.order_id), limit: 5, count: false };
    let w = query::walk_tests(&t.db, org, &Filter::default(), &step).await.unwrap();
    assert_eq!(w.rows.iter().map(|t| t.order_id).collect::<Vec<_>>(), [lipid.order_id]);

    let current = query::current_results(&t.db, org, &[lipid.order_id, pending.order_id]).await.unwrap();
    assert_eq!(current.len(), 3, "any status, current only");
    assert_eq!(query::tests_by_order(&t.db, org, &[pending.order_id]).await.unwrap(), [pending]);
    assert_eq!(query::specimens_by_id(&t.db, org, &[s2.id]).await.unwrap(), [s2]);
}
