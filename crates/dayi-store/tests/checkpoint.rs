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
