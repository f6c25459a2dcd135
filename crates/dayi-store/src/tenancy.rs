//! Organisations and departments.

use sqlx::FromRow;
use uuid::Uuid;

use crate::fetch::Sql;
use crate::{Db, Result, Tx, args};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Org {
    pub org_id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub tier: String,
    pub region_code: String,
    pub parent_org_id: Option<Uuid>,
    pub created_at: i64,
}

crate::lite_row!(Org { org_id, code, name, kind, tier, region_code, parent_org_id, created_at });

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct Dept {
    pub org_id: Uuid,
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
    pub created_at: i64,
}

crate::lite_row!(Dept { org_id, id, code, name, kind, active, created_at });

macro_rules! org_cols {
    () => {
        "org_id, code, name, kind, tier, region_code, parent_org_id, created_at"
    };
}
macro_rules! dept_cols {
    () => {
        "org_id, id, code, name, kind, active, created_at"
    };
}

pub async fn insert_org(tx: &mut Tx, o: &Org) -> Result<()> {
    let sql = "INSERT INTO org (org_id, code, name, kind, tier, region_code, parent_org_id, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    tx.execute(sql, args![o.org_id, &o.code, &o.name, &o.kind, &o.tier, &o.region_code, o.parent_org_id, o.created_at])
        .await?;
    Ok(())
}

pub async fn list_orgs(db: &Db) -> Result<Vec<Org>> {
    let sql = concat!("SELECT ", org_cols!(), " FROM org ORDER BY created_at, code");
    db.all::<Org>(sql, args![]).await
}

pub async fn get_org(db: &Db, org_id: Uuid) -> Result<Option<Org>> {
    let sql = concat!("SELECT ", org_cols!(), " FROM org WHERE org_id = $1");
    db.optional::<Org>(sql, args![org_id]).await
}

pub async fn org_by_code(db: &Db, code: &str) -> Result<Option<Org>> {
    let sql = concat!("SELECT ", org_cols!(), " FROM org WHERE code = $1");
    db.optional::<Org>(sql, args![code]).await
}

pub async fn insert_dept(tx: &mut Tx, d: &Dept) -> Result<()> {
    let sql = "INSERT INTO dept (org_id, id, code, name, kind, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    tx.execute(sql, args![d.org_id, d.id, &d.code, &d.name, &d.kind, d.active, d.created_at]).await?;
    Ok(())
}

pub async fn list_depts(db: &Db, org_id: Uuid) -> Result<Vec<Dept>> {
    let sql = concat!("SELECT ", dept_cols!(), " FROM dept WHERE org_id = $1 ORDER BY code");
    db.all::<Dept>(sql, args![org_id]).await
}

pub async fn get_dept(db: &Db, org_id: Uuid, id: Uuid) -> Result<Option<Dept>> {
    let sql = concat!("SELECT ", dept_cols!(), " FROM dept WHERE org_id = $1 AND id = $2");
    db.optional::<Dept>(sql, args![org_id, id]).await
}

/// A department's code, inside a transaction.
/// (id, code) of the departments among `ids`.
pub async fn dept_codes(tx: &mut Tx, org_id: Uuid, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::new("SELECT id, code FROM dept WHERE org_id = ");
    q.arg(org_id).push(" AND id IN (");
    q.list(ids.iter().copied());
    q.push(")");
    tx.all::<(Uuid, String)>(&q.text, &q.args).await
}
