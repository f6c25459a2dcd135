//! Unscoped FHIR searches, as generic clients send them (`GET /fhir/{Type}`,
//! `?_count=N`): every type answers a searchset paged by keyset, whose
//! `next` links walk every record once, in a stable order, also when
//! records are added between pages. A search that only narrows (no
//! selecting parameter) is refused as `too-costly`, and the
//! CapabilityStatement says which parameters are required.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fhir::{RESIDENT_ID, fhir};
use crate::fhir_lab::{enter, tube};
use crate::fhir_visit::{link, read, search};
use crate::harness::{Session, TestApp};
use crate::queue::ok;
use crate::visit::{called_visit, code_of};

crate::on_both!(every_type_walks_every_record_once, records_added_between_pages_are_walked_once);

/// Every type the server searches, with the page size a walk of it uses.
const TYPES: &[(&str, usize)] = &[
    ("Patient", 4),
    ("Schedule", 40),
    ("Slot", 200),
    ("Appointment", 2),
    ("Encounter", 1),
    ("Condition", 1),
    ("ServiceRequest", 1),
    ("MedicationRequest", 1),
    ("Observation", 3),
    ("DiagnosticReport", 1),
    ("CarePlan", 1),
    ("Practitioner", 4),
    ("PractitionerRole", 4),
    ("Organization", 3),
    ("Location", 2),
];

/// One searchset page: its total if it counted, and the ids of its matches.
async fn page(s: &Session, path: &str) -> (Option<u64>, Vec<String>, Value) {
    let b = read(s, path).await;
    assert_eq!((b["resourceType"].as_str(), b["type"].as_str()), (Some("Bundle"), Some("searchset")), "{path}");
    let matches = b["entry"].as_array().unwrap().iter().filter(|e| e["search"]["mode"] == "match");
    let ids = matches.map(|e| e["resource"]["id"].as_str().unwrap().to_string()).collect();
    (b["total"].as_u64(), ids, b)
}

/// Follows `next` from `first`: the first page's total, every match id in
/// the order walked, and the number of pages. Each page is checked against
/// the R4 schema and must not link back to a page it has seen; only the
/// first counts.
pub(crate) async fn walk(s: &Session, first: &str) -> (u64, Vec<String>, usize) {
    let (total, mut ids, mut b) = page(s, first).await;
    crate::fhir_schema::schema_check(&b);
    let mut pages = 1;
    let mut seen = BTreeSet::from([first.to_string()]);
    while let Some(next) = link(&b, "next") {
        assert!(seen.insert(next.clone()), "{next} comes round again");
        let (counted, more, p) = page(s, &next).await;
        crate::fhir_schema::schema_check(&p);
        assert!(!more.is_empty(), "a next link leads to an empty page: {next}");
        assert_eq!(counted, None, "only the first page counts: {next}");
        ids.extend(more);
        b = p;
        pages += 1;
    }
    (total.unwrap_or_else(|| panic!("the first page counts: {first}")), ids, pages)
}

fn once(kind: &str, ids: &[String]) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "{kind}: a record shown twice");
    set
}

/// One visit with two diagnoses, a drug and two lab tests verified, and
/// the patient enrolled for hypertension: one or more of each clinical type.
async fn clinical_records(t: &TestApp) -> String {
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let lab = t.as_user("lab01").await;
    let checker = t.as_user("lab02").await;
    let (vid, pid) = called_visit(t, 0).await;
    let at = |p: &str| format!("/api/visits/{vid}{p}");
    ok(doc.post_json(&at("/diagnoses"), json!({"diagnoses": [{"code": "J06.900"}, {"code": "J02.900"}]})).await).await;
    let amox = code_of(&doc, "drug", "阿莫西林胶囊").await;
    let drug = json!({"catalog": "drug", "code": amox, "dose": "0.5", "frequency": "tid", "days": "3"});
    ok(doc.post_json(&at("/orders"), drug).await).await;
    for name in ["血常规", "钾测定"] {
        let code = code_of(&doc, "charge_item", name).await;
        ok(doc.post_json(&at("/orders"), json!({"code": code})).await).await;
    }
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "cash",
                     "tendered": "1000", "key": "walk"});
    ok(cashier.post_json("/api/billing/pay", pay).await).await;
    let tubes = ok(lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await).await;
    for t in tubes.as_array().unwrap() {
        let barcode = t["barcode"].as_str().unwrap();
        let results: &[(&str, &str)] = match t["tube"].as_str().unwrap() {
            x if x.starts_with("紫头管") => &[
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
            ],
            _ => &[("K", "4.1")],
        };
        enter(&lab, barcode, results, "").await;
        let (order, _) = tube(&lab, barcode).await;
        ok(checker.post_json(&format!("/api/lab/tests/{order}/verify"), json!({})).await).await;
    }
    crate::chronic::enrol(&doc, &pid, "htn", "doc01", "东村").await;
    pid
}

