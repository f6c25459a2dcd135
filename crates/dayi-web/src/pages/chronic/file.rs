//! A patient's chronic-disease file (慢病档案): the page, its charts, and its forms (enrol, follow-up,
//! screening, close, dismiss).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::chronic::{self, Detail, EnrolForm, FollowupForm, ScreenForm, Series};
use dayi_core::chronic::{Disease, Measured, Mode, Source};
use dayi_core::timefmt::today_cst;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::chart::{self, Line};
use crate::i18n::{Lang, t, tf};
use crate::pages::admin::urlencode;
use crate::pages::{Fields, fail, field_errors, is_form_error, message, page};
use crate::params::parse_id;
use crate::principal::Staff;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FileQuery {
    source: String,
    disease: String,
    done: Option<String>,
    error: Option<String>,
}

/// The patient's file; `extra` carries a form's values and errors.
pub(super) async fn show(st: &AppState, staff: &Staff, id: Uuid, status: StatusCode, extra: Value) -> Response {
    let file = match chronic::file(&st.app, &staff.actor, id).await {
        Ok(f) => f,
        Err(e) => return fail(&e, staff.lang),
    };
    let rules = match chronic::rules(&st.app, staff.actor.org_id).await {
        Ok(r) => r,
        Err(e) => return fail(&e, staff.lang),
    };
    let choices = context! {
        sources => Source::ALL.iter().map(|s| (s.code(), s.zh())).collect::<Vec<_>>(),
        modes => Mode::ALL.iter().map(|m| (m.code(), m.zh())).collect::<Vec<_>>(),
        signs => Serde(&rules.emergency_signs), related => Serde(&rules.related),
        today => today_cst().to_string(), me => staff.actor.username.as_str(),
    };
    let ctx = context! {
        f => Serde(&file), charts => charts(&file.series, staff.lang), choices => choices,
        active => file.enrolments.iter().any(|e| e.active),
    };
    page(st, staff, status, "chronic_file.html", "/chronic", context! { ..extra, ..ctx }).await
}

/// The three charts of a file: blood pressure, fasting glucose, lipids.
pub(super) fn charts(s: &Series, lang: Lang) -> Value {
    let l = |key: &str| t(lang, key);
    let empty = l("chart.empty");
    let pts = |v: &[chronic::Point], scale: f64| v.iter().map(|p| (p.day.clone(), p.value as f64 / scale)).collect();
    let bp = chart::lines(
        &l("ch.chart.bp"),
        "mmHg",
        &[
            Line { label: &l("ch.chart.sbp"), color: "#c0392b", points: pts(&s.sbp, 1.0) },
            Line { label: &l("ch.chart.dbp"), color: "#2471a3", points: pts(&s.dbp, 1.0) },
        ],
        &[(140.0, "140"), (90.0, "90")],
        &empty,
    );
    let glucose = chart::lines(
        &l("ch.chart.fbg_trend"),
        "mmol/L",
        &[Line { label: &l("ch.chart.fbg"), color: "#7d3c98", points: pts(&s.fbg, 1000.0) }],
        &[(7.0, "7.0")],
        &empty,
    );
    let lipids = chart::lines(
        &l("ch.chart.lipids"),
        "mmol/L",
        &[
            Line { label: &l("ch.chart.tc"), color: "#b9770e", points: pts(&s.tc, 1000.0) },
            Line { label: "LDL-C", color: "#117a65", points: pts(&s.ldl, 1000.0) },
        ],
        &[(3.4, "3.4")],
        &empty,
    );
    context! { bp => bp, glucose => glucose, lipids => lipids }
}

pub async fn file(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let enrol = context! { source => q.source, disease => q.disease };
    show(&st, &staff, id, StatusCode::OK, context! { enrol => enrol, notice => q.done, error => q.error }).await
}

pub(super) fn back(id: Uuid, notice: &str, at: &str) -> Response {
    Redirect::to(&format!("/chronic/patients/{id}?done={}#{at}", urlencode(notice))).into_response()
}

/// Re-shows the file with a form's values and errors, or the error page.
pub(super) async fn refused(
    st: &AppState,
    staff: &Staff,
    id: Uuid,
    form: &str,
    f: &Fields,
    e: &dayi_core::DomainError,
) -> Response {
    if !is_form_error(e) {
        return fail(e, staff.lang);
    }
    let extra = context! {
        form => form, values => f.values(), errors => field_errors(e, staff.lang), error => message(e, staff.lang),
        checked => Serde(f.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()),
    };
    show(st, staff, id, StatusCode::UNPROCESSABLE_ENTITY, extra).await
}

