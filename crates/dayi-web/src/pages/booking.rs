//! Staff pages for appointments and registration: the roster week, a
//! session's board (stop, walk-in, added slot), booking for a patient at the
//! counter, the printable registration slip, the check-in kiosk and the
//! message log.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::booking::BookRequest;
use dayi_app::card::Presented;
use dayi_core::DomainError;
use dayi_core::card::CareStep;
use dayi_core::roster::{ClinicType, HalfDay, WEEKDAY_ZH};
use dayi_core::security::Perm;
use dayi_core::timefmt::today_cst;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::params::parse_id;
use crate::params::{Window, window};
use crate::principal::Staff;

fn choices() -> Value {
    context! {
        half_days => Value::from(HalfDay::ALL.iter().map(|h| context! { code => h.code(), name => h.zh() }).collect::<Vec<_>>()),
        clinic_types => Value::from(ClinicType::ALL.iter().map(|c| context! { code => c.code(), name => c.zh() }).collect::<Vec<_>>()),
        weekdays => Value::from(WEEKDAY_ZH.iter().enumerate().map(|(i, n)| context! { code => i + 1, name => *n }).collect::<Vec<_>>()),
    }
}

#[derive(Deserialize, Default)]
pub struct RosterQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    dept: String,
    done: Option<String>,
}

async fn roster_page(
    st: &AppState,
    staff: &Staff,
    q: &RosterQuery,
    status: StatusCode,
    form: Value,
    errors: Value,
    error: Option<String>,
) -> Response {
    let w = Window { from: q.from.clone(), to: String::new(), dept: q.dept.clone() };
    let (from, to, dept) = match window(&w) {
        Ok(v) => v,
        Err(e) => return fail(&e, staff.lang),
    };
    let org = staff.actor.org_id;
    let sessions = match dayi_app::roster::sessions(&st.app, org, from, to, dept).await {
        Ok(s) => s,
        Err(e) => return fail(&e, staff.lang),
    };
    let depts = dayi_app::tenancy::clinical_depts(&st.app, org).await.unwrap_or_default();
    let can_schedule = staff.actor.can(Perm::Schedule);
    let templates = if can_schedule {
        dayi_app::roster::templates(&st.app, &staff.actor).await.unwrap_or_default()
    } else {
        vec![]
    };
    let templates: Vec<Value> = templates
        .iter()
        .map(|t| {
            context! {
                id => t.id.to_string(), weekday => WEEKDAY_ZH.get((t.weekday - 1).clamp(0, 6) as usize).copied().unwrap_or(""),
                half_day => HalfDay::parse(&t.half_day).map(|h| h.zh()).unwrap_or(""),
                clinic_type => ClinicType::parse(&t.clinic_type).map(|c| c.zh()).unwrap_or(""),
                dept => depts.iter().find(|d| d.id == t.dept_id).map(|d| d.name.clone()).unwrap_or_default(),
                doctor => t.doctor_name.clone(), title => t.doctor_title.clone(), visiting_from => t.visiting_from.clone(),
                time => t.start_time.clone(), slots => t.slot_count, minutes => t.slot_minutes, active => t.active,
            }
        })
        .collect();
    let prev = (from - time::Duration::days(7)).to_string();
    let next = (from + time::Duration::days(7)).to_string();
    let ctx = context! {
        sessions => Serde(sessions), depts => Serde(depts.iter().map(|d| context!{ id => d.id.to_string(), name => d.name.clone() }).collect::<Vec<_>>()),
        from => from.to_string(), to => to.to_string(), prev => prev, next => next, dept => q.dept.clone(),
        can_schedule => can_schedule, templates => templates, choices => choices(), form => form, errors => errors,
        error => error, notice => q.done.clone(),
    };
    page(st, staff, status, "roster.html", "/roster", ctx).await
}

pub async fn roster(State(st): State<AppState>, staff: Staff, Query(q): Query<RosterQuery>) -> Response {
    if !staff.actor.can(Perm::Schedule)
        && let Err(e) = staff.actor.require(&st.app, Perm::PatientRead).await
    {
        return fail(&e, staff.lang);
    }
    roster_page(&st, &staff, &q, StatusCode::OK, Value::from(()), Value::from(()), None).await
}

fn roster_form(f: &Fields) -> dayi_app::roster::RosterForm {
    dayi_app::roster::RosterForm {
        dept_id: f.get("dept_id"),
        day: f.get("day"),
        weekday: f.get("weekday"),
        half_day: f.get("half_day"),
        clinic_type: f.get("clinic_type"),
        doctor_id: f.get("doctor_id"),
        doctor_name: f.get("doctor_name"),
        doctor_title: f.get("doctor_title"),
        visiting_from: f.get("visiting_from"),
        room: f.get("room"),
        start_time: f.get("start_time"),
        slot_minutes: f.get("slot_minutes"),
        slot_count: f.get("slot_count"),
    }
}

