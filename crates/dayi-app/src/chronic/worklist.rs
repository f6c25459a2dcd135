//! Worklists (工作清单): follow-ups due, overdue and never made, annual health
//! checks due and referrals awaiting their 2-week follow-up, per doctor and
//! per village; proposals to enrol; residents due for screening.

use dayi_core::DomainError;
use dayi_core::audit::OK;
use dayi_core::chronic::{Class, Disease, Next};
use dayi_core::identity::Sex;
use dayi_core::mask;
use dayi_core::timefmt::today_cst;
use dayi_store::chronic::Work;
use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use super::{age_of, day, parse_day, require_work, rules, split};
use crate::{Actor, App, OrInternal};

/// Lines on one page of a worklist.
pub const PAGE: i64 = 50;
/// Lines of a whole worklist (its Excel file).
pub const WHOLE: i64 = 5_000;
/// Lines the proposal and screening lists show.
pub const LIMIT: i64 = 500;
/// "Due" looks this many days ahead (a screen's choice, not policy).
const DUE_AHEAD_DAYS: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = WorkList)]
pub enum List {
    Due,
    Overdue,
    NeverSeen,
    Checkup,
    Referral,
}

impl List {
    pub const ALL: [List; 5] = [List::Due, List::Overdue, List::NeverSeen, List::Checkup, List::Referral];
    pub fn code(self) -> &'static str {
        match self {
            List::Due => "due",
            List::Overdue => "overdue",
            List::NeverSeen => "never",
            List::Checkup => "checkup",
            List::Referral => "referral",
        }
    }
    pub fn zh(self) -> &'static str {
        match self {
            List::Due => "近两周应随访",
            List::Overdue => "逾期未随访",
            List::NeverSeen => "建档后未随访",
            List::Checkup => "年度体检到期",
            List::Referral => "转诊待 2 周随访",
        }
    }
    pub fn parse(s: &str) -> Option<List> {
        List::ALL.into_iter().find(|l| l.code() == s)
    }
}

/// Which lines of a worklist to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One page of `PAGE` lines, from 1.
    Page(u32),
    /// The whole list, up to `WHOLE` lines (for the Excel file).
    All,
}

