//! Chronic-disease management pages (慢病管理 · 三高共管): the worklists and
//! proposals, the patient's file with enrolment, follow-up and screening
//! forms and charts, the indicators with drill-down, the area's tier and
//! estimates, Excel exports, and the patient's own page on the phone.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_app::chronic::{
    self, Area, Detail, EnrolForm, FollowupForm, IndicatorQuery, Lines, List, ScreenForm, Series, VillageEstimate,
};
use dayi_core::chronic::{Disease, Measure, Measured, Mode, Source, Tier};
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::admin::urlencode;
use super::{Fields, fail, field_errors, is_form_error, message, page};
use crate::AppState;
use crate::chart::{self, Line};
use crate::params::IndicatorParams;
use crate::params::parse_id;
use crate::principal::{PortalUser, Staff};
use crate::xlsx::{self, Cell};

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

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FileQuery {
    source: String,
    disease: String,
    done: Option<String>,
    error: Option<String>,
}

/// The patient's file; `extra` carries a form's values and errors.
async fn show(st: &AppState, staff: &Staff, id: Uuid, status: StatusCode, extra: Value) -> Response {
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
        f => Serde(&file), charts => charts(&file.series), choices => choices,
        active => file.enrolments.iter().any(|e| e.active),
    };
    page(st, staff, status, "chronic_file.html", "/chronic", context! { ..extra, ..ctx }).await
}

/// The three charts of a file: blood pressure, fasting glucose, lipids.
fn charts(s: &Series) -> Value {
    let pts = |v: &[chronic::Point], scale: f64| v.iter().map(|p| (p.day.clone(), p.value as f64 / scale)).collect();
    let bp = chart::lines(
        "血压趋势",
        "mmHg",
        &[
            Line { label: "收缩压", color: "#c0392b", points: pts(&s.sbp, 1.0) },
            Line { label: "舒张压", color: "#2471a3", points: pts(&s.dbp, 1.0) },
        ],
        &[(140.0, "140"), (90.0, "90")],
    );
    let glucose = chart::lines(
        "空腹血糖趋势",
        "mmol/L",
        &[Line { label: "空腹血糖", color: "#7d3c98", points: pts(&s.fbg, 1000.0) }],
        &[(7.0, "7.0")],
    );
    let lipids = chart::lines(
        "血脂趋势",
        "mmol/L",
        &[
            Line { label: "总胆固醇", color: "#b9770e", points: pts(&s.tc, 1000.0) },
            Line { label: "LDL-C", color: "#117a65", points: pts(&s.ldl, 1000.0) },
        ],
        &[(3.4, "3.4")],
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

fn back(id: Uuid, notice: &str, at: &str) -> Response {
    Redirect::to(&format!("/chronic/patients/{id}?done={}#{at}", urlencode(notice))).into_response()
}

/// Re-shows the file with a form's values and errors, or the error page.
async fn refused(
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
            back(id, &format!("已纳入{name}管理，首次随访今日起应做"), "followup")
        }
        Err(e) => refused(&st, &staff, id, "enrol", &f, &e).await,
    }
}

fn measured(f: &Fields) -> Measured {
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

fn ticked(f: &Fields, name: &str) -> bool {
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
                .map(|(d, a, due)| format!("{}：{}，{}（{}前）", d.zh(), a.class.zh(), a.next.zh(), due))
                .collect();
            back(id, &format!("随访已保存。{}", said.join("；")), "history")
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
        Ok(s) if s.proposal == "open" => back(id, "筛查已记录：结果异常，建议建档管理", "enrol"),
        Ok(_) => back(id, "筛查已记录", "readings"),
        Err(e) => refused(&st, &staff, id, "screen", &f, &e).await,
    }
}

pub async fn close(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return fail(&e, staff.lang),
    };
    match chronic::close(&st.app, &staff.actor, id, &f.get("reason")).await {
        Ok(e) => back(e.patient_id, "管理档案已结案", "records"),
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
        Ok(()) => Redirect::to(&format!("/chronic?done={}", urlencode("已排除该筛查提示"))).into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

/// Years the indicator page offers to choose from (any other can be typed in the address).
const YEARS_OFFERED: i32 = 6;

/// The indicator page's own query string.
fn link(q: &IndicatorQuery) -> String {
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
                .map(|r| (if r.key.is_empty() { "全院".to_string() } else { r.key.clone() }, r.rates.controlled.map(|v| v as f64 / 100.0)))
                .collect();
            context! { name => d.zh(), svg => chart::bars(&format!("{}控制率", d.zh()), &rows), any => !rows.is_empty() }
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
                Cell::from(if x.key.is_empty() { "全院".to_string() } else { x.key.clone() }),
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
        "分组",
        "病种",
        "辖区估算患者数",
        "已管理人数",
        "健康管理率",
        "规范管理人数",
        "规范管理率",
        "最近一次随访达标人数",
        "控制率",
        "血脂检测人数",
        "血脂检测率",
    ];
    xlsx::download(&format!("三高指标{}年.xlsx", r.year), "指标", &headers, rows)
}

async fn behind_lines(
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
                        (if l.lipid_tested { "是" } else { "否" }).into(),
                    ]
                })
                .collect();
            let headers =
                ["姓名", "性别", "年龄", "病种", "村/社区", "责任医生", "面对面随访次数", "最近一次随访", "血脂检测"];
            let name = format!("{}{}{}年.xlsx", disease.zh(), measure.zh(), q.year);
            xlsx::download(&name, "患者名单", &headers, rows)
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
