//! Chronic-disease stories (三高共管), on SQLite and PostgreSQL: the registry,
//! follow-ups folded into each year's summary, the worklists, screenings and
//! the facts behind the yearly indicators.

use dayi_store::Db;
use dayi_store::chronic::{self, Enrolment, Followup, Screening, Work};
use dayi_store::walk::{After, Step};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    the_registry_is_read_back_and_updated,
    follow_ups_fold_into_the_year,
    worklists_pick_and_order_records,
    screenings_are_replaced_and_proposed,
    records_are_walked_once,
);

fn enrolment(org: Uuid, patient: Uuid, disease: &str, next_due: Option<&str>, at: i64) -> Enrolment {
    Enrolment {
        org_id: org,
        id: Uuid::now_v7(),
        patient_id: patient,
        disease: disease.into(),
        diagnosed_on: "2020-05-01".into(),
        enrolled_on: "2025-03-01".into(),
        source: "clinic".into(),
        doctor: "doc01".into(),
        village: "dongcun".into(),
        related: String::new(),
        status: "active".into(),
        closed_on: None,
        closed_reason: String::new(),
        next_due: next_due.map(String::from),
        next_kind: "routine".into(),
        last_class: None,
        last_visit_on: None,
        last_checkup_on: None,
        enrolled_by: "doc01".into(),
        created_at: at,
        updated_at: at,
    }
}

