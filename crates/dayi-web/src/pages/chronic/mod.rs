//! Chronic-disease management pages (慢病管理 · 三高共管): the worklists and
//! proposals, the patient's file with enrolment, follow-up and screening
//! forms and charts, the indicators with drill-down, the area's tier and
//! estimates, Excel exports, and the patient's own page on the phone.

mod file;
mod indicator;

pub use file::{FileQuery, close, dismiss, enrol, file, followup, screen};
pub use indicator::{behind, behind_xlsx, indicators, indicators_xlsx};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::chronic::{self, AreaRow, Lines, List};
use dayi_core::chronic::Tier;
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::i18n::{t, tf};
use crate::pages::admin::urlencode;
use crate::pages::{Fields, fail, is_form_error, message, page};
use crate::principal::{PortalUser, Staff};
use crate::xlsx::{self, Cell};
use file::charts;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct WorkQuery {
    list: String,
    doctor: String,
    village: String,
    page: String,
    done: Option<String>,
    error: Option<String>,
}

fn list_of(q: &WorkQuery) -> List {
    List::parse(&q.list).unwrap_or(List::Due)
}

/// The worklists, the open proposals and the residents due for screening.
pub async fn desk(State(st): State<AppState>, staff: Staff, Query(q): Query<WorkQuery>) -> Response {
    let screening = q.list == "screening";
    let list = list_of(&q);
    let work = if screening {
        None
    } else {
        // A page number that is not one opens the first page.
        let lines = Lines::page(&q.page).unwrap_or(Lines::Page(1));
        match chronic::worklist(&st.app, &staff.actor, list.code(), Some(&q.doctor), Some(&q.village), lines).await {
            Ok(w) => Some(w),
            Err(e) => return fail(&e, staff.lang),
        }
    };
    let due = if screening { chronic::screening_due(&st.app, &staff.actor).await.unwrap_or_default() } else { vec![] };
    let proposals = chronic::proposals(&st.app, &staff.actor).await.unwrap_or_default();
    let villages = chronic::villages(&st.app, &staff.actor).await.unwrap_or_default();
    let lists: Vec<Value> = List::ALL.iter().map(|l| context! { code => l.code(), name => l.zh() }).collect();
    let ctx = context! {
        work => Serde(&work), due => Serde(&due), proposals => Serde(&proposals), lists => lists,
        list => if screening { "screening" } else { list.code() }, list_name => list.zh(),
        doctor => q.doctor, village => q.village, villages => villages, notice => q.done, error => q.error,
        me => staff.actor.username.as_str(),
    };
    page(&st, &staff, StatusCode::OK, "chronic.html", "/chronic", ctx).await
}

/// The worklist shown, as an Excel file.
pub async fn desk_xlsx(State(st): State<AppState>, staff: Staff, Query(q): Query<WorkQuery>) -> Response {
    let list = list_of(&q);
    let work = match chronic::worklist(
        &st.app,
        &staff.actor,
        list.code(),
        Some(&q.doctor),
        Some(&q.village),
        Lines::All,
    )
    .await
    {
        Ok(w) => w,
        Err(e) => return fail(&e, staff.lang),
    };
    let rows = work
        .lines
        .into_iter()
        .map(|l| {
            vec![
                Cell::from(l.name),
                l.sex_name.into(),
                i64::from(l.age).into(),
                l.phone.into(),
                l.disease_name.into(),
                l.village.into(),
                l.doctor.into(),
                l.next_due.into(),
                l.next_name.into(),
                l.last_class_name.into(),
                l.last_visit_on.into(),
                l.days_overdue.into(),
            ]
        })
        .collect();
    let headers = [
        "ch.xlsx.name",
        "ch.xlsx.sex",
        "ch.xlsx.age",
        "ch.xlsx.phone",
        "ch.xlsx.disease",
        "ch.xlsx.village",
        "ch.xlsx.doctor",
        "ch.xlsx.due",
        "ch.xlsx.kind",
        "ch.xlsx.last_class",
        "ch.xlsx.last_visit",
        "ch.xlsx.overdue",
    ]
    .map(|k| t(staff.lang, k));
    xlsx::download(&tf(staff.lang, "ch.xlsx.list_file", &[("list", list.zh())]), list.zh(), &headers, rows)
}

/// The open proposals to enrol, as an Excel file.
pub async fn proposals_xlsx(State(st): State<AppState>, staff: Staff) -> Response {
    let lines = match chronic::proposals(&st.app, &staff.actor).await {
        Ok(l) => l,
        Err(e) => return fail(&e, staff.lang),
    };
    let rows = lines
        .into_iter()
        .map(|p| {
            let suspected: Vec<&str> = p.suspected.iter().map(|(_, name)| *name).collect();
            vec![
                Cell::from(p.name),
                p.sex_name.into(),
                i64::from(p.age).into(),
                p.screened_on.into(),
                p.bp.into(),
                p.fbg.into(),
                suspected.join("、").into(),
            ]
        })
        .collect();
    let headers =
        ["ch.xlsx.name", "ch.xlsx.sex", "ch.xlsx.age", "ch.xlsx.found_on", "ch.xlsx.bp", "ch.xlsx.fbg", "ch.xlsx.hint"]
            .map(|k| t(staff.lang, k));
    let (file, sheet) = (t(staff.lang, "ch.xlsx.proposals_file"), t(staff.lang, "ch.xlsx.proposals"));
    xlsx::download(&file, &sheet, &headers, rows)
}

