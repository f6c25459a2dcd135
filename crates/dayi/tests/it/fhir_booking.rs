//! FHIR R4 Schedule, Slot and Appointment over HTTP, mapped from the
//! sessions, slots and bookings the counter uses: a visiting expert's session
//! tomorrow, one booking and one added slot, then a cancellation and a clinic
//! stop seen through the resources; every failure an OperationOutcome. Like
//! `fhir.rs`, each kind of answer is also parsed by python's `fhir.resources`
//! when it is installed (`DAYI_REQUIRE_FHIR_CLIENT=1` makes that required).

use dayi_app::Actor;
use dayi_app::booking::BookRequest;
use dayi_app::roster::RosterForm;
use dayi_core::booking::BookingChannel;
use dayi_core::patient::Channel;
use dayi_core::timefmt::today_cst;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fhir::{encode, external_parse, fhir, fhir_python};
use crate::harness::{ORG, Session, TestApp};

crate::on_both!(fhir_schedule_slot_appointment, fhir_booking_failures_are_operation_outcomes);

const CLINIC_TYPE: &str = "https://dayi.org.cn/fhir/CodeSystem/clinic-type";
const EXT_VISITING_FROM: &str = "https://dayi.org.cn/fhir/StructureDefinition/visiting-from";

fn dept_system() -> String {
    format!("https://dayi.org.cn/fhir/sid/dept/{ORG}")
}

fn reg_no_system() -> String {
    format!("https://dayi.org.cn/fhir/sid/reg-no/{ORG}")
}

async fn org(t: &TestApp) -> Uuid {
    dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id
}

/// Tomorrow, whose slots are released (`booking.release_days_ahead` is 7) and all ahead.
fn tomorrow() -> String {
    (today_cst() + time::Duration::days(1)).to_string()
}

/// A visiting expert's morning in 儿科 (which the demo roster leaves empty):
/// six 10-minute slots from 08:00.
async fn expert_session(t: &TestApp) -> Uuid {
    let cli = Actor::cli(org(t).await);
    let depts = dayi_app::tenancy::clinical_depts(&t.app, cli.org_id).await.unwrap();
    let f = RosterForm {
        dept_id: depts.iter().find(|d| d.code == "07").unwrap().id.to_string(),
        day: tomorrow(),
        half_day: "am".into(),
        clinic_type: "expert".into(),
        doctor_name: "孙思远".into(),
        doctor_title: "主任医师".into(),
        visiting_from: "济宁医学院附属医院".into(),
        room: "儿科专家诊室".into(),
        start_time: "08:00".into(),
        slot_minutes: "10".into(),
        slot_count: "6".into(),
        ..Default::default()
    };
    dayi_app::roster::create_session(&t.app, &cli, &f).await.unwrap().id
}

async fn patient(t: &TestApp, i: u64) -> Uuid {
    let cli = Actor::cli(org(t).await);
    let f = dayi_app::demo::people::person(i, 23, today_cst());
    dayi_app::patient::register(&t.app, &cli, &f, Channel::Counter).await.unwrap().id
}

async fn ok(s: &Session, path: &str) -> Value {
    let (status, b) = fhir(s.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {b}");
    b
}

/// A searchset's total and the ids of its matches.
async fn search(s: &Session, path: &str) -> (u64, Vec<String>, Value) {
    let b = ok(s, path).await;
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

/// The slots of a session by number: (status, overbooked).
async fn slots(s: &Session, sid: Uuid) -> Vec<(String, bool)> {
    let (total, _, b) = search(s, &format!("/fhir/Slot?schedule=Schedule/{sid}")).await;
    let entries = b["entry"].as_array().unwrap();
    assert_eq!(entries.len() as u64, total);
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let r = &e["resource"];
            assert_eq!(r["id"], format!("{sid}-{}", i + 1), "in slot order");
            (r["status"].as_str().unwrap().to_string(), r["overbooked"].as_bool().unwrap())
        })
        .collect()
}

fn statuses(slots: &[(String, bool)]) -> Vec<&str> {
    slots.iter().map(|s| s.0.as_str()).collect()
}

