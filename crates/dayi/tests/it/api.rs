//! JSON API: tokens, problem+json errors, OpenAPI, health and metrics.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;

crate::on_both!(
    api_tokens_carry_their_account_roles,
    bad_input_gets_clear_coded_answers,
    platform_endpoints,
    json_sends_numbers_as_numbers_and_lists_as_arrays
);

async fn api_tokens_carry_their_account_roles(t: &TestApp) {
    let sec = t.as_user("secadmin").await;
    let staff: Value = sec.get("/api/staff").await.json().await.unwrap();
    let lab = staff.as_array().unwrap().iter().find(|s| s["username"] == "lab01").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = sec.post_json("/api/tokens", json!({ "staff_id": lab, "name": "生化分析仪 AU480" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let tok: Value = r.json().await.unwrap();
    let secret = tok["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("dayi_"));
    let c = t.client();
    let me: Value = c.get(t.at("/api/me")).bearer_auth(&secret).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["username"], "lab01");
    assert_eq!(me["roles"], json!(["lab_tech"]));
    // the token has the lab technician's reach, no more, and needs no CSRF token
    let r = c.get(t.at("/api/staff")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = c
        .post(t.at("/api/depts"))
        .bearer_auth(&secret)
        .json(&json!({"code": "99", "name": "x", "kind": "clinical"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // listed without its secret, then revoked
    let list: Value = sec.get("/api/tokens").await.json().await.unwrap();
    assert!(list.as_array().unwrap().iter().all(|t| t.get("token").is_none()));
    let id = tok["id"].as_str().unwrap();
    let r =
        sec.client.delete(t.at(&format!("/api/tokens/{id}"))).header("x-csrf-token", &sec.csrf).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c.get(t.at("/api/me")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "auth.token_invalid");
    let r = c.get(t.at("/api/me")).bearer_auth("dayi_garbage").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // resolved tokens are cached, but a disabled account's token stops at once
    let r = sec.post_json("/api/tokens", json!({ "staff_id": lab, "name": "second" })).await;
    let secret = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = c.get(t.at("/api/me")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let admin = t.as_user("admin").await;
    let r = admin.post_form(&format!("/admin/staff/{lab}/active"), &[("active", "0")]).await;
    assert!(r.status().is_redirection() || r.status().is_success(), "{}", r.status());
    let r = c.get(t.at("/api/me")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

async fn bad_input_gets_clear_coded_answers(t: &TestApp) {
    let admin = t.as_user("admin").await;
    // unknown routes
    let r = admin.get("/nowhere").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("不存在"));
    let r = admin.get("/api/nowhere").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "request.not_found");
    // wrong method
    let r = admin.client.put(t.at("/api/staff")).header("x-csrf-token", &admin.csrf).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // wrong content type, malformed JSON, wrong field types
    let r = admin.client.post(t.at("/api/staff")).header("x-csrf-token", &admin.csrf).body("x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "request.unsupported_media_type");
    let r = admin
        .client
        .post(t.at("/api/staff"))
        .header("x-csrf-token", &admin.csrf)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "request.invalid");
    let r = admin.post_json("/api/staff", json!({ "roles": "doctor" })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // field validation: every problem named, in Chinese and English, nothing written
    let r = admin
        .post_json(
            "/api/staff",
            json!({ "username": "A B", "name": "", "roles": ["admin", "audit_admin"], "password": "short" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "request.validation");
    let fields: Vec<&str> = p["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["username", "display_name", "roles", "password"]);
    assert!(p["fields"][2]["message"].as_str().unwrap().contains("三种职责不能由同一账号兼任"));
    assert!(p["fields"][0]["message_en"].as_str().unwrap().contains("User name"));
    // the form page keeps what was typed and marks the fields
    let r = admin
        .post_form(
            "/admin/staff",
            &[("username", "zhang san"), ("display_name", "张三"), ("roles", "doctor"), ("password", "1")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("value=\"zhang san\"") && html.contains("value=\"张三\""), "typed values kept");
    assert!(html.contains("用户名只能由") && html.contains("密码至少 8 位"));
    let staff: Value = admin.get("/api/staff").await.json().await.unwrap();
    assert!(!staff.as_array().unwrap().iter().any(|s| s["name"] == "张三"), "nothing was written");
    // duplicate user name
    let r = admin
        .post_json(
            "/api/staff",
            json!({ "username": "doc01", "name": "重名", "roles": ["doctor"], "password": "abcd1234" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["fields"][0]["code"], "staff.username_taken");
    let r = admin
        .post_json(
            "/api/staff",
            json!({ "username": "doc99", "name": "新医生", "roles": ["doctor"], "password": "abcd1234" }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

async fn platform_endpoints(t: &TestApp) {
    let c = t.client();
    let h: Value = c.get(t.at("/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["status"], "ok");
    let doc: Value = c.get(t.at("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in ["/api/me", "/api/staff", "/api/audit", "/api/tokens", "/healthz"] {
        assert!(doc["paths"].get(p).is_some(), "{p} documented");
    }
    let ui = c.get(t.at("/api/docs")).send().await.unwrap().text().await.unwrap();
    assert!(ui.contains("/static/vendor/swagger-ui/swagger-ui-bundle.js"));
    assert_eq!(
        c.get(t.at("/static/vendor/swagger-ui/swagger-ui-bundle.js")).send().await.unwrap().status(),
        StatusCode::OK
    );
    let m = c.get(t.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("dayi_http_requests_total") && m.contains("route=\"/healthz\""), "{m}");
    assert!(m.contains("dayi_http_request_duration_seconds") && m.contains("dayi_db_pool_connections"));
}

/// A body over the configured limit is refused with a coded answer. The limit
/// is small here so the whole body fits in the socket buffers: a server that
/// answers before reading a large body may otherwise close under the writer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_are_refused() {
    let t = TestApp::sqlite_with(|r| r.web.body_limit = 4 * 1024).await;
    let admin = t.as_user("admin").await;
    let big = format!("{{\"username\": \"{}\"}}", "x".repeat(16 * 1024));
    let r = admin
        .client
        .post(t.at("/api/staff"))
        .header("x-csrf-token", &admin.csrf)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "request.body_too_large");
    assert!(p["title"].as_str().unwrap().contains("4 KB"), "{p}");
    // the same for a form page
    let r = admin.post_form("/admin/depts", &[("name", big.as_str())]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("提交的内容过大"));
    t.stop().await;
}

/// The form types are shared with the url-encoded pages, where every value is
/// text; JSON clients send numbers as numbers (text still works), and role
/// lists as arrays on both routes that take one.
async fn json_sends_numbers_as_numbers_and_lists_as_arrays(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let depts: Value = admin.get("/api/depts").await.json().await.unwrap();
    let dept = depts.as_array().unwrap().iter().find(|d| d["kind"] == "clinical").unwrap()["id"].clone();
    let day = (dayi_core::timefmt::today_cst() + time::Duration::days(2)).to_string();
    let session = |minutes: Value, count: Value| {
        json!({ "dept_id": dept, "day": day, "half_day": "am", "clinic_type": "general", "doctor_name": "数字医生",
                "start_time": "08:00", "slot_minutes": minutes, "slot_count": count })
    };
    let r = admin.post_json("/api/sessions", session(json!(5), json!(3))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let s: Value = r.json().await.unwrap();
    assert_eq!((s["slot_minutes"].as_i64(), s["slot_count"].as_i64(), s["free"].as_i64()), (Some(5), Some(3), Some(3)));
    let r = admin.post_json("/api/sessions", session(json!("10"), json!("2"))).await;
    assert_eq!(r.status(), StatusCode::CREATED, "text still works");
    // A number out of range is the same field error as the text would be.
    let r = admin.post_json("/api/sessions", session(json!(-5), json!(3))).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = r.json().await.unwrap();
    assert!(p["fields"].as_array().unwrap().iter().any(|f| f["field"] == "slot_minutes"), "{p}");
    // Something that is neither is refused as unreadable, naming the field.
    let r = admin.post_json("/api/sessions", session(json!([5]), json!(3))).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("slot_minutes"));

    let nurse = t.as_user("triage01").await;
    let r = nurse.post_json("/api/triage/preview", json!({ "temperature": 38.5 })).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["route"], "fever");

    // Role lists: an array for an account and for a token alike.
    let sec = t.as_user("secadmin").await;
    let staff: Value = sec.get("/api/staff").await.json().await.unwrap();
    let doc = staff.as_array().unwrap().iter().find(|s| s["username"] == "doc01").unwrap()["id"].clone();
    let r = sec.post_json("/api/tokens", json!({ "staff_id": doc, "name": "只读", "roles": ["doctor"] })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["roles"], json!(["doctor"]));
    let r = sec.post_json("/api/tokens", json!({ "staff_id": doc, "name": "只读", "roles": "doctor" })).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = sec.post_json("/api/tokens", json!({ "staff_id": doc, "name": "全部" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.json::<Value>().await.unwrap()["roles"], Value::Null, "no list: all of the account's roles");
}
