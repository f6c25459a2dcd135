//! Appointments and registration (挂号): booking by the counter, the portal
//! and on someone's behalf, walk-ins, slots added by the doctor, cancelling,
//! check-in by health-card code, and the nightly no-show count.

use dayi_core::audit::OK;
use dayi_core::booking::{self, BookingChannel, BookingStatus, OnBehalf, Rules};
use dayi_core::card::CareStep;
use dayi_core::catalog::yuan;
use dayi_core::roster::{ClinicType, HalfDay};
use dayi_core::security::Perm;
use dayi_core::timefmt::{CST, from_micros, now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::booking::Booking;
use dayi_store::roster::Session;
use dayi_store::walk::{Step, Walk};
use serde::{Deserialize, Serialize};
use time::Duration;
use uuid::Uuid;

use crate::desk::Ticket;
use crate::{Actor, App, OrInternal, Via, card, patient, policy, portal};

/// The booking rules in force today for the organisation.
pub async fn rules(app: &App, org_id: Uuid) -> Result<Rules, DomainError> {
    let v = |key| policy::int(app, org_id, key);
    Ok(Rules {
        release_days_ahead: v("booking.release_days_ahead").await?,
        release_minute: v("booking.release_minute").await?,
        max_per_day: v("booking.max_per_day").await?,
        max_per_dept_day: v("booking.max_per_dept_day").await?,
        one_per_session: v("booking.one_per_session").await? != 0,
        cancel_deadline_minutes: v("booking.cancel_deadline_minutes").await?,
        no_show_limit: v("booking.no_show_limit").await?,
        no_show_window_days: v("booking.no_show_window_days").await?,
        block_days: v("booking.block_days").await?,
    })
}

/// A booking as the counter, the doctor and the patient see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BookingView {
    pub id: Uuid,
    pub reg_no: String,
    /// Queue number (号序).
    pub seq: i64,
    pub day: String,
    /// `HH:MM` of the slot.
    pub time: String,
    pub session_id: Uuid,
    pub patient_id: Uuid,
    pub status: String,
    pub status_name: &'static str,
    pub channel: String,
    pub channel_name: &'static str,
    pub on_behalf: String,
    pub on_behalf_name: &'static str,
    pub fee_fen: i64,
    pub fee: String,
    pub booked_by: String,
    pub checked_in_at: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: String,
}

impl BookingView {
    pub fn new(b: &Booking) -> Self {
        let status = BookingStatus::parse(&b.status);
        let channel = BookingChannel::parse(&b.channel);
        Self {
            id: b.id,
            reg_no: b.reg_no.clone(),
            seq: b.seq,
            day: b.day.clone(),
            time: hm(b.slot_start),
            session_id: b.session_id,
            patient_id: b.patient_id,
            status: b.status.clone(),
            status_name: status.map(|s| s.zh()).unwrap_or(""),
            channel: b.channel.clone(),
            channel_name: channel.map(|c| c.zh()).unwrap_or(""),
            on_behalf: b.on_behalf.clone(),
            on_behalf_name: OnBehalf::parse(&b.on_behalf).map(|o| o.zh()).unwrap_or(""),
            fee_fen: b.fee_fen,
            fee: yuan(b.fee_fen),
            booked_by: b.booked_by.clone(),
            checked_in_at: b.checked_in_at.map(dayi_core::timefmt::show),
            cancel_reason: b.cancel_reason.clone(),
            created_at: dayi_core::timefmt::show(b.created_at),
        }
    }
}

