//! The registration counter's view of one patient: who they are, the coming
//! week's sessions to book into, and what they already hold.

use dayi_core::DomainError;
use dayi_core::booking::OnBehalf;
use dayi_core::card::CareStep;
use dayi_core::security::Perm;
use serde::Serialize;
use uuid::Uuid;

use dayi_store::booking::Booking;

use super::{BookRequest, SessionView, Ticketed, with_sessions};
use crate::card::Presented;
use crate::patient::PatientView;
use crate::{Actor, App};

#[derive(Debug, Serialize)]
pub struct ForPatient {
    pub patient: PatientView,
    pub sessions: Vec<SessionView>,
    pub mine: Vec<Ticketed>,
}

pub async fn for_patient(app: &App, actor: &Actor, patient_id: Uuid) -> Result<ForPatient, DomainError> {
    actor.require(app, Perm::Registration).await?;
    let patient = crate::patient::view(app, actor, patient_id).await?;
    let (from, to) = crate::roster::upcoming(1);
    let sessions = crate::roster::sessions(app, actor.org_id, from, to, None).await?;
    let mine = super::of_patient(app, actor, patient_id).await?;
    let mine = with_sessions(app, actor.org_id, &mine).await?;
    Ok(ForPatient { patient, sessions, mine })
}

/// A walk-in at the counter, or a slot the doctor adds in the room, for the
/// patient whose code is scanned. A caller who may do neither is refused
/// before the scan, so leaves no card use behind; the booking checks the
/// exact duty.
pub async fn register_by_code(
    app: &App,
    actor: &Actor,
    session_id: Uuid,
    code: &str,
    added: bool,
    on_behalf: OnBehalf,
) -> Result<Booking, DomainError> {
    if !actor.can(Perm::Registration) && !actor.can(Perm::Clinical) {
        actor.require(app, if added { Perm::Clinical } else { Perm::Registration }).await?;
    }
    let presented = Presented {
        code: code.to_string(),
        step: CareStep::Registration.code().into(),
        station: if added { "诊间加号".into() } else { "挂号窗口".into() },
        voucher: false,
        on_behalf: on_behalf == OnBehalf::Staff,
    };
    let who = crate::card::resolve(app, actor, &presented).await?.patient.id;
    let req = BookRequest { on_behalf, ..BookRequest::new(session_id, who) };
    match added {
        true => super::add_slot(app, actor, &req).await,
        false => super::walk_in(app, actor, &req).await,
    }
}
