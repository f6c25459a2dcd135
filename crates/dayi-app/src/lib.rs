//! Dayi use cases: one function per user action. Each checks the actor's
//! permission, runs in one transaction, and writes the audit log.

pub mod anchor;
pub mod audit;
pub mod auth;
pub mod batch;
pub mod billing;
pub mod booking;
pub mod card;
pub mod catalog;
pub mod chronic;
pub mod demo;
pub mod directory;
pub mod flight;
pub mod import;
pub mod lab;
pub mod patient;
pub mod pay;
pub mod policy;
pub mod portal;
pub mod queue;
pub mod roster;
pub mod sms;
pub mod staff;
pub mod tenancy;
pub mod throttle;
pub mod triage;
pub mod visit;

use std::sync::Arc;

use dayi_core::security::{Perm, Roles};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Db;
use uuid::Uuid;

/// Security settings (the `[security]` section of the configuration).
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// Sign out after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// Lock an account after this many failed sign-ins in a row.
    pub max_failed_logins: u32,
    /// How long a locked account stays locked.
    pub lockout_minutes: u32,
    /// Refuse sign-ins from an address after this many failures (staff and
    /// portal together) within `lockout_minutes`, for `lockout_minutes`.
    pub max_failed_logins_per_ip: u32,
    pub password_min_len: usize,
    /// The audit purge refuses entries younger than this (网络安全法: at least 6 months).
    pub audit_retention_days: u32,
    /// Name shown in authenticator apps.
    pub totp_issuer: String,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            session_idle_minutes: 30,
            max_failed_logins: 5,
            lockout_minutes: 15,
            max_failed_logins_per_ip: 30,
            password_min_len: 8,
            audit_retention_days: 180,
            totp_issuer: "大医 Dayi".into(),
        }
    }
}

/// The application: database, settings and the audit writer, shared by all requests.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub security: Arc<SecurityConfig>,
    pub audit: audit::AuditSink,
    pub policy: policy::PolicyCache,
    pub card_keys: card::KeyCache,
    /// Writes new patient records in group-committed batches.
    pub intake: patient::intake::Intake,
    /// Decodes insurance vouchers at the stations; set by the insurance capability.
    pub voucher: Option<Arc<dyn card::VoucherDecoder>>,
    /// Portal sessions resolved in the last seconds.
    pub portal_sessions: portal::SessionCache,
    /// API tokens resolved in the last seconds.
    pub tokens: auth::TokenCache,
    /// Organisations read so far (their rows never change once written).
    pub orgs: tenancy::OrgCache,
    /// Decides bookings in order and group-commits them.
    pub desk: booking::desk::Desk,
    /// Live queue boards for screens, panels and phones.
    pub queue: queue::Hub,
    /// Sends text messages; the built-in message log unless configured.
    pub sms: Arc<dyn sms::SmsGateway>,
    /// The catalogues in force, per organisation.
    pub catalog: catalog::Cache,
    /// Online payments: the built-in local provider unless WeChat Pay is configured.
    pub pay: billing::Pay,
    /// Request keys of payments and refunds in progress.
    pub flights: flight::Flights,
}

impl App {
    pub fn new(db: Db, security: SecurityConfig) -> Self {
        let audit = audit::AuditSink::start(db.clone());
        let intake = patient::intake::Intake::start(db.clone());
        let desk = booking::desk::Desk::start(db.clone());
        let app = Self {
            db,
            security: Arc::new(security),
            audit,
            policy: Default::default(),
            card_keys: Default::default(),
            intake,
            desk,
            queue: Default::default(),
            portal_sessions: Default::default(),
            tokens: Default::default(),
            orgs: Default::default(),
            voucher: None,
            sms: Arc::new(sms::MessageLog),
            catalog: Default::default(),
            pay: Default::default(),
            flights: Default::default(),
        };
        tokio::spawn(auth::purge_sessions_forever(app.clone()));
        tokio::spawn(booking::sweep_forever(app.clone()));
        app
    }
}

/// How the actor proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session,
    Token,
    /// The command line on the server itself.
    Cli,
    /// A patient signed in to the portal; `Actor::staff_id` then holds the patient's id.
    Portal,
}

