//! Identifiers of other systems on a Patient (another hospital's record
//! number, one with no system): accepted on create, kept, read back, found
//! by `identifier=system|value` and `identifier=value`, unique within their
//! system, moved by a merge and back by its undo, replaced by an update and
//! kept by an import. A resident ID still finds the record already on file.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fhir::{RESIDENT_ID, encode, fhir, token_for};
use crate::harness::TestApp;

crate::on_both!(foreign_identifiers_are_kept_and_found);

const MRN: &str = "http://hospital.example.org/mrn";
const CLINIC: &str = "http://clinic.example.org/pid";
const FHIR_JSON: &str = "application/fhir+json";

fn resident(seq: u16) -> String {
    dayi_core::identity::make_resident_id("370830", time::macros::date!(1969 - 09 - 09), seq)
}

fn patient(name: &str, identifiers: Value) -> Value {
    json!({ "resourceType": "Patient", "identifier": identifiers, "name": [{ "text": name }],
            "gender": "female", "birthDate": "1969-09-09" })
}

struct Client<'a> {
    t: &'a TestApp,
    token: String,
}

impl Client<'_> {
    async fn send(&self, r: reqwest::RequestBuilder, body: Option<&Value>) -> (StatusCode, Value) {
        let r = r.bearer_auth(&self.token).header("content-type", FHIR_JSON);
        let r = match body {
            Some(b) => r.body(b.to_string()),
            None => r,
        };
        fhir(r.send().await.unwrap()).await
    }

    async fn create(&self, body: &Value) -> (StatusCode, Value) {
        self.send(self.t.client().post(self.t.at("/fhir/Patient")), Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, b) = self.send(self.t.client().get(self.t.at(path)), None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {b}");
        b
    }

    /// The ids a search by identifier finds.
    async fn found(&self, token: &str) -> Vec<String> {
        let b = self.get(&format!("/fhir/Patient?identifier={}", encode(token))).await;
        let entries = b["entry"].as_array().unwrap().iter().filter(|e| e["search"]["mode"] == "match");
        entries.map(|e| e["resource"]["id"].as_str().unwrap().to_string()).collect()
    }
}

