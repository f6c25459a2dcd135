//! After a book-rush run: the answers against the plan, the database
//! against the rules, and the portal's session list against the bookings.

use std::collections::{BTreeMap, HashMap, HashSet};

use dayi_store::Db;
use dayi_store::booking::{Booking, Per};
use reqwest::Method;
use reqwest::header::COOKIE;
use uuid::Uuid;

use super::{Answer, Attempt, FULL, Kind, Prepared, tally};
use crate::http::{Ctx, expect_json};
use crate::report::Check;

/// How the answers compare with the plan.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Verdict {
    pub(super) answered: u64,
    pub(super) booked: u64,
    /// Oversubscribed attempts refused with `booking.full`.
    pub(super) full: u64,
    /// Deliberate pairs with both answers, and those answered as they must be, by code.
    pub(super) pairs: u64,
    pub(super) pairs_ok: BTreeMap<&'static str, u64>,
    /// Answers other than the plan expects, by what was wrong.
    pub(super) unexpected: BTreeMap<String, u64>,
}

pub(super) fn judge(plan: &[Attempt], answers: &[Option<Answer>]) -> Verdict {
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

/// What the answers say, against the plan.
pub(super) fn verdict_checks(p: &Prepared, answers: &[Option<Answer>]) -> Vec<Check> {
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
pub(super) async fn database_checks(db: &Db, org: Uuid, p: &Prepared, answers: &[Option<Answer>]) -> Vec<Check> {
    let oversold = match dayi_store::booking::oversold(db, org).await {
        Ok(n) => Check::new("no slot sold twice", n == 0, format!("{n} oversold or inconsistent slots")),
        Err(e) => Check::new("no slot sold twice", false, format!("query failed: {e}")),
    };
    let mut checks = vec![oversold, rules_check(db, org, p).await];
    checks.push(match dayi_store::booking::of_channel(db, org, "portal").await {
        Ok(rows) => stored_check(p, answers, &rows),
        Err(e) => Check::new("acknowledged bookings stored", false, format!("query failed: {e}")),
    });
    checks
}

/// No patient's active bookings over a limit of the rules.
async fn rules_check(db: &Db, org: Uuid, p: &Prepared) -> Check {
    let r = &p.rules;
    let over = |per, limit| dayi_store::booking::groups_over(db, org, per, limit);
    let counts = async {
        let day = over(Per::Day, r.max_per_day).await?;
        let dept = over(Per::DeptDay, r.max_per_dept_day).await?;
        let session = if r.one_per_session { over(Per::Session, 1).await? } else { 0 };
        Ok::<_, dayi_store::StoreError>((day, dept, session))
    };
    match counts.await {
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
    }
}

/// Every acknowledged booking stored as acknowledged, and none of our
/// sessions' portal bookings stored without an acknowledgement.
fn stored_check(p: &Prepared, answers: &[Option<Answer>], rows: &[Booking]) -> Check {
    let by_id: HashMap<Uuid, &Booking> = rows.iter().map(|b| (b.id, b)).collect();
    let (mut acked, mut found, mut wrong) = (0u64, 0u64, 0u64);
    let mut acked_ids = HashSet::new();
    for (a, answer) in p.plan.iter().zip(answers) {
        let Some(Ok(ack)) = answer else { continue };
        acked += 1;
        acked_ids.insert(ack.id);
        match by_id.get(&ack.id) {
            Some(b)
                if b.patient_id == p.patients[a.patient as usize].id
                    && b.session_id == p.sessions[a.session as usize]
                    && b.seq == ack.seq
                    && b.status == "booked" =>
            {
                found += 1
            }
            Some(_) => wrong += 1,
            None => {}
        }
    }
    let ours: HashSet<Uuid> = p.sessions.iter().copied().collect();
    let unacked = rows.iter().filter(|b| ours.contains(&b.session_id) && !acked_ids.contains(&b.id)).count();
    Check::new(
        "acknowledged bookings stored",
        acked > 0 && found == acked,
        format!(
            "{found} of {acked} found as acknowledged ({wrong} differ, {} missing); \
             {unacked} stored without an acknowledgement",
            acked - found - wrong
        ),
    )
}

/// `GET /portal/api/sessions`: the free slots it shows for our sessions are
/// the slots less the bookings made.
pub(super) async fn board_check(ctx: &Ctx, p: &Prepared, answers: &[Option<Answer>]) -> Check {
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
