//! The organisation's place in the county's three-highs network
//! (三高中心/基地/之家) and its area's expected patients, the denominator of
//! the management rate.

use dayi_core::chronic::Disease;
use dayi_core::chronic::Tier;
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::{AREA, require_manage, require_work};
use crate::{Actor, App, OrInternal, policy};

/// The organisation in the three-highs network (configuration `chronic.area`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Area {
    pub tier: Tier,
    /// Expected patients in the area per disease code; 0 = not estimated.
    pub expected: BTreeMap<String, u64>,
    pub villages: Vec<VillageEstimate>,
}

impl Default for Area {
    fn default() -> Self {
        Area { tier: Tier::Base, expected: BTreeMap::new(), villages: vec![] }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VillageEstimate {
    pub name: String,
    pub expected: BTreeMap<String, u64>,
}

pub async fn area(app: &App, org_id: Uuid) -> Result<Area, DomainError> {
    policy::json(app, org_id, AREA).await
}

/// The area form: the tier and estimates saved, and the registry's villages
/// (for rows not estimated yet). Organisation settings: the administrator
/// and the public-health staff, not every doctor.
pub async fn area_form(app: &App, actor: &Actor) -> Result<(Area, Vec<String>), DomainError> {
    require_manage(app, actor).await?;
    let villages = dayi_store::chronic::villages(&app.db, actor.org_id).await.or_internal()?;
    Ok((area(app, actor.org_id).await?, villages))
}

/// The tier and estimates, for public-health staff and whoever sets them.
pub async fn area_for(app: &App, actor: &Actor) -> Result<Area, DomainError> {
    if !actor.can(Perm::PublicHealthManage) {
        require_work(app, actor).await?;
    }
    area(app, actor.org_id).await
}

/// Saves the organisation's tier and expected patient numbers as a dated
/// row from today (the old row stays for the record), audited.
pub async fn set_area(app: &App, actor: &Actor, a: &Area) -> Result<Area, DomainError> {
    require_manage(app, actor).await?;
    let mut checks = dayi_core::error::Checks::new();
    if let Some(k) = a
        .expected
        .keys()
        .chain(a.villages.iter().flat_map(|v| v.expected.keys()))
        .find(|k| dayi_core::chronic::Disease::parse(k).is_none())
    {
        checks.add("expected", ErrorCode::InvalidFormat, [k.as_str()]);
    }
    for (i, v) in a.villages.iter().enumerate() {
        if v.name.trim().is_empty() || v.name.chars().count() > 40 {
            checks.add(&format!("villages[{i}].name"), ErrorCode::Required, [""; 0]);
        }
    }
    checks.finish()?;
    let value = serde_json::to_value(a).or_internal()?;
    let row = dayi_store::setting::Setting {
        org_id: actor.org_id,
        key: AREA.into(),
        effective_from: dayi_core::timefmt::today_cst().to_string(),
        value: value.to_string(),
        source: "admin".into(),
        updated_by: actor.username.clone(),
        updated_at: dayi_core::timefmt::now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::setting::upsert(&mut tx, &row).await.or_internal()?;
    let entry = actor.entry("chronic.area", "setting", AREA, None, dayi_core::audit::OK, &row.value);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    policy::forget(app);
    Ok(a.clone())
}

/// One row of the area form as typed: the organisation's (no name) or a
/// village's expected patients per disease; empty is not estimated.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AreaRow {
    pub name: String,
    pub htn: String,
    pub t2dm: String,
    pub lipid: String,
}

impl AreaRow {
    pub fn of(name: &str, expected: &BTreeMap<String, u64>) -> AreaRow {
        let n = |d: Disease| expected.get(d.code()).filter(|n| **n > 0).map(u64::to_string).unwrap_or_default();
        AreaRow {
            name: name.to_string(),
            htn: n(Disease::Hypertension),
            t2dm: n(Disease::Diabetes),
            lipid: n(Disease::Dyslipidaemia),
        }
    }

    fn expected(&self) -> Result<BTreeMap<String, u64>, DomainError> {
        let mut m = BTreeMap::new();
        for (d, typed) in
            [(Disease::Hypertension, &self.htn), (Disease::Diabetes, &self.t2dm), (Disease::Dyslipidaemia, &self.lipid)]
        {
            // The table's boxes are named by their row and column.
            let field = format!("{}{}", if self.name.is_empty() { "全院" } else { &self.name }, d.zh());
            let n: u64 = match typed.trim() {
                "" => 0,
                t => t.parse().map_err(|_| DomainError::field(&field, ErrorCode::InvalidFormat, ["0, 1, 2…"]))?,
            };
            if n > 0 {
                m.insert(d.code().to_string(), n);
            }
        }
        Ok(m)
    }
}

/// Saves the area form as typed: the tier, the organisation's row first,
/// then the villages' (rows without a name are left out).
pub async fn save_rows(app: &App, actor: &Actor, tier: &str, rows: &[AreaRow]) -> Result<Area, DomainError> {
    require_manage(app, actor).await?;
    let tier = Tier::parse(tier).ok_or_else(|| DomainError::field("tier", ErrorCode::Required, [""; 0]))?;
    let (org, villages) = rows.split_first().ok_or_else(|| DomainError::new(ErrorCode::Validation))?;
    let mut estimates = vec![];
    for r in villages.iter().filter(|r| !r.name.trim().is_empty()) {
        estimates.push(VillageEstimate { name: r.name.trim().to_string(), expected: r.expected()? });
    }
    set_area(app, actor, &Area { tier, expected: org.expected()?, villages: estimates }).await
}
