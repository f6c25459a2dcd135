//! Outpatient visit stories, on SQLite and PostgreSQL: one visit per
//! registration, a record written only while open, orders moved once, and
//! the paged and walked lookups the FHIR interface answers from.

use dayi_store::Db;
use dayi_store::visit::query::{self, Code, Filter};
use dayi_store::visit::{self, Certificate, Diagnosis, Order, Template, Visit};
use dayi_store::walk::{After, Step};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    one_visit_per_registration_and_a_record_kept_once_finished,
    diagnoses_are_replaced_and_found_by_code,
    orders_move_once,
    visits_are_paged_newest_first,
    certificates_and_templates_are_read_back,
);

fn visit_row(org: Uuid, patient: Uuid, doctor: Uuid, day: &str, opened_at: i64) -> Visit {
    Visit {
        org_id: org,
        id: Uuid::now_v7(),
        patient_id: patient,
        booking_id: Some(Uuid::now_v7()),
        dept_id: Uuid::now_v7(),
        doctor_id: doctor,
        doctor_name: "王医生".into(),
        day: day.into(),
        status: "open".into(),
        chief_complaint: String::new(),
        present_illness: String::new(),
        history: String::new(),
        allergies: String::new(),
        vitals: "{}".into(),
        examination: String::new(),
        advice: String::new(),
        opened_at,
        finished_at: None,
        updated_at: opened_at,
    }
}

async fn open(db: &Db, v: &Visit) {
    let mut tx = db.begin().await.unwrap();
    assert!(visit::insert(&mut tx, v).await.unwrap());
    tx.commit().await.unwrap();
}

fn ids(rows: &[Visit]) -> Vec<Uuid> {
    rows.iter().map(|v| v.id).collect()
}

async fn one_visit_per_registration_and_a_record_kept_once_finished(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let v = visit_row(org, Uuid::now_v7(), Uuid::now_v7(), "2026-12-01", 10);
    open(&t.db, &v).await;
    let mut tx = t.db.begin().await.unwrap();
    // Two doctors opening the same registration: the second finds it open.
    let again = Visit { id: Uuid::now_v7(), ..v.clone() };
    assert!(!visit::insert(&mut tx, &again).await.unwrap());
    let written =
        Visit { chief_complaint: "头痛3天".into(), allergies: "青霉素".into(), updated_at: 20, ..v.clone() };
    assert!(visit::save_record(&mut tx, &written).await.unwrap());
    assert!(!visit::finish(&mut tx, other, v.id, 30).await.unwrap());
    assert!(visit::finish(&mut tx, org, v.id, 30).await.unwrap());
    assert!(!visit::finish(&mut tx, org, v.id, 31).await.unwrap(), "finished once");
    let late = Visit { chief_complaint: "改写".into(), updated_at: 40, ..v.clone() };
    assert!(!visit::save_record(&mut tx, &late).await.unwrap(), "a finished record is kept");
    assert_eq!(visit::get(&mut tx, org, v.id).await.unwrap().unwrap().chief_complaint, "头痛3天");
    tx.commit().await.unwrap();

    let want = Visit { status: "finished".into(), finished_at: Some(30), updated_at: 30, ..written };
    assert_eq!(visit::of_booking(&t.db, org, v.booking_id.unwrap()).await.unwrap(), Some(want));
    assert!(visit::of_booking(&t.db, other, v.booking_id.unwrap()).await.unwrap().is_none());
    assert!(visit::get(&t.db, other, v.id).await.unwrap().is_none());
}

async fn reads_by_doctor_and_patient(db: &Db, org: Uuid, doctor: Uuid, patient: Uuid) -> (Vec<Uuid>, Vec<Uuid>) {
    let by_doctor = ids(&visit::of_doctor(db, org, doctor, "2026-12-01").await.unwrap());
    (by_doctor, ids(&visit::of_patient(db, org, patient, 2).await.unwrap()))
}

