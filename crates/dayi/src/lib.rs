//! Start-up of the Dayi server, shared by the `dayi` binary and the tests.

pub mod settings;

use std::net::SocketAddr;
use std::sync::Arc;

use dayi_app::App;
use dayi_store::{Db, DbConfig};
use tokio::net::TcpListener;

pub use settings::{Resolved, Settings};

/// Connects and brings the schema up to date.
pub async fn open_db(cfg: &DbConfig) -> anyhow::Result<Db> {
    let db = Db::connect(cfg)
        .await
        .map_err(|e| anyhow::anyhow!("无法连接数据库 / cannot open database {}: {e}", cfg.url))?;
    db.migrate().await.map_err(|e| anyhow::anyhow!("数据库迁移失败 / migration failed: {e}"))?;
    Ok(db)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: App,
    pub task: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        // Live event streams never end by themselves; end them so the server can.
        self.app.queue.close();
        let _ = self.task.await;
    }
}

/// Puts the configured SMS gateway in place of the built-in message log.
pub fn use_sms_gateway(app: &mut App, r: &Resolved) -> anyhow::Result<()> {
    if let Some(cfg) = &r.sms {
        tracing::info!(endpoint = %cfg.endpoint, sign_name = %cfg.sign_name, "text messages go through Alibaba Cloud SMS");
        app.sms = Arc::new(dayi_app::sms::aliyun::AliyunSms::new(cfg.clone()).map_err(|e| anyhow::anyhow!(e))?);
    }
    Ok(())
}

/// Binds and serves in the background.
pub async fn start(db: Db, r: &Resolved) -> anyhow::Result<Server> {
    let mut app = App::new(db, r.security.clone());
    use_sms_gateway(&mut app, r)?;
    let router = dayi_web::router(app.clone(), r.web.clone());
    let listener = TcpListener::bind(&r.listen)
        .await
        .map_err(|e| anyhow::anyhow!("无法监听 / cannot listen on {}: {e}", r.listen))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let svc = router.into_make_service_with_connect_info::<SocketAddr>();
        let res = axum::serve(listener, svc)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!(error = %e, "server stopped");
        }
    });
    Ok(Server { addr, app, task, shutdown: Some(tx) })
}

/// Waits for Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