/// The (system, value) of a resource's identifiers that are not ours.
fn foreign(p: &Value) -> Vec<(String, String)> {
    let ours = |s: &str| s == RESIDENT_ID || s.starts_with("https://dayi.org.cn/fhir/sid/");
    let mut v: Vec<(String, String)> = p["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["system"].as_str().unwrap_or("").to_string(), i["value"].as_str().unwrap().to_string()))
        .filter(|(s, _)| !ours(s))
        .collect();
    v.sort();
    v
}

fn pair(s: &str, v: &str) -> (String, String) {
    (s.to_string(), v.to_string())
}

async fn foreign_identifiers_are_kept_and_found(t: &TestApp) {
    let c = Client { t, token: token_for(t, "reg01").await };
    let ids = json!([{ "system": MRN, "value": "12345", "use": "usual" }, { "value": "A-77" },
                     { "system": RESIDENT_ID, "value": resident(102) }]);
    let (status, p) = c.create(&patient("林黛玉", ids)).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    crate::fhir_schema::schema_check(&p);
    let a = p["id"].as_str().unwrap().to_string();
    let kept = vec![pair("", "A-77"), pair(MRN, "12345")];
    assert_eq!(foreign(&p), kept);
    let read = c.get(&format!("/fhir/Patient/{a}")).await;
    assert_eq!(foreign(&read), kept, "returned on read");
    let bare = read["identifier"].as_array().unwrap().iter().find(|i| i["value"] == "A-77").unwrap();
    assert!(bare.get("system").is_none(), "no system invented: {bare}");

    // found by system and value, by value alone, by "no system" and value
    for q in [format!("{MRN}|12345"), "12345".into(), "A-77".into(), "|A-77".into()] {
        assert_eq!(c.found(&q).await, [a.as_str()], "{q}");
    }
    for q in ["|12345".to_string(), format!("{CLINIC}|12345"), format!("{MRN}|A-77"), "99999".into()] {
        assert!(c.found(&q).await.is_empty(), "{q}");
    }

    // one record per identifier of a system: a second is refused, naming the first;
    // values without a system are not a namespace and may repeat
    let (status, b) = c.create(&patient("林黛", json!([{ "system": MRN, "value": "12345" }]))).await;
    assert_eq!((status, b["issue"][0]["code"].as_str()), (StatusCode::CONFLICT, Some("duplicate")), "{b}");
    assert!(b["issue"][1]["diagnostics"].as_str().unwrap().contains(&a), "{b}");
    let (status, other) = c.create(&patient("薛宝钗", json!([{ "value": "A-77" }]))).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_eq!(c.found("A-77").await.len(), 2);
    // a resident ID on file is matched as before, and the new identifier is not kept
    let again = json!([{ "system": RESIDENT_ID, "value": resident(102) }, { "system": CLINIC, "value": "X-1" }]);
    let (status, b) = c.create(&patient("林黛玉", again)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");
    assert!(b["issue"][0]["diagnostics"].as_str().unwrap().contains("patient.duplicate_id"), "{b}");
    assert!(c.found(&format!("{CLINIC}|X-1")).await.is_empty(), "nothing of a refused create is stored");

    // a merge moves the merged record's identifiers to the survivor; the undo moves them back
    let (_, dup) = c.create(&patient("林黛玉", json!([{ "system": MRN, "value": "999" }]))).await;
    let b_id = dup["id"].as_str().unwrap().to_string();
    let svc = t.as_user("svc01").await;
    let body = json!({"survivor_id": a, "merged_id": b_id, "reason": "同一人重复建档"});
    let r = svc.post_json("/api/patients/merges", body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let merge: Value = r.json().await.unwrap();
    assert_eq!(c.found(&format!("{MRN}|999")).await, [a.as_str()]);
    let survivor = c.get(&format!("/fhir/Patient/{a}")).await;
    assert_eq!(foreign(&survivor), vec![pair("", "A-77"), pair(MRN, "12345"), pair(MRN, "999")]);
    let r = svc.post_json(&format!("/api/patients/merges/{}/undo", merge["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(c.found(&format!("{MRN}|999")).await, [b_id.as_str()]);

    // an update keeps what it sends: one dropped, one added
    let mut body = c.get(&format!("/fhir/Patient/{a}")).await;
    let version = body["meta"]["versionId"].as_str().unwrap().to_string();
    let list = body["identifier"].as_array_mut().unwrap();
    list.retain(|i| i["value"] != "A-77");
    list.push(json!({ "system": CLINIC, "value": "C-5" }));
    let put = t.client().put(t.at(&format!("/fhir/Patient/{a}"))).header("if-match", format!("W/\"{version}\""));
    let (status, updated) = c.send(put, Some(&body)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(foreign(&updated), vec![pair(CLINIC, "C-5"), pair(MRN, "12345")]);
    assert_eq!(c.found("A-77").await, [other["id"].as_str().unwrap().to_string()]);
    assert_eq!(c.found(&format!("{CLINIC}|C-5")).await, [a.as_str()]);
    // taking another record's identifier is refused, and changes nothing
    let mut body = c.get(&format!("/fhir/Patient/{b_id}")).await;
    let version = body["meta"]["versionId"].as_str().unwrap().to_string();
    body["identifier"].as_array_mut().unwrap().push(json!({ "system": MRN, "value": "12345" }));
    let put = t.client().put(t.at(&format!("/fhir/Patient/{b_id}"))).header("if-match", format!("W/\"{version}\""));
    let (status, b) = c.send(put, Some(&body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");
    assert_eq!(c.found(&format!("{MRN}|12345")).await, [a.as_str()]);

    // an import keeps the other system's identifiers of the patients it creates,
    // and finds a patient by them next time
    let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": [
        { "fullUrl": "urn:uuid:5b0e6c1e-0000-4000-8000-000000000001", "request": { "method": "POST", "url": "Patient" },
          "resource": patient("史湘云", json!([{ "system": CLINIC, "value": "P-1" }])) },
        { "fullUrl": "urn:uuid:5b0e6c1e-0000-4000-8000-000000000002", "request": { "method": "POST", "url": "Patient" },
          "resource": patient("林黛玉", json!([{ "system": MRN, "value": "12345" }])) },
    ] });
    let (status, answer) = c.send(t.client().post(t.at("/fhir")), Some(&bundle)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let statuses: Vec<&str> =
        answer["entry"].as_array().unwrap().iter().map(|e| e["response"]["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201 Created", "200 OK"], "the record holding MRN 12345 is matched, not duplicated");
    assert_eq!(answer["entry"][1]["response"]["location"], format!("Patient/{a}"));
    let created = answer["entry"][0]["response"]["location"].as_str().unwrap().trim_start_matches("Patient/");
    assert_eq!(c.found(&format!("{CLINIC}|P-1")).await, [created.to_string()]);
    let (status, _) = c.create(&patient("史湘云", json!([{ "system": CLINIC, "value": "P-1" }]))).await;
    assert_eq!(status, StatusCode::CONFLICT);
}
