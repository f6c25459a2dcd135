//! Staff accounts: created and changed by the administrator; locks, second
//! factor and sessions handled by the security administrator.

use dayi_core::audit::OK;
use dayi_core::error::Checks;
use dayi_core::security::{Perm, Roles, password_acceptable};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::staff::Staff;
use uuid::Uuid;

use crate::{Actor, App, OrInternal, auth};

/// The form for a new account.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct NewStaff {
    pub username: String,
    pub display_name: String,
    pub dept_id: Option<Uuid>,
    pub roles: Vec<String>,
    pub password: String,
}

/// Only the server's command line creates or changes the accounts that watch
/// the administrator (三权分立): otherwise the administrator could make an
/// audit administrator of their own, or take over the existing one.
fn guard_oversight(actor: &Actor, target: &Roles) -> Result<(), DomainError> {
    if target.has_oversight_duty() && actor.via != crate::Via::Cli {
        return Err(DomainError::new(ErrorCode::DutyProtected));
    }
    Ok(())
}

async fn target_roles(app: &App, actor: &Actor, id: Uuid) -> Result<Roles, DomainError> {
    let s = dayi_store::staff::get(&app.db, actor.org_id, id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::StaffUnknown))?;
    Roles::parse_list(&s.roles)
}

fn valid_username(u: &str) -> bool {
    (3..=32).contains(&u.len())
        && u.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

pub async fn create(app: &App, actor: &Actor, f: &NewStaff) -> Result<Staff, DomainError> {
    actor.require(app, Perm::StaffManage).await?;
    let mut c = Checks::new();
    let username = f.username.trim().to_lowercase();
    if username.is_empty() {
        c.add("username", ErrorCode::Required, [""; 0]);
    } else if !valid_username(&username) {
        c.add("username", ErrorCode::UsernameInvalid, [""; 0]);
    }
    let name = c.required("display_name", &f.display_name, 40);
    let mut roles = vec![];
    for r in &f.roles {
        match dayi_core::security::Role::parse(r) {
            Some(role) => roles.push(role),
            None => c.add("roles", ErrorCode::RoleUnknown, [r]),
        }
    }
    let roles = if roles.is_empty() && f.roles.is_empty() {
        c.add("roles", ErrorCode::Required, [""; 0]);
        None
    } else {
        c.take("roles", Roles::new(roles))
    };
    if !password_acceptable(&f.password, app.security.password_min_len) {
        c.add("password", ErrorCode::WeakPassword, [app.security.password_min_len]);
    }
    if let Some(d) = f.dept_id
        && dayi_store::tenancy::get_dept(&app.db, actor.org_id, d).await.or_internal()?.is_none()
    {
        c.add("dept_id", ErrorCode::NotFound, [""; 0]);
    }
    c.finish()?;
    let (Some(name), Some(roles)) = (name, roles) else { unreachable!("checked above") };
    guard_oversight(actor, &roles)?;
    if dayi_store::staff::by_username(&app.db, actor.org_id, &username).await.or_internal()?.is_some() {
        return Err(DomainError::field("username", ErrorCode::UsernameTaken, [&username]));
    }
    let now = now_micros();
    let s = Staff::new(
        actor.org_id,
        username,
        name,
        f.dept_id,
        roles.to_list(),
        auth::hash_password(&f.password).await?,
        now,
    );
    let mut tx = app.db.begin().await.or_internal()?;
    if let Err(e) = dayi_store::staff::insert(&mut tx, &s).await {
        return Err(if dayi_store::is_unique_violation(&e) {
            DomainError::field("username", ErrorCode::UsernameTaken, [&s.username])
        } else {
            crate::internal(e)
        });
    }
    let e =
        actor.entry("staff.create", "staff", &s.id.to_string(), None, OK, &format!("{} roles={}", s.username, s.roles));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    Ok(s)
}

pub async fn list(app: &App, actor: &Actor) -> Result<Vec<Staff>, DomainError> {
    if !actor.can(Perm::StaffManage) {
        actor.require(app, Perm::SecurityManage).await?;
    }
    dayi_store::staff::list(&app.db, actor.org_id).await.or_internal()
}

/// Looks an account up by user name (for the command line and the staff pages).
pub async fn find(app: &App, actor: &Actor, username: &str) -> Result<Staff, DomainError> {
    if !actor.can(Perm::StaffManage) {
        actor.require(app, Perm::SecurityManage).await?;
    }
    dayi_store::staff::by_username(&app.db, actor.org_id, &username.trim().to_lowercase())
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::StaffUnknown))
}

