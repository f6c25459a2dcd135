//! Patient index stories, on SQLite and PostgreSQL.

use dayi_store::card::{self, CardUse};
use dayi_store::identifier::{self, Identifier};
use dayi_store::patient::{self, Key, Merge, Patient};
use dayi_store::walk::{After, Step};
use dayi_store::{Db, is_unique_violation};
use uuid::Uuid;

mod common;
use common::*;

on_both!(
    search_by_every_key,
    one_active_record_per_document,
    merge_moves_references_and_undoes,
    counters_and_secrets,
    identifiers_of_other_systems,
    active_records_are_walked_once,
);

fn person(org: Uuid, n: i64, name: &str, pinyin: &str, initials: &str, id_number: Option<&str>) -> Patient {
    Patient {
        org_id: org,
        id: Uuid::now_v7(),
        hospital_no: format!("{}", 1_000_000_000 + n),
        card_id: format!("{:064X}", n),
        name: name.into(),
        name_pinyin: pinyin.into(),
        name_initials: initials.into(),
        sex: "1".into(),
        birth_date: "1980-01-31".into(),
        ethnicity: Some("01".into()),
        id_kind: id_number.map(|_| "resident_id".into()),
        id_number: id_number.map(String::from),
        id_rev: id_number.map(|s| s.chars().rev().collect()),
        nationality: None,
        phone: Some(format!("1381234{:04}", n)),
        address: None,
        region_code: Some("370830".into()),
        insurance: "resident".into(),
        emergency_name: None,
        emergency_relation: None,
        emergency_phone: None,
        guardian_name: None,
        guardian_relation: None,
        guardian_id_number: None,
        guardian_phone: None,
        channel: "counter".into(),
        merged_into: None,
        created_by: "reg01".into(),
        created_at: now(),
        updated_at: now(),
    }
}

async fn put(db: &Db, rows: &[Patient]) {
    let mut tx = db.begin().await.unwrap();
    patient::insert(&mut tx, rows).await.unwrap();
    tx.commit().await.unwrap();
}

async fn names(db: &Db, org: Uuid, key: Key, q: &str) -> Vec<String> {
    let mut v: Vec<String> = patient::search(db, org, key, q, 20).await.unwrap().into_iter().map(|p| p.name).collect();
    v.sort();
    v
}

async fn search_by_every_key(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let rows = vec![
        person(org, 1, "张三", "zhangsan", "zs", Some("11010519491231002X")),
        person(org, 2, "张三丰", "zhangsanfeng", "zsf", Some("370830198001310016")),
        person(org, 3, "章珊", "zhangshan", "zs", None),
        person(org, 4, "单田芳", "shantianfang", "stf", None),
        // another hospital's patient never shows
        person(other, 5, "张三", "zhangsan", "zs", Some("11010519491231002X")),
    ];
    put(&t.db, &rows).await;
    // more rows than one batch, to exercise batching
    let bulk: Vec<Patient> = (0..1200).map(|i| person(org, 100 + i, "李四", "lisi", "ls", None)).collect();
    put(&t.db, &bulk).await;

    assert_eq!(names(&t.db, org, Key::Initials, "zs").await, ["张三", "张三丰", "章珊"]);
    assert_eq!(names(&t.db, org, Key::Pinyin, "zhangs").await, ["张三", "张三丰", "章珊"]);
    assert_eq!(names(&t.db, org, Key::Pinyin, "shan").await, ["单田芳"]);
    assert_eq!(names(&t.db, org, Key::Name, "张三").await, ["张三", "张三丰"]);
    assert_eq!(names(&t.db, org, Key::IdRev, "X200").await, ["张三"]);
    assert_eq!(names(&t.db, org, Key::IdNumber, "370830198001310016").await, ["张三丰"]);
    assert_eq!(names(&t.db, org, Key::Phone, "13812340004").await, ["单田芳"]);
    assert_eq!(names(&t.db, org, Key::HospitalNo, "1000000003").await, ["章珊"]);
    assert_eq!(names(&t.db, org, Key::CardId, &format!("{:064X}", 2)).await, ["张三丰"]);
    assert_eq!(patient::search(&t.db, org, Key::Initials, "ls", 20).await.unwrap().len(), 20);
    assert_eq!(patient::count(&t.db, org).await.unwrap(), 1204);
}

async fn one_active_record_per_document(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let first = person(org, 1, "张三", "zhangsan", "zs", Some("11010519491231002X"));
    put(&t.db, std::slice::from_ref(&first)).await;
    let mut tx = t.db.begin().await.unwrap();
    let e = patient::insert(&mut tx, &[person(org, 2, "张三", "zhangsan", "zs", Some("11010519491231002X"))])
        .await
        .unwrap_err();
    assert!(is_unique_violation(&e), "{e}");
    drop(tx);
    let found = patient::by_document(&t.db, org, "resident_id", "11010519491231002X").await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
}

