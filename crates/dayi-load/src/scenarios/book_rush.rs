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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use dayi_app::roster::RosterForm;
use dayi_app::{Actor, App};
use dayi_core::DomainError;
use dayi_core::booking::Rules;
use dayi_store::{Db, with_db};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt, stream};
use reqwest::Method;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::json;
use time::{Date, Duration};
use uuid::Uuid;

use super::Scenario;
use crate::data::SplitMix;
use crate::http::{Ctx, Outcome, expect_json, failure_key, is_problem, transport};
use crate::report::{Check, Setup};
use crate::server::ORG;

pub const FULL: &str = "booking.full";
pub const SESSION_TAKEN: &str = "booking.session_taken";
pub const DEPT_LIMIT: &str = "booking.dept_limit";
pub const DAY_LIMIT: &str = "booking.day_limit";

/// The portal's sign-in cookie.
const PORTAL_COOKIE: &str = "dayi_portal";
/// Repeats follow their original within this many attempts, so many are in
/// flight at the same time as it.
const REPEAT_WITHIN: u64 = 256;
/// Sign-ins in flight at once while preparing.
const SIGN_IN_AT_ONCE: usize = 32;

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

/// A patient signed in to the portal.
pub(super) struct Signed {
    pub(super) id: Uuid,
    /// `dayi_portal=…`, as the `Cookie` header.
    pub(super) cookie: String,
    pub(super) csrf: String,
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

/// Sessions spread over `days` days and `depts` departments, mornings
/// first; every `hot_every`-th one is oversubscribed.
fn spots(n: usize, days: usize, depts: usize, hot_every: usize) -> Vec<(Spot, bool)> {
    (0..n)
        .map(|i| {
            let spot = Spot {
                day: (i % days) as u16,
                dept: ((i / days) % depts) as u16,
                hot: hot_every > 0 && i % hot_every == hot_every - 1,
            };
            let afternoon = (i / (days * depts)) % 2 == 1;
            (spot, afternoon)
        })
        .collect()
}

/// The code a second attempt in the same session gets, if the rules refuse it.
fn same_session_code(r: &Rules) -> Option<&'static str> {
    if r.one_per_session {
        Some(SESSION_TAKEN)
    } else if r.max_per_dept_day <= 1 {
        Some(DEPT_LIMIT)
    } else if r.max_per_day <= 1 {
        Some(DAY_LIMIT)
    } else {
        None
    }
}

/// The code a second session of the same department that day gets, if the rules refuse it.
fn same_dept_code(r: &Rules) -> Option<&'static str> {
    (r.max_per_dept_day <= 1).then_some(DEPT_LIMIT)
}