/// `HH:MM` of an instant in Beijing time.
pub fn hm(us: i64) -> String {
    let t = from_micros(us).to_offset(CST);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// What a caller asks for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct BookRequest {
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

fn parse_id(field: &str, v: &str) -> Result<Uuid, DomainError> {
    Uuid::parse_str(v.trim()).map_err(|_| DomainError::field(field, ErrorCode::Required, [""; 0]))
}

/// Books a slot ahead of the day (counter, phone or portal).
pub async fn book(app: &App, actor: &Actor, req: &BookRequest) -> Result<Booking, DomainError> {
    let channel = match actor.via {
        Via::Portal => BookingChannel::Portal,
        _ => {
            actor.require(app, Perm::Registration).await?;
            match req.channel.trim() {
                "" | "counter" => BookingChannel::Counter,
                "phone" => BookingChannel::Phone,
                other => return Err(DomainError::field("channel", ErrorCode::ChoiceInvalid, [other])),
            }
        }
    };
    submit(app, actor, req, channel, false).await
}

/// Registers a walk-in from the session's remaining slots (现场挂号).
pub async fn walk_in(app: &App, actor: &Actor, req: &BookRequest) -> Result<Booking, DomainError> {
    actor.require(app, Perm::Registration).await?;
    submit(app, actor, req, BookingChannel::WalkIn, false).await
}

/// The doctor adds a slot beyond the roster for a patient (加号).
pub async fn add_slot(app: &App, actor: &Actor, req: &BookRequest) -> Result<Booking, DomainError> {
    actor.require(app, Perm::Clinical).await?;
    submit(app, actor, req, BookingChannel::Added, true).await
}

async fn submit(
    app: &App,
    actor: &Actor,
    req: &BookRequest,
    channel: BookingChannel,
    add: bool,
) -> Result<Booking, DomainError> {
    let session_id = parse_id("session_id", &req.session_id)?;
    let patient_id = parse_id("patient_id", &req.patient_id)?;
    let seq = match req.seq.trim() {
        "" => None,
        s => Some(s.parse::<i64>().map_err(|_| DomainError::field("seq", ErrorCode::InvalidFormat, [s]))?),
    };
    let on_behalf = match req.on_behalf.trim() {
        "" => OnBehalf::Self_,
        s => OnBehalf::parse(s).ok_or_else(|| DomainError::field("on_behalf", ErrorCode::ChoiceInvalid, [s]))?,
    };
    // A portal session's own patient is already its survivor; anyone else is
    // looked up, and a merged record books for its survivor.
    let patient_id = if actor.via == Via::Portal && patient_id == actor.staff_id {
        patient_id
    } else {
        let mut p = patient::load(app, actor.org_id, patient_id).await?;
        for _ in 0..8 {
            let Some(next) = p.merged_into else { break };
            p = patient::load(app, actor.org_id, next).await?;
        }
        if actor.via == Via::Portal {
            portal::require_family(app, actor, p.id).await?;
        }
        p.id
    };
    let on_behalf = match (actor.via, on_behalf) {
        (Via::Portal, OnBehalf::Staff) => OnBehalf::Family,
        (Via::Portal, _) if patient_id != actor.staff_id => OnBehalf::Family,
        (_, o) => o,
    };
    let entry = actor.entry("booking.create", "booking", "", Some(patient_id), OK, channel.code());
    let t = Ticket {
        org_id: actor.org_id,
        session_id,
        seq,
        add_slot: add,
        patient_id,
        channel,
        on_behalf: on_behalf.code().into(),
        booked_by: actor.username.clone(),
        rules: rules(app, actor.org_id).await?,
        now: now_micros(),
        entry,
    };
    // The desk audits the outcome, refused or not, in its own transaction.
    app.desk.book(t).await.or_internal()?
}

/// Loads a booking the actor may act on: staff with the permission, or the
/// patient (or their family account) in the portal.
async fn owned(app: &App, actor: &Actor, id: Uuid, staff_perm: Perm) -> Result<Booking, DomainError> {
    // Staff are checked before the lookup, so a refusal never reveals whether the booking exists.
    if actor.via != Via::Portal {
        actor.require(app, staff_perm).await?;
    }
    let b = dayi_store::booking::get(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::BookingUnknown))?;
    if actor.via == Via::Portal {
        portal::require_family(app, actor, b.patient_id).await?;
    }
    Ok(b)
}

