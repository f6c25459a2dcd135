//! The outpatient visit and billing over HTTP, on both databases: the
//! doctor calls, writes the record, diagnoses and orders with the warnings
//! a prescription must pass; the cashier takes the money once however often
//! it is asked, refunds what was not carried out, and the day closes to the
//! fen; an online payment is settled by the provider's signed callback,
//! once, however often it comes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Session, TestApp};
use crate::queue::{ROOM, adults, arrive, choose, clinic, next, ok, org, refused};

crate::on_both!(a_visit_from_call_to_closing, online_payment_settles_once, one_key_one_answer_under_concurrency);

/// The codes of the field errors of a 422 answer.
async fn field_codes(r: reqwest::Response) -> Vec<String> {
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    v["fields"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

/// A catalogue item's code, found by name as a doctor types it.
pub(crate) async fn code_of(s: &Session, kind: &str, name: &str) -> String {
    let v = ok(s.get(&format!("/api/catalog?kind={kind}&q={name}")).await).await;
    let hit = v.as_array().unwrap().iter().find(|i| i["name"].as_str().unwrap().contains(name));
    hit.unwrap_or_else(|| panic!("no {name} in {kind}: {v}"))["code"].as_str().unwrap().to_string()
}

/// A called patient's open visit: (visit id, patient id).
pub(crate) async fn called_visit(t: &TestApp, i: u64) -> (String, String) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    choose(&doc, &[&sid]).await;
    let ps = adults(t, i, 1).await;
    let b = arrive(&reg, &nurse, &sid, &ps).await;
    let called = ok(next(&doc).await).await;
    assert_eq!(called["line"]["booking_id"], b[0].as_str());
    let v = ok(doc.post_json(&format!("/api/visits/open/{}", b[0]), json!({})).await).await;
    (v["visit"]["id"].as_str().unwrap().to_string(), ps[0].id.clone())
}

async fn a_visit_from_call_to_closing(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let (vid, pid) = called_visit(t, 0).await;
    let at = |p: &str| format!("/api/visits/{vid}{p}");

    // The record, with a penicillin allergy.
    let rec = json!({"chief_complaint": "咽痛发热2天", "present_illness": "受凉后咽痛", "allergies": "青霉素",
                     "vitals": {"temperature": "38.2", "bp": "128/80"}, "examination": "咽部充血", "advice": "多饮水"});
    ok(doc.post_json(&at("/record"), rec).await).await;

    // Diagnoses: an unknown code changes nothing; then one western and one TCM.
    let r = doc.post_json(&at("/diagnoses"), json!({"diagnoses": [{"code": "X99.999"}]})).await;
    assert_eq!(field_codes(r).await, ["catalog.unknown"]);
    let finish = doc.post_json(&at("/finish"), json!({})).await;
    refused(finish, StatusCode::UNPROCESSABLE_ENTITY, "visit.no_diagnosis").await;
    let tcm = code_of(&doc, "tcm", "感冒").await;
    let v = ok(doc
        .post_json(&at("/diagnoses"), json!({"diagnoses": [{"code": "J06.900"}, {"kind": "tcm", "code": tcm}]}))
        .await)
    .await;
    assert_eq!(v["diagnoses"].as_array().unwrap().len(), 2);
    assert_eq!(v["diagnoses"][0]["is_primary"], true);

    // Amoxicillin warns of the allergy; an absurd dose is refused outright.
    let amox = code_of(&doc, "drug", "阿莫西林").await;
    let drug = |dose: &str, confirm: bool| json!({"catalog": "drug", "code": amox, "dose": dose, "frequency": "tid", "days": "3", "confirm": confirm, "reason": if confirm { "皮试阴性" } else { "" }});
    assert_eq!(field_codes(doc.post_json(&at("/orders"), drug("0.5", false)).await).await, ["order.allergy"]);
    let absurd = field_codes(doc.post_json(&at("/orders"), drug("500", true)).await).await;
    assert_eq!(absurd, ["order.dose_absurd"]);
    let o = ok(doc.post_json(&at("/orders"), drug("0.5", true)).await).await;
    assert_eq!(o["warnings"][0]["code"], "order.allergy");
    assert!(o["order"]["quantity"].as_i64().unwrap() >= 1);
    // A lab test, and the same test again needs confirming.
    let cbc = code_of(&doc, "charge_item", "血常规").await;
    let lab = ok(doc.post_json(&at("/orders"), json!({"code": cbc})).await).await;
    assert_eq!(lab["order"]["kind"], "lab");
    assert_eq!(field_codes(doc.post_json(&at("/orders"), json!({"code": cbc})).await).await, ["order.duplicate"]);
    let visit = ok(doc.post_json(&at("/finish"), json!({})).await).await;
    assert_eq!(visit["visit"]["status"], "finished");
    refused(doc.post_json(&at("/orders"), json!({"code": cbc})).await, StatusCode::CONFLICT, "visit.finished").await;

    // The cashier sees the registration fee and both orders.
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<String> =
        due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    let total = due["total_fen"].as_i64().unwrap();
    assert!(ids.len() >= 2, "{due}");
    let body = |key: &str, expected: i64| json!({"patient_id": pid, "charge_ids": ids, "expected_fen": expected, "method": "cash", "tendered": "1000", "key": key});
    // A stale total is refused; then one payment however often it is sent.
    refused(
        cashier.post_json("/api/billing/pay", body("k1", total - 1)).await,
        StatusCode::CONFLICT,
        "billing.amount_changed",
    )
    .await;
    let first = ok(cashier.post_json("/api/billing/pay", body("k1", total)).await).await;
    let again = ok(cashier.post_json("/api/billing/pay", body("k1", total)).await).await;
    assert_eq!(first["payment"]["id"], again["payment"]["id"]);
    assert_eq!(first["payment"]["change_fen"].as_i64().unwrap(), 100_000 - total);
    // Who paid: one part, the patient's cash, the whole bill.
    assert_eq!(
        first["parts"],
        json!([{"payer": "cash", "payer_name": "现金", "fen": total, "amount": dayi_core::catalog::yuan(total)}])
    );
    let twice = refused(
        cashier.post_json("/api/billing/pay", body("k2", total)).await,
        StatusCode::CONFLICT,
        "billing.already_paid",
    )
    .await;
    // The refusal names the receipt that paid it.
    assert!(twice["detail"].as_str().unwrap().contains(first["payment"]["pay_no"].as_str().unwrap()), "{twice}");
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    assert_eq!(due["total_fen"], 0);
    let pay_id = first["payment"]["id"].as_str().unwrap().to_string();

    // The drug is dispensed; the lab test is refunded, once; nothing more.
    let drug_order = o["order"]["id"].as_str().unwrap();
    ok(doc.post_json(&at(&format!("/orders/{drug_order}/execute")), json!({})).await).await;
    let charge_of = |name: &str| -> String {
        let c = first["charges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["item_name"].as_str().unwrap().contains(name))
            .unwrap();
        c["id"].as_str().unwrap().to_string()
    };
    let refund =
        |ids: Vec<String>, key: &str| json!({"payment_id": pay_id, "charge_ids": ids, "reason": "未检查", "key": key});
    let r = cashier.post_json("/api/billing/refund", refund(vec![charge_of("阿莫西林")], "r1")).await;
    refused(r, StatusCode::CONFLICT, "billing.refund_executed").await;
    let lab_fen = lab["order"]["amount_fen"].as_i64().unwrap();
    let back = ok(cashier.post_json("/api/billing/refund", refund(vec![charge_of("血常规")], "r2")).await).await;
    assert_eq!(back["refunded_fen"], lab_fen);
    let twice = ok(cashier.post_json("/api/billing/refund", refund(vec![charge_of("血常规")], "r2")).await).await;
    assert_eq!(twice["refunded_fen"], lab_fen, "the same request refunds once");
    let r = cashier.post_json("/api/billing/refund", refund(vec![charge_of("血常规")], "r3")).await;
    refused(r, StatusCode::CONFLICT, "billing.refund_not_paid").await;

    // The day closes to the fen; a second closing has nothing left.
    let open = ok(cashier.get("/api/billing/open").await).await;
    assert_eq!(open["net_fen"].as_i64().unwrap(), total - lab_fen);
    let c = ok(cashier.post_json("/api/billing/closings", json!({})).await).await;
    assert_eq!(c["balanced"], true);
    assert_eq!(c["closing"]["net_fen"].as_i64().unwrap(), total - lab_fen);
    let cash = c["totals"]["lines"].as_array().unwrap().iter().find(|l| l["method"] == "cash").unwrap();
    assert_eq!((cash["paid_fen"].as_i64().unwrap(), cash["refunded_fen"].as_i64().unwrap()), (total, lab_fen));
    let empty = ok(cashier.post_json("/api/billing/closings", json!({})).await).await;
    assert_eq!((empty["closing"]["payments"].as_i64(), empty["closing"]["net_fen"].as_i64()), (Some(0), Some(0)));

    // A doctor cannot take money; a cashier cannot read the visit.
    let r = doc.post_json("/api/billing/pay", body("k9", 0)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(cashier.get(&format!("/api/visits/{vid}")).await.status(), StatusCode::FORBIDDEN);
}

async fn online_payment_settles_once(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let (vid, pid) = called_visit(t, 1).await;
    let ecg = code_of(&doc, "charge_item", "心电图").await;
    ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": ecg})).await).await;
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<Value> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    let total = due["total_fen"].as_i64().unwrap();
    let body =
        json!({"patient_id": pid, "charge_ids": ids, "expected_fen": total, "method": "online", "key": "online-1"});
    let p = ok(cashier.post_json("/api/billing/pay", body.clone()).await).await;
    assert_eq!(p["payment"]["status"], "created");
    assert!(p["payment"]["pay_url"].as_str().unwrap().starts_with("/pay/local/"));
    // While it is open the charges cannot be paid in cash.
    let cash = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": total, "method": "cash", "key": "cash-1"});
    refused(cashier.post_json("/api/billing/pay", cash).await, StatusCode::CONFLICT, "request.conflict").await;

    // The patient pays at the provider; its callback reaches the server.
    let o = org(t).await;
    let provider = dayi_app::billing::local(&t.app, o).await.unwrap();
    let no = p["payment"]["pay_no"].as_str().unwrap().to_string();
    let paid = provider.pay(&no).await.unwrap();
    let id = p["payment"]["id"].as_str().unwrap();
    let mut status = String::new();
    for _ in 0..100 {
        let r = ok(cashier.get(&format!("/api/billing/payments/{id}")).await).await;
        status = r["payment"]["status"].as_str().unwrap().to_string();
        if status == "paid" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "paid");
    let r = ok(cashier.get(&format!("/api/billing/payments/{id}")).await).await;
    assert_eq!(r["parts"][0]["payer"], "online");
    assert_eq!(r["parts"][0]["fen"], total);

    // The same callback again is taken and changes nothing; a forged one is refused.
    let cb = provider.callback(&paid, dayi_core::timefmt::now_micros() / 1_000_000, "again");
    let send = |cb: dayi_app::pay::Callback| {
        let mut req = t.client().post(t.at(&format!("/api/pay/notify/local/{}", o.simple()))).body(cb.body.clone());
        for (k, v) in &cb.headers {
            req = req.header(k, v);
        }
        req.send()
    };
    assert_eq!(send(cb.clone()).await.unwrap().status(), StatusCode::OK);
    let mut forged = cb.clone();
    forged.body = String::from_utf8(cb.body.clone()).unwrap().replace(&total.to_string(), "1").into_bytes();
    let r = send(forged).await.unwrap();
    refused(r, StatusCode::UNAUTHORIZED, "billing.signature").await;
    let again = ok(cashier.post_json("/api/billing/pay", body).await).await;
    assert_eq!(again["payment"]["status"], "paid");
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    assert_eq!(due["total_fen"], 0);

    // The online account closes with exactly this payment.
    let c = ok(cashier.post_json("/api/billing/closings", json!({"online": true})).await).await;
    assert_eq!((c["balanced"].as_bool(), c["closing"]["net_fen"].as_i64()), (Some(true), Some(total)));
}

/// Many requests with one key at once all get the first one's answer: 50
/// payments, then 20 refunds. The same key with another body is a 422.
async fn one_key_one_answer_under_concurrency(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let (vid, pid) = called_visit(t, 40).await;
    let at = |p: &str| format!("/api/visits/{vid}{p}");
    ok(doc.post_json(&at("/diagnoses"), json!({"diagnoses": [{"code": "J06.900"}]})).await).await;
    let cbc = code_of(&doc, "charge_item", "血常规").await;
    ok(doc.post_json(&at("/orders"), json!({"code": cbc})).await).await;
    ok(doc.post_json(&at("/finish"), json!({})).await).await;
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<String> =
        due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    let total = due["total_fen"].as_i64().unwrap();
    let body = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": total, "method": "cash", "key": "same-1"});

    let answers = futures::future::join_all((0..50).map(|_| cashier.post_json("/api/billing/pay", body.clone()))).await;
    let mut paid = vec![];
    for r in answers {
        paid.push(ok(r).await["payment"]["pay_no"].as_str().unwrap().to_string());
    }
    paid.sort();
    paid.dedup();
    assert_eq!(paid.len(), 1, "one payment, one answer: {paid:?}");
    // The same key for other charges is refused with its own code.
    let other =
        json!({"patient_id": pid, "charge_ids": [ids[0]], "expected_fen": total, "method": "cash", "key": "same-1"});
    refused(cashier.post_json("/api/billing/pay", other).await, StatusCode::UNPROCESSABLE_ENTITY, "billing.key_reused")
        .await;

    let receipt = ok(cashier.post_json("/api/billing/pay", body).await).await;
    let pay_id = receipt["payment"]["id"].as_str().unwrap().to_string();
    let lab =
        receipt["charges"].as_array().unwrap().iter().find(|c| c["item_name"].as_str().unwrap().contains("血常规"));
    let (lab_id, lab_fen) = (lab.unwrap()["id"].as_str().unwrap(), lab.unwrap()["amount_fen"].as_i64().unwrap());
    let refund = json!({"payment_id": pay_id, "charge_ids": [lab_id], "reason": "未检查", "key": "back-1"});
    let answers =
        futures::future::join_all((0..20).map(|_| cashier.post_json("/api/billing/refund", refund.clone()))).await;
    for r in answers {
        assert_eq!(ok(r).await["refunded_fen"], lab_fen);
    }
    let refunds = ok(cashier.get(&format!("/api/billing/patients/{pid}/payments")).await).await;
    assert_eq!(refunds[0]["refunded_fen"], lab_fen, "refunded once");
    let fee = ids.iter().find(|i| i.as_str() != lab_id).unwrap();
    let other = json!({"payment_id": pay_id, "charge_ids": [fee], "reason": "未检查", "key": "back-1"});
    refused(
        cashier.post_json("/api/billing/refund", other).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "billing.key_reused",
    )
    .await;
    assert!(t.app.flights.is_empty(), "finished keys are forgotten");
}
