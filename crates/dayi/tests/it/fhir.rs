//! FHIR R4 Patient over HTTP: create, read and search mapped from the same
//! records as the console, and every failure as an OperationOutcome. When
//! python3 can import `fhir.resources` (an independent FHIR model library),
//! each kind of answer is also parsed by it; `DAYI_REQUIRE_FHIR_CLIENT=1`
//! makes its absence a failure (`DAYI_FHIR_PYTHON` names another python).

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::macros::date;

use crate::harness::{ORG, Session, TestApp};

crate::on_both!(fhir_patient_create_read_search, fhir_failures_are_operation_outcomes);

const FHIR_JSON: &str = "application/fhir+json";
pub(crate) const RESIDENT_ID: &str = "urn:oid:2.16.156.10011.1.3";
const HEALTH_CARD: &str = "https://dayi.org.cn/fhir/sid/health-card";
const V2_0131: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
const RELATION: &str = "urn:oid:2.16.156.10011.2.3.3.8";
const EXT_ETHNICITY: &str = "https://dayi.org.cn/fhir/StructureDefinition/ethnicity";
const EXT_REGION: &str = "https://dayi.org.cn/fhir/StructureDefinition/region-code";

fn hospital_no_system() -> String {
    format!("https://dayi.org.cn/fhir/sid/hospital-no/{ORG}")
}

/// 欧阳明远, male (odd sequence), born 1986-07-15 in 汶上县.
pub(crate) fn ouyang_id() -> String {
    dayi_core::identity::make_resident_id("370830", date!(1986 - 07 - 15), 123)
}

pub(crate) fn ouyang(id_number: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{ "system": RESIDENT_ID, "value": id_number }],
        "name": [{ "use": "official", "family": "欧阳", "given": ["明远"] }],
        "gender": "male",
        "birthDate": "1986-07-15",
        "telecom": [{ "system": "phone", "value": "13912340086", "use": "mobile" }],
        "address": [{
            "use": "home",
            "text": "山东省济宁市汶上县南站镇",
            "extension": [{ "url": EXT_REGION, "valueCoding": { "code": "370830" } }]
        }],
        "extension": [{ "url": EXT_ETHNICITY, "valueCoding": { "code": "03" } }],
        "contact": [{
            "relationship": [{ "coding": [{ "system": V2_0131, "code": "C" }, { "system": RELATION, "code": "10" }] }],
            "name": { "text": "李芳" },
            "telecom": [{ "system": "phone", "value": "13912340087" }]
        }]
    })
}

