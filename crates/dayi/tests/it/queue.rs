//! Pre-triage and queue calling over HTTP, on both databases: a clinic day
//! from check-in to the last patient; refusals that say why and change
//! nothing; two doctors racing for one patient; cross calling with priority;
//! late arrivals; triage routing and diversion; live screens and phones; a
//! restart that keeps the order; and who may do what.

use std::time::{Duration, Instant};

use dayi_app::Actor;
use dayi_core::patient::Channel;
use dayi_core::timefmt::today_cst;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{ORG, PASSWORD, Session, TestApp, csrf_in};

crate::on_both!(
    a_clinic_day_from_check_in_to_the_last_patient,
    refusals_say_why_and_change_nothing,
    two_doctors_calling_one_patient_only_one_wins,
    cross_calling_takes_turns_and_priority_goes_first,
    a_late_appointment_waits_behind_two_on_time,
    a_returning_patient_is_not_starved_by_newcomers,
    a_rush_of_check_ins_and_calls_keeps_the_pool_flowing,
    triage_routes_diverts_and_counts,
    screens_and_phones_follow_live,
    a_restart_keeps_the_queue,
    only_the_right_people_act,
);

/// The room of the test clinics; announcements name it.
pub(crate) const ROOM: &str = "内科9诊室";

pub(crate) async fn org(t: &TestApp) -> Uuid {
    dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id
}

pub(crate) async fn dept(t: &TestApp, code: &str) -> String {
    let depts = dayi_store::tenancy::list_depts(&t.app.db, org(t).await).await.unwrap();
    depts.iter().find(|d| d.code == code).unwrap().id.to_string()
}

pub(crate) async fn staff_id(t: &TestApp, username: &str) -> String {
    dayi_store::staff::by_username(&t.app.db, org(t).await, username).await.unwrap().unwrap().id.to_string()
}

/// A clinic of today for `doctor`, open all day (00:05–24:00 in five-minute
/// slots), so walk-ins register at any hour and bookings find a later slot.
pub(crate) async fn clinic(t: &TestApp, admin: &Session, dept_code: &str, doctor: &str, room: &str) -> String {
    let body = json!({
        "dept_id": dept(t, dept_code).await, "day": today_cst().to_string(), "half_day": "am",
        "clinic_type": "general", "doctor_id": staff_id(t, doctor).await, "room": room,
        "start_time": "00:05", "slot_minutes": "5", "slot_count": "287",
    });
    let v = ok(admin.post_json("/api/sessions", body).await).await;
    v["id"].as_str().unwrap().to_string()
}

/// A registered patient and what they sign in and check in with.
pub(crate) struct Patient {
    pub(crate) id: String,
    pub(crate) id_number: String,
    /// The card (hospital) number, a check-in code.
    pub(crate) card: String,
    pub(crate) name: String,
}

/// Generated people `from..from + n`: index 0 is born in 1930 (elderly).
pub(crate) async fn people(t: &TestApp, from: u64, n: u64) -> Vec<Patient> {
    let actor = Actor::cli(org(t).await);
    let mut out = vec![];
    for i in from..from + n {
        let f = dayi_app::demo::people::person(i, 11, today_cst());
        let p = dayi_app::patient::register(&t.app, &actor, &f, Channel::Counter).await.unwrap();
        out.push(Patient { id: p.id.to_string(), id_number: f.id_number.clone(), card: p.hospital_no, name: p.name });
    }
    out
}

/// Adults born around 1985: no automatic elderly priority at check-in.
pub(crate) async fn adults(t: &TestApp, from: u64, n: u64) -> Vec<Patient> {
    // The generator's birth date moves one day per 11 indices from 1930.
    people(t, 11 * 20_000 + from, n).await
}

/// Registered on the day at the counter: a walk-in, not an appointment.
pub(crate) async fn walk_in(reg: &Session, sid: &str, p: &Patient) -> String {
    let v = ok(reg.post_json("/api/walk-ins", json!({"session_id": sid, "patient_id": p.id})).await).await;
    assert_eq!(v["channel"], "walk_in");
    v["id"].as_str().unwrap().to_string()
}

/// Booked ahead at the counter: an appointment (a later slot of today).
async fn book(reg: &Session, sid: &str, p: &Patient) -> String {
    let v = ok(reg.post_json("/api/bookings", json!({"session_id": sid, "patient_id": p.id})).await).await;
    v["id"].as_str().unwrap().to_string()
}

pub(crate) async fn check_in(desk: &Session, p: &Patient) -> Value {
    ok(desk.post_json("/api/check-in", json!({"code": p.card, "station": "预检分诊台"})).await).await
}

/// Walk-ins who check in one after another; their booking ids in that order.
pub(crate) async fn arrive(reg: &Session, desk: &Session, sid: &str, ps: &[Patient]) -> Vec<String> {
    let mut out = vec![];
    for p in ps {
        let id = walk_in(reg, sid, p).await;
        let c = check_in(desk, p).await;
        assert_eq!(c["returned"], false, "a first arrival");
        out.push(id);
    }
    out
}

/// The body of a successful answer.
pub(crate) async fn ok(r: reqwest::Response) -> Value {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    assert!(status.is_success(), "{status}: {v}");
    v
}

/// Asserts a coded refusal and returns its problem body.
pub(crate) async fn refused(r: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let got = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!((got, v["code"].as_str()), (status, Some(code)), "{v}");
    v
}

/// Asserts a form refusal (422) whose `field` carries `code`.
async fn invalid(r: reqwest::Response, field: &str, code: &str) -> Value {
    let got = r.status();
    let v: Value = r.json().await.unwrap();
    assert_eq!((got, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("request.validation")), "{v}");
    let named = v["fields"].as_array().into_iter().flatten().any(|f| f["field"] == field && f["code"] == code);
    assert!(named, "{field}: {code} in {v}");
    v
}

async fn panel(doc: &Session) -> Value {
    ok(doc.get("/api/queue/panel").await).await
}

pub(crate) async fn choose(doc: &Session, sessions: &[&str]) -> Value {
    ok(doc.post_json("/api/queue/panel", json!({"sessions": sessions})).await).await
}