fn diagnosis(v: &Visit, seq: i64, kind: &str, code: &str, insurance: &str) -> Diagnosis {
    Diagnosis {
        org_id: v.org_id,
        visit_id: v.id,
        seq,
        kind: kind.into(),
        code: code.into(),
        name: format!("诊断{seq}"),
        insurance_code: insurance.into(),
        is_primary: seq == 1,
        created_at: now(),
    }
}

async fn diagnoses_are_replaced_and_found_by_code(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let (p, doc) = (Uuid::now_v7(), Uuid::now_v7());
    let (a, b) = (visit_row(org, p, doc, "2026-12-01", 10), visit_row(org, p, doc, "2026-12-01", 20));
    open(&t.db, &a).await;
    open(&t.db, &b).await;
    let mut tx = t.db.begin().await.unwrap();
    visit::set_diagnoses(&mut tx, org, a.id, &[diagnosis(&a, 1, "diagnosis", "I10", "I10.x00")]).await.unwrap();
    // Saving again replaces, it does not add.
    let a_rows = [diagnosis(&a, 2, "tcm", "BNG070", ""), diagnosis(&a, 1, "diagnosis", "E11.9", "E11.900")];
    visit::set_diagnoses(&mut tx, org, a.id, &a_rows).await.unwrap();
    visit::set_diagnoses(&mut tx, org, b.id, &[diagnosis(&b, 1, "diagnosis", "I10", "I10.x00")]).await.unwrap();
    tx.commit().await.unwrap();

    let got: Vec<(Uuid, i64, String)> = visit::diagnoses(&t.db, org, &[b.id, a.id])
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.visit_id, d.seq, d.code))
        .collect();
    let want = vec![(a.id, 1, "E11.9".to_string()), (a.id, 2, "BNG070".to_string()), (b.id, 1, "I10".to_string())];
    assert_eq!(got, want, "by visit, then number");
    assert_eq!(reads_by_doctor_and_patient(&t.db, org, doc, p).await, (vec![b.id, a.id], vec![b.id, a.id]));

    let codes = |c: Vec<Code>| Filter { codes: Some(c), ..Default::default() };
    let found = |f: Filter| async move {
        let page = query::diagnoses(&t.db, org, &f, 10, 0).await.unwrap();
        (page.total, page.rows.into_iter().map(|d| (d.visit_id, d.seq)).collect::<Vec<_>>())
    };
    assert_eq!(found(codes(vec![Code::Any("I10".into())])).await, (1, vec![(b.id, 1)]));
    assert_eq!(found(codes(vec![Code::Of("tcm".into(), "BNG070".into())])).await, (1, vec![(a.id, 2)]));
    assert_eq!(found(codes(vec![Code::Of("diagnosis".into(), "BNG070".into())])).await.0, 0);
    assert_eq!(found(codes(vec![Code::Insurance("E11.900".into())])).await, (1, vec![(a.id, 1)]));
    // The newest visit's first, each visit's in their order.
    let all = Filter { patients: Some(vec![p]), ..Default::default() };
    assert_eq!(found(all).await, (3, vec![(b.id, 1), (a.id, 1), (a.id, 2)]));
    let keys = Filter { diagnoses: Some(vec![(a.id, 2), (b.id, 1)]), ..Default::default() };
    assert_eq!(found(keys).await.0, 2);
    assert_eq!(found(Filter { codes: Some(vec![]), ..Default::default() }).await, (0, vec![]));

    // A walk over (visit, number) resumes after the pair it stopped at.
    let f = Filter::default();
    let step = Step { after: After::Pair(a.id, 1), limit: 1, count: true };
    let w = query::walk_diagnoses(&t.db, org, &f, &step).await.unwrap();
    assert_eq!(
        (w.total, w.rows.iter().map(|d| (d.visit_id, d.seq)).collect::<Vec<_>>(), w.more),
        (Some(3), vec![(a.id, 2)], true)
    );
}