impl Lines {
    /// A page number as typed in an address; none means the first page.
    pub fn page(s: &str) -> Result<Lines, DomainError> {
        match s.trim() {
            "" => Ok(Lines::Page(1)),
            n => n
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .map(Lines::Page)
                .ok_or_else(|| DomainError::field("page", dayi_core::ErrorCode::InvalidFormat, ["1, 2, 3…"])),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkPage {
    pub list: List,
    /// From 1; 0 for the whole list.
    pub page: u32,
    /// More lines follow this page.
    pub more: bool,
    pub lines: Vec<WorkLine>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ChronicWorkLine)]
pub struct WorkLine {
    pub enrolment_id: Uuid,
    pub patient_id: Uuid,
    /// Masked: lists are read at a desk.
    pub name: String,
    pub sex_name: &'static str,
    pub age: i32,
    pub phone: String,
    pub disease_name: &'static str,
    pub doctor: String,
    pub village: String,
    pub next_due: String,
    pub next_name: &'static str,
    pub last_class_name: &'static str,
    pub last_visit_on: String,
    pub days_overdue: i64,
}

pub async fn worklist(
    app: &App,
    actor: &Actor,
    list: &str,
    doctor: Option<&str>,
    village: Option<&str>,
    lines: Lines,
) -> Result<WorkPage, DomainError> {
    require_work(app, actor).await?;
    let list = List::parse(list.trim()).ok_or_else(|| {
        dayi_core::DomainError::field(
            "list",
            dayi_core::ErrorCode::InvalidFormat,
            ["due|overdue|never|checkup|referral"],
        )
    })?;
    let r = rules(app, actor.org_id).await?;
    let today = today_cst();
    let (t, ahead, since) =
        (day(today), day(today + Duration::days(DUE_AHEAD_DAYS)), day(today - Duration::days(r.checkup_days)));
    let work = match list {
        List::Due => Work::Due(&ahead),
        List::Overdue => Work::Overdue,
        List::NeverSeen => Work::NeverSeen,
        List::Checkup => Work::CheckupSince(&since),
        List::Referral => Work::Referral,
    };
    let (doctor, village) = (doctor.filter(|d| !d.is_empty()), village.filter(|v| !v.is_empty()));
    let (page, limit, offset) = match lines {
        Lines::Page(n) => (n.max(1), PAGE, (i64::from(n.max(1)) - 1) * PAGE),
        Lines::All => (0, WHOLE, 0),
    };
    // One line past the page tells whether another follows.
    let mut rows = dayi_store::chronic::worklist(&app.db, actor.org_id, work, &t, doctor, village, limit + 1, offset)
        .await
        .or_internal()?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    app.audit
        .record(actor.entry(
            "chronic.worklist",
            "chronic_enrolment",
            list.code(),
            None,
            OK,
            &format!("page {page}: {} rows", rows.len()),
        ))
        .await;
    let lines = rows
        .into_iter()
        .map(|w| {
            let e = &w.enrolment;
            let days_overdue = e
                .next_due
                .as_deref()
                .and_then(|d| parse_day("next_due", d).ok())
                .map(|d| (today - d).whole_days().max(0))
                .unwrap_or(0);
            WorkLine {
                enrolment_id: e.id,
                patient_id: e.patient_id,
                name: mask::name(&w.name),
                sex_name: Sex::parse(&w.sex).map(|s| s.zh()).unwrap_or(""),
                age: age_of(&w.birth_date, today).unwrap_or(0),
                phone: w.phone.as_deref().map(mask::phone).unwrap_or_default(),
                disease_name: Disease::parse(&e.disease).map(|d| d.zh()).unwrap_or(""),
                doctor: e.doctor.clone(),
                village: e.village.clone(),
                next_due: e.next_due.clone().unwrap_or_default(),
                next_name: Next::parse(&e.next_kind).map(|n| n.zh()).unwrap_or(""),
                last_class_name: e.last_class.as_deref().and_then(Class::parse).map(|c| c.zh()).unwrap_or("—"),
                last_visit_on: e.last_visit_on.clone().unwrap_or_default(),
                days_overdue,
            }
        })
        .collect();
    Ok(WorkPage { list, page, more, lines })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProposalLine {
    pub screening_id: Uuid,
    pub patient_id: Uuid,
    pub name: String,
    pub sex_name: &'static str,
    pub age: i32,
    pub screened_on: String,
    pub source: String,
    /// (code, name) of each disease suggested.
    pub suspected: Vec<(&'static str, &'static str)>,
    pub bp: String,
    pub fbg: String,
}

pub async fn proposals(app: &App, actor: &Actor) -> Result<Vec<ProposalLine>, DomainError> {
    require_work(app, actor).await?;
    let today = today_cst();
    let rows = dayi_store::chronic::open_proposals(&app.db, actor.org_id, LIMIT).await.or_internal()?;
    app.audit
        .record(actor.entry("chronic.proposals", "chronic_screening", "", None, OK, &format!("{} rows", rows.len())))
        .await;
    Ok(rows
        .into_iter()
        .map(|p| {
            let s = &p.screening;
            ProposalLine {
                screening_id: s.id,
                patient_id: s.patient_id,
                name: mask::name(&p.name),
                sex_name: Sex::parse(&p.sex).map(|s| s.zh()).unwrap_or(""),
                age: age_of(&p.birth_date, today).unwrap_or(0),
                screened_on: s.screened_on.clone(),
                source: s.source.clone(),
                suspected: split(&s.suspected).filter_map(Disease::parse).map(|d| (d.code(), d.zh())).collect(),
                bp: match (s.sbp, s.dbp) {
                    (Some(a), Some(b)) => format!("{a}/{b}"),
                    _ => String::new(),
                },
                fbg: s.fbg_milli.map(dayi_core::catalog::show_milli).unwrap_or_default(),
            }
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct DueLine {
    pub patient_id: Uuid,
    pub name: String,
    pub sex_name: &'static str,
    pub age: i32,
    pub phone: String,
    pub address: String,
}

/// Residents of the programme's age with no screening reading in force.
pub async fn screening_due(app: &App, actor: &Actor) -> Result<Vec<DueLine>, DomainError> {
    require_work(app, actor).await?;
    let r = rules(app, actor.org_id).await?;
    let today = today_cst();
    let born_by = today.replace_year(today.year() - r.min_age).unwrap_or(today - Duration::days(365 * 35));
    let rows = dayi_store::chronic::screening_due(&app.db, actor.org_id, &day(born_by), &day(today), LIMIT)
        .await
        .or_internal()?;
    app.audit
        .record(actor.entry("chronic.screening_due", "patient", "", None, OK, &format!("{} rows", rows.len())))
        .await;
    Ok(rows
        .into_iter()
        .map(|p| DueLine {
            patient_id: p.id,
            name: mask::name(&p.name),
            sex_name: Sex::parse(&p.sex).map(|s| s.zh()).unwrap_or(""),
            age: age_of(&p.birth_date, today).unwrap_or(0),
            phone: p.phone.as_deref().map(mask::phone).unwrap_or_default(),
            address: p.address.unwrap_or_default(),
        })
        .collect())
}

/// Diseases a patient's open proposals suggest, for the doctor's banner;
/// empty for staff outside the programme.
pub async fn pending(
    app: &App,
    actor: &Actor,
    patient_id: Uuid,
) -> Result<Vec<(&'static str, &'static str)>, DomainError> {
    if !actor.can(dayi_core::security::Perm::PublicHealthWork) {
        return Ok(vec![]);
    }
    let rows = dayi_store::chronic::screenings_of(&app.db, actor.org_id, patient_id).await.or_internal()?;
    let mut out: Vec<(&'static str, &'static str)> = vec![];
    for d in rows.iter().filter(|s| s.proposal == "open").flat_map(|s| split(&s.suspected).filter_map(Disease::parse)) {
        if !out.iter().any(|(c, _)| *c == d.code()) {
            out.push((d.code(), d.zh()));
        }
    }
    Ok(out)
}