/// The attempts, in the order they are sent. Every ordinary and
/// oversubscribed attempt keeps within the rules whatever order the server
/// sees them in; ordinary sessions are never asked for more than their slots,
/// counting a repeat that may win in their place.
fn plan(spots: &[Spot], patients: u32, scale: &Scale, rules: &Rules, seed: u64) -> Vec<Attempt> {
    let per_day = usize::try_from(rules.max_per_day).unwrap_or(0);
    let per_dept = usize::try_from(rules.max_per_dept_day).unwrap_or(0);
    let days = spots.iter().map(|s| usize::from(s.day) + 1).max().unwrap_or(0);
    if patients == 0 || per_day == 0 || per_dept == 0 {
        return vec![];
    }
    let mut cursor = vec![0u32; days];
    // (patient, day) → (department, session) of what is planned.
    let mut taken: HashMap<(u32, u16), Vec<(u16, u32)>> = HashMap::new();
    // Bookings an ordinary session may end up with.
    let mut load = vec![0u32; spots.len()];
    let mut main = vec![];
    for (si, s) in spots.iter().enumerate() {
        let si = si as u32;
        let want = if s.hot { scale.hot_fill } else { scale.fill.min(scale.slots) };
        for _ in 0..want {
            let start = cursor[usize::from(s.day)];
            let fits = |p: &u32| {
                let mine = taken.get(&(*p, s.day)).map_or(&[][..], Vec::as_slice);
                mine.len() < per_day
                    && mine.iter().filter(|(d, _)| *d == s.dept).count() < per_dept
                    && !mine.iter().any(|(_, x)| *x == si)
            };
            let Some(p) = (0..patients).map(|k| (start + k) % patients).find(fits) else { break };
            cursor[usize::from(s.day)] = (p + 1) % patients;
            taken.entry((p, s.day)).or_default().push((s.dept, si));
            let kind = if s.hot { Kind::Oversubscribed } else { Kind::Ordinary };
            main.push(Attempt { patient: p, session: si, kind, pair: None });
            if !s.hot {
                load[si as usize] += 1;
            }
        }
    }
    let mut rng = SplitMix::new(seed ^ 0xB00C_2A54);
    for i in (1..main.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        main.swap(i, j);
    }
    // Ordinary sessions by (day, department), for repeats in another session.
    let mut by_dept: HashMap<(u16, u16), Vec<u32>> = HashMap::new();
    for (si, s) in spots.iter().enumerate() {
        if !s.hot {
            by_dept.entry((s.day, s.dept)).or_default().push(si as u32);
        }
    }
    let (same_session, same_dept) = (same_session_code(rules), same_dept_code(rules));
    let n = main.len();
    // Repeats to send after main attempt `i`: (original, session, code).
    let mut after: Vec<Vec<(usize, u32, &'static str)>> = vec![vec![]; n];
    let mut turn = 0u64;
    for (i, a) in main.iter().enumerate() {
        if a.kind != Kind::Ordinary || rng.below(1000) >= scale.repeats_per_mille {
            continue;
        }
        turn += 1;
        let s = spots[a.session as usize];
        let elsewhere = same_dept.filter(|_| turn.is_multiple_of(2)).and_then(|code| {
            let others = by_dept.get(&(s.day, s.dept))?;
            let k = rng.below(others.len() as u64) as usize;
            let free = |x: &&u32| **x != a.session && load[**x as usize] < scale.slots;
            let target = others[k..].iter().chain(&others[..k]).find(free).copied()?;
            Some((target, code))
        });
        let Some((session, code)) = elsewhere.or(same_session.map(|c| (a.session, c))) else { continue };
        if session != a.session {
            load[session as usize] += 1;
        }
        let at = (i + 1 + rng.below(REPEAT_WITHIN) as usize).min(n - 1);
        after[at].push((i, session, code));
    }
    let mut out = Vec::with_capacity(n + after.iter().map(Vec::len).sum::<usize>());
    let mut placed = vec![0u32; n];
    for (i, a) in main.iter().enumerate() {
        placed[i] = out.len() as u32;
        out.push(*a);
        for &(orig, session, code) in &after[i] {
            let j = out.len() as u32;
            let o = placed[orig];
            out[o as usize].pair = Some((j, code));
            out.push(Attempt { patient: main[orig].patient, session, kind: Kind::Repeat, pair: Some((o, code)) });
        }
    }
    out
}

/// How the answers compare with the plan.
#[derive(Debug, Default, PartialEq)]
struct Verdict {
    answered: u64,
    booked: u64,
    /// Oversubscribed attempts refused with `booking.full`.
    full: u64,
    /// Deliberate pairs with both answers, and those answered as they must be, by code.
    pairs: u64,
    pairs_ok: BTreeMap<&'static str, u64>,
    /// Answers other than the plan expects, by what was wrong.
    unexpected: BTreeMap<String, u64>,
}

fn judge(plan: &[Attempt], answers: &[Option<Answer>]) -> Verdict {
    let mut v = Verdict::default();
    let odd = |v: &mut Verdict, what: String| *v.unexpected.entry(what).or_default() += 1;
    for (i, a) in plan.iter().enumerate() {
        let Some(answer) = &answers[i] else { continue };
        v.answered += 1;
        v.booked += u64::from(answer.is_ok());
        match (a.kind, a.pair) {
            (Kind::Repeat, Some((o, code))) => {
                let Some(first) = &answers[o as usize] else {
                    odd(&mut v, "repeat answered, its original not sent".into());
                    continue;
                };
                v.pairs += 1;
                match (first, answer) {
                    (Ok(_), Err(e)) | (Err(e), Ok(_)) if e == code => *v.pairs_ok.entry(code).or_default() += 1,
                    (Ok(_), Ok(_)) => odd(&mut v, format!("repeat: both booked (expected {code})")),
                    (Ok(_), Err(e)) | (Err(e), Ok(_)) => odd(&mut v, format!("repeat: refused with {e}, not {code}")),
                    (Err(a), Err(b)) => odd(&mut v, format!("repeat: neither booked ({a}, {b})")),
                }
            }
            // Judged with its repeat, when that was sent.
            (Kind::Ordinary, Some((r, _))) if answers[r as usize].is_some() => {}
            (Kind::Ordinary, _) | (Kind::Repeat, None) => {
                if let Err(e) = answer {
                    odd(&mut v, format!("session with room: {e}"));
                }
            }
            (Kind::Oversubscribed, _) => match answer {
                Ok(_) => {}
                Err(e) if e == FULL => v.full += 1,
                Err(e) => odd(&mut v, format!("oversubscribed session: {e}")),
            },
        }
    }
    v
}

/// `a ×2, b ×1`.
pub(super) fn tally<K: std::fmt::Display>(m: impl IntoIterator<Item = (K, u64)>) -> String {
    m.into_iter().map(|(k, n)| format!("{k} ×{n}")).collect::<Vec<_>>().join(", ")
}

/// Signs a patient in with ID number and card number: (patient id, cookie, CSRF token).
pub(super) async fn sign_in(ctx: &Ctx, id_number: &str, card_no: &str) -> Result<Signed, String> {
    let body = json!({"org": ORG, "id_number": id_number, "card_no": card_no});
    let resp =
        ctx.portal_request(Method::POST, "/portal/api/login").json(&body).send().await.map_err(|e| transport(&e))?;
    let status = resp.status().as_u16();
    let problem = is_problem(&resp);
    let cookie = resp.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let pair = c.split(';').next().unwrap_or_default().trim();
        pair.strip_prefix(PORTAL_COOKIE)
            .and_then(|rest| rest.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .map(|_| pair.to_string())
    });
    let body = resp.bytes().await.map_err(|e| transport(&e))?;
    if status != 200 {
        return Err(failure_key(status, problem, &body));
    }
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| "response.not_json".to_string())?;
    let id = v["patient_id"].as_str().and_then(|s| Uuid::parse_str(s).ok()).ok_or("response.no_patient_id")?;
    let csrf = v["csrf"].as_str().filter(|s| !s.is_empty()).ok_or("response.no_csrf")?.to_string();
    Ok(Signed { id, cookie: cookie.ok_or("response.no_cookie")?, csrf })
}

