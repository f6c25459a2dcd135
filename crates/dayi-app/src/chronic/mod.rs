//! Chronic-disease management (慢病管理, 三高共管 六病同防): the registry,
//! screening fed by visits and lab results, the standard follow-up and its
//! classification, worklists, indicators and the patient's own view. The
//! rules are `dayi_core::chronic`; the numbers are dated configuration
//! (`chronic.rules`, `chronic.area`).

mod feed;
mod file;
mod followup;
mod indicator;
mod plan;
mod registry;
mod worklist;

pub use feed::{Feed, ScreenForm, dismiss, feed_lab, feed_visit, screen};
pub use file::{ChronicFile, EnrolmentView, FollowupView, Point, ReadingView, Series, file};
pub use followup::{Detail, FollowupForm, Outcome, record};
pub use indicator::{Group, IndicatorQuery, IndicatorRow, Indicators, PatientLine, behind, indicators};
pub use plan::{Plan, followup_row, plan, plans, require_read, walk as walk_plans};
pub use registry::{EnrolForm, close, enrol, enrolment, reassign, villages};
pub use worklist::{
    DueLine, Lines, List, ProposalLine, WorkLine, WorkPage, pending, proposals, screening_due, worklist,
};

use std::collections::BTreeMap;
use std::sync::Arc;

use dayi_core::chronic::{Rules, Tier};
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;
use uuid::Uuid;

use crate::{Actor, App, OrInternal, policy};

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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Area {
    pub tier: Tier,
    /// Expected patients in the area per disease code; 0 = not estimated.
    pub expected: BTreeMap<String, u64>,
    pub villages: Vec<VillageEstimate>,
}

impl Default for Area {
    fn default() -> Self {
        Area { tier: Tier::Base, expected: BTreeMap::new(), villages: vec![] }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VillageEstimate {
    pub name: String,
    pub expected: BTreeMap<String, u64>,
}

pub async fn area(app: &App, org_id: Uuid) -> Result<Area, DomainError> {
    policy::json(app, org_id, AREA).await
}

/// The area form: the tier and estimates saved, and the registry's villages
/// (for rows not estimated yet). Organisation settings: the administrator
/// and the public-health staff, not every doctor.
pub async fn area_form(app: &App, actor: &Actor) -> Result<(Area, Vec<String>), DomainError> {
    require_manage(app, actor).await?;
    let villages = dayi_store::chronic::villages(&app.db, actor.org_id).await.or_internal()?;
    Ok((area(app, actor.org_id).await?, villages))
}

/// Changing the organisation's tier and estimates.
pub async fn require_manage(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::PublicHealthManage).await
}

/// The tier and estimates, for public-health staff and whoever sets them.
pub async fn area_for(app: &App, actor: &Actor) -> Result<Area, DomainError> {
    if !actor.can(Perm::PublicHealthManage) {
        require_work(app, actor).await?;
    }
    area(app, actor.org_id).await
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

/// Saves the organisation's tier and expected patient numbers as a dated
/// row from today (the old row stays for the record), audited.
pub async fn set_area(app: &App, actor: &Actor, a: &Area) -> Result<Area, DomainError> {
    require_manage(app, actor).await?;
    let mut checks = dayi_core::error::Checks::new();
    if let Some(k) = a
        .expected
        .keys()
        .chain(a.villages.iter().flat_map(|v| v.expected.keys()))
        .find(|k| dayi_core::chronic::Disease::parse(k).is_none())
    {
        checks.add("expected", ErrorCode::InvalidFormat, [k.as_str()]);
    }
    for (i, v) in a.villages.iter().enumerate() {
        if v.name.trim().is_empty() || v.name.chars().count() > 40 {
            checks.add(&format!("villages[{i}].name"), ErrorCode::Required, [""; 0]);
        }
    }
    checks.finish()?;
    let value = serde_json::to_value(a).or_internal()?;
    let row = dayi_store::setting::Setting {
        org_id: actor.org_id,
        key: AREA.into(),
        effective_from: dayi_core::timefmt::today_cst().to_string(),
        value: value.to_string(),
        source: "admin".into(),
        updated_by: actor.username.clone(),
        updated_at: dayi_core::timefmt::now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::setting::upsert(&mut tx, &row).await.or_internal()?;
    let entry = actor.entry("chronic.area", "setting", AREA, None, dayi_core::audit::OK, &row.value);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    policy::forget(app);
    Ok(a.clone())
}
