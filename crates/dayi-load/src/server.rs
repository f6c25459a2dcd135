//! A Dayi server inside this process, on a free loopback port, with the demo
//! community seeded and an API token for the county hospital's registration
//! clerk, and the lab analyzers' MLLP listener on another free port. Built from the same `dayi::start` the binary and its tests use.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow};
use dayi_app::{Actor, App};
use uuid::Uuid;

use crate::http::Local;

/// The demo organisation and account the load runs as: 汶上县人民医院's
/// registration clerk 赵挂号, who may register and search patients.
pub const ORG: &str = "wsxrmyy";
pub const CLERK: &str = "reg01";

pub struct OwnServer {
    server: dayi::Server,
    pub token: String,
    pub org_id: Uuid,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// True when the database is a new SQLite file made for this run.
    pub fresh: bool,
    /// Holds the SQLite file (and an empty settings file) until the run ends.
    _dir: tempfile::TempDir,
    /// Holds the copy of a seeded file ([`OwnServer::start_from`]).
    _copy: Option<tempfile::TempDir>,
}

impl OwnServer {
    /// Starts on `db` (a URL such as `postgres://…`), or on a new SQLite
    /// file in a temporary directory when `db` is `None`.
    pub async fn start(db: Option<&str>) -> anyhow::Result<OwnServer> {
        OwnServer::start_with(db, None).await
    }

    /// Like [`OwnServer::start`], with the database pool's size instead of
    /// its default (`db_max_connections`).
    pub async fn start_with(db: Option<&str>, max_connections: Option<u32>) -> anyhow::Result<OwnServer> {
        let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
        let url = match db {
            Some(u) => u.to_string(),
            None => format!("sqlite:{}", dir.path().join("dayi.db").display()),
        };
        // An empty settings file, so a dayi.toml in the working directory
        // cannot change what is measured: every setting is the default,
        // but the pool size when one is given.
        let config = dir.path().join("dayi-load.toml");
        std::fs::write(&config, "")?;
        let cli = dayi::Settings {
            config: Some(config),
            db: Some(url),
            db_max_connections: max_connections,
            listen: Some("127.0.0.1:0".into()),
            // The lab analyzers' MLLP listener, for the `lab` scenario.
            mllp_listen: Some("127.0.0.1:0".into()),
            mllp_org: Some(ORG.into()),
            // Anchored as a server does by default, in the run's own directory.
            audit_anchor_file: Some(dir.path().join("audit-anchor.log")),
            log: Some("warn".into()),
            ..Default::default()
        };
        let r = dayi::Settings::resolve(&cli, "unused")?;
        let database = dayi::open_db(&r.db).await?;
        let backend = database.backend().to_string();
        let server = dayi::start(database, &r).await?;
        let (org_id, token) = match clerk_token(&server.app).await {
            Ok(v) => v,
            Err(e) => {
                server.stop().await;
                return Err(e);
            }
        };
        Ok(OwnServer { server, token, org_id, backend, fresh: db.is_none(), _dir: dir, _copy: None })
    }

    /// Like [`OwnServer::start_with`], on a private copy of the SQLite file
    /// `seeded` (made by [`seeded_file`]), counted as fresh: every run starts
    /// from the same data.
    pub async fn start_from(seeded: &Path, max_connections: Option<u32>) -> anyhow::Result<OwnServer> {
        let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
        let copy = dir.path().join("seeded.db");
        std::fs::copy(seeded, &copy).with_context(|| format!("cannot copy {}", seeded.display()))?;
        if wal_of(seeded).exists() {
            std::fs::copy(wal_of(seeded), wal_of(&copy))?;
        }
        let url = format!("sqlite:{}", copy.display());
        let mut s = OwnServer::start_with(Some(&url), max_connections).await?;
        s.fresh = true;
        s._copy = Some(dir);
        Ok(s)
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The in-process handle scenarios use to prepare data.
    pub fn local(&self) -> Local {
        Local { app: self.server.app.clone(), org_id: self.org_id, mllp: self.server.mllp_addr }
    }

    /// Stops accepting and waits for requests in flight.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Seeds the demo community (unless organisations exist) and issues a token
/// for the registration clerk, acting as the server's own command line.
pub(crate) async fn clerk_token(app: &App) -> anyhow::Result<(Uuid, String)> {
    let zh = |e: dayi_core::DomainError| anyhow!("{}", e.zh());
    dayi_app::demo::seed(app).await.map_err(zh)?;
    let orgs = dayi_app::tenancy::list_orgs(app).await.map_err(zh)?;
    let org = orgs.iter().find(|o| o.code == ORG).with_context(|| {
        format!("organisation {ORG} not found: give an empty database (the demo community is seeded into it)")
    })?;
    let actor = Actor::cli(org.org_id);
    let clerk = dayi_app::staff::find(app, &actor, CLERK).await.map_err(zh)?;
    let (_, token) = dayi_app::auth::create_token(app, &actor, clerk.id, "dayi-load", "").await.map_err(zh)?;
    Ok((org.org_id, token))
}

/// A SQLite file with the demo community and `patients` bulk-loaded patients
/// of `seed` (`dayi_app::demo::load_patients`: multi-row inserts, 10,000 a
/// transaction, the rows and search keys registration writes), kept in `dir`
/// and made only when it is not there yet. Runs start from a copy of it
/// ([`OwnServer::start_from`]), so the file itself never changes.
pub async fn seeded_file(dir: &Path, patients: u64, seed: u64) -> anyhow::Result<PathBuf> {
    let file = dir.join(format!("seeded-{patients}-{seed}.db"));
    if file.exists() {
        eprintln!("using the seeded database {}", file.display());
        return Ok(file);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let partial = dir.join(format!("seeded-{patients}-{seed}.partial.db"));
    for f in [partial.clone(), wal_of(&partial)] {
        let _ = std::fs::remove_file(f);
    }
    eprintln!("seeding {} with {patients} patients (once; later runs copy it)…", file.display());
    let t = Instant::now();
    let s = OwnServer::start_with(Some(&format!("sqlite:{}", partial.display())), None).await?;
    let loaded = dayi_app::demo::load_patients(&s.server.app, s.org_id, patients, seed).await;
    if loaded.is_ok() {
        // Everything into the main file, so the file alone is the database.
        s.server.app.db.fold_log().await?;
    }
    s.stop().await;
    let n = loaded.map_err(|e| anyhow!("{}", e.zh()))?;
    // A log written after the checkpoint goes along with the file.
    if wal_of(&partial).metadata().is_ok_and(|m| m.len() > 0) {
        std::fs::rename(wal_of(&partial), wal_of(&file))?;
    }
    std::fs::rename(&partial, &file)?;
    for f in [wal_of(&partial), shm_of(&partial)] {
        let _ = std::fs::remove_file(f);
    }
    eprintln!("seeded {n} patients in {:.1} s", t.elapsed().as_secs_f64());
    Ok(file)
}

fn wal_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-wal");
    PathBuf::from(s)
}

fn shm_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-shm");
    PathBuf::from(s)
}