/// A patient of the load, as registered.
pub(super) struct Loaded {
    pub(super) id: Uuid,
    pub(super) id_number: String,
    pub(super) hospital_no: String,
}

/// Bulk-loads `n` generated people (numbered on from the organisation's
/// count, as `dayi demo --patients` does, so ID numbers never repeat), then
/// looks each up for its id and card number.
pub(super) async fn load_patients(app: &App, actor: &Actor, n: u32, seed: u64) -> anyhow::Result<Vec<Loaded>> {
    const BATCH: usize = 10_000;
    let org = actor.org_id;
    let today = dayi_core::timefmt::today_cst();
    let under = dayi_app::policy::int(app, org, dayi_app::policy::GUARDIAN_UNDER_AGE).await.map_err(zh)? as i32;
    let start = dayi_app::patient::count_seq(app, org).await.map_err(zh)?;
    let regs = (start..start + u64::from(n))
        .map(|i| dayi_core::patient::validate(&dayi_app::demo::people::person(i, seed, today), today, under))
        .collect::<Result<Vec<_>, _>>()
        .map_err(zh)?;
    for chunk in regs.chunks(BATCH) {
        dayi_app::patient::bulk_insert(app, actor, chunk).await.map_err(zh)?;
    }
    let docs: Vec<(String, String)> = regs
        .iter()
        .filter_map(|r| r.document.as_ref().map(|d| (d.kind().code().to_string(), d.number().to_string())))
        .collect();
    stream::iter(docs)
        .map(|(kind, number)| async move {
            let p = dayi_store::patient::by_document(&app.db, org, &kind, &number)
                .await?
                .ok_or_else(|| anyhow!("patient {number} not found after the bulk load"))?;
            anyhow::Ok(Loaded { id: p.id, id_number: number, hospital_no: p.hospital_no })
        })
        .buffered(16)
        .try_collect()
        .await
}

const SURNAMES: &[&str] = &["王", "李", "张", "刘", "陈", "杨", "赵", "孙", "周", "吴", "郑", "冯", "孔", "孟", "颜"];
const GIVEN: &[&str] = &["建国", "海燕", "志强", "秀英", "文博", "丽华", "明", "静", "德胜", "春梅", "立新", "玉兰"];

/// One-off sessions (as entered at the roster screen) for the spots.
fn forms(spots: &[(Spot, bool)], days: &[Date], depts: &[Uuid], slots: u32) -> Vec<RosterForm> {
    spots
        .iter()
        .enumerate()
        .map(|(i, (s, afternoon))| RosterForm {
            dept_id: depts[usize::from(s.dept)].to_string(),
            day: days[usize::from(s.day)].to_string(),
            half_day: if *afternoon { "pm" } else { "am" }.into(),
            clinic_type: if s.hot { "expert" } else { "general" }.into(),
            doctor_name: format!("{}{}", SURNAMES[i % SURNAMES.len()], GIVEN[(i / SURNAMES.len()) % GIVEN.len()]),
            doctor_title: if s.hot { "主任医师" } else { "主治医师" }.into(),
            room: format!("门诊{}室", 101 + i % 40),
            start_time: if *afternoon { "14:00" } else { "08:00" }.into(),
            slot_minutes: "5".into(),
            slot_count: slots.to_string(),
            ..Default::default()
        })
        .collect()
}