pub(crate) async fn next(doc: &Session) -> reqwest::Response {
    doc.post_json("/api/queue/next", json!({})).await
}

/// `call`, `call_again`, `pass`, `test` or `finish` on a booking's entry.
async fn act(doc: &Session, booking: &str, action: &str) -> reqwest::Response {
    doc.post_json(&format!("/api/queue/entries/{booking}/{action}"), json!({})).await
}

/// Booking ids of panel lines.
fn ids(lines: &Value) -> Vec<String> {
    lines.as_array().unwrap().iter().map(|l| l["booking_id"].as_str().unwrap().to_string()).collect()
}

/// Queue numbers of board lines.
fn seqs(lines: &Value) -> Vec<i64> {
    lines.as_array().unwrap().iter().map(|l| l["seq"].as_i64().unwrap()).collect()
}

/// The panel line of a booking, wherever it stands.
fn line_of<'a>(p: &'a Value, booking: &str) -> Option<&'a Value> {
    ["calling", "waiting", "away"].iter().flat_map(|k| p[*k].as_array().unwrap()).find(|l| l["booking_id"] == booking)
}

/// A room's board as its screen reads it.
async fn board(screen: &Session, sid: &str) -> Value {
    let v = ok(screen.get(&format!("/api/queue/boards?session={sid}")).await).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    v[0].clone()
}

/// Every name on a board is masked.
fn all_masked(b: &Value) {
    for k in ["calling", "next", "passed", "testing"] {
        for l in b[k].as_array().unwrap() {
            assert!(l["name"].as_str().unwrap().contains('*'), "{k}: {l}");
        }
    }
}

/// The stored entry (what a restart or a second doctor would read).
async fn entry(t: &TestApp, booking: &str) -> dayi_store::queue::Entry {
    let id = Uuid::parse_str(booking).unwrap();
    dayi_store::queue::get(&t.app.db, org(t).await, id).await.unwrap().unwrap()
}

/// The queue actions audited on a booking's entry, oldest first, as the audit administrator reads them.
async fn audited(t: &TestApp, booking: &str) -> Vec<String> {
    let auditor = t.as_user("auditor").await;
    let rows = ok(auditor.get("/api/audit?action=queue.&limit=500").await).await;
    let mut out: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["entity_id"] == booking && r["outcome"] == "ok")
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    out.reverse(); // newest first in the log
    out
}

/// A portal client signed in by ID number and card number.
async fn portal(t: &TestApp, p: &Patient) -> Session {
    let c = t.client();
    let r = c
        .post(t.at("/portal/api/login"))
        .json(&json!({"org": ORG, "id_number": p.id_number, "card_no": p.card}))
        .send()
        .await
        .unwrap();
    let v = ok(r).await;
    Session { client: c, csrf: v["csrf"].as_str().unwrap().into(), base: t.url.clone() }
}

/// A staff client signed in to the server at `base`.
async fn sign_in(base: &str, username: &str) -> Session {
    let c = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = c.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
    let csrf = csrf_in(&page).unwrap();
    let form = [("_csrf", csrf.as_str()), ("org", ORG), ("username", username), ("password", PASSWORD)];
    let r = c.post(format!("{base}/login")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{username} signs in");
    let home = c.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    Session { client: c, csrf: csrf_in(&home).unwrap_or_default(), base: base.into() }
}

/// A server-sent-event stream read chunk by chunk (events may split across chunks).
struct Events {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl Events {
    async fn open(s: &Session, path: &str) -> Self {
        let resp = s.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events { resp, buf: vec![] }
    }

    /// The next event with data, as (name, JSON), or `None` past the deadline.
    async fn next(&mut self, deadline: Instant) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8(block).unwrap();
                let mut name = "message".to_string();
                let mut data = vec![];
                for l in text.lines() {
                    if let Some(v) = l.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = l.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                // Keep-alive comments and bare retry lines carry no data.
                if !data.is_empty() {
                    return Some((name, serde_json::from_str(&data.join("\n")).unwrap()));
                }
                continue;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(c))) => self.buf.extend_from_slice(&c),
                _ => return None,
            }
        }
    }
}

fn within(secs: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(secs)
}

