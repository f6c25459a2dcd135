//! Patient pages: search, registration, the record (with the health card and
//! the audited "show full" action), the printable card, and duplicates.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::patient::PatientView;
use dayi_core::identity::{ETHNICITIES, IdKind, Sex};
use dayi_core::patient::{Channel, Insurance, NewPatient, Relation};
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::i18n::{t, tf};
use crate::params::parse_id;
use crate::principal::Staff;
use crate::render::render;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    done: Option<String>,
}

pub async fn list(State(st): State<AppState>, staff: Staff, Query(lq): Query<ListQuery>) -> Response {
    let q = lq.q.trim().to_string();
    let (rows, error) = match dayi_app::patient::search(&st.app, &staff.actor, &q).await {
        Ok(r) => (r, None),
        Err(e) if e.code == ErrorCode::SearchTooShort => (vec![], Some(message(&e, staff.lang))),
        Err(e) => return fail(&e, staff.lang),
    };
    let ctx = context! {
        q => q, rows => Serde(rows), error => error, notice => lq.done,
        can_write => staff.actor.can(Perm::PatientWrite), can_merge => staff.actor.can(Perm::PatientMerge),
    };
    page(&st, &staff, StatusCode::OK, "patients.html", "/patients", ctx).await
}

fn choices() -> Value {
    let opts = |v: Vec<(&'static str, &'static str)>| -> Value {
        Value::from(v.into_iter().map(|(c, n)| context! { code => c, name => n }).collect::<Vec<_>>())
    };
    context! {
        sexes => opts(Sex::ALL.iter().map(|s| (s.code(), s.zh())).collect()),
        ethnicities => opts(ETHNICITIES.to_vec()),
        id_kinds => opts(IdKind::ALL.iter().map(|k| (k.code(), k.zh())).collect()),
        insurances => opts(Insurance::ALL.iter().map(|i| (i.code(), i.zh())).collect()),
        relations => opts(Relation::ALL.iter().map(|r| (r.code(), r.zh())).collect()),
    }
}

async fn form_page(st: &AppState, staff: &Staff, status: StatusCode, form: Value, e: Option<&DomainError>) -> Response {
    let existing = e.filter(|e| e.code == ErrorCode::PatientDuplicateId).and_then(|e| e.args.get(2).cloned());
    let ctx = context! {
        form => form, choices => choices(), existing => existing,
        errors => e.map(|e| field_errors(e, staff.lang)), error => e.map(|e| message(e, staff.lang)),
    };
    page(st, staff, status, "patient_new.html", "/patients", ctx).await
}