pub async fn enrol(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = EnrolForm {
        patient_id: id.to_string(),
        disease: f.get("disease"),
        diagnosed_on: f.get("diagnosed_on"),
        source: f.get("source"),
        doctor: f.get("doctor"),
        village: f.get("village"),
        related: f.all("related"),
    };
    match chronic::enrol(&st.app, &staff.actor, &form).await {
        Ok(e) => {
            let name = Disease::parse(&e.disease).map(|d| d.zh()).unwrap_or("");
            back(id, &tf(staff.lang, "msg.ch.enrolled", &[("name", name)]), "followup")
        }
        Err(e) => refused(&st, &staff, id, "enrol", &f, &e).await,
    }
}

pub(super) fn measured(f: &Fields) -> Measured {
    Measured {
        sbp: f.get("sbp"),
        dbp: f.get("dbp"),
        heart_rate: f.get("heart_rate"),
        weight: f.get("weight"),
        height: f.get("height"),
        waist: f.get("waist"),
        fbg: f.get("fbg"),
        tc: f.get("tc"),
        ldl: f.get("ldl"),
        tg: f.get("tg"),
        hdl: f.get("hdl"),
        temperature: f.get("temperature"),
    }
}

pub(super) fn ticked(f: &Fields, name: &str) -> bool {
    matches!(f.get(name).as_str(), "on" | "1" | "true")
}

pub async fn followup(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = FollowupForm {
        patient_id: id.to_string(),
        visited_on: f.get("visited_on"),
        mode: f.get("mode"),
        diseases: f.all("diseases"),
        measured: measured(&f),
        signs: f.all("signs"),
        pregnant: ticked(&f, "pregnant"),
        adverse: f.get("adverse"),
        adverse_persisting: ticked(&f, "adverse_persisting"),
        complication: f.get("complication"),
        related: f.all("related"),
        detail: Detail {
            symptoms: f.get("symptoms"),
            smoking: f.get("smoking"),
            drinking: f.get("drinking"),
            exercise: f.get("exercise"),
            salt: f.get("salt"),
            adherence: f.get("adherence"),
            medication: f.get("medication"),
            dorsalis_pedis: f.get("dorsalis_pedis"),
            advice: f.get("advice"),
            ..Detail::default()
        },
        checkup: ticked(&f, "checkup"),
    };
    match chronic::record(&st.app, &staff.actor, &form).await {
        Ok(out) => {
            let said: Vec<String> = out
                .results
                .iter()
                .map(|(d, a, due)| {
                    let args = [("disease", d.zh()), ("class", a.class.zh()), ("next", a.next.zh()), ("due", due)];
                    tf(staff.lang, "msg.ch.result", &args)
                })
                .collect();
            back(
                id,
                &tf(staff.lang, "msg.ch.followup_saved", &[("said", &said.join(&t(staff.lang, "msg.sep")))]),
                "history",
            )
        }
        Err(e) => refused(&st, &staff, id, "followup", &f, &e).await,
    }
}

pub async fn screen(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    let form = ScreenForm {
        patient_id: id.to_string(),
        screened_on: f.get("screened_on"),
        measured: measured(&f),
        family_history: ticked(&f, "family_history"),
        high_salt: ticked(&f, "high_salt"),
        drinking: ticked(&f, "drinking"),
    };
    match chronic::screen(&st.app, &staff.actor, &form).await {
        Ok(s) if s.proposal == "open" => back(id, &t(staff.lang, "msg.ch.screened_abnormal"), "enrol"),
        Ok(_) => back(id, &t(staff.lang, "msg.ch.screened"), "readings"),
        Err(e) => refused(&st, &staff, id, "screen", &f, &e).await,
    }
}

pub async fn close(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    match chronic::close(&st.app, &staff.actor, id, &f.get("reason")).await {
        Ok(e) => back(e.patient_id, &t(staff.lang, "msg.ch.closed"), "records"),
        Err(err) if is_form_error(&err) => {
            let e = dayi_app::chronic::enrolment(&st.app, &staff.actor, id).await;
            match e {
                Ok(e) => refused(&st, &staff, e.patient_id, "close", &f, &err).await,
                Err(e) => fail(&e, staff.lang),
            }
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn dismiss(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => chronic::dismiss(&st.app, &staff.actor, id).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => {
            Redirect::to(&format!("/chronic?done={}", urlencode(&t(staff.lang, "msg.ch.dismissed")))).into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}
