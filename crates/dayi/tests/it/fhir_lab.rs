//! FHIR R4 Observation and DiagnosticReport over HTTP, from lab results
//! made as the lab works: a visit orders a blood count, potassium, a urine
//! test and glucose; all are paid and drawn; a technician enters every
//! result and a second person verifies three tests (glucose stays
//! unverified); the critical potassium is then corrected and verified again.
//! Each kind of answer is also parsed by python's `fhir.resources` when it
//! is installed (`DAYI_REQUIRE_FHIR_CLIENT=1` makes that required).

use dayi_app::Actor;
use dayi_app::records::AuditFilter;
use dayi_core::timefmt::today_cst;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fhir::{encode, external_parse, fhir, fhir_python, token_for};
use crate::fhir_visit::{coding, link, read, search};
use crate::harness::{ORG, Session, TestApp};
use crate::queue::ok;
use crate::visit::{called_visit, code_of};

crate::on_both!(fhir_lab_read_and_search, fhir_lab_refusals_are_operation_outcomes);

const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

fn item_system() -> String {
    format!("https://dayi.org.cn/fhir/CodeSystem/lab-item/{ORG}")
}

fn panel_system() -> String {
    format!("https://dayi.org.cn/fhir/CodeSystem/lab-panel/{ORG}")
}

/// Enters results for a tube as the technician; `reason` for a correction.
pub(crate) async fn enter(lab: &Session, barcode: &str, results: &[(&str, &str)], reason: &str) {
    let results: Vec<Value> = results.iter().map(|(item, value)| json!({"item": item, "value": value})).collect();
    ok(lab.post_json("/api/lab/results", json!({"barcode": barcode, "results": results, "reason": reason})).await)
        .await;
}

/// The lab's view of a tube: its test's order id and the test.
pub(crate) async fn tube(lab: &Session, barcode: &str) -> (String, Value) {
    let view = ok(lab.get(&format!("/api/lab/specimens/{barcode}")).await).await;
    let test = view["tests"][0].clone();
    (test["test"]["order_id"].as_str().unwrap().to_string(), test)
}

/// The ids of a result line's results of one item.
pub(crate) fn result_id(lines: &Value, item: &str) -> String {
    let line = lines.as_array().unwrap().iter().find(|r| r["item_code"] == item).unwrap();
    line["id"].as_str().unwrap().to_string()
}

