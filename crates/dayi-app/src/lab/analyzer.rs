//! The analyzers' side of the lab: an ORU^R01 received over MLLP becomes
//! results of the specimen its barcode names, stored as if entered by the
//! instrument (`hl7:<sending application>`), so any technician may verify them.

use std::collections::BTreeMap;

use dayi_core::hl7::{Oru, Value};
use dayi_core::security::Roles;
use dayi_core::{DomainError, ErrorCode};
use futures::future::BoxFuture;
use uuid::Uuid;

use super::OruSink;
use super::batch::Batch;
use super::mllp::Accepted;
use super::result::{Entry, Reported};
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
/// pipelining analyzer has sent so far); a bad one is refused alone. Should
/// the write fail, each message is tried again in its own transaction.
async fn store_all(app: &App, org_id: Uuid, peer: &str, msgs: &[Oru]) -> Vec<Result<Accepted, DomainError>> {
    match store_together(app, org_id, peer, msgs).await {
        Ok(verdicts) => verdicts,
        Err(e) if msgs.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut verdicts = Vec::with_capacity(msgs.len());
            for m in msgs {
                verdicts.extend(Box::pin(store_all(app, org_id, peer, std::slice::from_ref(m))).await);
            }
            verdicts
        }
    }
}

async fn store_together(
    app: &App,
    org_id: Uuid,
    peer: &str,
    msgs: &[Oru],
) -> Result<Vec<Result<Accepted, DomainError>>, DomainError> {
    let barcodes: Vec<&str> =
        msgs.iter().flat_map(|m| m.orders.iter().flat_map(|o| o.barcodes().map(|(b, _)| b))).collect();
    let mut tx = app.db.begin().await.or_internal()?;
    let mut batch = Batch::load(app, &mut tx, org_id, &barcodes).await?;
    let verdicts = msgs.iter().map(|m| store(&mut batch, org_id, peer, m)).collect();
    batch.write(&mut tx).await?;
    tx.commit().await.or_internal()?;
    Ok(verdicts)
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

/// Checks one message's results into the batch: each order's tube found by
/// its barcode (SPM-2, OBR-3, OBR-2), all of them kept or none.
fn store(batch: &mut Batch, org_id: Uuid, peer: &str, msg: &Oru) -> Result<Accepted, DomainError> {
    let actor = instrument(org_id, &msg.header.sending_application.namespace_id, peer);
    let mut by_barcode: BTreeMap<String, Vec<Reported>> = BTreeMap::new();
    for order in &msg.orders {
        let found = order.barcodes().find_map(|(b, _)| batch.specimen(b));
        let barcode = match (found, order.barcode()) {
            (Some(s), _) => s.barcode.clone(),
            (None, Some((b, _))) => return Err(DomainError::with(ErrorCode::Hl7BarcodeUnknown, [b])),
            (None, None) => return Err(DomainError::new(ErrorCode::Hl7BarcodeMissing)),
        };
        let lines = by_barcode.entry(barcode).or_default();
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
    let entries: Vec<Entry> = by_barcode
        .into_iter()
        .filter(|(_, results)| !results.is_empty())
        .map(|(barcode, results)| Entry { barcode, results, reason: String::new() })
        .collect();
    let n: usize = batch.add(&actor, &entries, &source)?.iter().map(|s| s.results).sum();
    Ok(Accepted { text: format!("已接收 {n} 项结果") })
}
