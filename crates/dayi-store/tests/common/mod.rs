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
