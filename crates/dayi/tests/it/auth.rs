//! Sign-in, lockout, CSRF, idle timeout, second factor.

use reqwest::StatusCode;

use crate::harness::{ORG, PASSWORD, TestApp, csrf_in};

crate::on_both!(
    doctor_signs_in_and_sees_the_chinese_console,
    five_failures_lock_the_account,
    forms_need_their_csrf_token,
    totp_per_role
);

async fn doctor_signs_in_and_sees_the_chinese_console(t: &TestApp) {
    let s = t.as_user("doc01").await;
    let html = s.get("/").await.text().await.unwrap();
    assert!(html.contains("王建国"), "the doctor's name");
    assert!(html.contains("工作台") && html.contains("汶上县人民医院"), "Chinese shell with the organisation");
    assert!(!html.contains("审计日志"), "a doctor has no audit entry in the navigation");
    // the English switch
    let r = s.get("/lang/en?next=/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = s.get("/").await.text().await.unwrap();
    assert!(html.contains("Console") && html.contains("Sign out"));
    // sign out ends the session
    let r = s.post_form("/logout", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.get("/").await.status(), StatusCode::SEE_OTHER);
}

async fn five_failures_lock_the_account(t: &TestApp) {
    for i in 1..=4 {
        let (_, r) = t.login(ORG, "doc02", "wrong-password1").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!("还可尝试 {} 次", 5 - i)), "attempt {i}: {html}");
        assert!(html.contains("value=\"doc02\""), "the form keeps the user name");
    }
    let (_, r) = t.login(ORG, "doc02", "wrong-password1").await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    assert!(r.text().await.unwrap().contains("账号已锁定"));
    // even the right password is refused while locked
    let (_, r) = t.login(ORG, "doc02", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::LOCKED);
    // other accounts are unaffected
    let (_, r) = t.login(ORG, "doc01", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // the security administrator unlocks it
    let sec = t.as_user("secadmin").await;
    let staff: serde_json::Value = sec.get("/api/staff").await.json().await.unwrap();
    let doc02 = staff.as_array().unwrap().iter().find(|s| s["username"] == "doc02").unwrap().clone();
    assert_eq!(doc02["locked"], true);
    let r = sec.post_form(&format!("/security/staff/{}/unlock", doc02["id"].as_str().unwrap()), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, r) = t.login(ORG, "doc02", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // failures, the lockout and the unlock are audited
    let auditor = t.as_user("auditor").await;
    let log: serde_json::Value = auditor.get("/api/audit?actor=doc02&limit=50").await.json().await.unwrap();
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"auth.lockout"), "{actions:?}");
    assert!(actions.iter().filter(|a| **a == "auth.login").count() >= 7);
}

async fn forms_need_their_csrf_token(t: &TestApp) {
    // sign-in without the token
    let c = t.client();
    let r = c
        .post(t.at("/login"))
        .form(&[("org", ORG), ("username", "doc01"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("请刷新页面后重新提交"));
    // a signed-in form with a missing or foreign token
    let admin = t.as_user("admin").await;
    let fields = [("username", "newdoc"), ("display_name", "新医生"), ("roles", "doctor"), ("password", "abcd1234")];
    let r = admin.client.post(t.at("/admin/staff")).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut forged = vec![("_csrf", "not-the-token")];
    forged.extend_from_slice(&fields);
    let r = admin.client.post(t.at("/admin/staff")).form(&forged).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin.client.post(t.at("/api/staff")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // nothing was created; with the token it is
    let list = admin.get("/admin/staff").await.text().await.unwrap();
    assert!(!list.contains("newdoc"));
    let r = admin.post_form("/admin/staff", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(admin.get("/admin/staff").await.text().await.unwrap().contains("newdoc"));
}

async fn totp_per_role(t: &TestApp) {
    let sec = t.as_user("secadmin").await;
    let r = sec.post_form("/security/roles", &[("totp_roles", "doctor")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // the doctor must enrol at the next sign-in and reaches nothing before
    let (c, r) = t.login(ORG, "doc01", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/login/enrol");
    assert_eq!(c.get(t.at("/")).send().await.unwrap().headers()["location"], "/login/enrol");
    assert_eq!(c.get(t.at("/api/me")).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let page = c.get(t.at("/login/enrol")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code to scan");
    let secret = page.split("data-testid=\"totp-secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let csrf = csrf_in(&page).unwrap();
    let r = c
        .post(t.at("/login/enrol"))
        .form(&[("_csrf", csrf.as_str()), ("secret", &secret), ("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let code = dayi_app::auth::current_code(&t.app, &secret).unwrap();
    let r = c
        .post(t.at("/login/enrol"))
        .form(&[("_csrf", csrf.as_str()), ("secret", &secret), ("code", &code)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/");
    assert_eq!(c.get(t.at("/")).send().await.unwrap().status(), StatusCode::OK);
    // the next sign-in asks for the code
    let (c, r) = t.login(ORG, "doc01", PASSWORD).await;
    assert_eq!(r.headers()["location"], "/login/totp");
    let page = c.get(t.at("/login/totp")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&page).unwrap();
    let r = c.post(t.at("/login/totp")).form(&[("_csrf", csrf.as_str()), ("code", "123456")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let code = dayi_app::auth::current_code(&t.app, &secret).unwrap();
    let r = c.post(t.at("/login/totp")).form(&[("_csrf", csrf.as_str()), ("code", &code)]).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/");
    assert!(c.get(t.at("/")).send().await.unwrap().text().await.unwrap().contains("已启用双因素认证"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_expire() {
    let t = TestApp::sqlite_with(|r| r.security.session_idle_minutes = 0).await;
    let (c, r) = t.login(ORG, "doc01", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = c.get(t.at("/")).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/login?expired=1");
    let r = c.get(t.at("/api/me")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = c.get(t.at("/login?expired=1")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("登录已过期"));
    t.stop().await;
}

crate::on_both!(separated_duties_cannot_be_taken_over);

/// 三权分立: the administrator cannot create, reset or disable the accounts that
/// watch them, and nobody can mint an API token that acts as an administrator.
async fn separated_duties_cannot_be_taken_over(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let staff: serde_json::Value = admin.get("/api/staff").await.json().await.unwrap();
    let id_of = |u: &str| {
        staff.as_array().unwrap().iter().find(|s| s["username"] == u).unwrap()["id"].as_str().unwrap().to_string()
    };
    let r = admin
        .post_json("/api/staff", serde_json::json!({ "username": "myauditor", "name": "自己人", "roles": ["audit_admin"], "password": "abcd1234" }))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "staff.duty_protected");
    let auditor = id_of("auditor");
    let r = admin.post_form(&format!("/admin/staff/{auditor}/password"), &[("password", "takeover99")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = admin.post_form(&format!("/admin/staff/{auditor}/active"), &[("active", "0")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, r) = t.login(ORG, "auditor", "takeover99").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "the auditor's password is unchanged");
    // an ordinary account is still the administrator's to manage
    let r = admin.post_form(&format!("/admin/staff/{}/password", id_of("doc02")), &[("password", "newpass99")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // the security administrator cannot mint a token that acts as an administrator
    let sec = t.as_user("secadmin").await;
    for who in ["auditor", "admin", "secadmin"] {
        let r = sec.post_json("/api/tokens", serde_json::json!({ "staff_id": id_of(who), "name": "x" })).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "token for {who}");
    }
}
