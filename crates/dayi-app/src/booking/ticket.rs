//! Bookings shown with their sessions (department, doctor, time) for lists and slips.

use dayi_core::catalog::yuan;
use dayi_core::roster::{ClinicType, HalfDay};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, mask};
use dayi_store::booking::Booking;
use dayi_store::roster::Session;
use serde::Serialize;
use uuid::Uuid;

use super::{BookingView, hm};
use crate::{App, OrInternal};

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