/// Check-in, call, call again, pass, return, tests, finish: the doctor's
/// panel keeps the call order, the board shows masked names, and every step
/// is in the audit log.
async fn a_clinic_day_from_check_in_to_the_last_patient(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    let ps = adults(t, 0, 5).await;

    // The clinic is the doctor's by default (rostered on them), among the demo ones.
    let p = panel(&doc).await;
    let mine: Vec<&Value> = p["choices"].as_array().unwrap().iter().filter(|c| c["id"] == sid.as_str()).collect();
    assert_eq!(mine.len(), 1, "{p}");
    assert_eq!(mine[0]["chosen"], true);
    assert!(mine[0]["label"].as_str().unwrap().contains(ROOM), "{}", mine[0]);
    choose(&doc, &[&sid]).await;

    // Four walk-ins; the one with an appointment checks in third yet goes first.
    let w1 = walk_in(&reg, &sid, &ps[0]).await;
    let w2 = walk_in(&reg, &sid, &ps[1]).await;
    let ap = book(&reg, &sid, &ps[2]).await;
    let w3 = walk_in(&reg, &sid, &ps[3]).await;
    let w4 = walk_in(&reg, &sid, &ps[4]).await;
    for p in &ps {
        let c = check_in(&nurse, p).await;
        assert_eq!((c["returned"].as_bool(), c["bookings"].as_array().unwrap().len()), (Some(false), 1));
    }
    let p = panel(&doc).await;
    assert_eq!(
        ids(&p["waiting"]),
        [ap.clone(), w1.clone(), w2.clone(), w3.clone(), w4.clone()],
        "appointments first, then check-in order"
    );
    assert!(p["calling"].as_array().unwrap().is_empty() && p["away"].as_array().unwrap().is_empty());
    let first = &p["waiting"][0];
    assert_eq!((first["name"].as_str(), first["status"].as_str()), (Some(ps[2].name.as_str()), Some("waiting")));
    assert_eq!((first["room"].as_str(), first["late"].as_bool()), (Some(ROOM), Some(false)));
    let ap_seq = first["seq"].as_i64().unwrap();

    // Call next: the appointment, announced with the masked name and the room.
    let c = ok(next(&doc).await).await;
    assert_eq!(c["line"]["booking_id"], ap.as_str());
    assert_eq!((c["line"]["status"].as_str(), c["line"]["calls"].as_i64()), (Some("called"), Some(1)));
    let masked = dayi_core::mask::name(&ps[2].name);
    assert!(masked.contains('*'));
    assert_eq!(c["announce"], format!("请 {ap_seq} 号 {masked} 到 {ROOM} 就诊"));
    let b = board(&nurse, &sid).await;
    assert_eq!((seqs(&b["calling"]), b["waiting"].as_i64()), (vec![ap_seq], Some(4)));
    assert_eq!((b["room"].as_str(), b["door"].as_i64()), (Some(ROOM), Some(2)));
    all_masked(&b);

    // Call again counts the calls; a no-show moves them away.
    let l = ok(act(&doc, &ap, "call_again").await).await;
    assert_eq!((l["status"].as_str(), l["calls"].as_i64()), (Some("called"), Some(2)));
    let l = ok(act(&doc, &ap, "pass").await).await;
    assert_eq!((l["status"].as_str(), l["status_name"].as_str()), (Some("passed"), Some("过号")));
    let p = panel(&doc).await;
    assert_eq!((ids(&p["away"]), ids(&p["calling"])), (vec![ap.clone()], vec![]));
    assert_eq!(seqs(&board(&nurse, &sid).await["passed"]), [ap_seq]);

    // The next walk-in; meanwhile the passed patient checks in again and the
    // recall rule (after every 2 regular patients) places them.
    let c = ok(next(&doc).await).await;
    assert_eq!(c["line"]["booking_id"], w1.as_str());
    let back = check_in(&nurse, &ps[2]).await;
    assert_eq!(back["returned"], true);
    assert_eq!(back["bookings"][0]["id"], ap.as_str());
    let p = panel(&doc).await;
    assert_eq!(ids(&p["waiting"]), [w2.clone(), w3.clone(), ap.clone(), w4.clone()]);
    let l = line_of(&p, &ap).unwrap();
    assert_eq!(
        (l["status"].as_str(), l["tag"].as_str(), l["calls"].as_i64()),
        (Some("waiting"), Some("复诊"), Some(0))
    );

    // Sent for tests: away; the next one is called; finishing clears them from the board.
    let l = ok(act(&doc, &w1, "test").await).await;
    assert_eq!(l["status"], "testing");
    assert_eq!(ids(&panel(&doc).await["away"]), vec![w1.clone()]);
    let c = ok(next(&doc).await).await;
    assert_eq!(c["line"]["booking_id"], w2.as_str());
    let w2_seq = c["line"]["seq"].as_i64().unwrap();
    let l = ok(act(&doc, &w2, "finish").await).await;
    assert_eq!(l["status"], "done");
    let b = board(&nurse, &sid).await;
    assert!(b["calling"].as_array().unwrap().is_empty(), "{b}");
    let shown: Vec<i64> = ["calling", "next", "passed", "testing"].iter().flat_map(|k| seqs(&b[*k])).collect();
    assert!(!shown.contains(&w2_seq), "finished patients leave the board: {b}");
    assert_eq!(seqs(&b["testing"]).len(), 1);
    assert!(line_of(&panel(&doc).await, &w2).is_none());

    // Back from tests: recalled too. Everyone left is called, each time the
    // head of the panel's order, each call finishing the patient before.
    assert_eq!(check_in(&nurse, &ps[0]).await["returned"], true);
    let mut called = vec![];
    loop {
        let head = panel(&doc).await["waiting"][0]["booking_id"].clone();
        let r = next(&doc).await;
        let Some(head) = head.as_str() else {
            refused(r, StatusCode::CONFLICT, "queue.empty").await;
            break;
        };
        let c = ok(r).await;
        assert_eq!(c["line"]["booking_id"], head, "the panel's first is called next");
        assert_eq!(c["line"]["calls"], 1, "a new call starts counting again");
        called.push(head.to_string());
    }
    ok(act(&doc, called.last().unwrap(), "finish").await).await;
    called.sort();
    let mut want = vec![w3.clone(), w4.clone(), ap.clone(), w1.clone()];
    want.sort();
    assert_eq!(called, want);
    let p = panel(&doc).await;
    assert!(["calling", "waiting", "away"].iter().all(|k| p[*k].as_array().unwrap().is_empty()), "{p}");
    let b = board(&nurse, &sid).await;
    assert_eq!(b["waiting"], 0);
    assert!(["calling", "next", "passed", "testing"].iter().all(|k| b[*k].as_array().unwrap().is_empty()));

    // The audit log has each step, in order, for the appointment and the tested patient.
    let want = ["queue.call", "queue.call_again", "queue.pass", "queue.return", "queue.call", "queue.finish"];
    assert_eq!(audited(t, &ap).await, want);
    let want = ["queue.call", "queue.test", "queue.return", "queue.call", "queue.finish"];
    assert_eq!(audited(t, &w1).await, want);
    assert_eq!(audited(t, &w2).await, ["queue.call", "queue.finish"]);
}