/// Adds a one-off session (`kind=session`) or a weekly template (`kind=template`).
pub async fn add(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = roster_form(&f);
    let result = if f.get("kind") == "template" {
        dayi_app::roster::create_template(&st.app, &staff.actor, &form)
            .await
            .map(|_| "已添加每周排班，点击「生成排班」生成未来各周的出诊".to_string())
    } else {
        dayi_app::roster::create_session(&st.app, &staff.actor, &form)
            .await
            .map(|s| format!("已添加 {} 出诊，{} 个号源", s.day, s.slot_count))
    };
    match result {
        Ok(done) => Redirect::to(&format!("/roster?done={}", urlencode(&done))).into_response(),
        Err(e) if is_form_error(&e) || e.code.status() == 422 => {
            let q = RosterQuery::default();
            let (errors, error) = (field_errors(&e, staff.lang), Some(message(&e, staff.lang)));
            roster_page(&st, &staff, &q, StatusCode::UNPROCESSABLE_ENTITY, f.values(), errors, error).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn generate(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let weeks = f.get("weeks").parse::<i64>().unwrap_or(2);
    match dayi_app::roster::generate(&st.app, &staff.actor, today_cst(), weeks).await {
        Ok(n) => {
            Redirect::to(&format!("/roster?done={}", urlencode(&format!("已生成 {n} 个出诊时段")))).into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    error: Option<String>,
}

pub async fn board(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    match dayi_app::roster::board(&st.app, &staff.actor, id).await {
        Ok((session, rows)) => {
            let ctx = context! {
                session => Serde(session), rows => Serde(rows), notice => d.done, error => d.error,
                can_schedule => staff.actor.can(Perm::Schedule), can_register => staff.actor.can(Perm::Registration),
                can_add => staff.actor.can(Perm::Clinical),
            };
            page(&st, &staff, StatusCode::OK, "session_board.html", "/roster", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

fn back(id: &str, r: Result<String, DomainError>, staff: &Staff) -> Response {
    match r {
        Ok(done) => Redirect::to(&format!("/roster/sessions/{id}?done={}", urlencode(&done))).into_response(),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            Redirect::to(&format!("/roster/sessions/{id}?error={}", urlencode(&message(&e, staff.lang))))
                .into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn stop(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = match parse_id(&id) {
        Ok(sid) => dayi_app::roster::stop(&st.app, &staff.actor, sid, &f.get("reason"))
            .await
            .map(|n| format!("已停诊，已通知 {n} 位预约患者（站内通知和短信）")),
        Err(e) => Err(e),
    };
    back(&id, r, &staff)
}

/// Walk-in or added slot from the board: the patient is identified by their code.
pub async fn register_here(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let added = f.get("kind") == "added";
    // The use case checks the exact permission; refuse early anyone with neither.
    if !staff.actor.can(Perm::Registration) && !staff.actor.can(Perm::Clinical) {
        let need = if added { Perm::Clinical } else { Perm::Registration };
        if let Err(e) = staff.actor.require(&st.app, need).await {
            return fail(&e, staff.lang);
        }
    }
    let presented = Presented {
        code: f.get("code"),
        step: CareStep::Registration.code().into(),
        station: if added { "诊间加号".into() } else { "挂号窗口".into() },
        voucher: false,
        on_behalf: f.get("on_behalf") == "staff",
    };
    let who = match dayi_app::card::resolve(&st.app, &staff.actor, &presented).await {
        Ok(r) => r.patient.id,
        Err(e) => return back(&id, Err(e), &staff),
    };
    let req = BookRequest {
        session_id: id.clone(),
        patient_id: who.to_string(),
        on_behalf: f.get("on_behalf"),
        ..Default::default()
    };
    let r = if added {
        dayi_app::booking::add_slot(&st.app, &staff.actor, &req).await
    } else {
        dayi_app::booking::walk_in(&st.app, &staff.actor, &req).await
    };
    match r {
        Ok(b) => Redirect::to(&format!("/bookings/{}", b.id)).into_response(),
        Err(e) => back(&id, Err(e), &staff),
    }
}

/// Booking for a known patient at the counter: the sessions of the coming week.
pub async fn for_patient(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    if let Err(e) = staff.actor.require(&st.app, Perm::Registration).await {
        return fail(&e, staff.lang);
    }
    let pid = match parse_id(&id) {
        Ok(p) => p,
        Err(e) => return fail(&e, staff.lang),
    };
    let p = match dayi_app::patient::view(&st.app, &staff.actor, pid).await {
        Ok(p) => p,
        Err(e) => return fail(&e, staff.lang),
    };
    let (from, to) = dayi_app::roster::upcoming(1);
    let sessions = dayi_app::roster::sessions(&st.app, staff.actor.org_id, from, to, None).await.unwrap_or_default();
    let mine = dayi_app::booking::of_patient(&st.app, &staff.actor, pid).await.unwrap_or_default();
    let mine = dayi_app::booking::with_sessions(&st.app, staff.actor.org_id, &mine).await.unwrap_or_default();
    let ctx = context! {
        patient => Serde(p), sessions => Serde(sessions), mine => Serde(mine), today => today_cst().to_string(),
        error => d.error, notice => d.done,
    };
    page(&st, &staff, StatusCode::OK, "book.html", "/roster", ctx).await
}

/// The counter books (`kind=book`) or registers a walk-in (`kind=walk_in`).
pub async fn book(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let req = BookRequest {
        session_id: f.get("session_id"),
        patient_id: f.get("patient_id"),
        on_behalf: f.get("on_behalf"),
        channel: f.get("channel"),
        seq: String::new(),
    };
    let r = if f.get("kind") == "walk_in" {
        dayi_app::booking::walk_in(&st.app, &staff.actor, &req).await
    } else {
        dayi_app::booking::book(&st.app, &staff.actor, &req).await
    };
    match r {
        Ok(b) => Redirect::to(&format!("/bookings/{}", b.id)).into_response(),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let to =
                format!("/patients/{}/book?error={}", urlencode(&req.patient_id), urlencode(&message(&e, staff.lang)));
            Redirect::to(&to).into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// The registration slip (挂号凭条), printable.
pub async fn slip(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, Query(d): Query<Done>) -> Response {
    let b = match parse_id(&id) {
        Ok(id) => dayi_app::booking::get(&st.app, &staff.actor, id).await,
        Err(e) => Err(e),
    };
    let b = match b {
        Ok(b) => b,
        Err(e) => return fail(&e, staff.lang),
    };
    let t = match dayi_app::booking::with_sessions(&st.app, staff.actor.org_id, std::slice::from_ref(&b)).await {
        Ok(mut v) => v.remove(0),
        Err(e) => return fail(&e, staff.lang),
    };
    let p = dayi_app::patient::view(&st.app, &staff.actor, b.patient_id).await.ok();
    let ctx = context! {
        tk => Serde(t), patient => Serde(p), notice => d.done, error => d.error,
        can_cancel => staff.actor.can(Perm::Registration) && b.status == "booked",
    };
    page(&st, &staff, StatusCode::OK, "slip.html", "/roster", ctx).await
}

pub async fn cancel(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = match parse_id(&id) {
        Ok(bid) => dayi_app::booking::cancel(&st.app, &staff.actor, bid, &f.get("reason")).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Redirect::to(&format!("/bookings/{id}?done={}", urlencode("已取消预约，号源已释放"))).into_response(),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            Redirect::to(&format!("/bookings/{id}?error={}", urlencode(&message(&e, staff.lang)))).into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn kiosk(State(st): State<AppState>, staff: Staff) -> Response {
    if let Err(e) = staff.actor.require(&st.app, Perm::CheckIn).await {
        return fail(&e, staff.lang);
    }
    page(&st, &staff, StatusCode::OK, "kiosk.html", "/kiosk", context! {}).await
}

pub async fn kiosk_scan(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let station = if f.get("station").is_empty() { "门诊自助签到机".to_string() } else { f.get("station") };
    match dayi_app::booking::check_in(&st.app, &staff.actor, &f.get("code"), &station).await {
        Ok(c) => page(&st, &staff, StatusCode::OK, "kiosk.html", "/kiosk", context! { done => Serde(c) }).await,
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            // A kiosk shows one line: the field's own message says most.
            let text = match e.fields.first() {
                Some(fe) if staff.lang == crate::i18n::Lang::En => fe.en(),
                Some(fe) => fe.zh(),
                None => message(&e, staff.lang),
            };
            let ctx = context! { error => text, form => f.values() };
            page(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, "kiosk.html", "/kiosk", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn messages(State(st): State<AppState>, staff: Staff) -> Response {
    match dayi_app::roster::messages(&st.app, &staff.actor, None).await {
        Ok(rows) => {
            let rows: Vec<Value> = rows
                .iter()
                .map(|m| {
                    context! {
                        at => dayi_core::timefmt::show(m.created_at), phone => dayi_core::mask::phone(&m.phone),
                        template => m.template.clone(), body => m.body.clone(), gateway => m.gateway.clone(),
                        status => m.status.clone(), error => m.error.clone(),
                    }
                })
                .collect();
            let ctx = context! { rows => rows, gateway => st.app.sms.name() };
            page(&st, &staff, StatusCode::OK, "messages.html", "/messages", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}
