//! Counts over a range of specimen barcodes, for checking afterwards what a
//! batch of tubes left in the database (the load generator's lab checks).

use uuid::Uuid;

use crate::{Db, Result, args};

/// What is stored for the specimens whose barcodes lie in one range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BarcodeTally {
    /// Result rows of every version.
    pub results: i64,
    /// Specimens received and not yet anything further.
    pub received: i64,
    /// Tests resulted or verified.
    pub resulted: i64,
    /// (order, item) pairs stored more than once.
    pub repeated: i64,
}

// `lab_result CROSS JOIN specimen` keeps the results outer on SQLite, which
// has no statistics to choose the order by and otherwise scanned every
// result for each specimen (seven minutes for 20,000 tubes).
const RESULTS: &str = "SELECT COUNT(*) FROM lab_result r CROSS JOIN specimen s \
                       WHERE r.org_id = $1 AND s.org_id = r.org_id AND s.id = r.specimen_id \
                       AND s.barcode >= $2 AND s.barcode <= $3";
const RECEIVED: &str = "SELECT COUNT(*) FROM specimen WHERE org_id = $1 AND barcode >= $2 AND barcode <= $3 \
                        AND status = 'received'";
const RESULTED: &str = "SELECT COUNT(*) FROM lab_test t JOIN specimen s ON s.org_id = t.org_id AND s.id = t.specimen_id \
                        WHERE t.org_id = $1 AND s.barcode >= $2 AND s.barcode <= $3 \
                        AND t.status IN ('resulted', 'verified')";
const REPEATED: &str = "SELECT COUNT(*) FROM (SELECT r.order_id FROM lab_result r CROSS JOIN specimen s \
                        WHERE r.org_id = $1 AND s.org_id = r.org_id AND s.id = r.specimen_id \
                        AND s.barcode >= $2 AND s.barcode <= $3 \
                        GROUP BY r.order_id, r.item_code HAVING COUNT(*) > 1) t";

/// Counts for the org's specimens with `first <= barcode <= last` (text
/// order), each read on its own (not one snapshot).
pub async fn of_barcodes(db: &Db, org_id: Uuid, first: &str, last: &str) -> Result<BarcodeTally> {
    let one = |sql: &'static str| async move { db.report_scalar::<i64>(sql, args![org_id, first, last]).await };
    Ok(BarcodeTally {
        results: one(RESULTS).await?,
        received: one(RECEIVED).await?,
        resulted: one(RESULTED).await?,
        repeated: one(REPEATED).await?,
    })
}
