//! One migration source, two dialects.
//!
//! Each migration is written once, in PostgreSQL, under `migrations/source/`;
//! `render` derives the file each backend applies. The two trees are checked
//! in (sqlx stores a checksum of every applied file, so they must never change
//! once released) and `tests/migrations.rs` proves they are what `render` makes.
//!
//! The rules, in full:
//!
//! - A line starting `--sqlite:` or `--postgres:` goes only to that dialect,
//!   as written after the prefix (one space after the colon is dropped), with
//!   no rule below applied to it.
//! - Every other line goes to both. PostgreSQL gets it unchanged; SQLite gets
//!   it with the type mapping, on whole upper-case words anywhere in the line,
//!   comments included: `UUID` and `BYTEA` → `BLOB`, `BIGINT` and `BOOLEAN` →
//!   `INTEGER`; ` COLLATE "C"` is dropped (SQLite's default collation already
//!   compares bytes); and a line that is exactly `);` closing a `CREATE TABLE`
//!   begun on an earlier line becomes `) STRICT;`.

/// The database a migration file is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

    /// The name of its migration tree, and of its line directive (`--sqlite:`).
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// PostgreSQL types and the SQLite types that store the same values.
const SQLITE_TYPES: [(&str, &str); 4] =
    [("UUID", "BLOB"), ("BYTEA", "BLOB"), ("BIGINT", "INTEGER"), ("BOOLEAN", "INTEGER")];

/// PostgreSQL's byte-order collation; SQLite's default (BINARY) is the same.
const COLLATE_C: &str = " COLLATE \"C\"";

/// The migration file `dialect` applies, from a source written in PostgreSQL.
pub fn render(source: &str, dialect: Dialect) -> String {
    let mut in_table = false;
    let mut out: Vec<String> = Vec::new();
    // Splitting on '\n' alone keeps every byte, the final newline included.
    for line in source.split('\n') {
        let rendered = match directive(line) {
            Some((d, text)) if d == dialect => text.to_string(),
            Some(_) => continue,
            None if dialect == Dialect::Sqlite => sqlite_line(line, in_table),
            None => line.to_string(),
        };
        in_table = still_in_table(&rendered, in_table);
        out.push(rendered);
    }
    out.join("\n")
}

/// The dialect a line is reserved for and its text, if it is a directive.
fn directive(line: &str) -> Option<(Dialect, &str)> {
    let rest = line.strip_prefix("--")?;
    Dialect::ALL.into_iter().find_map(|d| {
        let text = rest.strip_prefix(d.name())?.strip_prefix(':')?;
        Some((d, text.strip_prefix(' ').unwrap_or(text)))
    })
}

/// A shared line as SQLite gets it.
fn sqlite_line(line: &str, in_table: bool) -> String {
    if in_table && line == ");" {
        return ") STRICT;".to_string();
    }
    map_types(&line.replace(COLLATE_C, ""))
}

/// Whether the lines after `line` are still inside a `CREATE TABLE (…)`:
/// one opens on a line starting `CREATE TABLE` that does not end the
/// statement, and closes on the next line starting with `)`.
fn still_in_table(line: &str, in_table: bool) -> bool {
    if line.starts_with("CREATE TABLE") {
        return !line.trim_end().ends_with(';');
    }
    in_table && !line.starts_with(')')
}

