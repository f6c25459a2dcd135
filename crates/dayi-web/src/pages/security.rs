//! Sign-in security, for the security administrator: second factor per role,
//! locked accounts, API tokens for machine clients.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use dayi_core::security::Role;
use minijinja::context;

use super::admin::urlencode;
use super::{Fields, fail, page};
use crate::AppState;
use crate::i18n::t;
use crate::params::parse_id;
use crate::principal::Staff;

#[derive(serde::Deserialize, Default)]
pub struct Q {
    done: Option<String>,
}

async fn overview_page(st: &AppState, staff: &Staff, new_token: Option<String>, notice: Option<String>) -> Response {
    let totp_roles = match dayi_app::auth::totp_roles(&st.app, &staff.actor).await {
        Ok(r) => r,
        Err(e) => return fail(&e, staff.lang),
    };
    let roles: Vec<_> = Role::ALL
        .iter()
        .map(|r| context! { code => r.code(), name => r.zh(), required => totp_roles.contains(r), duty => r.is_security_duty() })
        .collect();
    let tokens = dayi_app::auth::list_tokens(&st.app, &staff.actor).await.unwrap_or_default();
    let accounts = dayi_app::staff::list(&st.app, &staff.actor).await.unwrap_or_default();
    let name_of = |id: uuid::Uuid| accounts.iter().find(|a| a.id == id).map(|a| a.username.clone()).unwrap_or_default();
    let tokens: Vec<_> = tokens
        .iter()
        .map(|t| {
            context! {
                id => t.id.to_string(), name => t.name.as_str(), owner => name_of(t.staff_id),
                created => dayi_core::timefmt::show(t.created_at), last_used => t.last_used_at.map(dayi_core::timefmt::show),
                revoked => t.revoked_at.map(dayi_core::timefmt::show),
                roles => t.roles.as_deref().map(|r| dayi_core::security::Roles::parse_list(r).map(|r| r.zh()).unwrap_or_default()),
            }
        })
        .collect();
    // Administrator accounts cannot hold tokens (三权分立), so they are not offered.
    let owners: Vec<_> = accounts
        .iter()
        .filter(|a| {
            a.active
                && dayi_core::security::Roles::parse_list(&a.roles)
                    .is_ok_and(|r| !r.iter().any(|x| x.is_security_duty()))
        })
        .map(|a| context! { id => a.id.to_string(), name => format!("{}（{}）", a.display_name, a.username) })
        .collect();
    page(
        st,
        staff,
        StatusCode::OK,
        "security.html",
        "/security",
        context! { roles => roles, tokens => tokens, owners => owners, new_token => new_token, notice => notice },
    )
    .await
}

pub async fn overview(State(st): State<AppState>, staff: Staff, Query(q): Query<Q>) -> Response {
    overview_page(&st, &staff, None, q.done).await
}

fn done(msg: &str) -> Response {
    Redirect::to(&format!("/security?done={}", urlencode(msg))).into_response()
}

pub async fn role_totp(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let chosen: Vec<Role> = f.all("totp_roles").iter().filter_map(|c| Role::parse(c)).collect();
    match dayi_app::auth::set_totp_roles(&st.app, &staff.actor, &chosen).await {
        Ok(()) => done(&t(staff.lang, "msg.sec.totp_roles")),
        Err(e) => fail(&e, staff.lang),
    }
}

async fn staff_action(
    st: &AppState,
    staff: &Staff,
    id: &str,
    what: &str,
    f: &Fields,
) -> Result<(), dayi_core::DomainError> {
    let id = parse_id(id)?;
    match what {
        "unlock" => dayi_app::staff::unlock(&st.app, &staff.actor, id).await,
        "reset" => dayi_app::staff::reset_totp(&st.app, &staff.actor, id).await,
        _ => dayi_app::staff::require_totp(&st.app, &staff.actor, id, f.get("require") == "1").await,
    }
}

pub async fn unlock(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    match staff_action(&st, &staff, &id, "unlock", &f).await {
        Ok(()) => Redirect::to(&format!("/admin/staff?done={}", urlencode(&t(staff.lang, "msg.sec.unlocked"))))
            .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn totp_reset(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    match staff_action(&st, &staff, &id, "reset", &f).await {
        Ok(()) => Redirect::to(&format!("/admin/staff?done={}", urlencode(&t(staff.lang, "msg.sec.totp_reset"))))
            .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn totp_require(State(st): State<AppState>, staff: Staff, Path(id): Path<String>, f: Fields) -> Response {
    match staff_action(&st, &staff, &id, "require", &f).await {
        Ok(()) => Redirect::to(&format!("/admin/staff?done={}", urlencode(&t(staff.lang, "msg.sec.totp_required"))))
            .into_response(),
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn token_create(State(st): State<AppState>, staff: Staff, f: Fields) -> Response {
    let r = async {
        dayi_app::auth::require_tokens(&st.app, &staff.actor).await?;
        let owner = parse_id(&f.get("staff_id"))?;
        dayi_app::auth::create_token(&st.app, &staff.actor, owner, &f.get("name"), &f.get("roles")).await
    }
    .await;
    match r {
        // The plain token is shown once, on this page, and never again.
        Ok((_, plain)) => overview_page(&st, &staff, Some(plain), Some(t(staff.lang, "msg.sec.token_created"))).await,
        Err(e) => fail(&e, staff.lang),
    }
}

pub async fn token_revoke(State(st): State<AppState>, staff: Staff, Path(id): Path<String>) -> Response {
    let r = match parse_id(&id) {
        Ok(id) => dayi_app::auth::revoke_token(&st.app, &staff.actor, id).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => done(&t(staff.lang, "msg.sec.token_revoked")),
        Err(e) => fail(&e, staff.lang),
    }
}
