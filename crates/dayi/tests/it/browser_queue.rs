//! Headless Chromium with three people at once — the triage nurse, the
//! doctor and the hall's zone screen — plus the patient's phone: a
//! checked-in patient is triaged, the doctor calls, the screen shows the
//! masked name within a second and speaks the call; the portal follows the
//! patient's place live; the settings page plays the voice.

use std::time::{Duration, Instant};

use dayi_app::Actor;
use dayi_core::timefmt::today_cst;
use fantoccini::{Client, Locator};
use uuid::Uuid;

use crate::browser::{screenshot, sign_in, window};
use crate::harness::{ORG, TestApp};

pub(crate) const ZHANG_PHONE: &str = "13853712345";
pub(crate) const ZHANG_ID: &str = "370830195803129317";

pub(crate) async fn el(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await.unwrap()
}

/// The element's text; found again when the page changed between finding and reading.
pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    for _ in 0..50 {
        match el(c, css).await.text().await {
            Ok(t) => return t,
            Err(e) if e.to_string().contains("stale element") => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

/// Clicks the element; found again when the live page redrew it between finding and clicking.
pub(crate) async fn click(c: &Client, css: &str) {
    for _ in 0..50 {
        match el(c, css).await.click().await {
            Ok(()) => return,
            Err(e) if e.to_string().contains("stale element") => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

/// Waits until the element's text contains `want`; returns how long it took.
pub(crate) async fn until_text(c: &Client, css: &str, want: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && e.text().await.unwrap_or_default().contains(want)
        {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{css} never showed {want:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn org(t: &TestApp) -> Uuid {
    dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id
}

/// Today's 内科 session of doc01 in 内科1诊室, open from ten minutes ago.
pub(crate) async fn today_session(t: &TestApp) -> Uuid {
    let org = org(t).await;
    let depts = dayi_store::tenancy::list_depts(&t.app.db, org).await.unwrap();
    let staff = dayi_store::staff::list(&t.app.db, org).await.unwrap();
    let now = time::OffsetDateTime::now_utc().to_offset(dayi_core::timefmt::CST).time();
    let start = (i64::from(now.hour()) * 60 + i64::from(now.minute()) - 10).max(0);
    let f = dayi_app::roster::RosterForm {
        dept_id: depts.iter().find(|d| d.code == "03").unwrap().id.to_string(),
        day: today_cst().to_string(),
        half_day: "pm".into(),
        clinic_type: "general".into(),
        doctor_id: staff.iter().find(|s| s.username == "doc01").unwrap().id.to_string(),
        doctor_title: "主治医师".into(),
        room: "内科1诊室".into(),
        start_time: format!("{:02}:{:02}", start / 60, start % 60),
        slot_minutes: "5".into(),
        slot_count: ((24 * 60 - start) / 5).clamp(1, 60).to_string(),
        ..Default::default()
    };
    dayi_app::roster::create_session(&t.app, &Actor::cli(org), &f).await.unwrap().id
}

/// 张三 registers on the day and checks in with his card's static code.
pub(crate) async fn zhang_checks_in(t: &TestApp, session: Uuid) -> Uuid {
    let org = org(t).await;
    let cli = Actor::cli(org);
    let p = dayi_store::patient::by_document(&t.app.db, org, "resident_id", ZHANG_ID).await.unwrap().unwrap();
    let req = dayi_app::booking::BookRequest::new(session, p.id);
    let b = dayi_app::booking::walk_in(&t.app, &cli, &req).await.unwrap();
    dayi_app::booking::check_in(&t.app, &cli, &format!("{}:1", p.card_id), "门诊自助签到机").await.unwrap();
    b.id
}

pub(crate) async fn portal_sign_in(c: &Client, t: &TestApp) {
    c.goto(&t.at("/portal/login")).await.unwrap();
    el(c, "[data-testid=org]").await.select_by_value(ORG).await.unwrap();
    el(c, "[data-testid=phone]").await.send_keys(ZHANG_PHONE).await.unwrap();
    el(c, "[data-testid=send-code]").await.click().await.unwrap();
    el(c, "[data-testid=sent]").await;
    let sent = dayi_store::message::messages(&t.app.db, org(t).await, Some(ZHANG_PHONE), 1).await.unwrap();
    let code: String = sent[0].body.chars().filter(|ch| ch.is_ascii_digit()).take(6).collect();
    el(c, "[data-testid=otp]").await.send_keys(&code).await.unwrap();
    el(c, "[data-testid=login]").await.click().await.unwrap();
    el(c, "[data-testid=go-book]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_call_screen_voice_and_phone() {
    let Some(driver) = dayi_testkit::ChromeDriver::start() else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let (nurse, _p1) = window(&driver).await.unwrap();
    let (doctor, _p2) = window(&driver).await.unwrap();
    let (screen, _p3) = window(&driver).await.unwrap();
    let (phone, _p4) = window(&driver).await.unwrap();
    let t = TestApp::sqlite().await;
    let session = today_session(&t).await;
    zhang_checks_in(&t, session).await;

    // The hall's screen, signed in once as the kiosk account, voice enabled by a touch.
    screen.set_window_size(1600, 900).await.unwrap();
    sign_in(&screen, &t, "kiosk01").await;
    screen.goto(&t.at("/queue/screen?dept=03")).await.unwrap();
    until_text(&screen, "[data-testid=scr-link]", "实时", Duration::from_secs(10)).await;
    until_text(&screen, "[data-testid=scr-rooms]", "内科1诊室", Duration::from_secs(10)).await;
    el(&screen, "[data-testid=scr-voice]").await.click().await.unwrap();

    // The patient's phone shows his place.
    phone.set_window_size(390, 844).await.unwrap();
    portal_sign_in(&phone, &t).await;
    until_text(&phone, "[data-testid=queue-live]", "前面还有 0 人", Duration::from_secs(10)).await;
    screenshot(&phone, "queue-portal-waiting").await;

    // The nurse scans his code and triages: no fever, a headache, elderly.
    let p = dayi_store::patient::by_document(&t.app.db, org(&t).await, "resident_id", ZHANG_ID).await.unwrap().unwrap();
    sign_in(&nurse, &t, "triage01").await;
    nurse.goto(&t.at("/triage")).await.unwrap();
    el(&nurse, "[data-testid=tri-code]").await.send_keys(&p.hospital_no).await.unwrap();
    el(&nurse, "[data-testid=tri-find]").await.click().await.unwrap();
    assert!(text_of(&nurse, "[data-testid=tri-patient]").await.contains("候诊"));
    // A typing slip is refused with the reason and the form keeps what was typed.
    el(&nurse, "[data-testid=tri-temp]").await.send_keys("3.66").await.unwrap();
    el(&nurse, "[data-testid=sym-headache]").await.click().await.unwrap();
    el(&nurse, "[data-testid=tri-submit]").await.click().await.unwrap();
    assert!(text_of(&nurse, "[data-testid=err-temperature]").await.contains("34.0–43.0"));
    assert_eq!(el(&nurse, "[data-testid=tri-temp]").await.prop("value").await.unwrap().as_deref(), Some("3.66"));
    assert!(el(&nurse, "[data-testid=sym-headache]").await.prop("checked").await.unwrap().is_some_and(|v| v == "true"));
    el(&nurse, "[data-testid=tri-temp]").await.clear().await.unwrap();
    el(&nurse, "[data-testid=tri-temp]").await.send_keys("36.6").await.unwrap();
    el(&nurse, "[data-testid=tri-priority]").await.select_by_value("elderly").await.unwrap();
    el(&nurse, "[data-testid=tri-submit]").await.click().await.unwrap();
    assert!(text_of(&nurse, "[data-testid=tri-route]").await.contains("普通门诊"));
    assert!(text_of(&nurse, "[data-testid=tri-reasons]").await.contains("头痛"));
    screenshot(&nurse, "queue-triage-result").await;

    // The doctor sees him waiting and calls with one click.
    sign_in(&doctor, &t, "doc01").await;
    doctor.goto(&t.at("/queue")).await.unwrap();
    until_text(&doctor, "[data-testid=q-waiting]", &p.name, Duration::from_secs(10)).await;
    el(&doctor, "[data-testid=q-next]").await.click().await.unwrap();
    let mine = format!("[data-session='{session}'] [data-testid=scr-calling]");
    let shown = until_text(&screen, &mine, "张*", Duration::from_secs(5)).await;
    assert!(shown < Duration::from_secs(1), "the screen took {shown:?}");
    until_text(&doctor, "[data-testid=q-current]", &p.name, Duration::from_secs(5)).await;
    let want = "请 1 号 张* 到 内科1诊室 就诊";
    let spoken = || async {
        let v = screen.execute("return window.dayiSpoken", vec![]).await.unwrap();
        v.as_array().unwrap().iter().filter(|s| s.as_str() == Some(want)).count()
    };
    let start = Instant::now();
    while spoken().await == 0 {
        assert!(start.elapsed() < Duration::from_secs(2), "no announcement spoken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!text_of(&screen, "[data-testid=scr-rooms]").await.contains(&p.name), "full names never reach the screen");
    screenshot(&screen, "queue-zone-screen").await;
    screenshot(&doctor, "queue-panel").await;
    until_text(&phone, "[data-testid=queue-live]", "请到 内科1诊室 就诊", Duration::from_secs(5)).await;
    screenshot(&phone, "queue-portal-called").await;

    // Call again by keyboard: announced again (twice per call, one after the other).
    doctor.find(Locator::Css("body")).await.unwrap().send_keys("r").await.unwrap();
    let start = Instant::now();
    while spoken().await < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "call again was not spoken");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Nobody else waits: calling next finishes him and says the queue is empty.
    el(&doctor, "[data-testid=q-next]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=q-msg]", "当前队列没有候诊患者", Duration::from_secs(5)).await;

    // He was with the doctor still; a no-show by keyboard, then his scan at the desk brings him back.
    doctor.find(Locator::Css("body")).await.unwrap().send_keys("p").await.unwrap();
    until_text(&doctor, "[data-testid=q-away]", &p.name, Duration::from_secs(5)).await;
    nurse.goto(&t.at("/triage")).await.unwrap();
    el(&nurse, "[data-testid=tri-code]").await.send_keys(&p.hospital_no).await.unwrap();
    el(&nurse, "[data-testid=tri-find]").await.click().await.unwrap();
    assert!(text_of(&nurse, "[data-testid=tri-arrived]").await.contains("回诊报到"));
    until_text(&doctor, "[data-testid=q-waiting]", &p.name, Duration::from_secs(5)).await;

    // The room screen and the triage register.
    screen.goto(&t.at(&format!("/queue/screen/room/{session}"))).await.unwrap();
    until_text(&screen, "[data-testid=scr-rooms]", "内科1诊室", Duration::from_secs(10)).await;
    screenshot(&screen, "queue-room-screen").await;
    nurse.goto(&t.at("/triage/register")).await.unwrap();
    assert!(text_of(&nurse, "[data-testid=reg-table]").await.contains("普通门诊"));
    screenshot(&nurse, "queue-triage-register").await;

    // The settings page plays the announcement and refuses a template without the number.
    sign_in(&nurse, &t, "admin").await;
    nurse.goto(&t.at("/queue/settings")).await.unwrap();
    el(&nurse, "[data-testid=qs-test]").await.click().await.unwrap();
    assert!(text_of(&nurse, "[data-testid=qs-status]").await.contains("正在播放 2 遍"));
    let tpl = el(&nurse, "[data-testid=qs-template]").await;
    tpl.clear().await.unwrap();
    tpl.send_keys("请 {姓名} 就诊").await.unwrap();
    el(&nurse, "[data-testid=qs-save-voice]").await.click().await.unwrap();
    assert!(text_of(&nurse, "[data-testid=err-template]").await.contains("{号序}"));
    assert_eq!(
        el(&nurse, "[data-testid=qs-template]").await.prop("value").await.unwrap().as_deref(),
        Some("请 {姓名} 就诊")
    );
    screenshot(&nurse, "queue-settings").await;
    // A department's own rules and the priority ranks, saved as dated settings.
    el(&nurse, "#rules-03").await;
    nurse
        .find(Locator::Css("select[form=rules-03][name=late]"))
        .await
        .unwrap()
        .select_by_value("half_day_end")
        .await
        .unwrap();
    el(&nurse, "[data-testid=qs-save-03]").await.click().await.unwrap();
    el(&nurse, "[data-testid=qs-saved]").await;
    let org = org(&t).await;
    let depts = dayi_store::tenancy::list_depts(&t.app.db, org).await.unwrap();
    let nk = depts.iter().find(|d| d.code == "03").unwrap().id;
    let rules = dayi_app::queue::config::dept_rules(&t.app, org, nk).await.unwrap();
    assert_eq!(rules.order.late, dayi_core::queue::LateMode::HalfDayEnd);
    let age = el(&nurse, "[data-testid=qs-elderly-age]").await;
    age.clear().await.unwrap();
    age.send_keys("70").await.unwrap();
    el(&nurse, "[data-testid=qs-save-priority]").await.click().await.unwrap();
    el(&nurse, "[data-testid=qs-saved]").await;
    assert_eq!(dayi_app::queue::config::priority(&t.app, org).await.unwrap().elderly_age, 70);
    // The server stops while the screen, the panel and the phone still listen.
    tokio::time::timeout(Duration::from_secs(10), t.stop()).await.expect("the server stops with streams open");
    for c in [nurse, doctor, screen, phone] {
        c.close().await.unwrap();
    }
}