async fn fhir_schedule_slot_appointment(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let cli = Actor::cli(org(t).await);
    let sid = expert_session(t).await;
    let day = tomorrow();
    let (p1, p2) = (patient(t, 1).await, patient(t, 2).await);
    let book =
        |p: Uuid, seq: Option<i64>| BookRequest { seq, channel: BookingChannel::Phone, ..BookRequest::new(sid, p) };
    let b1 = dayi_app::booking::book(&t.app, &cli, &book(p1, Some(3))).await.unwrap();
    assert_eq!(b1.seq, 3);
    let added = dayi_app::booking::add_slot(&t.app, &cli, &book(p2, None)).await.unwrap();
    assert_eq!(added.seq, 7, "an added slot follows the roster's six");

    // the session as a Schedule
    let schedule = ok(&reg, &format!("/fhir/Schedule/{sid}")).await;
    assert_eq!(
        (schedule["resourceType"].as_str(), schedule["id"].as_str()),
        (Some("Schedule"), Some(&*sid.to_string()))
    );
    assert_eq!(schedule["active"], true);
    let coding = &schedule["serviceType"][0]["coding"][0];
    assert_eq!((coding["system"].as_str(), coding["code"].as_str()), (Some(CLINIC_TYPE), Some("expert")));
    assert_eq!(coding["display"], "专家门诊");
    let actors = schedule["actor"].as_array().unwrap();
    let actor = |kind: &str| actors.iter().find(|a| a["type"] == kind).unwrap_or_else(|| panic!("{kind}: {schedule}"));
    assert_eq!(actor("Practitioner")["display"], "孙思远 主任医师");
    assert_eq!(actor("HealthcareService")["display"], "儿科");
    assert_eq!(actor("HealthcareService")["identifier"], json!({ "system": dept_system(), "value": "07" }));
    assert_eq!(actor("Location")["display"], "儿科专家诊室");
    let horizon = json!({ "start": format!("{day}T08:00:00+08:00"), "end": format!("{day}T09:00:00+08:00") });
    assert_eq!(schedule["planningHorizon"], horizon);
    assert_eq!(schedule["extension"], json!([{ "url": EXT_VISITING_FROM, "valueString": "济宁医学院附属医院" }]));
    assert!(schedule["comment"].as_str().unwrap().contains("济宁医学院附属医院专家坐诊"), "{schedule}");

    // searched by day, department, clinic type and state
    let me = sid.to_string();
    let has = |ids: &[String]| ids.contains(&me);
    let (_, ids, _) = search(&reg, "/fhir/Schedule?active=true").await;
    assert!(has(&ids), "today and the next seven days unless a date is given");
    let dept = encode(&format!("{}|07", dept_system()));
    let (total, ids, week) =
        search(&reg, &format!("/fhir/Schedule?date=ge{day}&date=le{day}&actor:identifier={dept}")).await;
    assert_eq!((total, ids), (1, vec![me.clone()]));
    assert_eq!(week["entry"][0]["resource"], schedule);
    let full = week["entry"][0]["fullUrl"].as_str().unwrap();
    assert!(full.starts_with("http://") && full.ends_with(&format!("/fhir/Schedule/{sid}")), "{full}");
    for q in
        [format!("date={day}&service-type=expert,special"), format!("date=eq{day}&active=true&actor:identifier=07")]
    {
        assert!(has(&search(&reg, &format!("/fhir/Schedule?{q}")).await.1), "{q} finds the session");
    }
    for q in [
        format!("date=lt{day}"),
        format!("date={day}&service-type=general"),
        format!("date={day}&active=false"),
        format!("date={day}&actor:identifier=03"),
        format!("date={day}&actor:identifier={}", encode("https://dayi.org.cn/fhir/sid/dept/ciqiu|07")),
    ] {
        assert!(!has(&search(&reg, &format!("/fhir/Schedule?{q}")).await.1), "{q} leaves the session out");
    }
    let (total, ids, _) = search(&reg, &format!("/fhir/Schedule?date={day}&actor:identifier=07&_count=0")).await;
    assert_eq!((total, ids.len()), (1, 0), "_count=0 answers the total alone");

    // its slots: the booked one and the added one busy, the rest free
    let s = slots(&reg, sid).await;
    assert_eq!(statuses(&s), ["free", "free", "busy", "free", "free", "free", "busy"]);
    assert_eq!(s.iter().map(|x| x.1).collect::<Vec<_>>(), [false, false, false, false, false, false, true]);
    let (total, ids, free) =
        search(&reg, &format!("/fhir/Slot?schedule={}&status=free", encode(&format!("Schedule/{sid}")))).await;
    assert_eq!((total, ids.len()), (5, 5));
    assert!(!ids.contains(&format!("{sid}-3")));
    let slot = ok(&reg, &format!("/fhir/Slot/{sid}-3")).await;
    assert_eq!(slot["schedule"]["reference"], format!("Schedule/{sid}"));
    assert_eq!((slot["status"].as_str(), slot["overbooked"].as_bool()), (Some("busy"), Some(false)));
    assert_eq!(slot["start"], format!("{day}T08:20:00+08:00"));
    assert_eq!(slot["end"], format!("{day}T08:30:00+08:00"));
    let extra = ok(&reg, &format!("/fhir/Slot/{sid}-7")).await;
    assert_eq!(
        (extra["overbooked"].as_bool(), extra["start"].as_str()),
        (Some(true), Some(&*format!("{day}T09:00:00+08:00")))
    );

    // the booking as an Appointment
    let a = ok(&reg, &format!("/fhir/Appointment/{}", b1.id)).await;
    assert_eq!((a["resourceType"].as_str(), a["status"].as_str()), (Some("Appointment"), Some("booked")));
    assert_eq!(a["identifier"][0]["system"], reg_no_system());
    assert_eq!(a["identifier"][0]["value"], b1.reg_no.as_str());
    assert_eq!(a["slot"], json!([{ "reference": format!("Slot/{sid}-3") }]));
    assert_eq!((a["start"].as_str(), a["end"].as_str()), (slot["start"].as_str(), slot["end"].as_str()));
    assert_eq!(a["serviceType"][0]["coding"][0]["code"], "expert");
    assert_eq!(a["appointmentType"]["coding"][0]["code"], "ROUTINE");
    assert!(a["created"].as_str().unwrap().ends_with("+08:00"), "{a}");
    let who: Vec<&Value> = a["participant"].as_array().unwrap().iter().map(|p| &p["actor"]).collect();
    assert_eq!(who[0]["reference"], format!("Patient/{p1}"));
    assert_eq!(who[1]["display"], "孙思远 主任医师");
    assert!(a.get("cancelationReason").is_none());
    let (total, ids, mine) = search(&reg, &format!("/fhir/Appointment?patient=Patient/{p1}")).await;
    assert_eq!((total, ids), (1, vec![b1.id.to_string()]));
    assert_eq!(mine["entry"][0]["resource"], a);
    let (total, _, _) = search(&reg, &format!("/fhir/Appointment?patient={p1}&status=cancelled,noshow")).await;
    assert_eq!(total, 0);

    // a cancellation frees the slot
    dayi_app::booking::cancel(&t.app, &cli, b1.id, "行程有变").await.unwrap();
    let cancelled = ok(&reg, &format!("/fhir/Appointment/{}", b1.id)).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelationReason"]["text"], "行程有变");
    assert_eq!(ok(&reg, &format!("/fhir/Slot/{sid}-3")).await["status"], "free");
    let (total, ids, _) = search(&reg, &format!("/fhir/Appointment?patient=Patient/{p1}&status=cancelled")).await;
    assert_eq!((total, ids), (1, vec![b1.id.to_string()]));
    assert_eq!(statuses(&slots(&reg, sid).await), ["free", "free", "free", "free", "free", "free", "busy"]);

    // a clinic stop: the schedule inactive, every slot unavailable, the held booking cancelled by the provider
    dayi_app::roster::stop(&t.app, &cli, sid, "医生临时外出").await.unwrap();
    let stopped = ok(&reg, &format!("/fhir/Schedule/{sid}")).await;
    assert_eq!(stopped["active"], false);
    assert!(stopped["comment"].as_str().unwrap().contains("停诊：医生临时外出"), "{stopped}");
    assert!(statuses(&slots(&reg, sid).await).iter().all(|s| *s == "busy-unavailable"));
    let withdrawn = ok(&reg, &format!("/fhir/Appointment/{}", added.id)).await;
    assert_eq!(withdrawn["status"], "cancelled");
    assert_eq!(withdrawn["cancelationReason"]["coding"][0]["code"], "prov");
    assert_eq!(withdrawn["participant"][1]["status"], "declined");
    let (_, ids, _) = search(&reg, &format!("/fhir/Schedule?date={day}&active=false")).await;
    assert!(has(&ids));

    // appointment reads are accesses to the patient's record: audited
    let auditor = t.as_user("auditor").await;
    for action in ["booking.read", "booking.list"] {
        let log: Value = auditor.get(&format!("/api/audit?action={action}&actor=reg01")).await.json().await.unwrap();
        assert!(!log.as_array().unwrap().is_empty(), "{action} by reg01 is audited");
    }

    // an independent FHIR library reads every kind of answer
    let Some(python) = fhir_python() else { return };
    let meta: Value = t.client().get(t.at("/fhir/metadata")).send().await.unwrap().json().await.unwrap();
    for (module, class, v) in [
        ("schedule", "Schedule", &schedule),
        ("schedule", "Schedule", &stopped),
        ("slot", "Slot", &slot),
        ("slot", "Slot", &extra),
        ("appointment", "Appointment", &a),
        ("appointment", "Appointment", &cancelled),
        ("appointment", "Appointment", &withdrawn),
        ("bundle", "Bundle", &week),
        ("bundle", "Bundle", &free),
        ("bundle", "Bundle", &mine),
        ("capabilitystatement", "CapabilityStatement", &meta),
    ] {
        external_parse(&python, module, class, v);
    }
}

