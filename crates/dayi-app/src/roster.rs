//! Rosters (排班): weekly templates, the sessions they generate for the
//! coming weeks, one-off and visiting-expert sessions, the session board,
//! and stopping a clinic (停诊) with notice to every booked patient.

use dayi_core::audit::OK;
use dayi_core::booking::{self, BookingStatus};
use dayi_core::roster::{ClinicType, HalfDay, SessionStatus, dates_on, instant, parse_hm, show_hm, slot_starts};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode, mask};
use dayi_store::roster::{Session, Template};
use dayi_store::walk::{Step, Walk};
use serde::{Deserialize, Serialize};
use time::{Date, Duration};
use uuid::Uuid;

use crate::booking::{BookingView, SessionView, rules};
use crate::{Actor, App, OrInternal, new_id, policy, sms};

/// The roster form, as typed (kept on errors).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RosterForm {
    #[schema(value_type = uuid::Uuid)]
    pub dept_id: String,
    /// `YYYY-MM-DD` for a one-off session.
    #[schema(format = Date)]
    pub day: String,
    /// 1–7 for a weekly template.
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub weekday: String,
    #[schema(value_type = dayi_core::roster::HalfDay)]
    pub half_day: String,
    #[schema(value_type = dayi_core::roster::ClinicType)]
    pub clinic_type: String,
    /// Our doctor's account id; empty for a visiting expert.
    #[schema(value_type = uuid::Uuid)]
    pub doctor_id: String,
    pub doctor_name: String,
    pub doctor_title: String,
    pub visiting_from: String,
    pub room: String,
    pub start_time: String,
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub slot_minutes: String,
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = i64)]
    pub slot_count: String,
}

struct Valid {
    dept_id: Uuid,
    half_day: HalfDay,
    clinic_type: ClinicType,
    doctor_id: Option<Uuid>,
    doctor_name: String,
    doctor_title: Option<String>,
    visiting_from: Option<String>,
    room: Option<String>,
    start: time::Time,
    slot_minutes: i64,
    slot_count: i64,
}

fn opt(s: &str, max: usize) -> Option<String> {
    let t: String = s.trim().chars().take(max).collect();
    (!t.is_empty()).then_some(t)
}

async fn validate(app: &App, actor: &Actor, f: &RosterForm) -> Result<Valid, DomainError> {
    let mut err = DomainError::new(ErrorCode::RosterInvalid);
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    let dept = Uuid::parse_str(f.dept_id.trim()).ok().filter(|id| depts.iter().any(|d| d.id == *id));
    if dept.is_none() {
        err = err.and_field("dept_id", ErrorCode::ChoiceInvalid, [f.dept_id.trim()]);
    }
    let half_day = HalfDay::parse(f.half_day.trim());
    if half_day.is_none() {
        err = err.and_field("half_day", ErrorCode::ChoiceInvalid, [f.half_day.trim()]);
    }
    let clinic_type = ClinicType::parse(f.clinic_type.trim());
    if clinic_type.is_none() {
        err = err.and_field("clinic_type", ErrorCode::ChoiceInvalid, [f.clinic_type.trim()]);
    }
    let mut doctor_id = None;
    let mut doctor_name = opt(&f.doctor_name, 40);
    if !f.doctor_id.trim().is_empty() {
        let staff = match Uuid::parse_str(f.doctor_id.trim()) {
            Ok(id) => dayi_store::staff::get(&app.db, actor.org_id, id).await.or_internal()?,
            Err(_) => None,
        };
        match staff {
            Some(s) => {
                doctor_id = Some(s.id);
                doctor_name = doctor_name.or(Some(s.display_name));
            }
            None => err = err.and_field("doctor_id", ErrorCode::ChoiceInvalid, [f.doctor_id.trim()]),
        }
    }
    if doctor_name.is_none() {
        err = err.and_field("doctor_name", ErrorCode::Required, [""; 0]);
    }
    let start = parse_hm(&f.start_time);
    if start.is_none() {
        err = err.and_field("start_time", ErrorCode::InvalidFormat, ["时:分，如 08:00"]);
    }
    let minutes = f.slot_minutes.trim().parse::<i64>().ok().filter(|m| (1..=240).contains(m));
    if minutes.is_none() {
        err = err.and_field("slot_minutes", ErrorCode::InvalidFormat, ["1–240 的整数"]);
    }
    let count = f.slot_count.trim().parse::<i64>().ok().filter(|c| (1..=500).contains(c));
    if count.is_none() {
        err = err.and_field("slot_count", ErrorCode::InvalidFormat, ["1–500 的整数"]);
    }
    if let (Some(s), Some(m), Some(c)) = (start, minutes, count)
        && i64::from(s.hour()) * 60 + i64::from(s.minute()) + m * c > 24 * 60
    {
        err = err.and_field("slot_count", ErrorCode::InvalidFormat, ["号源须在当天内结束"]);
    }
    if !err.fields.is_empty() {
        return Err(err);
    }
    let (
        Some(dept_id),
        Some(half_day),
        Some(clinic_type),
        Some(doctor_name),
        Some(start),
        Some(slot_minutes),
        Some(slot_count),
    ) = (dept, half_day, clinic_type, doctor_name, start, minutes, count)
    else {
        return Err(err);
    };
    Ok(Valid {
        dept_id,
        half_day,
        clinic_type,
        doctor_id,
        doctor_name,
        doctor_title: opt(&f.doctor_title, 20),
        visiting_from: opt(&f.visiting_from, 60),
        room: opt(&f.room, 20),
        start,
        slot_minutes,
        slot_count,
    })
}

