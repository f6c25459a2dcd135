//! The booking desk: every booking goes through one task that takes the
//! waiting requests, decides them in order inside one transaction, and
//! commits them together. Deciding in order is what keeps the rules true
//! under the 08:00 rush (no slot sold twice, no patient over a limit); one
//! commit for many bookings is what makes the rush fast on SQLite's single
//! writer. The database backs it up: a slot is taken by a conditional
//! update and an active booking's slot is unique.
//!
//! A caller gets its answer only after the commit, so every acknowledged
//! booking is durable. A batch that fails in the database is retried one
//! request at a time so each caller gets its own answer.

use std::collections::{BTreeMap, HashMap};

use dayi_core::audit::{Entry, FAILED};
use dayi_core::booking::{self, BookingChannel, BookingStatus, Rules, Standing};
use dayi_core::roster::SessionStatus;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::booking::{Booking, Charge};
use dayi_store::roster::Bookable;
use dayi_store::{Db, StoreError, Tx};
use uuid::Uuid;

use crate::batch::Batcher;

/// Requests decided in one transaction at most.
const BATCH: usize = 256;

/// One booking request, already authorised by the caller.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub org_id: Uuid,
    pub session_id: Uuid,
    /// A chosen slot; the first free one when `None`.
    pub seq: Option<i64>,
    /// Add a slot beyond the roster for this booking (加号).
    pub add_slot: bool,
    pub patient_id: Uuid,
    pub channel: BookingChannel,
    pub on_behalf: String,
    pub booked_by: String,
    pub rules: Rules,
    pub now: i64,
    /// The audit entry to write with the booking (its ids are filled in here).
    pub entry: Entry,
}

pub type Answer = Result<Booking, DomainError>;

#[derive(Clone)]
pub struct Desk(Batcher<Ticket, Answer>);

impl Desk {
    pub fn start(db: Db) -> Self {
        Self(Batcher::start(db, "booking desk", BATCH, |db, tickets| async move { decide(&db, tickets).await }))
    }

    /// Decides and (when accepted) stores the booking; returns once committed.
    pub async fn book(&self, t: Ticket) -> Result<Answer, StoreError> {
        self.0.submit(t).await
    }
}

/// Decides tickets as one batch, in order, and commits the accepted ones
/// with an audit entry for every ticket, refused or not: the desk's unit
/// of work (public so tests can pin a batch's contents).
pub async fn decide(db: &Db, tickets: Vec<Ticket>) -> Result<Vec<Answer>, StoreError> {
    let mut tx = db.begin().await?;
    let mut known = Known::load(&mut tx, &tickets).await?;
    let mut answers = Vec::with_capacity(tickets.len());
    for t in &tickets {
        answers.push(known.one(&mut tx, t).await?);
    }
    let mut accepted: Vec<&mut Booking> = answers.iter_mut().flatten().collect();
    if !accepted.is_empty() {
        if !claim(&mut tx, &accepted).await? {
            // Another server sharing the database took a slot this batch chose.
            if tickets.len() > 1 {
                return Err(StoreError::Protocol("a slot was taken by another writer".into()));
            }
            answers[0] = Err(DomainError::with(ErrorCode::BookingSlotTaken, [accepted[0].seq.to_string()]));
        } else {
            store(&mut tx, &mut accepted).await?;
        }
    }
    audit(&mut tx, &tickets, &answers).await?;
    tx.commit().await?;
    Ok(answers)
}

/// One audit entry per ticket, in order: the booking made, or why not.
async fn audit(tx: &mut Tx, tickets: &[Ticket], answers: &[Answer]) -> Result<(), StoreError> {
    let mut by_org: HashMap<Uuid, Vec<Entry>> = HashMap::new();
    for (t, a) in tickets.iter().zip(answers) {
        let mut e = t.entry.clone();
        e.patient_id = Some(t.patient_id);
        match a {
            Ok(b) => {
                e.entity_id = b.id.to_string();
                e.detail = format!("{} {} 第{}号 {}", b.reg_no, b.day, b.seq, e.detail);
            }
            Err(err) => {
                e.outcome = FAILED.into();
                e.detail = format!("{} session={}", err.code.code(), t.session_id);
            }
        }
        by_org.entry(t.org_id).or_default().push(e);
    }
    for (org, entries) in by_org {
        dayi_store::audit::append(tx, org, entries).await?;
    }
    Ok(())
}

/// A slot as the batch sees it.
struct Place {
    starts_at: i64,
    free: bool,
}

/// The slots of one session the batch has read, by seq. `complete` when
/// they are all its free ones; otherwise only the first few were read.
#[derive(Default)]
struct Places {
    by_seq: BTreeMap<i64, Place>,
    complete: bool,
}

/// What a batch needs to decide its tickets, read with a few queries up
/// front and kept current as the batch books.
#[derive(Default)]
struct Known {
    sessions: HashMap<(Uuid, Uuid), Bookable>,
    places: HashMap<(Uuid, Uuid), Places>,
    /// Active bookings per (org, patient, day): (dept, session).
    mine: HashMap<(Uuid, Uuid, String), Vec<(Uuid, Uuid)>>,
    blocks: HashMap<(Uuid, Uuid), String>,
}

