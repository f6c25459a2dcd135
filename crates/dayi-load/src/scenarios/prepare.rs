//! Preparation steps the scenarios share, in-process before the clock
//! starts: the clinical departments to use, a day's sessions for the
//! doctors, the record of the steps done and the tally of refusals.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::bail;
use dayi_app::records::Dept;
use dayi_app::roster::RosterForm;
use dayi_app::{Actor, App};
use futures::{StreamExt, TryStreamExt, stream};
use uuid::Uuid;

use crate::report::Setup;
use crate::scenarios::book_rush::{tally, zh};
use crate::server::ORG;

/// The active clinical departments, at most `most` (0: all); at least one.
pub(super) async fn clinical_departments(app: &App, actor: &Actor, most: usize) -> anyhow::Result<Vec<Dept>> {
    let mut depts: Vec<Dept> = dayi_app::tenancy::list_depts(app, actor)
        .await
        .map_err(zh)?
        .into_iter()
        .filter(|d| d.kind == "clinical" && d.active)
        .collect();
    if most > 0 {
        depts.truncate(most);
    }
    if depts.is_empty() {
        bail!("organisation {ORG} has no clinical department");
    }
    Ok(depts)
}

/// The failures among answers, counted by key.
pub(super) fn refusals<'a, T: 'a>(answers: impl IntoIterator<Item = &'a Result<T, String>>) -> BTreeMap<String, u64> {
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for e in answers.into_iter().filter_map(|a| a.as_ref().err()) {
        *refused.entry(e.clone()).or_default() += 1;
    }
    refused
}

/// Fails with a tally of the refusals, if any.
pub(super) fn refused<'a, T: 'a>(
    what: &str,
    answers: impl IntoIterator<Item = &'a Result<T, String>>,
) -> anyhow::Result<()> {
    let by = refusals(answers);
    if !by.is_empty() {
        bail!("{what} refused: {}", tally(by));
    }
    Ok(())
}

/// The in-process side of a preparation, of a scenario of scale `S`, and
/// the steps done so far.
pub(super) struct Making<'a, S> {
    pub(super) app: &'a App,
    pub(super) actor: &'a Actor,
    pub(super) scale: S,
    pub(super) setup: Vec<Setup>,
}

impl<S> Making<'_, S> {
    pub(super) fn done(&mut self, step: String, count: usize, t: Instant) {
        self.setup.push(Setup { step, count: count as u64, secs: t.elapsed().as_secs_f64() });
    }

    /// One session for each doctor today, the whole day long, in the
    /// departments in turn and in rooms numbered from `first_room`.
    pub(super) async fn sessions(
        &mut self,
        doctors: &[Uuid],
        depts: &[Uuid],
        per_session: u32,
        first_room: usize,
    ) -> anyhow::Result<Vec<Uuid>> {
        let (app, actor, nd) = (self.app, self.actor, depts.len());
        let t = Instant::now();
        let today = dayi_core::timefmt::today_cst();
        // Slots over the whole day (up to the roster's longest slot, 240 minutes).
        let minutes = (1440 / per_session).min(240);
        let forms: Vec<RosterForm> = doctors
            .iter()
            .enumerate()
            .map(|(i, id)| RosterForm {
                dept_id: depts[i % nd].to_string(),
                day: today.to_string(),
                half_day: "am".into(),
                clinic_type: "general".into(),
                doctor_id: id.to_string(),
                doctor_title: "主治医师".into(),
                room: format!("{}诊室", first_room + i),
                start_time: "00:00".into(),
                slot_minutes: minutes.to_string(),
                slot_count: per_session.to_string(),
                ..Default::default()
            })
            .collect();
        let sessions: Vec<Uuid> = stream::iter(forms)
            .map(|f| async move { dayi_app::roster::create_session(app, actor, &f).await.map(|s| s.id) })
            .buffered(8)
            .try_collect()
            .await
            .map_err(zh)?;
        self.done(format!("sessions today, {per_session} slots each, in {nd} departments"), sessions.len(), t);
        Ok(sessions)
    }
}
