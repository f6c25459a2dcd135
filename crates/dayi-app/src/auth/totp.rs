//! The second factor (TOTP): verification after the password, enrolment, and which roles must use
//! it.

use dayi_core::audit::OK;
use dayi_core::security::{Perm, Role, Roles};
use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::staff::Staff;
use rand::RngCore;

use super::{Origin, STAGE_FULL, SessionCtx, record_failure};
use crate::{Actor, App, OrInternal};

pub(super) async fn totp_required(app: &App, staff: &Staff) -> Result<bool, DomainError> {
    if staff.totp_required {
        return Ok(true);
    }
    let roles = Roles::parse_list(&staff.roles)?;
    let policy = dayi_store::auth::totp_roles(&app.db, staff.org_id).await.or_internal()?;
    Ok(policy.iter().filter_map(|r| Role::parse(r)).any(|r| roles.contains(r)))
}

pub(super) fn totp_for(app: &App, secret_b32: &str, account: &str) -> Result<totp_rs::Totp, DomainError> {
    let secret = totp_rs::Secret::try_from_base32(secret_b32).map_err(|_| DomainError::new(ErrorCode::TotpInvalid))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(app.security.totp_issuer.as_str()))
        .build()
        .or_internal()
}

pub(super) fn code_ok(totp: &totp_rs::Totp, code: &str) -> bool {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    code.len() == 6 && totp.check_current(&code).is_some()
}

/// Completes a sign-in that owes its second factor.
pub async fn verify_totp(app: &App, ctx: &SessionCtx, code: &str, origin: &Origin) -> Result<(), DomainError> {
    let staff = dayi_store::staff::get(&app.db, ctx.actor.org_id, ctx.actor.staff_id)
        .await
        .or_internal()?
        .ok_or_else(|| DomainError::new(ErrorCode::SessionExpired))?;
    let Some(secret) = staff.totp_secret.as_deref() else {
        return Err(DomainError::new(ErrorCode::TotpEnrolRequired));
    };
    if staff.locked_until.is_some_and(|l| l > now_micros()) {
        return Err(DomainError::with(ErrorCode::Locked, [app.security.lockout_minutes]));
    }
    if !code_ok(&totp_for(app, secret, &staff.username)?, code) {
        let e = record_failure(app, &staff, origin, "bad totp").await;
        return Err(if e.code == ErrorCode::Locked { e } else { DomainError::new(ErrorCode::TotpInvalid) });
    }
    finish_second_factor(app, ctx, "auth.totp", None).await
}

pub(super) async fn finish_second_factor(
    app: &App,
    ctx: &SessionCtx,
    action: &str,
    secret: Option<&str>,
) -> Result<(), DomainError> {
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    if let Some(s) = secret {
        dayi_store::staff::set_totp_secret(&mut tx, ctx.actor.org_id, ctx.actor.staff_id, Some(s), now)
            .await
            .or_internal()?;
    }
    dayi_store::staff::record_success(&mut tx, ctx.actor.org_id, ctx.actor.staff_id, now).await.or_internal()?;
    dayi_store::auth::set_session_stage(&mut tx, ctx.actor.org_id, &ctx.token_hash, STAGE_FULL).await.or_internal()?;
    let e = ctx.actor.entry(action, "staff", &ctx.actor.staff_id.to_string(), None, OK, "");
    dayi_store::audit::append(&mut tx, ctx.actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}

/// A new authenticator secret to show as a QR code during enrolment.
pub struct Enrolment {
    pub secret: String,
    pub url: String,
    pub qr_svg: String,
}

/// A fresh secret, or the one being enrolled again after a wrong code.
pub fn enrolment(app: &App, actor: &Actor, secret: Option<String>) -> Result<Enrolment, DomainError> {
    let secret = secret.unwrap_or_else(|| {
        // 160-bit secret, as RFC 4226 recommends.
        let mut raw = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut raw);
        totp_rs::Secret::new(raw.to_vec().into_boxed_slice()).to_base32()
    });
    let totp = totp_for(app, &secret, &actor.username)?;
    let url = totp.to_url().or_internal()?;
    let qr_svg = qrcode::QrCode::new(url.as_bytes())
        .or_internal()?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(180, 180)
        .build();
    Ok(Enrolment { secret, url, qr_svg })
}

/// Stores the secret once the user proves their app produces its codes.
pub async fn confirm_enrolment(app: &App, ctx: &SessionCtx, secret: &str, code: &str) -> Result<(), DomainError> {
    if !code_ok(&totp_for(app, secret, &ctx.actor.username)?, code) {
        return Err(DomainError::field("code", ErrorCode::TotpInvalid, [""; 0]));
    }
    finish_second_factor(app, ctx, "auth.totp_enrol", Some(secret)).await
}

/// The current code of a secret (for tests and the CLI's self-check).
pub fn current_code(app: &App, secret: &str) -> Result<String, DomainError> {
    Ok(totp_for(app, secret, "x")?.generate_current().to_string())
}

pub async fn totp_roles(app: &App, actor: &Actor) -> Result<Vec<Role>, DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let v = dayi_store::auth::totp_roles(&app.db, actor.org_id).await.or_internal()?;
    Ok(v.iter().filter_map(|r| Role::parse(r)).collect())
}

/// Sets which roles must sign in with a second factor, all at once.
pub async fn set_totp_roles(app: &App, actor: &Actor, required: &[Role]) -> Result<(), DomainError> {
    actor.require(app, Perm::SecurityManage).await?;
    let now = now_micros();
    let mut tx = app.db.begin().await.or_internal()?;
    for role in Role::ALL {
        dayi_store::auth::set_role_totp(&mut tx, actor.org_id, role.code(), required.contains(role), now)
            .await
            .or_internal()?;
    }
    let list: Vec<&str> = required.iter().map(|r| r.code()).collect();
    let e = actor.entry("security.role_totp", "role_policy", "", None, OK, &format!("required={}", list.join(",")));
    dayi_store::audit::append(&mut tx, actor.org_id, vec![e]).await.or_internal()?;
    tx.commit().await.or_internal()
}
