//! Headless Chromium, the lab's walk: a potassium test ordered and paid is
//! drawn at the worklist and its label printed; the analyzer's result arrives
//! over MLLP; a typing slip at the bench is refused beside its box; the
//! critical value reaches the doctor's screen; a technician verifies; the
//! doctor acknowledges; the patient sees the result, its range and flag on
//! the phone.

use std::time::Duration;

use serde_json::json;

use crate::browser::{screenshot, sign_in, window};
use crate::browser_queue::{ZHANG_ID, el, org, portal_sign_in, text_of, today_session, until_text, zhang_checks_in};
use crate::harness::TestApp;
use crate::lab::{oru, send, with_mllp};
use crate::queue::{choose, next, ok};
use crate::visit::code_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_analyzer_verify_alert_and_phone() {
    let Some(driver) = dayi_testkit::ChromeDriver::start() else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let (bench, _p1) = window(&driver).await.unwrap();
    let (doctor, _p2) = window(&driver).await.unwrap();
    let (phone, _p3) = window(&driver).await.unwrap();
    let t = TestApp::sqlite_with(with_mllp).await;
    let session = today_session(&t).await;
    let booking = zhang_checks_in(&t, session).await;
    let p = dayi_store::patient::by_document(&t.app.db, org(&t).await, "resident_id", ZHANG_ID).await.unwrap().unwrap();

    // The doctor calls 张三 and orders potassium; he pays at the counter (over the API: the visit's pages have their own test).
    let doc = t.as_user("doc01").await;
    choose(&doc, &[&session.to_string()]).await;
    ok(next(&doc).await).await;
    let v = ok(doc.post_json(&format!("/api/visits/open/{booking}"), json!({})).await).await;
    let vid = v["visit"]["id"].as_str().unwrap().to_string();
    let k = code_of(&doc, "charge_item", "钾测定").await;
    ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": k})).await).await;
    let cashier = t.as_user("reg01").await;
    let due = ok(cashier.get(&format!("/api/billing/due/{}", p.id)).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": p.id, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "cash", "key": "browser-lab"});
    ok(cashier.post_json("/api/billing/pay", pay).await).await;

    // The bench draws it from the worklist and prints the label.
    bench.set_window_size(1400, 1000).await.unwrap();
    sign_in(&bench, &t, "lab01").await;
    bench.goto(&t.at("/lab")).await.unwrap();
    until_text(&bench, "[data-testid=lab-worklist]", "钾", Duration::from_secs(5)).await;
    screenshot(&bench, "lab-worklist").await;
    el(&bench, "[data-testid=lab-collect]").await.click().await.unwrap();
    let barcode = text_of(&bench, "[data-testid=lab-label-code]").await;
    assert_eq!(barcode.len(), 12);
    assert!(
        el(&bench, "[data-testid=lab-label] svg rect").await.attr("width").await.unwrap().is_some(),
        "a real barcode"
    );
    screenshot(&bench, "lab-labels").await;

    // The analyzer sends 6.8 mmol/L.
    let addr = t.server.as_ref().unwrap().mllp_addr.unwrap();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(send(&mut conn, &oru("B1", &barcode, "6.8", "mmol/L")).await.contains("MSA|AA|B1"));

    // The critical value is on the doctor's screen at once.
    doctor.set_window_size(1400, 1000).await.unwrap();
    sign_in(&doctor, &t, "doc01").await;
    doctor.goto(&t.at("/visits")).await.unwrap();
    until_text(&doctor, "[data-testid=critical-alert]", "6.8", Duration::from_secs(10)).await;
    assert!(text_of(&doctor, "[data-testid=critical-alert]").await.contains("张*"));
    screenshot(&doctor, "lab-critical-banner").await;

    // At the bench: the specimen by its barcode; a word in a number's box is refused and kept.
    bench.goto(&t.at("/lab")).await.unwrap();
    el(&bench, "[data-testid=lab-barcode]").await.send_keys(&barcode).await.unwrap();
    el(&bench, "[data-testid=lab-open]").await.click().await.unwrap();
    until_text(&bench, "[data-testid=sp-cur-K]", "6.8", Duration::from_secs(5)).await;
    el(&bench, "[data-testid=sp-v-K]").await.send_keys("高").await.unwrap();
    el(&bench, "[data-testid=sp-save]").await.click().await.unwrap();
    assert!(text_of(&bench, "[data-testid=err-K]").await.contains("数字"));
    assert_eq!(el(&bench, "[data-testid=sp-v-K]").await.prop("value").await.unwrap().as_deref(), Some("高"));
    // The instrument entered it, so this technician may verify.
    el(&bench, "[data-testid=sp-verify]").await.click().await.unwrap();
    until_text(&bench, "[data-testid=sp-test-status]", "已审核发布", Duration::from_secs(5)).await;
    screenshot(&bench, "lab-specimen").await;

    // The doctor acknowledges with what was done; the banner goes.
    doctor.goto(&t.at("/visits")).await.unwrap();
    el(&doctor, "[data-testid=alert-note]").await.send_keys("已电话通知患者返院").await.unwrap();
    el(&doctor, "[data-testid=alert-ack]").await.click().await.unwrap();
    el(&doctor, "[data-testid=vs-today]").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(doctor.find(fantoccini::Locator::Css("[data-testid=critical-alert]")).await.is_err());
    let alerts = ok(doc.get("/api/lab/alerts").await).await;
    assert!(alerts.as_array().unwrap().is_empty());

    // On the phone: the published result with its range and flag, and its trend.
    phone.set_window_size(390, 844).await.unwrap();
    portal_sign_in(&phone, &t).await;
    el(&phone, "[data-testid=tab-lab]").await.click().await.unwrap();
    let shown = text_of(&phone, "[data-testid=pl-test]").await;
    assert!(shown.contains("6.8") && shown.contains("3.5–5.3") && shown.contains("危急偏高"), "{shown}");
    screenshot(&phone, "lab-portal").await;
    for c in [bench, doctor, phone] {
        c.close().await.unwrap();
    }
}