/// Every refusal names its reason with a stable code and leaves the queue,
/// the panel and the triage register as they were.
async fn refusals_say_why_and_change_nothing(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    let other = clinic(t, &admin, "03", "doc01", "内科10诊室").await;
    choose(&doc, &[&sid]).await;

    // Nobody waiting.
    let before = panel(&doc).await;
    refused(next(&doc).await, StatusCode::CONFLICT, "queue.empty").await;
    assert_eq!(panel(&doc).await, before);

    let ps = adults(t, 0, 2).await;
    let b = arrive(&reg, &nurse, &sid, &ps).await;
    let before = panel(&doc).await;
    let stored = entry(t, &b[0]).await;

    // Actions that need a called patient, on one who waits.
    for action in ["finish", "call_again", "pass", "test"] {
        let v = refused(act(&doc, &b[0], action).await, StatusCode::CONFLICT, "queue.not_called").await;
        assert!(v["title"].as_str().unwrap().contains("候诊"), "says where they stand: {v}");
    }
    // Unknown, malformed, or not an action.
    let nobody = Uuid::now_v7();
    refused(act(&doc, &nobody.to_string(), "call").await, StatusCode::NOT_FOUND, "queue.unknown").await;
    refused(act(&doc, &nobody.to_string(), "finish").await, StatusCode::NOT_FOUND, "queue.unknown").await;
    refused(act(&doc, "not-a-uuid", "call").await, StatusCode::NOT_FOUND, "request.not_found").await;
    refused(act(&doc, &b[0], "dance").await, StatusCode::NOT_FOUND, "request.not_found").await;
    // Codes that find nobody, and a check-in with nothing to return to.
    refused(
        nurse.post_json("/api/check-in", json!({"code": "0000000000"})).await,
        StatusCode::NOT_FOUND,
        "card.unknown",
    )
    .await;
    let r = nurse.post_json("/api/check-in", json!({"code": "12345"})).await;
    refused(r, StatusCode::UNPROCESSABLE_ENTITY, "card.code_unrecognised").await;
    let r = nurse.post_json("/api/check-in", json!({"code": ps[0].card})).await;
    refused(r, StatusCode::NOT_FOUND, "booking.checkin_none").await;
    // Transfers that go nowhere.
    let to = |to: &str| json!({ "to": to });
    let path = format!("/api/queue/entries/{}/transfer", b[0]);
    let r = doc.post_json(&path, to(&sid)).await;
    invalid(r, "to", "queue.transfer_same").await;
    let r = doc.post_json(&path, to("x")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = doc.post_json(&path, to(&nobody.to_string())).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "not a clinic of today");
    // Choosing no queue, or one that is not today's.
    let r = doc.post_json("/api/queue/panel", json!({"sessions": []})).await;
    invalid(r, "sessions", "queue.none_chosen").await;
    let r = doc.post_json("/api/queue/panel", json!({"sessions": ["x"]})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = doc.post_json("/api/queue/panel", json!({"sessions": [nobody.to_string()]})).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(panel(&doc).await, before, "nothing above changed the panel");
    assert_eq!(entry(t, &b[0]).await, stored, "nor the entry");

    // Paused: no calls; the screen says so; resuming calls again.
    let p = ok(doc.post_json("/api/queue/pause", json!({"paused": true})).await).await;
    assert_eq!(p["paused"], true);
    assert_eq!(board(&nurse, &sid).await["paused"], true);
    refused(next(&doc).await, StatusCode::CONFLICT, "queue.paused").await;
    refused(act(&doc, &b[0], "call").await, StatusCode::CONFLICT, "queue.paused").await;
    assert_eq!(ids(&panel(&doc).await["waiting"]), b);
    let p = ok(doc.post_json("/api/queue/pause", json!({"paused": false})).await).await;
    assert_eq!(p["paused"], false);
    assert_eq!(board(&nurse, &sid).await["paused"], false);
    let c = ok(next(&doc).await).await;
    assert_eq!(c["line"]["booking_id"], b[0].as_str());

    // Called already, then finished: each further action says why.
    let v = refused(act(&doc, &b[0], "call").await, StatusCode::CONFLICT, "queue.taken").await;
    assert!(v["title"].as_str().unwrap().contains("doc01"), "{v}");
    let r = nurse.post_json("/api/check-in", json!({"code": ps[0].card})).await;
    refused(r, StatusCode::NOT_FOUND, "booking.checkin_none").await;
    ok(act(&doc, &b[0], "finish").await).await;
    let done = entry(t, &b[0]).await;
    for action in ["finish", "call", "call_again", "pass", "test"] {
        refused(act(&doc, &b[0], action).await, StatusCode::CONFLICT, "queue.finished").await;
    }
    let r = doc.post_json(&path, to(&other)).await;
    refused(r, StatusCode::CONFLICT, "queue.finished").await;
    assert_eq!(entry(t, &b[0]).await, done);

    // A transfer that is allowed moves the patient to the other room's queue.
    let l = ok(doc.post_json(&format!("/api/queue/entries/{}/transfer", b[1]), to(&other)).await).await;
    assert_eq!((l["session_id"].as_str(), l["status"].as_str()), (Some(other.as_str()), Some("waiting")));
    assert_eq!(l["room"], "内科10诊室");
    assert!(ids(&panel(&doc).await["waiting"]).is_empty(), "left the chosen queue");
    assert_eq!(board(&nurse, &other).await["waiting"], 1);

    // Triage with a mistyped temperature or an unknown code records nothing.
    let today = today_cst().to_string();
    let register = format!("/api/triage?day={today}");
    let form = |temp: &str, symptoms: &[&str], exposures: &[&str]| {
        json!({"patient_id": ps[1].id, "temperature": temp, "symptoms": symptoms, "exposures": exposures,
               "priority": "", "dept": ""})
    };
    invalid(nurse.post_json("/api/triage", form("3.73", &[], &[])).await, "temperature", "triage.temperature").await;
    let r = nurse.post_json("/api/triage", form("36.8", &["sneeze"], &[])).await;
    invalid(r, "symptoms", "triage.symptom_unknown").await;
    let r = nurse.post_json("/api/triage", form("36.8", &[], &["moon"])).await;
    invalid(r, "exposures", "triage.symptom_unknown").await;
    let mut f = form("38.5", &[], &[]);
    f["dept"] = json!("ZZ");
    invalid(nurse.post_json("/api/triage", f).await, "dept", "triage.dept_unknown").await;
    let mut f = form("36.8", &[], &[]);
    f["priority"] = json!("vip");
    assert_eq!(nurse.post_json("/api/triage", f).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut f = form("36.8", &[], &[]);
    f["patient_id"] = json!(nobody.to_string());
    assert_eq!(nurse.post_json("/api/triage", f).await.status(), StatusCode::NOT_FOUND);
    let reg_book = ok(nurse.get(&register).await).await;
    assert_eq!((reg_book["total"].as_i64(), reg_book["records"].as_array().unwrap().len()), (Some(0), 0));
    assert_eq!(entry(t, &b[1]).await.status, "waiting", "not diverted by a refused triage");
    let r = nurse.get("/api/triage?day=yesterday").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// Two doctors press "call" on the same patient at the same moment: one
/// wins, the other is told who did, and the patient is called once.
async fn two_doctors_calling_one_patient_only_one_wins(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let (d1, d2) = (t.as_user("doc01").await, t.as_user("doc02").await);
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    let ps = adults(t, 0, 4).await;
    let bookings = arrive(&reg, &nurse, &sid, &ps).await;
    for b in &bookings {
        let (r1, r2) = tokio::join!(act(&d1, b, "call"), act(&d2, b, "call"));
        let (s1, s2) = (r1.status(), r2.status());
        let (v1, v2): (Value, Value) = (r1.json().await.unwrap(), r2.json().await.unwrap());
        let (winner, loser, body) = match (s1, s2) {
            (StatusCode::OK, StatusCode::CONFLICT) => ("doc01", "doc02", v2),
            (StatusCode::CONFLICT, StatusCode::OK) => ("doc02", "doc01", v1),
            other => panic!("exactly one call succeeds: {other:?} {v1} {v2}"),
        };
        assert_eq!(body["code"], "queue.taken", "{loser}: {body}");
        assert!(body["title"].as_str().unwrap().contains(winner), "names the winner: {body}");
        let e = entry(t, b).await;
        assert_eq!((e.status.as_str(), e.calls, e.called_by.as_deref()), ("called", 1, Some(winner)));
        assert_eq!(audited(t, b).await, ["queue.call"], "one call recorded");
    }

    // Sharing one queue, both press "call next" at once, three times: each
    // call gets its own patient and nobody is called twice.
    let more = arrive(&reg, &nurse, &sid, &adults(t, 10, 6).await).await;
    choose(&d1, &[&sid]).await;
    choose(&d2, &[&sid]).await;
    let mut called = vec![];
    for _ in 0..3 {
        let (r1, r2) = tokio::join!(next(&d1), next(&d2));
        for c in [ok(r1).await, ok(r2).await] {
            called.push(c["line"]["booking_id"].as_str().unwrap().to_string());
        }
    }
    called.sort();
    let mut want = more.clone();
    want.sort();
    assert_eq!(called, want, "six calls, six different patients");
    for b in &more {
        assert_eq!(entry(t, b).await.calls, 1);
    }
}

/// With two queues chosen the doctor's calls take turns between them; a
/// priority patient (elderly at check-in, military from triage) at the head
/// of either goes first.
async fn cross_calling_takes_turns_and_priority_goes_first(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let s1 = clinic(t, &admin, "03", "doc01", ROOM).await;
    let s2 = clinic(t, &admin, "03", "doc01", "内科10诊室").await;
    let p = choose(&doc, &[&s1, &s2]).await;
    let chosen: Vec<&Value> = p["choices"].as_array().unwrap().iter().filter(|c| c["chosen"] == true).collect();
    assert_eq!(chosen.len(), 2, "{p}");

    let ps = adults(t, 0, 6).await;
    let mut a = vec![];
    let mut b = vec![];
    for i in 0..3 {
        a.extend(arrive(&reg, &nurse, &s1, &ps[2 * i..2 * i + 1]).await);
        b.extend(arrive(&reg, &nurse, &s2, &ps[2 * i + 1..2 * i + 2]).await);
    }
    // An elderly walk-in arrives last yet heads the second queue.
    let old = &people(t, 7, 1).await[0];
    let e = arrive(&reg, &nurse, &s2, std::slice::from_ref(old)).await.remove(0);
    let p = panel(&doc).await;
    assert_eq!(
        ids(&p["waiting"]),
        [a[0].clone(), a[1].clone(), a[2].clone(), e.clone(), b[0].clone(), b[1].clone(), b[2].clone()],
        "each queue in its call order"
    );
    assert_eq!(line_of(&p, &e).unwrap()["tag"], "老年人");

    let called = async || ok(next(&doc).await).await["line"]["booking_id"].as_str().unwrap().to_string();
    // The elderly head beats the first queue's turn; then the queues alternate.
    assert_eq!(called().await, e);
    assert_eq!(called().await, a[0]);
    assert_eq!(called().await, b[0]);
    assert_eq!(called().await, a[1]);
    // It is the second queue's turn, but triage marks the first queue's head military.
    let tr = ok(nurse
        .post_json(
            "/api/triage",
            json!({"patient_id": ps[4].id, "temperature": "36.6", "symptoms": [], "exposures": [],
                   "priority": "military", "dept": ""}),
        )
        .await)
    .await;
    assert_eq!(
        (tr["route"].as_str(), tr["priority"].as_str(), tr["diverted"].as_i64()),
        (Some("department"), Some("军人"), Some(0))
    );
    assert_eq!(line_of(&panel(&doc).await, &a[2]).unwrap()["tag"], "军人");
    assert_eq!(board(&nurse, &s1).await["next"][0]["tag"], "军人");
    assert_eq!(called().await, a[2]);
    assert_eq!(called().await, b[1]);
    assert_eq!(called().await, b[2]);
    refused(next(&doc).await, StatusCode::CONFLICT, "queue.empty").await;
    // Each call finished the patient before: only the last is with the doctor.
    assert_eq!(ids(&panel(&doc).await["calling"]), vec![b[2].clone()]);
}

/// An appointment whose slot began before they arrived is late: by the
/// default rule they wait behind two on-time patients, though appointments
/// otherwise go first.
/// "Recalled after every 2" counts from the return: a patient back from a
/// no-show is called within two calls, however many arrive meanwhile.
async fn a_returning_patient_is_not_starved_by_newcomers(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    choose(&doc, &[&sid]).await;
    let ps = adults(t, 100, 12).await;
    let first = arrive(&reg, &nurse, &sid, &ps[..4]).await;
    // The first is called and does not answer; they come back at once.
    assert_eq!(ok(next(&doc).await).await["line"]["booking_id"], first[0].as_str());
    ok(act(&doc, &first[0], "pass").await).await;
    assert_eq!(check_in(&nurse, &ps[0]).await["returned"], true);
    // A newcomer checks in before every call.
    let mut called = vec![];
    for p in &ps[4..8] {
        arrive(&reg, &nurse, &sid, std::slice::from_ref(p)).await;
        called.push(ok(next(&doc).await).await["line"]["booking_id"].as_str().unwrap().to_string());
    }
    let at = called.iter().position(|b| *b == first[0]);
    assert_eq!(at, Some(2), "called third after the return (two regular first): {called:?}");
}

/// More check-ins and calls at once than the database pool has connections:
/// none waits on a second connection while holding the first.
async fn a_rush_of_check_ins_and_calls_keeps_the_pool_flowing(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let (doc1, doc2) = (t.as_user("doc01").await, t.as_user("doc02").await);
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    choose(&doc1, &[&sid]).await;
    choose(&doc2, &[&sid]).await;
    let ps = adults(t, 300, 24).await;
    for p in &ps {
        walk_in(&reg, &sid, p).await;
    }
    let started = Instant::now();
    let arrivals = futures::future::join_all(ps.iter().map(|p| check_in(&nurse, p))).await;
    assert!(arrivals.iter().all(|c| c["returned"] == false));
    let calls = futures::future::join_all((0..20).map(|i| next(if i % 2 == 0 { &doc1 } else { &doc2 }))).await;
    let mut called = std::collections::HashSet::new();
    for r in calls {
        let v = ok(r).await;
        assert!(called.insert(v["line"]["booking_id"].as_str().unwrap().to_string()), "called twice: {v}");
    }
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(panel(&doc1).await["waiting"].as_array().unwrap().len(), 4);
}

async fn a_late_appointment_waits_behind_two_on_time(t: &TestApp) {
    use dayi_app::booking::desk::{Ticket, decide};
    use dayi_core::booking::BookingChannel;
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    choose(&doc, &[&sid]).await;
    let ps = adults(t, 0, 5).await;
    // Booked at 00:01 today for the first slots (00:05, 00:10), which have begun by now.
    let o = org(t).await;
    let rules = dayi_app::booking::rules(&t.app, o).await.unwrap();
    let at = today_cst().with_hms(0, 1, 0).unwrap().assume_offset(dayi_core::timefmt::CST).unix_timestamp() * 1_000_000;
    let ticket = |p: &Patient, seq: i64| Ticket {
        org_id: o,
        session_id: Uuid::parse_str(&sid).unwrap(),
        seq: Some(seq),
        add_slot: false,
        patient_id: Uuid::parse_str(&p.id).unwrap(),
        channel: BookingChannel::Counter,
        on_behalf: "self".into(),
        booked_by: "reg01".into(),
        rules,
        now: at,
        entry: Actor::cli(o).entry("booking.create", "booking", "", None, "ok", ""),
    };
    let answers = decide(&t.app.db, vec![ticket(&ps[0], 1), ticket(&ps[1], 2)]).await.unwrap();
    let late: Vec<String> = answers.iter().map(|a| a.as_ref().unwrap().id.to_string()).collect();

    // Three walk-ins on time, then the two late appointments.
    let w = arrive(&reg, &nurse, &sid, &ps[2..]).await;
    check_in(&nurse, &ps[0]).await;
    check_in(&nurse, &ps[1]).await;
    let p = panel(&doc).await;
    let want = [&w[0], &w[1], &late[0], &w[2], &late[1]].map(|s| s.to_string());
    assert_eq!(ids(&p["waiting"]), want, "after every 2 on time, one late");
    let flags: Vec<bool> = p["waiting"].as_array().unwrap().iter().map(|l| l["late"].as_bool().unwrap()).collect();
    assert_eq!(flags, [false, false, true, false, true]);
    let c = ok(next(&doc).await).await;
    assert_eq!(c["line"]["booking_id"], w[0].as_str());
}

/// Fever goes to the fever clinic and a danger sign to emergency, each with
/// its reasons; they leave their department's board until they check in
/// again; the register counts each route.
async fn triage_routes_diverts_and_counts(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    choose(&doc, &[&sid]).await;
    let ps = adults(t, 0, 4).await;
    let b = arrive(&reg, &nurse, &sid, &ps).await;
    let seq_of = |p: &Value, id: &str| line_of(p, id).unwrap()["seq"].as_i64().unwrap();
    let p = panel(&doc).await;
    let fever_seq = seq_of(&p, &b[1]);
    let triage = |i: usize, temp: &str, symptoms: &[&str], priority: &str| {
        json!({"patient_id": ps[i].id, "temperature": temp, "symptoms": symptoms, "exposures": [],
               "priority": priority, "dept": ""})
    };

    // A preview routes without recording.
    let pv = ok(nurse.post_json("/api/triage/preview", json!({"temperature": "37.3"})).await).await;
    assert_eq!(pv["route"], "fever");

    // 38.2 ℃: the fever clinic, out of the medical queue.
    let r = nurse.post_json("/api/triage", triage(1, "38.2", &[], "")).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["route"].as_str(), v["route_name"].as_str()), (Some("fever"), Some("发热门诊")));
    assert!(v["reasons"][0].as_str().unwrap().contains("38.2"), "{v}");
    assert_eq!(
        (v["dept"].as_str(), v["diverted"].as_i64(), v["fever"].as_bool()),
        (Some("发热门诊"), Some(1), Some(true))
    );
    assert!(v["patient_name"].as_str().unwrap().contains('*'));
    let bd = board(&nurse, &sid).await;
    assert_eq!(bd["waiting"], 3);
    let shown: Vec<i64> = ["calling", "next", "passed", "testing"].iter().flat_map(|k| seqs(&bd[*k])).collect();
    assert!(!shown.contains(&fever_seq), "the diverted patient leaves the board: {bd}");
    assert!(line_of(&panel(&doc).await, &b[1]).is_none());
    assert_eq!(entry(t, &b[1]).await.status, "diverted");

    // Chest pain: emergency.
    let v = ok(nurse.post_json("/api/triage", triage(2, "", &["chest_pain"], "")).await).await;
    assert_eq!(
        (v["route"].as_str(), v["dept"].as_str(), v["diverted"].as_i64()),
        (Some("emergency"), Some("急诊医学科"), Some(1))
    );
    assert_eq!(v["reasons"][0], "危急征象：胸痛胸闷");
    // A headache stays in medicine; the disabled patient is moved to the front.
    let v = ok(nurse.post_json("/api/triage", triage(3, "36.6", &["headache"], "disabled")).await).await;
    assert_eq!(
        (v["route"].as_str(), v["dept"].as_str(), v["diverted"].as_i64()),
        (Some("department"), Some("内科"), Some(0))
    );
    assert_eq!(ids(&panel(&doc).await["waiting"]), [b[3].clone(), b[0].clone()]);

    // The fever patient checks in again (sent back): on the board once more.
    let back = check_in(&nurse, &ps[1]).await;
    assert_eq!(back["returned"], true);
    let bd = board(&nurse, &sid).await;
    assert_eq!(bd["waiting"], 3);
    assert!(seqs(&bd["next"]).contains(&fever_seq), "{bd}");
    let l = line_of(&panel(&doc).await, &b[1]).unwrap().clone();
    assert_eq!((l["status"].as_str(), l["tag"].as_str()), (Some("waiting"), Some("复诊")));
    assert_eq!(entry(t, &b[2]).await.status, "diverted", "the emergency patient has not come back");

    // The day's register: three records, one per route.
    let today = today_cst().to_string();
    let r = ok(nurse.get(&format!("/api/triage?day={today}")).await).await;
    assert_eq!((r["total"].as_i64(), r["records"].as_array().unwrap().len()), (Some(3), 3));
    let by: Vec<(String, i64)> = r["by_route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x[0].as_str().unwrap().to_string(), x[2].as_i64().unwrap()))
        .collect();
    let want: Vec<(String, i64)> =
        [("emergency", 1), ("fever", 1), ("department", 1)].map(|(r, n)| (r.into(), n)).into();
    assert_eq!(by, want);
    let fever = ok(nurse.get(&format!("/api/triage?day={today}&route=fever")).await).await;
    let recs = fever["records"].as_array().unwrap();
    assert_eq!((recs.len(), recs[0]["patient_id"].as_str()), (1, Some(ps[1].id.as_str())));
    assert_eq!(audited(t, &b[1]).await, ["queue.divert", "queue.return"]);
}

/// A zone screen hears each call within a second, with what to announce;
/// a phone sees its patient move up.
async fn screens_and_phones_follow_live(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let surgeon = t.as_user("doc02").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    let surgery = clinic(t, &admin, "04", "doc02", "外科2诊室").await;
    choose(&doc, &[&sid]).await;
    let ps = adults(t, 0, 4).await;
    let b = arrive(&reg, &nurse, &sid, &ps[..3]).await;
    let cut = arrive(&reg, &nurse, &surgery, &ps[3..]).await;
    let medicine = dept(t, "03").await;

    // The zone screen: hello, then the current board of each of its queues.
    let now = ok(nurse.get("/api/queue/boards?dept=03").await).await;
    let n = now.as_array().unwrap().len();
    assert!(n >= 1 && now.as_array().unwrap().iter().all(|x| x["dept_id"] == medicine.as_str()));
    let mut screen = Events::open(&nurse, "/api/queue/events?dept=03").await;
    let (name, _) = screen.next(within(5.0)).await.expect("hello");
    assert_eq!(name, "hello");
    let mut first = vec![];
    for _ in 0..n {
        let (name, v) = screen.next(within(5.0)).await.expect("one board per queue");
        assert_eq!(name, "board");
        first.push(v);
    }
    let mine = first.iter().find(|x| x["session_id"] == sid.as_str()).expect("our clinic's board");
    assert_eq!(mine["waiting"], 3);
    all_masked(mine);

    // The third patient's phone: two ahead, not yet at the door.
    let me = portal(t, &ps[2]).await;
    let pos = ok(me.get(&format!("/portal/api/bookings/{}/queue", b[2])).await).await;
    assert_eq!(
        (pos["ahead"].as_i64(), pos["at_door"].as_bool(), pos["room"].as_str()),
        (Some(2), Some(false), Some(ROOM))
    );
    let mut phone = Events::open(&me, &format!("/portal/api/bookings/{}/queue/events", b[2])).await;
    let (name, v) = phone.next(within(5.0)).await.expect("the position now");
    assert_eq!((name.as_str(), v["ahead"].as_i64()), ("position", Some(2)));

    // A call in surgery is not this zone's news; the call in medicine is, within a second.
    ok(act(&surgeon, &cut[0], "call").await).await;
    let start = Instant::now();
    let called = ok(next(&doc).await).await;
    let text = called["announce"].as_str().unwrap().to_string();
    let seq = called["line"]["seq"].as_i64().unwrap();
    assert!(text.contains(&format!("{seq} 号")) && text.contains('*') && text.contains(ROOM), "{text}");
    let heard = loop {
        let (name, v) = screen.next(start + Duration::from_secs(1)).await.expect("the call within a second");
        assert_eq!((name.as_str(), v["dept_id"].as_str()), ("board", Some(medicine.as_str())), "{v}");
        if !v["announce"].is_null() {
            break v;
        }
    };
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(heard["session_id"], sid.as_str());
    assert_eq!(
        (heard["announce"]["text"].as_str(), heard["announce"]["repeat"].as_i64()),
        (Some(text.as_str()), Some(2))
    );
    assert_eq!(seqs(&heard["calling"]), [seq]);
    assert_eq!(heard["waiting"], 2);
    all_masked(&heard);

    // The phone moves up: one ahead, now at the door.
    let (_, v) = phone.next(within(2.0)).await.expect("a new position");
    assert_eq!((v["ahead"].as_i64(), v["at_door"].as_bool()), (Some(1), Some(true)));
    assert_eq!(v["calling"], json!([seq]));
    let pos = ok(me.get(&format!("/portal/api/bookings/{}/queue", b[2])).await).await;
    assert_eq!(pos["ahead"], 1);
    ok(next(&doc).await).await;
    let (_, v) = phone.next(within(2.0)).await.expect("a new position");
    assert_eq!(v["ahead"], 0);
    ok(next(&doc).await).await;
    let (_, v) = phone.next(within(2.0)).await.expect("called");
    assert_eq!((v["status"].as_str(), v["ahead"].as_i64()), (Some("called"), None));
}

/// The order is computed from stored rows: a server started afresh on the
/// same database shows the same panel and board and calls the same patient next.
async fn a_restart_keeps_the_queue(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    let other = clinic(t, &admin, "04", "doc01", "外科2诊室").await;
    choose(&doc, &[&sid, &other]).await;
    let ps = adults(t, 0, 7).await;
    let b = arrive(&reg, &nurse, &sid, &ps[..5]).await;
    arrive(&reg, &nurse, &other, &ps[5..]).await;
    // Called, called again, passed and back, at tests, and a priority group.
    ok(next(&doc).await).await;
    ok(act(&doc, &b[0], "pass").await).await;
    ok(next(&doc).await).await;
    ok(next(&doc).await).await;
    ok(act(&doc, &b[1], "call_again").await).await;
    check_in(&nurse, &ps[0]).await;
    let tr = json!({"patient_id": ps[4].id, "temperature": "", "symptoms": [], "exposures": [], "priority": "martyr_family", "dept": ""});
    ok(nurse.post_json("/api/triage", tr).await).await;
    ok(doc.post_json("/api/queue/pause", json!({"paused": true})).await).await;
    let before = panel(&doc).await;
    assert_eq!(before["paused"], true);
    assert!(before["calling"].as_array().unwrap().len() + before["waiting"].as_array().unwrap().len() >= 5, "{before}");
    let boards_before = ok(nurse.get("/api/queue/boards").await).await;

    // A fresh server (new application state, empty hub) on the same database.
    let cli = dayi::Settings { db: Some(t.db_url.clone()), listen: Some("127.0.0.1:0".into()), ..Default::default() };
    let r = dayi::Settings::resolve(&cli, "unused").unwrap();
    let server = dayi::start(dayi::open_db(&r.db).await.unwrap(), &r).await.unwrap();
    let doc2 = sign_in(&server.url(), "doc01").await;
    let nurse2 = sign_in(&server.url(), "triage01").await;
    assert_eq!(panel(&doc2).await, before, "the same order and statuses after the restart");
    // The time and the revision belong to the serving process, not the queue.
    let strip = |mut v: Value| {
        for b in v.as_array_mut().unwrap() {
            b.as_object_mut().unwrap().remove("at");
            b.as_object_mut().unwrap().remove("rev");
        }
        v
    };
    assert_eq!(strip(ok(nurse2.get("/api/queue/boards").await).await), strip(boards_before));

    // And it goes on from where it was: the head of the old order is called next.
    ok(doc2.post_json("/api/queue/pause", json!({"paused": false})).await).await;
    let c = ok(next(&doc2).await).await;
    assert_eq!(c["line"]["booking_id"], before["waiting"][0]["booking_id"]);
    assert_eq!(line_of(&panel(&doc).await, c["line"]["booking_id"].as_str().unwrap()).unwrap()["status"], "called");
    server.stop().await;
}

/// Only doctors call, only triage nurses triage, screens need their
/// permission, and a patient sees only their own (or family's) place.
async fn only_the_right_people_act(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let nurse = t.as_user("triage01").await;
    let doc = t.as_user("doc01").await;
    let sid = clinic(t, &admin, "03", "doc01", ROOM).await;
    let ps = adults(t, 0, 2).await;
    let b = arrive(&reg, &nurse, &sid, &ps).await;
    let stored = entry(t, &b[0]).await;

    let forbidden = async |r: reqwest::Response| refused(r, StatusCode::FORBIDDEN, "auth.forbidden").await;
    forbidden(act(&reg, &b[0], "call").await).await;
    forbidden(next(&reg).await).await;
    forbidden(reg.get("/api/queue/panel").await).await;
    forbidden(reg.post_json("/api/queue/pause", json!({"paused": true})).await).await;
    forbidden(reg.get("/api/queue/boards").await).await;
    let tr = json!({"patient_id": ps[0].id, "temperature": "38.6"});
    forbidden(reg.post_json("/api/triage", tr.clone()).await).await;
    forbidden(doc.post_json("/api/triage", tr).await).await;
    forbidden(doc.post_json("/api/check-in", json!({"code": ps[0].card})).await).await;
    forbidden(nurse.post_json("/api/queue/next", json!({})).await).await;
    assert_eq!(entry(t, &b[0]).await, stored, "refusals changed nothing");
    // A screen account may watch; nobody signed in may not.
    let kiosk = t.as_user("kiosk01").await;
    assert_eq!(ok(kiosk.get(&format!("/api/queue/boards?session={sid}")).await).await[0]["waiting"], 2);
    let r = t.client().get(t.at("/api/queue/boards")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = t.client().get(t.at("/api/queue/events")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A patient sees their own place and not another patient's.
    let me = portal(t, &ps[0]).await;
    assert_eq!(ok(me.get(&format!("/portal/api/bookings/{}/queue", b[0])).await).await["ahead"], 0);
    let r = me.get(&format!("/portal/api/bookings/{}/queue", b[1])).await;
    let v = refused(r, StatusCode::FORBIDDEN, "portal.not_family").await;
    assert!(!v.to_string().contains(&ps[1].name), "nothing of the other patient leaks: {v}");
    let r = me.get(&format!("/portal/api/bookings/{}/queue/events", b[1])).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = me.get(&format!("/portal/api/bookings/{}/queue", Uuid::now_v7())).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Staff pages are not the portal's, and the portal is not the staff's.
    assert_eq!(me.get("/api/queue/panel").await.status(), StatusCode::UNAUTHORIZED);
    assert!(doc.get(&format!("/portal/api/bookings/{}/queue", b[0])).await.status().is_client_error());
}
