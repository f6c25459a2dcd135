//! `Schedule` read and search: a clinic session (出诊), one doctor's half-day
//! in one department, whose numbered slots are the `Slot`s of `slot.rs`.
//! Sessions are public information (the portal lists them to anyone signed
//! in); the routes still ask for `patient.read` like every FHIR read.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dayi_app::booking::SessionView;
use dayi_app::records::Org;
use dayi_core::roster::{ClinicType, parse_hm};
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode};
use serde_json::{Value, json};
use time::{Date, Duration, Month};
use uuid::Uuid;

use super::outcome::FhirError;
use super::{CODE_SYSTEM, SID, bad, base_url, count_of, instant, json, keyset, searchset};
use crate::AppState;
use crate::principal::Staff;

type FhirResult = Result<Response, FhirError>;

/// The home hospital of a visiting expert (外院专家坐诊).
pub const EXT_VISITING_FROM: &str = "https://dayi.org.cn/fhir/StructureDefinition/visiting-from";

/// Most sessions in one answer; `_count` may ask for fewer.
pub const LIMIT: usize = 200;
/// The widest `date` range a search may cover, in days.
const MAX_DAYS: i64 = 92;

pub fn clinic_type_system() -> String {
    format!("{CODE_SYSTEM}/clinic-type")
}

/// The departments of one organisation, by code.
pub fn dept_system(org_code: &str) -> String {
    format!("{SID}/dept/{org_code}")
}

/// The clinic type (号别) as a `serviceType`.
pub fn service_type(code: &str) -> Value {
    let name = ClinicType::parse(code).map(|c| c.zh()).unwrap_or(code);
    json!({ "coding": [{ "system": clinic_type_system(), "code": code, "display": name }], "text": name })
}

/// The doctor, named with their title when there is one (王建国 主任医师).
pub fn practitioner(s: &SessionView) -> Value {
    let name = match &s.doctor_title {
        Some(t) => format!("{} {t}", s.doctor_name),
        None => s.doctor_name.clone(),
    };
    super::practitioner::reference(s.doctor_id, &name)
}

/// The department, identified by its code when it is known.
pub fn department(s: &SessionView, dept_code: Option<&str>, org: &Org) -> Value {
    let mut r = json!({ "type": "HealthcareService", "display": s.dept_name });
    if let Some(code) = dept_code {
        r["identifier"] = json!({ "system": dept_system(&org.code), "value": code });
    }
    r
}

/// The consulting room, if the roster names one.
pub fn room(s: &SessionView) -> Option<Value> {
    super::location::reference(s.dept_id, s.room.as_deref())
}

