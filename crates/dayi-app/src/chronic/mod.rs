//! Chronic-disease management (慢病管理, 三高共管 六病同防): the registry,
//! screening fed by visits and lab results, the standard follow-up and its
//! classification, worklists, indicators and the patient's own view. The
//! rules are `dayi_core::chronic`; the numbers are dated configuration
//! (`chronic.rules`, `chronic.area`).

mod area;
mod feed;
mod file;
mod followup;
mod indicator;
mod plan;
mod registry;
mod worklist;

pub use area::{Area, AreaRow, VillageEstimate, area, area_for, area_form, save_rows as save_area_rows, set_area};
pub use feed::{Feed, ScreenForm, dismiss, feed_lab, feed_visit, screen};
pub use file::{ChronicFile, EnrolmentView, FollowupView, Point, ReadingView, Series, file};
pub use followup::{Detail, FollowupForm, Outcome, record};
pub use indicator::{Group, IndicatorQuery, IndicatorRow, Indicators, PatientLine, behind, indicators};
pub use plan::{Plan, find as find_plans, followup_row, plan, plans, walk as walk_plans};
pub use registry::{EnrolForm, close, enrol, enrolment, reassign, villages};
pub use worklist::{
    DueLine, Lines, List, ProposalLine, WorkLine, WorkPage, pending, proposals, screening_due, worklist,
};

use std::sync::Arc;

use dayi_core::chronic::Rules;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use time::Date;
use time::macros::format_description;
use uuid::Uuid;

use crate::{Actor, App, policy};

pub const RULES: &str = "chronic.rules";
pub const AREA: &str = "chronic.area";

pub async fn rules(app: &App, org_id: Uuid) -> Result<Arc<Rules>, DomainError> {
    policy::parsed(app, org_id, RULES, |v| {
        let v = v.ok_or_else(|| crate::internal("policy chronic.rules missing"))?;
        serde_json::from_value(v).map_err(|e| crate::internal(format!("policy chronic.rules malformed: {e}")))
    })
    .await
}

/// Changing the organisation's tier and estimates.
pub async fn require_manage(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::PublicHealthManage).await
}

/// Registry work: enrolling, follow-ups, screening, worklists.
pub async fn require_work(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::PublicHealthWork).await
}

/// Reading the indicators: public-health staff and report readers.
async fn require_indicators(app: &App, actor: &Actor) -> Result<(), DomainError> {
    if actor.can(Perm::Reports) {
        return Ok(());
    }
    actor.require(app, Perm::PublicHealthWork).await
}

pub(crate) fn parse_day(field: &str, s: &str) -> Result<Date, DomainError> {
    Date::parse(s.trim(), format_description!("[year]-[month]-[day]"))
        .map_err(|_| DomainError::field(field, ErrorCode::InvalidFormat, ["YYYY-MM-DD"]))
}

pub(crate) fn day(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

/// A day that is not after today.
fn past_day(field: &str, s: &str, today: Date) -> Result<Date, DomainError> {
    let d = parse_day(field, s)?;
    if d > today {
        return Err(DomainError::field(field, ErrorCode::ChronicFutureDate, [day(today)]));
    }
    Ok(d)
}

fn age_of(birth_date: &str, on: Date) -> Option<i32> {
    let b = Date::parse(birth_date, format_description!("[year]-[month]-[day]")).ok()?;
    Some(dayi_core::patient::age_on(b, on))
}

/// The patient a form names by id.
async fn patient_of(app: &App, actor: &Actor, id: &str) -> Result<dayi_store::patient::Patient, DomainError> {
    let id = uuid::Uuid::parse_str(id.trim())
        .map_err(|_| DomainError::field("patient_id", ErrorCode::PatientUnknown, [""; 0]))?;
    crate::patient::load(app, actor.org_id, id).await
}

/// Every co-prevented disease code given must be one the rules list.
fn check_related(checks: &mut dayi_core::error::Checks, rules: &Rules, codes: &[String]) {
    if let Some(c) = codes.iter().find(|c| !c.is_empty() && !rules.related.iter().any(|x| &x.code == *c)) {
        checks.add("related", ErrorCode::InvalidFormat, [c]);
    }
}

fn split(codes: &str) -> impl Iterator<Item = &str> {
    codes.split(',').filter(|c| !c.is_empty())
}
