//! Staff pages for appointments and registration: the roster week, a
//! session's board (stop, walk-in, added slot), booking for a patient at the
//! counter, the printable registration slip, the check-in kiosk and the
//! message log.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_core::booking::BookingChannel;
use dayi_core::booking::BookingStatus;
use dayi_core::security::Perm;
use dayi_core::timefmt::today_cst;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::admin::urlencode;
use super::{Fields, fail, message, page};
use crate::AppState;
use crate::i18n::t;
use crate::params::{BookForm, parse_id};
use crate::principal::Staff;

#[derive(Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
    pub error: Option<String>,
}

/// Booking for a known patient at the counter: the sessions of the coming week.
pub async fn for_patient(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let found = match parse_id(&id) {
        Ok(pid) => dayi_app::booking::for_patient(&st.app, &staff.actor, pid).await,
        Err(e) => Err(e),
    };
    let v = match found {
        Ok(v) => v,
        Err(e) => return fail(&e, staff.lang),
    };
    let ctx = context! {
        patient => Serde(v.patient), sessions => Serde(v.sessions), mine => Serde(v.mine), today => today_cst().to_string(),
        error => d.error, notice => d.done,
    };
    page(&st, &staff, StatusCode::OK, "book.html", "/roster", ctx).await
}

/// The counter books (`kind=book`) or registers a walk-in (`kind=walk_in`).
pub async fn book(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = BookForm {
        session_id: f.get("session_id"),
        patient_id: f.get("patient_id"),
        on_behalf: f.get("on_behalf"),
        channel: f.get("channel"),
        seq: String::new(),
    };
    let walk_in = f.get("kind") == "walk_in";
    let asked = if walk_in { BookingChannel::WalkIn } else { BookingChannel::Counter };
    let r = match dayi_app::booking::require(&st.app, &staff.actor, asked).await.and_then(|()| form.parse()) {
        Ok(req) if walk_in => dayi_app::booking::walk_in(&st.app, &staff.actor, &req).await,
        Ok(req) => dayi_app::booking::book(&st.app, &staff.actor, &req).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(b) => Redirect::to(&format!("/bookings/{}", b.id)).into_response(),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let to =
                format!("/patients/{}/book?error={}", urlencode(&form.patient_id), urlencode(&message(&e, staff.lang)));
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
        can_cancel => staff.actor.can(Perm::Registration) && b.status == BookingStatus::Booked.code(),
    };
    page(&st, &staff, StatusCode::OK, "slip.html", "/roster", ctx).await
}

pub async fn cancel(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = match parse_id(&id) {
        Ok(bid) => dayi_app::booking::cancel(&st.app, &staff.actor, bid, &f.get("reason")).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Redirect::to(&format!("/bookings/{id}?done={}", urlencode(&t(staff.lang, "msg.booking.cancelled"))))
            .into_response(),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            Redirect::to(&format!("/bookings/{id}?error={}", urlencode(&message(&e, staff.lang)))).into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn kiosk(State(st): State<AppState>, staff: Staff) -> Response {
    if let Err(e) = dayi_app::booking::require_kiosk(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    page(&st, &staff, StatusCode::OK, "kiosk.html", "/kiosk", context! {}).await
}

pub async fn kiosk_scan(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let station = if f.get("station").is_empty() { t(staff.lang, "kiosk.station") } else { f.get("station") };
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