async fn post(s: &Session, body: &Value) -> reqwest::Response {
    s.client
        .post(format!("{}/fhir/Patient", s.base))
        .header("x-csrf-token", &s.csrf)
        .header("content-type", FHIR_JSON)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// An answer's status, checked FHIR media type, and body.
pub(crate) async fn fhir(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert_eq!(ct, FHIR_JSON, "{status}");
    (status, r.json().await.unwrap())
}

/// An API token for a demo account, for a client that signs in as a program does.
pub(crate) async fn token_for(t: &TestApp, username: &str) -> String {
    let sec = t.as_user("secadmin").await;
    let staff: Value = sec.get("/api/staff").await.json().await.unwrap();
    let id = staff.as_array().unwrap().iter().find(|s| s["username"] == username).unwrap()["id"].clone();
    let r = sec.post_json("/api/tokens", json!({ "staff_id": id, "name": "FHIR 集成测试" })).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string()
}

/// Searches with a bearer token; returns the bundle's total and entry ids.
async fn search(t: &TestApp, token: &str, query: &str) -> (usize, Vec<String>) {
    let r = t.client().get(t.at(&format!("/fhir/Patient?{query}"))).bearer_auth(token).send().await.unwrap();
    let (status, b) = fhir(r).await;
    assert_eq!(status, StatusCode::OK, "{query}: {b}");
    assert_eq!((b["resourceType"].as_str(), b["type"].as_str()), (Some("Bundle"), Some("searchset")));
    let ids = b["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
        .collect();
    (b["total"].as_u64().unwrap() as usize, ids)
}

/// Percent-encodes a query value (`|`, `:` and Chinese included).
pub(crate) fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn fhir_patient_create_read_search(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let number = ouyang_id();
    let r = post(&reg, &ouyang(&number)).await;
    let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let (status, p) = fhir(r).await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(location.as_deref(), Some(format!("/fhir/Patient/{id}").as_str()));

    // the mapping, masked like every staff screen
    assert_eq!(p["resourceType"], "Patient");
    assert_eq!(p["meta"]["security"][0]["code"], "MASKED");
    let ids = p["identifier"].as_array().unwrap();
    let of = |system: &str| ids.iter().find(|i| i["system"] == system).unwrap_or_else(|| panic!("{system}: {p}"));
    assert_eq!(of(RESIDENT_ID)["value"], dayi_core::mask::id_number(&number));
    let hospital_no = of(&hospital_no_system())["value"].as_str().unwrap().to_string();
    assert_eq!(hospital_no.len(), 12);
    let card = of(HEALTH_CARD)["value"].as_str().unwrap().to_string();
    assert_eq!(card.len(), 64);
    assert_eq!(p["name"][0]["text"], "欧阳明远");
    assert_eq!((p["name"][0]["family"].as_str(), p["name"][0]["given"][0].as_str()), (Some("欧阳"), Some("明远")));
    assert_eq!((p["gender"].as_str(), p["birthDate"].as_str()), (Some("male"), Some("1986-07-15")));
    assert_eq!(p["telecom"][0]["value"], "139****0086");
    assert_eq!(p["address"][0]["extension"][0]["valueCoding"]["code"], "370830");
    assert_eq!(p["extension"][0]["valueCoding"]["display"], "回族");
    let codes: Vec<&str> = p["contact"][0]["relationship"][0]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["C", "10"]);
    assert_eq!(p["contact"][0]["telecom"][0]["value"], "139****0087");
    assert_eq!(p["active"], true);

    // read back: the same resource
    let (status, back) = fhir(reg.get(&format!("/fhir/Patient/{id}")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(back, p);

    // search as a program with a doctor's token (patient.read only)
    let tok = token_for(t, "doc01").await;
    let hit = |(total, ids): (usize, Vec<String>)| total == 1 && ids == [id.clone()];
    let has = |(_, ids): (usize, Vec<String>)| ids.contains(&id);
    let none = |(total, ids): (usize, Vec<String>)| total == 0 && ids.is_empty();
    for q in [
        format!("identifier={}", encode(&format!("{RESIDENT_ID}|{number}"))),
        format!("identifier={}", encode(&format!("{RESIDENT_ID}|{}", number.to_lowercase()))),
        format!("identifier={}", encode(&format!("{}|{hospital_no}", hospital_no_system()))),
        format!("identifier={}", encode(&format!("{HEALTH_CARD}|{}", card.to_lowercase()))),
        format!("identifier={hospital_no}"),
        format!("name={}", encode("欧阳明远")),
        format!("name={}&birthdate=1986-07-15&gender=male", encode("欧阳")),
        "name=oymy&birthdate=ge1986-07&birthdate=le1986-07-31".into(),
        "phone=13912340086&gender=male".into(),
    ] {
        assert!(hit(search(t, &tok, &q).await), "{q} finds exactly 欧阳明远");
    }
    for q in ["name=ouyangmingyuan", "phone=139-1234-0086", "name=OuYang"] {
        assert!(has(search(t, &tok, q).await), "{q} finds 欧阳明远");
    }
    for q in [
        "name=oymy&birthdate=1987".to_string(),
        "name=oymy&gender=female,other".into(),
        format!("identifier={}", encode(&format!("{RESIDENT_ID}|{}", ouyang_id().replace("370830", "370831")))),
        format!(
            "identifier={}",
            encode(&format!("{}|{hospital_no}", "https://dayi.org.cn/fhir/sid/hospital-no/other"))
        ),
        format!("identifier={}", encode(&format!("{RESIDENT_ID}|{hospital_no}"))),
    ] {
        assert!(none(search(t, &tok, &q).await), "{q} finds nobody");
    }
    // _count=0 answers the total alone; entries are absolute and match their resource
    let r = t.client().get(t.at("/fhir/Patient?name=oymy&_count=0")).bearer_auth(&tok).send().await.unwrap();
    let (_, b) = fhir(r).await;
    assert_eq!((b["total"].as_u64(), b["entry"].as_array().map(Vec::len)), (Some(1), Some(0)));
    let r = t.client().get(t.at("/fhir/Patient?name=oymy")).bearer_auth(&tok).send().await.unwrap();
    let (_, bundle) = fhir(r).await;
    let full = bundle["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(full.starts_with("http://") && full.ends_with(&format!("/fhir/Patient/{id}")), "{full}");
    assert_eq!(bundle["entry"][0]["resource"], p);

    // the same records the console shows
    let api: Value = reg.get(&format!("/api/patients/{id}")).await.json().await.unwrap();
    assert_eq!(api["hospital_no"], hospital_no.as_str(), "{api}");

    // reads and searches over FHIR are audited like the console's
    let auditor = t.as_user("auditor").await;
    for (action, actor) in [("patient.create", "reg01"), ("patient.read", "reg01"), ("patient.search", "doc01")] {
        let log: Value = auditor.get(&format!("/api/audit?action={action}&actor={actor}")).await.json().await.unwrap();
        assert!(!log.as_array().unwrap().is_empty(), "{action} by {actor} is audited");
    }
    let created: Value = auditor.get("/api/audit?action=patient.create&actor=reg01").await.json().await.unwrap();
    assert!(created[0]["detail"].as_str().unwrap().contains("via=fhir"), "{created}");

    // a merged record only forwards: inactive, linked to the record it joined
    let zhang = format!("identifier={}", encode(&format!("{RESIDENT_ID}|370830195803129317")));
    let survivor = search(t, &tok, &zhang).await.1[0].clone();
    let merge = json!({ "survivor_id": survivor, "merged_id": id, "reason": "同一人重复建档" });
    assert_eq!(t.as_user("svc01").await.post_json("/api/patients/merges", merge).await.status(), StatusCode::CREATED);
    let (_, merged) = fhir(reg.get(&format!("/fhir/Patient/{id}")).await).await;
    assert_eq!(merged["active"], false);
    let link = json!({ "other": { "reference": format!("Patient/{survivor}") }, "type": "replaced-by" });
    assert_eq!(merged["link"], json!([link]));

    // an independent FHIR library reads every kind of answer
    let Some(python) = fhir_python() else { return };
    let meta: Value = t.client().get(t.at("/fhir/metadata")).send().await.unwrap().json().await.unwrap();
    let (_, outcome) = fhir(reg.get("/fhir/Patient/nobody").await).await;
    for (module, class, v) in [
        ("patient", "Patient", &p),
        ("patient", "Patient", &merged),
        ("bundle", "Bundle", &bundle),
        ("capabilitystatement", "CapabilityStatement", &meta),
        ("operationoutcome", "OperationOutcome", &outcome),
    ] {
        external_parse(&python, module, class, v);
    }
}

async fn fhir_failures_are_operation_outcomes(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let issue_of = |b: &Value, i: usize| {
        assert_eq!(b["resourceType"], "OperationOutcome", "{b}");
        let x = b["issue"][i].clone();
        (x["code"].as_str().unwrap_or("").to_string(), x["diagnostics"].as_str().unwrap_or("").to_string(), x)
    };

    // a wrong check digit: 422, the element named, Chinese diagnostics with the code, nothing written
    let mut bad = ouyang(&ouyang_id());
    let good = ouyang_id();
    let wrong = format!("{}{}", &good[..17], if good.ends_with('0') { '1' } else { '0' });
    bad["identifier"] =
        json!([{ "system": HEALTH_CARD, "value": "ignored" }, { "system": RESIDENT_ID, "value": wrong }]);
    bad["name"] = json!([{ "text": "司马清风" }]);
    let (status, b) = fhir(post(&reg, &bad).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (code, diag, x) = issue_of(&b, 0);
    assert_eq!((code.as_str(), x["severity"].as_str()), ("value", Some("error")));
    assert_eq!(x["expression"], json!(["Patient.identifier[1]"]));
    assert!(diag.contains("身份证号校验位错误") && diag.contains("identity.id_checksum"), "{diag}");
    let r: Value = reg.get(&format!("/fhir/Patient?name={}", encode("司马清风"))).await.json().await.unwrap();
    assert_eq!(r["total"], 0, "nothing was written");

    // one issue per refused field, each at its element
    let mut several = ouyang(&ouyang_id());
    several["gender"] = json!("female");
    several["telecom"] = json!([{ "system": "email", "value": "x@y.cn" }, { "system": "phone", "value": "12345" }]);
    several["contact"][0]["telecom"] = json!([]);
    let (status, b) = fhir(post(&reg, &several).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let at: Vec<&str> = b["issue"].as_array().unwrap().iter().map(|i| i["expression"][0].as_str().unwrap()).collect();
    for want in ["Patient.gender", "Patient.telecom[1]", "Patient.contact[0].telecom"] {
        assert!(at.contains(&want), "{want} in {at:?}");
    }
    // a child needs a guardian
    let child = json!({ "resourceType": "Patient", "name": [{ "text": "王小明" }], "gender": "male", "birthDate": "2020-05-01" });
    let (status, b) = fhir(post(&reg, &child).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, diag, x) = issue_of(&b, 0);
    assert_eq!((code.as_str(), x["expression"][0].as_str()), ("required", Some("Patient.contact")));
    assert!(diag.contains("监护人"), "{diag}");

    // the demo's 张三 already holds this number: 409, the existing record named
    let again = json!({
        "resourceType": "Patient",
        "name": [{ "text": "张三" }],
        "identifier": [{ "system": RESIDENT_ID, "value": "370830195803129317" }]
    });
    let (status, b) = fhir(post(&reg, &again).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{b}");
    let (code, diag, _) = issue_of(&b, 0);
    assert_eq!(code, "duplicate");
    assert!(diag.contains("该证件号码已登记") && diag.contains("patient.duplicate_id"), "{diag}");
    assert!(issue_of(&b, 1).1.starts_with("已有档案 Patient/"), "{b}");

    // not a Patient, not JSON, not a FHIR media type
    let (status, b) = fhir(post(&reg, &json!({ "resourceType": "Observation" })).await).await;
    assert_eq!((status, issue_of(&b, 0).0.as_str()), (StatusCode::BAD_REQUEST, "invalid"));
    let r = reg
        .client
        .post(t.at("/fhir/Patient"))
        .header("x-csrf-token", &reg.csrf)
        .header("content-type", "application/json")
        .body("{\"resourceType\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(fhir(r).await.0, StatusCode::BAD_REQUEST);
    let r = reg.client.post(t.at("/fhir/Patient")).header("x-csrf-token", &reg.csrf).body("x").send().await.unwrap();
    let (status, b) = fhir(r).await;
    assert_eq!((status, issue_of(&b, 0).0.as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-supported"));

    // unknown records and routes
    for path in [format!("/fhir/Patient/{}", uuid::Uuid::now_v7()), "/fhir/Patient/abc".into(), "/fhir/Nothing".into()]
    {
        let (status, b) = fhir(reg.get(&path).await).await;
        assert_eq!((status, issue_of(&b, 0).0.as_str()), (StatusCode::NOT_FOUND, "not-found"), "{path}");
    }
    // searching by birth date or gender alone is refused, with the reason
    let (status, b) = fhir(reg.get("/fhir/Patient?birthdate=1958-03-12&gender=male").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(issue_of(&b, 0).1.contains("name、identifier 或 phone"), "{b}");

    // who may: anonymous callers sign in first, a quality officer reads no patients,
    // a doctor reads but does not register
    let anon = t.client();
    let r = anon.get(t.at("/fhir/Patient?name=zs")).send().await.unwrap();
    let (status, b) = fhir(r).await;
    assert_eq!((status, issue_of(&b, 0).0.as_str()), (StatusCode::UNAUTHORIZED, "login"));
    let r = anon.post(t.at("/fhir/Patient")).header("content-type", FHIR_JSON).body("{}").send().await.unwrap();
    assert_eq!(fhir(r).await.0, StatusCode::UNAUTHORIZED);
    let qc = t.as_user("qc01").await;
    for path in ["/fhir/Patient?name=zs".to_string(), format!("/fhir/Patient/{}", uuid::Uuid::now_v7())] {
        let (status, b) = fhir(qc.get(&path).await).await;
        assert_eq!((status, issue_of(&b, 0).0.as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
        assert!(issue_of(&b, 0).1.contains("patient.read"), "{b}");
    }
    let doc = t.as_user("doc01").await;
    assert_eq!(fhir(post(&doc, &ouyang(&ouyang_id())).await).await.0, StatusCode::FORBIDDEN);

    // the capability statement is public
    let (status, m) = fhir(anon.get(t.at("/fhir/metadata")).send().await.unwrap()).await;
    assert_eq!((status, m["fhirVersion"].as_str()), (StatusCode::OK, Some("4.0.1")));
    let patient = &m["rest"][0]["resource"][0];
    assert_eq!(patient["type"], "Patient");
    let params: Vec<&str> =
        patient["searchParam"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["identifier", "name", "phone", "birthdate", "gender", "_lastUpdated"]);
}

/// A python that can import `fhir.resources`, if there is one.
pub(crate) fn fhir_python() -> Option<String> {
    let python = std::env::var("DAYI_FHIR_PYTHON").unwrap_or_else(|_| "python3".into());
    let present = Command::new(&python)
        .args(["-c", "import fhir.resources.R4B"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let required = std::env::var("DAYI_REQUIRE_FHIR_CLIENT").is_ok_and(|v| v == "1" || v == "true");
        assert!(!required, "DAYI_REQUIRE_FHIR_CLIENT is set but {python} cannot import fhir.resources");
        eprintln!("python fhir.resources not installed: external FHIR check skipped");
    }
    present.then_some(python)
}

/// Parses `v` with python's `fhir.resources` (R4B models; Patient, Bundle and
/// OperationOutcome are unchanged from R4).
/// The official R4 JSON Schema is applied first (`fhir_schema`).
pub(crate) fn external_parse(python: &str, module: &str, class: &str, v: &Value) {
    crate::fhir_schema::schema_check(v);
    let code = format!(
        "import sys\nfrom fhir.resources.R4B.{module} import {class}\n{class}.model_validate_json(sys.stdin.read())"
    );
    let mut child = Command::new(python)
        .args(["-c", &code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child.stdin.take().unwrap().write_all(v.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "fhir.resources refuses the {class}: {}\n{v}", String::from_utf8_lossy(&out.stderr));
}
