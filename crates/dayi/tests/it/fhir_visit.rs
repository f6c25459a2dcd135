//! FHIR R4 Encounter, Condition, ServiceRequest and MedicationRequest over
//! HTTP, mapped from a visit built through the API as a doctor works: a
//! record, three diagnoses (TCM first, so the primary is not the first
//! written), a drug, a lab test, an ECG and a TCM technique; the ECG
//! cancelled, the rest paid, the drug dispensed and the lab test refunded.
//! Each kind of answer is also parsed by python's `fhir.resources` when it
//! is installed (`DAYI_REQUIRE_FHIR_CLIENT=1` makes that required).

use dayi_app::Actor;
use dayi_app::records::AuditFilter;
use dayi_core::timefmt::today_cst;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fhir::{encode, external_parse, fhir, fhir_python, token_for};
use crate::harness::{ORG, Session, TestApp};
use crate::queue::ok;
use crate::visit::{called_visit, code_of};

crate::on_both!(fhir_visit_read_and_search, fhir_visit_refusals_are_operation_outcomes);

const CS: &str = "https://dayi.org.cn/fhir/CodeSystem";
const UCUM: &str = "http://unitsofmeasure.org";
const EXT_ORDER_STATUS: &str = "https://dayi.org.cn/fhir/StructureDefinition/order-status";

/// A FHIR read that must succeed.
pub(crate) async fn read(s: &Session, path: &str) -> Value {
    let (status, b) = fhir(s.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {b}");
    b
}

/// A searchset's total, the ids of its matches, and the bundle.
pub(crate) async fn search(s: &Session, path: &str) -> (u64, Vec<String>, Value) {
    let b = read(s, path).await;
    assert_eq!((b["resourceType"].as_str(), b["type"].as_str()), (Some("Bundle"), Some("searchset")), "{path}");
    let ids = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    (b["total"].as_u64().unwrap(), ids, b)
}

/// A bundle's link of this relation, as a path on the server.
pub(crate) fn link(b: &Value, relation: &str) -> Option<String> {
    let l = b["link"].as_array().unwrap().iter().find(|l| l["relation"] == relation)?;
    let url = l["url"].as_str().unwrap();
    Some(url[url.find("/fhir/").unwrap()..].to_string())
}

/// A catalogue item's insurance code.
async fn insurance_code(s: &Session, kind: &str, code: &str) -> String {
    let v = ok(s.get(&format!("/api/catalog?kind={kind}&q={code}")).await).await;
    let hit = v.as_array().unwrap().iter().find(|i| i["code"] == code).unwrap();
    hit["insurance_code"].as_str().unwrap().to_string()
}

pub(crate) fn coding<'a>(concept: &'a Value, system: &str) -> &'a Value {
    let codings = concept["coding"].as_array().unwrap_or_else(|| panic!("no coding: {concept}"));
    codings.iter().find(|c| c["system"] == system).unwrap_or_else(|| panic!("{system} in {concept}"))
}

