//! The pre-triage station (预检分诊台): the nurse finds the patient by code
//! or search, records temperature, symptoms and epidemiological answers; the
//! dated rules in force route them to emergency, the fever clinic or a
//! department with the reasons shown. A patient routed away from their
//! department's queue is diverted out of it until they check back in; a
//! priority group the nurse confirms moves them up. Every record is kept for
//! the day's report.

use dayi_core::audit::OK;
use dayi_core::card::CareStep;
use dayi_core::queue::{self as q, Action, PriorityGroup, Status};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::triage::{self, Decision, Findings, Route, Rules};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::queue::Change;
use dayi_store::triage::Triage;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::booking::CheckIn;
use crate::card::Presented;
use crate::records::Dept;
use crate::{Actor, App, OrInternal, policy, queue};

pub const RULES: &str = "triage.rules";

pub async fn rules(app: &App, org_id: Uuid) -> Result<Rules, DomainError> {
    policy::json(app, org_id, RULES).await
}

/// What the desk offers: the rules in force (symptoms by route, the
/// questions, the fever line) and the clinical departments to send to.
pub struct Desk {
    pub rules: Rules,
    pub depts: Vec<Dept>,
}

pub async fn desk(app: &App, actor: &Actor) -> Result<Desk, DomainError> {
    actor.require(app, Perm::Triage).await?;
    let rules = rules(app, actor.org_id).await?;
    let depts = crate::tenancy::clinical_depts(app, actor.org_id).await?;
    Ok(Desk { rules, depts })
}

/// A code scanned or typed at the desk. The scan is the arrival: the
/// patient's registration of today is checked in (or back, after being
/// passed or sent to tests); without one, `arrived` is empty.
pub async fn find(app: &App, actor: &Actor, code: &str) -> Result<(Uuid, Option<CheckIn>), DomainError> {
    actor.require(app, Perm::Triage).await?;
    let input = Presented {
        code: code.to_string(),
        step: CareStep::Triage.code().into(),
        station: "预检分诊台".into(),
        voucher: false,
        on_behalf: false,
    };
    let r = crate::card::resolve(app, actor, &input).await?;
    let id = r.patient.id;
    match crate::booking::arrive(app, actor, r.patient).await {
        Ok(c) => Ok((id, Some(c))),
        Err(e) if e.code == ErrorCode::CheckinNone || e.code == ErrorCode::Forbidden => Ok((id, None)),
        Err(e) => Err(e),
    }
}

/// What the nurse submits.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TriageForm {
    #[schema(value_type = uuid::Uuid)]
    pub patient_id: String,
    /// "36.8"; empty when not measured.
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = f64)]
    pub temperature: String,
    pub symptoms: Vec<String>,
    /// Codes of the questions answered "yes".
    pub exposures: Vec<String>,
    /// A priority group code, or empty.
    pub priority: String,
    /// A department code chosen by the nurse; empty takes the rules' choice.
    pub dept: String,
}

/// A triage record as the station and the report show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TriageView {
    pub id: Uuid,
    pub patient_id: Uuid,
    /// Masked: the list is read at a busy desk.
    pub patient_name: String,
    pub temperature: Option<String>,
    pub fever: bool,
    pub route: Route,
    pub route_name: &'static str,
    pub dept: String,
    pub reasons: Vec<String>,
    pub symptoms: Vec<String>,
    pub priority: Option<&'static str>,
    pub nurse: String,
    pub at: String,
    /// Queue entries taken out of a department's queue by this routing.
    pub diverted: usize,
}

/// Routes without saving, for the form's live hint.
pub async fn preview(app: &App, actor: &Actor, f: &TriageForm) -> Result<Decision, DomainError> {
    actor.require(app, Perm::Triage).await?;
    let r = rules(app, actor.org_id).await?;
    let findings = findings(f, &r)?;
    triage::decide(&findings, &r)
}

fn findings(f: &TriageForm, r: &Rules) -> Result<Findings, DomainError> {
    Ok(Findings {
        temperature_tenths: triage::parse_temperature(&f.temperature, r)?,
        symptoms: f.symptoms.iter().filter(|s| !s.is_empty()).cloned().collect(),
        exposures: f.exposures.iter().filter(|s| !s.is_empty()).cloned().collect(),
    })
}

