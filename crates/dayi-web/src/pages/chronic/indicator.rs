//! The indicators page (考核指标), its drill-down to the patients behind a figure, and their Excel
//! exports.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use dayi_app::chronic::{self, IndicatorQuery};
use dayi_core::chronic::{Disease, Measure};
use dayi_core::timefmt::today_cst;
use minijinja::value::Serde;
use minijinja::{Value, context};

use crate::AppState;
use crate::chart::{self};
use crate::i18n::{t, tf};
use crate::pages::admin::urlencode;
use crate::pages::{fail, is_form_error, message, page};
use crate::params::IndicatorParams;
use crate::principal::Staff;
use crate::xlsx::{self, Cell};

/// Years the indicator page offers to choose from (any other can be typed in the address).
pub(super) const YEARS_OFFERED: i32 = 6;

/// The indicator page's own query string.
pub(super) fn link(q: &IndicatorQuery) -> String {
    format!("year={}&group={}", urlencode(&q.year), urlencode(&q.group))
}

pub async fn indicators(State(st): State<AppState>, staff: Staff, Query(p): Query<IndicatorParams>) -> Response {
    let q = p.query();
    let this_year = today_cst().year();
    let (report, error) = match chronic::indicators(&st.app, &staff.actor, &q).await {
        Ok(r) => (Some(r), None),
        Err(e) if is_form_error(&e) => (None, Some(message(&e, staff.lang))),
        Err(e) => return fail(&e, staff.lang),
    };
    let bars: Vec<Value> = Disease::ALL
        .iter()
        .map(|d| {
            let rows: Vec<(String, Option<f64>)> = report
                .iter()
                .flat_map(|r| r.rows.iter())
                .filter(|r| r.disease == d.code())
                .map(|r| (if r.key.is_empty() { t(staff.lang, "ch.xlsx.whole") } else { r.key.clone() }, r.rates.controlled.map(|v| v as f64 / 100.0)))
                .collect();
            context! { name => d.zh(), svg => chart::bars(&tf(staff.lang, "ch.chart.controlled", &[("disease", d.zh())]), &rows), any => !rows.is_empty() }
        })
        .collect();
    let ctx = context! {
        r => Serde(&report), q => context! { year => q.year.clone(), group => q.group.clone() },
        years => (0..YEARS_OFFERED).map(|n| this_year - n).collect::<Vec<_>>(),
        link => link(&q), bars => bars, error => error,
        measures => Measure::ALL.iter().map(|m| (m.code(), m.zh())).collect::<Vec<_>>(),
        can_set_area => staff.actor.can(dayi_core::security::Perm::PublicHealthManage),
    };
    page(&st, &staff, StatusCode::OK, "chronic_indicators.html", "/chronic/indicators", ctx).await
}

pub async fn indicators_xlsx(State(st): State<AppState>, staff: Staff, Query(p): Query<IndicatorParams>) -> Response {
    let r = match chronic::indicators(&st.app, &staff.actor, &p.query()).await {
        Ok(r) => r,
        Err(e) => return fail(&e, staff.lang),
    };
    let rows = r
        .rows
        .iter()
        .map(|x| {
            vec![
                Cell::from(if x.key.is_empty() { t(staff.lang, "ch.xlsx.whole") } else { x.key.clone() }),
                x.disease_name.into(),
                x.expected.map(Cell::from).unwrap_or_else(|| "".into()),
                x.tally.managed.into(),
                x.management.clone().into(),
                x.tally.standard.into(),
                x.standard.clone().into(),
                x.tally.controlled.into(),
                x.controlled.clone().into(),
                x.tally.lipid_tested.into(),
                x.lipid_tested.clone().into(),
            ]
        })
        .collect();
    let headers = [
        "ch.xlsx.group",
        "ch.xlsx.disease",
        "ch.xlsx.expected",
        "ch.xlsx.managed",
        "ch.xlsx.management",
        "ch.xlsx.standard_n",
        "ch.xlsx.standard",
        "ch.xlsx.controlled_n",
        "ch.xlsx.controlled",
        "ch.xlsx.lipid_n",
        "ch.xlsx.lipid",
    ]
    .map(|k| t(staff.lang, k));
    let file = tf(staff.lang, "ch.xlsx.indicators_file", &[("year", &r.year.to_string())]);
    xlsx::download(&file, &t(staff.lang, "ch.xlsx.indicators"), &headers, rows)
}

pub(super) async fn behind_lines(
    st: &AppState,
    staff: &Staff,
    p: &IndicatorParams,
) -> Result<(IndicatorQuery, Disease, Measure, Vec<chronic::PatientLine>), dayi_core::DomainError> {
    let q = p.query();
    let lines = chronic::behind(&st.app, &staff.actor, &q, &p.key, &p.disease, &p.measure).await?;
    // Parsed by `behind` already: these only name the page.
    let disease = Disease::parse(&p.disease).unwrap_or(Disease::Hypertension);
    let measure = Measure::parse(&p.measure).unwrap_or(Measure::Managed);
    Ok((q, disease, measure, lines))
}

pub async fn behind(State(st): State<AppState>, staff: Staff, Query(p): Query<IndicatorParams>) -> Response {
    match behind_lines(&st, &staff, &p).await {
        Ok((q, disease, measure, lines)) => {
            let ctx = context! {
                lines => Serde(&lines), disease => disease.zh(), measure => measure.zh(), key => p.key.clone(),
                q => context! { year => q.year.clone(), group => q.group.clone() },
                link => format!("{}&key={}&disease={}&measure={}", link(&q), urlencode(&p.key), disease.code(), measure.code()),
                back => link(&q),
            };
            page(&st, &staff, StatusCode::OK, "chronic_behind.html", "/chronic/indicators", ctx).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn behind_xlsx(State(st): State<AppState>, staff: Staff, Query(p): Query<IndicatorParams>) -> Response {
    match behind_lines(&st, &staff, &p).await {
        Ok((q, disease, measure, lines)) => {
            let rows = lines
                .into_iter()
                .map(|l| {
                    vec![
                        Cell::from(l.name),
                        l.sex_name.into(),
                        i64::from(l.age).into(),
                        l.disease_name.into(),
                        l.village.into(),
                        l.doctor.into(),
                        l.face_visits.into(),
                        l.latest.into(),
                        t(staff.lang, if l.lipid_tested { "ch.xlsx.yes" } else { "ch.xlsx.no" }).into(),
                    ]
                })
                .collect();
            let headers = [
                "ch.xlsx.name",
                "ch.xlsx.sex",
                "ch.xlsx.age",
                "ch.xlsx.disease",
                "ch.xlsx.village",
                "ch.xlsx.doctor",
                "ch.xlsx.face",
                "ch.xlsx.latest",
                "ch.xlsx.lipid_tested",
            ]
            .map(|k| t(staff.lang, k));
            let args = [("disease", disease.zh()), ("measure", measure.zh()), ("year", &q.year.to_string())];
            let name = tf(staff.lang, "ch.xlsx.behind_file", &args);
            xlsx::download(&name, &t(staff.lang, "ch.xlsx.patients"), &headers, rows)
        }
        Err(e) => fail(&e, staff.lang),
    }
}
