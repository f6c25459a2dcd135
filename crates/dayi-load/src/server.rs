//! A Dayi server inside this process, on a free loopback port, with the demo
//! community seeded and an API token for the county hospital's registration
//! clerk, and the lab analyzers' MLLP listener on another free port. Built from the same `dayi::start` the binary and its tests use.

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
        Ok(OwnServer { server, token, org_id, backend, fresh: db.is_none(), _dir: dir })
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
async fn clerk_token(app: &App) -> anyhow::Result<(Uuid, String)> {
    let zh = |e: dayi_core::DomainError| anyhow!("{}", e.zh());
    dayi_app::demo::seed(app).await.map_err(zh)?;
    let orgs = dayi_app::tenancy::list_orgs(app).await.map_err(zh)?;
    let org = orgs.iter().find(|o| o.code == ORG).with_context(|| {
        format!("organisation {ORG} not found: give an empty database (the demo community is seeded into it)")
    })?;
    let actor = Actor::cli(org.org_id);
    let clerk = dayi_app::staff::find(app, &actor, CLERK).await.map_err(zh)?;
    let (_, token) = dayi_app::auth::create_token(app, &actor, clerk.id, "dayi-load").await.map_err(zh)?;
    Ok((org.org_id, token))
}
