//! The pre-triage desk (预检分诊): find or register the patient, record the check, send them on; the
//! day's register.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use dayi_app::triage::TriageForm;
use dayi_core::DomainError;
use dayi_core::queue::PriorityGroup;
use dayi_core::triage::Route;
use minijinja::value::Serde;
use minijinja::{Value, context};

use super::{Fields, fail, field_errors, message, page};
use crate::AppState;
use crate::params::{RegisterQuery, register_query};
use crate::principal::Staff;

/// What the triage form offers: the rules' symptoms by route, the questions,
/// the priority groups and the clinical departments.
pub(crate) async fn choices(st: &AppState, staff: &Staff) -> Result<Value, DomainError> {
    let dayi_app::triage::Desk { rules, depts } = dayi_app::triage::desk(&st.app, &staff.actor).await?;
    let groups: Vec<Value> = PriorityGroup::ALL.iter().map(|g| context! { code => g.code(), name => g.zh() }).collect();
    let by_route: Vec<Value> = Route::ALL
        .iter()
        .map(|r| {
            let items: Vec<_> = rules.symptoms.iter().filter(|s| s.route == *r).collect();
            context! { code => r.code(), name => r.zh(), symptoms => Serde(items) }
        })
        .collect();
    Ok(context! {
        routes => by_route,
        questions => Serde(&rules.questions),
        fever_from => dayi_core::triage::tenths(rules.fever_from_tenths),
        groups => groups,
        depts => depts.iter().map(|d| context! { code => d.code.clone(), name => d.name.clone() }).collect::<Vec<_>>(),
    })
}

pub(crate) async fn triage_page(st: &AppState, staff: &Staff, status: StatusCode, extra: Value) -> Response {
    match choices(st, staff).await {
        Ok(c) => page(st, staff, status, "triage.html", "/triage", context! { ..extra, ..c }).await,
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn form(State(st): State<AppState>, staff: Staff) -> Response {
    triage_page(&st, &staff, StatusCode::OK, context! {}).await
}

/// The patient and their queue entries of today, for the form.
pub(crate) async fn patient_ctx(st: &AppState, staff: &Staff, id: uuid::Uuid) -> Result<Value, DomainError> {
    let p = dayi_app::patient::view(&st.app, &staff.actor, id).await?;
    let entries = dayi_app::queue::today_of(&st.app, &staff.actor, id).await?;
    Ok(context! { patient => Serde(p), entries => Serde(entries) })
}

/// Scans or types the patient's code.
pub async fn find(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let found = match dayi_app::triage::find(&st.app, &staff.actor, &f.get("code")).await {
        Ok((id, arrived)) => {
            patient_ctx(&st, &staff, id).await.map(|ctx| context! { arrived => arrived.map(Serde), ..ctx })
        }
        Err(e) => Err(e),
    };
    match found {
        Ok(ctx) => triage_page(&st, &staff, StatusCode::OK, ctx).await,
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let ctx = context! { scan => f.values(), scan_error => field_errors(&e, staff.lang).get_attr("code").ok().filter(|v| !v.is_undefined()).unwrap_or_else(|| Value::from(message(&e, staff.lang))) };
            triage_page(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// Records the triage; the result shows the route and why.
pub async fn submit(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let form = TriageForm {
        patient_id: f.get("patient_id"),
        temperature: f.get("temperature"),
        symptoms: f.all("symptoms"),
        exposures: f.all("exposures"),
        priority: f.get("priority"),
        dept: f.get("dept"),
    };
    match dayi_app::triage::record(&st.app, &staff.actor, &form).await {
        Ok(v) => triage_page(&st, &staff, StatusCode::OK, context! { result => Serde(v) }).await,
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let patient = match uuid::Uuid::parse_str(&form.patient_id) {
                Ok(id) => patient_ctx(&st, &staff, id).await.unwrap_or_default(),
                Err(_) => Value::default(),
            };
            let ctx = context! {
                form => f.values(), ticked => Serde([form.symptoms, form.exposures].concat()),
                errors => field_errors(&e, staff.lang), error => message(&e, staff.lang),
            };
            triage_page(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, context! { ..ctx, ..patient }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// The triage register of a day with its counts.
pub async fn register(State(st): State<AppState>, staff: Staff, Query(q): Query<RegisterQuery>) -> Response {
    let r = match register_query(&q) {
        Ok((day, route)) => dayi_app::triage::register(&st.app, &staff.actor, &day, route).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(reg) => {
            let routes: Vec<Value> = Route::ALL.iter().map(|r| context! { code => r.code(), name => r.zh() }).collect();
            let ctx = context! { reg => Serde(reg), route => q.route, routes => routes };
            page(&st, &staff, StatusCode::OK, "triage_register.html", "/triage", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}