/// Who is acting, in which organisation, from where.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: Uuid,
    pub staff_id: Uuid,
    pub username: String,
    pub name: String,
    pub roles: Roles,
    pub ip: String,
    pub via: Via,
}

impl Actor {
    /// Refuses and audits the attempt when the actor's roles lack `perm`.
    pub async fn require(&self, app: &App, perm: Perm) -> Result<(), DomainError> {
        if self.can(perm) {
            return Ok(());
        }
        app.audit
            .record(self.entry("security.denied", "permission", perm.code(), None, dayi_core::audit::DENIED, ""))
            .await;
        Err(DomainError::with(ErrorCode::Forbidden, [format!("{} {}", perm.zh(), perm.code())]))
    }

    /// The server's own command line is trusted with everything.
    pub fn can(&self, perm: Perm) -> bool {
        self.via == Via::Cli || self.roles.allows(perm)
    }

    /// The command line acting on an organisation (`dayi user …`).
    pub fn cli(org_id: Uuid) -> Self {
        Self {
            org_id,
            staff_id: Uuid::nil(),
            username: "cli".into(),
            name: "命令行".into(),
            roles: Roles::default(),
            ip: "local".into(),
            via: Via::Cli,
        }
    }

    /// A patient signed in to the portal, acting for themselves or their family.
    pub fn portal(org_id: Uuid, patient_id: Uuid, hospital_no: &str, ip: &str) -> Self {
        Self {
            org_id,
            staff_id: patient_id,
            username: format!("portal:{hospital_no}"),
            name: "患者".into(),
            roles: Roles::default(),
            ip: ip.into(),
            via: Via::Portal,
        }
    }

    /// An audit entry by this actor.
    pub fn entry(
        &self,
        action: &str,
        entity: &str,
        entity_id: &str,
        patient_id: Option<Uuid>,
        outcome: &str,
        detail: &str,
    ) -> dayi_core::audit::Entry {
        dayi_core::audit::Entry {
            org_id: self.org_id,
            seq: 0,
            at: dayi_core::timefmt::now_micros(),
            actor_id: (!self.staff_id.is_nil()).then_some(self.staff_id),
            actor_name: self.username.clone(),
            action: action.into(),
            entity: entity.into(),
            entity_id: entity_id.into(),
            patient_id,
            ip: self.ip.clone(),
            outcome: outcome.into(),
            detail: detail.into(),
        }
    }
}

/// Logs an unexpected failure and gives the user a reference to quote.
pub fn internal(e: impl std::fmt::Display) -> DomainError {
    let reference = Uuid::now_v7().simple().to_string()[20..].to_string();
    tracing::error!(reference = %reference, error = %e, "internal error");
    DomainError::with(ErrorCode::Internal, [reference])
}

/// `?`-friendly conversion of storage errors.
pub trait OrInternal<T> {
    fn or_internal(self) -> Result<T, DomainError>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self) -> Result<T, DomainError> {
        self.map_err(internal)
    }
}

pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The records use cases hand to the layer above (plain data from the store).
pub mod records {
    pub use dayi_store::audit::{Filter as AuditFilter, Row as AuditRow, VerifyReport};
    pub use dayi_store::auth::ApiToken;
    pub use dayi_store::billing::{Closing, Payment, Refund};
    pub use dayi_store::booking::{Booking, Charge};
    pub use dayi_store::card::CardUse;
    pub use dayi_store::chronic::{
        Enrolment as ChronicEnrolment, Followup as ChronicFollowup, Screening as ChronicScreening,
    };
    pub use dayi_store::lab::{LabAlert, LabResult, LabTest, Specimen};
    pub use dayi_store::message::{Message, Notification};
    pub use dayi_store::patient::{Merge, Patient};
    pub use dayi_store::queue::Entry as QueueEntry;
    pub use dayi_store::roster::{Session, Slot, Template};
    pub use dayi_store::staff::Staff;
    pub use dayi_store::tenancy::{Dept, Org};
    pub use dayi_store::triage::Triage;
    pub use dayi_store::visit::{Certificate, Diagnosis, Order, Template as VisitTemplate, Visit};
}

/// True when the database answers (for `/healthz`).
pub async fn healthy(app: &App) -> bool {
    dayi_store::tenancy::list_orgs(&app.db).await.is_ok()
}
