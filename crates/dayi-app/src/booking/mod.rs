//! Appointments and registration (挂号): booking by the counter, the portal
//! and on someone's behalf, walk-ins, slots added by the doctor, cancelling,
//! check-in by health-card code, and the nightly no-show count.

mod arrival;
mod counter;
pub mod desk;
mod ticket;

pub use arrival::{CheckIn, arrive, check_in, require_kiosk, sweep, sweep_forever};
pub use counter::{ForPatient, for_patient, register_by_code};
pub use ticket::{SessionView, Ticketed, with_sessions};

use dayi_core::audit::OK;
use dayi_core::booking::{self, BookingChannel, BookingStatus, OnBehalf, Rules};
use dayi_core::catalog::yuan;
use dayi_core::security::Perm;
use dayi_core::timefmt::{CST, from_micros, now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::booking::Booking;
use dayi_store::walk::{Step, Walk};
use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use crate::{Actor, App, OrInternal, Via, patient, policy, portal};
use desk::Ticket;

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

/// What a caller asks for, parsed at the boundary (the web's `BookForm`).
#[derive(Debug, Clone, Copy)]
pub struct BookRequest {
    pub session_id: Uuid,
    pub patient_id: Uuid,
    /// A chosen slot number; `None` for the first free one.
    pub seq: Option<i64>,
    pub on_behalf: OnBehalf,
    /// `Counter` or `Phone` when staff book; the portal always books as
    /// `Portal`, and walk-ins and added slots name their own channel.
    pub channel: BookingChannel,
}

impl BookRequest {
    /// The first free slot of a session for the patient themself, at the counter.
    pub fn new(session_id: Uuid, patient_id: Uuid) -> Self {
        BookRequest { session_id, patient_id, seq: None, on_behalf: OnBehalf::Self_, channel: BookingChannel::Counter }
    }
}

/// Who may ask through a channel, asked by each use case and by a form
/// before it is read: the registration desk books, takes phone bookings and
/// registers walk-ins; a doctor adds slots; a patient books on the phone
/// (for their family, checked with the booking).
pub async fn require(app: &App, actor: &Actor, channel: BookingChannel) -> Result<(), DomainError> {
    match (actor.via, channel) {
        (Via::Portal, BookingChannel::Portal) => Ok(()),
        (_, BookingChannel::Added) => actor.require(app, Perm::Clinical).await,
        _ => actor.require(app, Perm::Registration).await,
    }
}

/// Books a slot ahead of the day (counter, phone or portal).
pub async fn book(app: &App, actor: &Actor, req: &BookRequest) -> Result<Booking, DomainError> {
    let channel = match actor.via {
        Via::Portal => BookingChannel::Portal,
        _ => req.channel,
    };
    require(app, actor, channel).await?;
    if actor.via != Via::Portal && !matches!(channel, BookingChannel::Counter | BookingChannel::Phone) {
        return Err(DomainError::field("channel", ErrorCode::ChoiceInvalid, [channel.code()]));
    }
    submit(app, actor, req, channel, false).await
}

/// Registers a walk-in from the session's remaining slots (现场挂号).
pub async fn walk_in(app: &App, actor: &Actor, req: &BookRequest) -> Result<Booking, DomainError> {
    require(app, actor, BookingChannel::WalkIn).await?;
    submit(app, actor, req, BookingChannel::WalkIn, false).await
}

/// The doctor adds a slot beyond the roster for a patient (加号).
pub async fn add_slot(app: &App, actor: &Actor, req: &BookRequest) -> Result<Booking, DomainError> {
    require(app, actor, BookingChannel::Added).await?;
    submit(app, actor, req, BookingChannel::Added, true).await
}

async fn submit(
    app: &App,
    actor: &Actor,
    req: &BookRequest,
    channel: BookingChannel,
    add: bool,
) -> Result<Booking, DomainError> {
    let (session_id, patient_id, seq, on_behalf) = (req.session_id, req.patient_id, req.seq, req.on_behalf);
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

/// The bookings of several patients, for a search: a patient not on file
/// matches nothing rather than failing the search.
pub async fn of_patients(app: &App, actor: &Actor, patients: &[Uuid]) -> Result<Vec<Booking>, DomainError> {
    actor.require(app, Perm::PatientRead).await?;
    let mut rows = vec![];
    for id in patients {
        match of_patient(app, actor, *id).await {
            Err(e) if e.code == ErrorCode::PatientUnknown => {}
            found => rows.extend(found?),
        }
    }
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
