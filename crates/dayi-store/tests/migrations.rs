//! The two migration trees are rendered from `migrations/source` by
//! `dayi_store::dialect::render`, and released files never change.
//!
//! To add or change a migration, edit `migrations/source/NNNN_name.sql`, run
//! the command in `REGENERATE` and commit the source and both rendered files.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use dayi_store::dialect::{Dialect, render};

const REGENERATE: &str = "DAYI_WRITE_MIGRATIONS=1 cargo test -p dayi-store --test migrations";

/// The first 16 hex digits of the SHA-384 sqlx stores for each released
/// migration: (version, SQLite, PostgreSQL). Databases in service hold these,
/// and sqlx refuses to start on one whose applied file has changed. Add a row
/// when a migration ships.
const RELEASED: [(i64, &str, &str); 12] = [
    (1, "00c0e8e8b4b33661", "f7e33839c1a203c2"),
    (2, "f4898262e1803c0f", "fd4f03c898d06b96"),
    (3, "1e2a13a4ccd1dc7c", "9b83612700f13a10"),
    (4, "6cbea5c1deff4f3d", "922fe59b21a1b0de"),
    (5, "3ef8be95b7552f34", "d3eadb06c8dff616"),
    (6, "853c3ef5505982b9", "7a3c9078140e7b8a"),
    (7, "f46e46ee9e6ab1bf", "495855ecee8593a6"),
    (8, "bb32803781b7bbcb", "bb32803781b7bbcb"),
    (9, "e9e71c90261e3772", "b89b88b8f8c2dfec"),
    (10, "da9ffff8fd91e59e", "bebf92776f5dad4e"),
    (11, "a49416f7b7831c6a", "e3a30808851dcc52"),
    (12, "0700d6314cc6b9d0", "b8d54e6c9d64fe94"),
];

fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(name)
}

/// Every file name in a directory (not only `.sql`: a stray file is a mistake too).
fn file_names(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").file_name().into_string().expect("UTF-8 file name"))
        .collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn writing() -> bool {
    std::env::var("DAYI_WRITE_MIGRATIONS").is_ok_and(|v| v == "1")
}

/// Writes each rendered file that is missing or differs.
fn write_tree(dialect: Dialect, sources: &BTreeSet<String>) {
    for name in sources {
        let want = render(&read(&tree("source").join(name)), dialect);
        let path = tree(dialect.name()).join(name);
        if fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
            fs::write(&path, want).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

fn assert_same_names(dialect: Dialect, sources: &BTreeSet<String>) {
    let names = file_names(&tree(dialect.name()));
    let d = dialect.name();
    let missing: Vec<_> = sources.difference(&names).collect();
    assert!(missing.is_empty(), "migrations/{d} lacks {missing:?}; run: {REGENERATE}");
    let extra: Vec<_> = names.difference(sources).collect();
    assert!(
        extra.is_empty(),
        "migrations/{d} has {extra:?} with no file of that name in migrations/source: \
         write the source (or delete the file), then run: {REGENERATE}"
    );
}

fn assert_rendered(dialect: Dialect, sources: &BTreeSet<String>) {
    let d = dialect.name();
    let stale: Vec<_> = sources
        .iter()
        .filter(|name| render(&read(&tree("source").join(name)), dialect) != read(&tree(d).join(name)))
        .collect();
    assert!(stale.is_empty(), "migrations/{d}: {stale:?} differ from their source rendered; run: {REGENERATE}");
}

#[test]
fn each_tree_is_its_rendered_source() {
    let sources = file_names(&tree("source"));
    assert!(sources.len() >= RELEASED.len(), "migrations/source holds {sources:?}");
    for dialect in Dialect::ALL {
        // Written first and then checked like any other run, so the write is proven too.
        if writing() {
            write_tree(dialect, &sources);
        }
        assert_same_names(dialect, &sources);
        assert_rendered(dialect, &sources);
    }
}

fn hex_prefix(checksum: &[u8]) -> String {
    checksum.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn released_migrations_keep_their_checksums() {
    for dialect in Dialect::ALL {
        // The checksums as sqlx computes them when it applies the tree.
        let migrator = sqlx::migrate::Migrator::new(tree(dialect.name())).await.expect("read the migration tree");
        for (version, sqlite, postgres) in RELEASED {
            let pinned = if dialect == Dialect::Sqlite { sqlite } else { postgres };
            let m = migrator.iter().find(|m| m.version == version);
            let m = m.unwrap_or_else(|| {
                panic!("released migration {version} is missing from migrations/{}", dialect.name())
            });
            assert_eq!(
                hex_prefix(&m.checksum),
                pinned,
                "migrations/{} {version:04} is released, so databases in service would refuse it changed: \
                 undo the edit to its source, run {REGENERATE}, and make the change in a new migration",
                dialect.name()
            );
        }
    }
}
