//! Persistence for Dayi on SQLite (default, embedded) and PostgreSQL.
//!
//! One SQL text per query in the dialect both databases share (`$N`
//! parameters, `RETURNING`, `ON CONFLICT`); branches only where they truly
//! differ. Instants are `i64` microseconds since the epoch (UTC), ids UUIDv7,
//! money `i64` fen. Every table leads its keys with `org_id`.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod billing;
pub mod booking;
pub mod card;
pub mod catalog;
pub mod chronic;
pub mod db;
pub mod dialect;
pub mod fetch;
mod filter;
pub mod identifier;
pub mod lab;
pub mod lite;
pub mod message;
pub mod on;
pub mod outside;
pub mod patient;
pub mod portal;
pub mod queue;
pub mod roster;
pub mod schema;
pub mod setting;
pub mod staff;
pub mod tenancy;
pub mod triage;
pub mod visit;
pub mod walk;

pub use db::{Db, DbConfig, Tx};
pub use on::On;
/// The database error type, for callers that handle storage failures themselves.
pub use sqlx::Error as StoreError;

pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// True when the error is a unique-constraint violation (for "already exists" answers).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}
