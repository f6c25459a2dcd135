//! SQLite's write-ahead log is copied into the database file by the
//! background checkpointer (commits no longer do it), and the log is reused
//! rather than growing without end.

use std::time::Duration;

use dayi_store::{Db, DbConfig};

const ROUND_BYTES: u64 = 2_000_000;

async fn write_round(db: &Db) {
    let Db::Sqlite { write, .. } = db else { unreachable!("SQLite only") };
    // Two megabytes of rows in one transaction.
    sqlx::query("INSERT INTO filler (x) SELECT randomblob(1000) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) SELECT i FROM n)")
        .execute(write)
        .await
        .unwrap();
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn the_log_is_checkpointed_in_the_background_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let db = Db::connect(&DbConfig::new(format!("sqlite:{}", file.display()))).await.unwrap();
    let Db::Sqlite { write, .. } = &db else { unreachable!() };
    sqlx::query("CREATE TABLE filler (x BLOB)").execute(write).await.unwrap();

    write_round(&db).await;
    // The commit itself leaves the rows in the log only.
    assert!(size(&file) < ROUND_BYTES / 2, "database file {} bytes right after commit", size(&file));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(size(&file) >= ROUND_BYTES, "database file only {} bytes after a checkpoint", size(&file));

    for _ in 0..4 {
        write_round(&db).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(size(&file) >= 5 * ROUND_BYTES);
    // Five rounds written, but the log was restarted after each checkpoint.
    assert!(size(&wal) < 2 * ROUND_BYTES + ROUND_BYTES / 2, "log grew to {} bytes", size(&wal));
    db.close().await;
}

async fn burst(db: &Db, rows: u32) {
    let Db::Sqlite { write, .. } = db else { unreachable!("SQLite only") };
    let sql = "INSERT INTO filler (x) SELECT randomblob(1000) FROM \
               (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) SELECT i FROM n)";
    sqlx::query(sql).bind(rows).execute(write).await.unwrap();
}

#[tokio::test]
async fn a_log_past_the_configured_size_is_cut_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let cfg = DbConfig { wal_truncate_bytes: 4_000_000, ..DbConfig::new(format!("sqlite:{}", file.display())) };
    let db = Db::connect(&cfg).await.unwrap();
    let Db::Sqlite { write, read, .. } = &db else { unreachable!() };
    sqlx::query("CREATE TABLE filler (x BLOB)").execute(write).await.unwrap();
    // A reader inside a transaction pins the log: nothing can be cut meanwhile.
    let mut reader = read.begin().await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler").fetch_one(&mut *reader).await.unwrap();
    burst(&db, 10_000).await;
    assert!(size(&wal) > 8_000_000, "the burst is in the log: {} bytes", size(&wal));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(size(&wal) > 8_000_000, "cut back under a reader: {} bytes", size(&wal));
    // The writer is not held back by the waiting checkpoint for long.
    let t = std::time::Instant::now();
    burst(&db, 10).await;
    assert!(t.elapsed() < Duration::from_millis(1000), "a small write took {:?}", t.elapsed());
    reader.rollback().await.unwrap();
    // Once the reader is gone the log goes back to nothing within a few checkpoints.
    let mut waited = Duration::ZERO;
    while size(&wal) > 0 && waited < Duration::from_secs(6) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        waited += Duration::from_millis(250);
    }
    assert_eq!(size(&wal), 0, "log still {} bytes after {waited:?}", size(&wal));
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler").fetch_one(read).await.unwrap();
    assert_eq!(n, 10_010, "every row reached the database file");
    // Below the threshold the log is only reused, never cut (the cheap path).
    burst(&db, 2_000).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(size(&wal) > ROUND_BYTES, "a log under the threshold stays: {} bytes", size(&wal));
    db.close().await;
}

#[tokio::test]
async fn closing_leaves_no_log_behind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.db");
    let wal = dir.path().join("t.db-wal");
    let db = Db::connect(&DbConfig::new(format!("sqlite:{}", file.display()))).await.unwrap();
    let Db::Sqlite { write, read, .. } = &db else { unreachable!() };
    sqlx::query("CREATE TABLE filler (x BLOB)").execute(write).await.unwrap();
    burst(&db, 5_000).await;
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler").fetch_one(read).await.unwrap();
    assert!(size(&wal) > 4_000_000);
    db.close().await;
    assert_eq!(size(&wal), 0, "a clean close leaves an empty or no log");
    let again = Db::connect(&DbConfig::new(format!("sqlite:{}", file.display()))).await.unwrap();
    let Db::Sqlite { read, .. } = &again else { unreachable!() };
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM filler").fetch_one(read).await.unwrap();
    assert_eq!(n, 5_000);
    again.close().await;
}