/// Cancels a booking and frees its slot for someone else. Patients must
/// cancel before the deadline; the counter may until the slot's time.
pub async fn cancel(app: &App, actor: &Actor, id: Uuid, reason: &str) -> Result<Booking, DomainError> {
    let b = owned(app, actor, id, Perm::Registration).await?;
    let now = now_micros();
    let status = BookingStatus::parse(&b.status).unwrap_or(BookingStatus::Cancelled);
    if status != BookingStatus::Booked {
        return Err(DomainError::with(ErrorCode::BookingNotActive, [status.zh()]));
    }
    let r = rules(app, actor.org_id).await?;
    let deadline = if actor.via == Via::Portal { r } else { Rules { cancel_deadline_minutes: 0, ..r } };
    booking::check_cancel(&deadline, b.slot_start, now)?;
    let reason: String = reason.trim().chars().take(100).collect();
    let reason = if reason.is_empty() { "患者取消".to_string() } else { reason };
    let mut tx = app.db.begin().await.or_internal()?;
    let from = [BookingStatus::Booked.code()];
    let done = dayi_store::booking::set_status(&mut tx, actor.org_id, id, &from, "cancelled", Some(&reason), now)
        .await
        .or_internal()?;
    if !done {
        tx.rollback().await.or_internal()?;
        return Err(DomainError::with(ErrorCode::BookingNotActive, ["变更"]));
    }
    dayi_store::roster::release(&mut tx, actor.org_id, b.session_id, id).await.or_internal()?;
    dayi_store::booking::void_unpaid(&mut tx, actor.org_id, id, now).await.or_internal()?;
    let e = actor.entry("booking.cancel", "booking", &id.to_string(), Some(b.patient_id), OK, &b.reg_no);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(Booking { status: "cancelled".into(), cancel_reason: Some(reason), updated_at: now, ..b })
}

/// A patient's bookings from today on, audited as an access to their record.
pub async fn of_patient(app: &App, actor: &Actor, patient_id: Uuid) -> Result<Vec<Booking>, DomainError> {
    match actor.via {
        Via::Portal => portal::require_family(app, actor, patient_id).await?,
        _ => {
            actor.require(app, Perm::PatientRead).await?;
            crate::patient::known(app, actor, patient_id).await?;
        }
    }
    let from = (today_cst() - Duration::days(1)).to_string();
    let rows = dayi_store::booking::of_patient(&app.db, actor.org_id, patient_id, &from, 100).await.or_internal()?;
    app.audit.record(actor.entry("booking.list", "patient", &patient_id.to_string(), Some(patient_id), OK, "")).await;
    Ok(rows)
}

/// Every booking in id order, a page at a time (a FHIR search with no
/// parameter); each booking shown is audited as read.
pub async fn walk(app: &App, actor: &Actor, step: &Step) -> Result<Walk<Booking>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let step = crate::visit::query::capped(step);
    let page = dayi_store::booking::walk(&app.db, actor.org_id, &step).await.or_internal()?;
    let entries =
        page.rows.iter().map(|b| actor.entry("booking.read", "booking", &b.id.to_string(), Some(b.patient_id), OK, ""));
    app.audit.record_all(entries.collect()).await;
    Ok(page)
}

pub async fn get(app: &App, actor: &Actor, id: Uuid) -> Result<Booking, DomainError> {
    let b = owned(app, actor, id, Perm::PatientRead).await?;
    app.audit.record(actor.entry("booking.read", "booking", &id.to_string(), Some(b.patient_id), OK, "")).await;
    Ok(b)
}

/// What a check-in found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckIn {
    pub patient: patient::PatientView,
    pub bookings: Vec<BookingView>,
    pub arrived_at: String,
    /// Back from being passed, tests or another clinic (回诊报到), not a first arrival.
    pub returned: bool,
}

/// Check-in (签到) by the health-card code at a kiosk or the counter: every
/// booking of the patient's today that is still waiting records the arrival
/// time, which the queue uses.
pub async fn check_in(app: &App, actor: &Actor, code: &str, station: &str) -> Result<CheckIn, DomainError> {
    actor.require(app, Perm::CheckIn).await?;
    let presented = card::Presented {
        code: code.into(),
        step: CareStep::CheckIn.code().into(),
        station: station.into(),
        voucher: false,
        on_behalf: false,
    };
    let r = card::resolve(app, actor, &presented).await?;
    arrive(app, actor, r.patient).await
}

