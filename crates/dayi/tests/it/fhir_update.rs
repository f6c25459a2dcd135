//! FHIR Patient update: versions, `If-Match`, and refusals that change nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fhir::{RESIDENT_ID, encode, external_parse, fhir, fhir_python, ouyang, ouyang_id, token_for};
use crate::harness::TestApp;

crate::on_both!(fhir_patient_update_by_version);

const FHIR_JSON: &str = "application/fhir+json";

async fn put(t: &TestApp, token: &str, id: &str, if_match: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r =
        t.client().put(t.at(&format!("/fhir/Patient/{id}"))).bearer_auth(token).header("content-type", FHIR_JSON);
    if let Some(v) = if_match {
        r = r.header("if-match", v);
    }
    r.body(body.to_string()).send().await.unwrap()
}

async fn read(t: &TestApp, token: &str, id: &str) -> (String, Value) {
    let r = t.client().get(t.at(&format!("/fhir/Patient/{id}"))).bearer_auth(token).send().await.unwrap();
    let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let (status, p) = fhir(r).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    (etag, p)
}

fn issue_code(b: &Value) -> String {
    assert_eq!(b["resourceType"], "OperationOutcome", "{b}");
    b["issue"][0]["details"]["coding"][0]["code"].as_str().unwrap_or("").to_string()
}

async fn fhir_patient_update_by_version(t: &TestApp) {
    let tok = token_for(t, "reg01").await;
    let number = ouyang_id();
    let r = t
        .client()
        .post(t.at("/fhir/Patient"))
        .bearer_auth(&tok)
        .header("content-type", FHIR_JSON)
        .body(ouyang(&number).to_string())
        .send()
        .await
        .unwrap();
    let created_tag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap();
    let (status, created) = fhir(r).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let v1 = created["meta"]["versionId"].as_str().unwrap().to_string();
    assert_eq!(created_tag, format!("W/\"{v1}\""));
    assert!(created["meta"]["lastUpdated"].as_str().unwrap().ends_with("+08:00"));

    // read-modify-write: the client sends back what it read (masked ID
    // number and contact phone), with a new address and mobile number
    let (tag, mut p) = read(t, &tok, &id).await;
    assert_eq!(tag, created_tag);
    p["address"][0]["text"] = json!("山东省济宁市汶上县中都街道");
    p["telecom"][0]["value"] = json!("13800005678");
    let r = put(t, &tok, &id, Some(&tag), &p).await;
    let new_tag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string()).unwrap();
    let (status, updated) = fhir(r).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let v2 = updated["meta"]["versionId"].as_str().unwrap().to_string();
    assert!(v2.parse::<i64>().unwrap() > v1.parse::<i64>().unwrap(), "{v1} -> {v2}");
    assert_eq!(new_tag, format!("W/\"{v2}\""));
    assert_eq!(updated["address"][0]["text"], "山东省济宁市汶上县中都街道");
    assert_eq!(updated["telecom"][0]["value"], "138****5678");
    // the masked values sent back kept the stored ones
    assert_eq!(updated["identifier"], created["identifier"]);
    assert_eq!(updated["contact"], created["contact"]);
    let by_number = format!("/fhir/Patient?identifier={}", encode(&format!("{RESIDENT_ID}|{number}")));
    let r = t.client().get(t.at(&by_number)).bearer_auth(&tok).send().await.unwrap();
    let (_, found) = fhir(r).await;
    assert_eq!(found["entry"][0]["resource"]["id"], id.as_str(), "{found}");
    let r = t.client().get(t.at("/fhir/Patient?phone=13800005678")).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(fhir(r).await.1["total"], 1);

    // refusals: each answers an OperationOutcome and changes nothing
    let mut stale = p.clone();
    stale["address"][0]["text"] = json!("被覆盖的地址");
    let (status, b) = fhir(put(t, &tok, &id, Some(&tag), &stale).await).await;
    assert_eq!((status, issue_code(&b).as_str()), (StatusCode::PRECONDITION_FAILED, "request.version_mismatch"));
    assert!(b["issue"][0]["diagnostics"].as_str().unwrap().contains(&v2), "{b}");
    let (status, b) = fhir(put(t, &tok, &id, None, &stale).await).await;
    assert_eq!((status, issue_code(&b).as_str()), (StatusCode::PRECONDITION_REQUIRED, "request.version_required"));
    let (status, b) = fhir(put(t, &tok, &id, Some("W/\"abc\""), &stale).await).await;
    assert_eq!((status, issue_code(&b).as_str()), (StatusCode::BAD_REQUEST, "request.invalid"));
    let mut other_id = updated.clone();
    other_id["id"] = json!(uuid::Uuid::now_v7().to_string());
    let (status, _) = fhir(put(t, &tok, &id, Some(&new_tag), &other_id).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut wrong = updated.clone();
    wrong["gender"] = json!("robot");
    let (status, b) = fhir(put(t, &tok, &id, Some(&new_tag), &wrong).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["issue"][0]["expression"][0], "Patient.gender", "{b}");
    let missing = uuid::Uuid::now_v7().to_string();
    let mut ghost = updated.clone();
    ghost["id"] = json!(missing);
    let (status, _) = fhir(put(t, &tok, &missing, Some(&new_tag), &ghost).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // a second record's ID number cannot be taken over
    let zhang_search = format!("/fhir/Patient?identifier={}", encode(&format!("{RESIDENT_ID}|370830195803129317")));
    let r = t.client().get(t.at(&zhang_search)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(fhir(r).await.1["total"], 1, "the demo has 张建国");
    let mut taken = updated.clone();
    taken["identifier"] = json!([{ "system": RESIDENT_ID, "value": "370830195803129317" }]);
    taken["name"] = json!([{ "text": "张建国" }]);
    taken["birthDate"] = json!("1958-03-12");
    let (status, b) = fhir(put(t, &tok, &id, Some(&new_tag), &taken).await).await;
    assert_eq!((status, issue_code(&b).as_str()), (StatusCode::CONFLICT, "patient.duplicate_id"), "{b}");
    let (tag_after, after) = read(t, &tok, &id).await;
    assert_eq!((tag_after, &after), (new_tag.clone(), &updated), "refused updates changed nothing");

    // a doctor may read but not correct the register
    let doc = token_for(t, "doc01").await;
    let (status, _) = fhir(put(t, &doc, &id, Some(&new_tag), &updated).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // the correction is audited with the fields it changed, never their values
    let auditor = t.as_user("auditor").await;
    let log: Value = auditor.get("/api/audit?action=patient.update&actor=reg01").await.json().await.unwrap();
    let detail = log[0]["detail"].as_str().unwrap();
    assert!(detail.contains("changed=phone,address"), "{detail}");
    assert!(!detail.contains("13800005678") && !detail.contains("中都街道"), "{detail}");

    if let Some(python) = fhir_python() {
        external_parse(&python, "patient", "Patient", &updated);
    }
}