/// The earliest a ticket's slot may start: walk-ins may take a slot whose
/// time has passed, bookings only later ones.
fn after(t: &Ticket) -> i64 {
    if t.walk_in() { i64::MIN } else { t.now }
}

impl Ticket {
    fn walk_in(&self) -> bool {
        matches!(self.channel, BookingChannel::WalkIn | BookingChannel::Added)
    }
}

impl Known {
    async fn load(tx: &mut Tx, tickets: &[Ticket]) -> Result<Self, StoreError> {
        let mut k = Known::default();
        let orgs = distinct(tickets.iter().map(|t| t.org_id));
        for org in orgs {
            let of_org = || tickets.iter().filter(move |t| t.org_id == org);
            let ids = distinct(of_org().map(|t| t.session_id));
            let patients = distinct(of_org().map(|t| t.patient_id));
            let sessions = dayi_store::roster::bookable_in(tx, org, &ids).await?;
            let days = distinct(sessions.iter().map(|s| s.day.clone()));
            // As many free slots per session as it has tickets, from the earliest any may take.
            let mut wants: HashMap<Uuid, (i64, i64)> = HashMap::new();
            for t in of_org() {
                let w = wants.entry(t.session_id).or_insert((0, i64::MAX));
                *w = (w.0 + 1, w.1.min(after(t)));
            }
            let wants: Vec<(Uuid, i64, i64)> =
                sessions.iter().filter_map(|s| wants.get(&s.id).map(|(n, a)| (s.id, *n, *a))).collect();
            for (session, seq, starts_at) in dayi_store::roster::free_slots(tx, org, &wants).await? {
                k.places.entry((org, session)).or_default().by_seq.insert(seq, Place { starts_at, free: true });
            }
            for (session, n, _) in wants {
                let places = k.places.entry((org, session)).or_default();
                places.complete = (places.by_seq.len() as i64) < n;
            }
            for s in sessions {
                k.sessions.insert((org, s.id), s);
            }
            for (p, day, dept, session) in dayi_store::booking::active_for(tx, org, &patients, &days).await? {
                k.mine.entry((org, p, day)).or_default().push((dept, session));
            }
            for (p, until) in dayi_store::booking::blocks_for(tx, org, &patients).await? {
                k.blocks.insert((org, p), until);
            }
        }
        Ok(k)
    }

    /// Decides one request against what the batch knows, and books it in
    /// memory when accepted (the slot is written by `claim`).
    async fn one(&mut self, tx: &mut Tx, t: &Ticket) -> Result<Answer, StoreError> {
        let Some(s) = self.sessions.get(&(t.org_id, t.session_id)) else {
            return Ok(Err(DomainError::new(ErrorCode::SessionUnknown)));
        };
        let walk_in = t.walk_in();
        let status = SessionStatus::parse(&s.status).unwrap_or(SessionStatus::Stopped);
        if let Err(e) = booking::check_bookable(status, s.release_at, s.ends_at, s.ends_at, t.now, walk_in) {
            return Ok(Err(e));
        }
        let day_key = (t.org_id, t.patient_id, s.day.clone());
        let mine = self.mine.get(&day_key).map(Vec::as_slice).unwrap_or_default();
        let standing = Standing {
            day_total: mine.len() as i64,
            dept_day_total: mine.iter().filter(|(d, _)| *d == s.dept_id).count() as i64,
            in_session: mine.iter().filter(|(_, sid)| *sid == s.id).count() as i64,
            blocked_until: if walk_in { None } else { self.blocks.get(&(t.org_id, t.patient_id)).cloned() },
        };
        let today = dayi_core::timefmt::from_micros(t.now).to_offset(dayi_core::timefmt::CST).date();
        if let Err(e) = booking::check_patient(&t.rules, &standing, today, !walk_in) {
            return Ok(Err(e));
        }
        let places = self.places.entry((t.org_id, s.id)).or_default();
        let mut seq = t.seq;
        if t.add_slot {
            let n = dayi_store::roster::add_slot(tx, t.org_id, s.id, s.ends_at).await?;
            places.by_seq.insert(n, Place { starts_at: s.ends_at, free: true });
            seq = Some(n);
        }
        let after = after(t);
        let seq = match seq {
            Some(n) => {
                if !places.by_seq.contains_key(&n)
                    && let Some(slot) = dayi_store::roster::slot_at(tx, t.org_id, s.id, n).await?
                {
                    places.by_seq.insert(n, Place { starts_at: slot.starts_at, free: slot.booking_id.is_none() });
                }
                match places.by_seq.get(&n) {
                    Some(p) if p.free && p.starts_at > after => n,
                    Some(p) if p.starts_at <= after => return Ok(Err(DomainError::new(ErrorCode::BookingPast))),
                    _ => return Ok(Err(DomainError::with(ErrorCode::BookingSlotTaken, [n.to_string()]))),
                }
            }
            None => {
                let first = |p: &Places| p.by_seq.iter().find(|(_, p)| p.free && p.starts_at > after).map(|(n, _)| *n);
                if first(places).is_none() && !places.complete {
                    // Explicit choices took the slots read for this ticket: read them all.
                    for (_, n, starts_at) in
                        dayi_store::roster::free_slots(tx, t.org_id, &[(s.id, i64::MAX, i64::MIN)]).await?
                    {
                        places.by_seq.entry(n).or_insert(Place { starts_at, free: true });
                    }
                    places.complete = true;
                }
                match first(places) {
                    Some(n) => n,
                    None => return Ok(Err(DomainError::new(ErrorCode::BookingFull))),
                }
            }
        };
        let Some(place) = places.by_seq.get_mut(&seq) else {
            return Ok(Err(DomainError::new(ErrorCode::BookingFull)));
        };
        place.free = false;
        let slot_start = place.starts_at;
        self.mine.entry(day_key).or_default().push((s.dept_id, s.id));
        Ok(Ok(Booking {
            org_id: t.org_id,
            id: crate::new_id(),
            reg_no: String::new(),
            session_id: s.id,
            seq,
            slot_start,
            patient_id: t.patient_id,
            dept_id: s.dept_id,
            day: s.day.clone(),
            fee_fen: s.fee_fen,
            channel: t.channel.code().into(),
            on_behalf: t.on_behalf.clone(),
            booked_by: t.booked_by.clone(),
            status: BookingStatus::Booked.code().into(),
            cancel_reason: None,
            checked_in_at: None,
            created_at: t.now,
            updated_at: t.now,
        }))
    }
}

