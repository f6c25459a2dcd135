//! Chronic-disease management (慢病管理, 三高共管 六病同防): the registry,
//! screening fed by visits and lab results, the standard follow-up and its
//! classification, worklists, indicators and the patient's own view. The
//! rules are `dayi_core::chronic`; the numbers are dated configuration
//! (`chronic.rules`, `chronic.area`).

mod feed;
mod file;
mod followup;
mod indicator;
mod registry;
mod worklist;

pub use feed::{Feed, ScreenForm, dismiss, feed_lab, feed_visit, screen};
pub use file::{ChronicFile, EnrolmentView, FollowupView, Point, ReadingView, Series, file};
pub use followup::{Detail, FollowupForm, Outcome, record};
pub use indicator::{Group, IndicatorQuery, IndicatorRow, Indicators, PatientLine, behind, indicators};
pub use registry::{EnrolForm, close, enrol, enrolment, reassign, villages};
pub use worklist::{DueLine, List, ProposalLine, WorkLine, pending, proposals, screening_due, worklist};

use std::collections::BTreeMap;
use std::sync::Arc;

use dayi_core::chronic::{Rules, Tier};
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
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

/// The organisation in the three-highs network (configuration `chronic.area`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Area {
    pub tier: Tier,
    /// Expected patients in the area per disease code; 0 = not estimated.
    pub expected: BTreeMap<String, u64>,
    #[serde(default)]
    pub villages: Vec<VillageEstimate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VillageEstimate {
    pub name: String,
    pub expected: BTreeMap<String, u64>,
}

pub async fn area(app: &App, org_id: Uuid) -> Result<Area, DomainError> {
    policy::json(app, org_id, AREA).await
}

/// Registry work: enrolling, follow-ups, screening, worklists.
async fn require_work(app: &App, actor: &Actor) -> Result<(), DomainError> {
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

fn split(codes: &str) -> impl Iterator<Item = &str> {
    codes.split(',').filter(|c| !c.is_empty())
}
