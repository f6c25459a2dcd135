//! Lab results over HTTP, on both databases: a visit's lab orders are drawn
//! only once paid, into one tube per specimen kind; results are judged by
//! the patient's range, a critical value alerts the ordering doctor until
//! acknowledged, a second person verifies before anyone sees them, and a
//! correction keeps the history. Bad input changes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::TestApp;
use crate::queue::{ok, refused};
use crate::visit::{called_visit, code_of};

crate::on_both!(from_order_to_published_result);

async fn from_order_to_published_result(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let lab = t.as_user("lab01").await;
    let checker = t.as_user("lab02").await;
    let (vid, pid) = called_visit(t, 0).await;
    let cbc = code_of(&doc, "charge_item", "血常规").await;
    let k = code_of(&doc, "charge_item", "钾测定").await;
    for code in [&cbc, &k] {
        ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": code})).await).await;
    }

    // On the worklist, but not drawn before it is paid.
    let wl = ok(lab.get("/api/lab/worklist").await).await;
    let mine = wl.as_array().unwrap().iter().find(|l| l["visit_id"] == vid.as_str()).expect("on the worklist").clone();
    assert_eq!(mine["orders"].as_array().unwrap().len(), 2);
    assert_eq!(mine["ready"], false);
    refused(
        lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await,
        StatusCode::CONFLICT,
        "lab.unpaid",
    )
    .await;
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "card", "key": "lab-pay"});
    let paid = ok(cashier.post_json("/api/billing/pay", pay).await).await;

    // Drawn: a purple tube for the blood count, a yellow one for potassium.
    let tubes = ok(lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await).await;
    let tubes = tubes.as_array().unwrap();
    assert_eq!(tubes.len(), 2);
    let barcode = |tube: &str| -> String {
        let s = tubes.iter().find(|s| s["tube"].as_str().unwrap().starts_with(tube)).unwrap();
        s["barcode"].as_str().unwrap().to_string()
    };
    let (purple, yellow) = (barcode("紫头管"), barcode("黄头管"));
    assert!(purple.len() == 12 && purple.bytes().all(|b| b.is_ascii_digit()) && purple != yellow);
    let wl = ok(lab.get("/api/lab/worklist").await).await;
    assert!(!wl.as_array().unwrap().iter().any(|l| l["visit_id"] == vid.as_str()), "drawn orders leave the worklist");
    refused(
        lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await,
        StatusCode::CONFLICT,
        "lab.nothing_to_collect",
    )
    .await;
    // Drawn blood is not refunded.
    let k_charge = paid["charges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["item_name"].as_str().unwrap().contains("钾"))
        .unwrap()["id"]
        .clone();
    let r = cashier
        .post_json(
            "/api/billing/refund",
            json!({"payment_id": paid["payment"]["id"], "charge_ids": [k_charge], "reason": "不查了", "key": "lab-r1"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Received in the lab; an unknown tube is refused.
    ok(lab.post_json(&format!("/api/lab/specimens/{yellow}/receive"), json!({})).await).await;
    refused(
        lab.post_json("/api/lab/specimens/000000000000/receive", json!({})).await,
        StatusCode::NOT_FOUND,
        "lab.barcode_unknown",
    )
    .await;
    refused(
        lab.post_json(&format!("/api/lab/specimens/{yellow}/receive"), json!({})).await,
        StatusCode::CONFLICT,
        "lab.specimen_state",
    )
    .await;

    // Bad results change nothing: a wrong unit, an item the tube was not drawn for, a word for a number.
    let enter = |barcode: &str, item: &str, value: &str, unit: &str| json!({"barcode": barcode, "results": [{"item": item, "value": value, "unit": unit}]});
    refused(
        lab.post_json("/api/lab/results", enter(&yellow, "K", "4.1", "mg/dL")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "lab.unit",
    )
    .await;
    let r = lab.post_json("/api/lab/results", enter(&yellow, "HGB", "130", "g/L")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = lab.post_json("/api/lab/results", enter(&yellow, "K", "高", "")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let view = ok(lab.get(&format!("/api/lab/specimens/{yellow}")).await).await;
    assert!(view["tests"][0]["results"].as_array().unwrap().is_empty(), "nothing half-written");

    // Potassium 6.8 by LOINC code: critical, and the ordering doctor is alerted.
    let stored = ok(lab.post_json("/api/lab/results", enter(&yellow, "2823-3", "6.8", "mmol/L")).await).await;
    assert_eq!(stored["critical"][0], "钾 6.8mmol/L");
    let alerts = ok(doc.get("/api/lab/alerts").await).await;
    let alert =
        alerts.as_array().unwrap().iter().find(|a| a["value"] == "6.8").expect("the doctor sees the alert").clone();
    assert_eq!(alert["flag"], "HH");
    // Not published before verification; the same person cannot verify.
    let published = ok(doc.get(&format!("/api/lab/patients/{pid}/results")).await).await;
    assert!(published.as_array().unwrap().is_empty());
    let k_order = view["tests"][0]["test"]["order_id"].as_str().unwrap().to_string();
    refused(
        lab.post_json(&format!("/api/lab/tests/{k_order}/verify"), json!({})).await,
        StatusCode::CONFLICT,
        "lab.same_verifier",
    )
    .await;
    let v = ok(checker.post_json(&format!("/api/lab/tests/{k_order}/verify"), json!({})).await).await;
    assert_eq!(v["test"]["status"], "verified");
    let published = ok(doc.get(&format!("/api/lab/patients/{pid}/results")).await).await;
    let k_line = &published[0]["results"][0];
    assert_eq!(
        (k_line["value"].as_str(), k_line["flag"].as_str(), k_line["range_text"].as_str()),
        (Some("6.8"), Some("HH"), Some("3.5–5.3"))
    );
    // The doctor acknowledges once.
    let id = alert["id"].as_str().unwrap();
    ok(doc.post_json(&format!("/api/lab/alerts/{id}/ack"), json!({"note": "已电话通知患者返院复查"})).await).await;
    refused(
        doc.post_json(&format!("/api/lab/alerts/{id}/ack"), json!({})).await,
        StatusCode::CONFLICT,
        "lab.alert_done",
    )
    .await;
    assert!(!ok(doc.get("/api/lab/alerts").await).await.as_array().unwrap().iter().any(|a| a["id"] == id));

    // A blood count with only one item cannot be verified.
    ok(lab.post_json("/api/lab/results", enter(&purple, "WBC", "6.2", "10^9/L")).await).await;
    let cbc_order = ok(lab.get(&format!("/api/lab/specimens/{purple}")).await).await["tests"][0]["test"]["order_id"]
        .as_str()
        .unwrap()
        .to_string();
    refused(
        checker.post_json(&format!("/api/lab/tests/{cbc_order}/verify"), json!({})).await,
        StatusCode::CONFLICT,
        "lab.incomplete",
    )
    .await;

    // A correction of the verified potassium needs a reason, keeps the first value and is verified again.
    let fix = |reason: &str| json!({"barcode": yellow, "results": [{"item": "K", "value": "4.2"}], "reason": reason});
    refused(lab.post_json("/api/lab/results", fix("")).await, StatusCode::UNPROCESSABLE_ENTITY, "request.validation")
        .await;
    ok(lab.post_json("/api/lab/results", fix("标本溶血复测")).await).await;
    assert!(
        ok(doc.get(&format!("/api/lab/patients/{pid}/results")).await).await.as_array().unwrap().is_empty(),
        "withdrawn until verified again"
    );
    ok(checker.post_json(&format!("/api/lab/tests/{k_order}/verify"), json!({})).await).await;
    let view = ok(lab.get(&format!("/api/lab/specimens/{yellow}")).await).await;
    let test = &view["tests"][0];
    assert_eq!(test["results"][0]["value"], "4.2");
    assert_eq!(test["results"][0]["version"], 2);
    assert_eq!(test["history"][0]["value"], "6.8");
    let trend: Value = ok(doc.get(&format!("/api/lab/patients/{pid}/trend/K")).await).await;
    assert_eq!(trend.as_array().unwrap().len(), 1);
    assert_eq!(trend[0]["flag"], "N");

    // The cashier sees no results.
    let r = cashier.get(&format!("/api/lab/patients/{pid}/results")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyzer_results_over_mllp_sqlite() {
    let t = TestApp::sqlite_with(with_mllp).await;
    analyzer_results_over_mllp(&t).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyzer_results_over_mllp_postgres() {
    match TestApp::postgres_with(with_mllp).await {
        Some(t) => {
            analyzer_results_over_mllp(&t).await;
            t.stop().await;
        }
        None => eprintln!("PostgreSQL binaries not found: skipped"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_messages_sqlite() {
    let t = TestApp::sqlite_with(with_mllp).await;
    pipelined_messages(&t).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_messages_postgres() {
    match TestApp::postgres_with(with_mllp).await {
        Some(t) => {
            pipelined_messages(&t).await;
            t.stop().await;
        }
        None => eprintln!("PostgreSQL binaries not found: skipped"),
    }
}

pub(crate) fn with_mllp(r: &mut dayi::Resolved) {
    r.mllp = Some(dayi::settings::Mllp {
        listen: "127.0.0.1:0".into(),
        org: crate::harness::ORG.into(),
        config: Default::default(),
    });
}

/// A connection over the listener's limits is closed on accept and counted
/// on `/metrics` (the counter is the process's, shared with other tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_analyzer_connections_are_counted_on_metrics() {
    use tokio::io::AsyncReadExt;
    let t = TestApp::sqlite_with(|r| {
        with_mllp(r);
        if let Some(m) = r.mllp.as_mut() {
            m.config.max_per_peer = 1;
        }
    })
    .await;
    let refused = |metrics: &str| {
        let line = metrics.lines().find(|l| l.starts_with("dayi_mllp_connections_refused_total{reason=\"per_peer\"}"));
        line.and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    let web = reqwest::Client::new();
    let metrics = || async { web.get(t.at("/metrics")).send().await.unwrap().text().await.unwrap() };
    let before = metrics().await;
    let before = refused(&before).unwrap_or_else(|| panic!("no refusal counter: {before}"));
    let addr = t.server.as_ref().unwrap().mllp_addr.expect("MLLP is listening");
    let mut held = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(send(&mut held, &oru("Q1", "999999999999", "4.0", "mmol/L")).await.contains("MSA|AE|Q1"));
    let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), second.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the second connection was kept: {read:?}");
    let after = refused(&metrics().await).unwrap();
    assert!(after >= before + 1.0, "{before} → {after}");
    t.stop().await;
}

/// Sends one MLLP frame and reads the answer's frame.
pub(crate) async fn send(conn: &mut tokio::net::TcpStream, msg: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut frame = vec![0x0b];
    frame.extend_from_slice(msg.as_bytes());
    frame.extend_from_slice(&[0x1c, 0x0d]);
    conn.write_all(&frame).await.unwrap();
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while !got.ends_with(&[0x1c, 0x0d]) {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the listener closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got[1..got.len() - 2].to_vec()).unwrap()
}

pub(crate) fn oru(control: &str, barcode: &str, value: &str, unit: &str) -> String {
    [
        format!("MSH|^~\\&|BS-240|LAB|DAYI|WSXRMYY|20261203101500||ORU^R01^ORU_R01|{control}|P|2.5.1"),
        "PID|1||1000000011^^^WSXRMYY^MR||张三".to_string(),
        format!("OBR|1||{barcode}|K^钾"),
        format!("OBX|1|NM|K^钾^L||{value}|{unit}|3.5-5.3|HH|||F"),
    ]
    .join("\r")
        + "\r"
}

/// The analyzer's results reach the specimen by barcode: AA when stored, AE
/// for an unknown barcode or a wrong unit, AR for what is not HL7; a resend
/// after a lost ACK stores nothing twice; an instrument's results are
/// verified by any technician.
async fn analyzer_results_over_mllp(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let lab = t.as_user("lab01").await;
    let (vid, pid) = called_visit(t, 0).await;
    let k = code_of(&doc, "charge_item", "钾测定").await;
    ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": k})).await).await;
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "cash", "key": "mllp-pay"});
    ok(cashier.post_json("/api/billing/pay", pay).await).await;
    let tubes = ok(lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await).await;
    let barcode = tubes[0]["barcode"].as_str().unwrap().to_string();

    let addr = t.server.as_ref().unwrap().mllp_addr.expect("MLLP is listening");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let ack = send(&mut conn, &oru("M1", "999999999999", "4.0", "mmol/L")).await;
    assert!(ack.contains("MSA|AE|M1"), "{ack}");
    // A refusal names the specific reason, not a form's "see the marked fields".
    let ack = send(&mut conn, &oru("M2", &barcode, "4.0", "mg/dL")).await;
    assert!(ack.contains("MSA|AE|M2|钾 的单位 mg/dL 与目录的 mmol/L 不一致，结果未保存\r"), "{ack}");
    let glu = oru("M2G", &barcode, "5.1", "mmol/L").replace("OBX|1|NM|K^钾^L", "OBX|1|NM|GLU^血糖^L");
    let ack = send(&mut conn, &glu).await;
    assert!(ack.contains(&format!("MSA|AE|M2G|GLU 不在该标本的检验项目中（条码 {barcode}）\r")), "{ack}");
    assert!(ack.contains("|204^Unknown key identifier^HL70357|E|lab.item_unknown^GLU is not"), "{ack}");
    assert!(ack.contains(&format!("(barcode {barcode})^L|||GLU 不在该标本的检验项目中（条码 {barcode}）\r")), "{ack}");
    let text = oru("M2T", &barcode, "阴性", "mmol/L").replace("OBX|1|NM|", "OBX|1|ST|");
    let ack = send(&mut conn, &text).await;
    assert!(ack.contains("MSA|AE|M2T|钾 的结果应为数字\r"), "{ack}");
    let ack = send(&mut conn, "this is not HL7").await;
    assert!(ack.contains("MSA|AR"), "{ack}");
    let view = ok(lab.get(&format!("/api/lab/specimens/{barcode}")).await).await;
    assert!(view["tests"][0]["results"].as_array().unwrap().is_empty(), "refused messages store nothing");

    let ack = send(&mut conn, &oru("M3", &barcode, "6.8", "mmol/L")).await;
    assert!(ack.contains("MSA|AA|M3"), "{ack}");
    // The ACK was lost: the analyzer sends it again; nothing is stored twice.
    let ack = send(&mut conn, &oru("M3", &barcode, "6.8", "mmol/L")).await;
    assert!(ack.contains("MSA|AA|M3"), "{ack}");
    let view = ok(lab.get(&format!("/api/lab/specimens/{barcode}")).await).await;
    let test = &view["tests"][0];
    assert_eq!(view["specimen"]["status"], "received", "results received the tube");
    assert_eq!(test["results"].as_array().unwrap().len(), 1);
    assert!(test["history"].as_array().unwrap().is_empty());
    assert_eq!(test["results"][0]["entered_by"], "hl7:BS-240");
    assert_eq!(test["results"][0]["flag"], "HH");
    assert!(ok(doc.get("/api/lab/alerts").await).await.as_array().unwrap().iter().any(|a| a["value"] == "6.8"));
    let order = test["test"]["order_id"].as_str().unwrap();
    ok(lab.post_json(&format!("/api/lab/tests/{order}/verify"), json!({})).await).await;
    let published = ok(doc.get(&format!("/api/lab/patients/{pid}/results")).await).await;
    assert_eq!(published[0]["results"][0]["value"], "6.8");
}

/// The collected tubes of a paid visit with the charge items named: (barcode by tube, patient id).
pub(crate) async fn tubes_for(t: &TestApp, items: &[&str]) -> (Vec<(String, String)>, String) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let lab = t.as_user("lab01").await;
    let (vid, pid) = called_visit(t, 0).await;
    for name in items {
        let code = code_of(&doc, "charge_item", name).await;
        ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": code})).await).await;
    }
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "cash", "key": "tubes-pay"});
    ok(cashier.post_json("/api/billing/pay", pay).await).await;
    let tubes = ok(lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await).await;
    let tubes = tubes
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["tube"].as_str().unwrap().to_string(), t["barcode"].as_str().unwrap().to_string()))
        .collect();
    (tubes, pid)
}

/// An analyzer that sends ahead of its ACKs: the messages it has sent are
/// stored together, yet each is answered on its own, in order, and a bad one
/// (unknown tube, wrong unit) stores nothing while its neighbours are kept;
/// a resend inside the same group stores nothing twice.
async fn pipelined_messages(t: &TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let lab = t.as_user("lab01").await;
    let (tubes, _) = tubes_for(t, &["钾测定", "血糖（葡萄糖测定）"]).await;
    let tube = |kind: &str| tubes.iter().find(|(t, _)| t.contains(kind)).unwrap().1.clone();
    let (serum, grey) = (tube("黄头管"), tube("灰头管"));
    let glu = |control: &str, value: &str, unit: &str| {
        oru(control, &grey, value, unit).replace("OBX|1|NM|K^钾^L", "OBX|1|NM|GLU^血糖^L")
    };
    let messages = [
        ("P1", oru("P1", &serum, "4.2", "mmol/L"), "AA"),
        ("P2", oru("P2", "999999999999", "4.0", "mmol/L"), "AE"),
        ("P3", glu("P3", "5.0", "mg/dL"), "AE"),
        ("P4", glu("P4", "5.0", "mmol/L"), "AA"),
        ("P1", oru("P1", &serum, "4.2", "mmol/L"), "AA"),
    ];
    let mut bytes = vec![];
    for (_, m, _) in &messages {
        bytes.push(0x0b);
        bytes.extend_from_slice(m.as_bytes());
        bytes.extend_from_slice(&[0x1c, 0x0d]);
    }
    let addr = t.server.as_ref().unwrap().mllp_addr.expect("MLLP is listening");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(&bytes).await.unwrap();
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while got.windows(2).filter(|w| w == &[0x1c, 0x0d]).count() < messages.len() {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the listener closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    let acks = String::from_utf8(got).unwrap();
    let acks: Vec<&str> = acks.split("\x1c\r").filter(|a| !a.is_empty()).collect();
    for ((control, _, code), ack) in messages.iter().zip(&acks) {
        assert!(ack.contains(&format!("MSA|{code}|{control}")), "{control} wants {code}: {ack}");
    }
    for (barcode, want) in [(&serum, "4.2"), (&grey, "5.0")] {
        let view = ok(lab.get(&format!("/api/lab/specimens/{barcode}")).await).await;
        let values: Vec<&str> =
            view["tests"][0]["results"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
        // K sent twice is stored once; GLU's refused unit stored nothing and the next message did.
        assert_eq!(values, [want], "{barcode}");
    }
}