/// Replaces each whole word that names a PostgreSQL type by its SQLite type;
/// `UUIDv7` or `bigint_col` are other words and stay.
fn map_types(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut word = String::new();
    for c in line.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            out.push_str(sqlite_type(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(sqlite_type(&word));
    out
}

fn sqlite_type(word: &str) -> &str {
    SQLITE_TYPES.iter().find(|(pg, _)| *pg == word).map_or(word, |(_, lite)| lite)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(source: &str) -> (String, String) {
        (render(source, Dialect::Sqlite), render(source, Dialect::Postgres))
    }

    #[test]
    fn postgres_gets_shared_lines_unchanged() {
        let src = "CREATE TABLE t (\n    id UUID NOT NULL,\n    name TEXT COLLATE \"C\" NOT NULL\n);\n";
        assert_eq!(render(src, Dialect::Postgres), src);
    }

    #[test]
    fn sqlite_maps_each_type() {
        let (lite, _) = both("a UUID, b BYTEA, c BIGINT, d BOOLEAN, e TEXT");
        assert_eq!(lite, "a BLOB, b BLOB, c INTEGER, d INTEGER, e TEXT");
    }

    #[test]
    fn sqlite_maps_whole_upper_case_words_only() {
        let (lite, _) = both("UUIDv7 bigint_ms uuid XBIGINT BOOLEAN_x CAST(x AS BIGINT)");
        assert_eq!(lite, "UUIDv7 bigint_ms uuid XBIGINT BOOLEAN_x CAST(x AS INTEGER)");
    }

    #[test]
    fn sqlite_maps_types_in_comments_too() {
        let (lite, _) = both("-- Instants are BIGINT microseconds.");
        assert_eq!(lite, "-- Instants are INTEGER microseconds.");
    }

    #[test]
    fn sqlite_drops_collate_c() {
        let (lite, pg) = both("    name TEXT COLLATE \"C\" NOT NULL,");
        assert_eq!(lite, "    name TEXT NOT NULL,");
        assert_eq!(pg, "    name TEXT COLLATE \"C\" NOT NULL,");
    }

    #[test]
    fn sqlite_tables_are_strict() {
        let (lite, pg) = both("CREATE TABLE t (\n    a BIGINT\n);\nCREATE INDEX t_ix ON t (a);\n");
        assert_eq!(lite, "CREATE TABLE t (\n    a INTEGER\n) STRICT;\nCREATE INDEX t_ix ON t (a);\n");
        assert_eq!(pg, "CREATE TABLE t (\n    a BIGINT\n);\nCREATE INDEX t_ix ON t (a);\n");
    }

    #[test]
    fn strict_only_closes_a_create_table() {
        // A multi-line statement after a one-line table is not a table body.
        let src = "CREATE TABLE t (a BIGINT);\nINSERT INTO t (a)\nVALUES (\n    1\n);\n";
        let lite = render(src, Dialect::Sqlite);
        assert_eq!(lite, "CREATE TABLE t (a INTEGER);\nINSERT INTO t (a)\nVALUES (\n    1\n);\n");
    }

    #[test]
    fn strict_waits_for_the_closing_line() {
        // Brackets inside the body do not end the table; only a line starting with one does.
        let src = "CREATE TABLE t (\n    a TEXT CHECK (a IN ('x')),\n    b TEXT\n);";
        assert_eq!(
            render(src, Dialect::Sqlite),
            "CREATE TABLE t (\n    a TEXT CHECK (a IN ('x')),\n    b TEXT\n) STRICT;"
        );
    }

    #[test]
    fn directives_go_to_one_dialect_as_written() {
        let src = "SELECT\n--postgres:     bool_or(c BOOLEAN)\n--sqlite:     MAX(c BOOLEAN)\nFROM t;";
        let (lite, pg) = both(src);
        assert_eq!(pg, "SELECT\n    bool_or(c BOOLEAN)\nFROM t;");
        // Written in SQLite already: the type mapping does not touch it.
        assert_eq!(lite, "SELECT\n    MAX(c BOOLEAN)\nFROM t;");
    }

    #[test]
    fn a_directive_can_add_a_line_or_a_blank_line() {
        let src = "A\n--sqlite: -- only here\n--postgres:\nB";
        let (lite, pg) = both(src);
        assert_eq!(lite, "A\n-- only here\nB");
        assert_eq!(pg, "A\n\nB");
    }

    #[test]
    fn other_comments_are_shared() {
        let src = "-- sqlite: a comment\n-- no-transaction\n--sqlite-ish\n";
        let (lite, pg) = both(src);
        assert_eq!(lite, src);
        assert_eq!(pg, src);
    }

    #[test]
    fn a_directive_closing_a_table_is_left_as_written() {
        let src = "CREATE TABLE t (\n    a TEXT\n--sqlite: ) WITHOUT ROWID;\n--postgres: );\nSELECT (\n1\n);";
        let (lite, pg) = both(src);
        assert_eq!(lite, "CREATE TABLE t (\n    a TEXT\n) WITHOUT ROWID;\nSELECT (\n1\n);");
        assert_eq!(pg, "CREATE TABLE t (\n    a TEXT\n);\nSELECT (\n1\n);");
    }

    #[test]
    fn every_byte_survives() {
        let src = "\n\nA  \t\r\n\n";
        assert_eq!(render(src, Dialect::Sqlite), src);
        assert_eq!(render(src, Dialect::Postgres), src);
    }
}
