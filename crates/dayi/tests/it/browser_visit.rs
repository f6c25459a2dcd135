//! Headless Chromium, the issue's walk: the cashier takes the registration
//! fee in cash (a resubmitted form pays once); the doctor calls 张三, writes
//! the record, diagnoses by pinyin initials and orders — an absurd dose is
//! refused with the typed value kept, the penicillin allergy must be
//! confirmed with a reason — issues a sick-leave certificate and finishes;
//! the patient pays the rest on the phone through the local provider's
//! checkout (a second press changes nothing), sees the receipt and the
//! prescription; the cashier refunds an unexecuted test and both daily
//! closings balance to the fen.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::browser::{screenshot, sign_in, window};
use crate::browser_queue::{
    ZHANG_ID, click, el, org, portal_sign_in, text_of, today_session, until_text, zhang_checks_in,
};
use crate::harness::TestApp;

/// Types into a picker, waits for the catalogue's suggestion and takes it.
async fn pick(c: &Client, input: &str, typed: &str, want: &str) {
    el(c, input).await.send_keys(typed).await.unwrap();
    let form = format!("form:has({input})");
    until_text(c, &format!("{form} [data-suggest]"), want, Duration::from_secs(10)).await;
    let buttons = c.find_all(Locator::Css(&format!("{form} [data-testid=suggestion]"))).await.unwrap();
    for b in buttons {
        if b.text().await.unwrap_or_default().contains(want) {
            b.click().await.unwrap();
            break;
        }
    }
    until_text(c, &format!("{form} [data-testid=chosen]"), want, Duration::from_secs(5)).await;
}

async fn value_of(c: &Client, css: &str) -> String {
    el(c, css).await.prop("value").await.unwrap().unwrap_or_default()
}

