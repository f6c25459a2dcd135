//! The doctor's workstation (门诊医生站): the called patient's visit on one
//! screen — record and vitals, diagnoses, orders with their warnings,
//! certificates, past visits — and the patient's visits on the phone.
//! Every form posts back here; a refusal shows the page again with what was
//! typed and the reason beside the field.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::visit::{self, CertificateForm, DiagnosisForm, OrderForm, RecordForm, VisitView};
use dayi_core::catalog::{Frequency, Kind};
use dayi_core::visit::VisitStatus;
use dayi_core::{DomainError, ErrorCode};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;
use uuid::Uuid;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::i18n::{t, tf};
use crate::params::parse_id;
use crate::principal::{PortalUser, Staff};
use crate::render::render;

/// The vitals the record form asks for, in the order shown.
const VITALS: &[&str] = &["temperature", "pulse", "breathing", "bp", "weight", "height", "glucose", "spo2"];
const RECORD: &[&str] = &["chief_complaint", "present_illness", "history", "allergies", "examination", "advice"];

/// Back to the visit, at the section the doctor was working in.
fn to_visit(id: Uuid, notice: &str, section: &str) -> Response {
    let q = if notice.is_empty() { String::new() } else { format!("?done={}", urlencode(notice)) };
    let at = if section.is_empty() { String::new() } else { format!("#{section}") };
    Redirect::to(&format!("/visits/{id}{q}{at}")).into_response()
}

/// The record as saved, as form values.
fn record_map(v: &VisitView) -> std::collections::BTreeMap<String, String> {
    let vit: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&v.visit.vitals).unwrap_or_default();
    let mut map = std::collections::BTreeMap::new();
    for (k, val) in [
        ("chief_complaint", &v.visit.chief_complaint),
        ("present_illness", &v.visit.present_illness),
        ("history", &v.visit.history),
        ("allergies", &v.visit.allergies),
        ("examination", &v.visit.examination),
        ("advice", &v.visit.advice),
    ] {
        map.insert(k.to_string(), val.clone());
    }
    for k in VITALS {
        map.insert(format!("vitals.{k}"), vit.get(*k).and_then(|x| x.as_str()).unwrap_or("").to_string());
    }
    map
}

/// The workstation with its choices; `extra` carries form values and errors.
async fn show(st: &AppState, staff: &Staff, id: Uuid, status: StatusCode, extra: Value) -> Response {
    let v = match visit::view(&st.app, &staff.actor, id).await {
        Ok(v) => v,
        Err(e) => return fail(&e, staff.lang),
    };
    let templates = visit::templates(&st.app, &staff.actor, v.visit.dept_id).await.unwrap_or_default();
    let labs = dayi_app::lab::result::published(&st.app, &staff.actor, v.visit.patient_id).await.unwrap_or_default();
    let chronic = dayi_app::chronic::pending(&st.app, &staff.actor, v.visit.patient_id).await.unwrap_or_default();
    let record = match extra.get_attr("record") {
        Ok(r) if !r.is_undefined() && !r.is_none() => r,
        _ => Value::from(Serde(record_map(&v))),
    };
    let freqs: Vec<Value> = Frequency::ALL.iter().map(|f| context! { code => f.code(), name => f.zh() }).collect();
    let ctx = context! {
        v => Serde(&v), record => record, templates => Serde(templates), freqs => freqs,
        vitals => Serde(VITALS), open => v.visit.status == VisitStatus::Open.code(), labs => Serde(labs),
        chronic => Serde(chronic),
    };
    page(st, staff, status, "visit.html", "/visits", context! { ..extra, ..ctx }).await
}

