//! Limits on failed sign-ins for subjects that have no counter of their own:
//! staff user names not on file, portal identities (a resident ID number)
//! and client addresses. Staff accounts on file keep their own counter
//! (`staff.failed_count`); a user name not on file is counted here with the
//! same limit and lock, so the answers cannot tell the two apart.

use dayi_core::timefmt::now_micros;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Tx;
use uuid::Uuid;

use crate::auth::sha256_hex;
use crate::{App, OrInternal};

const MINUTE: i64 = 60_000_000;
/// A portal identity's failures are forgotten a day after the first.
const IDENTITY_WINDOW: i64 = 24 * 60 * MINUTE;

/// Who failed to sign in.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A staff user name that is not on file.
    User(String),
    /// A portal identity: a resident ID number.
    Identity(String),
    /// A client address.
    Address(String),
}

impl Subject {
    /// The stored key: never the name or number itself.
    fn key(&self) -> String {
        match self {
            Subject::User(name) => format!("user:{}", sha256_hex(name)),
            Subject::Identity(number) => format!("id:{}", sha256_hex(number)),
            Subject::Address(ip) => format!("ip:{ip}"),
        }
    }

    /// (limit, how far back failures count) from the security settings.
    fn rule(&self, app: &App, now: i64) -> (i64, i64) {
        let s = &app.security;
        match self {
            Subject::User(_) => (i64::from(s.max_failed_logins), i64::MIN),
            Subject::Identity(_) => (i64::from(s.max_failed_logins), now - IDENTITY_WINDOW),
            Subject::Address(_) => (i64::from(s.max_failed_logins_per_ip), now - i64::from(s.lockout_minutes) * MINUTE),
        }
    }

    /// The refusal while locked, naming the minutes left.
    fn locked(&self, minutes: i64) -> DomainError {
        let code = match self {
            Subject::User(_) => ErrorCode::Locked,
            Subject::Identity(_) => ErrorCode::PortalLocked,
            Subject::Address(_) => ErrorCode::TooManyAttempts,
        };
        DomainError::with(code, [minutes.to_string()])
    }
}

/// Whole minutes until `until`, rounded up.
pub(crate) fn minutes_left(until: i64, now: i64) -> i64 {
    (until - now + MINUTE - 1) / MINUTE
}

/// Refuses a subject that is locked now.
pub async fn check(app: &App, org_id: Uuid, subject: &Subject) -> Result<(), DomainError> {
    let now = now_micros();
    let row = dayi_store::auth::failures(&app.db, org_id, &subject.key()).await.or_internal()?;
    match row.and_then(|r| r.locked_until) {
        Some(until) if until > now => Err(subject.locked(minutes_left(until, now))),
        _ => Ok(()),
    }
}

/// What a counted failure left: attempts remaining, or the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    Attempts(i64),
    LockedFor(i64),
}

/// Counts a failure in the caller's transaction.
pub async fn fail(app: &App, tx: &mut Tx, org_id: Uuid, subject: &Subject) -> Result<Left, DomainError> {
    let now = now_micros();
    let (max, window_from) = subject.rule(app, now);
    let until = now + i64::from(app.security.lockout_minutes) * MINUTE;
    let (count, locked) =
        dayi_store::auth::fail(tx, org_id, &subject.key(), now, window_from, max, until).await.or_internal()?;
    Ok(match locked {
        Some(l) if l > now => Left::LockedFor(minutes_left(l, now)),
        _ => Left::Attempts((max - count).max(0)),
    })
}

/// The error a failure answers: the lock once reached, else `wrong` with
/// the attempts left.
pub fn refusal(subject: &Subject, left: Left, wrong: ErrorCode) -> DomainError {
    match left {
        Left::LockedFor(m) => subject.locked(m),
        Left::Attempts(n) => DomainError::with(wrong, [n.to_string()]),
    }
}

/// Forgets a subject's failures after a successful sign-in.
pub async fn clear(tx: &mut Tx, org_id: Uuid, subject: &Subject) -> Result<(), DomainError> {
    dayi_store::auth::clear_failures(tx, org_id, &subject.key()).await.or_internal()
}

/// Drops counts for addresses and identities idle for a day (user names are
/// kept, as an account's own counter is).
pub async fn purge(app: &App) -> Result<u64, dayi_store::StoreError> {
    let mut tx = app.db.begin().await?;
    let n = dayi_store::auth::purge_failures(&mut tx, now_micros() - IDENTITY_WINDOW).await?;
    tx.commit().await?;
    Ok(n)
}
