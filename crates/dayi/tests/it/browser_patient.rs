//! Headless Chromium: a registrar registers a patient, shows the health card's
//! dynamic code, and the triage station lands on the same patient with it; an
//! altered and an expired code are refused; the service centre merges two
//! duplicates and undoes the merge.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::browser::{browser, screenshot, sign_in};
use crate::harness::{ORG, TestApp};

async fn fill(c: &Client, field: &str, value: &str) {
    let e = c.find(Locator::Css(&format!("[data-testid=f-{field}]"))).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

async fn present(c: &Client, t: &TestApp, step: &str, code: &str) {
    c.goto(&t.at("/station")).await.unwrap();
    c.find(Locator::Css("[data-testid=step]")).await.unwrap().select_by_value(step).await.unwrap();
    c.find(Locator::Css("[data-testid=station]")).await.unwrap().send_keys("门诊分诊台 1").await.unwrap();
    c.find(Locator::Css("[data-testid=code]")).await.unwrap().send_keys(code).await.unwrap();
    c.find(Locator::Css("[data-testid=resolve]")).await.unwrap().click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_show_card_and_resolve_at_triage() {
    let Some((c, _driver, _profile)) = browser().await else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let t = TestApp::sqlite().await;
    sign_in(&c, &t, "reg01").await;
    c.goto(&t.at("/patients/new")).await.unwrap();
    // a typo in the check digit first: the message names it, the form keeps the input
    fill(&c, "name", "孔繁森").await;
    fill(&c, "id_number", "370830196505120018").await;
    fill(&c, "phone", "13853799876").await;
    c.find(Locator::Css("[data-testid=register]")).await.unwrap().click().await.unwrap();
    let err = text_of(&c, "[data-testid=err-id_number]").await;
    assert_eq!(err, "身份证号校验位错误，请逐位核对");
    let kept = c.find(Locator::Css("[data-testid=f-name]")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("孔繁森"));
    screenshot(&c, "patient-register-error").await;
    let id = dayi_core::identity::make_resident_id("370830", time::macros::date!(1965 - 05 - 12), 1);
    fill(&c, "id_number", &id).await;
    fill(&c, "emergency_name", "孔令华").await;
    c.find(Locator::Css("[data-testid=f-emergency_relation]")).await.unwrap().select_by_value("20").await.unwrap();
    fill(&c, "emergency_phone", "13953711111").await;
    screenshot(&c, "patient-register").await;
    c.find(Locator::Css("[data-testid=register]")).await.unwrap().click().await.unwrap();
    assert!(text_of(&c, "[data-testid=patient-name]").await.starts_with("孔繁森"));
    let hospital_no = text_of(&c, "[data-testid=hospital-no]").await;
    let masked = text_of(&c, "[data-testid=id-number]").await;
    assert!(masked.contains("********"), "{masked}");

    // the dynamic code, fetched by htmx into the record page
    c.find(Locator::Css("[data-testid=show-dynamic]")).await.unwrap().click().await.unwrap();
    let code = text_of(&c, "[data-testid=qr-text]").await;
    assert!(code.contains(":0:"), "{code}");
    assert!(c.find(Locator::Css("#dynamic-qr svg")).await.is_ok());
    screenshot(&c, "patient-record-card").await;
    // show full: audited, then the full number appears
    c.find(Locator::Css("[data-testid=unmask]")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//*[contains(text(),'已记入审计日志')]"))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "[data-testid=id-number]").await, id);

    // the triage nurse scans it and lands on the same patient
    sign_in(&c, &t, "triage01").await;
    present(&c, &t, "triage", &code).await;
    assert_eq!(text_of(&c, "[data-testid=found-name]").await, "孔繁森");
    assert_eq!(text_of(&c, "[data-testid=found-no]").await, hospital_no);
    screenshot(&c, "station-found").await;

    // an altered code is refused with a message and the input kept
    let (body, sig) = code.rsplit_once(':').unwrap();
    let altered = format!("{body}:{}{}", if sig.starts_with('0') { '1' } else { '0' }, &sig[1..]);
    present(&c, &t, "triage", &altered).await;
    assert!(text_of(&c, "[data-testid=err-code]").await.contains("二维码无效或已被篡改"));
    let kept = c.find(Locator::Css("[data-testid=code]")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some(altered.as_str()));
    screenshot(&c, "station-tampered").await;

    // an expired code (signed with the hospital's key, expiry in the past)
    let org = dayi_store::tenancy::org_by_code(&t.app.db, ORG).await.unwrap().unwrap();
    let mut tx = t.app.db.begin().await.unwrap();
    let key = dayi_store::patient::secret(&mut tx, org.org_id, "health_card", &[0; 32], 0).await.unwrap();
    tx.commit().await.unwrap();
    let card_id = code.split(':').next().unwrap();
    let expired = dayi_core::card::dynamic_qr(&key, card_id, dayi_core::timefmt::now_micros() - 60_000_000);
    present(&c, &t, "triage", &expired).await;
    assert!(text_of(&c, "[data-testid=err-code]").await.contains("动态二维码已过期"));
    screenshot(&c, "station-expired").await;

    // the record shows the card-use log
    c.goto(&t.at("/patients?q=kfs")).await.unwrap();
    c.find(Locator::Css("[data-testid=results] a")).await.unwrap().click().await.unwrap();
    let uses = text_of(&c, "[data-testid=card-uses]").await;
    assert!(uses.contains("预检分诊") && uses.contains("门诊分诊台 1") && uses.contains("健康卡动态码"), "{uses}");

    // the printable card for a patient without a phone
    c.goto(&t.at("/patients?q=kfs")).await.unwrap();
    screenshot(&c, "patient-search").await;
    c.find(Locator::Css("[data-testid=results] a")).await.unwrap().click().await.unwrap();
    let href = c.find(Locator::Css("[data-testid=print-card]")).await.unwrap().attr("href").await.unwrap().unwrap();
    c.goto(&t.at(&href)).await.unwrap();
    let card = text_of(&c, "[data-testid=printed-card]").await;
    assert!(card.contains("孔繁森") && card.contains(&hospital_no));
    screenshot(&c, "health-card-print").await;
    c.close().await.unwrap();
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_duplicates_and_undo_in_a_browser() {
    let Some((c, _driver, _profile)) = browser().await else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let t = TestApp::sqlite().await;
    sign_in(&c, &t, "svc01").await;
    c.goto(&t.at("/patients/duplicates")).await.unwrap();
    let pairs = text_of(&c, "[data-testid=pairs]").await;
    assert!(pairs.contains("张三") && pairs.contains("章三"), "the demo's duplicate pair: {pairs}");
    screenshot(&c, "duplicates").await;
    c.find(Locator::Css("[data-testid=keep-张三]")).await.unwrap().click().await.unwrap();
    let merges = text_of(&c, "[data-testid=merges]").await;
    assert!(merges.contains("同一人重复建档"), "{merges}");
    assert!(text_of(&c, "[data-testid=patient-name]").await.starts_with("张三"));
    screenshot(&c, "merged").await;
    // 章三 is no longer found on its own
    c.goto(&t.at("/patients?q=章三")).await.unwrap();
    let body = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
    assert!(body.contains("找到 0"), "{body}");
    // undo from the survivor's page
    c.goto(&t.at("/patients?q=张三")).await.unwrap();
    c.find(Locator::Css("[data-testid=results] a")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("[data-testid=undo-merge]")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath("//*[contains(text(),'已撤销合并')]"))
        .await
        .unwrap();
    assert!(text_of(&c, "[data-testid=patient-name]").await.starts_with("章三"));
    screenshot(&c, "merge-undone").await;
    c.goto(&t.at("/patients?q=章三")).await.unwrap();
    assert!(text_of(&c, "[data-testid=results]").await.contains("章三"));
    c.close().await.unwrap();
    t.stop().await;
}