async fn fhir_visit_read_and_search(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let (vid, pid) = called_visit(t, 0).await;
    let at = |p: &str| format!("/api/visits/{vid}{p}");
    let today = today_cst().to_string();

    // the visit, as the doctor writes it
    let rec = json!({"chief_complaint": "咽痛发热2天", "present_illness": "受凉后咽痛", "allergies": ""});
    ok(doc.post_json(&at("/record"), rec).await).await;
    let tcm = code_of(&doc, "tcm", "感冒").await;
    let dx = json!({"diagnoses": [{"kind": "tcm", "code": tcm}, {"code": "J06.900"}, {"code": "J02.900"}]});
    ok(doc.post_json(&at("/diagnoses"), dx).await).await;
    let amox = code_of(&doc, "drug", "阿莫西林胶囊").await;
    let drug =
        json!({"catalog": "drug", "code": amox, "dose": "0.5", "frequency": "tid", "days": "3", "note": "饭后服"});
    let drug = ok(doc.post_json(&at("/orders"), drug).await).await["order"].clone();
    let cbc = code_of(&doc, "charge_item", "血常规").await;
    let lab = ok(doc.post_json(&at("/orders"), json!({"code": cbc})).await).await["order"].clone();
    let ecg = code_of(&doc, "charge_item", "常规心电图").await;
    let ecg = ok(doc.post_json(&at("/orders"), json!({"code": ecg})).await).await["order"].clone();
    let patch = code_of(&doc, "technique", "贴敷疗法").await;
    let patch =
        ok(doc.post_json(&at("/orders"), json!({"catalog": "technique", "code": patch})).await).await["order"].clone();
    let id_of = |o: &Value| o["id"].as_str().unwrap().to_string();
    ok(doc.post_json(&at(&format!("/orders/{}/cancel", id_of(&ecg))), json!({})).await).await;

    // while the visit is open: in progress, no end
    let open = read(&doc, &format!("/fhir/Encounter/{vid}")).await;
    assert_eq!(open["status"], "in-progress");
    assert!(open["period"]["start"].as_str().unwrap().ends_with("+08:00") && open["period"].get("end").is_none());

    // finished, paid at the counter, the drug dispensed and the lab test refunded
    let v = ok(doc.post_json(&at("/finish"), json!({})).await).await;
    let booking = v["visit"]["booking_id"].as_str().unwrap().to_string();
    let doctor = v["visit"]["doctor_name"].as_str().unwrap().to_string();
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let charges: Vec<Value> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": charges, "expected_fen": due["total_fen"], "method": "cash",
                     "tendered": "1000", "key": "fhir-visit"});
    let paid = ok(cashier.post_json("/api/billing/pay", pay).await).await;
    ok(doc.post_json(&at(&format!("/orders/{}/execute", id_of(&drug))), json!({})).await).await;
    let lab_charge = paid["charges"].as_array().unwrap().iter().find(|c| c["order_id"] == lab["id"]).unwrap();
    let refund =
        json!({"payment_id": paid["payment"]["id"], "charge_ids": [lab_charge["id"]], "reason": "未检查", "key": "r"});
    ok(cashier.post_json("/api/billing/refund", refund).await).await;

    // the Encounter
    let e = read(&doc, &format!("/fhir/Encounter/{vid}")).await;
    assert_eq!((e["resourceType"].as_str(), e["id"].as_str()), (Some("Encounter"), Some(vid.as_str())));
    assert_eq!(e["status"], "finished");
    assert_eq!(e["class"]["code"], "AMB");
    assert_eq!(e["class"]["system"], "http://terminology.hl7.org/CodeSystem/v3-ActCode");
    assert_eq!(e["subject"]["reference"], format!("Patient/{pid}"));
    assert_eq!(e["participant"][0]["individual"]["display"], doctor.as_str());
    assert_eq!(e["participant"][0]["type"][0]["coding"][0]["code"], "ATND");
    let dept = json!({ "system": format!("https://dayi.org.cn/fhir/sid/dept/{ORG}"), "value": "03" });
    assert_eq!(e["serviceProvider"]["identifier"], dept);
    assert!(e["serviceProvider"]["display"].as_str().unwrap().contains("内科"), "{e}");
    assert!(e["period"]["start"].as_str().unwrap().starts_with(&today), "{e}");
    assert!(e["period"]["end"].as_str().unwrap().ends_with("+08:00"), "{e}");
    assert_eq!(e["appointment"], json!([{ "reference": format!("Appointment/{booking}") }]));
    assert_eq!(read(&doc, &format!("/fhir/Appointment/{booking}")).await["status"], "arrived");
    assert_eq!(e["reasonCode"][0]["text"], "咽痛发热2天");
    // the primary diagnosis ranks first though the doctor wrote it second
    let ranked: Vec<(String, u64)> = e["diagnosis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["condition"]["reference"].as_str().unwrap().to_string(), d["rank"].as_u64().unwrap()))
        .collect();
    let cond = |seq: u64| format!("Condition/{vid}-{seq}");
    assert_eq!(ranked, [(cond(2), 1), (cond(1), 2), (cond(3), 3)]);
    assert_eq!(e["diagnosis"][0]["condition"]["display"], "急性上呼吸道感染");

    // the Conditions: ICD-10 clinical edition with the insurance code, and TCM
    let primary = read(&doc, &format!("/fhir/Condition/{vid}-2")).await;
    assert_eq!(primary["resourceType"], "Condition");
    let icd = coding(&primary["code"], &format!("{CS}/icd-10-cn-clinical-2.0"));
    assert_eq!((icd["code"].as_str(), icd["display"].as_str()), (Some("J06.900"), Some("急性上呼吸道感染")));
    assert_eq!(coding(&primary["code"], &format!("{CS}/icd-10-cn-nhsa-2.0"))["code"], "J06.900");
    assert_eq!(primary["category"][0]["coding"][0]["code"], "encounter-diagnosis");
    assert_eq!(primary["clinicalStatus"]["coding"][0]["code"], "active");
    assert_eq!(primary["verificationStatus"]["coding"][0]["code"], "confirmed");
    assert_eq!(primary["subject"]["reference"], format!("Patient/{pid}"));
    assert_eq!(primary["encounter"]["reference"], format!("Encounter/{vid}"));
    assert!(primary["recordedDate"].as_str().unwrap().starts_with(&today), "{primary}");
    let herbal = read(&doc, &format!("/fhir/Condition/{vid}-1")).await;
    assert_eq!(herbal["code"]["coding"].as_array().unwrap().len(), 1, "TCM has no insurance edition code");
    assert_eq!(coding(&herbal["code"], &format!("{CS}/gb-t-15657"))["code"], tcm.as_str());

    // Condition search: by patient, code and encounter, a page at a time
    let (total, ids, _) = search(&doc, &format!("/fhir/Condition?patient=Patient/{pid}")).await;
    assert_eq!((total, ids.len()), (3, 3));
    let by_code = |q: &str| format!("/fhir/Condition?subject={pid}&code={}", encode(q));
    assert_eq!(search(&doc, &by_code("J06.900")).await.1, [format!("{vid}-2")]);
    assert_eq!(search(&doc, &by_code(&format!("{CS}/icd-10-cn-clinical-2.0|J06.900"))).await.0, 1);
    assert_eq!(search(&doc, &by_code(&format!("{CS}/icd-10-cn-nhsa-2.0|J02.900"))).await.0, 1);
    assert_eq!(search(&doc, &by_code(&format!("{CS}/gb-t-15657|J06.900"))).await.0, 0);
    assert_eq!(search(&doc, &by_code(&format!("J06.900,{tcm}"))).await.0, 2);
    let q = format!("/fhir/Condition?patient={pid}&clinical-status=resolved");
    assert_eq!(search(&doc, &q).await.0, 0);
    let (total, first, page1) = search(&doc, &format!("/fhir/Condition?encounter=Encounter/{vid}&_count=2")).await;
    assert_eq!((total, first.len()), (3, 2));
    assert!(link(&page1, "previous").is_none());
    let (total, rest, page2) = search(&doc, &link(&page1, "next").unwrap()).await;
    assert_eq!((total, rest.len()), (3, 1));
    assert!(link(&page2, "next").is_none() && link(&page2, "previous").is_some(), "{page2}");
    let mut all: Vec<String> = first.into_iter().chain(rest).collect();
    all.sort();
    assert_eq!(all, [format!("{vid}-1"), format!("{vid}-2"), format!("{vid}-3")]);
    assert_eq!(search(&doc, &format!("/fhir/Condition?_id={vid}-3")).await.1, [format!("{vid}-3")]);

    // ServiceRequests: the lab test refunded, the ECG cancelled, the technique paid
    let sr = read(&doc, &format!("/fhir/ServiceRequest/{}", id_of(&lab))).await;
    assert_eq!((sr["resourceType"].as_str(), sr["status"].as_str()), (Some("ServiceRequest"), Some("revoked")));
    assert_eq!(sr["intent"], "order");
    assert_eq!(sr["extension"][0]["url"], EXT_ORDER_STATUS);
    assert_eq!(sr["extension"][0]["valueCoding"]["code"], "refunded");
    assert_eq!(sr["category"][0]["coding"][0]["code"], "lab");
    assert_eq!(sr["category"][0]["coding"][0]["display"], "检验");
    assert_eq!(coding(&sr["code"], &format!("{CS}/medical-service-item"))["code"], cbc.as_str());
    let cbc_insurance = insurance_code(&doc, "charge_item", &cbc).await;
    assert_eq!(coding(&sr["code"], &format!("{CS}/nhsa-service-item"))["code"], cbc_insurance.as_str());
    assert_eq!(sr["encounter"]["reference"], format!("Encounter/{vid}"));
    assert_eq!(sr["requester"]["display"], doctor.as_str());
    let services = format!("/fhir/ServiceRequest?patient=Patient/{pid}");
    let (total, ids, services_bundle) = search(&doc, &services).await;
    assert_eq!(total, 3);
    assert!(!ids.contains(&id_of(&drug)), "a drug is a MedicationRequest");
    let (_, revoked, _) = search(&doc, &format!("{services}&status=revoked")).await;
    assert_eq!(revoked.len(), 2);
    assert!(revoked.contains(&id_of(&ecg)) && revoked.contains(&id_of(&lab)));
    assert_eq!(search(&doc, &format!("{services}&status=active")).await.1, [id_of(&patch)]);
    let technique = read(&doc, &format!("/fhir/ServiceRequest/{}", id_of(&patch))).await;
    assert_eq!(technique["extension"][0]["valueCoding"]["code"], "paid");
    assert_eq!(search(&doc, &format!("{services}&code={cbc}")).await.1, [id_of(&lab)]);

    // the MedicationRequest: dose, timing, route, days and packs
    let mr = read(&doc, &format!("/fhir/MedicationRequest/{}", id_of(&drug))).await;
    assert_eq!((mr["resourceType"].as_str(), mr["status"].as_str()), (Some("MedicationRequest"), Some("completed")));
    let med = &mr["medicationCodeableConcept"];
    assert_eq!(coding(med, &format!("{CS}/drug/{ORG}"))["code"], amox.as_str());
    let amox_insurance = insurance_code(&doc, "drug", &amox).await;
    assert_eq!(coding(med, &format!("{CS}/nhsa-drug"))["code"], amox_insurance.as_str());
    let dosage = &mr["dosageInstruction"][0];
    let dose = &dosage["doseAndRate"][0]["doseQuantity"];
    assert_eq!(*dose, json!({ "value": 0.5, "unit": "g", "system": UCUM, "code": "g" }));
    let repeat = &dosage["timing"]["repeat"];
    assert_eq!((repeat["frequency"].as_u64(), repeat["period"].as_u64()), (Some(3), Some(1)));
    assert_eq!(repeat["periodUnit"], "d");
    assert_eq!(repeat["boundsDuration"], json!({ "value": 3, "unit": "天", "system": UCUM, "code": "d" }));
    assert_eq!(dosage["timing"]["code"]["coding"][0]["code"], "tid");
    assert_eq!(dosage["route"]["text"], "口服");
    let quantity = drug["quantity"].as_i64().unwrap();
    assert_eq!(mr["dispenseRequest"]["quantity"], json!({ "value": quantity, "unit": "盒" }));
    assert_eq!(mr["dispenseRequest"]["expectedSupplyDuration"]["value"], 3);
    assert_eq!(mr["note"][0]["text"], "饭后服");
    let drugs = format!("/fhir/MedicationRequest?encounter={vid}");
    let (total, ids, drugs_bundle) = search(&doc, &drugs).await;
    assert_eq!((total, ids), (1, vec![id_of(&drug)]));
    assert_eq!(drugs_bundle["entry"][0]["resource"], mr);
    assert_eq!(search(&doc, &format!("{drugs}&status=completed")).await.0, 1);
    assert_eq!(search(&doc, &format!("{drugs}&status=active,cancelled")).await.0, 0);
    assert_eq!(search(&doc, &format!("{drugs}&code={}", encode(&format!("{CS}/drug/{ORG}|{amox}")))).await.0, 1);
    assert_eq!(search(&doc, &format!("{drugs}&code={cbc}")).await.0, 0);

    // Encounter search: by patient, status, day and id
    let mine = format!("/fhir/Encounter?patient=Patient/{pid}");
    let (total, ids, encounters) = search(&doc, &mine).await;
    assert_eq!((total, ids), (1, vec![vid.clone()]));
    assert_eq!(encounters["entry"][0]["resource"], e);
    let full = encounters["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(full.starts_with("http://") && full.ends_with(&format!("/fhir/Encounter/{vid}")), "{full}");
    for (q, n) in [
        ("&status=finished".to_string(), 1),
        ("&status=in-progress".into(), 0),
        (format!("&date={today}"), 1),
        (format!("&date=ge{today}&date=le{today}"), 1),
        (format!("&date=lt{today}"), 0),
        (format!("&_id={vid}"), 1),
        (format!("&_id={}", Uuid::now_v7()), 0),
        ("&_count=0".into(), 0),
    ] {
        assert_eq!(search(&doc, &format!("{mine}{q}")).await.1.len(), n, "{q}");
    }
    assert_eq!(search(&doc, &format!("/fhir/Encounter?_id={vid}")).await.0, 1);

    // a program with the doctor's token reads; the cashier, signed in or by token, does not
    let doc_token = token_for(t, "doc01").await;
    let r = t.client().get(t.at(&format!("/fhir/Encounter/{vid}"))).bearer_auth(&doc_token).send().await.unwrap();
    assert_eq!(fhir(r).await.1, e);
    let cashier_token = token_for(t, "reg01").await;
    for path in [
        format!("/fhir/Encounter/{vid}"),
        format!("/fhir/Encounter?patient={pid}"),
        format!("/fhir/Condition/{vid}-1"),
        format!("/fhir/ServiceRequest?patient={pid}"),
        format!("/fhir/MedicationRequest/{}", id_of(&drug)),
    ] {
        let (status, b) = fhir(cashier.get(&path).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}");
        assert!(b["issue"][0]["diagnostics"].as_str().unwrap().contains("clinical"), "{b}");
        let r = t.client().get(t.at(&path)).bearer_auth(&cashier_token).send().await.unwrap();
        assert_eq!(fhir(r).await.0, StatusCode::FORBIDDEN, "{path} with the cashier's token");
    }

    // every read and search is audited against the patient
    let org = dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id;
    let patient = Uuid::parse_str(&pid).unwrap();
    for action in ["visit.read", "visit.search", "diagnosis.read", "diagnosis.search", "order.read", "order.search"] {
        let f = AuditFilter {
            actor_name: Some("doc01".into()),
            action_prefix: Some(action.into()),
            limit: 100,
            ..Default::default()
        };
        let rows = dayi_app::audit::search(&t.app, &Actor::cli(org), &f).await.unwrap();
        assert!(!rows.is_empty(), "{action} by doc01 is audited");
        assert!(rows.iter().all(|r| r.patient_id == Some(patient)), "{action}: {rows:?}");
    }

    // an independent FHIR library reads every kind of answer
    let Some(python) = fhir_python() else { return };
    let meta: Value = t.client().get(t.at("/fhir/metadata")).send().await.unwrap().json().await.unwrap();
    for (module, class, v) in [
        ("encounter", "Encounter", &e),
        ("encounter", "Encounter", &open),
        ("condition", "Condition", &primary),
        ("condition", "Condition", &herbal),
        ("servicerequest", "ServiceRequest", &sr),
        ("servicerequest", "ServiceRequest", &technique),
        ("medicationrequest", "MedicationRequest", &mr),
        ("bundle", "Bundle", &encounters),
        ("bundle", "Bundle", &page1),
        ("bundle", "Bundle", &services_bundle),
        ("bundle", "Bundle", &drugs_bundle),
        ("capabilitystatement", "CapabilityStatement", &meta),
    ] {
        external_parse(&python, module, class, v);
    }
}

async fn fhir_visit_refusals_are_operation_outcomes(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let issue = |b: &Value| {
        assert_eq!(b["resourceType"], "OperationOutcome", "{b}");
        (
            b["issue"][0]["code"].as_str().unwrap().to_string(),
            b["issue"][0]["diagnostics"].as_str().unwrap().to_string(),
        )
    };
    let (vid, pid) = called_visit(t, 1).await;
    let ecg = code_of(&doc, "charge_item", "常规心电图").await;
    let order = ok(doc.post_json(&format!("/api/visits/{vid}/orders"), json!({"code": ecg})).await).await;
    let oid = order["order"]["id"].as_str().unwrap().to_string();
    let nobody = Uuid::now_v7();

    // unknown records, and a record asked for as the wrong resource
    for path in [
        format!("/fhir/Encounter/{nobody}"),
        "/fhir/Encounter/abc".into(),
        format!("/fhir/Condition/{vid}-1"),
        format!("/fhir/Condition/{nobody}-1"),
        format!("/fhir/Condition/{vid}"),
        format!("/fhir/ServiceRequest/{nobody}"),
        format!("/fhir/MedicationRequest/{oid}"),
        "/fhir/MedicationRequest/abc".into(),
    ] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!((status, issue(&b).0.as_str()), (StatusCode::NOT_FOUND, "not-found"), "{path}: {b}");
    }
    // nothing of a patient without visits, nor a visit without diagnoses
    assert_eq!(search(&doc, &format!("/fhir/Encounter?patient=Patient/{nobody}")).await.0, 0);
    assert_eq!(search(&doc, &format!("/fhir/Condition?encounter=Encounter/{vid}")).await.0, 0);
    let (total, ids, _) = search(&doc, &format!("/fhir/ServiceRequest?_id={oid}")).await;
    assert_eq!((total, ids), (1, vec![oid.clone()]));
    assert_eq!(search(&doc, &format!("/fhir/MedicationRequest?_id={oid}")).await.0, 0);

    // parameters refused with the reason in Chinese
    for (path, says) in [
        (format!("/fhir/Encounter?patient={pid}&status=done"), "status"),
        (format!("/fhir/Encounter?patient={pid}&date=tomorrow"), "date"),
        (format!("/fhir/Encounter?patient={pid}&date=ne2026-11-23"), "前缀"),
        (format!("/fhir/Encounter?patient=Encounter/{vid}"), "Patient/{id}"),
        (format!("/fhir/Condition?patient={pid}&code={}", encode("http://hl7.org/fhir/sid/icd-10|J06.9")), "编码系统"),
        (format!("/fhir/Condition?patient={pid}&clinical-status=gone"), "clinical-status"),
        (format!("/fhir/ServiceRequest?patient={pid}&status=cancelled"), "revoked"),
        (format!("/fhir/MedicationRequest?patient={pid}&status=revoked"), "cancelled"),
        (format!("/fhir/MedicationRequest?patient={pid}&_offset=x"), "_offset"),
        (format!("/fhir/MedicationRequest?patient={pid}&_count=-1"), "_count"),
        (format!("/fhir/ServiceRequest?patient={pid}&code:text=x"), "修饰符"),
    ] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {b}");
        let (code, diag) = issue(&b);
        assert_eq!(code, "invalid", "{path}");
        assert!(diag.starts_with("请求格式错误") && diag.contains(says), "{path}: {diag}");
    }

    // anonymous callers sign in first
    let r = t.client().get(t.at(&format!("/fhir/Encounter/{vid}"))).send().await.unwrap();
    let (status, b) = fhir(r).await;
    assert_eq!((status, issue(&b).0.as_str()), (StatusCode::UNAUTHORIZED, "login"));

    // the capability statement lists the four resources and their parameters
    let (_, m) = fhir(t.client().get(t.at("/fhir/metadata")).send().await.unwrap()).await;
    let resources = m["rest"][0]["resource"].as_array().unwrap();
    for (kind, want) in [
        ("Encounter", &["patient", "subject", "_id", "status", "date"][..]),
        ("Condition", &["patient", "subject", "encounter", "_id", "code", "clinical-status"]),
        ("ServiceRequest", &["patient", "subject", "encounter", "_id", "status", "code"]),
        ("MedicationRequest", &["patient", "subject", "encounter", "_id", "status", "code"]),
    ] {
        let r = resources.iter().find(|r| r["type"] == kind).unwrap_or_else(|| panic!("{kind} in {m}"));
        let params: Vec<&str> =
            r["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(params, want, "{kind}");
        let interactions: Vec<&str> =
            r["interaction"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
        assert_eq!(interactions, ["read", "search-type"], "{kind}");
    }

    let Some(python) = fhir_python() else { return };
    let (_, outcome) = fhir(doc.get("/fhir/Encounter?status=finished").await).await;
    external_parse(&python, "operationoutcome", "OperationOutcome", &outcome);
}