fn order_of(v: &Visit, kind: &str, code: &str, at: i64) -> Order {
    Order {
        org_id: v.org_id,
        id: Uuid::now_v7(),
        visit_id: v.id,
        patient_id: v.patient_id,
        kind: kind.into(),
        code: code.into(),
        name: code.into(),
        generic: String::new(),
        spec: String::new(),
        dose: (kind == "drug").then_some(500),
        dose_unit: "mg".into(),
        frequency: "bid".into(),
        days: Some(3),
        route: "po".into(),
        quantity: 2,
        unit: "盒".into(),
        unit_fen: 1_250,
        amount_fen: 2_500,
        class: None,
        status: "ordered".into(),
        warnings: String::new(),
        reason: String::new(),
        note: String::new(),
        charge_id: Uuid::now_v7(),
        created_by: "doc01".into(),
        created_at: at,
        updated_at: at,
    }
}

async fn orders_move_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let v = visit_row(org, Uuid::now_v7(), Uuid::now_v7(), "2026-12-01", 10);
    open(&t.db, &v).await;
    let (drug, lab, exam) =
        (order_of(&v, "drug", "D1", 3), order_of(&v, "lab", "L1", 1), order_of(&v, "exam", "E1", 2));
    let mut tx = t.db.begin().await.unwrap();
    visit::insert_orders(&mut tx, &[drug.clone(), lab.clone(), exam.clone()]).await.unwrap();
    let charges = [drug.charge_id, lab.charge_id];
    assert_eq!(visit::set_order_status_by_charges(&mut tx, other, &charges, "ordered", "paid", 5).await.unwrap(), 0);
    assert_eq!(visit::set_order_status_by_charges(&mut tx, org, &charges, "ordered", "paid", 5).await.unwrap(), 2);
    assert_eq!(visit::set_order_status_by_charges(&mut tx, org, &charges, "ordered", "paid", 6).await.unwrap(), 0);
    assert!(visit::set_order_status(&mut tx, org, lab.id, "paid", "executed", 7).await.unwrap());
    assert!(!visit::set_order_status(&mut tx, org, lab.id, "paid", "executed", 8).await.unwrap(), "executed once");
    tx.commit().await.unwrap();

    let read = visit::orders(&t.db, org, v.id).await.unwrap();
    let got: Vec<(Uuid, &str, i64)> = read.iter().map(|o| (o.id, o.status.as_str(), o.updated_at)).collect();
    assert_eq!(got, [(lab.id, "executed", 7), (exam.id, "ordered", 2), (drug.id, "paid", 5)], "oldest first");
    assert_eq!(read[1], exam, "every column read back");

    let page = |f: Filter| async move {
        let p = query::orders(&t.db, org, &f, 10, 0).await.unwrap();
        (p.total, p.rows.iter().map(|o| o.id).collect::<Vec<_>>())
    };
    assert_eq!(page(Filter { drugs: Some(true), ..Default::default() }).await, (1, vec![drug.id]));
    assert_eq!(page(Filter { drugs: Some(false), ..Default::default() }).await, (2, vec![exam.id, lab.id]));
    let paid = Filter { statuses: Some(vec!["paid".into(), "executed".into()]), ..Default::default() };
    assert_eq!(page(paid).await, (2, vec![drug.id, lab.id]));
    let by_patient =
        Filter { patients: Some(vec![v.patient_id]), codes: Some(vec![Code::Any("E1".into())]), ..Default::default() };
    assert_eq!(page(by_patient).await, (1, vec![exam.id]));
    let step = Step { after: After::Start, limit: 5, count: false };
    let w = query::walk_orders(&t.db, org, &Filter::default(), &step).await.unwrap();
    let mut want = vec![drug.id, lab.id, exam.id];
    want.sort();
    assert_eq!(w.rows.iter().map(|o| o.id).collect::<Vec<_>>(), want, "id order");
}