pub fn day_of(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// An instant (µs) of the session's day at `HH:MM`.
pub fn at(s: &SessionView, hm: &str) -> Option<i64> {
    Some(dayi_core::roster::instant(day_of(&s.day)?, parse_hm(hm)?))
}

/// The rostered hours: from the first slot's start to the last one's end.
pub fn horizon(s: &SessionView) -> Option<(i64, i64)> {
    let start = at(s, &s.start_time)?;
    Some((start, start + s.slot_count * s.slot_minutes * 60_000_000))
}

/// The resource for a session.
pub fn schedule(s: &SessionView, dept_code: Option<&str>, org: &Org) -> Value {
    let mut actors = vec![practitioner(s), department(s, dept_code, org)];
    actors.extend(room(s));
    let mut r = json!({
        "resourceType": "Schedule",
        "id": s.id.to_string(),
        "active": !s.stopped,
        "serviceType": [service_type(&s.clinic_type)],
        "actor": actors,
    });
    if let Some((start, end)) = horizon(s) {
        r["planningHorizon"] = json!({ "start": instant(start), "end": instant(end) });
    }
    let mut comment = vec![format!("{} {}{} {}", s.day, s.weekday, s.half_day_name, s.clinic_type_name)];
    if let Some(from) = &s.visiting_from {
        r["extension"] = json!([{ "url": EXT_VISITING_FROM, "valueString": from }]);
        comment.push(format!("{from}专家坐诊"));
    }
    if s.stopped {
        comment.push(format!("停诊：{}", s.stop_reason.as_deref().unwrap_or("")));
    }
    r["comment"] = json!(comment.join("；"));
    r
}

/// Department codes by id, read once per request.
#[derive(Default)]
pub struct DeptCodes(HashMap<Uuid, Option<String>>);

impl DeptCodes {
    pub async fn of(&mut self, st: &AppState, staff: &Staff, id: Uuid) -> Result<Option<String>, DomainError> {
        if let Some(c) = self.0.get(&id) {
            return Ok(c.clone());
        }
        let code = dayi_app::tenancy::dept(&st.app, &staff.actor, id).await?.map(|d| d.code);
        self.0.insert(id, code.clone());
        Ok(code)
    }
}

/// GET /fhir/Schedule/{id}
pub async fn read(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> FhirResult {
    let id = Uuid::parse_str(&id).map_err(|_| DomainError::new(ErrorCode::SessionUnknown))?;
    let s = dayi_app::roster::get(&st.app, &staff.actor, id).await?;
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let code = DeptCodes::default().of(&st, &staff, s.dept_id).await?;
    Ok(json(StatusCode::OK, &schedule(&s, code.as_deref(), &org)))
}

/// The days a (partial) date covers.
fn days(raw: &str, date: &str) -> Result<(Date, Date), DomainError> {
    let wrong = || bad(format!("date「{raw}」应为 YYYY-MM-DD、YYYY-MM 或 YYYY，可带前缀 eq ge gt le lt"));
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = date.split('-').collect();
    let year = match parts.first() {
        Some(y) if digits(y, 4) => y.parse::<i32>().map_err(|_| wrong())?,
        _ => return Err(wrong()),
    };
    let month = |m: &str| m.parse::<u8>().ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(wrong);
    let on = |m: Month, d: u8| Date::from_calendar_date(year, m, d).map_err(|_| wrong());
    match parts.as_slice() {
        [_] => Ok((on(Month::January, 1)?, on(Month::December, 31)?)),
        [_, m] if digits(m, 2) => {
            let m = month(m)?;
            Ok((on(m, 1)?, on(m, m.length(year))?))
        }
        [_, m, d] if digits(m, 2) && digits(d, 2) => {
            let d = on(month(m)?, d.parse::<u8>().map_err(|_| wrong())?)?;
            Ok((d, d))
        }
        _ => Err(wrong()),
    }
}

/// The days a search covers (inclusive), from its `date` parameters: today
/// and the seven days after when none bounds it.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Window {
    pub(super) from: Option<Date>,
    pub(super) to: Option<Date>,
}

impl Window {
    pub(super) fn narrow(&mut self, raw: &str) -> Result<(), DomainError> {
        let (prefix, date) = match raw.get(..2) {
            Some(p) if p.bytes().all(|b| b.is_ascii_lowercase()) => (p, &raw[2..]),
            _ => ("eq", raw),
        };
        let (first, last) = days(raw, date)?;
        let later = |a: Option<Date>, b: Date| Some(a.map_or(b, |a| a.max(b)));
        let sooner = |a: Option<Date>, b: Date| Some(a.map_or(b, |a| a.min(b)));
        match prefix {
            "eq" => (self.from, self.to) = (later(self.from, first), sooner(self.to, last)),
            "ge" => self.from = later(self.from, first),
            "gt" => self.from = later(self.from, last + Duration::days(1)),
            "le" => self.to = sooner(self.to, last),
            "lt" => self.to = sooner(self.to, first - Duration::days(1)),
            _ => return Err(bad(format!("date 不支持前缀「{prefix}」（可用 eq ge gt le lt）"))),
        }
        Ok(())
    }

    /// The first and last day, or `None` when the range is empty.
    fn days(self, today: Date) -> Result<Option<(Date, Date)>, DomainError> {
        let from = self.from.unwrap_or(today);
        let to = self.to.unwrap_or(from + Duration::days(7));
        if to < from {
            return Ok(None);
        }
        if (to - from).whole_days() >= MAX_DAYS {
            return Err(bad(format!("date 范围最多 {MAX_DAYS} 天（{from} 至 {to} 过长），请缩小日期范围")));
        }
        Ok(Some((from, to)))
    }
}

/// A parsed `GET /fhir/Schedule` search.
#[derive(Debug, Default)]
struct Search {
    window: Window,
    /// One entry per `actor:identifier` parameter; its department codes unite.
    depts: Vec<Vec<String>>,
    /// One entry per `service-type` parameter; its clinic types unite.
    types: Vec<Vec<&'static str>>,
    active: Option<bool>,
    count: Option<usize>,
}

impl Search {
    fn keeps(&self, s: &SessionView, dept_code: Option<&str>) -> bool {
        self.depts.iter().all(|d| dept_code.is_some_and(|c| d.iter().any(|x| x == c)))
            && self.types.iter().all(|t| t.contains(&s.clinic_type.as_str()))
            && self.active.is_none_or(|a| a != s.stopped)
    }
}

/// `[system|]code` of a department; `None` for another organisation's.
fn dept_code(v: &str, org_code: &str) -> Result<Option<String>, DomainError> {
    match v.split_once('|') {
        None => Ok(Some(v.to_string())),
        Some(("", c)) => Ok(Some(c.to_string())),
        Some((s, c)) if s == dept_system(org_code) => Ok(Some(c.to_string())),
        Some((s, _)) if s.starts_with(&dept_system("")) => Ok(None),
        Some((s, _)) => Err(bad(format!("actor:identifier 不支持此标识系统：{s}（可用 {}）", dept_system(org_code)))),
    }
}

fn clinic_type(v: &str) -> Result<&'static str, DomainError> {
    let code = match v.split_once('|') {
        Some((s, c)) if s.is_empty() || s == clinic_type_system() => c,
        Some((s, _)) => {
            return Err(bad(format!("service-type 不支持此编码系统：{s}（可用 {}）", clinic_type_system())));
        }
        None => v,
    };
    ClinicType::parse(code)
        .map(|c| c.code())
        .ok_or_else(|| bad(format!("service-type「{v}」应为 general（普通）、expert（专家）或 special（特需）")))
}

