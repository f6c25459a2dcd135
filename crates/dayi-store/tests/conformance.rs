//! The storage conformance suite: every story runs on SQLite and on a real
//! PostgreSQL server started by `dayi-testkit` (skipped only when the server
//! binaries are missing and `DAYI_REQUIRE_PG` is not set).

use dayi_core::audit::{Break, Entry, OK};
use dayi_store::audit::Filter;
use dayi_store::auth::{ApiToken, Session};
use dayi_store::setting::Setting;
use dayi_store::staff::Staff;
use dayi_store::tenancy::{Dept, Org};
use dayi_store::{Db, DbConfig, with_db};

mod common;
use common::*;
use uuid::Uuid;

on_both!(
    orgs_staff_and_lockout,
    sessions_and_tokens,
    audit_chain_detects_tampering,
    audit_purge_keeps_chain,
    concurrent_audit_appends,
    settings_are_dated,
    backup_round_trip
);

fn staff(org: &Org, username: &str) -> Staff {
    Staff {
        org_id: org.org_id,
        id: Uuid::now_v7(),
        username: username.into(),
        display_name: "王建国".into(),
        dept_id: None,
        roles: "doctor".into(),
        password_hash: "x".into(),
        active: true,
        totp_secret: None,
        totp_required: false,
        failed_count: 0,
        locked_until: None,
        last_login_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

async fn orgs_staff_and_lockout(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "wsx").await;
    let other = make_org(db, "ciqiu").await;
    assert_eq!(dayi_store::tenancy::get_org(db, org.org_id).await.unwrap().unwrap(), org);
    assert_eq!(dayi_store::tenancy::org_by_code(db, "ciqiu").await.unwrap().unwrap().org_id, other.org_id);

    let d = Dept {
        org_id: org.org_id,
        id: Uuid::now_v7(),
        code: "03".into(),
        name: "内科".into(),
        kind: "clinical".into(),
        active: true,
        created_at: now(),
    };
    let mut tx = db.begin().await.unwrap();
    dayi_store::tenancy::insert_dept(&mut tx, &d).await.unwrap();
    let s = staff(&org, "doc01");
    dayi_store::staff::insert(&mut tx, &s).await.unwrap();
    // the same user name in another organisation is a different account
    dayi_store::staff::insert(&mut tx, &staff(&other, "doc01")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(dayi_store::tenancy::list_depts(db, org.org_id).await.unwrap(), vec![d]);
    assert!(
        dayi_store::tenancy::list_depts(db, other.org_id).await.unwrap().is_empty(),
        "departments stay in their organisation"
    );

    let mut tx = db.begin().await.unwrap();
    let err = dayi_store::staff::insert(&mut tx, &staff(&org, "doc01")).await.unwrap_err();
    assert!(dayi_store::is_unique_violation(&err), "{err}");
    tx.rollback().await.unwrap();

    let got = dayi_store::staff::by_username(db, org.org_id, "doc01").await.unwrap().unwrap();
    assert_eq!(got, s);
    // five failures lock the account
    let until = now() + 900_000_000;
    for i in 1..=5 {
        let mut tx = db.begin().await.unwrap();
        let (count, locked) =
            dayi_store::staff::record_failure(&mut tx, org.org_id, s.id, 5, until, now()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(count, i);
        assert_eq!(locked.is_some(), i == 5);
    }
    let mut tx = db.begin().await.unwrap();
    dayi_store::staff::record_success(&mut tx, org.org_id, s.id, now()).await.unwrap();
    tx.commit().await.unwrap();
    let got = dayi_store::staff::get(db, org.org_id, s.id).await.unwrap().unwrap();
    assert_eq!((got.failed_count, got.locked_until), (0, None));
    assert!(got.last_login_at.is_some());
}

async fn sessions_and_tokens(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "wsx").await;
    let s = staff(&org, "doc01");
    let sess = Session {
        org_id: org.org_id,
        token_hash: "h1".into(),
        staff_id: s.id,
        stage: "totp".into(),
        csrf: "c".into(),
        ip: "127.0.0.1".into(),
        user_agent: "ua".into(),
        created_at: now(),
        last_seen_at: 1,
    };
    let mut tx = db.begin().await.unwrap();
    dayi_store::staff::insert(&mut tx, &s).await.unwrap();
    dayi_store::auth::insert_session(&mut tx, &sess).await.unwrap();
    dayi_store::auth::touch_session(&mut tx, org.org_id, "h1", 99).await.unwrap();
    dayi_store::auth::set_session_stage(&mut tx, org.org_id, "h1", "full").await.unwrap();
    tx.commit().await.unwrap();
    let got = dayi_store::auth::get_session(db, org.org_id, "h1").await.unwrap().unwrap();
    assert_eq!((got.last_seen_at, got.stage.as_str()), (99, "full"));
    let mut tx = db.begin().await.unwrap();
    assert_eq!(dayi_store::auth::purge_idle_sessions(&mut tx, 100).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert!(dayi_store::auth::get_session(db, org.org_id, "h1").await.unwrap().is_none());

    let tok = ApiToken {
        org_id: org.org_id,
        id: Uuid::now_v7(),
        staff_id: s.id,
        name: "生化分析仪".into(),
        token_hash: "th".into(),
        created_by: s.id,
        created_at: now(),
        last_used_at: None,
        revoked_at: None,
        roles: Some("lab_tech".into()),
    };
    let mut tx = db.begin().await.unwrap();
    dayi_store::auth::insert_token(&mut tx, &tok).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(dayi_store::auth::token_by_hash(db, org.org_id, "th").await.unwrap().unwrap(), tok);
    let mut tx = db.begin().await.unwrap();
    assert_eq!(dayi_store::auth::revoke_token(&mut tx, org.org_id, tok.id, now()).await.unwrap(), 1);
    assert_eq!(
        dayi_store::auth::revoke_token(&mut tx, org.org_id, tok.id, now()).await.unwrap(),
        0,
        "revoking twice changes nothing"
    );
    dayi_store::auth::set_role_totp(&mut tx, org.org_id, "doctor", true, now()).await.unwrap();
    dayi_store::auth::set_role_totp(&mut tx, org.org_id, "admin", true, now()).await.unwrap();
    dayi_store::auth::set_role_totp(&mut tx, org.org_id, "admin", false, now()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(dayi_store::auth::token_by_hash(db, org.org_id, "th").await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(dayi_store::auth::totp_roles(db, org.org_id).await.unwrap(), vec!["doctor".to_string()]);
}

fn entry(org: Uuid, action: &str, at: i64) -> Entry {
    Entry {
        org_id: org,
        seq: 0,
        at,
        actor_id: None,
        actor_name: "doc01".into(),
        action: action.into(),
        entity: "patient".into(),
        entity_id: "p1".into(),
        patient_id: Some(Uuid::now_v7()),
        ip: "127.0.0.1".into(),
        outcome: OK.into(),
        detail: "查看病历".into(),
    }
}

async fn append(db: &Db, org: Uuid, entries: Vec<Entry>) {
    let mut tx = db.begin().await.unwrap();
    dayi_store::audit::append(&mut tx, org, entries).await.unwrap();
    tx.commit().await.unwrap();
}

async fn exec(db: &Db, sql: &str, org: Uuid, seq: i64) {
    match db {
        Db::Sqlite { write, .. } => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).bind(org).bind(seq).execute(write).await.map(|_| ())
        }
        Db::Postgres(p) => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).bind(org).bind(seq).execute(p).await.map(|_| ())
        }
    }
    .unwrap();
}

async fn audit_chain_detects_tampering(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "wsx").await;
    let other = make_org(db, "ciqiu").await;
    append(db, org.org_id, vec![entry(org.org_id, "patient.read", 1), entry(org.org_id, "patient.update", 2)]).await;
    append(db, other.org_id, vec![entry(other.org_id, "patient.read", 3)]).await;
    append(db, org.org_id, vec![entry(org.org_id, "auth.login", 4)]).await;
    let r = dayi_store::audit::verify(db, org.org_id).await.unwrap();
    assert_eq!((r.checked, r.broken), (3, None));
    assert_eq!(dayi_store::audit::count(db, other.org_id).await.unwrap(), 1, "chains are per organisation");

    let rows = dayi_store::audit::search(
        db,
        org.org_id,
        &Filter { action_prefix: Some("patient.".into()), limit: 10, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 1]);

    // an edit behind the application's back
    exec(db, "UPDATE audit_log SET detail = 'nothing to see' WHERE org_id = $1 AND seq = $2", org.org_id, 2).await;
    let r = dayi_store::audit::verify(db, org.org_id).await.unwrap();
    assert_eq!(r.broken, Some(Break::Altered { seq: 2 }));
    assert_eq!(dayi_store::audit::verify(db, other.org_id).await.unwrap().broken, None);

    // a deletion
    let org2 = make_org(db, "guolou").await;
    append(db, org2.org_id, (0..4).map(|i| entry(org2.org_id, "x", i)).collect()).await;
    exec(db, "DELETE FROM audit_log WHERE org_id = $1 AND seq = $2", org2.org_id, 2).await;
    assert_eq!(
        dayi_store::audit::verify(db, org2.org_id).await.unwrap().broken,
        Some(Break::Gap { expected_seq: 2, found_seq: 3 })
    );
}

