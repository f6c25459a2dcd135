//! Arrival: check-in by code at a kiosk or counter, and the sweep that marks no-shows and blocks
//! repeat offenders.

use dayi_core::audit::OK;
use dayi_core::booking::{self, BookingStatus};
use dayi_core::card::CareStep;
use dayi_core::security::Perm;
use dayi_core::timefmt::{CST, from_micros, now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::booking::Booking;
use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use super::{BookingView, rules};
use crate::{Actor, App, OrInternal, card, patient};

/// What a check-in found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckIn {
    pub patient: patient::PatientView,
    pub bookings: Vec<BookingView>,
    pub arrived_at: String,
    /// Back from being passed, tests or another clinic (回诊报到), not a first arrival.
    pub returned: bool,
}

/// The kiosk's screen is for check-in accounts; each scan is checked again.
pub async fn require_kiosk(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::CheckIn).await
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
