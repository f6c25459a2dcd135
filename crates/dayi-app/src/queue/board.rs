//! A queue's board: who is with the doctor, who comes next (the first few
//! asked to wait at the door), who was passed or is at tests. Screens get it
//! with masked names; the call order inside is for panels and phones only.

use std::collections::HashMap;

use dayi_core::queue::{PriorityGroup, Status, Waiting, order};
use dayi_core::{DomainError, mask};
use dayi_store::queue::Named;
use dayi_store::roster::Session;
use serde::Serialize;
use uuid::Uuid;

use super::config::{self, DeptRules};
use crate::{App, OrInternal};

/// How many coming patients a screen lists.
const NEXT_SHOWN: usize = 6;

/// One patient on a board.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = QueueLine)]
pub struct Line {
    #[serde(skip)]
    pub booking_id: Uuid,
    pub seq: i64,
    /// Masked (张*三).
    pub name: String,
    pub status: Status,
    /// Priority group or "复诊" (came back), shown beside the name.
    pub tag: Option<&'static str>,
}

/// A call to announce on the zone screen.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Announce {
    pub text: String,
    pub repeat: u32,
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = QueueBoard)]
pub struct Board {
    #[serde(skip)]
    pub org_id: Uuid,
    pub session_id: Uuid,
    pub dept_id: Uuid,
    pub dept: String,
    pub room: String,
    pub doctor: String,
    pub half_day: String,
    pub paused: bool,
    pub calling: Vec<Line>,
    /// The next few in call order; the first `door` of them wait at the door.
    pub next: Vec<Line>,
    pub door: u32,
    pub waiting: usize,
    pub passed: Vec<Line>,
    pub testing: Vec<Line>,
    /// Waiting patients' booking ids in call order (not sent to screens).
    #[serde(skip)]
    pub order: Vec<Uuid>,
    pub announce: Option<Announce>,
    /// When the change began (µs), so a screen can tell how long it took to arrive.
    pub at: i64,
    /// Newer boards of a queue have higher revisions (see `hub`).
    pub rev: u64,
}

impl Board {
    /// The place of a booking: 0 when it is called next; `None` unless waiting.
    pub fn ahead_of(&self, booking_id: Uuid) -> Option<usize> {
        self.order.iter().position(|b| *b == booking_id)
    }

    pub fn is_calling(&self, booking_id: Uuid) -> bool {
        self.calling.iter().any(|l| l.booking_id == booking_id)
    }
}

/// Who is waiting, in call order, under the department's rules; `calls` is
/// the queue's call count, from which each late or returning patient's wait
/// is measured.
pub fn call_order(entries: &[&Named], rules: &DeptRules, calls: i64) -> Vec<Uuid> {
    let waiting: Vec<Waiting<Uuid>> = entries
        .iter()
        .filter(|n| n.entry.status == Status::Waiting.code())
        .map(|n| Waiting {
            key: n.entry.booking_id,
            seq: n.entry.seq,
            checked_in_at: n.entry.checked_in_at,
            appointment: n.entry.appointment,
            late: n.entry.late,
            recalled: n.entry.recalled,
            priority: n.entry.priority.map(|p| p.clamp(0, 255) as u8),
            waited: (calls - n.entry.mark).clamp(0, i64::from(u32::MAX)) as u32,
        })
        .collect();
    order(&waiting, &rules.order)
}

fn line(n: &Named) -> Line {
    let tag = n.entry.priority_group.as_deref().and_then(PriorityGroup::parse).map(|g| g.zh());
    Line {
        booking_id: n.entry.booking_id,
        seq: n.entry.seq,
        name: mask::name(&n.name),
        status: Status::parse(&n.entry.status).unwrap_or(Status::Waiting),
        tag: tag.or(n.entry.recalled.then_some("复诊")),
    }
}

