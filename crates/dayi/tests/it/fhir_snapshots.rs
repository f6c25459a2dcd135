//! One representative resource of each type `/fhir` serves, as insta
//! snapshots (`snapshots/it__fhir_snapshots__*.snap`): a change in what a
//! client receives shows up as a reviewed diff. Ids, instants, dates, the
//! random health-card id and the weekday are redacted, so a snapshot is the
//! same on every run and every day; everything else is compared as served.
//! SQLite only: the mapping does not depend on the database, and the
//! storage stories run on both elsewhere.
//!
//! Update after an intended change: `INSTA_UPDATE=always cargo test -p dayi
//! --test it fhir_snapshots`, then review the `.snap` diff. Without
//! `INSTA_UPDATE`, and always in CI, a mismatch fails the test.

use dayi_app::Actor;
use dayi_app::booking::BookRequest;
use dayi_app::roster::RosterForm;
use dayi_core::booking::BookingChannel;
use dayi_core::timefmt::today_cst;
use insta::internals::{Content, ContentPath};
use regex::Regex;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fhir::external_parse;
use crate::fhir::fhir_python;
use crate::fhir_lab::{enter, result_id, tube};
use crate::fhir_visit::{read, search};
use crate::harness::TestApp;
use crate::queue::{ROOM, dept, ok, org, staff_id};
use crate::visit::{called_visit, code_of};

/// Fields whose text carries an id, an instant or a date.
const SCRUBBED: &[&str] = &[
    ".id",
    ".**.reference",
    ".**.value",
    ".**.start",
    ".**.end",
    ".**.created",
    ".**.issued",
    ".**.effectiveDateTime",
    ".**.recordedDate",
    ".**.authoredOn",
    ".**.comment",
    ".**.description",
    ".meta.lastUpdated",
];

/// The text with what changes from run to run or day to day replaced.
fn scrub(text: &str) -> String {
    let rules = [
        (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "[id]"),
        (r"(?i)\b[0-9a-f]{64}\b", "[card-id]"),
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", "[instant]"),
        (r"\d{4}-\d{2}-\d{2}", "[date]"),
        // Registration numbers and tube barcodes carry the day as YYYYMMDD.
        (r"20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", "[date]"),
        // Hospital card numbers end in random digits.
        (r"\b1\d{11,12}\b", "[hospital-no]"),
        // Tube barcodes: YYMMDD and a six-digit daily sequence.
        (r"\b\d{6}(\d{6})\b", "[date]$1"),
        (r"(星期|周)[一二三四五六日]", "[weekday]"),
    ];
    let mut out = text.to_string();
    for (pattern, with) in rules {
        out = Regex::new(pattern).unwrap().replace_all(&out, with).into_owned();
    }
    out
}

fn scrub_content(value: Content, _path: ContentPath<'_>) -> Content {
    match value.as_str() {
        Some(s) => Content::from(scrub(s)),
        None => value,
    }
}

#[test]
fn scrubbing_keeps_what_does_not_change() {
    let id = "0193a5e2-7c1d-7b3e-9f00-1234567890ab";
    assert_eq!(scrub(&format!("Slot/{id}-3")), "Slot/[id]-3");
    assert_eq!(scrub("2026-12-03T08:00:00+08:00"), "[instant]");
    assert_eq!(scrub("2026-12-04 周五上午 专家门诊"), "[date] [weekday]上午 专家门诊");
    assert_eq!(scrub("星期日"), "[weekday]");
    assert_eq!(scrub("03-20261204-0001"), "03-[date]-0001");
    assert_eq!(scrub("261203000001"), "[date]000001");
    assert_eq!(scrub("1000000001"), "1000000001");
    assert_eq!(scrub("100001407315"), "[hospital-no]");
    assert_eq!(scrub("内科9诊室"), "内科9诊室");
}

