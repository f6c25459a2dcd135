//! The queue's configuration, read from dated policy rows: a department's
//! own rules (`queue.rules.<科室代码>`) or the hospital's (`queue.rules`),
//! priority ranks and the announcement.

use std::collections::BTreeMap;

use dayi_core::DomainError;
use dayi_core::queue::{PriorityGroup, Rules};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Actor, App, OrInternal, policy};

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
    rules_of(app, org_id, code.as_deref()).await
}

/// The rules of the department with this code: its own row, else the hospital's.
async fn rules_of(app: &App, org_id: Uuid, code: Option<&str>) -> Result<DeptRules, DomainError> {
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

/// Who keeps the queue's settings. Asked by every save, and by the settings
/// forms before they are read: a caller without the duty is refused as such.
pub async fn require_manage(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, dayi_core::security::Perm::QueueManage).await
}

/// What the settings page shows: the announcement, the priority ranks and
/// each clinical department's rules.
pub struct Settings {
    pub voice: Voice,
    pub priority: Priority,
    pub depts: Vec<(dayi_store::tenancy::Dept, DeptRules)>,
}

pub async fn settings(app: &App, actor: &Actor) -> Result<Settings, DomainError> {
    require_manage(app, actor).await?;
    let org = actor.org_id;
    let mut depts = vec![];
    for d in crate::tenancy::clinical_depts(app, org).await? {
        let rules = rules_of(app, org, Some(&d.code)).await?;
        depts.push((d, rules));
    }
    Ok(Settings { voice: voice(app, org).await?, priority: priority(app, org).await?, depts })
}

/// Saves a queue setting as a dated row from today (the old row stays for
/// the record), audited, and drops cached values so it applies at once.
async fn save(app: &App, actor: &Actor, key: &str, value: serde_json::Value) -> Result<(), DomainError> {
    let now = dayi_core::timefmt::now_micros();
    let row = dayi_store::setting::Setting {
        org_id: actor.org_id,
        key: key.to_string(),
        effective_from: dayi_core::timefmt::today_cst().to_string(),
        value: value.to_string(),
        source: "admin".into(),
        updated_by: actor.username.clone(),
        updated_at: now,
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::setting::upsert(&mut tx, &row).await.or_internal()?;
    let entry = actor.entry("queue.settings", "setting", key, None, dayi_core::audit::OK, &row.value);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    policy::forget(app);
    Ok(())
}

/// Checks and saves the announcement.
pub async fn save_voice(app: &App, actor: &Actor, v: &Voice) -> Result<(), DomainError> {
    require_manage(app, actor).await?;
    use dayi_core::ErrorCode;
    let mut checks = dayi_core::error::Checks::new();
    if !v.template.contains("{号序}") {
        checks.add("template", ErrorCode::QueueVoiceTemplate, ["{号序}"]);
    }
    if v.template.chars().count() > 60 {
        checks.add("template", ErrorCode::TooLong, ["60"]);
    }
    if !(1..=5).contains(&v.repeat) {
        checks.add("repeat", ErrorCode::InvalidFormat, ["1–5"]);
    }
    if !(0.5..=2.0).contains(&v.rate) {
        checks.add("rate", ErrorCode::InvalidFormat, ["0.5–2.0"]);
    }
    checks.finish()?;
    save(app, actor, VOICE, serde_json::to_value(v).map_err(crate::internal)?).await
}

/// Checks and saves one department's rules (`queue.rules.<code>`).
pub async fn save_rules(app: &App, actor: &Actor, dept_code: &str, r: &DeptRules) -> Result<(), DomainError> {
    require_manage(app, actor).await?;
    use dayi_core::ErrorCode;
    let depts = dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()?;
    if !depts.iter().any(|d| d.code == dept_code) {
        return Err(DomainError::field("dept", ErrorCode::TriageDeptUnknown, [dept_code]));
    }
    let mut checks = dayi_core::error::Checks::new();
    for (field, n, max) in [
        ("late_every", r.order.late_every as i64, 20),
        ("recall_every", r.order.recall_every as i64, 20),
        ("room_limit", r.room_limit as i64, 10),
        ("late_grace_minutes", r.late_grace_minutes, 120),
    ] {
        let min = if field.ends_with("every") { 1 } else { 0 };
        if n < min || n > max {
            checks.add(field, ErrorCode::InvalidFormat, [format!("{min}–{max}")]);
        }
    }
    checks.finish()?;
    save(app, actor, &format!("{RULES}.{dept_code}"), serde_json::to_value(r).map_err(crate::internal)?).await
}

/// Checks and saves the priority ranks and the elderly age.
pub async fn save_priority(app: &App, actor: &Actor, p: &Priority) -> Result<(), DomainError> {
    require_manage(app, actor).await?;
    use dayi_core::ErrorCode;
    let mut checks = dayi_core::error::Checks::new();
    if !(50..=100).contains(&p.elderly_age) {
        checks.add("elderly_age", ErrorCode::InvalidFormat, ["50–100"]);
    }
    for (group, rank) in &p.ranks {
        if PriorityGroup::parse(group).is_none() || *rank > 9 {
            checks.add(group, ErrorCode::InvalidFormat, ["0–9"]);
        }
    }
    checks.finish()?;
    save(app, actor, PRIORITY, serde_json::to_value(p).map_err(crate::internal)?).await
}
