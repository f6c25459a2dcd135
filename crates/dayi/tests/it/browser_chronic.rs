//! Headless Chromium, the walk for three-highs co-management: the
//! doctor writes a high blood pressure at a visit and the page proposes
//! enrolment; the enrolment form keeps what was typed when it is refused;
//! an impossible reading is refused beside its box; an unsatisfied
//! follow-up puts the 2-week revisit on the worklist; a second proposes
//! referral; the indicator page shows the hand-computed cohort's numbers and
//! drills down to its patients; 张三 sees his next follow-up on the phone.

use std::time::Duration;

use fantoccini::Client;
use serde_json::json;

use crate::browser::{screenshot, sign_in, window};
use crate::browser_queue::{ZHANG_ID, el, org, portal_sign_in, text_of, until_text};
use crate::harness::TestApp;
use crate::queue::ok;

fn day(offset: i64) -> String {
    (dayi_core::timefmt::today_cst() + time::Duration::days(offset)).to_string()
}

async fn value_of(c: &Client, css: &str) -> String {
    el(c, css).await.prop("value").await.unwrap().unwrap_or_default()
}

/// Sets a date box (typing into one depends on the browser's locale).
async fn set_date(c: &Client, css: &str, value: &str) {
    let js = "document.querySelector(arguments[0]).value = arguments[1];";
    c.execute(js, vec![json!(css), json!(value)]).await.unwrap();
}

async fn doc_api(t: &TestApp) -> crate::harness::Session {
    t.as_user("doc01").await
}

