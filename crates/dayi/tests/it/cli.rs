//! The `dayi` binary: audit verification catches a row edited behind its
//! back; backup then restore round-trips the demo database; user management.

use std::process::Command;

use crate::harness::TestApp;

fn dayi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dayi")).args(args).env_remove("DAYI_CONFIG").output().expect("run dayi")
}

crate::on_both!(audit_verify_detects_a_row_edited_behind_its_back, user_commands);

async fn audit_verify_detects_a_row_edited_behind_its_back(t: &TestApp) {
    let s = t.as_user("doc01").await;
    s.get("/").await;
    let out = dayi(&["audit", "verify", "--db", &t.db_url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("完整"));
    // edit one entry directly in the database
    let db = dayi_store::Db::connect(&dayi_store::DbConfig::new(&t.db_url)).await.unwrap();
    let sql = "UPDATE audit_log SET actor_name = 'someone-else' WHERE seq = 1";
    match &db {
        dayi_store::Db::Sqlite { write, .. } => sqlx::query(sql).execute(write).await.map(|_| ()),
        dayi_store::Db::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
    db.close().await;
    let out = dayi(&["audit", "verify", "--db", &t.db_url]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BROKEN at entry 1"), "{stdout}");
}

async fn user_commands(t: &TestApp) {
    let out = dayi(&[
        "user",
        "add",
        "--db",
        &t.db_url,
        "--org",
        "wsxrmyy",
        "--username",
        "doc77",
        "--name",
        "赵医生",
        "--roles",
        "doctor",
        "--password",
        "abcd1234",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, r) = t.login("wsxrmyy", "doc77", "abcd1234").await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let out = dayi(&[
        "user",
        "add",
        "--db",
        &t.db_url,
        "--org",
        "wsxrmyy",
        "--username",
        "doc78",
        "--name",
        "x",
        "--roles",
        "admin,audit_admin",
        "--password",
        "abcd1234",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("不能由同一账号兼任"));
    let out = dayi(&[
        "user",
        "reset-password",
        "--db",
        &t.db_url,
        "--org",
        "wsxrmyy",
        "--username",
        "doc77",
        "--password",
        "newpass99",
    ]);
    assert!(out.status.success());
    let (_, r) = t.login("wsxrmyy", "doc77", "newpass99").await;
    assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
    let out = dayi(&["user", "require-2fa", "--db", &t.db_url, "--org", "wsxrmyy", "--username", "doc77"]);
    assert!(out.status.success());
    let (_, r) = t.login("wsxrmyy", "doc77", "newpass99").await;
    assert_eq!(r.headers()["location"], "/login/enrol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_round_trips_the_demo_database() {
    let t = TestApp::sqlite().await;
    t.as_user("doc01").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo-backup.db");
    let out = dayi(&["backup", file.to_str().unwrap(), "--db", &t.db_url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let target = format!("sqlite:{}", dir.path().join("restored.db").display());
    let out = dayi(&["restore", file.to_str().unwrap(), "--db", &target]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = dayi(&["audit", "verify", "--db", &target]);
    assert!(out.status.success());
    // the restored database serves the same accounts
    t.stop().await;
    let cli = dayi::Settings { db: Some(target), listen: Some("127.0.0.1:0".into()), ..Default::default() };
    let r = dayi::Settings::resolve(&cli, "unused").unwrap();
    let server = dayi::start(dayi::open_db(&r.db).await.unwrap(), &r).await.unwrap();
    let accounts = dayi_app::demo::seed(&server.app).await.unwrap();
    assert!(accounts.is_empty(), "the demo data came back with the restore");
    server.stop().await;
    // a corrupt backup is refused and changes nothing
    std::fs::write(dir.path().join("bad.db"), b"not a database").unwrap();
    let out = dayi(&[
        "restore",
        dir.path().join("bad.db").to_str().unwrap(),
        "--db",
        &format!("sqlite:{}", dir.path().join("x.db").display()),
    ]);
    assert!(!out.status.success());
}
