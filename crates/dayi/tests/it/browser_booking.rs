//! Headless Chromium on a phone-sized window: a patient signs in to the
//! portal with a text-message code, books, cancels and rebooks, and the
//! counter sees the booking on the session board; a walk-in is registered at
//! the counter and checks in at the kiosk with the health-card code; a
//! clinic stop reaches the patient's portal.

use std::time::Duration;

use dayi_app::Actor;
use dayi_core::timefmt::today_cst;
use fantoccini::{Client, Locator};
use uuid::Uuid;

use crate::browser::{browser, screenshot, sign_in};
use crate::harness::{ORG, TestApp};

/// The demo patient 张三 of the county hospital.
const ZHANG_PHONE: &str = "13853712345";
const ZHANG_ID: &str = "370830195803129317";

async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap()
}

/// The element's text; the page may re-render it between finding and
/// reading (htmx swaps), so a stale element is found again.
async fn text_of(c: &Client, css: &str) -> String {
    for _ in 0..50 {
        match el(c, css).await.text().await {
            Ok(t) => return t,
            Err(e) if e.to_string().contains("stale element") => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

async fn org(t: &TestApp) -> Uuid {
    dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id
}

async fn dept(t: &TestApp, code: &str) -> Uuid {
    let depts = dayi_store::tenancy::list_depts(&t.app.db, org(t).await).await.unwrap();
    depts.iter().find(|d| d.code == code).unwrap().id
}

/// A session created directly: `days` ahead, starting at `start` (HH:MM).
async fn session(t: &TestApp, days: i64, start: &str, slots: i64) -> Uuid {
    let f = dayi_app::roster::RosterForm {
        dept_id: dept(t, "04").await.to_string(),
        day: (today_cst() + time::Duration::days(days)).to_string(),
        half_day: "pm".into(),
        clinic_type: "expert".into(),
        doctor_name: "孔维民".into(),
        doctor_title: "主任医师".into(),
        visiting_from: "济宁医学院附属医院".into(),
        room: "外科专家诊室".into(),
        start_time: start.into(),
        slot_minutes: "5".into(),
        slot_count: slots.to_string(),
        ..Default::default()
    };
    dayi_app::roster::create_session(&t.app, &Actor::cli(org(t).await), &f).await.unwrap().id
}

async fn zhang(t: &TestApp) -> dayi_store::patient::Patient {
    dayi_store::patient::by_document(&t.app.db, org(t).await, "resident_id", ZHANG_ID).await.unwrap().unwrap()
}

async fn portal_sign_in_by_code(c: &Client, t: &TestApp) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&t.at("/portal/login")).await.unwrap();
    el(c, "[data-testid=org]").await.select_by_value(ORG).await.unwrap();
    el(c, "[data-testid=phone]").await.send_keys(ZHANG_PHONE).await.unwrap();
    el(c, "[data-testid=send-code]").await.click().await.unwrap();
    // The validity comes from the policy catalogue (portal.otp_minutes).
    assert_eq!(text_of(c, "[data-testid=sent]").await, "验证码已发送，5 分钟内有效。");
    // The built-in SMS gateway delivers into the message log: read the code there.
    let sent = dayi_store::message::messages(&t.app.db, org(t).await, Some(ZHANG_PHONE), 1).await.unwrap();
    let code: String = sent[0].body.chars().filter(|ch| ch.is_ascii_digit()).take(6).collect();
    el(c, "[data-testid=otp]").await.send_keys(&code).await.unwrap();
    screenshot(c, "portal-login").await;
    el(c, "[data-testid=login]").await.click().await.unwrap();
    el(c, "[data-testid=go-book]").await;
}

async fn book_first(c: &Client, t: &TestApp, sid: Uuid) {
    let tomorrow = (today_cst() + time::Duration::days(1)).to_string();
    c.goto(&t.at(&format!("/portal/book?dept={}&day={tomorrow}", dept(t, "04").await))).await.unwrap();
    let card = el(c, "[data-testid=session]").await;
    assert!(card.text().await.unwrap().contains("济宁医学院附属医院"), "visiting expert shown");
    let _ = sid;
    el(c, "[data-testid=book]").await.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portal_books_cancels_rebooks_and_the_counter_sees_it() {
    let Some((c, _driver, _profile)) = browser().await else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let t = TestApp::sqlite().await;
    let sid = session(&t, 1, "14:00", 12).await;
    c.set_window_size(390, 844).await.unwrap();
    portal_sign_in_by_code(&c, &t).await;
    screenshot(&c, "portal-home-empty").await;

    book_first(&c, &t, sid).await;
    screenshot(&c, "portal-book").await;
    let notice = text_of(&c, "[data-testid=notice]").await;
    assert!(notice.contains("预约成功") && notice.contains("第 1 号"), "{notice}");
    assert_eq!(text_of(&c, "[data-testid=booking-status]").await, "已预约");
    screenshot(&c, "portal-booked").await;

    el(&c, "[data-testid=cancel]").await.click().await.unwrap();
    assert_eq!(text_of(&c, "[data-testid=notice]").await, "已取消预约");
    assert_eq!(text_of(&c, "[data-testid=booking-status]").await, "已取消");

    book_first(&c, &t, sid).await;
    assert!(text_of(&c, "[data-testid=notice]").await.contains("第 1 号"), "the freed slot is booked again");
    screenshot(&c, "portal-rebooked").await;

    // the same page in English, then back to Chinese
    el(&c, "a.lang").await.click().await.unwrap();
    let page = text_of(&c, "body").await;
    assert!(page.contains("My bookings") && page.contains("Sign out"), "{page}");
    screenshot(&c, "portal-home-en").await;
    el(&c, "a.lang").await.click().await.unwrap();
    assert!(text_of(&c, "body").await.contains("退出"));

    // the counter sees the portal booking on the session board, name masked
    c.set_window_size(1280, 900).await.unwrap();
    sign_in(&c, &t, "reg01").await;
    c.goto(&t.at(&format!("/roster/sessions/{sid}"))).await.unwrap();
    let board = text_of(&c, "[data-testid=board]").await;
    assert!(board.contains("网上预约") && board.contains("张*"), "{board}");
    screenshot(&c, "counter-board").await;
    c.goto(&t.at("/roster")).await.unwrap();
    el(&c, "[data-testid=sessions]").await;
    screenshot(&c, "roster-week").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_in_checks_in_at_the_kiosk_and_a_stop_reaches_the_portal() {
    let Some((c, _driver, _profile)) = browser().await else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let t = TestApp::sqlite().await;
    let now = time::OffsetDateTime::now_utc().to_offset(dayi_core::timefmt::CST).time();
    let start = (i64::from(now.hour()) * 60 + i64::from(now.minute()) - 10).max(0);
    let today = session(&t, 0, &format!("{:02}:{:02}", start / 60, start % 60), ((24 * 60 - start) / 5).min(60)).await;

    // walk-in at the counter by ID number, with the printable slip
    sign_in(&c, &t, "reg01").await;
    c.goto(&t.at(&format!("/roster/sessions/{today}"))).await.unwrap();
    el(&c, "[data-testid=walk-in-code]").await.send_keys(ZHANG_ID).await.unwrap();
    el(&c, "[data-testid=walk-in-submit]").await.click().await.unwrap();
    let reg_no = text_of(&c, "[data-testid=reg-no]").await;
    assert_eq!(reg_no.len(), 16, "{reg_no}");
    assert_eq!(text_of(&c, "[data-testid=seq]").await.split(' ').nth(1), Some("1"));
    screenshot(&c, "walk-in-slip").await;

    // the kiosk scans the health card's static code
    let code = format!("{}:1", zhang(&t).await.card_id);
    sign_in(&c, &t, "kiosk01").await;
    el(&c, "[data-testid=kiosk-code]").await.send_keys(&code).await.unwrap();
    el(&c, "[data-testid=kiosk-submit]").await.click().await.unwrap();
    let done = text_of(&c, "[data-testid=kiosk-done]").await;
    assert!(done.contains("签到成功") && done.contains("第 1 号"), "{done}");
    screenshot(&c, "kiosk-checked-in").await;
    el(&c, "[data-testid=kiosk-code]").await.send_keys("370830195803129318").await.unwrap();
    el(&c, "[data-testid=kiosk-submit]").await.click().await.unwrap();
    assert!(text_of(&c, "[data-testid=kiosk-error]").await.contains("校验位"));

    // a booking tomorrow, then the administrator stops that clinic
    let tomorrow = session(&t, 1, "14:00", 10).await;
    let req = dayi_app::booking::BookRequest::new(tomorrow, zhang(&t).await.id);
    dayi_app::booking::book(&t.app, &Actor::cli(org(&t).await), &req).await.unwrap();
    sign_in(&c, &t, "admin").await;
    c.goto(&t.at(&format!("/roster/sessions/{tomorrow}"))).await.unwrap();
    el(&c, "[data-testid=stop-reason]").await.send_keys("专家临时外出会诊").await.unwrap();
    el(&c, "[data-testid=stop-submit]").await.click().await.unwrap();
    assert!(text_of(&c, "[data-testid=stopped]").await.contains("专家临时外出会诊"));
    screenshot(&c, "clinic-stopped").await;
    sign_in(&c, &t, "reg01").await;
    c.goto(&t.at("/messages")).await.unwrap();
    assert!(text_of(&c, "[data-testid=messages]").await.contains("停诊"));
    screenshot(&c, "message-log").await;

    // the patient, without a phone at hand, signs in with ID and card number and sees the notice
    c.set_window_size(390, 844).await.unwrap();
    c.delete_all_cookies().await.unwrap();
    c.goto(&t.at("/portal/login")).await.unwrap();
    c.find(Locator::Css("details summary")).await.unwrap().click().await.unwrap();
    el(&c, "[data-testid=id-number]").await.send_keys(ZHANG_ID).await.unwrap();
    el(&c, "[data-testid=card-no]").await.send_keys(&zhang(&t).await.hospital_no).await.unwrap();
    el(&c, "[data-testid=login-card-submit]").await.click().await.unwrap();
    let note = text_of(&c, "[data-testid=note]").await;
    assert!(note.contains("停诊") && note.contains("专家临时外出会诊"), "{note}");
    screenshot(&c, "portal-stop-notice").await;
    t.stop().await;
}
