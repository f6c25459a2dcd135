//! Pure domain of Dayi: types parsed at the boundary, rules and state machines.
//! No I/O and no async here; everything is unit-tested.

pub mod anchor;
pub mod audit;
pub mod billing;
pub mod booking;
pub mod card;
pub mod catalog;
pub mod chronic;
pub mod error;
pub mod hl7;
pub mod identity;
pub mod lab;
pub mod lenient;
pub mod mask;
pub mod patient;
pub mod queue;
pub mod roster;
pub mod security;
pub mod tenancy;
pub mod timefmt;
pub mod triage;
pub mod visit;

pub use error::{DomainError, ErrorCode};