/// The doctor's visits of today.
pub async fn today(State(st): State<AppState>, staff: Staff) -> Response {
    match visit::my_day(&st.app, &staff.actor).await {
        Ok(lines) => {
            page(&st, &staff, StatusCode::OK, "visits.html", "/visits", context! { lines => Serde(lines) }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// Opens the visit of the patient the doctor has called (from the call panel).
pub async fn open(State(st): State<AppState>, staff: Staff, Path(booking): Path<String>) -> Response {
    let r = match parse_id(&booking) {
        Ok(b) => visit::open(&st.app, &staff.actor, b).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(v) => to_visit(v.visit.id, "", ""),
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct ShowQuery {
    done: Option<String>,
    /// A department template to fill the empty record fields from.
    template: Option<String>,
}

pub async fn workstation(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let mut extra = context! { notice => q.done };
    if let Some(t) = q.template.as_deref().and_then(|t| Uuid::parse_str(t).ok())
        && let Ok(v) = visit::view(&st.app, &staff.actor, id).await
        && let Some(tpl) = visit::templates(&st.app, &staff.actor, v.visit.dept_id)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|x| x.id == t)
    {
        // The template fills only what the doctor has not written yet.
        let mut values = record_map(&v);
        for (k, val) in [
            ("chief_complaint", &tpl.chief_complaint),
            ("present_illness", &tpl.present_illness),
            ("examination", &tpl.examination),
            ("advice", &tpl.advice),
        ] {
            if values.get(k).is_none_or(|x| x.is_empty()) {
                values.insert(k.into(), val.clone());
            }
        }
        extra = context! { notice => tf(staff.lang, "msg.visit.template_applied", &[("name", &tpl.name)]), record => Serde(values) };
    }
    show(&st, &staff, id, StatusCode::OK, extra).await
}

/// A form error on one of the workstation's forms: the page again, 422,
/// with the form's values and messages under `{form}_values` / `{form}_errors`.
async fn again(st: &AppState, staff: &Staff, id: Uuid, form: &str, f: &Fields, e: &DomainError) -> Response {
    let errors = field_errors(e, staff.lang);
    let msg = message(e, staff.lang);
    let extra = match form {
        "record" => context! { record => f.values(), record_errors => errors, error => msg },
        "dx" => context! { dx_values => f.values(), dx_errors => errors, error => msg },
        "template" => context! { tpl_values => f.values(), tpl_errors => errors, error => msg },
        "order" => {
            // Warnings sit on the confirm box: the doctor confirms them with a reason.
            let warnings: Vec<String> = e
                .fields
                .iter()
                .filter(|x| x.field == "confirm")
                .map(|x| if staff.lang == crate::i18n::Lang::En { x.en() } else { x.zh() })
                .collect();
            context! { order_values => f.values(), order_errors => errors, warnings => warnings, error => msg }
        }
        _ => context! { cert_values => f.values(), cert_errors => errors, error => msg },
    };
    show(st, staff, id, StatusCode::UNPROCESSABLE_ENTITY, extra).await
}

/// Answers a use case's result: to the visit, the form again, or an error page.
async fn after<T>(
    st: &AppState,
    staff: &Staff,
    id: Uuid,
    form: &str,
    f: &Fields,
    r: Result<T, DomainError>,
    notice: impl FnOnce(T) -> String,
) -> Response {
    match r {
        Ok(x) => {
            let section = match form {
                "dx" => "diagnoses",
                "order" => "orders",
                _ => "",
            };
            to_visit(id, &notice(x), section)
        }
        Err(e) if is_form_error(&e) || (e.code.status() < 500 && e.code.status() != 403 && e.code.status() != 404) => {
            again(st, staff, id, form, f, &e).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn record(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let mut form = RecordForm::default();
    for k in RECORD {
        let v = f.get(k);
        match *k {
            "chief_complaint" => form.chief_complaint = v,
            "present_illness" => form.present_illness = v,
            "history" => form.history = v,
            "allergies" => form.allergies = v,
            "examination" => form.examination = v,
            _ => form.advice = v,
        }
    }
    for k in VITALS {
        let v = f.get(&format!("vitals.{k}"));
        if !v.trim().is_empty() {
            form.vitals.insert(k.to_string(), serde_json::Value::String(v.trim().to_string()));
        }
    }
    let r = visit::save(&st.app, &staff.actor, id, &form).await;
    after(&st, &staff, id, "record", &f, r, |_| t(staff.lang, "msg.visit.record_saved")).await
}

/// Adds, removes or makes primary one diagnosis; the list is saved whole.
pub async fn diagnoses(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let current = match visit::view(&st.app, &staff.actor, id).await {
        Ok(v) => v.diagnoses,
        Err(e) => return fail(&e, staff.lang),
    };
    let mut list: Vec<DiagnosisForm> =
        current.iter().map(|d| DiagnosisForm { kind: d.kind.clone(), code: d.code.clone() }).collect();
    let seq = |name: &str| f.get(name).parse::<usize>().ok().filter(|s| (1..=list.len()).contains(s));
    let notice;
    if let Some(s) = seq("remove") {
        notice = tf(staff.lang, "msg.visit.dx_removed", &[("name", &current[s - 1].name)]);
        list.remove(s - 1);
    } else if let Some(s) = seq("primary") {
        notice = tf(staff.lang, "msg.visit.dx_primary", &[("name", &current[s - 1].name)]);
        let d = list.remove(s - 1);
        list.insert(0, d);
    } else {
        let code = f.get("code");
        if code.trim().is_empty() {
            let e = DomainError::field("code", ErrorCode::Required, [""; 0]);
            return again(&st, &staff, id, "dx", &f, &e).await;
        }
        notice = t(staff.lang, "msg.visit.dx_added");
        list.push(DiagnosisForm { kind: f.get("kind"), code });
    }
    let r = visit::diagnose(&st.app, &staff.actor, id, &list).await.map_err(|mut e| {
        // The new one is last: its error belongs to the add form's code box.
        for x in &mut e.fields {
            if x.field.starts_with("diagnoses.") {
                x.field = "code".into();
            }
        }
        e
    });
    after(&st, &staff, id, "dx", &f, r, |_| notice).await
}

pub async fn order(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = OrderForm {
        catalog: f.get("catalog"),
        code: f.get("code"),
        dose: f.get("dose"),
        frequency: f.get("frequency"),
        days: f.get("days"),
        quantity: f.get("quantity"),
        note: f.get("note"),
        confirm: !f.get("confirm").is_empty(),
        reason: f.get("reason"),
    };
    let r = visit::order(&st.app, &staff.actor, id, &form).await;
    after(&st, &staff, id, "order", &f, r, |o| {
        tf(staff.lang, "msg.visit.ordered", &[("name", &o.order.order.name), ("dose", &o.order.dose_text)])
    })
    .await
}

pub async fn cancel_order(
    State(st): State<AppState>,
    staff: Staff,
    Path((id, order)): Path<(String, String)>,
) -> Response {
    let (id, order) = match (parse_id(&id), parse_id(&order)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(&e, staff.lang),
    };
    let r = visit::cancel_order(&st.app, &staff.actor, id, order).await;
    after(&st, &staff, id, "order", &Fields::default(), r, |_| t(staff.lang, "msg.visit.order_cancelled")).await
}

pub async fn finish(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let r = visit::finish(&st.app, &staff.actor, id).await;
    after(&st, &staff, id, "finish", &Fields::default(), r, |_| t(staff.lang, "msg.visit.finished")).await
}

/// Saves the visit's record (as saved) as a template of its department.
pub async fn save_template(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let v = match visit::view(&st.app, &staff.actor, id).await {
        Ok(v) => v.visit,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = visit::TemplateForm {
        dept_id: v.dept_id.to_string(),
        name: f.get("name"),
        chief_complaint: v.chief_complaint,
        present_illness: v.present_illness,
        examination: v.examination,
        advice: v.advice,
    };
    let r = visit::add_template(&st.app, &staff.actor, &form).await;
    after(&st, &staff, id, "template", &f, r, |tpl| tf(staff.lang, "msg.visit.template_saved", &[("name", &tpl.name)]))
        .await
}

pub async fn certify(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = CertificateForm { kind: f.get("kind"), days: f.get("days"), note: f.get("note") };
    match visit::certify(&st.app, &staff.actor, id, &form).await {
        Ok(c) => Redirect::to(&format!("/certificates/{}", c.id)).into_response(),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => again(&st, &staff, id, "cert", &f, &e).await,
        Err(e) => fail(&e, staff.lang),
    }
}

/// A certificate, laid out for printing on A5.
pub async fn certificate(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => visit::certificate(&st.app, &staff.actor, id).await,
        Err(e) => Err(e),
    };
    match r {
        Ok((c, v, name)) => {
            let issued = dayi_core::timefmt::show(c.issued_at);
            let ctx = context! { c => Serde(c), v => Serde(v), name => name, issued => issued };
            page(&st, &staff, StatusCode::OK, "certificate.html", "/visits", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct SuggestQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    q: String,
}

/// Catalogue suggestions as the doctor types (code, pinyin initials or name).
pub async fn suggest(State(st): State<AppState>, staff: Staff, Query(q): Query<SuggestQuery>) -> Response {
    let kinds: Vec<Kind> = q.kind.split(',').filter_map(|k| Kind::parse(k.trim())).collect();
    let kinds = if kinds.is_empty() { Kind::ALL.to_vec() } else { kinds };
    // The search checks the permission, so it runs even for an empty box.
    match dayi_app::catalog::search(&st.app, &staff.actor, &kinds, &q.q, 12).await {
        Ok(items) => {
            let items = if q.q.trim().is_empty() { vec![] } else { items };
            let items: Vec<Value> = items
                .iter()
                .map(|i| {
                    let price = (i.price_fen > 0).then(|| dayi_core::catalog::yuan(i.price_fen));
                    context! { item => Serde(i), price => price }
                })
                .collect();
            render(StatusCode::OK, "visit_suggest.html", context! { items => items, lang => staff.lang.code() })
        }
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct MemberQuery {
    /// Whose visits (the account holder or a family member).
    #[serde(default)]
    p: String,
}

/// The patient's visits and prescriptions on the phone.
pub async fn portal_visits(State(st): State<AppState>, u: PortalUser, Query(q): Query<MemberQuery>) -> Response {
    let members = dayi_app::portal::members(&st.app, &u.ctx).await.unwrap_or_default();
    let who = Uuid::parse_str(&q.p).unwrap_or(u.ctx.patient.id);
    match visit::of_patient(&st.app, &u.ctx.actor, who).await {
        Ok(visits) => super::portal::portal_page(
            &u,
            StatusCode::OK,
            "portal_visits.html",
            context! { visits => Serde(visits), members => Serde(members), who => who.to_string() },
        ),
        Err(e) => fail(&e, u.lang),
    }
}
