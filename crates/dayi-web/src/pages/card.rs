//! One code for every station (一码通用): registration, triage, consultation,
//! lab, pharmacy, cashier and ward scan or type a code here and land on the
//! patient. The station and step stay selected for the next patient.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use dayi_app::card::Presented;
use dayi_core::card::CareStep;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{Fields, fail, field_errors, message, page};
use crate::AppState;
use crate::principal::Staff;

#[derive(Deserialize, Default)]
pub struct StationQuery {
    step: Option<String>,
    station: Option<String>,
}

fn steps() -> Value {
    Value::from(CareStep::ALL.iter().map(|s| context! { code => s.code(), name => s.zh() }).collect::<Vec<_>>())
}

pub async fn form(State(st): State<AppState>, staff: Staff, Query(q): Query<StationQuery>) -> Response {
    if let Err(e) = dayi_app::card::require_station(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let form =
        context! { step => q.step.unwrap_or_else(|| "registration".into()), station => q.station.unwrap_or_default() };
    page(&st, &staff, StatusCode::OK, "station.html", "/station", context! { form => form, steps => steps() }).await
}

pub async fn submit(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let input = Presented {
        code: f.get("code"),
        step: f.get("step"),
        station: f.get("station"),
        voucher: f.get("voucher") == "1",
        on_behalf: f.get("on_behalf") == "1",
    };
    match dayi_app::card::resolve(&st.app, &staff.actor, &input).await {
        Ok(r) => {
            // Ready for the next patient: keep step and station, clear the code.
            let form = context! { step => input.step, station => input.station };
            let ctx = context! { form => form, steps => steps(), found => Serde(r) };
            page(&st, &staff, StatusCode::OK, "station.html", "/station", ctx).await
        }
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let ctx = context! {
                form => f.values(), steps => steps(), errors => field_errors(&e, staff.lang), error => message(&e, staff.lang),
            };
            page(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, "station.html", "/station", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}