fn parse(query: &str, org_code: &str) -> Result<Search, DomainError> {
    let mut s = Search::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let values = || v.split(',').map(str::trim).filter(|x| !x.is_empty());
        match k.as_ref() {
            "date" => s.window.narrow(v.trim())?,
            "actor:identifier" => {
                let codes: Vec<Option<String>> = values().map(|x| dept_code(x, org_code)).collect::<Result<_, _>>()?;
                s.depts.push(codes.into_iter().flatten().collect());
            }
            "actor" => return Err(bad("actor 请用 actor:identifier=科室代码（出诊的医生和科室不以资源引用给出）")),
            "service-type" => s.types.push(values().map(clinic_type).collect::<Result<_, _>>()?),
            "active" => {
                s.active = Some(match v.trim() {
                    "true" => true,
                    "false" => false,
                    x => return Err(bad(format!("active「{x}」应为 true 或 false"))),
                })
            }
            "_count" => s.count = Some(count_of(&v)?),
            k if k.contains(':') => return Err(bad(format!("不支持检索修饰符「{k}」"))),
            _ => {}
        }
    }
    Ok(s)
}

/// GET /fhir/Schedule?date=&actor:identifier=&service-type=&active=&_count=
pub async fn search(
    State(st): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> FhirResult {
    let org = dayi_app::tenancy::org(&st.app, staff.actor.org_id).await?;
    let query = query.unwrap_or_default();
    let base = base_url(&headers, st.web.secure_cookies);
    // With no parameter: every session, not only the coming week's.
    if let Some(w) = keyset::parse(&query)? {
        let page = dayi_app::roster::walk_sessions(&st.app, &staff.actor, &w.step(w.after_id()?)).await?;
        let mut codes = DeptCodes::default();
        let mut found = vec![];
        for v in &page.rows {
            found.push(schedule(v, codes.of(&st, &staff, v.dept_id).await?.as_deref(), &org));
        }
        return Ok(json(StatusCode::OK, &keyset::bundle(&base, "Schedule", &query, page.total, page.more, found)));
    }
    let s = parse(&query, &org.code)?;
    // An empty range finds nothing, but still asks: the permission is the use case's.
    let today = today_cst();
    let (from, to) = s.window.days(today)?.unwrap_or((today, today - Duration::days(1)));
    let sessions = dayi_app::roster::week(&st.app, &staff.actor, from, to, None).await?;
    let mut codes = DeptCodes::default();
    let mut matches = vec![];
    for v in &sessions {
        let code = codes.of(&st, &staff, v.dept_id).await?;
        if s.keeps(v, code.as_deref()) {
            matches.push(schedule(v, code.as_deref(), &org));
        }
    }
    let total = matches.len();
    let shown = s.count.unwrap_or(LIMIT).min(LIMIT);
    let warning = (total > LIMIT && shown == LIMIT)
        .then(|| format!("共 {total} 个出诊，每次最多返回 {LIMIT} 个，请缩小日期范围或按科室检索"));
    matches.truncate(shown);
    Ok(json(StatusCode::OK, &searchset(&base, "Schedule", &query, total, matches, warning)))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn window(params: &[&str]) -> Result<Option<(Date, Date)>, DomainError> {
        let mut w = Window::default();
        for p in params {
            w.narrow(p)?;
        }
        w.days(date!(2026 - 11 - 20))
    }

    #[test]
    fn dates_bound_the_days() {
        assert_eq!(window(&[]).unwrap(), Some((date!(2026 - 11 - 20), date!(2026 - 11 - 27))));
        let week = window(&["ge2026-11-23", "le2026-11-30"]).unwrap();
        assert_eq!(week, Some((date!(2026 - 11 - 23), date!(2026 - 11 - 30))));
        assert_eq!(window(&["2026-11-24"]).unwrap(), Some((date!(2026 - 11 - 24), date!(2026 - 11 - 24))));
        assert_eq!(window(&["eq2026-02"]).unwrap(), Some((date!(2026 - 02 - 01), date!(2026 - 02 - 28))));
        let open = window(&["gt2026-11-23", "lt2026-11-25"]).unwrap();
        assert_eq!(open, Some((date!(2026 - 11 - 24), date!(2026 - 11 - 24))));
        assert_eq!(window(&["ge2026-12-01"]).unwrap(), Some((date!(2026 - 12 - 01), date!(2026 - 12 - 08))));
        assert_eq!(window(&["le2026-11-19"]).unwrap(), None);
        for refused in [&["2026"][..], &["ne2026-11-23"], &["ge2026-11-31"], &["2026-1-1"], &["soon"], &["ge2026-13"]] {
            assert!(window(refused).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn parameters_are_checked() {
        let s = parse("actor:identifier=https://dayi.org.cn/fhir/sid/dept/o|03,50&service-type=expert", "o").unwrap();
        assert_eq!((s.depts, s.types), (vec![vec!["03".to_string(), "50".into()]], vec![vec!["expert"]]));
        let other = parse("actor:identifier=https://dayi.org.cn/fhir/sid/dept/p|03", "o").unwrap();
        assert_eq!(other.depts, vec![Vec::<String>::new()]);
        for q in ["actor=Practitioner/x", "date:missing=true", "service-type=vip", "active=yes", "_count=-1"] {
            assert_eq!(parse(q, "o").unwrap_err().code, ErrorCode::BadRequest, "{q}");
        }
    }
}
