//! Lab results (检验): the catalogue in force, specimens from the worklist
//! to the analyzer, results entered or received from analyzers over MLLP,
//! verification by a second person, critical-value alerts, and the results
//! as doctors and patients see them.

pub mod alert;
pub mod analyzer;
mod batch;
pub mod mllp;
pub mod query;
pub mod result;
pub mod specimen;

use std::sync::Arc;

use dayi_core::lab::LabCatalog;
use dayi_core::timefmt::{CST, to_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::{App, policy};

pub const CATALOG_KEY: &str = "lab.catalog";
const SHIPPED: &str = include_str!("../../../../catalog/lab.toml");

/// The lab catalogue in force: the organisation's own (`lab.catalog`, dated)
/// or the shipped one; parsed once and cached with the policy values.
pub async fn catalog(app: &App, org_id: Uuid) -> Result<Arc<LabCatalog>, DomainError> {
    policy::parsed(app, org_id, CATALOG_KEY, |own| {
        let c: LabCatalog = match own {
            Some(v) => serde_json::from_value(v).map_err(|e| crate::internal(format!("lab.catalog: {e}")))?,
            None => toml::from_str(SHIPPED).map_err(|e| crate::internal(format!("catalog/lab.toml: {e}")))?,
        };
        c.check()?;
        Ok(c)
    })
    .await
}

/// Midnight of today, Beijing time, as an instant.
fn today_start() -> i64 {
    to_micros(today_cst().midnight().assume_offset(CST))
}

/// The patient's sex code and age in years, for reference ranges.
async fn sex_age(app: &App, org_id: Uuid, patient_id: Uuid) -> Result<(String, i64), DomainError> {
    sex_age_of(&crate::patient::load(app, org_id, patient_id).await?)
}

fn sex_age_of(p: &dayi_store::patient::Patient) -> Result<(String, i64), DomainError> {
    let birth = time::Date::parse(&p.birth_date, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| DomainError::new(ErrorCode::PatientUnknown))?;
    Ok((p.sex.clone(), i64::from(dayi_core::patient::age_on(birth, today_cst()))))
}

/// Where parsed results go. The MLLP listener hands over the ORU^R01
/// messages it has in hand (one, or several from an analyzer that sends
/// ahead of its ACKs) and answers each with its verdict; the lab capability
/// stores the results against the specimen found by barcode (`Order::barcode`).
pub trait OruSink: Send + Sync + 'static {
    /// Stores the messages' results; one verdict per message, in order.
    /// Ok = AA; Err(e) = AE or AR by the error's kind
    /// (`dayi_core::hl7::AckCode::for_error`). A message refused stores nothing.
    fn accept<'a>(
        &'a self,
        peer: &'a str,
        msgs: Vec<dayi_core::hl7::Oru>,
    ) -> BoxFuture<'a, Vec<Result<mllp::Accepted, dayi_core::DomainError>>>;
}