/// Groups of active bookings over a limit: per patient and day, per patient,
/// day and department, per patient and session.
const OVER_DAY: &str = "SELECT COUNT(*) FROM (SELECT patient_id FROM booking WHERE org_id = $1 \
                        AND status IN ('booked', 'checked_in') \
                        GROUP BY patient_id, day HAVING COUNT(*) > $2) t";
const OVER_DEPT: &str = "SELECT COUNT(*) FROM (SELECT patient_id FROM booking WHERE org_id = $1 \
                         AND status IN ('booked', 'checked_in') \
                         GROUP BY patient_id, day, dept_id HAVING COUNT(*) > $2) t";
const OVER_SESSION: &str = "SELECT COUNT(*) FROM (SELECT patient_id FROM booking WHERE org_id = $1 \
                            AND status IN ('booked', 'checked_in') \
                            GROUP BY patient_id, session_id HAVING COUNT(*) > $2) t";

async fn over(db: &Db, sql: &'static str, org_id: Uuid, limit: i64) -> sqlx::Result<i64> {
    with_db!(db, p => sqlx::query_scalar::<_, i64>(sql).bind(org_id).bind(limit).fetch_one(p).await)
}

/// A stored portal booking: id, patient, session, slot, status.
type Row = (Uuid, Uuid, Uuid, i64, String);

async fn portal_bookings(db: &Db, org_id: Uuid) -> sqlx::Result<Vec<Row>> {
    let sql = "SELECT id, patient_id, session_id, seq, status FROM booking WHERE org_id = $1 AND channel = 'portal'";
    with_db!(db, p => sqlx::query_as::<_, Row>(sql).bind(org_id).fetch_all(p).await)
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
        Box::pin(async move {
            let local = ctx.local.as_ref().context(
                "book-rush makes its sessions and patients in-process: let dayi-load start the server (no --url)",
            )?;
            let (app, org) = (&local.app, local.org_id);
            let mut actor = Actor::cli(org);
            actor.username = "dayi-load".into();
            let rules = dayi_app::booking::rules(app, org).await.map_err(zh)?;
            let scale = self.scale;
            let mut setup = vec![];

            // The days whose slots are released by now, from tomorrow on.
            let today = dayi_core::timefmt::today_cst();
            let now = dayi_core::timefmt::now_micros();
            let days: Vec<Date> = (1..=rules.release_days_ahead.max(1))
                .map(|d| today + Duration::days(d))
                .filter(|d| dayi_core::booking::release_at(*d, &rules) <= now)
                .collect();
            let (Some(&from), Some(&to)) = (days.first(), days.last()) else {
                bail!("no day is released for booking yet (booking.release_days_ahead = {})", rules.release_days_ahead)
            };
            let mut depts: Vec<Uuid> = dayi_app::tenancy::list_depts(app, &actor)
                .await
                .map_err(zh)?
                .into_iter()
                .filter(|d| d.kind == "clinical" && d.active)
                .map(|d| d.id)
                .collect();
            if scale.departments > 0 {
                depts.truncate(scale.departments);
            }
            if depts.is_empty() {
                bail!("organisation {ORG} has no clinical department");
            }

            let t = Instant::now();
            let placed = spots(scale.sessions, days.len(), depts.len(), scale.hot_every);
            eprintln!(
                "  book-rush: creating {} sessions of {} slots on {from} … {to}, {} departments…",
                placed.len(),
                scale.slots,
                depts.len()
            );
            let actor = &actor;
            let sessions: Vec<Uuid> = stream::iter(forms(&placed, &days, &depts, scale.slots))
                .map(|f| async move { dayi_app::roster::create_session(app, actor, &f).await.map(|s| s.id) })
                .buffered(8)
                .try_collect()
                .await
                .map_err(zh)?;
            let step = format!(
                "sessions of {} slots created in-process ({} days, {} departments)",
                scale.slots,
                days.len(),
                depts.len()
            );
            setup.push(Setup { step, count: sessions.len() as u64, secs: t.elapsed().as_secs_f64() });

            let t = Instant::now();
            eprintln!("  book-rush: bulk-loading {} patients in-process…", scale.patients);
            let loaded = load_patients(app, actor, scale.patients, self.seed).await?;
            let step = "patients bulk-loaded in-process".to_string();
            setup.push(Setup { step, count: loaded.len() as u64, secs: t.elapsed().as_secs_f64() });

            let t = Instant::now();
            eprintln!("  book-rush: signing {} patients in to the portal…", loaded.len());
            let cards: Vec<(String, String)> =
                loaded.iter().map(|p| (p.id_number.clone(), p.hospital_no.clone())).collect();
            let results: Vec<Result<Signed, String>> = stream::iter(cards)
                .map(|(id_number, card_no)| async move { sign_in(ctx, &id_number, &card_no).await })
                .buffered(SIGN_IN_AT_ONCE)
                .collect()
                .await;
            let mut refused: BTreeMap<String, u64> = BTreeMap::new();
            let mut patients = vec![];
            for (p, r) in loaded.iter().zip(results) {
                match r {
                    Ok(s) if s.id == p.id => patients.push(s),
                    Ok(_) => *refused.entry("response.other_patient".into()).or_default() += 1,
                    Err(k) => *refused.entry(k).or_default() += 1,
                }
            }
            if !refused.is_empty() {
                bail!("portal sign-in (POST /portal/api/login) refused: {}", tally(refused));
            }
            let step = "patients signed in to the portal over HTTP".to_string();
            setup.push(Setup { step, count: patients.len() as u64, secs: t.elapsed().as_secs_f64() });

            let spots: Vec<Spot> = placed.iter().map(|(s, _)| *s).collect();
            let plan = plan(&spots, patients.len() as u32, &scale, &rules, self.seed);
            if plan.is_empty() {
                bail!("the booking rules allow no booking (booking.max_per_day, booking.max_per_dept_day)");
            }
            let repeats = plan.iter().filter(|a| a.kind == Kind::Repeat).count();
            eprintln!("  book-rush: {} attempts planned, {repeats} of them deliberate repeats", plan.len());
            let answers = (0..plan.len()).map(|_| OnceLock::new()).collect();
            let prepared = Prepared { sessions, patients, plan, answers, rules, slots: scale.slots, from, to };
            if self.prepared.set(prepared).is_err() {
                bail!("book-rush was already prepared");
            }
            Ok(setup)
        })
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
            let mut checks = verdict_checks(p, &answers);
            match &ctx.local {
                Some(local) => checks.extend(database_checks(&local.app.db, local.org_id, p, &answers).await),
                None => checks.push(Check::new("database checked", false, "no in-process handle")),
            }
            checks.push(board_check(ctx, p, &answers).await);
            checks
        })
    }
}

