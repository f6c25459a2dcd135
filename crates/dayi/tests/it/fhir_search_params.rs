//! What every FHIR search shares: `_summary=count`, `_include`, unknown
//! parameters dropped with a warning (or refused under
//! `Prefer: handling=strict`), and Patient paging with `_lastUpdated`.

use dayi_core::timefmt::today_cst;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fhir::{encode, external_parse, fhir, fhir_python, ouyang};
use crate::fhir_visit::{link, read, search};
use crate::harness::TestApp;
use crate::queue::ok;
use crate::visit::called_visit;

crate::on_both!(fhir_search_result_parameters);

fn outcome_of(b: &Value) -> Option<String> {
    let entries = b["entry"].as_array()?;
    let e = entries.iter().find(|e| e["search"]["mode"] == "outcome")?;
    e["resource"]["issue"][0]["diagnostics"].as_str().map(String::from)
}

async fn fhir_search_result_parameters(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let (vid, pid) = called_visit(t, 0).await;
    let dx = json!({"diagnoses": [{"code": "J06.900"}, {"code": "J02.900"}]});
    ok(doc.post_json(&format!("/api/visits/{vid}/diagnoses"), dx).await).await;
    let by_patient = format!("patient={}", encode(&format!("Patient/{pid}")));

    // _summary=count: the total alone, marked as a subset
    let (total, ids, full) = search(&doc, &format!("/fhir/Condition?{by_patient}")).await;
    assert_eq!((total, ids.len()), (2, 2));
    let (total, ids, counted) = search(&doc, &format!("/fhir/Condition?{by_patient}&_summary=count")).await;
    assert_eq!((total, ids.len()), (2, 0), "{counted}");
    assert_eq!(counted["meta"]["tag"][0]["code"], "SUBSETTED");

    // _include: the patient once, read as its own read is (masked, audited)
    let (_, ids, with_patient) =
        search(&doc, &format!("/fhir/Condition?{by_patient}&_include=Condition:patient&_include=Condition:encounter"))
            .await;
    assert_eq!(ids.len(), 2);
    let included: Vec<&Value> =
        with_patient["entry"].as_array().unwrap().iter().filter(|e| e["search"]["mode"] == "include").collect();
    let kinds: Vec<&str> = included.iter().map(|e| e["resource"]["resourceType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Patient", "Encounter"], "{with_patient}");
    assert_eq!(included[0]["resource"]["id"], pid.as_str());
    assert_eq!(included[0]["resource"]["meta"]["security"][0]["code"], "MASKED");
    assert!(included[0]["fullUrl"].as_str().unwrap().ends_with(&format!("/fhir/Patient/{pid}")));
    let (_, _, with_doctor) =
        search(&doc, &format!("/fhir/Encounter?{by_patient}&_include=Encounter:practitioner")).await;
    let doctor = with_doctor["entry"].as_array().unwrap().iter().find(|e| e["search"]["mode"] == "include");
    assert_eq!(doctor.map(|e| e["resource"]["resourceType"].clone()), Some(json!("Practitioner")), "{with_doctor}");
    let meta = read(&doc, "/fhir/metadata").await;
    let condition = meta["rest"][0]["resource"].as_array().unwrap().iter().find(|r| r["type"] == "Condition").unwrap();
    assert!(condition["searchInclude"].as_array().unwrap().contains(&json!("Condition:patient")));

    // unknown parameters: dropped with a warning, or refused when strict
    let (total, _, lenient) = search(&doc, &format!("/fhir/Condition?{by_patient}&colour=blue")).await;
    assert_eq!(total, 2);
    assert!(outcome_of(&lenient).unwrap().contains("colour"), "{lenient}");
    assert!(!lenient["link"][0]["url"].as_str().unwrap().contains("colour"), "the self link shows what was used");
    for q in ["colour=blue", "_include=Condition:asserter", "_summary=text"] {
        let r = doc.client.get(format!("{}/fhir/Condition?{by_patient}&{q}", doc.base));
        let r = r.header("prefer", "handling=strict").send().await.unwrap();
        let (status, b) = fhir(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert_eq!(b["resourceType"], "OperationOutcome");
    }
    assert!(outcome_of(&full).is_none(), "no warning without a reason");

    // Patient pages: next and previous links walk the same matches
    let reg = t.as_user("reg01").await;
    for seq in [201, 203, 205] {
        let number = dayi_core::identity::make_resident_id("370830", time::macros::date!(1986 - 07 - 15), seq);
        let r = reg.client.post(format!("{}/fhir/Patient", reg.base)).header("x-csrf-token", &reg.csrf);
        let r = r.header("content-type", "application/fhir+json").body(ouyang(&number).to_string());
        assert_eq!(r.send().await.unwrap().status(), StatusCode::CREATED);
    }
    let name = encode("欧阳");
    let (total, first, page1) = search(&reg, &format!("/fhir/Patient?name={name}&_count=2")).await;
    assert!(total > 2 && first.len() == 2, "{page1}");
    let next = link(&page1, "next").expect("a next page");
    let (total2, second, page2) = search(&reg, &next).await;
    assert_eq!(total2, total);
    assert!(second.iter().all(|id| !first.contains(id)), "pages do not overlap");
    let back = link(&page2, "previous").expect("a previous page");
    assert_eq!(search(&reg, &back).await.1, first);
    // _lastUpdated narrows by the day of the last change
    let today = today_cst().to_string();
    let (_, updated_today, _) = search(&reg, &format!("/fhir/Patient?name={name}&_lastUpdated=ge{today}")).await;
    let (_, before_today, _) = search(&reg, &format!("/fhir/Patient?name={name}&_lastUpdated=lt{today}")).await;
    assert_eq!(updated_today.len() + before_today.len(), total.min(50) as usize);

    if let Some(python) = fhir_python() {
        for b in [&counted, &with_patient, &with_doctor, &lenient, &page1] {
            external_parse(&python, "bundle", "Bundle", b);
        }
    }
}