/// Sets a new password and ends the account's sessions.
pub async fn reset_password(app: &App, actor: &Actor, id: Uuid, password: &str) -> Result<(), DomainError> {
    actor.require(app, Perm::StaffManage).await?;
    if !password_acceptable(password, app.security.password_min_len) {
        return Err(DomainError::field("password", ErrorCode::WeakPassword, [app.security.password_min_len]));
    }
    guard_oversight(actor, &target_roles(app, actor, id).await?)?;
    let hash = auth::hash_password(password).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if dayi_store::staff::set_password(&mut tx, actor.org_id, id, &hash, now_micros()).await.or_internal()? == 0 {
        return Err(DomainError::new(ErrorCode::StaffUnknown));
    }
    dayi_store::auth::delete_staff_sessions(&mut tx, actor.org_id, id).await.or_internal()?;
    let e = actor.entry("staff.reset_password", "staff", &id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

pub async fn set_active(app: &App, actor: &Actor, id: Uuid, active: bool) -> Result<(), DomainError> {
    actor.require(app, Perm::StaffManage).await?;
    guard_oversight(actor, &target_roles(app, actor, id).await?)?;
    let mut tx = app.db.begin().await.or_internal()?;
    if dayi_store::staff::set_active(&mut tx, actor.org_id, id, active, now_micros()).await.or_internal()? == 0 {
        return Err(DomainError::new(ErrorCode::StaffUnknown));
    }
    if !active {
        dayi_store::auth::delete_staff_sessions(&mut tx, actor.org_id, id).await.or_internal()?;
    }
    let e = actor.entry(if active { "staff.enable" } else { "staff.disable" }, "staff", &id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    // A disabled account's tokens stop at once.
    app.tokens.forget_all();
    Ok(())
}

/// Requires a second factor for one account, whatever its roles.
pub async fn require_totp(app: &App, actor: &Actor, id: Uuid, require: bool) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    if dayi_store::staff::set_totp_required(&mut tx, actor.org_id, id, require, now_micros()).await.or_internal()? == 0
    {
        return Err(DomainError::new(ErrorCode::StaffUnknown));
    }
    let e = actor.entry("security.user_totp", "staff", &id.to_string(), None, OK, &format!("require={require}"));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// Lifts a lockout before its time (the user called the security administrator).
pub async fn unlock(app: &App, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::staff::unlock(&mut tx, actor.org_id, id, now_micros()).await.or_internal()?;
    let e = actor.entry("security.unlock", "staff", &id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// Forgets an account's authenticator (lost phone); it must enrol again if required.
pub async fn reset_totp(app: &App, actor: &Actor, id: Uuid) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let mut tx = app.db.begin().await.or_internal()?;
    dayi_store::staff::set_totp_secret(&mut tx, actor.org_id, id, None, now_micros()).await.or_internal()?;
    dayi_store::auth::delete_staff_sessions(&mut tx, actor.org_id, id).await.or_internal()?;
    let e = actor.entry("security.reset_totp", "staff", &id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// Asked before a form is read, so a caller without the duty is refused as
/// such; each staff use case checks it again.
pub async fn require_manage(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::StaffManage).await
}

/// The console home: where the actor works, when they last signed in, and
/// whether they have a second factor.
#[derive(Debug, Default)]
pub struct Home {
    pub dept: Option<String>,
    pub last_login_at: Option<i64>,
    pub totp: Option<bool>,
}

pub async fn home(app: &App, actor: &Actor) -> Result<Home, DomainError> {
    actor.require(app, Perm::Console).await?;
    let Ok(me) = me(app, actor).await else { return Ok(Home::default()) };
    let dept = match me.dept_id {
        Some(d) => crate::tenancy::dept(app, actor, d).await?.map(|d| d.name),
        None => None,
    };
    Ok(Home { dept, last_login_at: me.last_login_at, totp: Some(me.totp_secret.is_some()) })
}

/// The actor's own account.
pub async fn me(app: &App, actor: &Actor) -> Result<Staff, DomainError> {
    dayi_store::staff::get(&app.db, actor.org_id, actor.staff_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::StaffUnknown))
}
