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
use dayi_app::chronic::{self, Area, Lines, List, VillageEstimate};
use dayi_core::chronic::{Disease, Tier};
use dayi_core::{DomainError, ErrorCode};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
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
        "姓名",
        "性别",
        "年龄",
        "电话",
        "病种",
        "村/社区",
        "责任医生",
        "应随访日期",
        "随访类型",
        "上次分类",
        "上次随访",
        "逾期天数",
    ];
    xlsx::download(&format!("慢病{}.xlsx", list.zh()), list.zh(), &headers, rows)
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
    let headers = ["姓名", "性别", "年龄", "发现日期", "血压", "空腹血糖", "提示"];
    xlsx::download("慢病建议纳入管理.xlsx", "建议纳入管理", &headers, rows)
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
    xlsx::download("慢病应筛查居民.xlsx", "应筛查", &["姓名", "性别", "年龄", "电话", "地址"], rows)
}

/// One row of the area form, as typed.
#[derive(Debug, Clone, Default, Serialize)]
struct AreaRow {
    name: String,
    htn: String,
    t2dm: String,
    lipid: String,
}

impl AreaRow {
    fn of(name: &str, expected: &std::collections::BTreeMap<String, u64>) -> AreaRow {
        let n = |d: Disease| expected.get(d.code()).filter(|n| **n > 0).map(u64::to_string).unwrap_or_default();
        AreaRow {
            name: name.to_string(),
            htn: n(Disease::Hypertension),
            t2dm: n(Disease::Diabetes),
            lipid: n(Disease::Dyslipidaemia),
        }
    }
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

/// A count of patients as typed: empty is not estimated.
fn count(field: &str, typed: &str) -> Result<u64, DomainError> {
    match typed.trim() {
        "" => Ok(0),
        t => t.parse().map_err(|_| DomainError::field(field, ErrorCode::InvalidFormat, ["0, 1, 2…"])),
    }
}

fn area_of(tier: &str, rows: &[AreaRow]) -> Result<Area, DomainError> {
    let tier = Tier::parse(tier).ok_or_else(|| DomainError::field("tier", ErrorCode::Required, [""; 0]))?;
    let expected = |r: &AreaRow| -> Result<std::collections::BTreeMap<String, u64>, DomainError> {
        let mut m = std::collections::BTreeMap::new();
        for (d, typed) in
            [(Disease::Hypertension, &r.htn), (Disease::Diabetes, &r.t2dm), (Disease::Dyslipidaemia, &r.lipid)]
        {
            let n = count(&format!("{}{}", if r.name.is_empty() { "全院" } else { &r.name }, d.zh()), typed)?;
            if n > 0 {
                m.insert(d.code().to_string(), n);
            }
        }
        Ok(m)
    };
    let mut villages = vec![];
    for r in rows[1..].iter().filter(|r| !r.name.trim().is_empty()) {
        villages.push(VillageEstimate { name: r.name.trim().to_string(), expected: expected(r)? });
    }
    Ok(Area { tier, expected: expected(&rows[0])?, villages })
}

pub async fn area_save(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    // Permission before reading what was typed.
    if let Err(e) = chronic::require_manage(&st.app, &staff.actor).await {
        return fail(&e, staff.lang);
    }
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
    let saved = match area_of(&tier, &rows) {
        Ok(a) => chronic::set_area(&st.app, &staff.actor, &a).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/chronic/area?done={}", urlencode("已保存"))).into_response(),
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
    let ctx = context! { f => Serde(&file), charts => charts(&file.series), members => Serde(members), who => who.to_string() };
    super::portal::portal_page(&u, StatusCode::OK, "portal_chronic.html", ctx)
}

#[derive(Deserialize, Default)]
pub struct PortalQuery {
    p: Option<String>,
}