async fn fhir_lab_read_and_search(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let lab = t.as_user("lab01").await;
    let checker = t.as_user("lab02").await;
    let today = today_cst().to_string();
    let (vid, pid) = called_visit(t, 0).await;
    for name in ["血常规", "钾测定", "尿常规", "葡萄糖测定"] {
        let code = code_of(&doc, "charge_item", name).await;
        ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": code})).await).await;
    }
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "card", "key": "fhir-lab"});
    ok(cashier.post_json("/api/billing/pay", pay).await).await;
    let tubes = ok(lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await).await;
    let barcode = |tube: &str| -> String {
        let s = tubes.as_array().unwrap().iter().find(|s| s["tube"].as_str().unwrap().starts_with(tube)).unwrap();
        s["barcode"].as_str().unwrap().to_string()
    };
    let (purple, yellow, cup, grey) = (barcode("紫头管"), barcode("黄头管"), barcode("尿杯"), barcode("灰头管"));

    // Every result entered; three tests verified by a second person, glucose not.
    let cbc = [
        ("WBC", "6.2"),
        ("NEUT%", "60"),
        ("LYM%", "30"),
        ("RBC", "4.6"),
        ("HGB", "140"),
        ("HCT", "42"),
        ("MCV", "90"),
        ("MCH", "30"),
        ("MCHC", "330"),
        ("PLT", "200"),
    ];
    enter(&lab, &purple, &cbc, "").await;
    enter(&lab, &yellow, &[("K", "6.8")], "").await;
    let urine = [("PRO", "2+"), ("GLU-U", "阴性"), ("KET", "阴性"), ("BLD", "阴性")];
    enter(&lab, &cup, &urine, "").await;
    enter(&lab, &cup, &[("LEU", "阴性"), ("NIT", "阴性"), ("SG", "1.020"), ("PH", "6.0")], "").await;
    enter(&lab, &grey, &[("GLU", "5.0")], "").await;
    let (cbc_order, _) = tube(&lab, &purple).await;
    let (k_order, _) = tube(&lab, &yellow).await;
    let (ua_order, ua) = tube(&lab, &cup).await;
    let (glu_order, glu) = tube(&lab, &grey).await;
    for order in [&cbc_order, &k_order, &ua_order] {
        ok(checker.post_json(&format!("/api/lab/tests/{order}/verify"), json!({})).await).await;
    }
    // The critical potassium corrected, and verified again.
    enter(&lab, &yellow, &[("K", "4.2")], "标本溶血复测").await;
    ok(checker.post_json(&format!("/api/lab/tests/{k_order}/verify"), json!({})).await).await;
    let (_, k) = tube(&lab, &yellow).await;
    let (k_id, k_old) = (result_id(&k["results"], "K"), result_id(&k["history"], "K"));
    let glu_id = result_id(&glu["results"], "GLU");
    let pro_id = result_id(&ua["results"], "PRO");

    // The corrected potassium: its current version, in UCUM, judged normal.
    let o = read(&doc, &format!("/fhir/Observation/{k_id}")).await;
    assert_eq!((o["resourceType"].as_str(), o["status"].as_str()), (Some("Observation"), Some("corrected")));
    assert_eq!(o["category"][0]["coding"][0]["code"], "laboratory");
    assert_eq!(coding(&o["code"], LOINC)["code"], "2823-3");
    let ours = coding(&o["code"], &item_system());
    assert_eq!((ours["code"].as_str(), ours["display"].as_str()), (Some("K"), Some("钾")));
    assert_eq!(o["valueQuantity"], json!({ "value": 4.2, "unit": "mmol/L", "system": UCUM, "code": "mmol/L" }));
    assert_eq!(o["interpretation"][0]["coding"][0]["code"], "N");
    let range = &o["referenceRange"][0];
    assert_eq!((range["low"]["value"].as_f64(), range["high"]["value"].as_f64()), (Some(3.5), Some(5.3)));
    assert_eq!(range["text"], "3.5–5.3");
    assert_eq!(o["note"][0]["text"], "更正原因：标本溶血复测");
    assert_eq!(o["subject"]["reference"], format!("Patient/{pid}"));
    assert_eq!(o["encounter"]["reference"], format!("Encounter/{vid}"));
    assert_eq!(o["basedOn"][0]["reference"], format!("ServiceRequest/{k_order}"));
    assert_eq!(o["performer"][0]["display"], "孙审核");
    let tube_id = json!({ "system": format!("https://dayi.org.cn/fhir/sid/specimen/{ORG}"), "value": yellow });
    assert_eq!(o["specimen"]["identifier"], tube_id);
    for at in ["effectiveDateTime", "issued"] {
        let v = o[at].as_str().unwrap();
        assert!(v.starts_with(&today) && v.ends_with("+08:00"), "{at}: {v}");
    }
    // The ServiceRequest it is based on exists.
    assert_eq!(read(&doc, &format!("/fhir/ServiceRequest/{k_order}")).await["id"], k_order.as_str());

    // A blood count item in 10^9/L, and a text result of the urine test.
    let (_, wbc, _) = search(&doc, &format!("/fhir/Observation?patient={pid}&code=WBC")).await;
    let wbc = read(&doc, &format!("/fhir/Observation/{}", wbc[0])).await;
    assert_eq!(wbc["status"], "final");
    assert_eq!(coding(&wbc["code"], LOINC)["code"], "6690-2");
    assert_eq!(wbc["valueQuantity"], json!({ "value": 6.2, "unit": "10^9/L", "system": UCUM, "code": "10*9/L" }));
    let pro = read(&doc, &format!("/fhir/Observation/{pro_id}")).await;
    assert_eq!(pro["valueString"], "2+");
    assert!(pro.get("valueQuantity").is_none());
    assert_eq!(pro["interpretation"][0]["coding"][0]["code"], "A");
    assert_eq!(pro["interpretation"][0]["text"], "异常");
    assert_eq!(pro["referenceRange"], json!([{ "text": "阴性/-" }]));
    let (_, ket, _) = search(&doc, &format!("/fhir/Observation?encounter={vid}&code=KET")).await;
    let ket = read(&doc, &format!("/fhir/Observation/{}", ket[0])).await;
    assert_eq!(ket["code"]["coding"].as_array().unwrap().len(), 1, "no LOINC code in the catalogue: {ket}");

    // Unpublished: the retired version, and the unverified glucose.
    for id in [&k_old, &glu_id] {
        let (status, b) = fhir(doc.get(&format!("/fhir/Observation/{id}")).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")));
    }

    // Observation search: 10 + 1 + 8 published, newest first, narrowed every way.
    let mine = format!("/fhir/Observation?patient=Patient/{pid}");
    let (total, ids, all_bundle) = search(&doc, &mine).await;
    assert_eq!((total, ids.len()), (19, 19));
    assert_eq!(ids[0], k_id, "the correction is the newest");
    assert!(!ids.contains(&glu_id) && !ids.contains(&k_old));
    for (q, n) in [
        (format!("&code={}", encode(&format!("{LOINC}|2823-3"))), 1),
        ("&code=2823-3".into(), 1),
        (format!("&code={}", encode(&format!("{}|HGB", item_system()))), 1),
        (format!("&code={}", encode(&format!("{LOINC}|HGB"))), 0),
        ("&code=WBC,HGB,PLT".into(), 3),
        ("&category=laboratory".into(), 19),
        (format!("&category={}", encode("http://terminology.hl7.org/CodeSystem/observation-category|laboratory")), 19),
        ("&category=vital-signs".into(), 0),
        (format!("&date={today}"), 19),
        (format!("&date=lt{today}"), 0),
        ("&status=corrected".into(), 1),
        ("&status=final".into(), 18),
        ("&status=final,corrected".into(), 19),
        ("&status=preliminary".into(), 0),
        (format!("&_id={pro_id}"), 1),
        (format!("&_id={glu_id}"), 0),
    ] {
        assert_eq!(search(&doc, &format!("{mine}{q}")).await.0, n, "{q}");
    }
    assert_eq!(search(&doc, &format!("/fhir/Observation?encounter=Encounter/{vid}")).await.0, 19);
    assert_eq!(search(&doc, &format!("/fhir/Observation?_id={k_id}")).await.1, [k_id.as_str()]);
    assert_eq!(search(&doc, &format!("/fhir/Observation?patient={}", Uuid::now_v7())).await.0, 0);
    // A page at a time, every result once.
    let (total, mut seen, page1) = search(&doc, &format!("{mine}&_count=5")).await;
    assert_eq!((total, seen.len()), (19, 5));
    assert!(link(&page1, "previous").is_none());
    let mut next = link(&page1, "next");
    while let Some(path) = next {
        let (_, ids, page) = search(&doc, &path).await;
        seen.extend(ids);
        next = link(&page, "next");
    }
    assert_eq!(seen, ids, "the pages join up in order");

    // DiagnosticReports: the corrected potassium, and the blood count's results in the catalogue's order.
    let r = read(&doc, &format!("/fhir/DiagnosticReport/{k_order}")).await;
    assert_eq!((r["resourceType"].as_str(), r["status"].as_str()), (Some("DiagnosticReport"), Some("corrected")));
    let category = &r["category"][0]["coding"][0];
    assert_eq!(
        (category["system"].as_str(), category["code"].as_str()),
        (Some("http://terminology.hl7.org/CodeSystem/v2-0074"), Some("LAB"))
    );
    let panel = coding(&r["code"], &panel_system());
    assert_eq!((panel["code"].as_str(), panel["display"].as_str()), (Some("K"), Some("钾")));
    assert_eq!(
        r["result"],
        json!([{ "reference": format!("Observation/{k_id}"), "type": "Observation", "display": "钾 4.2 mmol/L" }])
    );
    assert_eq!(r["basedOn"][0]["reference"], format!("ServiceRequest/{k_order}"));
    assert_eq!(
        (r["subject"]["reference"].clone(), r["encounter"]["reference"].clone()),
        (json!(format!("Patient/{pid}")), json!(format!("Encounter/{vid}")))
    );
    assert_eq!(r["resultsInterpreter"][0]["display"], "孙审核");
    assert_eq!(r["specimen"][0]["identifier"], tube_id);
    assert!(r["effectiveDateTime"].as_str().unwrap().starts_with(&today), "{r}");
    assert!(r["issued"].as_str().unwrap() >= r["effectiveDateTime"].as_str().unwrap(), "{r}");
    let blood = read(&doc, &format!("/fhir/DiagnosticReport/{cbc_order}")).await;
    assert_eq!(blood["status"], "final");
    let refs = blood["result"].as_array().unwrap();
    assert_eq!(refs.len(), 10);
    assert_eq!(refs[0]["display"], "白细胞计数 6.2 10^9/L");
    assert_eq!(refs[9]["display"], "血小板计数 200 10^9/L");
    let observations: Vec<&str> =
        refs.iter().map(|x| x["reference"].as_str().unwrap().trim_start_matches("Observation/")).collect();
    let (_, blood_obs, _) =
        search(&doc, &format!("/fhir/Observation?patient={pid}&_id={}", observations.join(","))).await;
    assert_eq!(blood_obs.len(), 10, "each result reference is a published Observation");
    let (status, _) = fhir(doc.get(&format!("/fhir/DiagnosticReport/{glu_order}")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an unverified test is no report");

    // DiagnosticReport search
    let reports = format!("/fhir/DiagnosticReport?patient={pid}");
    let (total, ids, reports_bundle) = search(&doc, &reports).await;
    assert_eq!(total, 3);
    assert_eq!(ids[0], k_order, "the latest verified first");
    for (q, want) in [
        ("&code=CBC".to_string(), vec![cbc_order.clone()]),
        (format!("&code={}", encode(&format!("{}|UA", panel_system()))), vec![ua_order.clone()]),
        (format!("&code={}", encode(&format!("{LOINC}|58410-2"))), vec![]),
        ("&status=corrected".into(), vec![k_order.clone()]),
        (format!("&_id={glu_order}"), vec![]),
        (format!("&date=gt{today}"), vec![]),
        ("&category=RAD".into(), vec![]),
    ] {
        assert_eq!(search(&doc, &format!("{reports}{q}")).await.1, want, "{q}");
    }
    for q in ["&status=final", "&category=LAB", &format!("&date={today}")] {
        let n = search(&doc, &format!("{reports}{q}")).await.0;
        assert_eq!(n, if q == "&status=final" { 2 } else { 3 }, "{q}");
    }
    assert_eq!(search(&doc, &format!("/fhir/DiagnosticReport?encounter=Encounter/{vid}")).await.0, 3);
    let (_, two, page) = search(&doc, &format!("{reports}&_count=2")).await;
    assert_eq!(two.len(), 2);
    assert_eq!(search(&doc, &link(&page, "next").unwrap()).await.1.len(), 1);

    // A program with the doctor's token reads; the cashier, signed in or by token, does not.
    let doc_token = token_for(t, "doc01").await;
    let got = t.client().get(t.at(&format!("/fhir/Observation/{k_id}"))).bearer_auth(&doc_token).send().await.unwrap();
    assert_eq!(fhir(got).await.1, o);
    let cashier_token = token_for(t, "reg01").await;
    for path in [
        format!("/fhir/Observation/{k_id}"),
        format!("/fhir/Observation?patient={pid}"),
        format!("/fhir/DiagnosticReport/{k_order}"),
        format!("/fhir/DiagnosticReport?patient={pid}"),
    ] {
        let (status, b) = fhir(cashier.get(&path).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}");
        assert!(b["issue"][0]["diagnostics"].as_str().unwrap().contains("clinical"), "{b}");
        let r = t.client().get(t.at(&path)).bearer_auth(&cashier_token).send().await.unwrap();
        assert_eq!(fhir(r).await.0, StatusCode::FORBIDDEN, "{path} with the cashier's token");
    }

    // Every read and search is audited against the patient.
    let org = dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id;
    let patient = Uuid::parse_str(&pid).unwrap();
    for action in ["lab.observation.read", "lab.observation.search", "lab.report.read", "lab.report.search"] {
        let f = AuditFilter {
            actor_name: Some("doc01".into()),
            action_prefix: Some(action.into()),
            limit: 200,
            ..Default::default()
        };
        let rows = dayi_app::audit::search(&t.app, &Actor::cli(org), &f).await.unwrap();
        assert!(rows.iter().any(|r| r.patient_id == Some(patient)), "{action} by doc01 is audited");
        assert!(rows.iter().all(|r| r.patient_id.is_some()), "{action}: {rows:?}");
    }

    // An independent FHIR library reads every kind of answer.
    let Some(python) = fhir_python() else { return };
    let meta: Value = t.client().get(t.at("/fhir/metadata")).send().await.unwrap().json().await.unwrap();
    for (module, class, v) in [
        ("observation", "Observation", &o),
        ("observation", "Observation", &wbc),
        ("observation", "Observation", &pro),
        ("diagnosticreport", "DiagnosticReport", &r),
        ("diagnosticreport", "DiagnosticReport", &blood),
        ("bundle", "Bundle", &all_bundle),
        ("bundle", "Bundle", &page1),
        ("bundle", "Bundle", &reports_bundle),
        ("capabilitystatement", "CapabilityStatement", &meta),
    ] {
        external_parse(&python, module, class, v);
    }
}

async fn fhir_lab_refusals_are_operation_outcomes(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let pid = Uuid::now_v7();
    for (path, says) in [
        (format!("/fhir/Observation?patient={pid}&code={}", encode("http://snomed.info/sct|1")), "编码系统"),
        (format!("/fhir/DiagnosticReport?patient={pid}&code={}", encode("http://snomed.info/sct|1")), "编码系统"),
        (format!("/fhir/Observation?patient={pid}&status=done"), "corrected"),
        (format!("/fhir/Observation?patient={pid}&category={}", encode("http://x.org|laboratory")), "category"),
        (format!("/fhir/DiagnosticReport?patient={pid}&date=tomorrow"), "date"),
        (format!("/fhir/Observation?patient={pid}&date=ne2026-11-23"), "前缀"),
        (format!("/fhir/Observation?subject=Encounter/{pid}"), "Patient/{id}"),
        (format!("/fhir/Observation?patient={pid}&code:text=x"), "修饰符"),
    ] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {b}");
        assert_eq!(b["issue"][0]["code"], "invalid", "{path}");
        let diag = b["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(diag.starts_with("请求格式错误") && diag.contains(says), "{path}: {diag}");
    }
    for path in ["/fhir/Observation/abc".to_string(), format!("/fhir/DiagnosticReport/{pid}")] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not-found")), "{path}");
    }
    let r = t.client().get(t.at(&format!("/fhir/Observation?patient={pid}"))).send().await.unwrap();
    let (status, b) = fhir(r).await;
    assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("login")));

    // The capability statement lists both resources and their parameters.
    let (_, m) = fhir(t.client().get(t.at("/fhir/metadata")).send().await.unwrap()).await;
    let resources = m["rest"][0]["resource"].as_array().unwrap();
    for kind in ["Observation", "DiagnosticReport"] {
        let r = resources.iter().find(|r| r["type"] == kind).unwrap_or_else(|| panic!("{kind} in {m}"));
        let params: Vec<&str> =
            r["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(params, ["patient", "subject", "encounter", "_id", "code", "date", "category", "status"], "{kind}");
    }
}
