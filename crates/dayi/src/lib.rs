//! Start-up of the Dayi server, shared by the `dayi` binary and the tests.

pub mod import;
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
    /// Where the lab analyzers connect, when configured.
    pub mllp_addr: Option<SocketAddr>,
    pub app: App,
    pub task: tokio::task::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    mllp: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    /// The task anchoring audit heads in `audit_anchor_file`.
    anchors: Option<(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Stops accepting, lets requests in flight finish, anchors the audit
    /// heads a last time and closes the database (SQLite's log copied in and
    /// cut to nothing).
    pub async fn stop(mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        // Live event streams never end by themselves; end them so the server can.
        self.app.queue.close();
        if let Some((stop, task)) = self.mllp.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
        let _ = self.task.await;
        if let Some((stop, task)) = self.anchors.take() {
            let _ = stop.send(true);
            let _ = task.await;
        }
        self.app.db.close().await;
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

/// Puts WeChat Pay in place of the built-in local provider for online
/// payments, when `[pay.wechat]` is configured.
pub fn use_pay_providers(app: &mut App, r: &Resolved) -> anyhow::Result<()> {
    if let Some(cfg) = &r.wechat {
        let pay = dayi_app::pay::wechat::WechatPay::new(cfg.clone())
            .map_err(|e| anyhow::anyhow!("微信支付设置有误 / invalid [pay.wechat]: {e}"))?;
        tracing::info!(mchid = %cfg.mchid, base_url = %cfg.base_url, "online payments go through WeChat Pay");
        app.pay.wechat = Some(Arc::new(pay));
    }
    Ok(())
}

/// Binds and serves in the background.
pub async fn start(db: Db, r: &Resolved) -> anyhow::Result<Server> {
    let mut app = App::new(db, r.security.clone());
    use_sms_gateway(&mut app, r)?;
    use_pay_providers(&mut app, r)?;
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
    let (mllp_addr, mllp) = match &r.mllp {
        Some(m) => {
            let (a, stop) = start_mllp(&app, m).await?;
            (Some(a), Some(stop))
        }
        None => (None, None),
    };
    let anchors = r.audit_anchor_file.as_ref().map(|path| start_anchors(&app, path));
    Ok(Server { addr, mllp_addr, app, task, shutdown: Some(tx), mllp, anchors })
}

/// Anchors the audit heads in `path` now, every minute they moved, and at stop.
fn start_anchors(app: &App, path: &std::path::Path) -> (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let file = Arc::new(dayi_app::anchor::AnchorFile::new(path));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tracing::info!(file = %path.display(), "audit heads are anchored outside the database");
    let task = tokio::spawn(dayi_app::anchor::run(app.db.clone(), file, dayi_app::anchor::EVERY, stopped));
    (stop, task)
}

/// Starts the lab analyzers' MLLP listener for one organisation.
async fn start_mllp(
    app: &App,
    m: &settings::Mllp,
) -> anyhow::Result<(SocketAddr, (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>))> {
    let listener = TcpListener::bind(&m.listen)
        .await
        .map_err(|e| anyhow::anyhow!("无法监听 MLLP / cannot listen for MLLP on {}: {e}", m.listen))?;
    let addr = listener.local_addr()?;
    let sink = Arc::new(dayi_app::lab::analyzer::LabSink::new(app.clone(), &m.org));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(dayi_app::lab::mllp::serve(listener, sink, m.config.clone(), async move {
        let _ = rx.await;
    }));
    let known = m.config.known_peers.len();
    tracing::info!(%addr, org = %m.org, known_analyzers = known, "lab analyzers: HL7 v2 over MLLP");
    Ok((addr, (tx, task)))
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
