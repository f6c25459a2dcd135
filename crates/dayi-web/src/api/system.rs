//! Health and identity endpoints.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiResult;
use crate::AppState;
use crate::principal::Staff;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: String,
    pub database: String,
    pub version: String,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = Health)))]
pub async fn healthz(State(st): State<AppState>) -> Json<Health> {
    let ok = dayi_app::healthy(&st.app).await;
    Json(Health {
        status: if ok { "ok" } else { "degraded" }.into(),
        database: st.app.db.backend().into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub org_id: String,
    pub staff_id: String,
    pub username: String,
    pub name: String,
    /// Role codes, e.g. `doctor`.
    pub roles: Vec<String>,
    /// Permission codes the roles grant.
    pub permissions: Vec<String>,
}

/// The signed-in account (session or API token).
#[utoipa::path(get, path = "/api/me", tag = "system", responses((status = 200, body = Me), (status = 401, description = "not signed in")))]
pub async fn me(staff: Staff) -> ApiResult<Me> {
    let perms =
        dayi_core::security::Perm::ALL.iter().filter(|p| staff.actor.can(**p)).map(|p| p.code().to_string()).collect();
    Ok(Json(Me {
        org_id: staff.actor.org_id.to_string(),
        staff_id: staff.actor.staff_id.to_string(),
        username: staff.actor.username.clone(),
        name: staff.actor.name.clone(),
        roles: staff.actor.roles.iter().map(|r| r.code().to_string()).collect(),
        permissions: perms,
    }))
}
