//! Request parameters shared by the JSON API and the pages: ids, windows
//! of days, the triage register, the indicator and audit queries, a
//! booking as sent, and the site's own address. Plain functions, so
//! neither side imports the other.

use axum::http::HeaderMap;
use dayi_app::booking::BookRequest;
use dayi_app::chronic::IndicatorQuery;
use dayi_app::records::AuditFilter;
use dayi_core::booking::{BookingChannel, OnBehalf};
use dayi_core::error::Checks;
use dayi_core::timefmt::today_cst;
use dayi_core::triage::Route;
use dayi_core::{DomainError, ErrorCode};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn parse_id(s: &str) -> Result<uuid::Uuid, DomainError> {
    uuid::Uuid::parse_str(s).map_err(|_| DomainError::new(ErrorCode::NotFound))
}

/// The server's own address as the caller reached it, for callbacks and return pages.
pub fn base_of(headers: &HeaderMap) -> String {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}")
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct Window {
    /// First day, `YYYY-MM-DD` (default today).
    #[param(format = Date)]
    pub from: String,
    /// Last day (default a week on).
    #[param(format = Date)]
    pub to: String,
    /// Department id.
    #[param(value_type = uuid::Uuid)]
    pub dept: String,
}

/// Parses a window of days; bad dates are a 422 naming the field.
pub fn window(w: &Window) -> Result<(time::Date, time::Date, Option<uuid::Uuid>), DomainError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let day = |field: &str, v: &str, default: time::Date| match v.trim() {
        "" => Ok(default),
        s => time::Date::parse(s, &fmt).map_err(|_| DomainError::field(field, ErrorCode::DateInvalid, [s])),
    };
    let from = day("from", &w.from, today_cst())?;
    let to = day("to", &w.to, from + time::Duration::days(6))?;
    let to = to.min(from + time::Duration::days(62));
    let dept = match w.dept.trim() {
        "" => None,
        s => Some(uuid::Uuid::parse_str(s).map_err(|_| DomainError::field("dept", ErrorCode::ChoiceInvalid, [s]))?),
    };
    Ok((from, to, dept))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ScopeQuery {
    /// Department codes of a zone, comma-separated (all when empty).
    pub dept: String,
    /// One session (a room screen).
    pub session: String,
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct RegisterQuery {
    /// `YYYY-MM-DD`, default today.
    #[param(format = Date)]
    pub day: String,
    /// `emergency`, `fever` or `department`.
    #[param(value_type = dayi_core::triage::Route)]
    pub route: String,
}

pub fn register_query(q: &RegisterQuery) -> Result<(String, Option<Route>), DomainError> {
    let day = match q.day.trim() {
        "" => dayi_core::timefmt::today_cst().to_string(),
        d => d.to_string(),
    };
    let route = match q.route.trim() {
        "" => None,
        r => Some(Route::parse(r).ok_or_else(|| DomainError::field("route", ErrorCode::InvalidFormat, [r]))?),
    };
    Ok((day, route))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
/// The indicator query of a page or API request, and a drill-down's number.
pub struct IndicatorParams {
    /// `YYYY`; default this year (so far).
    pub year: String,
    /// `org` (default), `doctor` or `village`.
    pub group: String,
    /// The row: the doctor's user name or the village; empty for the organisation.
    pub key: String,
    /// `htn`, `t2dm` or `lipid`.
    #[param(value_type = dayi_core::chronic::Disease)]
    pub disease: String,
    /// `managed`, `standard`, `controlled`, `lipid_tested`, `not_standard` or `not_controlled`.
    pub measure: String,
}

impl IndicatorParams {
    /// The query; the year defaults to this year (so far).
    pub fn query(&self) -> IndicatorQuery {
        let or = |s: &str, d: String| if s.trim().is_empty() { d } else { s.trim().to_string() };
        IndicatorQuery { year: or(&self.year, today_cst().year().to_string()), group: or(&self.group, "org".into()) }
    }
}

#[derive(serde::Deserialize, Default, serde::Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub entity: String,
    #[serde(default)]
    pub outcome: String,
    /// `YYYY-MM-DD`, Beijing time.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: Option<i64>,
    #[serde(default)]
    pub done: Option<String>,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Start of a Beijing-time day in micros.
pub fn day_start(s: &str) -> Option<i64> {
    let d = time::Date::parse(s.trim(), time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(dayi_core::timefmt::to_micros(d.midnight().assume_offset(dayi_core::timefmt::CST)))
}

pub fn filter_of(q: &AuditQuery, limit: i64) -> AuditFilter {
    AuditFilter {
        actor_name: opt(&q.actor),
        action_prefix: opt(&q.action),
        entity_id: opt(&q.entity),
        patient_id: None,
        outcome: opt(&q.outcome),
        from: day_start(&q.from),
        to: day_start(&q.to).map(|t| t + 86_400_000_000),
        before_seq: q.before,
        limit,
    }
}

/// A booking as sent, from the JSON API or a form: every field as typed, so
/// each wrong one gets its own message. `parse` makes the use case's request.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct BookForm {
    #[schema(value_type = uuid::Uuid)]
    pub session_id: String,
    /// A chosen slot number; empty for the first free one.
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub seq: String,
    #[schema(value_type = uuid::Uuid)]
    pub patient_id: String,
    /// `self`, `family` or `staff` (帮办代办).
    #[schema(value_type = dayi_core::booking::OnBehalf)]
    pub on_behalf: String,
    /// `counter` or `phone` for staff; the portal is always `portal`.
    #[schema(value_type = dayi_core::booking::BookingChannel)]
    pub channel: String,
}

impl BookForm {
    pub fn parse(&self) -> Result<BookRequest, DomainError> {
        let mut checks = Checks::new();
        let mut id = |field: &str, v: &str| {
            let id = uuid::Uuid::parse_str(v.trim()).ok();
            if id.is_none() {
                checks.add(field, ErrorCode::Required, [""; 0]);
            }
            id
        };
        let (session_id, patient_id) = (id("session_id", &self.session_id), id("patient_id", &self.patient_id));
        let seq = match self.seq.trim() {
            "" => Some(None),
            s => s.parse::<i64>().map(Some).ok(),
        };
        if seq.is_none() {
            checks.add("seq", ErrorCode::InvalidFormat, [self.seq.trim()]);
        }
        let on_behalf = match self.on_behalf.trim() {
            "" => Some(OnBehalf::Self_),
            s => OnBehalf::parse(s),
        };
        if on_behalf.is_none() {
            checks.add("on_behalf", ErrorCode::ChoiceInvalid, [self.on_behalf.trim()]);
        }
        let channel = match self.channel.trim() {
            "" => Some(BookingChannel::Counter),
            s => BookingChannel::parse(s),
        };
        if channel.is_none() {
            checks.add("channel", ErrorCode::ChoiceInvalid, [self.channel.trim()]);
        }
        checks.finish()?;
        match (session_id, patient_id, seq, on_behalf, channel) {
            (Some(session_id), Some(patient_id), Some(seq), Some(on_behalf), Some(channel)) => {
                Ok(BookRequest { session_id, patient_id, seq, on_behalf, channel })
            }
            _ => Err(DomainError::new(ErrorCode::Validation)),
        }
    }
}
