//! The three-highs registry over FHIR, on both databases: a record as a
//! CarePlan with its next visit and its follow-ups; the follow-ups' readings
//! as vital-sign Observations; both valid R4 (JSON Schema and fhir.resources).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::chronic::{enrol, visit};
use crate::fhir::{external_parse, fhir, fhir_python};
use crate::harness::TestApp;
use crate::queue::adults;

crate::on_both!(a_registry_record_is_a_careplan);

async fn a_registry_record_is_a_careplan(t: &TestApp) {
    let doc = t.as_user("doc01").await;
    let pid = adults(t, 3, 1).await[0].id.clone();
    let e = enrol(&doc, &pid, "htn", "doc01", "东村").await;
    visit(
        &doc,
        &pid,
        -20,
        "clinic",
        json!({"sbp": "150", "dbp": "95", "heart_rate": "80", "weight": "72.5", "height": "168"}),
    )
    .await;
    visit(&doc, &pid, -5, "home", json!({"sbp": "132", "dbp": "84"})).await;
    let get = |path: String| {
        let doc = &doc;
        async move { fhir(doc.get(&path).await).await }
    };

    let (status, b) = get(format!("/fhir/CarePlan?patient={pid}")).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["total"], 1);
    let plan = &b["entry"][0]["resource"];
    assert_eq!((plan["status"].as_str(), plan["intent"].as_str()), (Some("active"), Some("plan")));
    assert_eq!(plan["category"][0]["coding"][0]["code"], "htn");
    let acts = plan["activity"].as_array().unwrap();
    assert_eq!(acts.len(), 3, "the next visit and two follow-ups");
    assert_eq!(acts[0]["detail"]["status"], "scheduled");
    assert_eq!(acts[1]["outcomeCodeableConcept"][0]["coding"][0]["code"], "unsatisfied");
    assert_eq!(acts[2]["outcomeCodeableConcept"][0]["coding"][0]["code"], "satisfied");

    let (status, read) = get(format!("/fhir/CarePlan/{}", e["id"].as_str().unwrap())).await;
    assert_eq!((status, &read), (StatusCode::OK, plan));
    let (_, none) = get(format!("/fhir/CarePlan?patient={pid}&status=completed")).await;
    assert_eq!(none["total"], 0);
    let (_, by_cat) = get(format!("/fhir/CarePlan?patient={pid}&category=t2dm")).await;
    assert_eq!(by_cat["total"], 0);

    // The readings: BP, heart rate, weight and BMI of the first visit, BP of the second.
    let (status, obs) = get(format!("/fhir/Observation?patient={pid}&category=vital-signs")).await;
    assert_eq!(status, StatusCode::OK, "{obs}");
    assert_eq!(obs["total"], 5, "{obs}");
    let first = acts[1]["outcomeReference"].as_array().unwrap();
    assert_eq!(first.len(), 4);
    let bp_ref = first[0]["reference"].as_str().unwrap();
    let (status, bp) = get(format!("/fhir/{bp_ref}")).await;
    assert_eq!(status, StatusCode::OK, "{bp}");
    assert_eq!(bp["code"]["coding"][0]["code"], "85354-9");
    assert_eq!(bp["component"][0]["valueQuantity"]["value"], 150);
    let bmi_ref = first[3]["reference"].as_str().unwrap();
    let (_, bmi) = get(format!("/fhir/{bmi_ref}")).await;
    assert_eq!(bmi["valueQuantity"]["value"], 25.7);
    let (status, _) = get(format!("/fhir/{}-fbg", bp_ref.trim_end_matches("-bp"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no glucose was measured");

    // Lab staff may not read the registry.
    let lab = t.as_user("lab01").await;
    assert_eq!(lab.get(&format!("/fhir/CarePlan?patient={pid}")).await.status(), StatusCode::FORBIDDEN);

    crate::fhir_schema::schema_check(&b);
    crate::fhir_schema::schema_check(&obs);
    if let Some(python) = fhir_python() {
        for (module, class, v) in
            [("careplan", "CarePlan", &read), ("observation", "Observation", &bp), ("bundle", "Bundle", &obs as &Value)]
        {
            external_parse(&python, module, class, v);
        }
    }
}
