//! The pieces of a search's `WHERE` clause that the searches share: a
//! column in a list, and a column in a sub-select of another table's rows
//! (a lab result of the filter's visits, an order of the filter's patients).

/// ` AND {col} IN (…)` when the list is set.
macro_rules! push_in {
    ($qb:expr, $col:literal, $list:expr) => {
        if let Some(list) = $list {
            $qb.push(concat!(" AND ", $col, " IN (")).list(list.iter().cloned()).push(")");
        }
    };
}

/// ` AND {col} IN (SELECT id FROM {table} WHERE org_id = … AND {key} IN (…))`
/// when the list is set.
macro_rules! push_sub {
    ($qb:expr, $col:literal, $table:literal, $key:literal, $org:expr, $list:expr) => {
        if let Some(list) = $list {
            $qb.push(concat!(" AND ", $col, " IN (SELECT id FROM ", $table, " WHERE org_id = ")).arg($org);
            $qb.push(concat!(" AND ", $key, " IN (")).list(list.iter().cloned()).push("))");
        }
    };
}

pub(crate) use {push_in, push_sub};
