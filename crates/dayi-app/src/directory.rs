//! The organisation's directory for other systems (the FHIR interface):
//! who works here and in which department, the departments, and the
//! consulting rooms the rosters name. Read from the same staff, department
//! and roster records the console uses.
//!
//! Each read needs `console`: every staff role holds it, so any signed-in
//! staff member (or their token) may look colleagues and places up, while a
//! check-in kiosk, which holds `patient.read` but is no person at a desk,
//! may not. Nothing here is patient data, so reads are not audited.

use dayi_core::security::{Perm, Role, Roles};
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::staff::Staff;
use dayi_store::tenancy::Dept;
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::{Actor, App, OrInternal};

/// A staff member as the directory shows them: no password, lock or second
/// factor, and only the roles of their work (not the three security duties).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub id: Uuid,
    /// The sign-in name, which is the work number (工号) the hospital issues.
    pub username: String,
    pub name: String,
    pub dept_id: Option<Uuid>,
    pub roles: Vec<Role>,
    pub active: bool,
}

/// Roles that name a person's work. The security duties say who holds the
/// keys, which the directory need not tell; a kiosk is a machine.
fn work_role(r: Role) -> bool {
    !r.is_security_duty() && r != Role::Kiosk
}

fn member(s: Staff) -> Option<Member> {
    let roles: Vec<Role> = Roles::parse_list(&s.roles).ok()?.iter().filter(|r| work_role(*r)).collect();
    if roles.is_empty() {
        return None;
    }
    Some(Member { id: s.id, username: s.username, name: s.display_name, dept_id: s.dept_id, roles, active: s.active })
}

/// Staff who hold a work role, active or not (a disabled account still
/// names who saw a patient), by work number.
///
/// The lists here are sorted in Rust, not by the database: SQLite and
/// PostgreSQL collate text differently, and a page must be the same on both.
pub async fn members(app: &App, actor: &Actor) -> Result<Vec<Member>, DomainError> {
    actor.require(app, Perm::Console).await?;
    let all = dayi_store::staff::list(&app.db, actor.org_id).await.or_internal()?;
    let mut out: Vec<Member> = all.into_iter().filter_map(member).collect();
    out.sort_by(|a, b| a.username.cmp(&b.username));
    Ok(out)
}

/// One member by id; an account without a work role is not in the directory.
pub async fn member_by_id(app: &App, actor: &Actor, id: Uuid) -> Result<Member, DomainError> {
    actor.require(app, Perm::Console).await?;
    let s = dayi_store::staff::get(&app.db, actor.org_id, id).await.or_internal()?;
    s.and_then(member).ok_or_else(|| DomainError::new(ErrorCode::StaffUnknown))
}

/// The departments, by code (the console's own list, same permission).
pub async fn depts(app: &App, actor: &Actor) -> Result<Vec<Dept>, DomainError> {
    let mut all = crate::tenancy::list_depts(app, actor).await?;
    all.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(all)
}

/// A consulting room (诊室) of one department, as its rosters name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    /// Derived from the department and the name (see [`room_id`]).
    pub id: Uuid,
    pub dept_id: Uuid,
    pub name: String,
    /// Named by an active weekly roster or by a session today or later.
    pub active: bool,
}

/// A room's id: a name-based UUID (RFC 9562 version 5) in the department's
/// namespace. Rooms have no table of their own, so the id must come from
/// what names them, and stays the same as long as the name does.
pub fn room_id(dept_id: Uuid, name: &str) -> Uuid {
    let mut h = Sha1::new();
    h.update(dept_id.as_bytes());
    h.update(name.trim().as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// Every room the rosters name, by name (code point order).
pub async fn rooms(app: &App, actor: &Actor) -> Result<Vec<Room>, DomainError> {
    actor.require(app, Perm::Console).await?;
    let rows = dayi_store::roster::rooms(&app.db, actor.org_id, &today_cst().to_string()).await.or_internal()?;
    let mut out: Vec<Room> = rows
        .into_iter()
        .map(|r| Room { id: room_id(r.dept_id, &r.room), dept_id: r.dept_id, name: r.room, active: r.live > 0 })
        .collect();
    out.sort_by(|a, b| (&a.name, a.dept_id).cmp(&(&b.name, b.dept_id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_are_version_5_and_follow_the_name() {
        let d = Uuid::now_v7();
        let a = room_id(d, "内科1诊室");
        assert_eq!(a.get_version_num(), 5);
        assert_eq!(a, room_id(d, " 内科1诊室 "), "the roster's spaces do not matter");
        assert_ne!(a, room_id(d, "内科2诊室"));
        assert_ne!(a, room_id(Uuid::now_v7(), "内科1诊室"), "another department's room of that name");
    }

    #[test]
    fn security_duties_and_kiosks_are_not_work() {
        let s = |roles: &str| {
            let mut s = Staff::new(Uuid::now_v7(), "u".into(), "张三".into(), None, roles.into(), String::new(), 0);
            s.active = true;
            member(s).map(|m| m.roles)
        };
        assert_eq!(s("doctor,admin"), Some(vec![Role::Doctor]));
        assert_eq!(s("audit_admin"), None);
        assert_eq!(s("kiosk"), None);
    }
}