async fn type_in(c: &Client, css: &str, text: &str) {
    let e = el(c, css).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_from_a_visit_follow_up_refer_and_count() {
    let Some(driver) = dayi_testkit::ChromeDriver::start() else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let (doctor, _p1) = window(&driver).await.unwrap();
    let (phone, _p2) = window(&driver).await.unwrap();
    let t = TestApp::sqlite().await;
    crate::chronic::cohort(&t).await;
    let (vid, pid) = crate::visit::called_visit(&t, 0).await;
    doctor.set_window_size(1400, 1100).await.unwrap();
    sign_in(&doctor, &t, "doc01").await;

    // The visit: a high blood pressure, saved; the page proposes enrolment.
    doctor.goto(&t.at(&format!("/visits/{vid}"))).await.unwrap();
    type_in(&doctor, "[data-testid=vs-cc]", "头晕1周").await;
    type_in(&doctor, "[data-testid=vs-vital-bp]", "168/102").await;
    el(&doctor, "[data-testid=vs-save]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=vs-chronic]", "高血压", Duration::from_secs(10)).await;
    screenshot(&doctor, "chronic-visit-banner").await;
    el(&doctor, "[data-testid=vs-chronic-enrol]").await.click().await.unwrap();

    // Enrolment: without a village it is refused, and what was chosen stays.
    assert_eq!(value_of(&doctor, "[data-testid=enrol-disease]").await, "htn");
    assert_eq!(value_of(&doctor, "[data-testid=enrol-source]").await, "outpatient");
    set_date(&doctor, "[data-testid=enrol-diagnosed]", &day(-30)).await;
    el(&doctor, "[data-testid=enrol-submit]").await.click().await.unwrap();
    assert!(!text_of(&doctor, "[data-testid=err-enrol-village]").await.is_empty());
    assert_eq!(value_of(&doctor, "[data-testid=enrol-diagnosed]").await, day(-30));
    assert_eq!(value_of(&doctor, "[data-testid=enrol-source]").await, "outpatient");
    type_in(&doctor, "[data-testid=enrol-village]", "东村").await;
    el(&doctor, "[data-testid=enrol-submit]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=ch-notice]", "已纳入高血压管理", Duration::from_secs(10)).await;

    // A follow-up 13 days ago: an impossible reading is refused beside its box, the rest kept.
    set_date(&doctor, "[data-testid=followup-visited_on]", &day(-13)).await;
    type_in(&doctor, "[data-testid=followup-sbp]", "400").await;
    type_in(&doctor, "[data-testid=followup-dbp]", "20").await;
    type_in(&doctor, "[data-testid=followup-heart_rate]", "76").await;
    el(&doctor, "[data-testid=followup-submit]").await.click().await.unwrap();
    assert!(text_of(&doctor, "[data-testid=err-followup-sbp]").await.contains("收缩压"));
    assert_eq!(value_of(&doctor, "[data-testid=followup-sbp]").await, "400");
    assert_eq!(value_of(&doctor, "[data-testid=followup-heart_rate]").await, "76");
    assert_eq!(value_of(&doctor, "[data-testid=followup-visited_on]").await, day(-13));
    screenshot(&doctor, "chronic-followup-refused").await;
    type_in(&doctor, "[data-testid=followup-sbp]", "156").await;
    type_in(&doctor, "[data-testid=followup-dbp]", "96").await;
    el(&doctor, "[data-testid=followup-submit]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=ch-notice]", "控制不满意", Duration::from_secs(10)).await;
    assert!(text_of(&doctor, "[data-testid=ch-kind-htn]").await.contains("2 周内随访"));
    assert_eq!(text_of(&doctor, "[data-testid=ch-next-htn]").await, day(1));

    // The 2-week revisit is on the doctor's worklist.
    doctor.goto(&t.at("/chronic?list=due&doctor=doc01")).await.unwrap();
    until_text(&doctor, "[data-testid=ch-worklist]", &day(1), Duration::from_secs(5)).await;
    assert!(text_of(&doctor, "[data-testid=ch-worklist]").await.contains("2 周内随访"));
    screenshot(&doctor, "chronic-worklist").await;

    // The second unsatisfied follow-up, today: referral is proposed.
    doctor.goto(&t.at(&format!("/chronic/patients/{pid}"))).await.unwrap();
    type_in(&doctor, "[data-testid=followup-sbp]", "150").await;
    type_in(&doctor, "[data-testid=followup-dbp]", "94").await;
    type_in(&doctor, "[data-testid=followup-advice]", "低盐饮食，按时服药，转上级医院调整方案").await;
    el(&doctor, "[data-testid=followup-submit]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=ch-notice]", "转诊", Duration::from_secs(10)).await;
    assert!(text_of(&doctor, "[data-testid=ch-kind-htn]").await.contains("转诊"));
    assert!(text_of(&doctor, "[data-testid=ch-history]").await.contains("连续两次控制不满意"));
    screenshot(&doctor, "chronic-file").await;
    doctor.goto(&t.at("/chronic?list=referral")).await.unwrap();
    until_text(&doctor, "[data-testid=ch-worklist]", &day(14), Duration::from_secs(5)).await;

    // The indicators: the cohort's five and this patient (two visits, not controlled).
    // Hypertension: managed 6 of 10 expected (60.00%); standard 2 (33.33%);
    // controlled 3 (50.00%); lipids tested 1 (16.67%).
    sign_in(&doctor, &t, "director").await;
    // The page opens on this year.
    doctor.goto(&t.at("/chronic/indicators")).await.unwrap();
    let row = "[data-testid=ind-row-htn]";
    assert_eq!(text_of(&doctor, &format!("{row} [data-testid=ind-managed]")).await, "6");
    assert_eq!(text_of(&doctor, &format!("{row} [data-testid=ind-management]")).await, "60.00%");
    assert_eq!(text_of(&doctor, &format!("{row} [data-testid=ind-standard]")).await, "33.33%");
    assert_eq!(text_of(&doctor, &format!("{row} [data-testid=ind-controlled]")).await, "50.00%");
    assert_eq!(text_of(&doctor, &format!("{row} [data-testid=ind-lipid]")).await, "16.67%");
    assert_eq!(text_of(&doctor, "[data-testid=ind-row-t2dm] [data-testid=ind-controlled]").await, "100.00%");
    screenshot(&doctor, "chronic-indicators").await;
    el(&doctor, &format!("{row} [data-testid=ind-managed]")).await.click().await.unwrap();
    el(&doctor, "[data-testid=behind-table]").await;
    let lines = doctor.find_all(fantoccini::Locator::Css("[data-testid=behind-line]")).await.unwrap();
    assert_eq!(lines.len(), 6);

    // The area's tier and estimates: a count that is not a number is refused and kept as
    // typed, nothing saved; a number is saved and becomes 东村's denominator. Only the
    // public-health staff (or the administrator) set them, not every doctor.
    sign_in(&doctor, &t, "ph01").await;
    doctor.goto(&t.at("/chronic/area")).await.unwrap();
    let east = "[data-testid=area-form] tbody tr:nth-child(2)";
    assert_eq!(value_of(&doctor, &format!("{east} input[name=v_name]")).await, "东村");
    assert_eq!(value_of(&doctor, &format!("{east} input[name=v_htn]")).await, "5");
    type_in(&doctor, &format!("{east} input[name=v_htn]"), "十二").await;
    el(&doctor, "[data-testid=area-save]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=area-error]", "东村高血压", Duration::from_secs(5)).await;
    assert_eq!(value_of(&doctor, &format!("{east} input[name=v_htn]")).await, "十二");
    screenshot(&doctor, "chronic-area-refused").await;
    let area = ok(doc_api(&t).await.get("/api/chronic/area").await).await;
    assert_eq!(area["villages"][0]["expected"]["htn"], 5, "nothing saved: {area}");
    type_in(&doctor, &format!("{east} input[name=v_htn]"), "12").await;
    el(&doctor, "[data-testid=area-tier] option[value=centre]").await.click().await.unwrap();
    el(&doctor, "[data-testid=area-save]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=area-notice]", "已保存", Duration::from_secs(5)).await;
    let area = ok(doc_api(&t).await.get("/api/chronic/area").await).await;
    assert_eq!((&area["tier"], &area["villages"][0]["expected"]["htn"]), (&json!("centre"), &json!(12)));
    doctor.goto(&t.at("/chronic/indicators?group=village")).await.unwrap();
    assert_eq!(text_of(&doctor, "[data-testid=ind-tier]").await, "三高中心");
    let east_row = "[data-testid=ind-row-htn-东村] [data-testid=ind-management]";
    assert_eq!(text_of(&doctor, east_row).await, "25.00%", "3 of 12");

    // 张三, enrolled with a follow-up, sees his next visit and the advice on the phone.
    let o = org(&t).await;
    let zhang = dayi_store::patient::by_document(&t.app.db, o, "resident_id", ZHANG_ID).await.unwrap().unwrap();
    let doc = t.as_user("doc01").await;
    crate::chronic::enrol(&doc, &zhang.id.to_string(), "htn", "doc01", "东村").await;
    let advice = json!({"sbp": "132", "dbp": "82", "advice": "每日食盐不超过5克，坚持散步"});
    let out = crate::chronic::visit(&doc, &zhang.id.to_string(), -1, "clinic", advice).await;
    let next = out["results"][0][2].as_str().unwrap().to_string();
    phone.set_window_size(390, 844).await.unwrap();
    portal_sign_in(&phone, &t).await;
    phone.goto(&t.at("/portal/chronic")).await.unwrap();
    assert_eq!(text_of(&phone, "[data-testid=pc-next]").await, next);
    assert!(text_of(&phone, "[data-testid=pc-advice]").await.contains("每日食盐不超过5克"));
    assert!(text_of(&phone, "[data-testid=pc-readings]").await.contains("132/82"));
    screenshot(&phone, "chronic-portal").await;
}
