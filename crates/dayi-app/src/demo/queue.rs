//! A waiting room for the demo: on every start, today's sessions are made if
//! missing and, when nobody is queued yet today, six seeded patients register
//! at the counter and check in to doc01's open 内科 session, so the doctor's
//! panel, the hall's screen and the triage desk have someone to show.

use dayi_core::patient::Channel;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, mask};

use super::{SEED_PEOPLE_FROM, people};
use crate::{Actor, App, OrInternal};

const PATIENTS: u64 = 6;

/// Returns how many patients were checked in (0 when today already has a queue).
pub async fn fill_today(app: &App) -> Result<usize, DomainError> {
    let Some(org) = dayi_store::tenancy::org_by_code(&app.db, "wsxrmyy").await.or_internal()? else {
        return Ok(0);
    };
    let cli = Actor::cli(org.org_id);
    let today = today_cst();
    crate::roster::generate(app, &cli, today, 1).await?;
    let staff = dayi_store::staff::list(&app.db, org.org_id).await.or_internal()?;
    let Some(doc) = staff.iter().find(|s| s.username == "doc01") else { return Ok(0) };
    let now = now_micros();
    let mut open: Vec<_> = crate::queue::board::today_sessions(app, org.org_id, &[])
        .await?
        .into_iter()
        .filter(|s| s.doctor_id == Some(doc.id) && s.status != "stopped" && s.ends_at > now)
        .collect();
    open.sort_by(|a, b| a.start_time.cmp(&b.start_time));
    let Some(session) = open.first() else { return Ok(0) };
    let ids: Vec<_> = open.iter().map(|s| s.id).collect();
    if !dayi_store::queue::live(&app.db, org.org_id, &ids).await.or_internal()?.is_empty() {
        return Ok(0);
    }
    let mut done = 0;
    for i in 0..PATIENTS {
        let f = people::person(SEED_PEOPLE_FROM + i, 2026, today);
        let p = match dayi_store::patient::by_document(&app.db, org.org_id, "resident_id", &f.id_number)
            .await
            .or_internal()?
        {
            Some(p) => p,
            None => crate::patient::register(app, &cli, &f, Channel::Counter).await?,
        };
        let req = crate::booking::BookRequest::new(session.id, p.id);
        // A patient already registered today (an earlier start) just checks in.
        let _ = crate::booking::walk_in(app, &cli, &req).await;
        if crate::booking::check_in(app, &cli, &p.hospital_no, "演示数据").await.is_ok() {
            done += 1;
            tracing::debug!(patient = %mask::name(&p.name), "demo check-in");
        }
    }
    Ok(done)
}