/// What the answers say, against the plan.
fn verdict_checks(p: &Prepared, answers: &[Option<Answer>]) -> Vec<Check> {
    let v = judge(&p.plan, answers);
    let mut refusals: BTreeMap<&str, u64> = BTreeMap::new();
    for e in answers.iter().flatten().filter_map(|a| a.as_ref().err()) {
        *refusals.entry(e.as_str()).or_default() += 1;
    }
    let mut detail = format!("{} of {} answered attempts booked", v.booked, v.answered);
    if !refusals.is_empty() {
        detail += &format!("; refused: {}", tally(refusals));
    }
    let pairs_ok: u64 = v.pairs_ok.values().sum();
    let mut pairs = format!("{pairs_ok} of {} pairs: one booked, the other refused", v.pairs);
    if !v.pairs_ok.is_empty() {
        pairs += &format!(" ({})", tally(v.pairs_ok.clone()));
    }
    let unexpected: u64 = v.unexpected.values().sum();
    let answers_detail = if unexpected == 0 {
        format!("ordinary sessions all booked; {} late bookers of oversubscribed sessions got {FULL}", v.full)
    } else {
        format!("{unexpected} unexpected: {}", tally(v.unexpected.clone()))
    };
    vec![
        Check::new("bookings made", v.booked > 0, detail),
        Check::new("every answer as planned", v.answered > 0 && unexpected == 0, answers_detail),
        Check::new("deliberate repeats refused", v.pairs > 0 && pairs_ok == v.pairs, pairs),
    ]
}

