//! Staff pages for the roster (排班): the week of sessions, templates and their generation, a
//! session's board (stop, register on the spot).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_core::DomainError;
use dayi_core::roster::{ClinicType, HalfDay, WEEKDAY_ZH};
use dayi_core::security::Perm;
use dayi_core::timefmt::today_cst;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::admin::urlencode;
use super::booking::Done;
use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::i18n::{t, tf};
use crate::params::parse_id;
use crate::params::{Window, window};
use crate::principal::Staff;
use dayi_core::booking::OnBehalf;

pub(crate) fn choices() -> Value {
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

pub(crate) async fn roster_page(
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
    let sessions = match dayi_app::roster::week(&st.app, &staff.actor, from, to, dept).await {
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
    roster_page(&st, &staff, &q, StatusCode::OK, Value::from(()), Value::from(()), None).await
}

pub(crate) fn roster_form(f: &Fields) -> dayi_app::roster::RosterForm {
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
            .map(|_| t(staff.lang, "msg.roster.template"))
    } else {
        dayi_app::roster::create_session(&st.app, &staff.actor, &form)
            .await
            .map(|s| tf(staff.lang, "msg.roster.session", &[("day", &s.day), ("n", &s.slot_count.to_string())]))
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
        Ok(n) => Redirect::to(&format!(
            "/roster?done={}",
            urlencode(&tf(staff.lang, "msg.roster.generated", &[("n", &n.to_string())]))
        ))
        .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
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

pub(crate) fn back(id: &str, r: Result<String, DomainError>, staff: &Staff) -> Response {
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
            .map(|n| tf(staff.lang, "msg.roster.stopped", &[("n", &n.to_string())])),
        Err(e) => Err(e),
    };
    back(&id, r, &staff)
}

/// Walk-in or added slot from the board: the patient is identified by their code.
pub async fn register_here(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let added = f.get("kind") == "added";
    // Only staff assistance (帮办) is worth a box on the board's form.
    let on_behalf = if f.get("on_behalf") == OnBehalf::Staff.code() { OnBehalf::Staff } else { OnBehalf::Self_ };
    let r = match parse_id(&id) {
        Ok(session) => {
            dayi_app::booking::register_by_code(&st.app, &staff.actor, session, &f.get("code"), added, on_behalf).await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(b) => Redirect::to(&format!("/bookings/{}", b.id)).into_response(),
        Err(e) => back(&id, Err(e), &staff),
    }
}