async fn merge_moves_references_and_undoes(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let survivor = person(org, 1, "张三", "zhangsan", "zs", Some("11010519491231002X"));
    let mut dup = person(org, 2, "章三", "zhangsan", "zs", None);
    dup.phone = survivor.phone.clone();
    let bystander = person(org, 3, "李四", "lisi", "ls", None);
    put(&t.db, &[survivor.clone(), dup.clone(), bystander.clone()]).await;
    let found = patient::duplicates_of(&t.db, &survivor, 10).await.unwrap();
    assert_eq!(found.iter().map(|p| p.id).collect::<Vec<_>>(), [dup.id]);
    let pairs = patient::duplicate_pairs(&t.db, org, 10).await.unwrap();
    assert!(pairs.iter().any(|(a, b, _)| (*a, *b) == (survivor.id, dup.id)), "{pairs:?}");

    let uses = |p: Uuid| CardUse {
        org_id: org,
        id: Uuid::now_v7(),
        at: now(),
        patient_id: p,
        code_kind: "static_qr".into(),
        step: "triage".into(),
        station: "分诊台".into(),
        staff_id: None,
        on_behalf: false,
    };
    let mut tx = t.db.begin().await.unwrap();
    for p in [dup.id, dup.id, survivor.id, bystander.id] {
        card::log_use(&mut tx, &uses(p)).await.unwrap();
    }
    tx.commit().await.unwrap();

    let m = Merge {
        org_id: org,
        id: Uuid::now_v7(),
        survivor_id: survivor.id,
        merged_id: dup.id,
        reason: "同一人".into(),
        merged_by: "svc01".into(),
        merged_at: now(),
        undone_by: None,
        undone_at: None,
    };
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(patient::merge(&mut tx, &m).await.unwrap(), Some(2));
    tx.commit().await.unwrap();
    assert_eq!(card::uses(&t.db, org, survivor.id, 10).await.unwrap().len(), 3);
    assert_eq!(card::uses(&t.db, org, dup.id, 10).await.unwrap().len(), 0);
    assert_eq!(patient::get(&t.db, org, dup.id).await.unwrap().unwrap().merged_into, Some(survivor.id));
    assert_eq!(names(&t.db, org, Key::Initials, "zs").await, ["张三"]);
    // a second merge of the same record is refused
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(patient::merge(&mut tx, &Merge { id: Uuid::now_v7(), ..m.clone() }).await.unwrap(), None);
    drop(tx);

    // a use after the merge stays with the survivor on undo
    let mut tx = t.db.begin().await.unwrap();
    card::log_use(&mut tx, &uses(survivor.id)).await.unwrap();
    assert!(patient::undo_merge(&mut tx, &m, "svc01", now()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(card::uses(&t.db, org, dup.id, 10).await.unwrap().len(), 2);
    assert_eq!(card::uses(&t.db, org, survivor.id, 10).await.unwrap().len(), 2);
    assert_eq!(card::uses(&t.db, org, bystander.id, 10).await.unwrap().len(), 1);
    assert_eq!(patient::get(&t.db, org, dup.id).await.unwrap().unwrap().merged_into, None);
    let stored = patient::get_merge(&t.db, org, m.id).await.unwrap().unwrap();
    assert!(stored.undone_at.is_some());
    let mut tx = t.db.begin().await.unwrap();
    assert!(!patient::undo_merge(&mut tx, &stored, "svc01", now()).await.unwrap(), "undone twice");
}

async fn counters_and_secrets(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(patient::next_counter(&mut tx, org, "hospital_no", 1).await.unwrap(), 1);
    assert_eq!(patient::next_counter(&mut tx, org, "hospital_no", 1).await.unwrap(), 2);
    assert_eq!(patient::next_counter(&mut tx, org, "hospital_no", 100).await.unwrap(), 102);
    let s1 = patient::secret(&mut tx, org, "card", &[1; 32], now()).await.unwrap();
    let s2 = patient::secret(&mut tx, org, "card", &[2; 32], now()).await.unwrap();
    assert_eq!(s1, vec![1; 32]);
    assert_eq!(s2, s1, "the first secret stays");
    tx.commit().await.unwrap();
}

fn ident(org: Uuid, patient: Uuid, system: &str, value: &str) -> Identifier {
    Identifier {
        org_id: org,
        id: Uuid::now_v7(),
        patient_id: patient,
        system: system.into(),
        value: value.into(),
        created_at: now(),
    }
}

async fn add(db: &Db, rows: &[Identifier]) -> Result<(), dayi_store::StoreError> {
    let mut tx = db.begin().await.unwrap();
    identifier::insert(&mut tx, rows).await?;
    tx.commit().await
}

async fn holders(db: &Db, org: Uuid, system: Option<&str>, value: &str) -> Vec<Uuid> {
    identifier::find(db, org, system, value, 10).await.unwrap().into_iter().map(|r| r.patient_id).collect()
}

async fn identifiers_of_other_systems(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let (a, b) = (person(org, 1, "张三", "zhangsan", "zs", None), person(org, 2, "李四", "lisi", "ls", None));
    put(&t.db, &[a.clone(), b.clone()]).await;
    let mrn = "http://hospital.example.org/mrn";
    add(&t.db, &[ident(org, a.id, mrn, "12345"), ident(org, a.id, "", "A-77"), ident(org, b.id, "", "A-77")])
        .await
        .unwrap();
    // by value in any system, in one system, or with none
    assert_eq!(holders(&t.db, org, None, "12345").await, [a.id]);
    assert_eq!(holders(&t.db, org, Some(mrn), "12345").await, [a.id]);
    assert!(holders(&t.db, org, Some(""), "12345").await.is_empty());
    assert_eq!(holders(&t.db, org, Some(""), "A-77").await, [a.id, b.id], "a bare value may repeat");
    assert!(holders(&t.db, other, None, "12345").await.is_empty(), "another organisation's are not found");
    // within a system, one person
    let taken = add(&t.db, &[ident(org, b.id, mrn, "12345")]).await.unwrap_err();
    assert!(is_unique_violation(&taken), "{taken}");
    add(&t.db, &[ident(other, b.id, mrn, "12345")]).await.unwrap();
    let of = identifier::of_patients(&t.db, org, &[a.id, b.id]).await.unwrap();
    let values: Vec<(Uuid, &str)> = of.iter().map(|r| (r.patient_id, r.value.as_str())).collect();
    assert_eq!(values.len(), 3, "only this organisation's");
    assert_eq!(values.iter().filter(|(p, _)| *p == a.id).map(|(_, v)| *v).collect::<Vec<_>>(), ["12345", "A-77"]);

    // a merge moves them to the survivor; its undo moves them back
    let m = Merge {
        org_id: org,
        id: Uuid::now_v7(),
        survivor_id: b.id,
        merged_id: a.id,
        reason: "同一人".into(),
        merged_by: "svc01".into(),
        merged_at: now(),
        undone_by: None,
        undone_at: None,
    };
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(patient::merge(&mut tx, &m).await.unwrap(), Some(2));
    tx.commit().await.unwrap();
    assert_eq!(holders(&t.db, org, Some(mrn), "12345").await, [b.id]);
    let mut tx = t.db.begin().await.unwrap();
    assert!(patient::undo_merge(&mut tx, &m, "svc01", now()).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(holders(&t.db, org, Some(mrn), "12345").await, [a.id]);

    // removed one by one
    let mut tx = t.db.begin().await.unwrap();
    let gone: Vec<Uuid> = of.iter().filter(|r| r.patient_id == a.id && r.value == "A-77").map(|r| r.id).collect();
    identifier::delete(&mut tx, org, a.id, &gone).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(holders(&t.db, org, None, "A-77").await, [b.id]);
}

async fn active_records_are_walked_once(t: &TestDb) {
    let org = make_org(&t.db, "h1").await.org_id;
    let other = make_org(&t.db, "h2").await.org_id;
    let mut rows: Vec<Patient> = (1..=5).map(|n| person(org, n, "王五", "wangwu", "ww", None)).collect();
    rows[4].merged_into = Some(rows[0].id);
    put(&t.db, &rows).await;
    put(&t.db, &[person(other, 9, "赵六", "zhaoliu", "zl", None)]).await;
    let first = patient::walk(&t.db, org, &Step { after: After::Start, limit: 3, count: true }).await.unwrap();
    assert_eq!((first.total, first.rows.len(), first.more), (Some(4), 3, true), "merged records only forward");
    // added between pages: met once, at the end
    let late = person(org, 6, "王五", "wangwu", "ww", None);
    put(&t.db, std::slice::from_ref(&late)).await;
    let after = After::Id(first.rows[2].id);
    let rest = patient::walk(&t.db, org, &Step { after, limit: 3, count: false }).await.unwrap();
    assert_eq!((rest.total, rest.more), (None, false));
    let walked: Vec<Uuid> = first.rows.iter().chain(&rest.rows).map(|p| p.id).collect();
    assert_eq!(walked, [rows[0].id, rows[1].id, rows[2].id, rows[3].id, late.id]);
    let none = patient::walk(&t.db, org, &Step { after: After::Start, limit: 0, count: true }).await.unwrap();
    assert_eq!((none.total, none.rows.len(), none.more), (Some(5), 0, false), "a count alone");
}
