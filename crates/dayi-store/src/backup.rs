//! Consistent online copies of the database and their restore.
//!
//! SQLite: `VACUUM INTO` writes a transactionally consistent copy while the
//! server keeps running (readers and the writer are not blocked for long).
//! PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore`.

use std::path::Path;
use std::process::Command;

use crate::Db;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Tool(String),
}

/// Writes a consistent copy of the database to `dest` (which must not exist).
pub async fn backup(db: &Db, url: &str, dest: &Path) -> Result<(), BackupError> {
    if dest.exists() {
        return Err(BackupError::Tool(format!("目标文件已存在 / destination exists: {}", dest.display())));
    }
    match db {
        Db::Sqlite { .. } => {
            let dest = dest.to_str().ok_or_else(|| BackupError::Tool("path is not UTF-8".into()))?;
            // A connection of its own (not the writer): VACUUM INTO reads one
            // snapshot, so the server's writers carry on meanwhile under WAL.
            use sqlx::Connection;
            let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)?;
            let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&opts).await?;
            sqlx::query("VACUUM INTO $1").bind(dest).execute(&mut conn).await?;
            conn.close().await?;
            Ok(())
        }
        Db::Postgres(_) => {
            let out = Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(dest)
                .arg(url)
                .output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(BackupError::Tool(format!("pg_dump: {}", String::from_utf8_lossy(&out.stderr).trim())))
            }
        }
    }
}

/// Replaces the database at `url` with the copy at `src`. For SQLite the
/// server must be stopped; the copy is integrity-checked before it is used.
pub async fn restore(url: &str, src: &Path) -> Result<(), BackupError> {
    if !src.exists() {
        return Err(BackupError::Tool(format!("备份文件不存在 / backup not found: {}", src.display())));
    }
    if let Some(path) = crate::db::sqlite_path(url) {
        use sqlx::Connection;
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(src).read_only(true);
        let mut copy = sqlx::sqlite::SqliteConnection::connect_with(&opts).await?;
        let ok: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut copy).await?;
        copy.close().await?;
        if ok != "ok" {
            return Err(BackupError::Tool(format!("备份文件已损坏 / backup is corrupt: {ok}")));
        }
        let target = Path::new(&path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Copy beside the target, then rename: the old file stays whole until the switch.
        let tmp = target.with_extension("restoring");
        std::fs::copy(src, &tmp)?;
        for ext in ["db-wal", "db-shm"] {
            let _ = std::fs::remove_file(target.with_extension(ext));
        }
        std::fs::rename(&tmp, target)?;
        return Ok(());
    }
    let out = Command::new("pg_restore")
        .args(["--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname"])
        .arg(url)
        .arg(src)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BackupError::Tool(format!("pg_restore: {}", String::from_utf8_lossy(&out.stderr).trim())))
    }
}