async fn visits_are_paged_newest_first(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let (p, doc) = (Uuid::now_v7(), Uuid::now_v7());
    let days = ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"];
    let rows: Vec<Visit> = days.iter().zip(1..).map(|(d, n)| visit_row(org, p, doc, d, n * 10)).collect();
    for v in &rows {
        open(&t.db, v).await;
    }
    open(&t.db, &visit_row(other, p, doc, "2026-12-01", 5)).await;
    let mut tx = t.db.begin().await.unwrap();
    assert!(visit::finish(&mut tx, org, rows[1].id, 99).await.unwrap());
    tx.commit().await.unwrap();

    let range = Filter { from_day: Some("2026-11-30".into()), to_day: Some("2026-12-02".into()), ..Default::default() };
    let first = query::visits(&t.db, org, &range, 2, 0).await.unwrap();
    assert_eq!((first.total, ids(&first.rows)), (3, vec![rows[3].id, rows[2].id]));
    let second = query::visits(&t.db, org, &range, 2, 2).await.unwrap();
    assert_eq!((second.total, ids(&second.rows)), (3, vec![rows[1].id]));
    let finished = Filter { statuses: Some(vec!["finished".into()]), patients: Some(vec![p]), ..Default::default() };
    assert_eq!(ids(&query::visits(&t.db, org, &finished, 10, 0).await.unwrap().rows), [rows[1].id]);
    let mut by_id = ids(&query::visits_by_id(&t.db, org, &[rows[4].id, rows[0].id]).await.unwrap());
    by_id.sort();
    assert_eq!(by_id, [rows[0].id, rows[4].id]);

    // A keyset walk meets each of the organisation's visits once, in id order.
    let mut step = Step { after: After::Start, limit: 2, count: true };
    let mut seen = vec![];
    loop {
        let w = query::walk_visits(&t.db, org, &Filter::default(), &step).await.unwrap();
        assert_eq!(w.total, seen.is_empty().then_some(5));
        seen.extend(ids(&w.rows));
        if !w.more {
            break;
        }
        step = Step { after: After::Id(*seen.last().unwrap()), limit: 2, count: false };
    }
    assert_eq!(seen, ids(&rows), "UUIDv7 ids sort as they were made");
}

async fn certificates_and_templates_are_read_back(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let v = visit_row(org, Uuid::now_v7(), Uuid::now_v7(), "2026-12-01", 10);
    open(&t.db, &v).await;
    let cert = |kind: &str, at: i64| Certificate {
        org_id: org,
        id: Uuid::now_v7(),
        cert_no: format!("C{at}"),
        visit_id: v.id,
        patient_id: v.patient_id,
        kind: kind.into(),
        days: (kind == "sick_leave").then_some(3),
        starts: (kind == "sick_leave").then(|| "2026-12-01".into()),
        note: String::new(),
        issued_by: "doc01".into(),
        issued_at: at,
    };
    let (late, early) = (cert("sick_leave", 20), cert("diagnosis", 10));
    let dept = Uuid::now_v7();
    let template = |name: &str, active: bool| Template {
        org_id: org,
        id: Uuid::now_v7(),
        dept_id: dept,
        name: name.into(),
        chief_complaint: "咳嗽".into(),
        present_illness: String::new(),
        examination: String::new(),
        advice: String::new(),
        active,
        created_by: "doc01".into(),
        created_at: now(),
    };
    let (b, a, off) = (template("B 感冒", true), template("A 上感", true), template("C 旧模板", false));
    let mut tx = t.db.begin().await.unwrap();
    for c in [&late, &early] {
        visit::insert_certificate(&mut tx, c).await.unwrap();
    }
    for x in [&b, &a, &off] {
        visit::insert_template(&mut tx, x).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(visit::certificates(&t.db, org, v.id).await.unwrap(), [early.clone(), late.clone()]);
    assert_eq!(visit::certificate(&t.db, org, late.id).await.unwrap(), Some(late.clone()));
    assert!(visit::certificate(&t.db, other, late.id).await.unwrap().is_none());
    // Active templates only, by name (ASCII-led, so both databases' collations agree).
    let names: Vec<String> = visit::templates(&t.db, org, dept).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, [a.name.clone(), b.name.clone()]);
    assert_eq!(visit::template(&t.db, org, off.id).await.unwrap(), Some(off));
}