pub async fn new_form(State(st): State<AppState>, staff: Staff) -> Response {
    if let Err(e) = dayi_app::patient::require_write(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let defaults =
        context! { id_kind => "resident_id", insurance => "resident", ethnicity => "01", region_code => "370830" };
    form_page(&st, &staff, StatusCode::OK, defaults, None).await
}

fn new_patient(f: &Fields) -> NewPatient {
    NewPatient {
        name: f.get("name"),
        sex: f.get("sex"),
        birth_date: f.get("birth_date"),
        ethnicity: f.get("ethnicity"),
        id_kind: f.get("id_kind"),
        id_number: f.get("id_number"),
        nationality: f.get("nationality"),
        phone: f.get("phone"),
        address: f.get("address"),
        region_code: f.get("region_code"),
        insurance: f.get("insurance"),
        emergency_name: f.get("emergency_name"),
        emergency_relation: f.get("emergency_relation"),
        emergency_phone: f.get("emergency_phone"),
        guardian_name: f.get("guardian_name"),
        guardian_relation: f.get("guardian_relation"),
        guardian_id_number: f.get("guardian_id_number"),
        guardian_phone: f.get("guardian_phone"),
    }
}

pub async fn create(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    match dayi_app::patient::register(&st.app, &staff.actor, &new_patient(&f), Channel::Counter).await {
        Ok(p) => {
            let done = tf(staff.lang, "msg.patient.created", &[("name", &p.name), ("card", &p.hospital_no)]);
            Redirect::to(&format!("/patients/{}?done={}", p.id, urlencode(&done))).into_response()
        }
        Err(e) if is_form_error(&e) || e.code == ErrorCode::PatientDuplicateId => {
            form_page(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, f.values(), Some(&e)).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct Notice {
    done: Option<String>,
}

async fn record_page(st: &AppState, staff: &Staff, view: PatientView, notice: Option<String>) -> Response {
    let actor = &staff.actor;
    let id = view.id;
    let static_qr = match dayi_app::card::static_code(&st.app, actor, id).await {
        Ok(q) => q,
        Err(e) => return fail(&e, staff.lang),
    };
    let uses = dayi_app::card::uses(&st.app, actor, id).await.unwrap_or_default();
    let uses: Vec<_> = uses
        .iter()
        .map(|u| {
            context! {
                at => dayi_core::timefmt::show(u.at),
                kind => dayi_core::card::CodeKind::parse(&u.code_kind).map(|k| k.zh()).unwrap_or(""),
                step => dayi_core::card::CareStep::parse(&u.step).map(|s| s.zh()).unwrap_or(""),
                station => u.station.as_str(), on_behalf => u.on_behalf,
            }
        })
        .collect();
    let duplicates = if view.merged_into.is_none() {
        dayi_app::patient::duplicates_of(&st.app, actor, id).await.unwrap_or_default()
    } else {
        vec![]
    };
    let merges = dayi_app::patient::merges(&st.app, actor, Some(id)).await.unwrap_or_default();
    let merges: Vec<_> = merges
        .iter()
        .map(|m| {
            context! {
                id => m.id.to_string(), survivor_id => m.survivor_id.to_string(), merged_id => m.merged_id.to_string(),
                reason => m.reason.as_str(), by => m.merged_by.as_str(), at => dayi_core::timefmt::show(m.merged_at),
                undone_at => m.undone_at.map(dayi_core::timefmt::show), undone_by => m.undone_by.as_deref(),
                this_survives => m.survivor_id == id,
            }
        })
        .collect();
    let ctx = context! {
        p => Serde(&view), static_svg => static_qr.svg, static_text => static_qr.text, uses => uses,
        duplicates => Serde(duplicates), merges => merges, notice => notice,
        can_unmask => actor.can(Perm::PatientUnmask), can_merge => actor.can(Perm::PatientMerge),
    };
    page(st, staff, StatusCode::OK, "patient.html", "/patients", ctx).await
}

pub async fn show(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let view = match async { dayi_app::patient::view(&st.app, &staff.actor, parse_id(&id)?).await }.await {
        Ok(v) => v,
        Err(e) => return fail(&e, staff.lang),
    };
    record_page(&st, &staff, view, n.done).await
}

/// "显示完整": the same page with the sensitive fields in full, audited with the reason.
pub async fn unmask(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = async { dayi_app::patient::unmask(&st.app, &staff.actor, parse_id(&id)?, &f.get("reason")).await }.await;
    match r {
        Ok(v) => record_page(&st, &staff, v, Some(t(staff.lang, "msg.patient.unmasked"))).await,
        Err(e) => fail(&e, staff.lang),
    }
}

/// A fresh dynamic QR code (an htmx fragment on the record page).
pub async fn dynamic_qr(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    match async { dayi_app::card::dynamic_code(&st.app, &staff.actor, parse_id(&id)?).await }.await {
        Ok(q) => render(
            StatusCode::OK,
            "qr_dynamic.html",
            context! {
                lang => staff.lang.code(), svg => q.svg, text => q.text, minutes => q.minutes,
                expires => q.expires_at.map(dayi_core::timefmt::show),
            },
        ),
        Err(e) => fail(&e, staff.lang),
    }
}

/// The printable card or sticker with the static code, for patients without a phone.
pub async fn print_card(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let r = async {
        let id = parse_id(&id)?;
        let v = dayi_app::patient::view(&st.app, &staff.actor, id).await?;
        let q = dayi_app::card::static_code(&st.app, &staff.actor, id).await?;
        Ok::<_, DomainError>((v, q))
    }
    .await;
    match r {
        Ok((v, q)) => {
            let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await.map(|o| o.name).unwrap_or_default();
            render(
                StatusCode::OK,
                "card_print.html",
                context! { lang => staff.lang.code(), p => Serde(&v), svg => q.svg, org_name => org },
            )
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn duplicates(State(st): State<AppState>, staff: Staff, Query(n): Query<Notice>) -> Response {
    let pairs = match dayi_app::patient::duplicate_pairs(&st.app, &staff.actor).await {
        Ok(p) => p,
        Err(e) => return fail(&e, staff.lang),
    };
    let merges = dayi_app::patient::merges(&st.app, &staff.actor, None).await.unwrap_or_default();
    let merges: Vec<_> = merges
        .iter()
        .map(|m| {
            context! {
                id => m.id.to_string(), survivor_id => m.survivor_id.to_string(), merged_id => m.merged_id.to_string(),
                reason => m.reason.as_str(), by => m.merged_by.as_str(), at => dayi_core::timefmt::show(m.merged_at),
                undone_at => m.undone_at.map(dayi_core::timefmt::show),
            }
        })
        .collect();
    let ctx = context! { pairs => Serde(pairs), merges => merges, notice => n.done };
    page(&st, &staff, StatusCode::OK, "duplicates.html", "/patients/duplicates", ctx).await
}

pub async fn merge(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let r = async {
        dayi_app::patient::require_merge(&st.app, &staff.actor).await?;
        let (s, m) = (parse_id(&f.get("survivor_id"))?, parse_id(&f.get("merged_id"))?);
        dayi_app::patient::merge(&st.app, &staff.actor, s, m, &f.get("reason")).await
    }
    .await;
    match r {
        Ok(m) => Redirect::to(&format!(
            "/patients/{}?done={}",
            m.survivor_id,
            urlencode(&t(staff.lang, "msg.patient.merged"))
        ))
        .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn undo_merge(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    match async { dayi_app::patient::undo_merge(&st.app, &staff.actor, parse_id(&id)?).await }.await {
        Ok(m) => Redirect::to(&format!(
            "/patients/{}?done={}",
            m.merged_id,
            urlencode(&t(staff.lang, "msg.patient.unmerged"))
        ))
        .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}
