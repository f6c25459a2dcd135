//! Organisations of the county medical community and their departments.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dayi_core::audit::OK;
use dayi_core::error::Checks;
use dayi_core::security::Perm;
use dayi_core::tenancy::{OrgKind, RegionCode, parse_dept_code};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::tenancy::{Dept, Org};
use uuid::Uuid;

use crate::{Actor, App, OrInternal, new_id};

/// Organisations for the sign-in page's chooser (names are public).
pub async fn list_orgs(app: &App) -> Result<Vec<Org>, DomainError> {
    dayi_store::tenancy::list_orgs(&app.db).await.or_internal()
}

/// Organisations by id. Nothing updates an organisation's row once it is
/// written, so an entry never goes stale; every FHIR answer names its
/// organisation, and this saves that read per request.
#[derive(Clone, Default)]
pub struct OrgCache(Arc<RwLock<HashMap<Uuid, Org>>>);

pub async fn org(app: &App, org_id: Uuid) -> Result<Org, DomainError> {
    if let Some(o) = app.orgs.0.read().unwrap_or_else(|e| e.into_inner()).get(&org_id) {
        return Ok(o.clone());
    }
    let o = dayi_store::tenancy::get_org(&app.db, org_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::OrgUnknown))?;
    app.orgs.0.write().unwrap_or_else(|e| e.into_inner()).insert(org_id, o.clone());
    Ok(o)
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewOrg {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub tier: String,
    pub region_code: String,
    pub parent_org_id: Option<Uuid>,
}

/// Creates an organisation. Used by setup (demo, CLI) before any account exists,
/// so it takes a transaction rather than an actor.
pub async fn create_org(tx: &mut dayi_store::Tx, f: &NewOrg) -> Result<Org, DomainError> {
    let mut c = Checks::new();
    let code = c.required("code", &f.code, 20);
    let name = c.required("name", &f.name, 60);
    if OrgKind::parse(&f.kind).is_none() {
        c.add("kind", ErrorCode::InvalidFormat, [&f.kind]);
    }
    let region = c.take("region_code", RegionCode::parse(&f.region_code));
    c.finish()?;
    let (Some(code), Some(name), Some(region)) = (code, name, region) else { unreachable!("checked above") };
    let o = Org {
        org_id: new_id(),
        code,
        name,
        kind: f.kind.clone(),
        tier: f.tier.trim().to_string(),
        region_code: region.as_str().to_string(),
        parent_org_id: f.parent_org_id,
        created_at: now_micros(),
    };
    dayi_store::tenancy::insert_org(tx, &o).await.or_internal()?;
    Ok(o)
}

/// The departments for their keeper (the organisation's manager).
pub async fn kept_depts(app: &App, actor: &Actor) -> Result<Vec<Dept>, DomainError> {
    actor.require(app, Perm::OrgManage).await?;
    dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()
}

pub async fn list_depts(app: &App, actor: &Actor) -> Result<Vec<Dept>, DomainError> {
    actor.require(app, Perm::Console).await?;
    dayi_store::tenancy::list_depts(&app.db, actor.org_id).await.or_internal()
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewDept {
    pub code: String,
    pub name: String,
    /// `clinical`, `medtech` (lab, imaging, pharmacy) or `admin`.
    pub kind: String,
}

pub const DEPT_KINDS: &[(&str, &str)] = &[("clinical", "临床科室"), ("medtech", "医技科室"), ("admin", "行政职能科室")];

pub async fn create_dept(app: &App, actor: &Actor, f: &NewDept) -> Result<Dept, DomainError> {
    actor.require(app, Perm::OrgManage).await?;
    let mut c = Checks::new();
    let code = c.take("code", parse_dept_code(&f.code));
    let name = c.required("name", &f.name, 40);
    if !DEPT_KINDS.iter().any(|(k, _)| *k == f.kind) {
        c.add("kind", ErrorCode::Required, [""; 0]);
    }
    c.finish()?;
    let (Some(code), Some(name)) = (code, name) else { unreachable!("checked above") };
    let d = Dept {
        org_id: actor.org_id,
        id: new_id(),
        code,
        name,
        kind: f.kind.clone(),
        active: true,
        created_at: now_micros(),
    };
    let mut tx = app.db.begin().await.or_internal()?;
    if let Err(e) = dayi_store::tenancy::insert_dept(&mut tx, &d).await {
        return Err(if dayi_store::is_unique_violation(&e) {
            DomainError::field("code", ErrorCode::InvalidFormat, ["科室代码已存在 / code exists"])
        } else {
            crate::internal(e)
        });
    }
    let e = actor.entry("org.dept_create", "dept", &d.id.to_string(), None, OK, &format!("{} {}", d.code, d.name));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(d)
}

pub async fn dept(app: &App, actor: &Actor, id: Uuid) -> Result<Option<Dept>, DomainError> {
    dayi_store::tenancy::get_dept(&app.db, actor.org_id, id).await.or_internal()
}

/// An organisation by its code (the portal's sign-in form names it).
pub async fn by_code(app: &App, code: &str) -> Result<Option<Org>, DomainError> {
    dayi_store::tenancy::org_by_code(&app.db, code).await.or_internal()
}

/// Clinical departments, for booking pickers (public information).
pub async fn clinical_depts(app: &App, org_id: Uuid) -> Result<Vec<Dept>, DomainError> {
    let all = dayi_store::tenancy::list_depts(&app.db, org_id).await.or_internal()?;
    Ok(all.into_iter().filter(|d| d.active && d.kind == "clinical").collect())
}