async fn audit_purge_keeps_chain(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "wsx").await;
    append(db, org.org_id, (1..=10).map(|i| entry(org.org_id, "patient.read", i * 100)).collect()).await;
    let mut tx = db.begin().await.unwrap();
    let n = dayi_store::audit::purge_before(&mut tx, org.org_id, 450).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 4);
    let r = dayi_store::audit::verify(db, org.org_id).await.unwrap();
    assert_eq!((r.checked, r.broken), (6, None));
    append(db, org.org_id, vec![entry(org.org_id, "after", 2000)]).await;
    assert_eq!(dayi_store::audit::verify(db, org.org_id).await.unwrap().broken, None);
    // deleting the oldest kept entry is still caught
    exec(db, "DELETE FROM audit_log WHERE org_id = $1 AND seq = $2", org.org_id, 5).await;
    assert!(dayi_store::audit::verify(db, org.org_id).await.unwrap().broken.is_some());
}

async fn concurrent_audit_appends(t: &TestDb) {
    let db = t.db.clone();
    let org = make_org(&db, "wsx").await;
    let mut tasks = vec![];
    for i in 0..24 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            dayi_store::audit::append(&mut tx, org.org_id, vec![entry(org.org_id, &format!("t{i}"), i)]).await.unwrap();
            tx.commit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let r = dayi_store::audit::verify(&db, org.org_id).await.unwrap();
    assert_eq!((r.checked, r.broken), (24, None));
}

