//! Appointments and registration over HTTP, on both databases: the counter
//! and the portal book, cancel and rebook; the morning rush never sells a
//! slot twice nor breaks a rule; refusals change nothing; walk-ins check in
//! by their health-card code; a clinic stop notifies every booked patient.

use dayi_app::Actor;
use dayi_core::patient::Channel;
use dayi_core::timefmt::today_cst;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{ORG, Session, TestApp};

crate::on_both!(
    counter_and_portal_book_cancel_and_rebook,
    morning_rush_never_oversells_nor_breaks_rules,
    refusals_say_why_and_change_nothing,
    walk_in_checks_in_by_code_and_stop_notifies,
    one_batch_mixes_walk_ins_choices_and_added_slots
);

async fn org(t: &TestApp) -> Uuid {
    dayi_app::tenancy::by_code(&t.app, ORG).await.unwrap().unwrap().org_id
}

async fn dept(t: &TestApp, code: &str) -> String {
    let depts = dayi_store::tenancy::list_depts(&t.app.db, org(t).await).await.unwrap();
    depts.iter().find(|d| d.code == code).unwrap().id.to_string()
}

/// A session `days` from today, created over the API by the administrator.
async fn session(t: &TestApp, admin: &Session, dept_code: &str, days: i64, start: &str, slots: u32) -> Value {
    let day = (today_cst() + time::Duration::days(days)).to_string();
    let body = json!({
        "dept_id": dept(t, dept_code).await, "day": day, "half_day": "pm", "clinic_type": "general",
        "doctor_name": "测试医生", "start_time": start, "slot_minutes": "5", "slot_count": slots.to_string(),
    });
    let r = admin.post_json("/api/sessions", body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json().await.unwrap()
}

/// Registers `n` generated patients; returns (id, resident ID, card number).
async fn patients(t: &TestApp, from: u64, n: u64) -> Vec<(String, String, String)> {
    let actor = Actor::cli(org(t).await);
    let mut out = vec![];
    for i in from..from + n {
        let f = dayi_app::demo::people::person(i, 11, today_cst());
        let p = dayi_app::patient::register(&t.app, &actor, &f, Channel::Counter).await.unwrap();
        out.push((p.id.to_string(), f.id_number.clone(), p.hospital_no.clone()));
    }
    out
}

/// A portal client signed in by ID number and card number, with its CSRF token.
async fn portal(t: &TestApp, id_number: &str, card_no: &str) -> Session {
    let c = t.client();
    let r = c
        .post(t.at("/portal/api/login"))
        .json(&json!({"org": ORG, "id_number": id_number, "card_no": card_no}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    Session { client: c, csrf: v["csrf"].as_str().unwrap().into(), base: t.url.clone() }
}

async fn free(t: &TestApp, id: &str) -> i64 {
    let s = dayi_app::roster::session(&t.app, org(t).await, Uuid::parse_str(id).unwrap()).await.unwrap();
    s.free
}

async fn counter_and_portal_book_cancel_and_rebook(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let s = session(t, &admin, "03", 1, "14:00", 10).await;
    let sid = s["id"].as_str().unwrap();
    assert_eq!(s["free"], 10);
    let ps = patients(t, 1, 2).await;

    // the portal books the first free slot
    let me = portal(t, &ps[0].1, &ps[0].2).await;
    let r = me.post_json("/portal/api/bookings", json!({"session_id": sid, "patient_id": ps[0].0})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["seq"], 1);
    assert_eq!(b["channel"], "portal");
    let reg_no = b["reg_no"].as_str().unwrap();
    assert!(reg_no.starts_with("003") && reg_no.ends_with("00001") && reg_no.len() == 16, "{reg_no}");
    assert_eq!(free(t, sid).await, 9);

    // someone else's record is refused in the portal
    let r = me.post_json("/portal/api/bookings", json!({"session_id": sid, "patient_id": ps[1].0})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "portal.not_family");

    // cancel frees the slot, rebooking takes it again
    let id = b["id"].as_str().unwrap();
    let r = me.post_json(&format!("/portal/api/bookings/{id}/cancel"), json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_eq!(free(t, sid).await, 10);
    let r = me.post_json("/portal/api/bookings", json!({"session_id": sid, "patient_id": ps[0].0})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["seq"], 1, "the freed slot is sold again");
    let mine: Value = me.get("/portal/api/bookings").await.json().await.unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 2, "cancelled and active");

    // the counter sees it on the board, masked, and books the second patient for a relative
    let board: Value = reg.get(&format!("/api/sessions/{sid}/board")).await.json().await.unwrap();
    let first = &board["slots"][0];
    assert_eq!(first["booking"]["channel"], "portal");
    assert!(first["patient_name"].as_str().unwrap().contains('*'), "names are masked");
    let r =
        reg.post_json("/api/bookings", json!({"session_id": sid, "patient_id": ps[1].0, "on_behalf": "family"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let b2: Value = r.json().await.unwrap();
    assert_eq!((b2["seq"].as_i64(), b2["on_behalf"].as_str()), (Some(2), Some("family")));
    // its registration fee is an unpaid charge; cancelling voids it
    let charges = dayi_store::booking::charges_of_booking(&t.app.db, org(t).await, parse(&b2["id"])).await.unwrap();
    assert_eq!((charges.len(), charges[0].status.as_str(), charges[0].amount_fen), (1, "unpaid", 500));
    let r = reg
        .post_json(&format!("/api/bookings/{}/cancel", b2["id"].as_str().unwrap()), json!({"reason": "家属来电取消"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let charges = dayi_store::booking::charges_of_booking(&t.app.db, org(t).await, parse(&b2["id"])).await.unwrap();
    assert_eq!(charges[0].status, "void");
}

fn parse(v: &Value) -> Uuid {
    Uuid::parse_str(v.as_str().unwrap()).unwrap()
}

async fn morning_rush_never_oversells_nor_breaks_rules(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let small = session(t, &admin, "03", 1, "14:00", 12).await;
    let other = session(t, &admin, "03", 1, "15:00", 12).await;
    let ps = patients(t, 100, 40).await;
    let mut tasks = tokio::task::JoinSet::new();
    // 40 patients at once for 12 slots; each also tries a second session of the same department
    for p in &ps {
        for sid in [small["id"].clone(), other["id"].clone()] {
            let (c, csrf, url, pid) = (reg.client.clone(), reg.csrf.clone(), t.url.clone(), p.0.clone());
            tasks.spawn(async move {
                let r = c
                    .post(format!("{url}/api/bookings"))
                    .header("x-csrf-token", csrf)
                    .json(&json!({"session_id": sid, "patient_id": pid}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let v: Value = r.json().await.unwrap();
                (status, v)
            });
        }
    }
    let mut ok = 0;
    let mut refused = std::collections::BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (status, v) = r.unwrap();
        if status == StatusCode::CREATED {
            ok += 1;
        } else {
            *refused.entry(v["code"].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
    }
    assert_eq!(ok, 24, "every slot sold exactly once: {refused:?}");
    assert!(refused.keys().all(|k| k == "booking.full" || k == "booking.dept_limit"), "{refused:?}");
    let o = org(t).await;
    assert_eq!(dayi_store::booking::oversold(&t.app.db, o).await.unwrap(), 0);
    // nobody holds two slots of one department on one day
    for p in &ps {
        let rows = dayi_store::booking::of_patient(&t.app.db, o, parse(&json!(p.0)), "2000-01-01", 10).await.unwrap();
        assert!(rows.iter().filter(|b| b.status == "booked").count() <= 1, "{}", p.0);
    }
    assert_eq!(free(t, small["id"].as_str().unwrap()).await + free(t, other["id"].as_str().unwrap()).await, 0);

    // cancel and book race for one slot: the slot ends up held by exactly one active booking
    let taken: Value =
        reg.get(&format!("/api/sessions/{}/board", small["id"].as_str().unwrap())).await.json().await.unwrap();
    let victim = taken["slots"][0]["booking"]["id"].as_str().unwrap().to_string();
    let late = patients(t, 200, 6).await;
    let mut tasks = tokio::task::JoinSet::new();
    {
        let (c, csrf, url) = (reg.client.clone(), reg.csrf.clone(), t.url.clone());
        tasks.spawn(async move {
            c.post(format!("{url}/api/bookings/{victim}/cancel"))
                .header("x-csrf-token", csrf)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    for p in &late {
        let (c, csrf, url, pid, sid) =
            (reg.client.clone(), reg.csrf.clone(), t.url.clone(), p.0.clone(), small["id"].clone());
        tasks.spawn(async move {
            c.post(format!("{url}/api/bookings"))
                .header("x-csrf-token", csrf)
                .json(&json!({"session_id": sid, "patient_id": pid}))
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut created = 0;
    while let Some(s) = tasks.join_next().await {
        if s.unwrap() == StatusCode::CREATED {
            created += 1;
        }
    }
    assert!(created <= 1, "at most the one freed slot is resold");
    assert_eq!(dayi_store::booking::oversold(&t.app.db, o).await.unwrap(), 0);
    assert_eq!(free(t, small["id"].as_str().unwrap()).await, 1 - created);
}

async fn refusals_say_why_and_change_nothing(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let ps = patients(t, 300, 2).await;
    let book = |sid: &Value, pid: &str| json!({"session_id": sid, "patient_id": pid});
    let code = |v: Value| v["code"].as_str().unwrap().to_string();

    // not released yet (30 days ahead)
    let later = session(t, &admin, "03", 30, "14:00", 5).await;
    let r = reg.post_json("/api/bookings", book(&later["id"], &ps[0].0)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(v.clone()), "booking.not_released");
    assert!(v["title"].as_str().unwrap().contains("放号"), "{v}");
    assert_eq!(free(t, later["id"].as_str().unwrap()).await, 5);

    // real-name booking: the same patient twice in one session
    let s = session(t, &admin, "03", 2, "14:00", 5).await;
    assert_eq!(reg.post_json("/api/bookings", book(&s["id"], &ps[0].0)).await.status(), StatusCode::CREATED);
    let r = reg.post_json("/api/bookings", book(&s["id"], &ps[0].0)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(code(r.json().await.unwrap()), "booking.session_taken");
    assert_eq!(free(t, s["id"].as_str().unwrap()).await, 4);

    // a chosen slot already taken, and a full session
    let r = reg.post_json("/api/bookings", json!({"session_id": s["id"], "patient_id": ps[1].0, "seq": "1"})).await;
    assert_eq!(code(r.json().await.unwrap()), "booking.slot_taken");
    let tiny = session(t, &admin, "04", 2, "14:00", 1).await;
    assert_eq!(reg.post_json("/api/bookings", book(&tiny["id"], &ps[0].0)).await.status(), StatusCode::CREATED);
    let r = reg.post_json("/api/bookings", book(&tiny["id"], &ps[1].0)).await;
    assert_eq!(code(r.json().await.unwrap()), "booking.full");
    // Every refusal is audited with its reason, beside the bookings made.
    let f = dayi_store::audit::Filter {
        action_prefix: Some("booking.create".into()),
        patient_id: Some(parse(&json!(ps[1].0))),
        limit: 10,
        ..Default::default()
    };
    let rows = dayi_store::audit::search(&t.app.db, org(t).await, &f).await.unwrap();
    let seen: Vec<(&str, &str)> =
        rows.iter().map(|r| (r.outcome.as_str(), r.detail.split(' ').next().unwrap_or(""))).collect();
    assert_eq!(seen, vec![("failed", "booking.full"), ("failed", "booking.slot_taken")], "{rows:?}");
    assert!(rows.iter().all(|r| r.actor_name == "reg01"));

    // a stopped session
    let r = admin
        .post_json(&format!("/api/sessions/{}/stop", s["id"].as_str().unwrap()), json!({"reason": "医生外出会诊"}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["notified"], 1);
    let r = reg.post_json("/api/bookings", book(&s["id"], &ps[1].0)).await;
    assert_eq!(code(r.json().await.unwrap()), "booking.stopped");

    // a blocked patient (no-shows) may not book ahead, but may still register on the day
    let o = org(t).await;
    let mut tx = t.app.db.begin().await.unwrap();
    let until = (today_cst() + time::Duration::days(30)).to_string();
    dayi_store::booking::block(&mut tx, o, parse(&json!(ps[1].0)), &until, 3, 0).await.unwrap();
    tx.commit().await.unwrap();
    let open = session(t, &admin, "05", 1, "14:00", 5).await;
    let r = reg.post_json("/api/bookings", book(&open["id"], &ps[1].0)).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(v.clone()), "booking.blocked");
    assert!(v["title"].as_str().unwrap().contains(&until), "{v}");

    // a missing session and a malformed body
    let r = reg.post_json("/api/bookings", book(&json!(Uuid::nil().to_string()), &ps[0].0)).await;
    assert_eq!(code(r.json().await.unwrap()), "booking.session_unknown");
    let r = reg.post_json("/api/bookings", json!({"session_id": "x", "patient_id": ps[0].0})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // the doctor may not book at the counter; the registrar may not stop a clinic
    let doc = t.as_user("doc01").await;
    assert_eq!(doc.post_json("/api/bookings", book(&open["id"], &ps[0].0)).await.status(), StatusCode::FORBIDDEN);
    let r =
        reg.post_json(&format!("/api/sessions/{}/stop", open["id"].as_str().unwrap()), json!({"reason": "x"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(dayi_store::booking::oversold(&t.app.db, o).await.unwrap(), 0);
}

async fn walk_in_checks_in_by_code_and_stop_notifies(t: &TestApp) {
    let admin = t.as_user("admin").await;
    let reg = t.as_user("reg01").await;
    let o = org(t).await;
    // a session today whose first slot began ten minutes ago: walk-ins may still take it
    let now = time::OffsetDateTime::now_utc().to_offset(dayi_core::timefmt::CST).time();
    let start = (i64::from(now.hour()) * 60 + i64::from(now.minute()) - 10).max(0);
    let slots = ((24 * 60 - start) / 5).min(100) as u32;
    let today = session(t, &admin, "03", 0, &format!("{:02}:{:02}", start / 60, start % 60), slots).await;
    let ps = patients(t, 400, 3).await;
    let r = reg.post_json("/api/bookings", json!({"session_id": today["id"], "patient_id": ps[0].0, "seq": "1"})).await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "booking.past",
        "a slot whose time passed cannot be booked ahead"
    );
    let r = reg.post_json("/api/walk-ins", json!({"session_id": today["id"], "patient_id": ps[0].0})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let w: Value = r.json().await.unwrap();
    assert_eq!(w["channel"], "walk_in");

    // check-in at the kiosk with the static health-card code
    let card = dayi_store::patient::get(&t.app.db, o, parse(&json!(ps[0].0))).await.unwrap().unwrap().card_id;
    let kiosk = t.as_user("kiosk01").await;
    let page = kiosk.get("/kiosk").await.text().await.unwrap();
    let kiosk = Session { csrf: crate::harness::csrf_in(&page).unwrap(), ..kiosk };
    let r = kiosk.post_json("/api/check-in", json!({"code": format!("{card}:1"), "station": "门诊大厅1号机"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["bookings"][0]["status"], "checked_in");
    assert!(c["bookings"][0]["checked_in_at"].is_string(), "arrival time recorded");
    let r = kiosk.post_json("/api/check-in", json!({"code": format!("{card}:1")})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "booking.checkin_none", "checked in already");
    let uses = dayi_store::card::uses(&t.app.db, o, parse(&json!(ps[0].0)), 5).await.unwrap();
    assert_eq!(uses[0].step, "checkin");

    // stopping a clinic notifies each booked patient: a notice and a text message
    let tomorrow = session(t, &admin, "03", 1, "14:00", 5).await;
    for p in &ps[1..] {
        let r = reg.post_json("/api/bookings", json!({"session_id": tomorrow["id"], "patient_id": p.0})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let sid = tomorrow["id"].as_str().unwrap();
    let r = admin.post_json(&format!("/api/sessions/{sid}/stop"), json!({"reason": "医生外出会诊"})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["notified"], 2);
    for p in &ps[1..] {
        let n = dayi_store::message::notifications(&t.app.db, o, parse(&json!(p.0)), 5).await.unwrap();
        assert!(n[0].body.contains("停诊") && n[0].body.contains("医生外出会诊"), "{}", n[0].body);
    }
    let msgs: Value = reg.get("/api/messages").await.json().await.unwrap();
    let stopped: Vec<&Value> = msgs.as_array().unwrap().iter().filter(|m| m["template"] == "clinic_stopped").collect();
    assert_eq!(stopped.len(), 2);
    assert!(stopped.iter().all(|m| m["status"] == "sent" && m["phone"].as_str().unwrap().contains('*')));
    let board: Value = reg.get(&format!("/api/sessions/{sid}/board")).await.json().await.unwrap();
    assert_eq!(board["session"]["stopped"], true);
    assert!(
        board["slots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["booking"].is_null())
            .all(|s| s["booking"]["status"] == "stopped")
    );
}

/// One desk batch during a clinic: walk-ins may take slots whose time has
/// passed, bookings only later ones, chosen slots are honoured or refused,
/// and a slot the doctor adds goes at the end.
async fn one_batch_mixes_walk_ins_choices_and_added_slots(t: &TestApp) {
    use dayi_app::booking::desk::{Ticket, decide};
    use dayi_core::booking::BookingChannel;
    let admin = t.as_user("admin").await;
    let s = session(t, &admin, "03", 1, "14:00", 12).await;
    let sid = parse(&s["id"]);
    let o = org(t).await;
    let ps = patients(t, 300, 7).await;
    let rules = dayi_app::booking::rules(&t.app, o).await.unwrap();
    // 14:22 on the session's day: slots 1–5 (14:00–14:20) have begun.
    let day = today_cst() + time::Duration::days(1);
    let now = day.with_hms(14, 22, 0).unwrap().assume_offset(dayi_core::timefmt::CST).unix_timestamp() * 1_000_000;
    let ticket = |i: usize, channel: BookingChannel, seq: Option<i64>| Ticket {
        org_id: o,
        session_id: sid,
        seq,
        add_slot: channel == BookingChannel::Added,
        patient_id: parse(&json!(ps[i].0)),
        channel,
        on_behalf: "self".into(),
        booked_by: "reg01".into(),
        rules,
        now,
        entry: Actor::cli(o).entry("booking.create", "booking", "", None, "ok", ""),
    };
    let answers = decide(
        &t.app.db,
        vec![
            ticket(0, BookingChannel::WalkIn, None),
            ticket(1, BookingChannel::Counter, None),
            ticket(2, BookingChannel::Counter, Some(3)),
            ticket(3, BookingChannel::WalkIn, Some(2)),
            // Slot 6 is gone and the batch read only six slots: it must read the rest.
            ticket(4, BookingChannel::Counter, None),
            ticket(5, BookingChannel::Added, None),
        ],
    )
    .await
    .unwrap();
    let got: Vec<Result<i64, &str>> =
        answers.iter().map(|a| a.as_ref().map(|b| b.seq).map_err(|e| e.code.code())).collect();
    assert_eq!(got, vec![Ok(1), Ok(6), Err("booking.past"), Ok(2), Ok(7), Ok(13)]);
    let slot13 = answers[5].as_ref().unwrap();
    assert_eq!(slot13.slot_start, dayi_store::roster::get_session(&t.app.db, o, sid).await.unwrap().unwrap().ends_at);

    // The slots are stored as decided: a later choice of slot 7 is refused.
    let again = decide(&t.app.db, vec![ticket(6, BookingChannel::Counter, Some(7))]).await.unwrap();
    assert_eq!(again[0].as_ref().map_err(|e| e.code.code()).unwrap_err(), "booking.slot_taken");
    let board = dayi_store::roster::slots(&t.app.db, o, sid).await.unwrap();
    let held: Vec<i64> = board.iter().filter(|p| p.booking_id.is_some()).map(|p| p.seq).collect();
    assert_eq!(held, vec![1, 2, 6, 7, 13]);
    assert_eq!(dayi_store::booking::oversold(&t.app.db, o).await.unwrap(), 0);
}