/// Oversold slots, rules in the database, and acknowledged bookings stored.
async fn database_checks(db: &Db, org: Uuid, p: &Prepared, answers: &[Option<Answer>]) -> Vec<Check> {
    let mut checks = vec![match dayi_store::booking::oversold(db, org).await {
        Ok(n) => Check::new("no slot sold twice", n == 0, format!("{n} oversold or inconsistent slots")),
        Err(e) => Check::new("no slot sold twice", false, format!("query failed: {e}")),
    }];
    let r = &p.rules;
    let counts = async {
        let day = over(db, OVER_DAY, org, r.max_per_day).await?;
        let dept = over(db, OVER_DEPT, org, r.max_per_dept_day).await?;
        let session = if r.one_per_session { over(db, OVER_SESSION, org, 1).await? } else { 0 };
        Ok::<_, sqlx::Error>((day, dept, session))
    };
    checks.push(match counts.await {
        Ok((day, dept, session)) => Check::new(
            "no booking rule broken",
            day + dept + session == 0,
            format!(
                "active bookings: {day} patient-days over {}, {dept} over {} in one department, \
                 {session} patients twice in a session",
                r.max_per_day, r.max_per_dept_day
            ),
        ),
        Err(e) => Check::new("no booking rule broken", false, format!("query failed: {e}")),
    });
    let rows = match portal_bookings(db, org).await {
        Ok(rows) => rows,
        Err(e) => {
            checks.push(Check::new("acknowledged bookings stored", false, format!("query failed: {e}")));
            return checks;
        }
    };
    let by_id: HashMap<Uuid, &Row> = rows.iter().map(|r| (r.0, r)).collect();
    let (mut acked, mut found, mut wrong) = (0u64, 0u64, 0u64);
    let mut acked_ids = HashSet::new();
    for (a, answer) in p.plan.iter().zip(answers) {
        let Some(Ok(ack)) = answer else { continue };
        acked += 1;
        acked_ids.insert(ack.id);
        match by_id.get(&ack.id) {
            Some((_, patient, session, seq, status))
                if *patient == p.patients[a.patient as usize].id
                    && *session == p.sessions[a.session as usize]
                    && *seq == ack.seq
                    && status == "booked" =>
            {
                found += 1
            }
            Some(_) => wrong += 1,
            None => {}
        }
    }
    let ours: HashSet<Uuid> = p.sessions.iter().copied().collect();
    let unacked = rows.iter().filter(|r| ours.contains(&r.2) && !acked_ids.contains(&r.0)).count();
    checks.push(Check::new(
        "acknowledged bookings stored",
        acked > 0 && found == acked,
        format!(
            "{found} of {acked} found as acknowledged ({wrong} differ, {} missing); \
             {unacked} stored without an acknowledgement",
            acked - found - wrong
        ),
    ));
    checks
}