/// The arrival of a patient already identified (the kiosk, the counter or the
/// triage desk): today's waiting registrations are checked in and enter their
/// queues; a patient who was passed, at tests or sent elsewhere is back.
pub async fn arrive(app: &App, actor: &Actor, patient: patient::PatientView) -> Result<CheckIn, DomainError> {
    actor.require(app, Perm::CheckIn).await?;
    let today = today_cst().to_string();
    let now = now_micros();
    let mine = dayi_store::booking::of_patient(&app.db, actor.org_id, patient.id, &today, 20).await.or_internal()?;
    let waiting: Vec<Booking> =
        mine.iter().filter(|b| b.day == today && b.status == BookingStatus::Booked.code()).cloned().collect();
    let mut done = vec![];
    if !waiting.is_empty() {
        let entering = crate::queue::entering(app, actor.org_id, &waiting).await?;
        let mut tx = app.db.begin().await.or_internal()?;
        let mut entries = vec![];
        for b in waiting {
            if dayi_store::booking::check_in(&mut tx, actor.org_id, b.id, now).await.or_internal()? {
                let e =
                    actor.entry("booking.check_in", "booking", &b.id.to_string(), Some(b.patient_id), OK, &b.reg_no);
                entries.push(e);
                done.push(Booking { status: "checked_in".into(), checked_in_at: Some(now), ..b });
            }
        }
        crate::queue::enter(&mut tx, &entering, actor.org_id, patient.age, &done, now).await?;
        dayi_store::audit::append(&mut tx, actor.org_id, entries).await.or_internal()?;
        tx.commit().await.or_internal()?;
        let sessions: Vec<Uuid> = done.iter().map(|b| b.session_id).collect();
        crate::queue::publish(app, actor.org_id, &sessions, None, now).await;
    }
    // Any queue the patient stepped out of (passed, tests, another clinic) takes them back too.
    let back = crate::queue::back(app, actor, patient.id).await?;
    let returned: Vec<&Booking> = mine.iter().filter(|b| back.iter().any(|e| e.booking_id == b.id)).collect();
    if done.is_empty() && returned.is_empty() {
        return Err(DomainError::new(ErrorCode::CheckinNone).and_field("code", ErrorCode::CheckinNone, [""; 0]));
    }
    let mut bookings: Vec<BookingView> = done.iter().map(BookingView::new).collect();
    bookings.extend(returned.iter().map(|b| BookingView::new(b)));
    Ok(CheckIn { patient, bookings, arrived_at: dayi_core::timefmt::show(now), returned: done.is_empty() })
}

/// Records bookings never attended once their session ended, and blocks
/// patients who reached the no-show limit. Returns (no-shows, new blocks).
pub async fn sweep(app: &App, org_id: Uuid, now: i64) -> Result<(usize, usize), DomainError> {
    let r = rules(app, org_id).await?;
    let late = dayi_store::booking::unattended(&app.db, org_id, now, 5_000).await.or_internal()?;
    if late.is_empty() {
        return Ok((0, 0));
    }
    let today = from_micros(now).to_offset(CST).date();
    let since = (today - Duration::days(r.no_show_window_days)).to_string();
    let mut tx = app.db.begin().await.or_internal()?;
    let mut entries = vec![];
    let mut patients = std::collections::BTreeSet::new();
    for b in &late {
        let from = [BookingStatus::Booked.code()];
        if dayi_store::booking::set_status(&mut tx, org_id, b.id, &from, "no_show", None, now).await.or_internal()? {
            patients.insert(b.patient_id);
            let actor = Actor::cli(org_id);
            entries.push(actor.entry(
                "booking.no_show",
                "booking",
                &b.id.to_string(),
                Some(b.patient_id),
                OK,
                &b.reg_no,
            ));
        }
    }
    let mut blocks = 0;
    for p in patients {
        let n = dayi_store::booking::no_shows_since(&mut tx, org_id, p, &since).await.or_internal()?;
        if let Some(until) = booking::block_after(&r, n, today) {
            let current = dayi_store::booking::blocked_until(&mut tx, org_id, p).await.or_internal()?;
            if current.is_none_or(|c| c < today.to_string()) {
                dayi_store::booking::block(&mut tx, org_id, p, &until.to_string(), n, now).await.or_internal()?;
                let actor = Actor::cli(org_id);
                entries.push(actor.entry("booking.block", "patient", &p.to_string(), Some(p), OK, &until.to_string()));
                blocks += 1;
            }
        }
    }
    let count = entries.len() - blocks;
    dayi_store::audit::append(&mut tx, org_id, entries).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok((count, blocks))
}

