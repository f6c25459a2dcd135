//! Headless Chromium: a doctor signs in through the real login page and sees
//! the Chinese console. Screenshots go to target/e2e-artifacts/.

use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use crate::harness::{ORG, PASSWORD, TestApp};

pub async fn browser() -> Option<(fantoccini::Client, dayi_testkit::ChromeDriver, tempfile::TempDir)> {
    let driver = dayi_testkit::ChromeDriver::start()?;
    let (client, profile) = window(&driver).await?;
    Some((client, driver, profile))
}

/// Another browser on the same driver with its own profile (its own cookies),
/// for a test with several people signed in at once.
pub async fn window(driver: &dayi_testkit::ChromeDriver) -> Option<(fantoccini::Client, tempfile::TempDir)> {
    let profile = dayi_testkit::ChromeDriver::user_data_dir();
    let mut args: Vec<String> = dayi_testkit::ChromeDriver::chrome_args().iter().map(|s| s.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let mut caps = serde_json::Map::new();
    let binary = dayi_testkit::ChromeDriver::chromium_binary()?.display().to_string();
    caps.insert("goog:chromeOptions".into(), serde_json::json!({ "binary": binary, "args": args }));
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await
        .expect("connect to chromedriver");
    Some((client, profile))
}

/// Signs in as a demo account of the county hospital through the login page.
pub async fn sign_in(c: &fantoccini::Client, t: &TestApp, user: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&t.at("/login")).await.unwrap();
    c.find(Locator::Css("select[name=org]")).await.unwrap().select_by_value(ORG).await.unwrap();
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=user-name]")).await.unwrap();
}

pub async fn screenshot(c: &fantoccini::Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/e2e-artifacts");
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_signs_in_through_a_real_browser() {
    let Some((c, _driver, _profile)) = browser().await else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let t = TestApp::sqlite().await;
    c.goto(&t.at("/login")).await.unwrap();
    screenshot(&c, "login").await;
    c.find(Locator::Css("select[name=org]")).await.unwrap().select_by_value(ORG).await.unwrap();
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("doc01").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let name =
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=user-name]")).await.unwrap();
    assert_eq!(name.text().await.unwrap(), "王建国");
    let body = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
    assert!(body.contains("您好，王建国") && body.contains("工作台") && body.contains("汶上县人民医院"), "{body}");
    screenshot(&c, "doctor-home").await;
    // a wrong password in the browser shows the Chinese message and keeps the user name
    c.find(Locator::Css("form[action='/logout'] button")).await.unwrap().click().await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("input[name=username]")).await.unwrap();
    c.find(Locator::Css("select[name=org]")).await.unwrap().select_by_value(ORG).await.unwrap();
    c.find(Locator::Css("input[name=username]")).await.unwrap().send_keys("doc01").await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys("wrong-pass1").await.unwrap();
    c.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let err =
        c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("[data-testid=login-error]")).await.unwrap();
    assert!(err.text().await.unwrap().contains("用户名或密码错误"));
    let kept = c.find(Locator::Css("input[name=username]")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("doc01"));
    screenshot(&c, "login-error").await;
    c.close().await.unwrap();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_auditor_screens_in_a_browser() {
    let Some((c, _driver, _profile)) = browser().await else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let t = TestApp::sqlite().await;
    for (user, path, expect, shot) in [
        ("admin", "/admin/staff", "用户管理", "admin-staff"),
        ("admin", "/admin/depts", "科室设置", "admin-depts"),
        ("secadmin", "/security", "接口令牌", "security"),
        ("auditor", "/audit", "审计日志", "audit"),
        ("auditor", "/audit/verify", "哈希链无断裂", "audit-verify"),
    ] {
        sign_in(&c, &t, user).await;
        c.goto(&t.at(path)).await.unwrap();
        let body = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
        assert!(body.contains(expect), "{path}: {body}");
        screenshot(&c, shot).await;
    }
    // the API documentation page renders from vendored assets
    c.goto(&t.at("/api/docs")).await.unwrap();
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(".swagger-ui .info")).await.unwrap();
    screenshot(&c, "api-docs").await;
    c.close().await.unwrap();
    t.stop().await;
}