async fn fhir_booking_failures_are_operation_outcomes(t: &TestApp) {
    let reg = t.as_user("reg01").await;
    let sid = expert_session(t).await;
    let issue = |b: &Value| {
        assert_eq!(b["resourceType"], "OperationOutcome", "{b}");
        (
            b["issue"][0]["code"].as_str().unwrap().to_string(),
            b["issue"][0]["diagnostics"].as_str().unwrap().to_string(),
        )
    };
    let nobody = Uuid::now_v7();

    // unknown records
    for path in [
        format!("/fhir/Schedule/{nobody}"),
        "/fhir/Schedule/abc".into(),
        format!("/fhir/Slot/{nobody}-1"),
        format!("/fhir/Slot/{sid}-99"),
        format!("/fhir/Slot/{sid}"),
        "/fhir/Slot/abc".into(),
        format!("/fhir/Appointment/{nobody}"),
        "/fhir/Appointment/abc".into(),
    ] {
        let (status, b) = fhir(reg.get(&path).await).await;
        assert_eq!((status, issue(&b).0.as_str()), (StatusCode::NOT_FOUND, "not-found"), "{path}: {b}");
    }
    // a session nobody knows has no slots; a patient without bookings has none
    assert_eq!(search(&reg, &format!("/fhir/Slot?schedule=Schedule/{nobody}")).await.0, 0);
    assert_eq!(search(&reg, &format!("/fhir/Appointment?patient=Patient/{nobody}")).await.0, 0);

    // parameters refused with the reason in Chinese
    let year = today_cst().year();
    for (path, says) in [
        (format!("/fhir/Slot?schedule=Patient/{sid}"), "Schedule/{id}"),
        (format!("/fhir/Slot?schedule=Schedule/{sid}&status=open"), "status"),
        ("/fhir/Appointment?patient=abc".into(), "Patient/{id}"),
        (format!("/fhir/Appointment?patient=Patient/{nobody}&status=done"), "status"),
        (format!("/fhir/Appointment?patient=Patient/{nobody}&_count=x"), "_count"),
        ("/fhir/Schedule?date=tomorrow".into(), "date"),
        ("/fhir/Schedule?date=ne2026-11-23".into(), "前缀"),
        (format!("/fhir/Schedule?date=ge{year}-01-01&date=le{year}-12-31"), "92 天"),
        ("/fhir/Schedule?actor=Practitioner/x".into(), "actor:identifier"),
        ("/fhir/Schedule?service-type=vip".into(), "service-type"),
        ("/fhir/Schedule?date:missing=true".into(), "修饰符"),
    ] {
        let (status, b) = fhir(reg.get(&path).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {b}");
        let (code, diag) = issue(&b);
        assert_eq!(code, "invalid", "{path}");
        assert!(diag.starts_with("请求格式错误") && diag.contains(says), "{path}: {diag}");
    }

    // anonymous callers sign in first; a quality officer reads no bookings
    let anon = t.client();
    let r = anon.get(t.at(&format!("/fhir/Schedule/{sid}"))).send().await.unwrap();
    let (status, b) = fhir(r).await;
    assert_eq!((status, issue(&b).0.as_str()), (StatusCode::UNAUTHORIZED, "login"));
    let qc = t.as_user("qc01").await;
    for path in [format!("/fhir/Schedule/{sid}"), format!("/fhir/Slot/{sid}-1"), format!("/fhir/Appointment/{nobody}")]
    {
        let (status, b) = fhir(qc.get(&path).await).await;
        assert_eq!((status, issue(&b).0.as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{path}");
    }

    // the capability statement lists the three resources and their parameters
    let (_, m) = fhir(anon.get(t.at("/fhir/metadata")).send().await.unwrap()).await;
    let resources = m["rest"][0]["resource"].as_array().unwrap();
    for (kind, want) in [
        ("Schedule", &["date", "actor", "service-type", "active"][..]),
        ("Slot", &["schedule", "status"]),
        ("Appointment", &["patient", "status"]),
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
    let (_, outcome) = fhir(reg.get("/fhir/Slot?status=free").await).await;
    external_parse(&python, "operationoutcome", "OperationOutcome", &outcome);
}
