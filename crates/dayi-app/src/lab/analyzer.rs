//! The analyzers' side of the lab: an ORU^R01 received over MLLP becomes
//! results of the specimen its barcode names, stored as if entered by the
//! instrument (`hl7:<sending application>`), so any technician may verify them.

use std::collections::BTreeMap;

use dayi_core::hl7::{Oru, Value};
use dayi_core::security::Roles;
use dayi_core::{DomainError, ErrorCode};
use dayi_store::Tx;
use dayi_store::lab::Specimen;
use futures::future::BoxFuture;
use uuid::Uuid;

use super::OruSink;
use super::mllp::Accepted;
use super::result::{self, Entry, Reported};
use crate::{Actor, App, OrInternal, Via};

/// Stores analyzers' results for one organisation, named by its code (found
/// at the first message, so the listener may start before the organisation exists).
pub struct LabSink {
    app: App,
    org_code: String,
    org_id: tokio::sync::OnceCell<Uuid>,
}

impl LabSink {
    pub fn new(app: App, org_code: &str) -> LabSink {
        LabSink { app, org_code: org_code.to_string(), org_id: Default::default() }
    }

    async fn org_id(&self) -> Result<Uuid, DomainError> {
        let id = self
            .org_id
            .get_or_try_init(|| async {
                crate::tenancy::by_code(&self.app, &self.org_code)
                    .await?
                    .map(|o| o.org_id)
                    .ok_or_else(|| DomainError::new(ErrorCode::OrgUnknown))
            })
            .await?;
        Ok(*id)
    }
}

impl OruSink for LabSink {
    fn accept<'a>(&'a self, peer: &'a str, msgs: Vec<Oru>) -> BoxFuture<'a, Vec<Result<Accepted, DomainError>>> {
        Box::pin(async move {
            match self.org_id().await {
                Ok(org_id) => store_all(&self.app, org_id, peer, &msgs).await,
                Err(e) => msgs.iter().map(|_| Err(e.clone())).collect(),
            }
        })
    }
}

/// Stores the messages in one transaction (one commit for all that a
/// pipelining analyzer has sent so far), each behind a savepoint so a bad
/// one is refused alone. Nothing is stored if the commit fails.
async fn store_all(app: &App, org_id: Uuid, peer: &str, msgs: &[Oru]) -> Vec<Result<Accepted, DomainError>> {
    let failed = |e: DomainError| msgs.iter().map(|_| Err(e.clone())).collect();
    let mut tx = match app.db.begin().await.or_internal() {
        Ok(tx) => tx,
        Err(e) => return failed(e),
    };
    let mut verdicts = Vec::with_capacity(msgs.len());
    for msg in msgs {
        if let Err(e) = tx.savepoint("oru").await.or_internal() {
            return failed(e);
        }
        let verdict = store(app, &mut tx, org_id, peer, msg).await;
        let mark = if verdict.is_ok() { tx.release("oru").await } else { tx.rollback_to("oru").await };
        if let Err(e) = mark.or_internal() {
            return failed(e);
        }
        verdicts.push(verdict);
    }
    match tx.commit().await.or_internal() {
        Ok(()) => verdicts,
        Err(e) => failed(e),
    }
}

/// The instrument as the actor of what it stores (audited under its name).
fn instrument(org_id: Uuid, app_name: &str, peer: &str) -> Actor {
    let name = if app_name.is_empty() { "analyzer" } else { app_name };
    Actor {
        org_id,
        staff_id: Uuid::nil(),
        username: format!("hl7:{name}"),
        name: format!("检验仪器 {name}"),
        roles: Roles::default(),
        ip: peer.to_string(),
        via: Via::Cli,
    }
}

async fn store(app: &App, tx: &mut Tx, org_id: Uuid, peer: &str, msg: &Oru) -> Result<Accepted, DomainError> {
    let actor = instrument(org_id, &msg.header.sending_application.namespace_id, peer);
    // Every order's tube is found first, so an unknown barcode stores nothing.
    let mut by_barcode: BTreeMap<String, (Specimen, Vec<Reported>)> = BTreeMap::new();
    for order in &msg.orders {
        let mut found = None;
        for (code, _) in order.barcodes() {
            found = dayi_store::lab::by_barcode_tx(tx, org_id, code).await.or_internal()?;
            if found.is_some() {
                break;
            }
        }
        let specimen = match (found, order.barcode()) {
            (Some(s), _) => s,
            (None, Some((b, _))) => return Err(DomainError::with(ErrorCode::Hl7BarcodeUnknown, [b])),
            (None, None) => return Err(DomainError::new(ErrorCode::Hl7BarcodeMissing)),
        };
        let (_, lines) = by_barcode.entry(specimen.barcode.clone()).or_insert_with(|| (specimen, vec![]));
        for o in &order.observations {
            let value = match &o.value {
                Some(Value::Numeric(s)) | Some(Value::Text(s)) => s.clone(),
                Some(Value::Coded(c)) => {
                    if c.text.is_empty() {
                        c.code.clone()
                    } else {
                        c.text.clone()
                    }
                }
                // Status X (cannot be obtained): nothing to store.
                None => continue,
            };
            lines.push(Reported { item: o.code.code.clone(), value, unit: o.units.clone() });
        }
    }
    let source = format!("hl7:{}", msg.header.sending_application.namespace_id);
    let mut n = 0;
    for (barcode, (specimen, results)) in by_barcode {
        if results.is_empty() {
            continue;
        }
        let e = Entry { barcode, results, reason: String::new() };
        n += result::enter_in(app, tx, &actor, &specimen, &e, &source).await?.results;
    }
    Ok(Accepted { text: format!("已接收 {n} 项结果") })
}