async fn put(db: &Db, rows: &[Enrolment]) {
    let mut tx = db.begin().await.unwrap();
    for e in rows {
        chronic::insert_enrolment(&mut tx, e).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn the_registry_is_read_back_and_updated(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let p = Uuid::now_v7();
    let (t2dm, htn) = (enrolment(org, p, "t2dm", None, 20), enrolment(org, p, "htn", Some("2026-12-10"), 10));
    let mut west = enrolment(org, Uuid::now_v7(), "htn", None, 30);
    west.village = "xicun".into();
    put(&t.db, &[t2dm.clone(), htn.clone(), west]).await;
    put(&t.db, &[enrolment(other, p, "lipid", None, 5)]).await;

    assert_eq!(chronic::enrolments_of(&t.db, org, p).await.unwrap(), [htn.clone(), t2dm.clone()], "oldest first");
    let closed = Enrolment {
        status: "closed".into(),
        closed_on: Some("2026-12-01".into()),
        closed_reason: "迁出".into(),
        next_due: None,
        village: "beicun".into(),
        updated_at: 40,
        ..htn.clone()
    };
    let mut tx = t.db.begin().await.unwrap();
    chronic::update_enrolment(&mut tx, &closed).await.unwrap();
    // The update writes the changeable columns only, and only this record.
    chronic::update_enrolment(&mut tx, &Enrolment { org_id: other, ..closed.clone() }).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(chronic::get_enrolment(&t.db, org, htn.id).await.unwrap(), Some(closed));
    assert!(chronic::get_enrolment(&t.db, other, htn.id).await.unwrap().is_none());
    assert_eq!(chronic::count_records(&t.db, org).await.unwrap(), 3);
    assert_eq!(chronic::villages(&t.db, org).await.unwrap(), ["beicun", "dongcun", "xicun"]);
    assert_eq!(chronic::villages(&t.db, other).await.unwrap(), ["dongcun"]);
}

fn followup(e: &Enrolment, on: &str, mode: &str, controlled: Option<bool>, at: i64) -> Followup {
    Followup {
        org_id: e.org_id,
        id: Uuid::now_v7(),
        round_id: Uuid::now_v7(),
        enrolment_id: e.id,
        patient_id: e.patient_id,
        disease: e.disease.clone(),
        visited_on: on.into(),
        mode: mode.into(),
        sbp: Some(150),
        dbp: Some(92),
        heart_rate: Some(76),
        weight_milli: Some(68_000),
        bmi_tenths: Some(245),
        fbg_milli: None,
        ldl_milli: None,
        class: "unstable".into(),
        next_kind: "routine".into(),
        next_due: "2027-01-01".into(),
        controlled,
        checkup: false,
        detail: "{}".into(),
        doctor: "doc01".into(),
        created_at: at,
    }
}

async fn follow_ups_fold_into_the_year(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let p = Uuid::now_v7();
    let htn = enrolment(org, p, "htn", None, 1);
    let mut late = enrolment(org, Uuid::now_v7(), "htn", None, 2);
    late.enrolled_on = "2027-02-01".into();
    put(&t.db, &[htn.clone(), late]).await;

    let june = followup(&htn, "2026-06-01", "clinic", Some(true), 10);
    let mut tx = t.db.begin().await.unwrap();
    // One batch: two face-to-face visits and a phone call; the latest says controlled.
    let first = [
        followup(&htn, "2026-03-01", "clinic", Some(false), 11),
        june.clone(),
        followup(&htn, "2026-04-01", "phone", None, 12),
    ];
    chronic::insert_followups(&mut tx, &first).await.unwrap();
    // A later batch with an older visit adds to the count but not the verdict.
    let mut lipid = followup(&htn, "2026-02-01", "home", Some(false), 13);
    lipid.ldl_milli = Some(3_400);
    chronic::insert_followups(&mut tx, std::slice::from_ref(&lipid)).await.unwrap();
    chronic::insert_followups(&mut tx, &[followup(&htn, "2025-11-01", "clinic", Some(false), 14)]).await.unwrap();
    tx.commit().await.unwrap();

    let facts = chronic::facts(&t.db, org, 2026, "htn", None, None).await.unwrap();
    let got: Vec<_> = facts.iter().map(|f| (f.id, f.face, f.latest, f.lipid)).collect();
    assert_eq!(got, [(htn.id, 3, Some(1), 1)], "a record enrolled after the year is not counted");
    let last_year = chronic::facts(&t.db, org, 2025, "htn", Some("doc01"), Some("dongcun")).await.unwrap();
    assert_eq!(last_year.iter().map(|f| (f.face, f.latest, f.lipid)).collect::<Vec<_>>(), [(1, Some(0), 0)]);
    assert!(chronic::facts(&t.db, org, 2026, "htn", Some("doc02"), None).await.unwrap().is_empty());
    let counts = chronic::counts(&t.db, org, 2026, 4).await.unwrap();
    let c = &counts[0];
    assert_eq!((counts.len(), c.managed, c.standard, c.controlled, c.lipid_tested), (1, 1, 0, 1, 1));
    assert_eq!(chronic::counts(&t.db, org, 2026, 3).await.unwrap()[0].standard, 1, "three face-to-face visits");

    let days: Vec<String> =
        chronic::followups_of(&t.db, org, p).await.unwrap().into_iter().map(|f| f.visited_on).collect();
    assert_eq!(days, ["2025-11-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-06-01"]);
    assert_eq!(chronic::followups_of_enrolments(&t.db, org, &[htn.id]).await.unwrap().len(), 5);
    assert_eq!(chronic::get_followup(&t.db, org, june.id).await.unwrap(), Some(june));
}

async fn worklists_pick_and_order_records(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let (a, b) = (
        make_patient(&t.db, org, 1, "李梅", "1950-01-01").await,
        make_patient(&t.db, org, 2, "王芳", "1955-01-01").await,
    );
    let due_soon = enrolment(org, a, "htn", Some("2026-12-05"), 1);
    let due_later =
        Enrolment { last_visit_on: Some("2026-09-01".into()), ..enrolment(org, b, "htn", Some("2026-12-20"), 2) };
    let overdue =
        Enrolment { last_checkup_on: Some("2026-01-10".into()), ..enrolment(org, a, "t2dm", Some("2026-11-20"), 3) };
    let referral = Enrolment { next_kind: "referral".into(), ..enrolment(org, b, "t2dm", Some("2026-12-02"), 4) };
    let urgent = Enrolment {
        next_kind: "urgent".into(),
        village: "xicun".into(),
        ..enrolment(org, b, "lipid", Some("2026-12-09"), 5)
    };
    let closed = Enrolment { status: "closed".into(), ..enrolment(org, a, "lipid", Some("2026-12-03"), 6) };
    put(&t.db, &[due_soon.clone(), due_later.clone(), overdue.clone(), referral.clone(), urgent.clone(), closed]).await;

    let list = |work: Work<'static>, village: Option<&'static str>, limit: i64, offset: i64| async move {
        let rows = chronic::worklist(&t.db, org, work, "2026-12-01", None, village, limit, offset).await.unwrap();
        rows.into_iter().map(|r| r.enrolment.id).collect::<Vec<_>>()
    };
    let due = vec![referral.id, due_soon.id, urgent.id];
    assert_eq!(list(Work::Due("2026-12-10"), None, 10, 0).await, due, "soonest due first, closed left out");
    assert_eq!(list(Work::Due("2026-12-10"), None, 2, 1).await, due[1..]);
    assert_eq!(list(Work::Overdue, None, 10, 0).await, [overdue.id]);
    assert_eq!(list(Work::NeverSeen, Some("xicun"), 10, 0).await, [urgent.id]);
    let no_checkup = list(Work::CheckupSince("2026-01-10"), None, 10, 0).await;
    assert_eq!(no_checkup.len(), 5, "a check-up on the day itself is not since it");
    assert!(!list(Work::CheckupSince("2026-01-09"), None, 10, 0).await.contains(&overdue.id));
    assert_eq!(list(Work::Referral, None, 10, 0).await, [urgent.id, referral.id], "urgent first");

    let row = &chronic::worklist(&t.db, org, Work::Overdue, "2026-12-01", Some("doc01"), None, 1, 0).await.unwrap()[0];
    assert_eq!((row.name.as_str(), row.birth_date.as_str(), row.enrolment.clone()), ("李梅", "1950-01-01", overdue));
    assert!(
        chronic::worklist(&t.db, org, Work::Overdue, "2026-12-01", Some("doc02"), None, 1, 0).await.unwrap().is_empty()
    );
}

fn screening(org: Uuid, patient: Uuid, on: &str, source_id: Option<Uuid>, next_due: &str) -> Screening {
    Screening {
        org_id: org,
        id: Uuid::now_v7(),
        patient_id: patient,
        screened_on: on.into(),
        source: if source_id.is_some() { "visit" } else { "screening" }.into(),
        source_id,
        sbp: Some(146),
        dbp: Some(88),
        fbg_milli: None,
        tc_milli: None,
        ldl_milli: None,
        tg_milli: None,
        hdl_milli: None,
        bmi_tenths: None,
        risks: "age,smoking".into(),
        suspected: "htn".into(),
        proposal: "open".into(),
        next_due: next_due.into(),
        screened_by: "doc01".into(),
        created_at: now(),
    }
}

async fn screenings_are_replaced_and_proposed(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let old = make_patient(&t.db, org, 1, "李梅", "1950-01-01").await;
    let older = make_patient(&t.db, org, 2, "王芳", "1945-01-01").await;
    let screened = make_patient(&t.db, org, 3, "张兰", "1948-01-01").await;
    let young = make_patient(&t.db, org, 4, "赵敏", "2001-01-01").await;
    let visit = Uuid::now_v7();
    let first = screening(org, old, "2026-11-01", Some(visit), "2026-11-02");
    let mut tx = t.db.begin().await.unwrap();
    chronic::insert_screenings(&mut tx, &[first.clone(), screening(org, screened, "2026-10-01", None, "2027-10-01")])
        .await
        .unwrap();
    // The visit is saved again: its readings replace the first ones.
    chronic::delete_screenings_from(&mut tx, org, visit).await.unwrap();
    let resaved = Screening { sbp: Some(152), ..screening(org, old, "2026-11-01", Some(visit), "2026-11-02") };
    let other_day = screening(org, old, "2026-11-20", None, "2026-11-21");
    chronic::insert_screenings(&mut tx, &[other_day.clone(), resaved.clone()]).await.unwrap();
    chronic::set_proposal(&mut tx, org, &[other_day.id], "dismissed").await.unwrap();
    tx.commit().await.unwrap();

    let mine: Vec<(Uuid, Option<i64>)> =
        chronic::screenings_of(&t.db, org, old).await.unwrap().into_iter().map(|s| (s.id, s.sbp)).collect();
    assert_eq!(mine, [(resaved.id, Some(152)), (other_day.id, Some(146))], "oldest first, the first save gone");
    assert!(chronic::get_screening(&t.db, org, first.id).await.unwrap().is_none());
    assert_eq!(chronic::get_screening(&t.db, org, other_day.id).await.unwrap().unwrap().proposal, "dismissed");
    let open: Vec<(Uuid, String)> =
        chronic::open_proposals(&t.db, org, 10).await.unwrap().into_iter().map(|r| (r.screening.id, r.name)).collect();
    assert_eq!(open.iter().map(|o| o.1.as_str()).collect::<Vec<_>>(), ["李梅", "张兰"], "latest screened first");
    assert_eq!(open[0].0, resaved.id);

    // Due: old enough, and no reading due after today; oldest first.
    let due: Vec<Uuid> = chronic::screening_due(&t.db, org, "1960-12-31", "2026-12-01", 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due, [older, old]);
    put(&t.db, &[enrolment(org, older, "htn", None, 1)]).await;
    let due: Vec<Uuid> = chronic::screening_due(&t.db, org, "1960-12-31", "2026-12-01", 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(due, [old], "a hypertension record is seen at follow-ups instead");
    let mut want = vec![old, screened];
    want.sort();
    let unenrolled: Vec<Uuid> =
        chronic::unenrolled_adults(&t.db, org, "1960-12-31", 10).await.unwrap().into_iter().map(|r| r.0).collect();
    assert_eq!(unenrolled, want);
    assert!(!unenrolled.contains(&young));
}

async fn records_are_walked_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let rows: Vec<Enrolment> = (0..5).map(|n| enrolment(org, Uuid::now_v7(), "htn", None, n)).collect();
    put(&t.db, &rows).await;
    put(&t.db, &[enrolment(other, Uuid::now_v7(), "htn", None, 9)]).await;
    let (mut seen, mut step) = (vec![], Step { after: After::Start, limit: 2, count: true });
    loop {
        let w = chronic::walk_enrolments(&t.db, org, &step).await.unwrap();
        assert_eq!(w.total, seen.is_empty().then_some(5));
        seen.extend(w.rows.iter().map(|e| e.id));
        let (Some(last), true) = (seen.last(), w.more) else { break };
        step = Step { after: After::Id(*last), limit: 2, count: false };
    }
    assert_eq!(seen, rows.iter().map(|e| e.id).collect::<Vec<_>>());
}
