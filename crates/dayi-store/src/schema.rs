//! Introspection of the migrated schema, so a test can prove SQLite and
//! PostgreSQL have the same tables, columns, keys and indexes.

use std::collections::BTreeMap;

use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// column name → nullable
    pub columns: BTreeMap<String, bool>,
    pub primary_key: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub table: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
    /// Named (explicitly created) indexes.
    pub indexes: BTreeMap<String, Index>,
}

pub async fn describe(db: &Db) -> Result<Schema> {
    let mut s = Schema::default();
    match db {
        Db::Sqlite { read: p, .. } => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
            )
            .fetch_all(p)
            .await?;
            for t in tables {
                let cols: Vec<(String, i64, i64)> =
                    sqlx::query_as("SELECT name, \"notnull\", pk FROM pragma_table_info($1)")
                        .bind(&t)
                        .fetch_all(p)
                        .await?;
                let mut table = Table::default();
                let mut pk: Vec<(i64, String)> = vec![];
                for (name, notnull, pkpos) in cols {
                    // SQLite lets a non-integer primary key hold NULL unless declared NOT NULL; we always declare it.
                    table.columns.insert(name.clone(), notnull == 0);
                    if pkpos > 0 {
                        pk.push((pkpos, name));
                    }
                }
                pk.sort();
                table.primary_key = pk.into_iter().map(|(_, n)| n).collect();
                let idx: Vec<(String, i64, String)> =
                    sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
                        .bind(&t)
                        .fetch_all(p)
                        .await?;
                for (name, unique, origin) in idx {
                    if origin != "c" {
                        continue; // primary-key and constraint indexes are compared through the table
                    }
                    let cols: Vec<(i64, String)> =
                        sqlx::query_as("SELECT seqno, name FROM pragma_index_info($1) ORDER BY seqno")
                            .bind(&name)
                            .fetch_all(p)
                            .await?;
                    s.indexes.insert(
                        name,
                        Index {
                            table: t.clone(),
                            columns: cols.into_iter().map(|(_, n)| n).collect(),
                            unique: unique != 0,
                        },
                    );
                }
                s.tables.insert(t, table);
            }
        }
        Db::Postgres(p) => {
            let cols: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
            )
            .fetch_all(p)
            .await?;
            for (t, c, nullable) in cols {
                s.tables.entry(t).or_default().columns.insert(c, nullable == "YES");
            }
            let pks: Vec<(String, String)> = sqlx::query_as(
                "SELECT tc.table_name::text, kcu.column_name::text FROM information_schema.table_constraints tc \
                 JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema \
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' ORDER BY tc.table_name, kcu.ordinal_position",
            )
            .fetch_all(p)
            .await?;
            for (t, c) in pks {
                if let Some(table) = s.tables.get_mut(&t) {
                    table.primary_key.push(c);
                }
            }
            let idx: Vec<(String, String, bool, Vec<String>)> = sqlx::query_as(
                "SELECT i.relname::text, t.relname::text, ix.indisunique, \
                        ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord) \
                              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord) \
                 FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = 'public' AND NOT ix.indisprimary AND t.relname <> '_sqlx_migrations'",
            )
            .fetch_all(p)
            .await?;
            for (name, table, unique, columns) in idx {
                s.indexes.insert(name, Index { table, columns, unique });
            }
        }
    }
    Ok(s)
}