/// Records a triage and applies it to the patient's queue entries of today.
pub async fn record(app: &App, actor: &Actor, f: &TriageForm) -> Result<TriageView, DomainError> {
    actor.require(app, Perm::Triage).await?;
    let patient_id = Uuid::parse_str(f.patient_id.trim())
        .map_err(|_| DomainError::field("code", ErrorCode::PatientUnknown, [""; 0]))?;
    let patient = crate::patient::load(app, actor.org_id, patient_id).await?;
    let r = rules(app, actor.org_id).await?;
    let findings = findings(f, &r)?;
    let decision = triage::decide(&findings, &r)?;
    let group = priority_group(&f.priority)?;
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    let routing = Routing::new(decision, group, &f.dept, &depts)?;
    let prio = queue::config::priority(app, actor.org_id).await?;
    let day = today_cst().to_string();
    let now = now_micros();
    let entries = dayi_store::queue::of_patient(&app.db, actor.org_id, patient_id, &day).await.or_internal()?;
    let open: Vec<_> = entries.into_iter().filter(|e| e.status != Status::Done.code()).collect();
    let t = triage_row(actor, patient_id, open.first().map(|e| e.booking_id), day, &findings, &routing, now);
    // Which entries are in the department they are sent to is read before
    // the transaction, which then uses its own connection only.
    let in_target = in_target(app, actor.org_id, &open, routing.away_to()).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::triage::insert(&mut tx, &t).await.or_internal()?;
    let mut audit = vec![actor.entry(
        "triage.record",
        "triage",
        &t.id.to_string(),
        Some(patient_id),
        OK,
        &format!("{} {}", routing.decision.route.code(), routing.chosen.as_deref().unwrap_or("")),
    )];
    let mut touched = vec![];
    let mut diverted = 0;
    for (e, in_target) in open.iter().zip(in_target) {
        let Some((c, action)) = change_of(e, &routing, in_target, &prio, now) else { continue };
        if dayi_store::queue::update(&mut tx, actor.org_id, e.booking_id, &e.status, e.updated_at, &c)
            .await
            .or_internal()?
        {
            diverted += usize::from(action == "queue.divert");
            touched.push(e.session_id);
            audit.push(actor.entry(action, "queue_entry", &e.booking_id.to_string(), Some(patient_id), OK, &c.status));
        }
    }
    dayi_store::audit::append(&mut tx, actor.org_id, audit).await.or_internal()?;
    tx.commit().await.or_internal()?;
    queue::publish(app, actor.org_id, &touched, None, now).await;
    let mut v = view(&t, &patient.name, routing.dept.map(|d| d.name.as_str()).unwrap_or(""), &r);
    v.diverted = diverted;
    Ok(v)
}

/// The priority group the nurse confirmed, if any.
fn priority_group(code: &str) -> Result<Option<PriorityGroup>, DomainError> {
    match code.trim() {
        "" => Ok(None),
        g => PriorityGroup::parse(g)
            .map(Some)
            .ok_or_else(|| DomainError::field("priority", ErrorCode::InvalidFormat, [g])),
    }
}

/// Where the patient is sent: the rules' decision, the department (the
/// nurse's choice, else the rules') and the priority group.
struct Routing<'a> {
    decision: Decision,
    /// The department's code, as chosen.
    chosen: Option<String>,
    dept: Option<&'a Dept>,
    group: Option<PriorityGroup>,
}

impl<'a> Routing<'a> {
    fn new(
        decision: Decision,
        group: Option<PriorityGroup>,
        dept: &str,
        depts: &'a [Dept],
    ) -> Result<Routing<'a>, DomainError> {
        let chosen = match dept.trim() {
            "" => decision.dept.clone(),
            c => Some(c.to_string()),
        };
        let dept = match &chosen {
            Some(code) => Some(
                depts
                    .iter()
                    .find(|d| &d.code == code)
                    .ok_or_else(|| DomainError::field("dept", ErrorCode::TriageDeptUnknown, [code]))?,
            ),
            None => None,
        };
        Ok(Routing { decision, chosen, dept, group })
    }

    /// Sent to emergency or the fever clinic: the department the patient
    /// leaves every other department's queue for.
    fn away_to(&self) -> Option<Uuid> {
        self.dept.map(|d| d.id).filter(|_| self.decision.route != Route::Department)
    }
}

fn triage_row(
    actor: &Actor,
    patient_id: Uuid,
    booking_id: Option<Uuid>,
    day: String,
    findings: &Findings,
    routing: &Routing,
    now: i64,
) -> Triage {
    Triage {
        org_id: actor.org_id,
        id: Uuid::now_v7(),
        patient_id,
        booking_id,
        day,
        temperature: findings.temperature_tenths.map(i64::from),
        symptoms: findings.symptoms.join(","),
        exposures: findings.exposures.join(","),
        route: routing.decision.route.code().into(),
        dept_id: routing.dept.map(|d| d.id),
        reasons: routing.decision.reasons.join("\n"),
        priority: routing.group.map(|g| g.code().into()),
        nurse: actor.username.clone(),
        created_at: now,
    }
}