fn distinct<T: Ord>(it: impl Iterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = it.collect();
    v.sort();
    v.dedup();
    v
}

/// Writes the accepted bookings' slots; false when one was no longer free.
/// Only this desk takes slots, so that means another server shares the
/// database: the batch is then refused whole and retried one at a time.
async fn claim(tx: &mut Tx, rows: &[&mut Booking]) -> Result<bool, StoreError> {
    let mut by_org: HashMap<Uuid, Vec<(Uuid, i64, Uuid)>> = HashMap::new();
    for b in rows {
        by_org.entry(b.org_id).or_default().push((b.session_id, b.seq, b.id));
    }
    for (org, claims) in by_org {
        let n = dayi_store::roster::claim_many(tx, org, &claims).await?;
        if n != claims.len() as u64 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Numbers the accepted bookings per department and day, then writes them
/// and their fee charges with one statement each.
async fn store(tx: &mut Tx, rows: &mut [&mut Booking]) -> Result<(), StoreError> {
    // Per organisation: the bookings of each (department, day).
    let mut groups: HashMap<Uuid, HashMap<(Uuid, String), Vec<usize>>> = HashMap::new();
    for (i, b) in rows.iter().enumerate() {
        groups.entry(b.org_id).or_default().entry((b.dept_id, b.day.clone())).or_default().push(i);
    }
    for (org, days) in groups {
        let depts = distinct(days.keys().map(|(dept, _)| *dept));
        let codes: HashMap<Uuid, String> =
            dayi_store::tenancy::dept_codes(tx, org, &depts).await?.into_iter().collect();
        let code = |dept: &Uuid| codes.get(dept).cloned().unwrap_or_else(|| "000".into());
        let steps: Vec<(String, i64)> =
            days.iter().map(|((dept, day), idx)| (counter(&code(dept), day), idx.len() as i64)).collect();
        let last: HashMap<String, i64> =
            dayi_store::patient::next_counters(tx, org, &steps).await?.into_iter().collect();
        for ((dept, day), idx) in days {
            let code = code(&dept);
            let date = time::Date::parse(&day, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|e| StoreError::Protocol(e.to_string()))?;
            let end = last.get(&counter(&code, &day)).copied().unwrap_or(idx.len() as i64);
            let first = end - idx.len() as i64 + 1;
            for (k, i) in idx.into_iter().enumerate() {
                rows[i].reg_no = booking::registration_no(&code, date, first + k as i64);
            }
        }
    }
    let bookings: Vec<Booking> = rows.iter().map(|b| (**b).clone()).collect();
    dayi_store::booking::insert(tx, &bookings).await?;
    let charges: Vec<Charge> = bookings.iter().filter(|b| b.fee_fen > 0).map(fee).collect();
    dayi_store::booking::insert_charges(tx, &charges).await?;
    Ok(())
}

/// The counter behind a department's registration numbers for a day.
fn counter(code: &str, day: &str) -> String {
    format!("reg_no:{code}:{day}")
}

/// The registration fee as an unpaid charge, paid at the cashier or on the phone.
fn fee(b: &Booking) -> Charge {
    Charge {
        org_id: b.org_id,
        id: crate::new_id(),
        patient_id: b.patient_id,
        booking_id: Some(b.id),
        item_code: "REG".into(),
        item_name: "挂号费（诊察费）".into(),
        category: "13".into(),
        unit_fen: b.fee_fen,
        quantity: 1,
        amount_fen: b.fee_fen,
        status: "unpaid".into(),
        created_by: b.booked_by.clone(),
        created_at: b.created_at,
        updated_at: b.created_at,
        visit_id: None,
        order_id: None,
        payment_id: None,
        refund_id: None,
    }
}
