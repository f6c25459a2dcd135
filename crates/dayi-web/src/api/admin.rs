//! Accounts, departments, API tokens and the audit log over JSON.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiResult, JsonBody};
use crate::AppState;
use crate::error::ApiError;
use crate::params::{AuditQuery, filter_of};
use crate::principal::Staff;

#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    pub id: String,
    pub username: String,
    pub name: String,
    pub dept_id: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    pub totp_enrolled: bool,
    pub locked: bool,
}

fn staff_out(s: &dayi_app::records::Staff) -> StaffOut {
    StaffOut {
        id: s.id.to_string(),
        username: s.username.clone(),
        name: s.display_name.clone(),
        dept_id: s.dept_id.map(|d| d.to_string()),
        roles: s.roles.split(',').filter(|r| !r.is_empty()).map(String::from).collect(),
        active: s.active,
        totp_enrolled: s.totp_secret.is_some(),
        locked: s.locked_until.is_some_and(|l| l > dayi_core::timefmt::now_micros()),
    }
}

/// Accounts of the caller's organisation.
#[utoipa::path(get, path = "/api/staff", tag = "staff", responses((status = 200, body = Vec<StaffOut>), (status = 403, description = "needs staff.manage or security.manage")))]
pub async fn staff_list(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<StaffOut>> {
    let l = dayi_app::staff::list(&st.app, &staff.actor).await?;
    Ok(Json(l.iter().map(staff_out).collect()))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct StaffIn {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    pub dept_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<dayi_core::security::Role>)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub password: String,
}

/// Creates an account (administrator only).
#[utoipa::path(post, path = "/api/staff", tag = "staff", request_body = StaffIn,
    responses((status = 201, body = StaffOut), (status = 422, description = "invalid fields, or the user name is taken")))]