/// The residents due for screening, as an Excel file.
pub async fn screening_xlsx(State(st): State<AppState>, staff: Staff) -> Response {
    let lines = match chronic::screening_due(&st.app, &staff.actor).await {
        Ok(l) => l,
        Err(e) => return fail(&e, staff.lang),
    };
    let rows = lines
        .into_iter()
        .map(|d| vec![Cell::from(d.name), d.sex_name.into(), i64::from(d.age).into(), d.phone.into(), d.address.into()])
        .collect();
    let headers =
        ["ch.xlsx.name", "ch.xlsx.sex", "ch.xlsx.age", "ch.xlsx.phone", "ch.xlsx.address"].map(|k| t(staff.lang, k));
    let (file, sheet) = (t(staff.lang, "ch.xlsx.screening_file"), t(staff.lang, "ch.xlsx.screening"));
    xlsx::download(&file, &sheet, &headers, rows)
}

async fn area_page(
    st: &AppState,
    staff: &Staff,
    status: StatusCode,
    tier: &str,
    rows: &[AreaRow],
    extra: Value,
) -> Response {
    let tiers: Vec<(&str, &str)> = Tier::ALL.iter().map(|t| (t.code(), t.zh())).collect();
    let ctx = context! { tier => tier, tiers => tiers, org => Serde(&rows[0]), villages => Serde(&rows[1..]), ..extra };
    page(st, staff, status, "chronic_area.html", "/chronic/indicators", ctx).await
}

/// The area's tier (三高中心/基地/之家) and expected patients, the management rate's denominator.
pub async fn area(State(st): State<AppState>, staff: Staff, Query(q): Query<WorkQuery>) -> Response {
    let (a, villages) = match chronic::area_form(&st.app, &staff.actor).await {
        Ok(found) => found,
        Err(e) => return fail(&e, staff.lang),
    };
    let mut rows = vec![AreaRow::of("", &a.expected)];
    rows.extend(a.villages.iter().map(|v| AreaRow::of(&v.name, &v.expected)));
    // The registry's villages not estimated yet, then one empty row for a new one.
    for v in villages {
        if !rows[1..].iter().any(|r| r.name == v) {
            rows.push(AreaRow { name: v, ..AreaRow::default() });
        }
    }
    rows.push(AreaRow::default());
    area_page(&st, &staff, StatusCode::OK, a.tier.code(), &rows, context! { notice => q.done }).await
}

pub async fn area_save(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let org = AreaRow { name: String::new(), htn: f.get("htn"), t2dm: f.get("t2dm"), lipid: f.get("lipid") };
    let (names, htn, t2dm, lipid) = (f.all("v_name"), f.all("v_htn"), f.all("v_t2dm"), f.all("v_lipid"));
    let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
    let mut rows = vec![org];
    rows.extend((0..names.len()).map(|i| AreaRow {
        name: at(&names, i).trim().to_string(),
        htn: at(&htn, i),
        t2dm: at(&t2dm, i),
        lipid: at(&lipid, i),
    }));
    let tier = f.get("tier");
    match chronic::save_area_rows(&st.app, &staff.actor, &tier, &rows).await {
        Ok(_) => {
            Redirect::to(&format!("/chronic/area?done={}", urlencode(&t(staff.lang, "msg.saved")))).into_response()
        }
        Err(e) if is_form_error(&e) => {
            // The table's boxes have no room for a message each: name the box in the one message.
            let boxes: Vec<String> = e.fields.iter().map(|f| format!("{}：{}", f.field, f.zh())).collect();
            let error = format!("{} {}", message(&e, staff.lang), boxes.join("；"));
            area_page(&st, &staff, StatusCode::UNPROCESSABLE_ENTITY, &tier, &rows, context! { error => error }).await
        }
        Err(e) => fail(&e, staff.lang),
    }
}

/// The patient's own page on the phone: readings, next follow-up, advice.
pub async fn portal(State(st): State<AppState>, u: PortalUser, Query(q): Query<PortalQuery>) -> Response {
    let members = dayi_app::portal::members(&st.app, &u.ctx).await.unwrap_or_default();
    let who = q.p.as_deref().and_then(|p| Uuid::parse_str(p).ok()).unwrap_or(u.ctx.patient.id);
    let file = match chronic::file(&st.app, &u.ctx.actor, who).await {
        Ok(f) => f,
        Err(e) => return fail(&e, u.lang),
    };
    let ctx = context! { f => Serde(&file), charts => charts(&file.series, u.lang), members => Serde(members), who => who.to_string() };
    super::portal::portal_page(&u, StatusCode::OK, "portal_chronic.html", ctx)
}

#[derive(Deserialize, Default)]
pub struct PortalQuery {
    p: Option<String>,
}
