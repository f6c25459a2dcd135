//! The harness shared by the storage suites: one story, two databases.

#![allow(dead_code)]

use dayi_store::tenancy::Org;
use dayi_store::{Db, DbConfig};
use uuid::Uuid;

pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("t.db").display());
    let db = Db::connect(&DbConfig::new(&url)).await.expect("open sqlite");
    db.migrate().await.expect("migrate sqlite");
    TestDb { db, url, _dir: Some(dir) }
}

pub async fn postgres() -> Option<TestDb> {
    let cluster = dayi_testkit::PgCluster::shared()?;
    let url = cluster.create_database();
    let db = Db::connect(&DbConfig::new(&url)).await.expect("open postgres");
    db.migrate().await.expect("migrate postgres");
    Some(TestDb { db, url, _dir: None })
}

/// Runs a story on SQLite and on PostgreSQL, each with a fresh database.
#[macro_export]
macro_rules! on_both {
    ($($story:ident),* $(,)?) => { dayi_testkit::on_both!($crate::common::TestDb; $($story),*); };
}

impl dayi_testkit::Harness for TestDb {
    async fn sqlite() -> Self {
        sqlite().await
    }
    async fn postgres() -> Option<Self> {
        postgres().await
    }
}

pub fn now() -> i64 {
    dayi_core::timefmt::now_micros()
}

pub async fn make_org(db: &Db, code: &str) -> Org {
    let o = Org {
        org_id: Uuid::now_v7(),
        code: code.into(),
        name: "汶上县人民医院".into(),
        kind: "county_hospital".into(),
        tier: "二级甲等".into(),
        region_code: "370830".into(),
        parent_org_id: None,
        created_at: now(),
    };
    let mut tx = db.begin().await.unwrap();
    dayi_store::tenancy::insert_org(&mut tx, &o).await.unwrap();
    tx.commit().await.unwrap();
    o
}

/// A stored patient, for stories whose reads join the patient's name.
pub async fn make_patient(db: &Db, org_id: Uuid, n: i64, name: &str, birth_date: &str) -> Uuid {
    let p = dayi_store::patient::Patient {
        org_id,
        id: Uuid::now_v7(),
        hospital_no: format!("{}", 2_000_000_000 + n),
        card_id: format!("{n:064X}"),
        name: name.into(),
        name_pinyin: String::new(),
        name_initials: String::new(),
        sex: "2".into(),
        birth_date: birth_date.into(),
        ethnicity: None,
        id_kind: None,
        id_number: None,
        id_rev: None,
        nationality: None,
        phone: Some(format!("1390000{n:04}")),
        address: None,
        region_code: None,
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
    };
    let mut tx = db.begin().await.unwrap();
    dayi_store::patient::insert(&mut tx, std::slice::from_ref(&p)).await.unwrap();
    tx.commit().await.unwrap();
    p.id
}

/// An open half-day session of `slots` ten-minute slots, ending at `ends_at`.
pub fn session_row(org_id: Uuid, dept_id: Uuid, day: &str, ends_at: i64) -> dayi_store::roster::Session {
    dayi_store::roster::Session {
        org_id,
        id: Uuid::now_v7(),
        template_id: None,
        dept_id,
        day: day.into(),
        half_day: "am".into(),
        clinic_type: "general".into(),
        doctor_id: None,
        doctor_name: "王医生".into(),
        doctor_title: None,
        visiting_from: None,
        room: None,
        start_time: "08:00".into(),
        slot_minutes: 10,
        slot_count: 4,
        fee_fen: 600,
        release_at: 0,
        ends_at,
        status: "open".into(),
        stop_reason: None,
        stopped_by: None,
        stopped_at: None,
        created_by: "admin".into(),
        created_at: now(),
    }
}

/// Stores the session with its four slots (starting at 1000, 2000, …).
pub async fn put_session(db: &Db, s: &dayi_store::roster::Session) {
    let mut tx = db.begin().await.unwrap();
    assert!(dayi_store::roster::insert_session(&mut tx, s, &[1_000, 2_000, 3_000, 4_000]).await.unwrap());
    tx.commit().await.unwrap();
}
