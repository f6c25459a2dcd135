//! `book-rush`: the 08:00 slot release at the county hospital, when many
//! patients book through the patient portal at once:
//! `POST /portal/api/bookings` with the `dayi_portal` cookie and the CSRF
//! header. Success is 201; the figure that matters is bookings made per
//! second (`ok/s`).
//!
//! Prepared in-process, before the clock starts: [`Scale::sessions`] clinic
//! sessions of [`Scale::slots`] slots on the days already released (tomorrow
//! on), spread over the clinical departments, mornings and afternoons;
//! [`Scale::patients`] patients bulk-loaded and each signed in to the portal
//! over HTTP (ID number and card number). Then a fixed, shuffled plan of
//! attempts, which also bounds the run:
//!
//! - an ordinary session gets [`Scale::fill`] bookers for its slots, each
//!   within the rules (per patient at most 3 a day, 1 per department a day,
//!   1 per session): every one of them must be booked;
//! - every [`Scale::hot_every`]-th session is an expert clinic with
//!   [`Scale::hot_fill`] bookers for the same slots: the late ones are
//!   refused with `booking.full`;
//! - for about 2 % of the ordinary attempts, a deliberate repeat follows
//!   soon after (a double click, a second phone): the same patient in the
//!   same session (`booking.session_taken`) or in another session of the same
//!   department that day (`booking.dept_limit`). Of each pair exactly one
//!   must be booked and the other refused with that code.
//!
//! Checked afterwards, in-process and over HTTP: no slot sold twice, no rule
//! broken in the database, every answer as the plan expects, every
//! acknowledged booking stored as acknowledged, and the portal's session list
//! agreeing with the bookings.

mod checks;
mod patients;
mod plan;
mod prepare;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use anyhow::anyhow;
use dayi_core::DomainError;
use dayi_core::booking::Rules;
use futures::future::BoxFuture;
use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::json;
use time::Date;
use uuid::Uuid;

pub(super) use patients::{Loaded, Signed, load_patients, sign_in};

use super::Scenario;
use crate::http::{Ctx, Outcome, expect_json};
use crate::report::{Check, Setup};

pub const FULL: &str = "booking.full";
pub const SESSION_TAKEN: &str = "booking.session_taken";
pub const DEPT_LIMIT: &str = "booking.dept_limit";
pub const DAY_LIMIT: &str = "booking.day_limit";

/// How much is prepared and attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    /// Clinic sessions created.
    pub sessions: usize,
    /// Slots in each session.
    pub slots: u32,
    /// Patients bulk-loaded and signed in.
    pub patients: u32,
    /// Bookers sent to an ordinary session (at most `slots`).
    pub fill: u32,
    /// Every `hot_every`-th session is an oversubscribed expert clinic (0: none).
    pub hot_every: usize,
    /// Bookers sent to an oversubscribed session.
    pub hot_fill: u32,
    /// Deliberate repeats per thousand ordinary attempts.
    pub repeats_per_mille: u64,
    /// Clinical departments used, at most (0: all).
    pub departments: usize,
}

impl Default for Scale {
    /// 1,000 sessions × 30 slots, 4,000 patients: about 28,800 attempts,
    /// 27,300 of them bookings, 1,000 `booking.full` and 480 deliberate repeats.
    fn default() -> Self {
        Scale {
            sessions: 1_000,
            slots: 30,
            patients: 4_000,
            fill: 27,
            hot_every: 10,
            hot_fill: 40,
            repeats_per_mille: 20,
            departments: 0,
        }
    }
}

impl Scale {
    /// Two dozen sessions in two departments, for tests.
    pub fn small() -> Self {
        Scale {
            sessions: 24,
            slots: 30,
            patients: 100,
            fill: 20,
            hot_every: 5,
            hot_fill: 36,
            repeats_per_mille: 60,
            departments: 2,
        }
    }
}

pub struct BookRush {
    seed: u64,
    scale: Scale,
    prepared: OnceLock<Prepared>,
}

