//! Request bodies are limited per route: an ordinary form or JSON route
//! refuses what only a FHIR document route needs, before reading it whole.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::date;

use crate::fhir::{RESIDENT_ID, token_for};
use crate::harness::TestApp;

/// About a megabyte of patients in one transaction, as a migration sends them.
fn patients_bundle(n: u16) -> Value {
    let entries: Vec<Value> = (0..n)
        .map(|i| {
            let birth = date!(1950 - 01 - 01) + time::Duration::days(i64::from(i) * 5);
            let seq = 100 + i % 800;
            let number = dayi_core::identity::make_resident_id("370830", birth, seq);
            let gender = if seq % 2 == 1 { "male" } else { "female" };
            const CHARS: [char; 20] = ['建', '国', '红', '梅', '志', '强', '秀', '英', '文', '华', '明', '丽', '海', '燕', '军', '平', '春', '兰', '德', '静'];
            let given: String = [i % 20, i / 20 % 20, i / 400 % 20].iter().map(|&k| CHARS[usize::from(k)]).collect();
            json!({
                "fullUrl": format!("urn:uuid:5b7e0c3a-0000-4000-8000-{i:012}"),
                "request": { "method": "POST", "url": "Patient" },
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [
                        { "system": RESIDENT_ID, "value": number },
                        { "system": "urn:oid:1.2.156.999.1", "value": format!("OLD-{i:06}") },
                    ],
                    "name": [{ "use": "official", "family": "孔", "given": [given.clone()], "text": format!("孔{given}") }],
                    "gender": gender,
                    "birthDate": birth.to_string(),
                    "telecom": [{ "system": "phone", "value": format!("1380000{:04}", i), "use": "mobile" }],
                    "address": [{ "use": "home", "text": format!("山东省济宁市汶上县汶上街道中都大街{i}号院{}单元", i % 9 + 1) }],
                }
            })
        })
        .collect();
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
}

/// Posts `body` in 8 KiB chunks (`Transfer-Encoding: chunked`, no length);
/// returns the status line and what came back.
async fn chunked_post(t: &TestApp, path: &str, token: &str, body: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    for c in body.chunks(8 * 1024) {
        // The server may answer and close before the rest is sent.
        if s.write_all(format!("{:x}\r\n", c.len()).as_bytes()).await.is_err()
            || s.write_all(c).await.is_err()
            || s.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = s.write_all(b"0\r\n\r\n").await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    (text.lines().next().unwrap_or_default().to_string(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_limited_per_route() {
    let t = TestApp::sqlite().await;
    let token = token_for(&t, "reg01").await;
    // 100 KiB to an ordinary JSON route: refused from its length, with the route's limit.
    let big = json!({ "name": "张三", "address": "街".repeat(34 * 1024) }).to_string();
    assert!(big.len() > 100 * 1024);
    let r =
        t.client().post(t.at("/api/patients")).bearer_auth(&token).json(&serde_json::from_str::<Value>(&big).unwrap());
    let r = r.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["code"], "request.body_too_large");
    assert!(p["title"].as_str().unwrap().contains("64 KB"), "{p}");
    // The same sent in chunks, without a length: cut off once it passes the limit.
    let (status, body) = chunked_post(&t, "/api/patients", &token, big.as_bytes()).await;
    assert!(status.starts_with("HTTP/1.1 413"), "{body}");
    assert!(body.contains("request.body_too_large"), "{body}");
    // A console form too (its CSRF field is read from the body under the same limit).
    let reg = t.as_user("reg01").await;
    let r = reg.post_form("/patients", &[("name", "张三"), ("address", &"街".repeat(30 * 1024))]).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.text().await.unwrap().contains("提交的内容过大（上限 64 KB）"));

    // A FHIR transaction of about a megabyte still goes in, whole.
    let bundle = patients_bundle(2000).to_string();
    assert!(bundle.len() > 1024 * 1024 && bundle.len() < 2048 * 1024, "{} bytes", bundle.len());
    let r = t
        .client()
        .post(t.at("/fhir"))
        .bearer_auth(&token)
        .header("content-type", "application/fhir+json")
        .body(bundle)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let b: Value = r.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{}", &b.to_string()[..b.to_string().len().min(2000)]);
    let entries = b["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 2000);
    assert!(entries.iter().all(|e| e["response"]["status"].as_str().unwrap().starts_with("201")));
    // Past body_limit_kb the FHIR route refuses too, as an OperationOutcome.
    let huge = patients_bundle(4000).to_string();
    assert!(huge.len() > 2048 * 1024);
    let r = t.client().post(t.at("/fhir")).bearer_auth(&token).header("content-type", "application/fhir+json");
    let r = r.body(huge).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["resourceType"], "OperationOutcome", "{o}");
    assert!(o.to_string().contains("2048 KB"), "{o}");
    t.stop().await;
}