/// Runs the no-show sweep for every organisation every ten minutes.
pub async fn sweep_forever(app: App) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let Ok(orgs) = dayi_store::tenancy::list_orgs(&app.db).await else { continue };
        for o in orgs {
            if let Err(e) = sweep(&app, o.org_id, now_micros()).await {
                tracing::warn!(org = %o.code, error = ?e.code, "no-show sweep failed");
            }
        }
    }
}

/// Labels for a session, shared by every screen that lists one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub dept_id: Uuid,
    pub dept_name: String,
    pub day: String,
    pub weekday: &'static str,
    pub half_day: String,
    pub half_day_name: &'static str,
    pub clinic_type: String,
    pub clinic_type_name: &'static str,
    /// Our doctor's account; `None` for a visiting expert. Not serialized:
    /// the portal sends sessions to patients, who need no staff ids.
    #[serde(skip)]
    pub doctor_id: Option<Uuid>,
    pub doctor_name: String,
    pub doctor_title: Option<String>,
    pub visiting_from: Option<String>,
    pub room: Option<String>,
    pub start_time: String,
    pub end_time: String,
    pub slot_minutes: i64,
    pub slot_count: i64,
    pub fee: String,
    pub release_at: String,
    pub released: bool,
    pub status: String,
    pub stopped: bool,
    pub stop_reason: Option<String>,
    pub free: i64,
    pub total: i64,
}

impl SessionView {
    pub fn new(s: &Session, dept_name: &str, free: i64, total: i64) -> Self {
        let day = time::Date::parse(&s.day, time::macros::format_description!("[year]-[month]-[day]")).ok();
        Self {
            id: s.id,
            dept_id: s.dept_id,
            dept_name: dept_name.into(),
            day: s.day.clone(),
            weekday: day
                .map(|d| dayi_core::roster::WEEKDAY_ZH[d.weekday().number_days_from_monday() as usize])
                .unwrap_or(""),
            half_day: s.half_day.clone(),
            half_day_name: HalfDay::parse(&s.half_day).map(|h| h.zh()).unwrap_or(""),
            clinic_type: s.clinic_type.clone(),
            clinic_type_name: ClinicType::parse(&s.clinic_type).map(|c| c.zh()).unwrap_or(""),
            doctor_id: s.doctor_id,
            doctor_name: s.doctor_name.clone(),
            doctor_title: s.doctor_title.clone(),
            visiting_from: s.visiting_from.clone(),
            room: s.room.clone(),
            start_time: s.start_time.clone(),
            end_time: hm(s.ends_at),
            slot_minutes: s.slot_minutes,
            slot_count: s.slot_count,
            fee: yuan(s.fee_fen),
            release_at: dayi_core::timefmt::show(s.release_at)[..16].to_string(),
            released: now_micros() >= s.release_at,
            status: s.status.clone(),
            stopped: s.status == "stopped",
            stop_reason: s.stop_reason.clone(),
            free,
            total,
        }
    }
}

/// A patient's booking with its session, for lists and the slip.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ticketed {
    pub booking: BookingView,
    pub session: Option<SessionView>,
    /// Masked for screens.
    pub patient_name: String,
}

/// Adds session labels to bookings (one read per distinct session).
pub async fn with_sessions(app: &App, org_id: Uuid, rows: &[Booking]) -> Result<Vec<Ticketed>, DomainError> {
    let depts = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    let mut cache: std::collections::HashMap<Uuid, Option<SessionView>> = Default::default();
    let mut out = vec![];
    for b in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(b.session_id) {
            let s = dayi_store::roster::get_session(&app.db, org_id, b.session_id).await.or_internal()?;
            let v = s.map(|s| {
                let name = depts.iter().find(|d| d.id == s.dept_id).map(|d| d.name.as_str()).unwrap_or("");
                SessionView::new(&s, name, 0, 0)
            });
            slot.insert(v);
        }
        let p = dayi_store::patient::get(&app.db, org_id, b.patient_id).await.or_internal()?;
        out.push(Ticketed {
            booking: BookingView::new(b),
            session: cache.get(&b.session_id).cloned().flatten(),
            patient_name: p.map(|p| mask::name(&p.name)).unwrap_or_default(),
        });
    }
    Ok(out)
}