impl BookRush {
    pub fn new(seed: u64, scale: Scale) -> BookRush {
        BookRush { seed, scale, prepared: OnceLock::new() }
    }
}

/// What `prepare` made and `call` and `checks` use.
struct Prepared {
    /// Created sessions, in the plan's numbering.
    sessions: Vec<Uuid>,
    patients: Vec<Signed>,
    plan: Vec<Attempt>,
    /// One per attempt, set when its answer comes.
    answers: Vec<OnceLock<Answer>>,
    rules: Rules,
    /// Slots in each session.
    slots: u32,
    /// The days the sessions are on.
    from: Date,
    to: Date,
}

/// Where a session is, in the plan's numbering: day and department indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spot {
    day: u16,
    dept: u16,
    hot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A booker of a session with room: must be booked.
    Ordinary,
    /// A booker of an oversubscribed session: booked, or `booking.full`.
    Oversubscribed,
    /// A deliberate second attempt after an ordinary one.
    Repeat,
}

/// One planned request: patient and session by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    patient: u32,
    session: u32,
    kind: Kind,
    /// For a deliberate pair: the other attempt, and the code the one not booked must get.
    pair: Option<(u32, &'static str)>,
}

/// What a 201 said.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Acked {
    id: Uuid,
    seq: i64,
}

type Answer = Result<Acked, String>;

pub(super) fn zh(e: DomainError) -> anyhow::Error {
    anyhow!("{}", e.zh())
}

/// `a ×2, b ×1`.
pub(super) fn tally<K: std::fmt::Display>(m: impl IntoIterator<Item = (K, u64)>) -> String {
    m.into_iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", ")
}

impl Scenario for BookRush {
    fn name(&self) -> &'static str {
        "book-rush"
    }

    /// Patients sign in to the portal; the API token is not used.
    fn needs_token(&self) -> bool {
        false
    }

    fn max_requests(&self) -> Option<u64> {
        self.prepared.get().map(|p| p.plan.len() as u64)
    }

    fn prepare<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, anyhow::Result<Vec<Setup>>> {
        Box::pin(prepare::prepare(self, ctx))
    }

    /// Attempt number `seq` of the plan.
    fn call<'a>(&'a self, ctx: &'a Ctx, _worker: usize, seq: u64) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let p = self.prepared.get().ok_or("load.not_prepared")?;
            let i = usize::try_from(seq).ok().filter(|i| *i < p.plan.len()).ok_or("load.plan_done")?;
            let a = p.plan[i];
            let who = &p.patients[a.patient as usize];
            let body = json!({"session_id": p.sessions[a.session as usize], "patient_id": who.id});
            let req = ctx
                .portal_request(Method::POST, "/portal/api/bookings")
                .header(COOKIE, &who.cookie)
                .header("x-csrf-token", &who.csrf)
                .json(&body);
            let answer = match expect_json(req, 201).await {
                Ok(v) => {
                    let id = v["id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
                    match (id, v["seq"].as_i64()) {
                        (Some(id), Some(seq)) => Ok(Acked { id, seq }),
                        _ => Err("response.no_booking".to_string()),
                    }
                }
                Err(key) => Err(key),
            };
            let outcome = answer.as_ref().map(|_| ()).map_err(Clone::clone);
            let _ = p.answers[i].set(answer);
            outcome
        })
    }

    fn checks<'a>(&'a self, ctx: &'a Ctx) -> BoxFuture<'a, Vec<Check>> {
        Box::pin(async move {
            let Some(p) = self.prepared.get() else {
                return vec![Check::new("prepared", false, "book-rush did not prepare")];
            };
            let answers: Vec<Option<Answer>> = p.answers.iter().map(|a| a.get().cloned()).collect();
            let mut checks = checks::verdict_checks(p, &answers);
            match &ctx.local {
                Some(local) => checks.extend(checks::database_checks(&local.app.db, local.org_id, p, &answers).await),
                None => checks.push(Check::new("database checked", false, "no in-process handle")),
            }
            checks.push(checks::board_check(ctx, p, &answers).await);
            checks
        })
    }
}
