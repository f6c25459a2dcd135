//! Operations: a stopped server leaves no write-ahead log behind and its
//! audit heads in the anchor file; `audit verify --anchor` catches the newest
//! entries deleted together with `audit_head`, which the chain alone cannot.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{ORG, TestApp};

fn dayi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dayi")).args(args).env_remove("DAYI_CONFIG").output().expect("run dayi")
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn a_stopped_server_leaves_no_log_and_anchors_its_audit_heads() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let db_url = format!("sqlite:{}", db.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_dayi"))
        .args(["demo", "--db", &db_url, "--listen", "127.0.0.1:0", "--log", "warn"])
        .current_dir(dir.path())
        .env_remove("DAYI_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start dayi demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines.by_ref().map_while(Result::ok).any(|l| l.contains("listening on"));
    assert!(listening, "the demo server started");
    // Seeding the demo community wrote megabytes, all of it still in the log.
    assert!(size(&dir.path().join("d.db-wal")) > 1_000_000, "log {} bytes", size(&dir.path().join("d.db-wal")));
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(waited < Duration::from_secs(30), "the server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
        waited += Duration::from_millis(100);
    };
    assert!(status.success(), "{status}");
    assert_eq!(size(&dir.path().join("d.db-wal")), 0, "the log was copied in and cut at shutdown");
    // The heads were anchored beside the database; the untouched chain matches them.
    let anchors = std::fs::read_to_string(dir.path().join("audit-anchor.log")).expect("anchor file");
    assert!(anchors.lines().any(|l| l.starts_with(&format!("{ORG} "))), "{anchors}");
    let anchor = dir.path().join("audit-anchor.log");
    let out = dayi(&["audit", "verify", "--db", &db_url, "--anchor", anchor.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("matches"), "{stdout}");
}

crate::on_both!(anchors_catch_the_newest_entries_deleted);

/// Runs SQL on the test's database behind the server's back.
async fn sql(t: &TestApp, statements: &[(&'static str, Vec<i64>, Option<String>)]) {
    let db = dayi_store::Db::connect(&dayi_store::DbConfig::new(&t.db_url)).await.unwrap();
    let org = dayi_store::tenancy::org_by_code(&db, ORG).await.unwrap().unwrap().org_id;
    for (text, ints, s) in statements {
        macro_rules! run {
            ($pool:expr) => {{
                let mut q = sqlx::query(*text).bind(org);
                for i in ints {
                    q = q.bind(*i);
                }
                if let Some(s) = s {
                    q = q.bind(s.clone());
                }
                q.execute($pool).await.map(|_| ())
            }};
        }
        match &db {
            dayi_store::Db::Sqlite { write, .. } => run!(write),
            dayi_store::Db::Postgres(p) => run!(p),
        }
        .unwrap();
    }
    db.close().await;
}

async fn anchors_catch_the_newest_entries_deleted(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    for _ in 0..5 {
        doc.get("/patients?q=zhang").await;
    }
    let dir = tempfile::tempdir().unwrap();
    let anchor_file = dir.path().join("anchors.log");
    let anchors = dayi_app::anchor::AnchorFile::new(&anchor_file);
    let written = anchors.write_moved(&t.app.db).await.unwrap();
    let mine = written.iter().find(|a| a.org_code == ORG).expect("the hospital's head").clone();
    assert!(written.iter().all(|a| a.seq > 0));
    assert!(anchors.write_moved(&t.app.db).await.unwrap().is_empty(), "nothing moved: nothing written");
    for _ in 0..3 {
        doc.get("/patients?q=li").await;
    }
    let anchor = anchor_file.to_str().unwrap();
    let out = dayi(&["audit", "verify", "--db", &t.db_url, "--anchor", anchor]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // Delete the newest entries (from ten before the anchored head) and move the head back with them.
    let keep = mine.seq - 10;
    let org = dayi_store::tenancy::org_by_code(&t.app.db, ORG).await.unwrap().unwrap().org_id;
    let hash = dayi_store::audit::hash_at(&t.app.db, org, keep).await.unwrap().unwrap();
    sql(
        t,
        &[
            ("DELETE FROM audit_log WHERE org_id = $1 AND seq > $2", vec![keep], None),
            ("UPDATE audit_head SET seq = $2, hash = $3 WHERE org_id = $1", vec![keep], Some(hash)),
        ],
    )
    .await;
    // The chain alone still verifies: the cut is invisible to it.
    let out = dayi(&["audit", "verify", "--db", &t.db_url, "--org", ORG]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("完整 / intact"), "{stdout}");
    // The anchor does not.
    let out = dayi(&["audit", "verify", "--db", &t.db_url, "--org", ORG, "--anchor", anchor]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ANCHOR MISMATCH") && stdout.contains("Truncated"), "{stdout}");
    assert!(stdout.contains(&format!("head_seq: {}", mine.seq)), "names the anchored entry: {stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken audit chain"));
    // An anchor file that names an organisation the database lost is refused too.
    std::fs::write(&anchor_file, mine.line().replacen(ORG, "gone", 1) + "\n").unwrap();
    let out = dayi(&["audit", "verify", "--db", &t.db_url, "--anchor", anchor]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("gone: 机构已不在数据库中"));
    // A damaged anchor file is an error, not a pass.
    std::fs::write(&anchor_file, "wsxrmyy twelve\n").unwrap();
    let out = dayi(&["audit", "verify", "--db", &t.db_url, "--anchor", anchor]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_prints_and_anchors_the_heads() {
    let t = TestApp::sqlite().await;
    t.as_user("doc01").await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b.db");
    let anchor = dir.path().join("anchors.log");
    let out =
        dayi(&["backup", dest.to_str().unwrap(), "--db", &t.db_url, "--audit-anchor-file", anchor.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let org = dayi_store::tenancy::org_by_code(&t.app.db, ORG).await.unwrap().unwrap().org_id;
    let head = dayi_store::audit::head(&t.app.db, org).await.unwrap();
    let printed = format!("{ORG} {} {}", head.seq, head.hash);
    assert!(stdout.contains(&printed), "{stdout}");
    assert!(std::fs::read_to_string(&anchor).unwrap().contains(&printed));
    t.stop().await;
}
