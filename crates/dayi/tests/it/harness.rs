//! `TestApp`: a running Dayi with the demo community seeded, and clients
//! signed in as any demo account.

use std::sync::Arc;

use reqwest::redirect::Policy;
use reqwest::{Client, StatusCode};

pub const PASSWORD: &str = dayi_app::demo::DEMO_PASSWORD;
pub const ORG: &str = "wsxrmyy";

pub struct TestApp {
    pub server: Option<dayi::Server>,
    pub url: String,
    pub db_url: String,
    pub app: dayi_app::App,
    _dir: Option<Arc<tempfile::TempDir>>,
}

/// Runs a test body on SQLite and on PostgreSQL, each with a running server.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => { dayi_testkit::on_both!($crate::harness::TestApp; $($name),*); };
}

impl dayi_testkit::Harness for TestApp {
    async fn sqlite() -> Self {
        TestApp::sqlite().await
    }
    async fn postgres() -> Option<Self> {
        TestApp::postgres().await
    }
    async fn finish(self) {
        self.stop().await
    }
}

impl TestApp {
    pub async fn sqlite() -> Self {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(tweak: impl FnOnce(&mut dayi::Resolved)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("dayi.db").display());
        Self::spawn(url, Some(Arc::new(dir)), tweak).await
    }

    pub async fn postgres() -> Option<Self> {
        Self::postgres_with(|_| {}).await
    }

    pub async fn postgres_with(tweak: impl FnOnce(&mut dayi::Resolved)) -> Option<Self> {
        let cluster = dayi_testkit::PgCluster::shared()?;
        Some(Self::spawn(cluster.create_database(), None, tweak).await)
    }

    async fn spawn(
        db_url: String,
        dir: Option<Arc<tempfile::TempDir>>,
        tweak: impl FnOnce(&mut dayi::Resolved),
    ) -> Self {
        let cli = dayi::Settings { db: Some(db_url.clone()), listen: Some("127.0.0.1:0".into()), ..Default::default() };
        let mut r = dayi::Settings::resolve(&cli, "unused").expect("settings");
        tweak(&mut r);
        let db = dayi::open_db(&r.db).await.expect("open db");
        let server = dayi::start(db, &r).await.expect("start");
        dayi_app::demo::seed(&server.app).await.expect("seed demo");
        Self { url: server.url(), app: server.app.clone(), server: Some(server), db_url, _dir: dir }
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    pub fn client(&self) -> Client {
        Client::builder().cookie_store(true).redirect(Policy::none()).build().expect("client")
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Signs in and returns the client and the session's CSRF token.
    pub async fn login(&self, org: &str, username: &str, password: &str) -> (Client, reqwest::Response) {
        let c = self.client();
        let page = c.get(self.at("/login")).send().await.unwrap().text().await.unwrap();
        let csrf = csrf_in(&page).expect("login form has a CSRF token");
        let r = c
            .post(self.at("/login"))
            .form(&[("_csrf", csrf.as_str()), ("org", org), ("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        (c, r)
    }

    /// A client signed in as a demo account of the county hospital.
    pub async fn as_user(&self, username: &str) -> Session {
        let (c, r) = self.login(ORG, username, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{username} signs in");
        let home = c.get(self.at("/")).send().await.unwrap().text().await.unwrap();
        let csrf = csrf_in(&home).unwrap_or_default();
        Session { client: c, csrf, base: self.url.clone() }
    }
}

/// A signed-in client with its CSRF token.
pub struct Session {
    pub client: Client,
    pub csrf: String,
    pub base: String,
}

impl Session {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{}", self.base, path)).send().await.unwrap()
    }
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut f: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        f.extend_from_slice(fields);
        self.client.post(format!("{}{}", self.base, path)).form(&f).send().await.unwrap()
    }
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// The CSRF token in a page (hidden field or the body's hx-headers).
pub fn csrf_in(html: &str) -> Option<String> {
    let i = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    Some(html[i..].split('"').next()?.to_string())
}

/// The demo account holding each role at the county hospital.
pub const ROLE_USERS: &[(&str, dayi_core::security::Role)] = {
    use dayi_core::security::Role::*;
    &[
        ("admin", Admin),
        ("secadmin", SecurityAdmin),
        ("auditor", AuditAdmin),
        ("reg01", Registrar),
        ("triage01", TriageNurse),
        ("doc01", Doctor),
        ("lab01", LabTech),
        ("ward01", WardNurse),
        ("ins01", InsuranceOfficer),
        ("ph01", PublicHealth),
        ("svc01", ServiceCentre),
        ("qc01", QualityOfficer),
        ("director", Director),
        ("party", PartySecretary),
    ]
};