/// `GET /portal/api/sessions`: the free slots it shows for our sessions are
/// the slots less the bookings made.
async fn board_check(ctx: &Ctx, p: &Prepared, answers: &[Option<Answer>]) -> Check {
    const NAME: &str = "portal session list agrees";
    let Some(who) = p.patients.first() else { return Check::new(NAME, false, "no patient signed in") };
    let (from, to) = (p.from.to_string(), p.to.to_string());
    let req = ctx
        .portal_request(Method::GET, "/portal/api/sessions")
        .query(&[("from", from.as_str()), ("to", to.as_str())])
        .header(COOKIE, &who.cookie);
    let v = match expect_json(req, 200).await {
        Ok(v) => v,
        Err(e) => return Check::new(NAME, false, e),
    };
    let list = v.as_array().or_else(|| v["items"].as_array()).or_else(|| v["sessions"].as_array());
    let Some(list) = list else { return Check::new(NAME, false, "response.not_a_list") };
    let mut booked: HashMap<Uuid, i64> = HashMap::new();
    for (a, answer) in p.plan.iter().zip(answers) {
        if let Some(Ok(_)) = answer {
            *booked.entry(p.sessions[a.session as usize]).or_default() += 1;
        }
    }
    let slots = i64::from(p.slots);
    let ours: HashSet<Uuid> = p.sessions.iter().copied().collect();
    let (mut seen, mut agree) = (0usize, 0usize);
    for s in list {
        let Some(id) = s["id"].as_str().and_then(|x| Uuid::parse_str(x).ok()).filter(|id| ours.contains(id)) else {
            continue;
        };
        seen += 1;
        let want = slots - booked.get(&id).copied().unwrap_or(0);
        agree += usize::from(s["free"].as_i64() == Some(want) && s["total"].as_i64() == Some(slots));
    }
    Check::new(
        NAME,
        seen == p.sessions.len() && agree == seen,
        format!("{agree} of {} sessions listed with free = slots − bookings ({seen} listed)", p.sessions.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            release_days_ahead: 7,
            release_minute: 480,
            max_per_day: 3,
            max_per_dept_day: 1,
            one_per_session: true,
            cancel_deadline_minutes: 120,
            no_show_limit: 3,
            no_show_window_days: 90,
            block_days: 90,
        }
    }

    fn layout(scale: &Scale, days: usize, depts: usize) -> Vec<Spot> {
        let depts = if scale.departments > 0 { depts.min(scale.departments) } else { depts };
        spots(scale.sessions, days, depts, scale.hot_every).into_iter().map(|(s, _)| s).collect()
    }

    /// The server's rules, deciding the attempts in `order` one at a time.
    fn model(plan: &[Attempt], spots: &[Spot], slots: u32, r: &Rules, order: &[usize]) -> Vec<Option<Answer>> {
        let mut free = vec![slots; spots.len()];
        let mut mine: HashMap<(u32, u16), Vec<(u16, u32)>> = HashMap::new();
        let mut out = vec![None; plan.len()];
        for (n, &i) in order.iter().enumerate() {
            let a = plan[i];
            let s = spots[a.session as usize];
            let day = mine.entry((a.patient, s.day)).or_default();
            let answer = if r.one_per_session && day.iter().any(|(_, x)| *x == a.session) {
                Err(SESSION_TAKEN.to_string())
            } else if day.iter().filter(|(d, _)| *d == s.dept).count() as i64 >= r.max_per_dept_day {
                Err(DEPT_LIMIT.to_string())
            } else if day.len() as i64 >= r.max_per_day {
                Err(DAY_LIMIT.to_string())
            } else if free[a.session as usize] == 0 {
                Err(FULL.to_string())
            } else {
                free[a.session as usize] -= 1;
                day.push((s.dept, a.session));
                Ok(Acked { id: Uuid::from_u128(n as u128), seq: i64::from(slots - free[a.session as usize]) })
            };
            out[i] = Some(answer);
        }
        out
    }

    /// The plan's order with each window of `w` attempts shuffled: what many
    /// workers in flight at once look like to the server.
    fn jumbled(n: usize, w: usize, seed: u64) -> Vec<usize> {
        let mut rng = SplitMix::new(seed);
        let mut order: Vec<usize> = (0..n).collect();
        for chunk in order.chunks_mut(w) {
            for i in (1..chunk.len()).rev() {
                chunk.swap(i, rng.below(i as u64 + 1) as usize);
            }
        }
        order
    }

    #[test]
    fn the_default_plan_keeps_the_rules_and_the_room() {
        let scale = Scale::default();
        let spots = layout(&scale, 7, 9);
        let plan = plan(&spots, scale.patients, &scale, &rules(), 1);
        let (mut per_day, mut per_dept, mut per_session): (HashMap<_, u32>, HashMap<_, u32>, HashMap<_, u32>) =
            Default::default();
        let mut load = vec![0u32; spots.len()];
        for a in plan.iter().filter(|a| a.kind != Kind::Repeat) {
            let s = spots[a.session as usize];
            *per_day.entry((a.patient, s.day)).or_default() += 1;
            *per_dept.entry((a.patient, s.day, s.dept)).or_default() += 1;
            *per_session.entry((a.patient, a.session)).or_default() += 1;
            load[a.session as usize] += u32::from(a.kind == Kind::Ordinary);
        }
        assert!(per_day.values().all(|n| *n <= 3));
        assert!(per_dept.values().all(|n| *n <= 1));
        assert!(per_session.values().all(|n| *n <= 1));
        let (mut same, mut other) = (0, 0);
        for (j, a) in plan.iter().enumerate().filter(|(_, a)| a.kind == Kind::Repeat) {
            let (o, code) = a.pair.unwrap();
            let first = plan[o as usize];
            assert!((o as usize) < j && j - (o as usize) <= REPEAT_WITHIN as usize + 600, "{o} {j}");
            assert_eq!(first.pair, Some((j as u32, code)));
            assert_eq!((first.kind, first.patient), (Kind::Ordinary, a.patient));
            if a.session == first.session {
                assert_eq!(code, SESSION_TAKEN);
                same += 1;
            } else {
                let (s, f) = (spots[a.session as usize], spots[first.session as usize]);
                assert_eq!((code, s.day, s.dept, s.hot), (DEPT_LIMIT, f.day, f.dept, false));
                load[a.session as usize] += 1;
                other += 1;
            }
        }
        for (si, s) in spots.iter().enumerate() {
            if !s.hot {
                assert!(load[si] <= scale.slots, "session {si}: {}", load[si]);
            }
        }
        let ordinary = plan.iter().filter(|a| a.kind == Kind::Ordinary).count();
        let hot = plan.iter().filter(|a| a.kind == Kind::Oversubscribed).count();
        assert_eq!((ordinary, hot), (900 * 27, 100 * 40));
        let share = (same + other) as f64 / ordinary as f64;
        assert!((0.015..0.025).contains(&share), "{share}");
        assert!(same > 100 && other > 100, "{same} {other}");
    }

    #[test]
    fn answers_from_the_rules_are_as_planned_in_any_order() {
        for (scale, days, depts, window) in
            [(Scale::default(), 6, 9, 256), (Scale::default(), 7, 9, 1), (Scale::small(), 6, 9, 64)]
        {
            let spots = layout(&scale, days, depts);
            let plan = plan(&spots, scale.patients, &scale, &rules(), 7);
            let answers = model(&plan, &spots, scale.slots, &rules(), &jumbled(plan.len(), window, 3));
            let v = judge(&plan, &answers);
            assert!(v.unexpected.is_empty(), "{:?}", v.unexpected);
            assert_eq!(v.pairs_ok.values().sum::<u64>(), v.pairs);
            assert!(v.pairs > 0 && v.pairs_ok.len() == 2, "{v:?}");
            let hot = spots.iter().filter(|s| s.hot).count() as u64;
            assert_eq!(v.full, hot * u64::from(scale.hot_fill - scale.slots));
            assert_eq!(v.answered, plan.len() as u64);
            let ordinary = plan.iter().filter(|a| a.kind == Kind::Ordinary).count() as u64;
            assert_eq!(v.booked, ordinary + hot * u64::from(scale.slots));
        }
    }

    #[test]
    fn a_run_cut_short_is_judged_on_what_was_sent() {
        let scale = Scale::small();
        let spots = layout(&scale, 6, 9);
        let plan = plan(&spots, scale.patients, &scale, &rules(), 5);
        let sent = plan.len() / 3;
        let mut answers = model(&plan, &spots, scale.slots, &rules(), &(0..sent).collect::<Vec<_>>());
        answers.truncate(plan.len());
        let v = judge(&plan, &answers);
        assert!(v.unexpected.is_empty(), "{:?}", v.unexpected);
        assert_eq!(v.answered, sent as u64);
    }

    #[test]
    fn wrong_answers_are_caught() {
        let scale = Scale::small();
        let spots = layout(&scale, 6, 9);
        let plan = plan(&spots, scale.patients, &scale, &rules(), 9);
        let order: Vec<usize> = (0..plan.len()).collect();
        let good = model(&plan, &spots, scale.slots, &rules(), &order);
        let ok = || Some(Ok(Acked { id: Uuid::nil(), seq: 1 }));

        // A repeat booked as well as its original: the rule was broken.
        let j = plan.iter().position(|a| a.kind == Kind::Repeat).unwrap();
        let mut bad = good.clone();
        bad[j] = ok();
        assert_eq!(judge(&plan, &bad).unexpected.len(), 1);
        // A refusal with another code.
        bad[j] = Some(Err(DAY_LIMIT.into()));
        assert!(judge(&plan, &bad).unexpected.keys().any(|k| k.contains("not booking.")));
        // An ordinary booker refused; an oversubscribed one failing otherwise than full.
        let mut bad = good.clone();
        let i = plan.iter().position(|a| a.kind == Kind::Ordinary && a.pair.is_none()).unwrap();
        bad[i] = Some(Err("http.500".into()));
        let h = plan.iter().position(|a| a.kind == Kind::Oversubscribed).unwrap();
        bad[h] = Some(Err("transport.timeout".into()));
        let v = judge(&plan, &bad);
        assert_eq!(v.unexpected["session with room: http.500"], 1);
        assert_eq!(v.unexpected["oversubscribed session: transport.timeout"], 1);
    }

    #[test]
    fn repeat_codes_follow_the_rules() {
        let r = rules();
        assert_eq!((same_session_code(&r), same_dept_code(&r)), (Some(SESSION_TAKEN), Some(DEPT_LIMIT)));
        let loose = Rules { one_per_session: false, max_per_dept_day: 2, max_per_day: 5, ..r };
        assert_eq!((same_session_code(&loose), same_dept_code(&loose)), (None, None));
        let scale = Scale::small();
        assert!(plan(&layout(&scale, 6, 9), scale.patients, &scale, &loose, 1).iter().all(|a| a.kind != Kind::Repeat));
        let none = Rules { max_per_day: 0, ..r };
        assert!(plan(&layout(&scale, 6, 9), scale.patients, &scale, &none, 1).is_empty());
    }

    #[test]
    fn sessions_cover_every_day_and_department() {
        let s = spots(1_000, 7, 9, 10);
        let days: HashSet<u16> = s.iter().map(|(x, _)| x.day).collect();
        let depts: HashSet<u16> = s.iter().map(|(x, _)| x.dept).collect();
        assert_eq!((days.len(), depts.len()), (7, 9));
        assert_eq!(s.iter().filter(|(x, _)| x.hot).count(), 100);
        assert!(s.iter().any(|(_, pm)| *pm) && s.iter().any(|(_, pm)| !*pm));
        // Hot sessions fall on every day.
        let hot_days: HashSet<u16> = s.iter().filter(|(x, _)| x.hot).map(|(x, _)| x.day).collect();
        assert_eq!(hot_days.len(), 7);
    }
}