/// The board of one session from its live entries.
pub fn assemble(s: &Session, dept: &str, rules: &DeptRules, entries: &[&Named], calls: i64, paused: bool) -> Board {
    let by_id: HashMap<Uuid, &Named> = entries.iter().map(|n| (n.entry.booking_id, *n)).collect();
    let order = call_order(entries, rules, calls);
    let with = |st: Status| {
        let mut v: Vec<&Named> = entries.iter().copied().filter(|n| n.entry.status == st.code()).collect();
        v.sort_by_key(|n| (n.entry.called_at, n.entry.seq));
        v.into_iter().map(line).collect::<Vec<_>>()
    };
    Board {
        org_id: s.org_id,
        session_id: s.id,
        dept_id: s.dept_id,
        dept: dept.to_string(),
        room: room_of(s),
        doctor: s.doctor_name.clone(),
        half_day: s.half_day.clone(),
        paused,
        calling: with(Status::Called),
        next: order.iter().take(NEXT_SHOWN).filter_map(|id| by_id.get(id)).map(|n| line(n)).collect(),
        door: rules.room_limit,
        waiting: order.len(),
        passed: with(Status::Passed),
        testing: with(Status::Testing),
        order,
        announce: None,
        at: dayi_core::timefmt::now_micros(),
        rev: 0,
    }
}

/// Where the patient is sent: the room, else the doctor.
pub fn room_of(s: &Session) -> String {
    s.room.clone().filter(|r| !r.trim().is_empty()).unwrap_or_else(|| format!("{}医生诊室", s.doctor_name))
}

/// Current boards of these sessions (one read of the entries for all).
pub async fn boards(app: &App, org_id: Uuid, sessions: &[Session]) -> Result<Vec<Board>, DomainError> {
    // Taken before the reads: a change published later carries a higher one.
    let rev = app.queue.rev();
    let ids: Vec<Uuid> = sessions.iter().map(|s| s.id).collect();
    let live = dayi_store::queue::live(&app.db, org_id, &ids).await.or_internal()?;
    let counted = dayi_store::queue::counters(&app.db, org_id, &ids).await.or_internal()?;
    let depts = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    let day = dayi_core::timefmt::today_cst().to_string();
    let paused: Vec<Uuid> = dayi_store::queue::paused_panels(&app.db, org_id, &day)
        .await
        .or_internal()?
        .iter()
        .flat_map(|p| p.session_ids())
        .collect();
    let mut rules: HashMap<Uuid, DeptRules> = HashMap::new();
    let mut out = vec![];
    for s in sessions {
        if let std::collections::hash_map::Entry::Vacant(v) = rules.entry(s.dept_id) {
            v.insert(config::dept_rules(app, org_id, s.dept_id).await?);
        }
        let r = rules[&s.dept_id];
        let mine: Vec<&Named> = live.iter().filter(|n| n.entry.session_id == s.id).collect();
        let dept = depts.iter().find(|d| d.id == s.dept_id).map(|d| d.name.as_str()).unwrap_or("");
        let mut b = assemble(s, dept, &r, &mine, super::calls_in(&counted, s.id), paused.contains(&s.id));
        b.rev = rev;
        out.push(b);
    }
    Ok(out)
}