fn fee_key(t: ClinicType) -> &'static str {
    match t {
        ClinicType::General => "fee.registration.general",
        ClinicType::Expert => "fee.registration.expert",
        ClinicType::Special => "fee.registration.special",
    }
}

/// Creates one session with its slots; `Ok(None)` when its template already made that day.
async fn make_session(
    app: &App,
    actor: &Actor,
    v: &Valid,
    day: Date,
    template_id: Option<Uuid>,
) -> Result<Option<Session>, DomainError> {
    let r = rules(app, actor.org_id).await?;
    let starts: Vec<i64> =
        slot_starts(v.start, v.slot_minutes, v.slot_count).into_iter().map(|t| instant(day, t)).collect();
    let ends_at = starts.last().copied().unwrap_or(0) + v.slot_minutes * 60_000_000;
    let s = Session {
        org_id: actor.org_id,
        id: new_id(),
        template_id,
        dept_id: v.dept_id,
        day: day.to_string(),
        half_day: v.half_day.code().into(),
        clinic_type: v.clinic_type.code().into(),
        doctor_id: v.doctor_id,
        doctor_name: v.doctor_name.clone(),
        doctor_title: v.doctor_title.clone(),
        visiting_from: v.visiting_from.clone(),
        room: v.room.clone(),
        start_time: show_hm(v.start),
        slot_minutes: v.slot_minutes,
        slot_count: v.slot_count,
        fee_fen: policy::int(app, actor.org_id, fee_key(v.clinic_type)).await?,
        release_at: booking::release_at(day, &r),
        ends_at,
        status: SessionStatus::Open.code().into(),
        stop_reason: None,
        stopped_by: None,
        stopped_at: None,
        created_by: actor.username.clone(),
        created_at: now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    if !dayi_store::roster::insert_session(&mut tx, &s, &starts).await.or_internal()? {
        tx.rollback().await.or_internal()?;
        return Ok(None);
    }
    let detail = format!("{} {} {} {}号", s.day, s.half_day, s.doctor_name, s.slot_count);
    let e = actor.entry("roster.session", "clinic_session", &s.id.to_string(), None, OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(Some(s))
}

/// A one-off session on a given day (also how a visiting expert's single visit is entered).
pub async fn create_session(app: &App, actor: &Actor, f: &RosterForm) -> Result<Session, DomainError> {
    actor.require(app, Perm::Schedule).await?;
    let day = time::Date::parse(f.day.trim(), time::macros::format_description!("[year]-[month]-[day]"));
    let v = validate(app, actor, f).await;
    let day = match (day, v) {
        (Ok(d), Ok(v)) if d >= today_cst() => (d, v),
        (Ok(d), Ok(_)) => return Err(DomainError::field("day", ErrorCode::BookingPast, [d.to_string()])),
        (Err(_), v) => {
            let e = v.err().unwrap_or_else(|| DomainError::new(ErrorCode::RosterInvalid));
            return Err(e.and_field("day", ErrorCode::DateInvalid, [f.day.trim()]));
        }
        (_, Err(e)) => return Err(e),
    };
    make_session(app, actor, &day.1, day.0, None).await?.ok_or_else(|| DomainError::new(ErrorCode::Conflict))
}

/// A weekly template row: the doctor sits this half-day every week.
pub async fn create_template(app: &App, actor: &Actor, f: &RosterForm) -> Result<Template, DomainError> {
    actor.require(app, Perm::Schedule).await?;
    let weekday = f.weekday.trim().parse::<u8>().ok().filter(|d| (1..=7).contains(d));
    let v = match (validate(app, actor, f).await, weekday) {
        (Ok(v), Some(_)) => v,
        (v, w) => {
            let mut e = v.err().unwrap_or_else(|| DomainError::new(ErrorCode::RosterInvalid));
            if w.is_none() {
                e = e.and_field("weekday", ErrorCode::ChoiceInvalid, [f.weekday.trim()]);
            }
            return Err(e);
        }
    };
    let t = Template {
        org_id: actor.org_id,
        id: new_id(),
        dept_id: v.dept_id,
        weekday: i64::from(weekday.unwrap_or(1)),
        half_day: v.half_day.code().into(),
        clinic_type: v.clinic_type.code().into(),
        doctor_id: v.doctor_id,
        doctor_name: v.doctor_name,
        doctor_title: v.doctor_title,
        visiting_from: v.visiting_from,
        room: v.room,
        start_time: show_hm(v.start),
        slot_minutes: v.slot_minutes,
        slot_count: v.slot_count,
        active: true,
        created_by: actor.username.clone(),
        created_at: now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::roster::insert_template(&mut tx, &t).await.or_internal()?;
    let e = actor.entry("roster.template", "roster_template", &t.id.to_string(), None, OK, &t.doctor_name);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(t)
}

pub async fn templates(app: &App, actor: &Actor) -> Result<Vec<Template>, DomainError> {
    actor.require(app, Perm::Schedule).await?;
    dayi_store::roster::templates(&app.db, actor.org_id).await.or_internal()
}

pub async fn set_template_active(app: &App, actor: &Actor, id: Uuid, active: bool) -> Result<(), DomainError> {
    actor.require(app, Perm::Schedule).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if dayi_store::roster::set_template_active(&mut tx, actor.org_id, id, active).await.or_internal()? == 0 {
        return Err(DomainError::new(ErrorCode::NotFound));
    }
    let e = actor.entry("roster.template_active", "roster_template", &id.to_string(), None, OK, &active.to_string());
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(())
}

/// Generates the sessions of every active template for the coming weeks,
/// from `from` on. Days already generated are skipped, so running it again is safe.
pub async fn generate(app: &App, actor: &Actor, from: Date, weeks: i64) -> Result<usize, DomainError> {
    actor.require(app, Perm::Schedule).await?;
    let weeks = weeks.clamp(1, 8);
    let mut made = 0;
    for t in dayi_store::roster::templates(&app.db, actor.org_id).await.or_internal()? {
        if !t.active {
            continue;
        }
        let (Some(half_day), Some(clinic_type), Some(start)) =
            (HalfDay::parse(&t.half_day), ClinicType::parse(&t.clinic_type), parse_hm(&t.start_time))
        else {
            continue;
        };
        let v = Valid {
            dept_id: t.dept_id,
            half_day,
            clinic_type,
            doctor_id: t.doctor_id,
            doctor_name: t.doctor_name.clone(),
            doctor_title: t.doctor_title.clone(),
            visiting_from: t.visiting_from.clone(),
            room: t.room.clone(),
            start,
            slot_minutes: t.slot_minutes,
            slot_count: t.slot_count,
        };
        for day in dates_on(t.weekday as u8, from, weeks) {
            if make_session(app, actor, &v, day, Some(t.id)).await?.is_some() {
                made += 1;
            }
        }
    }
    Ok(made)
}

/// Sessions on `[from, to]` with free-slot counts. Public information: the
/// portal shows it to anyone signed in.
pub async fn sessions(
    app: &App,
    org_id: Uuid,
    from: Date,
    to: Date,
    dept_id: Option<Uuid>,
) -> Result<Vec<SessionView>, DomainError> {
    let rows = dayi_store::roster::sessions(&app.db, org_id, &from.to_string(), &to.to_string(), dept_id)
        .await
        .or_internal()?;
    views(app, org_id, &rows).await
}

/// Sessions as shown, with their free and total slots and department names.
async fn views(app: &App, org_id: Uuid, rows: &[Session]) -> Result<Vec<SessionView>, DomainError> {
    let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
    let avail = dayi_store::roster::availability(&app.db, org_id, &ids).await.or_internal()?;
    let depts = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    Ok(rows
        .iter()
        .map(|s| {
            let (free, total) = avail.iter().find(|a| a.0 == s.id).map(|a| (a.1, a.2)).unwrap_or((0, 0));
            let dept = depts.iter().find(|d| d.id == s.dept_id).map(|d| d.name.as_str()).unwrap_or("");
            SessionView::new(s, dept, free, total)
        })
        .collect())
}

/// Every session in id order, a page at a time (a FHIR search with no parameter).
pub async fn walk_sessions(app: &App, actor: &Actor, step: &Step) -> Result<Walk<SessionView>, DomainError> {
    require_view(app, actor).await?;
    let step = crate::visit::query::capped(step);
    let page = dayi_store::roster::walk_sessions(&app.db, actor.org_id, &step).await.or_internal()?;
    let views = views(app, actor.org_id, &page.rows).await?;
    Ok(page.with_rows(views))
}

/// Every slot with its session, in (session, number) order, a page at a
/// time. As the board, each session looked at is audited; its rows carry no
/// patient name (no one asked to see who holds the slot).
pub async fn walk_slots(app: &App, actor: &Actor, step: &Step) -> Result<Walk<(SessionView, BoardRow)>, DomainError> {
    require_view(app, actor).await?;
    let step = crate::visit::query::capped(step);
    let page = dayi_store::roster::walk_slots(&app.db, actor.org_id, &step).await.or_internal()?;
    let mut ids: Vec<Uuid> = page.rows.iter().map(|s| s.session_id).collect();
    ids.dedup();
    let mut sessions = vec![];
    let mut bookings = vec![];
    for id in &ids {
        if let Some(s) = dayi_store::roster::get_session(&app.db, actor.org_id, *id).await.or_internal()? {
            sessions.push(s);
        }
        bookings.extend(dayi_store::booking::of_session(&app.db, actor.org_id, *id).await.or_internal()?);
    }
    let views = views(app, actor.org_id, &sessions).await?;
    let rows = page
        .rows
        .iter()
        .filter_map(|s| {
            let view = views.iter().find(|v| v.id == s.session_id)?.clone();
            let b = s.booking_id.and_then(|bid| bookings.iter().find(|b| b.id == bid));
            let row = BoardRow {
                seq: s.seq,
                time: crate::booking::hm(s.starts_at),
                added: s.added,
                booking: b.map(BookingView::new),
                patient_name: None,
            };
            Some((view, row))
        })
        .collect();
    let entries = ids.iter().map(|id| actor.entry("roster.board", "clinic_session", &id.to_string(), None, OK, ""));
    app.audit.record_all(entries.collect()).await;
    Ok(page.with_rows(rows))
}

/// The staff's view of the roster is for the scheduler and for anyone who
/// serves patients.
async fn require_view(app: &App, actor: &Actor) -> Result<(), DomainError> {
    if !actor.can(Perm::Schedule) {
        actor.require(app, Perm::PatientRead).await?;
    }
    Ok(())
}

/// One session as the staff's roster shows it.
pub async fn get(app: &App, actor: &Actor, id: Uuid) -> Result<SessionView, DomainError> {
    require_view(app, actor).await?;
    session(app, actor.org_id, id).await
}

pub async fn session(app: &App, org_id: Uuid, id: Uuid) -> Result<SessionView, DomainError> {
    let s = dayi_store::roster::get_session(&app.db, org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::SessionUnknown))?;
    let avail = dayi_store::roster::availability(&app.db, org_id, &[id]).await.or_internal()?;
    let dept = dayi_store::tenancy::get_dept(&app.db, org_id, s.dept_id).await.or_internal()?;
    let (free, total) = avail.first().map(|a| (a.1, a.2)).unwrap_or((0, 0));
    Ok(SessionView::new(&s, dept.as_ref().map(|d| d.name.as_str()).unwrap_or(""), free, total))
}

/// The boards of several sessions, for a search: a session not on file
/// has no slots to list.
pub async fn boards(app: &App, actor: &Actor, ids: &[Uuid]) -> Result<Vec<(SessionView, Vec<BoardRow>)>, DomainError> {
    require_view(app, actor).await?;
    let mut found = vec![];
    for id in ids {
        match board(app, actor, *id).await {
            Ok(b) => found.push(b),
            Err(e) if e.code == ErrorCode::SessionUnknown => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// One line of the session board: a slot and who holds it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardRow {
    pub seq: i64,
    pub time: String,
    pub added: bool,
    pub booking: Option<BookingView>,
    /// Masked, as on every screen.
    pub patient_name: Option<String>,
}

/// The staff's roster week: the sessions of `[from, to]`, for the scheduler
/// or anyone who serves patients.
pub async fn week(
    app: &App,
    actor: &Actor,
    from: Date,
    to: Date,
    dept_id: Option<Uuid>,
) -> Result<Vec<SessionView>, DomainError> {
    require_view(app, actor).await?;
    sessions(app, actor.org_id, from, to, dept_id).await
}

/// The slots of a session with their bookings, for the counter and the doctor.
pub async fn board(app: &App, actor: &Actor, id: Uuid) -> Result<(SessionView, Vec<BoardRow>), DomainError> {
    require_view(app, actor).await?;
    let view = session(app, actor.org_id, id).await?;
    let slots = dayi_store::roster::slots(&app.db, actor.org_id, id).await.or_internal()?;
    let bookings = dayi_store::booking::of_session(&app.db, actor.org_id, id).await.or_internal()?;
    let mut rows = vec![];
    for s in slots {
        let b = s.booking_id.and_then(|bid| bookings.iter().find(|b| b.id == bid));
        let name = match b {
            Some(b) => dayi_store::patient::get(&app.db, actor.org_id, b.patient_id)
                .await
                .or_internal()?
                .map(|p| mask::name(&p.name)),
            None => None,
        };
        rows.push(BoardRow {
            seq: s.seq,
            time: crate::booking::hm(s.starts_at),
            added: s.added,
            booking: b.map(BookingView::new),
            patient_name: name,
        });
    }
    app.audit.record(actor.entry("roster.board", "clinic_session", &id.to_string(), None, OK, "")).await;
    Ok((view, rows))
}

/// Stops a session (停诊): its bookings are withdrawn with their unpaid fees,
/// and every booked patient gets a notification and a text message.
/// Returns how many patients were notified.
pub async fn stop(app: &App, actor: &Actor, id: Uuid, reason: &str) -> Result<usize, DomainError> {
    actor.require(app, Perm::Schedule).await?;
    let reason: String = reason.trim().chars().take(100).collect();
    if reason.is_empty() {
        return Err(DomainError::field("reason", ErrorCode::Required, [""; 0]));
    }
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    let s = dayi_store::roster::get_session(&mut tx, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::SessionUnknown))?;
    if !dayi_store::roster::stop_session(&mut tx, actor.org_id, id, &reason, &actor.username, now)
        .await
        .or_internal()?
    {
        tx.rollback().await.or_internal()?;
        return Err(DomainError::new(ErrorCode::BookingStopped));
    }
    let held = dayi_store::booking::active_of_session(&mut tx, actor.org_id, id).await.or_internal()?;
    let org =
        dayi_store::tenancy::get_org(&app.db, actor.org_id).await.or_internal()?.map(|o| o.name).unwrap_or_default();
    let mut entries = vec![actor.entry("roster.stop", "clinic_session", &id.to_string(), None, OK, &reason)];
    let mut outbox = vec![];
    for b in &held {
        let from = [BookingStatus::Booked.code(), BookingStatus::CheckedIn.code()];
        dayi_store::booking::set_status(&mut tx, actor.org_id, b.id, &from, "stopped", Some(&reason), now)
            .await
            .or_internal()?;
        dayi_store::booking::void_unpaid(&mut tx, actor.org_id, b.id, now).await.or_internal()?;
        let half = HalfDay::parse(&s.half_day).map(|h| h.zh()).unwrap_or("");
        let body = format!(
            "【{org}】您预约的 {} {}{} {} 医生门诊（第 {} 号）因{}停诊，预约已取消，挂号费不收取。请改约其他时段，给您带来不便敬请谅解。",
            s.day,
            half,
            crate::booking::hm(b.slot_start),
            s.doctor_name,
            b.seq,
            reason
        );
        let n = dayi_store::message::Notification {
            org_id: actor.org_id,
            id: new_id(),
            patient_id: b.patient_id,
            kind: "clinic_stopped".into(),
            booking_id: Some(b.id),
            body: body.clone(),
            created_at: now,
            read_at: None,
        };
        dayi_store::message::notify(&mut tx, &n).await.or_internal()?;
        entries.push(actor.entry("booking.stopped", "booking", &b.id.to_string(), Some(b.patient_id), OK, &b.reg_no));
        outbox.push((b.patient_id, body, b.seq));
    }
    dayi_store::audit::append(&mut tx, actor.org_id, entries).await.or_internal()?;
    tx.commit().await.or_internal()?;
    // Text messages go out after the commit; each outcome is in the message log.
    for (patient_id, body, seq) in &outbox {
        let p = dayi_store::patient::get(&app.db, actor.org_id, *patient_id).await.or_internal()?;
        let phone = p.and_then(|p| p.phone.clone().or(p.guardian_phone.clone()));
        if let Some(phone) = phone.filter(|ph| ph.starts_with('1')) {
            let params = vec![
                ("day", s.day.clone()),
                ("doctor", s.doctor_name.clone()),
                ("seq", seq.to_string()),
                ("reason", reason.clone()),
            ];
            let sms = sms::Sms { phone, template: "clinic_stopped", params, text: body.clone() };
            sms::send(app, actor.org_id, Some(*patient_id), sms).await?;
        }
    }
    Ok(outbox.len())
}

/// Messages in the log, newest first (the built-in gateway's "phone").
pub async fn messages(
    app: &App,
    actor: &Actor,
    phone: Option<&str>,
) -> Result<Vec<dayi_store::message::Message>, DomainError> {
    actor.require(app, Perm::Registration).await?;
    let rows = dayi_store::message::messages(&app.db, actor.org_id, phone, 200).await.or_internal()?;
    app.audit.record(actor.entry("message.list", "message", "", None, OK, "")).await;
    Ok(rows)
}

/// Days from today for `weeks` weeks, for pickers.
pub fn upcoming(weeks: i64) -> (Date, Date) {
    let today = today_cst();
    (today, today + Duration::days(weeks * 7 - 1))
}
