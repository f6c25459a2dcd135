//! Lab pages (检验科): the collection worklist and labels, a specimen with
//! its results to enter and verify; the doctor's critical-value banner; the
//! patient's results and their trend on the phone.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::lab::result::{self, Entry, Reported};
use dayi_app::lab::{alert, specimen};
use dayi_core::DomainError;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;
use uuid::Uuid;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, message, page};
use crate::AppState;
use crate::i18n::{t, tf};
use crate::params::parse_id;
use crate::principal::{PortalUser, Staff};
use crate::render::render;

/// A specimen's barcode as a Code 128 (set C: the barcode is all digits) SVG.
pub fn barcode_svg(code: &str) -> String {
    let data = if code.len().is_multiple_of(2) && code.bytes().all(|b| b.is_ascii_digit()) {
        format!("Ć{code}")
    } else {
        format!("Ɓ{code}")
    };
    barcoders::sym::code128::Code128::new(data)
        .ok()
        .and_then(|b| barcoders::generators::svg::SVG::new(60).xdim(2).generate(b.encode()).ok())
        .unwrap_or_default()
}

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
    error: Option<String>,
}

/// The worklist, today's specimens and the scan box.
pub async fn desk(State(st): State<AppState>, staff: Staff, Query(q): Query<Done>) -> Response {
    let lines = match specimen::worklist(&st.app, &staff.actor).await {
        Ok(l) => l,
        Err(e) => return fail(&e, staff.lang),
    };
    let today = specimen::today(&st.app, &staff.actor).await.unwrap_or_default();
    let ctx = context! { lines => Serde(lines), today => Serde(today), notice => q.done, error => q.error };
    page(&st, &staff, StatusCode::OK, "lab.html", "/lab", ctx).await
}