/// For each open entry, whether its session is of the department the
/// patient is sent away to (always false when not sent away).
async fn in_target(
    app: &App,
    org_id: Uuid,
    open: &[dayi_store::queue::Entry],
    away_to: Option<Uuid>,
) -> Result<Vec<bool>, DomainError> {
    let mut in_target = vec![];
    for e in open {
        in_target.push(match away_to {
            Some(target) => dayi_store::roster::get_session(&app.db, org_id, e.session_id)
                .await
                .or_internal()?
                .is_some_and(|s| s.dept_id == target),
            None => false,
        });
    }
    Ok(in_target)
}

/// What the routing does to one open queue entry, with its audit action:
/// sent to emergency or the fever clinic, it is out of any department queue
/// (other than the one they are sent to) until they check back in; a
/// priority group moves a waiting entry up. `None` leaves it as it is.
fn change_of(
    e: &dayi_store::queue::Entry,
    routing: &Routing,
    in_target: bool,
    prio: &queue::config::Priority,
    now: i64,
) -> Option<(Change, &'static str)> {
    let group = routing.group;
    let (next, action) = if routing.decision.route != Route::Department && !in_target {
        (q::step(queue_entry(e), Action::Divert).ok(), "queue.divert")
    } else if group.is_some() && e.status == Status::Waiting.code() {
        (Some(queue_entry(e)), "queue.priority")
    } else {
        (None, "")
    };
    let next = next?;
    let rank = group.and_then(|g| prio.rank(g)).map(i64::from);
    let c = Change {
        session_id: e.session_id,
        status: next.status.code().into(),
        recalled: next.recalled,
        mark: e.mark,
        calls: i64::from(next.calls),
        called_by: e.called_by.clone(),
        called_at: e.called_at,
        priority: rank.or(e.priority),
        priority_group: group.map(|g| g.code().to_string()).or(e.priority_group.clone()),
        updated_at: now,
    };
    Some((c, action))
}

fn queue_entry(e: &dayi_store::queue::Entry) -> q::Entry {
    q::Entry {
        status: Status::parse(&e.status).unwrap_or(Status::Waiting),
        recalled: e.recalled,
        calls: e.calls.clamp(0, i64::from(u32::MAX)) as u32,
    }
}

fn view(t: &Triage, name: &str, dept: &str, r: &Rules) -> TriageView {
    let route = Route::parse(&t.route).unwrap_or(Route::Department);
    let temp = t.temperature.map(|x| x as i32);
    TriageView {
        id: t.id,
        patient_id: t.patient_id,
        patient_name: mask::name(name),
        temperature: temp.map(triage::tenths),
        fever: temp.is_some_and(|x| x >= r.fever_from_tenths),
        route,
        route_name: route.zh(),
        dept: dept.to_string(),
        reasons: t.reasons.lines().map(str::to_string).collect(),
        symptoms: t
            .symptoms
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| r.symptoms.iter().find(|s| s.code == c).map(|s| s.name.clone()).unwrap_or_else(|| c.to_string()))
            .collect(),
        priority: t.priority.as_deref().and_then(PriorityGroup::parse).map(|g| g.zh()),
        nurse: t.nurse.clone(),
        at: dayi_core::timefmt::show(t.created_at),
        diverted: 0,
    }
}

/// A day's triage records and the count per route (the triage register, 预检分诊登记).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Register {
    pub day: String,
    pub records: Vec<TriageView>,
    pub total: usize,
    pub by_route: Vec<(Route, &'static str, i64)>,
}

pub async fn register(app: &App, actor: &Actor, day: &str, route: Option<Route>) -> Result<Register, DomainError> {
    actor.require(app, Perm::Triage).await?;
    if time::Date::parse(day, &time::format_description::well_known::Iso8601::DATE).is_err() {
        return Err(DomainError::field("day", ErrorCode::InvalidFormat, ["YYYY-MM-DD"]));
    }
    let r = rules(app, actor.org_id).await?;
    let rows =
        dayi_store::triage::of_day(&app.db, actor.org_id, day, route.map(|x| x.code()), 2_000).await.or_internal()?;
    let counts = dayi_store::triage::counts(&app.db, actor.org_id, day, day).await.or_internal()?;
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    let mut records = vec![];
    for t in &rows {
        let name = dayi_store::patient::get(&app.db, actor.org_id, t.patient_id).await.or_internal()?.map(|p| p.name);
        let dept = depts.iter().find(|d| Some(d.id) == t.dept_id).map(|d| d.name.as_str()).unwrap_or("");
        records.push(view(t, name.as_deref().unwrap_or(""), dept, &r));
    }
    app.audit.record(actor.entry("triage.register", "triage", day, None, OK, &format!("{} rows", records.len()))).await;
    let by_route = Route::ALL
        .iter()
        .map(|x| (*x, x.zh(), counts.iter().filter(|(_, c, _)| c == x.code()).map(|(_, _, n)| *n).sum()))
        .collect();
    Ok(Register { day: day.to_string(), total: counts.iter().map(|c| c.2 as usize).sum(), records, by_route })
}