/// Tomorrow's session for 李中医 in 中医科 with one phone booking on its
/// first slot: (session id, booking id).
async fn booked_session(t: &TestApp) -> (String, String) {
    let cli = Actor::cli(org(t).await);
    let f = RosterForm {
        dept_id: dept(t, "50").await,
        day: (today_cst() + time::Duration::days(1)).to_string(),
        half_day: "am".into(),
        clinic_type: "expert".into(),
        doctor_id: staff_id(t, "doc02").await,
        doctor_title: "副主任医师".into(),
        room: "中医科诊室".into(),
        start_time: "08:00".into(),
        slot_minutes: "15".into(),
        slot_count: "4".into(),
        ..Default::default()
    };
    let sid = dayi_app::roster::create_session(&t.app, &cli, &f).await.unwrap().id.to_string();
    let who = crate::queue::adults(t, 5, 1).await.remove(0);
    let (session, patient) = (Uuid::parse_str(&sid).unwrap(), Uuid::parse_str(&who.id).unwrap());
    let req = BookRequest { seq: Some(1), channel: BookingChannel::Phone, ..BookRequest::new(session, patient) };
    let b = dayi_app::booking::book(&t.app, &cli, &req).await.unwrap();
    (sid, b.id.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_resources_as_served() {
    let t = TestApp::sqlite().await;
    let doc = t.as_user("doc01").await;
    let cashier = t.as_user("reg01").await;
    let lab = t.as_user("lab01").await;
    let checker = t.as_user("lab02").await;

    // a visit: complaint, one diagnosis, a drug and a potassium test, paid, then finished
    let (vid, pid) = called_visit(&t, 0).await;
    let at = |p: &str| format!("/api/visits/{vid}{p}");
    let rec = json!({"chief_complaint": "乏力3天", "present_illness": "", "allergies": ""});
    ok(doc.post_json(&at("/record"), rec).await).await;
    ok(doc.post_json(&at("/diagnoses"), json!({"diagnoses": [{"code": "J06.900"}]})).await).await;
    let amox = code_of(&doc, "drug", "阿莫西林胶囊").await;
    let drug = json!({"catalog": "drug", "code": amox, "dose": "0.5", "frequency": "tid", "days": "3"});
    let drug = ok(doc.post_json(&at("/orders"), drug).await).await["order"]["id"].as_str().unwrap().to_string();
    let k = code_of(&doc, "charge_item", "钾测定").await;
    ok(doc.post_json(&at("/orders"), json!({"code": k})).await).await;
    let due = ok(cashier.get(&format!("/api/billing/due/{pid}")).await).await;
    let ids: Vec<&str> = due["charges"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let pay = json!({"patient_id": pid, "charge_ids": ids, "expected_fen": due["total_fen"], "method": "card", "key": "snap"});
    ok(cashier.post_json("/api/billing/pay", pay).await).await;

    // the potassium collected, entered and verified by a second person
    let tubes = ok(lab.post_json(&format!("/api/lab/visits/{vid}/collect"), json!({})).await).await;
    let barcode = tubes[0]["barcode"].as_str().unwrap().to_string();
    enter(&lab, &barcode, &[("K", "4.2")], "").await;
    let (k_order, k_test) = tube(&lab, &barcode).await;
    ok(checker.post_json(&format!("/api/lab/tests/{k_order}/verify"), json!({})).await).await;
    let k_result = result_id(&k_test["results"], "K");
    ok(doc.post_json(&at("/finish"), json!({})).await).await;

    let (sid, booking) = booked_session(&t).await;
    let doc01 = staff_id(&t, "doc01").await;
    let dept03 = dept(&t, "03").await;
    let (_, rooms, _) = search(&doc, &format!("/fhir/Location?name={}", crate::fhir::encode(ROOM))).await;

    let paths = [
        ("patient", format!("/fhir/Patient/{pid}")),
        ("practitioner", format!("/fhir/Practitioner/{doc01}")),
        ("practitioner_role", format!("/fhir/PractitionerRole/{doc01}")),
        ("organization", format!("/fhir/Organization/{dept03}")),
        ("location", format!("/fhir/Location/{}", rooms[0])),
        ("schedule", format!("/fhir/Schedule/{sid}")),
        ("slot", format!("/fhir/Slot/{sid}-1")),
        ("appointment", format!("/fhir/Appointment/{booking}")),
        ("encounter", format!("/fhir/Encounter/{vid}")),
        ("condition", format!("/fhir/Condition/{vid}-1")),
        ("service_request", format!("/fhir/ServiceRequest/{k_order}")),
        ("medication_request", format!("/fhir/MedicationRequest/{drug}")),
        ("observation", format!("/fhir/Observation/{k_result}")),
        ("diagnostic_report", format!("/fhir/DiagnosticReport/{k_order}")),
    ];
    let mut served: Vec<(&str, Value)> = vec![];
    for (name, path) in &paths {
        served.push((name, read(&doc, path).await));
    }
    t.stop().await;

    let python = fhir_python();
    let mut settings = insta::Settings::clone_current();
    // A version is the record's last change in microseconds.
    settings.add_redaction(".meta.versionId", "[version]");
    for selector in SCRUBBED {
        settings.add_dynamic_redaction(selector, scrub_content);
    }
    settings.bind(|| {
        for (name, v) in &served {
            if let Some(python) = &python {
                let kind = v["resourceType"].as_str().unwrap();
                external_parse(python, &kind.to_lowercase(), kind, v);
            }
            insta::assert_json_snapshot!(*name, v);
        }
    });
}