async fn every_type_walks_every_record_once(t: &TestApp) {
    let pid = clinical_records(t).await;
    let doc = t.as_user("doc01").await;
    for (kind, count) in TYPES {
        let (total, ids, pages) = walk(&doc, &format!("/fhir/{kind}?_count={count}")).await;
        let walked = once(kind, &ids);
        assert!(!ids.is_empty(), "{kind}: the walk shows nothing to check");
        assert_eq!(ids.len() as u64, total, "{kind}: the walk's records and the first page's total");
        assert_eq!(pages, ids.len().div_ceil(*count), "{kind}: full pages but the last");
        // the same records, whatever the page size, in the same order
        let (_, again, _) = walk(&doc, &format!("/fhir/{kind}?_count=200")).await;
        assert_eq!(again, ids, "{kind}: the order is stable");
        // a bare search is the same walk, with the default page
        let (bare, first, _) = search(&doc, &format!("/fhir/{kind}")).await;
        assert_eq!(bare, total, "{kind}");
        assert_eq!(first[..], ids[..first.len()], "{kind}");
        let (count_only, none, _) = search(&doc, &format!("/fhir/{kind}?_summary=count")).await;
        assert_eq!((count_only, none.len()), (total, 0), "{kind}: _summary=count");
        // what a search by the patient finds, the walk shows too
        if matches!(*kind, "Appointment" | "Encounter" | "Condition" | "ServiceRequest" | "MedicationRequest")
            || matches!(*kind, "Observation" | "DiagnosticReport" | "CarePlan")
        {
            let (_, mine, _) = search(&doc, &format!("/fhir/{kind}?patient={pid}&_count=200")).await;
            assert!(!mine.is_empty() && mine.iter().all(|id| walked.contains(id)), "{kind}: {mine:?} in {ids:?}");
        }
    }

    // the patients walked are the organisation's, and each reads back
    let (_, patients, _) = walk(&doc, "/fhir/Patient?_count=5").await;
    assert!(patients.contains(&pid));
    read(&doc, &format!("/fhir/Patient/{}", patients[patients.len() - 1])).await;

    // a cursor is the walk's own: with a selection, or malformed, it is refused
    let (_, _, b) = search(&doc, "/fhir/Patient?_count=2").await;
    let next = link(&b, "next").unwrap();
    let cursor = next.split("_cursor=").nth(1).unwrap().to_string();
    for path in [
        format!("/fhir/Patient?name=%E5%BC%A0&_cursor={cursor}"),
        "/fhir/Patient?_cursor=x".into(),
        "/fhir/Slot?_cursor=1-2".into(),
    ] {
        let (status, b) = fhir(doc.get(&path).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid")), "{path}: {b}");
    }

    // narrowing alone would read every record for each page: too costly, with what to add
    for (path, needs) in [
        ("/fhir/Patient?gender=male", "name、identifier 或 phone"),
        ("/fhir/Patient?birthdate=1958-03-12&gender=male", "name、identifier 或 phone"),
        ("/fhir/Encounter?status=finished", "patient"),
        ("/fhir/Condition?code=J06.900", "encounter"),
        ("/fhir/Observation?code=K", "patient"),
        ("/fhir/DiagnosticReport?status=final", "patient"),
        ("/fhir/MedicationRequest?status=active", "patient"),
        ("/fhir/CarePlan?status=active", "patient"),
        ("/fhir/Slot?status=free", "schedule"),
        ("/fhir/Appointment?status=booked", "patient"),
    ] {
        let (status, b) = fhir(doc.get(path).await).await;
        assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("too-costly")), "{path}");
        let diag = b["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(diag.contains(needs) && diag.contains("search.too_costly"), "{path}: {diag}");
    }

    // the statement says what is required, type by type
    let (_, m) = fhir(t.client().get(t.at("/fhir/metadata")).send().await.unwrap()).await;
    crate::fhir_schema::schema_check(&m);
    for r in m["rest"][0]["resource"].as_array().unwrap() {
        let kind = r["type"].as_str().unwrap();
        assert!(TYPES.iter().any(|(k, _)| *k == kind), "{kind} is searched but not walked here");
        assert!(r["documentation"].as_str().unwrap().contains("_cursor"), "{kind}: {}", r["documentation"]);
    }
    let patient = &m["rest"][0]["resource"][0];
    let combos: Vec<Vec<&str>> = patient["extension"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["url"] == "http://hl7.org/fhir/StructureDefinition/capabilitystatement-search-parameter-combination"
        })
        .map(|e| {
            let parts = e["extension"].as_array().unwrap();
            parts.iter().filter(|p| p["url"] == "required").map(|p| p["valueString"].as_str().unwrap()).collect()
        })
        .collect();
    assert_eq!(combos, [vec!["identifier"], vec!["name"], vec!["phone"]]);
    let gender = patient["searchParam"].as_array().unwrap().iter().find(|p| p["name"] == "gender").unwrap();
    assert!(gender["documentation"].as_str().unwrap().contains("须与"), "{gender}");
}

async fn records_added_between_pages_are_walked_once(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let (total, mut ids, b) = search(&reg, "/fhir/Patient?_count=5").await;
    assert_eq!(ids.len(), 5);
    let mut next = link(&b, "next");
    let mut added = vec![];
    for (i, seq) in [501, 503].iter().enumerate() {
        let number = dayi_core::identity::make_resident_id("370830", time::macros::date!(1975 - 01 - 02), *seq);
        let p = json!({
            "resourceType": "Patient",
            "identifier": [{ "system": RESIDENT_ID, "value": number }],
            "name": [{ "text": format!("新增{}", ["甲", "乙"][i]) }],
            "gender": "male",
            "birthDate": "1975-01-02",
        });
        let r = reg
            .client
            .post(format!("{}/fhir/Patient", reg.base))
            .header("x-csrf-token", &reg.csrf)
            .header("content-type", "application/fhir+json")
            .body(p.to_string())
            .send()
            .await
            .unwrap();
        let (status, created) = fhir(r).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        added.push(created["id"].as_str().unwrap().to_string());
    }
    while let Some(path) = next {
        let (_, more, b) = page(&reg, &path).await;
        ids.extend(more);
        next = link(&b, "next");
    }
    let walked = once("Patient", &ids);
    assert_eq!(ids.len() as u64, total + 2, "the two added later are walked too");
    assert!(added.iter().all(|a| walked.contains(a)));
    assert_eq!(ids[ids.len() - 2..], added[..], "new records come last");
    let (now, _, _) = search(&reg, "/fhir/Patient?_summary=count").await;
    assert_eq!(now, total + 2);
}
