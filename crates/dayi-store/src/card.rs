//! The card-use log (用卡记录): each scan of a patient's code at a station,
//! which the electronic health card's rules ask a hospital to keep.

use sqlx::FromRow;
use uuid::Uuid;

use crate::{Db, Result, Tx, args};

/// One use of a code at a station (用卡记录).
#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct CardUse {
    pub org_id: Uuid,
    pub id: Uuid,
    pub at: i64,
    pub patient_id: Uuid,
    pub code_kind: String,
    pub step: String,
    pub station: String,
    pub staff_id: Option<Uuid>,
    /// Staff acted for the patient (printed card, elderly without a phone).
    pub on_behalf: bool,
}

crate::lite_row!(CardUse { org_id, id, at, patient_id, code_kind, step, station, staff_id, on_behalf });

pub async fn log_use(tx: &mut Tx, u: &CardUse) -> Result<()> {
    let sql = "INSERT INTO card_use (org_id, id, at, patient_id, code_kind, step, station, staff_id, on_behalf) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    tx.execute(
        sql,
        args![u.org_id, u.id, u.at, u.patient_id, &u.code_kind, &u.step, &u.station, u.staff_id, u.on_behalf],
    )
    .await?;
    Ok(())
}

pub async fn uses(db: &Db, org_id: Uuid, patient_id: Uuid, limit: i64) -> Result<Vec<CardUse>> {
    let sql = "SELECT org_id, id, at, patient_id, code_kind, step, station, staff_id, on_behalf FROM card_use \
               WHERE org_id = $1 AND patient_id = $2 ORDER BY at DESC LIMIT $3";
    db.all::<CardUse>(sql, args![org_id, patient_id, limit]).await
}