/// The current URL's path.
async fn path(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// Resubmits a form exactly as it was sent (same request key), as a browser
/// does when the cashier presses twice or resends after a timeout.
async fn resubmit(c: &Client, action: &str, fields: &[(&str, String)]) {
    let pairs: Vec<serde_json::Value> = fields.iter().map(|(k, v)| serde_json::json!([k, v])).collect();
    let js = r#"
        const [action, pairs] = arguments;
        const f = document.createElement("form");
        f.method = "post"; f.action = action;
        const csrf = document.querySelector("input[name=_csrf]").value;
        for (const [k, v] of [["_csrf", csrf], ...pairs]) {
            const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();"#;
    c.execute(js, vec![serde_json::json!(action), serde_json::json!(pairs)]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_diagnose_order_pay_on_the_phone_and_close_the_day() {
    let Some(driver) = dayi_testkit::ChromeDriver::start() else {
        eprintln!("chromium/chromedriver not found: skipped");
        return;
    };
    let (doctor, _p1) = window(&driver).await.unwrap();
    let (cashier, _p2) = window(&driver).await.unwrap();
    let (phone, _p3) = window(&driver).await.unwrap();
    let t = TestApp::sqlite().await;
    let org = org(&t).await;
    let session = today_session(&t).await;
    zhang_checks_in(&t, session).await;
    let p = dayi_store::patient::by_document(&t.app.db, org, "resident_id", ZHANG_ID).await.unwrap().unwrap();

    // The cashier scans his card number and takes the registration fee in cash, 100 yuan handed over.
    doctor.set_window_size(1400, 1000).await.unwrap();
    cashier.set_window_size(1400, 1000).await.unwrap();
    sign_in(&cashier, &t, "reg01").await;
    cashier.goto(&t.at("/billing")).await.unwrap();
    el(&cashier, "[data-testid=bl-code]").await.send_keys("0000000000").await.unwrap();
    el(&cashier, "[data-testid=bl-find]").await.click().await.unwrap();
    assert!(!text_of(&cashier, "[data-testid=bl-scan-error]").await.is_empty(), "an unknown card is refused");
    assert_eq!(value_of(&cashier, "[data-testid=bl-code]").await, "0000000000", "what was typed is kept");
    el(&cashier, "[data-testid=bl-code]").await.clear().await.unwrap();
    el(&cashier, "[data-testid=bl-code]").await.send_keys(&p.hospital_no).await.unwrap();
    el(&cashier, "[data-testid=bl-find]").await.click().await.unwrap();
    assert!(text_of(&cashier, "[data-testid=bl-due]").await.contains("挂号费"));
    let fee = text_of(&cashier, "[data-testid=bl-owed]").await;
    let key = value_of(&cashier, "form[data-bill] input[name=key]").await;
    let charge = value_of(&cashier, "form[data-bill] input[name=charge_ids]").await;
    let expected = value_of(&cashier, "[data-expected]").await;
    el(&cashier, "[data-testid=bl-tendered]").await.send_keys("100").await.unwrap();
    screenshot(&cashier, "visit-cashier-counter").await;
    el(&cashier, "[data-testid=bl-pay]").await.click().await.unwrap();
    let paid_no = text_of(&cashier, "[data-testid=rc-no]").await;
    let receipt_path = path(&cashier).await;
    assert!(text_of(&cashier, "[data-testid=rc-status]").await.contains("已支付"));
    assert_eq!(text_of(&cashier, "[data-testid=rc-amount]").await, fee);
    screenshot(&cashier, "visit-cashier-receipt").await;
    // The same request again (a double press, a resend): the same receipt, no second payment.
    let fields = [
        ("patient_id", p.id.to_string()),
        ("charge_ids", charge),
        ("expected_fen", expected),
        ("method", "cash".to_string()),
        ("tendered", "100".to_string()),
        ("key", key),
    ];
    resubmit(&cashier, "/billing/pay", &fields).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    el(&cashier, "[data-testid=rc-no]").await;
    assert_eq!(path(&cashier).await, receipt_path);
    assert_eq!(text_of(&cashier, "[data-testid=rc-no]").await, paid_no);
    assert_eq!(dayi_store::billing::payments_of(&t.app.db, org, p.id, 10).await.unwrap().len(), 1);

    // The doctor calls him and opens his visit from the call panel.
    sign_in(&doctor, &t, "doc01").await;
    doctor.goto(&t.at("/queue")).await.unwrap();
    until_text(&doctor, "[data-testid=q-waiting]", &p.name, Duration::from_secs(10)).await;
    el(&doctor, "[data-testid=q-next]").await.click().await.unwrap();
    click(&doctor, "[data-testid=q-open-visit]").await;
    assert!(text_of(&doctor, "[data-testid=vs-status]").await.contains("接诊中"));
    let visit_path = path(&doctor).await;
    assert!(
        text_of(&doctor, "[data-testid=vs-patient]").await.contains("张*"),
        "the room's screen shows a masked name"
    );

    // The department's template fills the empty record; the doctor then writes over it.
    el(&doctor, "[data-testid=vs-template]").await.select_by_label("上呼吸道感染").await.unwrap();
    el(&doctor, "#record form[method=get] button").await.click().await.unwrap();
    until_text(&doctor, ".alert-ok", "已套用模板", Duration::from_secs(5)).await;
    assert!(value_of(&doctor, "textarea[name=examination]").await.contains("咽部充血"));
    el(&doctor, "[data-testid=vs-cc]").await.clear().await.unwrap();

    // The record: an impossible vital is refused beside its box and everything typed stays.
    el(&doctor, "[data-testid=vs-cc]").await.send_keys("咽痛发热2天").await.unwrap();
    el(&doctor, "[data-testid=vs-allergies]").await.send_keys("青霉素").await.unwrap();
    el(&doctor, "[data-testid=vs-vital-temperature]").await.send_keys("38.2").await.unwrap();
    el(&doctor, "[data-testid=vs-vital-bp]").await.send_keys("400/20").await.unwrap();
    el(&doctor, "[data-testid=vs-save]").await.click().await.unwrap();
    el(&doctor, "[data-testid='err-vitals.bp']").await;
    assert_eq!(value_of(&doctor, "[data-testid=vs-cc]").await, "咽痛发热2天");
    el(&doctor, "[data-testid=vs-vital-bp]").await.clear().await.unwrap();
    el(&doctor, "[data-testid=vs-vital-bp]").await.send_keys("128/80").await.unwrap();
    el(&doctor, "[data-testid=vs-save]").await.click().await.unwrap();
    until_text(&doctor, ".alert-ok", "病历已保存", Duration::from_secs(5)).await;
    assert!(text_of(&doctor, "[data-testid=vs-allergy]").await.contains("青霉素"));
    assert!(
        value_of(&doctor, "textarea[name=examination]").await.contains("咽部充血"),
        "the template's text was saved"
    );
    // The record as saved becomes a template of the department.
    el(&doctor, "details.save-template summary").await.click().await.unwrap();
    el(&doctor, "[data-testid=vs-template-name]").await.send_keys("急性咽炎").await.unwrap();
    el(&doctor, "[data-testid=vs-template-save]").await.click().await.unwrap();
    until_text(&doctor, ".alert-ok", "已存为科室模板", Duration::from_secs(5)).await;
    assert!(text_of(&doctor, "[data-testid=vs-template]").await.contains("急性咽炎"));

    // The diagnosis by pinyin initials.
    pick(&doctor, "[data-testid=vs-dx-code]", "jxshxdgr", "急性上呼吸道感染").await;
    el(&doctor, "[data-testid=vs-dx-add]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=vs-dx]", "急性上呼吸道感染", Duration::from_secs(5)).await;
    assert!(text_of(&doctor, "[data-testid=vs-dx]").await.contains("主要诊断"));

    // A blood count.
    el(&doctor, "[data-testid=vs-order-catalog]").await.select_by_value("charge_item").await.unwrap();
    pick(&doctor, "[data-testid=vs-order-code]", "xcg", "血常规").await;
    el(&doctor, "[data-testid=vs-order-add]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=vs-orders]", "血常规", Duration::from_secs(5)).await;

    // Amoxicillin at an absurd dose: refused, what was typed stays.
    el(&doctor, "[data-testid=vs-order-catalog]").await.select_by_value("drug").await.unwrap();
    pick(&doctor, "[data-testid=vs-order-code]", "amxljn", "阿莫西林胶囊").await;
    el(&doctor, "[data-testid=vs-order-dose]").await.send_keys("500").await.unwrap();
    el(&doctor, "[data-testid=vs-order-freq]").await.select_by_value("tid").await.unwrap();
    el(&doctor, "[data-testid=vs-order-days]").await.send_keys("3").await.unwrap();
    el(&doctor, "[data-testid=vs-order-add]").await.click().await.unwrap();
    assert!(!text_of(&doctor, "[data-testid=err-dose]").await.is_empty());
    assert_eq!(value_of(&doctor, "[data-testid=vs-order-dose]").await, "500");
    assert_eq!(value_of(&doctor, "[data-testid=vs-order-days]").await, "3");
    assert!(!text_of(&doctor, "[data-testid=vs-orders]").await.contains("阿莫西林"), "nothing was ordered");
    // A sane dose meets the penicillin allergy: the warning must be confirmed with a reason.
    el(&doctor, "[data-testid=vs-order-dose]").await.clear().await.unwrap();
    el(&doctor, "[data-testid=vs-order-dose]").await.send_keys("0.5").await.unwrap();
    el(&doctor, "[data-testid=vs-order-add]").await.click().await.unwrap();
    assert!(text_of(&doctor, "[data-testid=vs-warnings]").await.contains("青霉素"));
    screenshot(&doctor, "visit-allergy-warning").await;
    el(&doctor, "[data-testid=vs-confirm]").await.click().await.unwrap();
    el(&doctor, "[data-testid=vs-reason]").await.send_keys("皮试阴性，已告知患者").await.unwrap();
    el(&doctor, "[data-testid=vs-order-add]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=vs-orders]", "阿莫西林胶囊", Duration::from_secs(5)).await;
    assert!(text_of(&doctor, "[data-testid=vs-orders]").await.contains("每次 0.5g 每日三次 × 3 天"));
    let total = text_of(&doctor, "[data-testid=vs-total]").await;
    screenshot(&doctor, "visit-workstation").await;

    // A sick-leave certificate, printable, with his full name.
    el(&doctor, "[data-testid=vs-cert-kind]").await.select_by_value("sick_leave").await.unwrap();
    el(&doctor, "[data-testid=vs-cert-days]").await.send_keys("3").await.unwrap();
    el(&doctor, "[data-testid=vs-cert-issue]").await.click().await.unwrap();
    assert_eq!(text_of(&doctor, "[data-testid=cert-name]").await, p.name);
    assert!(text_of(&doctor, "[data-testid=cert-days]").await.contains("3 天"));
    screenshot(&doctor, "visit-certificate").await;

    // Finishing the visit finishes his place in the queue.
    doctor.goto(&t.at(&visit_path)).await.unwrap();
    el(&doctor, "[data-testid=vs-finish]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=vs-status]", "已完成", Duration::from_secs(5)).await;
    doctor.goto(&t.at("/visits")).await.unwrap();
    let day = text_of(&doctor, "[data-testid=vs-today]").await;
    assert!(day.contains("急性上呼吸道感染") && day.contains("已完成") && day.contains("张*"), "{day}");
    let entry = dayi_store::queue::of_patient(&t.app.db, org, p.id, &dayi_core::timefmt::today_cst().to_string())
        .await
        .unwrap();
    assert!(entry.iter().all(|e| e.status == "done"), "the queue entry is finished: {entry:?}");

    // On the phone: what the doctor ordered is owed, paid through the provider's checkout.
    phone.set_window_size(390, 844).await.unwrap();
    portal_sign_in(&phone, &t).await;
    el(&phone, "[data-testid=tab-bills]").await.click().await.unwrap();
    assert_eq!(text_of(&phone, "[data-testid=pb-owed]").await, total);
    screenshot(&phone, "visit-portal-bills").await;
    el(&phone, "[data-testid=pb-pay]").await.click().await.unwrap();
    assert_eq!(text_of(&phone, "[data-testid=co-amount]").await, total);
    let checkout = phone.current_url().await.unwrap();
    screenshot(&phone, "visit-local-checkout").await;
    el(&phone, "[data-testid=co-pay]").await.click().await.unwrap();
    until_text(&phone, "[data-testid=pb-paid]", "已支付", Duration::from_secs(10)).await;
    assert!(text_of(&phone, "[data-testid=pb-member]").await.contains("没有待缴费用"));
    // The checkout again: the order is paid, there is nothing to press.
    phone.goto(checkout.as_str()).await.unwrap();
    assert!(text_of(&phone, "[data-testid=co-state]").await.contains("已支付"));
    assert!(phone.find(Locator::Css("[data-testid=co-pay]")).await.is_err());
    // The provider's callbacks (retried until acknowledged) settle it once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pays = dayi_store::billing::payments_of(&t.app.db, org, p.id, 10).await.unwrap();
    assert_eq!(pays.len(), 2, "one counter and one online payment");
    let online = pays.iter().find(|x| x.method == "online").unwrap();
    assert_eq!(online.status, "paid");
    let settled = dayi_store::billing::charges_of_payment(&t.app.db, org, online.id).await.unwrap();
    assert_eq!(settled.iter().map(|c| c.amount_fen).sum::<i64>(), online.amount_fen);

    // The receipt and the prescription on the phone.
    phone.goto(&t.at("/portal/bills")).await.unwrap();
    el(&phone, "[data-testid=pb-receipt]").await.click().await.unwrap();
    assert_eq!(text_of(&phone, "[data-testid=rc-amount]").await, total);
    screenshot(&phone, "visit-portal-receipt").await;
    el(&phone, "[data-testid=tab-visits]").await.click().await.unwrap();
    assert!(text_of(&phone, "[data-testid=pv-orders]").await.contains("阿莫西林胶囊"));
    screenshot(&phone, "visit-portal-visits").await;

    // The cashier refunds the blood count, not yet taken, from the online payment.
    cashier.goto(&t.at(&format!("/billing/payments/{}", online.id))).await.unwrap();
    let items = cashier.find_all(Locator::Css("[data-testid=rf-item]")).await.unwrap();
    for i in items {
        let label = i.find(Locator::XPath("..")).await.unwrap().text().await.unwrap();
        if label.contains("血常规") {
            i.click().await.unwrap();
        }
    }
    el(&cashier, "[data-testid=rf-submit]").await.click().await.unwrap();
    assert!(!text_of(&cashier, "[data-testid=err-reason]").await.is_empty(), "a refund needs a reason");
    el(&cashier, "[data-testid=rf-reason]").await.send_keys("患者未做检查").await.unwrap();
    let items = cashier.find_all(Locator::Css("[data-testid=rf-item]")).await.unwrap();
    for i in items {
        let label = i.find(Locator::XPath("..")).await.unwrap().text().await.unwrap();
        let on = i.prop("checked").await.unwrap().is_some_and(|v| v == "true");
        if label.contains("血常规") && !on {
            i.click().await.unwrap();
        }
    }
    el(&cashier, "[data-testid=rf-submit]").await.click().await.unwrap();
    until_text(&cashier, "[data-testid=rc-refunded]", "¥18.00", Duration::from_secs(10)).await;

    // Both daily closings balance: the till holds the fee, the online account the rest less the refund.
    cashier.goto(&t.at("/billing/closing")).await.unwrap();
    screenshot(&cashier, "visit-closing-desk").await;
    el(&cashier, "[data-testid=cl-close-till]").await.click().await.unwrap();
    el(&cashier, "[data-testid=cl-balanced]").await;
    assert_eq!(text_of(&cashier, "[data-testid=cl-net]").await, fee);
    screenshot(&cashier, "visit-closing").await;
    cashier.goto(&t.at("/billing/closing")).await.unwrap();
    el(&cashier, "[data-testid=cl-close-online]").await.click().await.unwrap();
    el(&cashier, "[data-testid=cl-balanced]").await;
    let yuan = |s: &str| -> i64 {
        let s = s.trim_start_matches('¥');
        let (a, b) = s.split_once('.').unwrap();
        a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap()
    };
    assert_eq!(yuan(&text_of(&cashier, "[data-testid=cl-net]").await), yuan(&total) - 1800);

    // The administrator raises the blood count's price from tomorrow; yesterday is refused.
    sign_in(&doctor, &t, "admin").await;
    doctor.goto(&t.at("/catalog?kind=charge_item&q=xcg")).await.unwrap();
    el(&doctor, "[data-testid=cat-open]").await.click().await.unwrap();
    el(&doctor, "[data-testid=cat-from]").await;
    let set_date = |d: String| {
        let c = doctor.clone();
        async move {
            let js = "document.querySelector('[data-testid=cat-from]').value = arguments[0]";
            c.execute(js, vec![serde_json::json!(d)]).await.unwrap();
        }
    };
    let today = dayi_core::timefmt::today_cst();
    set_date((today - time::Duration::days(1)).to_string()).await;
    el(&doctor, "[data-testid=cat-price]").await.send_keys("20").await.unwrap();
    el(&doctor, "[data-testid=cat-save]").await.click().await.unwrap();
    assert!(!text_of(&doctor, "[data-testid=err-effective_from]").await.is_empty());
    assert_eq!(value_of(&doctor, "[data-testid=cat-price]").await, "20");
    set_date((today + time::Duration::days(1)).to_string()).await;
    el(&doctor, "[data-testid=cat-save]").await.click().await.unwrap();
    until_text(&doctor, "[data-testid=cat-rows]", "¥20.00", Duration::from_secs(5)).await;
    assert!(text_of(&doctor, "[data-testid=cat-rows]").await.contains("¥18.00"));
    screenshot(&doctor, "visit-catalog").await;
    for c in [doctor, cashier, phone] {
        c.close().await.unwrap();
    }
}
