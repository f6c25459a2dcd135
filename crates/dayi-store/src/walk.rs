//! Walks: every record of a table, a page at a time in key order, each page
//! starting after the last key of the page before (keyset paging). A page
//! is one range read of an index that leads with `org_id`, however far the
//! walk has gone, and a record added meanwhile is met once, when the walk
//! reaches its key (ids are UUIDv7, so new records come last).

use uuid::Uuid;

/// Where a page starts: at the beginning, or after the row with this key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Start,
    Id(Uuid),
    /// A key of two columns, e.g. (visit, diagnosis number).
    Pair(Uuid, i64),
}

/// The page asked for: where it starts, how many rows, and whether to count
/// every row the walk covers (a scan of the index, so only when asked).
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub after: After,
    pub limit: i64,
    pub count: bool,
}

/// One page of a walk: its rows, whether more follow, and the count if asked.
#[derive(Debug, Clone)]
pub struct Walk<T> {
    pub total: Option<i64>,
    pub rows: Vec<T>,
    pub more: bool,
}

impl<T> Walk<T> {
    pub fn with_rows<U>(self, rows: Vec<U>) -> Walk<U> {
        Walk { total: self.total, rows, more: self.more }
    }
}

/// ` AND ({key}) > (…)` for a page that starts after a key.
macro_rules! push_after {
    ($qb:expr, $key:literal, $after:expr) => {
        match $after {
            $crate::walk::After::Start => {}
            $crate::walk::After::Id(id) => {
                $qb.push(concat!(" AND ", $key, " > ")).arg(id);
            }
            $crate::walk::After::Pair(a, b) => {
                $qb.push(concat!(" AND (", $key, ") > (")).arg(a).push(", ").arg(b).push(")");
            }
        }
    };
}
pub(crate) use push_after;

/// One page of a walk: `COUNT(*)` under the `$where` macro when asked, then
/// up to `limit` rows of `$cols` after the step's key in `$key` order (one
/// more is read to learn whether another page follows).
macro_rules! walked {
    ($db:expr, $org:expr, $f:expr, $step:expr, $where:ident, $cols:ident, $key:literal, $T:ty) => {{
        let step: &$crate::walk::Step = $step;
        let mut total = None;
        if step.count {
            let mut q = $crate::fetch::Sql::new("SELECT COUNT(*)");
            $where!(q, $org, $f);
            total = Some($db.report_scalar::<i64>(&q.text, &q.args).await?);
        }
        let mut rows: Vec<$T> = vec![];
        if step.limit > 0 {
            let mut q = $crate::fetch::Sql::new(concat!("SELECT ", $cols!()));
            $where!(q, $org, $f);
            $crate::walk::push_after!(q, $key, step.after);
            q.push(concat!(" ORDER BY ", $key, " LIMIT ")).arg(step.limit + 1);
            rows = $db.all::<$T>(&q.text, &q.args).await?;
        }
        let more = rows.len() as i64 > step.limit;
        rows.truncate(step.limit.max(0) as usize);
        Ok($crate::walk::Walk { total, rows, more })
    }};
}
pub(crate) use walked;