/// Boards of sessions given by id (missing ids are skipped).
pub async fn boards_by_id(app: &App, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<Board>, DomainError> {
    let mut sessions = vec![];
    for id in ids {
        if let Some(s) = dayi_store::roster::get_session(&app.db, org_id, *id).await.or_internal()? {
            sessions.push(s);
        }
    }
    boards(app, org_id, &sessions).await
}

/// Today's sessions of these departments (all departments when empty).
pub async fn today_sessions(app: &App, org_id: Uuid, depts: &[Uuid]) -> Result<Vec<Session>, DomainError> {
    let day = dayi_core::timefmt::today_cst().to_string();
    let all = dayi_store::roster::sessions(&app.db, org_id, &day, &day, None).await.or_internal()?;
    Ok(all.into_iter().filter(|s| depts.is_empty() || depts.contains(&s.dept_id)).collect())
}

#[cfg(test)]
mod tests {
    use dayi_core::queue::{LateMode, OrderBy, RecallMode, Rules};
    use dayi_store::queue::Entry;

    use super::*;
    use crate::queue::Position;

    const RULES: DeptRules = DeptRules {
        order: Rules {
            order_by: OrderBy::CheckIn,
            appointments_first: false,
            late: LateMode::NoPenalty,
            late_every: 2,
            recall: RecallMode::Interval,
            recall_every: 2,
        },
        late_grace_minutes: 0,
        room_limit: 2,
    };

    fn session() -> Session {
        Session {
            org_id: Uuid::nil(),
            id: Uuid::from_u128(7),
            template_id: None,
            dept_id: Uuid::from_u128(3),
            day: "2026-11-23".into(),
            half_day: "am".into(),
            clinic_type: "general".into(),
            doctor_id: None,
            doctor_name: "王建国".into(),
            doctor_title: None,
            visiting_from: None,
            room: Some("内科1诊室".into()),
            start_time: "08:00".into(),
            slot_minutes: 10,
            slot_count: 24,
            fee_fen: 500,
            release_at: 0,
            ends_at: 0,
            status: "open".into(),
            stop_reason: None,
            stopped_by: None,
            stopped_at: None,
            created_by: "cli".into(),
            created_at: 0,
        }
    }

    fn named(seq: i64, name: &str, status: Status) -> Named {
        Named {
            entry: Entry {
                org_id: Uuid::nil(),
                booking_id: Uuid::from_u128(seq as u128),
                session_id: Uuid::from_u128(7),
                patient_id: Uuid::from_u128(100 + seq as u128),
                day: "2026-11-23".into(),
                seq,
                appointment: true,
                checked_in_at: seq * 1_000,
                late: false,
                recalled: false,
                mark: 0,
                priority: None,
                priority_group: None,
                status: status.code().into(),
                calls: 0,
                called_by: None,
                called_at: None,
                updated_at: 0,
            },
            name: name.into(),
        }
    }

    #[test]
    fn a_board_masks_names_and_asks_the_first_few_to_the_door() {
        let rows = [
            named(1, "张三丰", Status::Called),
            named(2, "李四", Status::Waiting),
            named(3, "王五", Status::Waiting),
            named(4, "赵六", Status::Waiting),
            named(5, "钱七", Status::Passed),
            named(6, "孙八", Status::Testing),
        ];
        let refs: Vec<&Named> = rows.iter().collect();
        let b = assemble(&session(), "内科", &RULES, &refs, 0, false);
        assert_eq!(b.calling.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["张*丰"]);
        assert_eq!(b.next.iter().map(|l| l.seq).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!((b.waiting, b.door), (3, 2));
        assert_eq!((b.passed[0].name.as_str(), b.testing[0].name.as_str()), ("钱*", "孙*"));
        let json = serde_json::to_string(&b).unwrap();
        for full in ["张三丰", "李四", "王五"] {
            assert!(!json.contains(full), "{full} reached the screen's JSON");
        }
        assert!(!json.contains("booking_id") && !json.contains("order"), "ids stay off the screen");

        // The phone's view: place, door, or go in.
        let pos = |seq: i64| Position::on(&b, &rows[seq as usize - 1].entry);
        assert_eq!((pos(2).ahead, pos(2).at_door), (Some(0), true));
        assert_eq!((pos(3).ahead, pos(3).at_door), (Some(1), true));
        assert_eq!((pos(4).ahead, pos(4).at_door), (Some(2), false), "beyond the room's limit of 2");
        assert_eq!(pos(1).status, Status::Called);
        assert_eq!((pos(5).status, pos(5).ahead), (Status::Passed, None));
        assert_eq!(pos(2).calling, [1]);
    }

    #[test]
    fn a_room_without_a_name_sends_to_the_doctor() {
        let s = Session { room: Some(" ".into()), ..session() };
        assert_eq!(room_of(&s), "王建国医生诊室");
    }
}
