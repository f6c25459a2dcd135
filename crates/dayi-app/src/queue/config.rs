//! The queue's configuration, read from dated policy rows: a department's
//! own rules (`queue.rules.<科室代码>`) or the hospital's (`queue.rules`),
//! priority ranks and the announcement.

use std::collections::BTreeMap;

use dayi_core::DomainError;
use dayi_core::queue::{PriorityGroup, Rules};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{App, OrInternal, policy};

/// One department's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeptRules {
    #[serde(flatten)]
    pub order: Rules,
    /// Minutes after the slot's start before an arrival counts as late.
    pub late_grace_minutes: i64,
    /// Patients asked to wait at the room's door (诊间候诊上限).
    pub room_limit: u32,
}

/// Priority ranks of the groups (lower first) and the elderly age.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Priority {
    pub elderly_age: i32,
    pub ranks: BTreeMap<String, u8>,
}

impl Priority {
    pub fn rank(&self, g: PriorityGroup) -> Option<u8> {
        self.ranks.get(g.code()).copied()
    }
}

/// How calls are announced on the zone screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voice {
    /// With the slots {号序}, {姓名} and {诊室}.
    pub template: String,
    pub repeat: u32,
    /// Speech rate, 1.0 normal.
    pub rate: f64,
}

impl Voice {
    /// The text announced for a call.
    pub fn text(&self, seq: i64, masked_name: &str, room: &str) -> String {
        self.template.replace("{号序}", &seq.to_string()).replace("{姓名}", masked_name).replace("{诊室}", room)
    }
}

pub const RULES: &str = "queue.rules";
pub const PRIORITY: &str = "queue.priority";
pub const VOICE: &str = "queue.voice";

/// The rules of the department with this id.
pub async fn dept_rules(app: &App, org_id: Uuid, dept_id: Uuid) -> Result<DeptRules, DomainError> {
    let code = dayi_store::tenancy::list_depts(&app.db, org_id)
        .await
        .or_internal()?
        .into_iter()
        .find(|d| d.id == dept_id)
        .map(|d| d.code);
    if let Some(code) = code
        && let Some(own) = policy::json_opt(app, org_id, &format!("{RULES}.{code}")).await?
    {
        return serde_json::from_value(own).map_err(|e| crate::internal(format!("{RULES}.{code} malformed: {e}")));
    }
    policy::json(app, org_id, RULES).await
}

pub async fn priority(app: &App, org_id: Uuid) -> Result<Priority, DomainError> {
    policy::json(app, org_id, PRIORITY).await
}

pub async fn voice(app: &App, org_id: Uuid) -> Result<Voice, DomainError> {
    policy::json(app, org_id, VOICE).await
}
