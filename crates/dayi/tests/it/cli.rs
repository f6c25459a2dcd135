//! The `dayi` binary: audit verification catches a row edited behind its
//! back; backup then restore round-trips the demo database; user management;
//! WeChat Pay from the settings, and a bad `[pay.wechat]` stops the start.

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

/// The test-only WeChat Pay keys (tests/fixtures/wechat).
fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/wechat/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn wechat_config(api_v3_key_file: &str) -> String {
    format!(
        "[pay.wechat]\nmchid = \"1900000109\"\nappid = \"wxd678efh567hg6787\"\nserial_no = \"5157F09E\"\n\
         private_key_file = \"{}\"\napi_v3_key_file = \"{api_v3_key_file}\"\n\
         [pay.wechat.platform_keys]\nPUB_KEY_ID_1 = \"{}\"\n",
        fixture("apiclient_key.pem"),
        fixture("wechatpay_pub.pem")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_pay_comes_from_the_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dayi.toml");
    std::fs::write(&config, wechat_config(&fixture("apiv3.key"))).unwrap();
    let cli = dayi::Settings {
        config: Some(config),
        db: Some(format!("sqlite:{}", dir.path().join("d.db").display())),
        listen: Some("127.0.0.1:0".into()),
        ..Default::default()
    };
    let r = dayi::Settings::resolve(&cli, "unused").unwrap();
    let server = dayi::start(dayi::open_db(&r.db).await.unwrap(), &r).await.unwrap();
    assert!(server.app.pay.wechat.is_some(), "WeChat Pay is the online provider");
    server.stop().await;
    // Without the table, the built-in local provider.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let r = dayi::Settings::resolve(&dayi::Settings { config: Some(empty), ..cli }, "unused").unwrap();
    assert!(r.wechat.is_none());
}

#[test]
fn a_bad_wechat_pay_setting_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("apiv3.key");
    std::fs::write(&key, "too short").unwrap();
    let config = dir.path().join("dayi.toml");
    std::fs::write(&config, wechat_config(key.to_str().unwrap())).unwrap();
    let db = dir.path().join("d.db");
    let db_url = format!("sqlite:{}", db.display());
    let args = ["serve", "--config", config.to_str().unwrap(), "--db", &db_url, "--listen", "127.0.0.1:0"];
    let out = dayi(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid [pay.wechat]") && err.contains("api_v3_key must be 32 characters"), "{err}");
    assert!(!db.exists(), "refused before the database was touched");
    // A missing piece is named, with where to give it.
    std::fs::write(&config, "[pay.wechat]\nmchid = \"1900000109\"\n").unwrap();
    let out = dayi(&args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[pay.wechat] needs") && err.contains("DAYI_PAY_WECHAT_API_V3_KEY_FILE"), "{err}");
}