/// Draws a visit's lab orders and shows their labels to print.
pub async fn collect(State(st): State<AppState>, staff: Staff, Path(visit): Path<String>) -> Response {
    let r = match parse_id(&visit) {
        Ok(v) => specimen::collect(&st.app, &staff.actor, v).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(made) => {
            let codes: Vec<String> = made.iter().map(|s| s.barcode.clone()).collect();
            Redirect::to(&format!("/lab/labels?codes={}", codes.join(","))).into_response()
        }
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            Redirect::to(&format!("/lab?error={}", urlencode(&message(&e, staff.lang)))).into_response()
        }
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct Codes {
    #[serde(default)]
    codes: String,
}

/// Tube labels (50 × 25 mm): barcode, patient, tube, what it is for.
pub async fn labels(State(st): State<AppState>, staff: Staff, Query(q): Query<Codes>) -> Response {
    let codes: Vec<&str> = q.codes.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
    let found = match result::specimens(&st.app, &staff.actor, &codes).await {
        Ok(found) => found,
        Err(e) => return fail(&e, staff.lang),
    };
    let mut labels = vec![];
    for v in &found {
        let tests: Vec<String> = v.tests.iter().map(|t| t.test.panel_name.clone()).collect();
        labels.push(context! { v => Serde(v), svg => barcode_svg(&v.specimen.barcode), tests => tests });
    }
    page(&st, &staff, StatusCode::OK, "lab_labels.html", "/lab", context! { labels => labels }).await
}

/// Finds a specimen by its scanned barcode.
pub async fn find(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    if let Err(e) = result::require_bench(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
    let code = f.get("barcode");
    Redirect::to(&format!("/lab/specimens/{}", urlencode(code.trim()))).into_response()
}

async fn specimen_page(st: &AppState, staff: &Staff, code: &str, status: StatusCode, extra: Value) -> Response {
    match result::specimen(&st.app, &staff.actor, code).await {
        Ok(v) => {
            let cat = dayi_app::lab::catalog(&st.app, staff.actor.org_id).await.unwrap_or_default();
            // Each test with the items of its panel, to enter the missing ones.
            let tests: Vec<Value> = v
                .tests
                .iter()
                .map(|t| {
                    let items: Vec<Value> = cat
                        .panel(&t.test.panel_code)
                        .map(|p| {
                            p.item
                                .iter()
                                .map(|i| {
                                    let cur = t.results.iter().find(|r| r.result.item_code == i.code);
                                    context! { item => Serde(i), cur => cur.map(Serde) }
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    context! { t => Serde(t), items => items }
                })
                .collect();
            let ctx = context! { v => Serde(&v), tests => tests, svg => barcode_svg(&v.specimen.barcode) };
            page(st, staff, status, "lab_specimen.html", "/lab", context! { ..extra, ..ctx }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn show(
    State(st): State<AppState>,
    staff: Staff,
    Path(code): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    specimen_page(&st, &staff, &code, StatusCode::OK, context! { notice => q.done }).await
}

fn to_specimen(code: &str, notice: &str) -> Response {
    Redirect::to(&format!("/lab/specimens/{}?done={}", urlencode(code), urlencode(notice))).into_response()
}

/// Receives the tube, or rejects it with a reason.
pub async fn receive(State(st): State<AppState>, staff: Staff, Path(code): Path<String>, f: Fields) -> Response {
    let r = match f.get("action").as_str() {
        "reject" => specimen::reject(&st.app, &staff.actor, &code, &f.get("reason"))
            .await
            .map(|_| t(staff.lang, "msg.lab.rejected")),
        _ => specimen::receive(&st.app, &staff.actor, &code).await.map(|_| t(staff.lang, "msg.lab.received")),
    };
    match r {
        Ok(n) => to_specimen(&code, &n),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 => {
            let extra = context! { reject_values => f.values(), reject_errors => field_errors(&e, staff.lang), error => message(&e, staff.lang) };
            specimen_page(&st, &staff, &code, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// Results typed in: fields `v.<item>` (empty ones are skipped), `reason` for corrections.
pub async fn enter(State(st): State<AppState>, staff: Staff, Path(code): Path<String>, f: Fields) -> Response {
    let results: Vec<Reported> =
        f.0.iter()
            .filter_map(|(k, v)| k.strip_prefix("v.").map(|item| (item, v)))
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(item, v)| Reported { item: item.to_string(), value: v.clone(), unit: String::new() })
            .collect();
    let e = Entry { barcode: code.clone(), results: results.clone(), reason: f.get("reason") };
    match result::enter(&st.app, &staff.actor, &e, "manual").await {
        Ok(s) => {
            let mut n = tf(staff.lang, "msg.lab.saved", &[("n", &s.results.to_string())]);
            if !s.critical.is_empty() {
                n.push_str(&tf(
                    staff.lang,
                    "msg.lab.critical",
                    &[("items", &s.critical.join(&t(staff.lang, "msg.list_sep")))],
                ));
            }
            to_specimen(&code, &n)
        }
        Err(err) if err.code.status() < 500 && err.code.status() != 403 => {
            // Field errors name `results.<i>`: put each beside its item's box.
            let mut by_item = std::collections::BTreeMap::new();
            for fe in &err.fields {
                let i = fe.field.strip_prefix("results.").and_then(|i| i.parse::<usize>().ok());
                let key = match i.and_then(|i| results.get(i)) {
                    Some(r) => r.item.clone(),
                    None => fe.field.clone(),
                };
                by_item.insert(key, if staff.lang == crate::i18n::Lang::En { fe.en() } else { fe.zh() });
            }
            let extra = context! { entry_values => f.values(), entry_errors => Serde(by_item), error => message(&err, staff.lang) };
            specimen_page(&st, &staff, &code, StatusCode::UNPROCESSABLE_ENTITY, extra).await
        }
        Err(err) => fail(&err, staff.lang),
    }
}

pub async fn verify(State(st): State<AppState>, staff: Staff, Path(order): Path<String>, f: Fields) -> Response {
    let code = f.get("barcode");
    let r = match parse_id(&order) {
        Ok(o) => result::verify(&st.app, &staff.actor, o).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(t) => to_specimen(&code, &tf(staff.lang, "msg.lab.verified", &[("panel", &t.test.panel_name)])),
        Err(e) if e.code.status() < 500 && e.code.status() != 403 && !code.is_empty() => {
            specimen_page(&st, &staff, &code, StatusCode::CONFLICT, context! { error => message(&e, staff.lang) }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// The doctor's banner of open critical values (polled by every console page).
pub async fn banner(State(st): State<AppState>, staff: Staff) -> Response {
    if !staff.actor.can(dayi_core::security::Perm::Clinical) {
        return render(StatusCode::OK, "lab_banner.html", context! { alerts => Vec::<Value>::new() });
    }
    match alert::mine(&st.app, &staff.actor).await {
        Ok(a) => render(
            StatusCode::OK,
            "lab_banner.html",
            context! { alerts => Serde(a), csrf => staff.csrf.clone(), lang => staff.lang.code() },
        ),
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn ack(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => alert::acknowledge(&st.app, &staff.actor, id, &f.get("note")).await,
        Err(e) => Err(e),
    };
    let back = f.get("back");
    let back = if back.starts_with('/') && !back.starts_with("//") { back } else { "/visits".into() };
    match r {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

#[derive(Deserialize, Default)]
pub struct Who {
    #[serde(default)]
    p: String,
    #[serde(default)]
    item: String,
}

/// The patient's published results on the phone, with one item's trend.
pub async fn portal_results(State(st): State<AppState>, u: PortalUser, Query(q): Query<Who>) -> Response {
    let members = dayi_app::portal::members(&st.app, &u.ctx).await.unwrap_or_default();
    let who = Uuid::parse_str(&q.p).unwrap_or(u.ctx.patient.id);
    let r = async {
        let tests = result::published(&st.app, &u.ctx.actor, who).await?;
        let trend = match q.item.trim() {
            "" => vec![],
            item => result::trend(&st.app, &u.ctx.actor, who, item).await?,
        };
        Ok::<_, DomainError>((tests, trend))
    }
    .await;
    match r {
        Ok((tests, trend)) => {
            let chart = trend_svg(&trend);
            let ctx = context! {
                tests => Serde(tests), members => Serde(members), who => who.to_string(),
                item => q.item, trend => Serde(trend), chart => chart,
            };
            super::portal::portal_page(&u, StatusCode::OK, "portal_lab.html", ctx)
        }
        Err(e) => fail(&e, u.lang),
    }
}

/// A small line chart of an item's values (SVG, no script).
fn trend_svg(points: &[result::ResultLine]) -> String {
    let vals: Vec<f64> = points.iter().filter_map(|p| p.result.milli).map(|m| m as f64 / 1000.0).collect();
    if vals.len() < 2 {
        return String::new();
    }
    let (w, h, pad) = (320.0, 120.0, 12.0);
    let (lo, hi) = vals.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = (w - 2.0 * pad) / (vals.len() - 1) as f64;
    let xy: Vec<(f64, f64)> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| (pad + step * i as f64, h - pad - (v - lo) / span * (h - 2.0 * pad)))
        .collect();
    let line: Vec<String> = xy.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dots: String = xy.iter().map(|(x, y)| format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"/>")).collect();
    format!(
        "<svg viewBox=\"0 0 {w} {h}\" class=\"trend\" role=\"img\"><polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" points=\"{}\"/>{dots}</svg>",
        line.join(" ")
    )
}