async fn settings_are_dated(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "wsx").await;
    let row = |from: &str, v: &str| Setting {
        org_id: org.org_id,
        key: "triage.fever_celsius".into(),
        effective_from: from.into(),
        value: v.into(),
        source: "catalog/triage.toml".into(),
        updated_by: "admin".into(),
        updated_at: now(),
    };
    let mut tx = db.begin().await.unwrap();
    dayi_store::setting::upsert(&mut tx, &row("2020-01-01", "37.3")).await.unwrap();
    dayi_store::setting::upsert(&mut tx, &row("2026-01-01", "37.5")).await.unwrap();
    dayi_store::setting::upsert(&mut tx, &row("2026-01-01", "38.0")).await.unwrap();
    tx.commit().await.unwrap();
    let v = |d: &'static str| async move {
        dayi_store::setting::effective(db, org.org_id, "triage.fever_celsius", d).await.unwrap().map(|s| s.value)
    };
    assert_eq!(v("2019-12-31").await, None);
    assert_eq!(v("2025-06-01").await.as_deref(), Some("37.3"));
    assert_eq!(v("2026-01-01").await.as_deref(), Some("38.0"));
    assert_eq!(dayi_store::setting::list(db, org.org_id).await.unwrap().len(), 2);
}

async fn backup_round_trip(t: &TestDb) {
    let db = &t.db;
    let org = make_org(db, "wsx").await;
    append(db, org.org_id, vec![entry(org.org_id, "a", 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.dump");
    if db.is_postgres() && std::process::Command::new("pg_dump").arg("--version").output().is_err() {
        eprintln!("pg_dump not on PATH: skipped");
        return;
    }
    dayi_store::backup::backup(db, &t.url, &file).await.unwrap();
    assert!(dayi_store::backup::backup(db, &t.url, &file).await.is_err(), "never overwrites");
    // restore into a fresh database and find the same data
    let target_url = match db {
        Db::Sqlite { .. } => format!("sqlite:{}", dir.path().join("restored.db").display()),
        Db::Postgres(_) => dayi_testkit::PgCluster::shared().unwrap().create_database(),
    };
    dayi_store::backup::restore(&target_url, &file).await.unwrap();
    let restored = Db::connect(&DbConfig::new(&target_url)).await.unwrap();
    restored.migrate().await.unwrap();
    assert_eq!(dayi_store::tenancy::org_by_code(&restored, "wsx").await.unwrap().unwrap().org_id, org.org_id);
    assert_eq!(dayi_store::audit::verify(&restored, org.org_id).await.unwrap().broken, None);
    let n: i64 =
        with_db!(&restored, p => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(p).await).unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_merge_moves_every_table_that_names_a_patient() {
    let s = sqlite().await;
    let schema = dayi_store::schema::describe(&s.db).await.unwrap();
    let listed: Vec<&str> = dayi_store::patient::REFERENCES
        .iter()
        .map(|(t, _)| *t)
        .chain(dayi_store::patient::NOT_MOVED.iter().copied())
        .collect();
    for (name, t) in &schema.tables {
        if t.columns.contains_key("patient_id") {
            assert!(listed.contains(&name.as_str()), "{name} names a patient: move it on merge or say why not");
        }
    }
    for (name, key) in dayi_store::patient::REFERENCES {
        assert!(schema.tables[*name].columns.contains_key(*key), "{name}: moved rows are logged by {key}");
    }
}

#[tokio::test]
async fn schemas_match_on_both_databases() {
    let s = sqlite().await;
    let Some(p) = postgres().await else {
        eprintln!("PostgreSQL binaries not found: skipped");
        return;
    };
    let a = dayi_store::schema::describe(&s.db).await.unwrap();
    let b = dayi_store::schema::describe(&p.db).await.unwrap();
    assert!(!a.tables.is_empty());
    assert_eq!(a.tables.keys().collect::<Vec<_>>(), b.tables.keys().collect::<Vec<_>>(), "same tables");
    for (name, ta) in &a.tables {
        let tb = &b.tables[name];
        assert_eq!(ta.columns, tb.columns, "columns and nullability of {name}");
        assert_eq!(ta.primary_key, tb.primary_key, "primary key of {name}");
        assert_eq!(ta.primary_key.first().map(String::as_str), Some("org_id"), "{name}: org_id leads the key");
    }
    assert_eq!(a.indexes, b.indexes, "same named indexes");
    for (name, idx) in &a.indexes {
        if idx.table != "org" {
            assert_eq!(idx.columns.first().map(String::as_str), Some("org_id"), "index {name} leads with org_id");
        }
    }
}