pub async fn staff_create(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<StaffIn>,
) -> Result<Response, ApiError> {
    dayi_app::staff::require_manage(&st.app, &staff.actor).await?;
    let dept_id = match b.dept_id.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            uuid::Uuid::parse_str(s)
                .map_err(|_| dayi_core::DomainError::field("dept_id", dayi_core::ErrorCode::InvalidFormat, ["UUID"]))?,
        ),
        None => None,
    };
    let f = dayi_app::staff::NewStaff {
        username: b.username,
        display_name: b.name,
        dept_id,
        roles: b.roles,
        password: b.password,
    };
    let s = dayi_app::staff::create(&st.app, &staff.actor, &f).await?;
    Ok((StatusCode::CREATED, Json(staff_out(&s))).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct DeptOut {
    pub id: String,
    /// National clinical-subject code (诊疗科目代码) or a local code.
    pub code: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
}

fn dept_out(d: &dayi_app::records::Dept) -> DeptOut {
    DeptOut { id: d.id.to_string(), code: d.code.clone(), name: d.name.clone(), kind: d.kind.clone(), active: d.active }
}

/// Departments of the caller's organisation.
#[utoipa::path(get, path = "/api/depts", tag = "org", responses((status = 200, body = Vec<DeptOut>)))]
pub async fn dept_list(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<DeptOut>> {
    let l = dayi_app::tenancy::list_depts(&st.app, &staff.actor).await?;
    Ok(Json(l.iter().map(dept_out).collect()))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct DeptIn {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    /// `clinical`, `medtech` or `admin`.
    #[serde(default)]
    pub kind: String,
}

/// Adds a department (administrator only).
#[utoipa::path(post, path = "/api/depts", tag = "org", request_body = DeptIn, responses((status = 201, body = DeptOut), (status = 422, description = "invalid fields")))]
pub async fn dept_create(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<DeptIn>,
) -> Result<Response, ApiError> {
    let d = dayi_app::tenancy::create_dept(
        &st.app,
        &staff.actor,
        &dayi_app::tenancy::NewDept { code: b.code, name: b.name, kind: b.kind },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dept_out(&d))).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct AuditOut {
    pub seq: i64,
    /// Beijing time.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    pub ip: String,
    pub outcome: String,
    pub detail: String,
    pub hash: String,
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Exact account name.
    pub actor: Option<String>,
    /// Action prefix, e.g. `auth.`.
    pub action: Option<String>,
    pub entity: Option<String>,
    /// `ok`, `denied` or `failed`.
    pub outcome: Option<String>,
    /// `YYYY-MM-DD`
    pub from: Option<String>,
    pub to: Option<String>,
    /// Entries older than this sequence number (paging).
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

/// Searches the audit log (audit administrator only).
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditParams), responses((status = 200, body = Vec<AuditOut>), (status = 403, description = "needs audit.read")))]
pub async fn audit_search(
    State(st): State<AppState>,
    staff: Staff,
    Query(p): Query<AuditParams>,
) -> ApiResult<Vec<AuditOut>> {
    let q = AuditQuery {
        actor: p.actor.unwrap_or_default(),
        action: p.action.unwrap_or_default(),
        entity: p.entity.unwrap_or_default(),
        outcome: p.outcome.unwrap_or_default(),
        from: p.from.unwrap_or_default(),
        to: p.to.unwrap_or_default(),
        before: p.before,
        done: None,
    };
    let rows = dayi_app::audit::search(&st.app, &staff.actor, &filter_of(&q, p.limit.unwrap_or(100))).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| AuditOut {
                seq: r.seq,
                at: dayi_core::timefmt::show(r.at),
                actor: r.actor_name,
                action: r.action,
                entity: r.entity,
                entity_id: r.entity_id,
                ip: r.ip,
                outcome: r.outcome,
                detail: r.detail,
                hash: r.hash,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct VerifyOut {
    pub intact: bool,
    pub checked: u64,
    /// Sequence number of the first broken entry.
    pub broken_at: Option<i64>,
}

/// Walks the hash chain of the audit log.
#[utoipa::path(get, path = "/api/audit/verify", tag = "audit", responses((status = 200, body = VerifyOut)))]
pub async fn audit_verify(State(st): State<AppState>, staff: Staff) -> ApiResult<VerifyOut> {
    let r = dayi_app::audit::verify(&st.app, &staff.actor).await?;
    Ok(Json(VerifyOut { intact: r.broken.is_none(), checked: r.checked, broken_at: r.broken.map(|b| b.seq()) }))
}

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    pub id: String,
    pub name: String,
    pub staff_id: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
    /// The role codes the token is limited to; absent: all of the account's.
    pub roles: Option<Vec<String>>,
    /// Only in the answer to creation: the secret, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

fn token_out(t: &dayi_app::records::ApiToken, plain: Option<String>) -> TokenOut {
    TokenOut {
        id: t.id.to_string(),
        name: t.name.clone(),
        staff_id: t.staff_id.to_string(),
        created_at: dayi_core::timefmt::show(t.created_at),
        last_used_at: t.last_used_at.map(dayi_core::timefmt::show),
        revoked: t.revoked_at.is_some(),
        roles: t.roles.as_deref().map(|l| l.split(',').filter(|r| !r.is_empty()).map(String::from).collect()),
        token: plain,
    }
}

/// API tokens of the organisation (security administrator only).
#[utoipa::path(get, path = "/api/tokens", tag = "security", responses((status = 200, body = Vec<TokenOut>)))]
pub async fn token_list(State(st): State<AppState>, staff: Staff) -> ApiResult<Vec<TokenOut>> {
    let l = dayi_app::auth::list_tokens(&st.app, &staff.actor).await?;
    Ok(Json(l.iter().map(|t| token_out(t, None)).collect()))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct TokenIn {
    /// The account whose roles the token carries.
    #[serde(default)]
    #[schema(value_type = uuid::Uuid)]
    pub staff_id: String,
    #[serde(default)]
    pub name: String,
    /// Role codes (as for an account) to limit the token to some of the account's roles; empty for all.
    #[serde(default)]
    #[schema(value_type = Vec<dayi_core::security::Role>)]
    pub roles: Vec<String>,
}

/// Issues an opaque API token for a machine client; use it as `Authorization: Bearer …`.
#[utoipa::path(post, path = "/api/tokens", tag = "security", request_body = TokenIn,
    responses((status = 201, body = TokenOut), (status = 422, description = "no such account, a security duty's account, or a role it does not hold")))]
pub async fn token_create(
    State(st): State<AppState>,
    staff: Staff,
    JsonBody(b): JsonBody<TokenIn>,
) -> Result<Response, ApiError> {
    dayi_app::auth::require_tokens(&st.app, &staff.actor).await?;
    let owner = uuid::Uuid::parse_str(&b.staff_id)
        .map_err(|_| dayi_core::DomainError::field("staff_id", dayi_core::ErrorCode::InvalidFormat, ["UUID"]))?;
    let (t, plain) = dayi_app::auth::create_token(&st.app, &staff.actor, owner, &b.name, &b.roles.join(",")).await?;
    Ok((StatusCode::CREATED, Json(token_out(&t, Some(plain)))).into_response())
}

/// Revokes a token at once.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "security", params(("id" = Uuid, Path, description = "token id")),
    responses((status = 204, description = "revoked"), (status = 404, description = "no such token")))]
pub async fn token_revoke(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = crate::params::parse_id(&id)?;
    dayi_app::auth::revoke_token(&st.app, &staff.actor, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
