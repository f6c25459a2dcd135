//! The permission matrix: every role against every route. A role reaches a
//! route exactly when its permissions include what the route needs; without
//! a session, pages redirect to sign-in and the API answers 401.

use dayi_core::security::Roles;
use dayi_web::routes::{Need, specs};
use reqwest::{Method, StatusCode};

use crate::harness::{ROLE_USERS, Session, TestApp};

crate::on_both!(every_role_reaches_only_what_it_may, anonymous_callers_are_sent_to_sign_in);

/// A well-formed address for a route. A malformed id is answered 404 to
/// anyone, before the use case asks who is calling: it names nothing stored.
fn concrete(path: &str) -> String {
    // A slot's id is its session's and its number.
    let id = match path.starts_with("/fhir/Slot/") {
        true => format!("{}-1", uuid::Uuid::now_v7()),
        false => uuid::Uuid::now_v7().to_string(),
    };
    path.replace("{id}", &id)
        .replace("{order}", &uuid::Uuid::now_v7().to_string())
        .replace("{code}", "zh")
        .replace("{*path}", "css/dayi.css")
}

async fn call(s: &Session, method: &Method, path: &str) -> reqwest::Response {
    let url = format!("{}{}", s.base, path);
    let req = s.client.request(method.clone(), &url);
    let req = if *method == Method::GET {
        req
    } else if path.starts_with("/api/") {
        req.header("x-csrf-token", &s.csrf).json(&serde_json::json!({}))
    } else {
        req.form(&[("_csrf", s.csrf.as_str())])
    };
    req.send().await.unwrap()
}

async fn every_role_reaches_only_what_it_may(t: &TestApp) {
    let routes: Vec<_> = specs().into_iter().filter(|r| matches!(r.need, Need::Perm(_) | Need::AnyPerm(_))).collect();
    assert!(routes.len() > 20, "the table lists the console and API routes");
    let mut checked = 0;
    for (user, role) in ROLE_USERS {
        let s = t.as_user(user).await;
        let roles = Roles::new(vec![*role]).unwrap();
        for r in &routes {
            let path = concrete(r.path);
            let status = call(&s, &r.method, &path).await.status();
            let allowed = r.need.allows(&roles);
            if allowed {
                assert_ne!(status, StatusCode::FORBIDDEN, "{user} ({role}) should reach {} {}", r.method, r.path);
                assert!(status.as_u16() < 500, "{user}: {} {} answered {status}", r.method, r.path);
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{user} ({role}) must not reach {} {}", r.method, r.path);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * ROLE_USERS.len());
    // every denial was audited
    let auditor = t.as_user("auditor").await;
    let log: serde_json::Value = auditor.get("/api/audit?action=security.denied&limit=5").await.json().await.unwrap();
    assert!(!log.as_array().unwrap().is_empty(), "permission denials are in the audit log");
}

async fn anonymous_callers_are_sent_to_sign_in(t: &TestApp) {
    let c = t.client();
    for r in specs().into_iter().filter(|r| !matches!(r.need, Need::Public)) {
        let path = concrete(r.path);
        let resp = c.request(r.method.clone(), t.at(&path)).send().await.unwrap();
        let status = resp.status();
        let fhir = path == "/fhir" || path.starts_with("/fhir/");
        if path.starts_with("/api/") || fhir || path.starts_with("/portal/api/") {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {}", r.method, r.path);
        } else if r.method == Method::GET {
            assert_eq!(status, StatusCode::SEE_OTHER, "{} {}", r.method, r.path);
            let to = resp.headers()["location"].to_str().unwrap().to_string();
            let sign_in = if path.starts_with("/portal") { "/portal/login" } else { "/login" };
            assert!(to.starts_with(sign_in), "{} {} → {to}", r.method, r.path);
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{} {} needs a CSRF token", r.method, r.path);
        }
    }
}
