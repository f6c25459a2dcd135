//! The SQLite read path (rusqlite, `Db::optional` and friends) against the
//! writer: what a commit wrote is what the next read sees, on both paths.

mod common;
use common::*;

use dayi_store::fetch::Sql;
use dayi_store::{args, patient};

async fn a_commit_is_seen_by_the_next_read(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "lite").await;
    let id = make_patient(db, org.org_id, 1, "王秀英", "1958-03-01").await;
    // Warm the reader's statement cache and pages, then change the row under it.
    let before = patient::get(db, org.org_id, id).await.unwrap().unwrap();
    let mut changed = before.clone();
    changed.name = "王秀兰".into();
    changed.updated_at = before.updated_at + 1;
    let mut tx = db.begin().await.unwrap();
    assert!(patient::update(&mut tx, &changed, before.updated_at).await.unwrap());
    tx.commit().await.unwrap();
    let after = patient::get(db, org.org_id, id).await.unwrap().unwrap();
    assert_eq!(after.name, "王秀兰");
    assert_eq!(after, changed);
}

async fn arguments_and_rows_decode_alike(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "lite2").await;
    let a = make_patient(db, org.org_id, 1, "张三", "1960-01-01").await;
    let b = make_patient(db, org.org_id, 2, "李四", "1970-01-01").await;
    // An IN list built piece by piece, a NULL argument, a scalar and a report.
    let mut q = Sql::new("SELECT name FROM patient WHERE org_id = ");
    q.arg(org.org_id).push(" AND id IN (").list([a, b]).push(") AND (merged_into IS NULL OR merged_into = ");
    q.arg(None::<uuid::Uuid>).push(") ORDER BY name");
    let names: Vec<(String,)> = db.all(&q.text, &q.args).await.unwrap();
    assert_eq!(names, [("张三".to_string(),), ("李四".to_string(),)]);
    let sql = "SELECT COUNT(*) FROM patient WHERE org_id = $1 AND birth_date < $2";
    let n: i64 = db.scalar(sql, args![org.org_id, "1965-01-01"]).await.unwrap();
    assert_eq!(n, 1);
    let n: i64 = db.report_scalar(sql, args![org.org_id, "1999-01-01"]).await.unwrap();
    assert_eq!(n, 2);
    let none: Option<String> = db
        .scalar_optional("SELECT name FROM patient WHERE org_id = $1 AND id = $2", args![org.org_id, org.org_id])
        .await
        .unwrap();
    assert_eq!(none, None);
    let missing = db.scalar::<String>("SELECT name FROM patient WHERE org_id = $1 AND 1 = 0", args![org.org_id]).await;
    assert!(matches!(missing, Err(sqlx::Error::RowNotFound)));
}

async fn bad_sql_is_an_error_not_a_panic(t: &TestDb) {
    let db = &t.db;
    let r = db.all::<(i64,)>("SELECT nothing FROM nowhere WHERE x = $1", args![1_i64]).await;
    assert!(r.is_err());
    let r = db.report::<(i64,)>("SELECT nothing FROM nowhere", args![]).await;
    assert!(r.is_err());
}

on_both!(a_commit_is_seen_by_the_next_read, arguments_and_rows_decode_alike, bad_sql_is_an_error_not_a_panic);

async fn a_dropped_transaction_writes_nothing_and_frees_the_writer(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "lite3").await;
    let mut tx = db.begin().await.unwrap();
    let sql = "INSERT INTO dept (org_id, id, code, name, kind, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let n =
        tx.execute(sql, args![org.org_id, uuid::Uuid::now_v7(), "nk", "内科", "clinic", true, 0_i64]).await.unwrap();
    assert_eq!(n, 1);
    drop(tx);
    // The writer is free again (a leak would hang here), and nothing was kept.
    let mut tx =
        tokio::time::timeout(std::time::Duration::from_secs(5), db.begin()).await.expect("writer freed").unwrap();
    let kept: i64 = tx.scalar("SELECT COUNT(*) FROM dept WHERE org_id = $1", args![org.org_id]).await.unwrap();
    assert_eq!(kept, 0);
    tx.rollback().await.unwrap();
}

async fn the_writer_enforces_foreign_keys(t: &TestDb) {
    let db = &t.db;
    let mut tx = db.begin().await.unwrap();
    let sql = "INSERT INTO dept (org_id, id, code, name, kind, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let nowhere = uuid::Uuid::now_v7();
    let r = tx.execute(sql, args![nowhere, uuid::Uuid::now_v7(), "nk", "内科", "clinic", true, 0_i64]).await;
    assert!(r.is_err(), "a department of no organisation");
}

async fn writers_queue_and_all_commit(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "lite4").await;
    let sql = "INSERT INTO dept (org_id, id, code, name, kind, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let tasks = (0..16).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            let code = format!("d{i:02}");
            tx.execute(sql, args![org.org_id, uuid::Uuid::now_v7(), &code, "科室", "clinic", true, 0_i64])
                .await
                .unwrap();
            tokio::task::yield_now().await;
            tx.commit().await.unwrap();
        })
    });
    for t in tasks.collect::<Vec<_>>() {
        t.await.unwrap();
    }
    let n: i64 = db.scalar("SELECT COUNT(*) FROM dept WHERE org_id = $1", args![org.org_id]).await.unwrap();
    assert_eq!(n, 16);
}

on_both!(
    a_dropped_transaction_writes_nothing_and_frees_the_writer,
    the_writer_enforces_foreign_keys,
    writers_queue_and_all_commit
);
