//! The catalogues in use: the files under `catalog/` (built into the
//! binary) are loaded once per organisation and file version as dated rows,
//! and an administrator's change is a new row from a day not in the past.
//! The rows in force today are held in memory per organisation, because
//! every order and every search reads them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dayi_core::catalog::{self, Class, DrugFacts, Item, Kind};
use dayi_core::security::Perm;
use dayi_core::timefmt::{now_micros, today_cst};
use dayi_core::{DomainError, ErrorCode};
use dayi_store::catalog::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Actor, App, OrInternal};

const MANIFEST: &str = include_str!("../../../catalog/catalog.toml");
/// The shipped files, by the name the manifest gives them.
const FILES: &[(&str, &str)] = &[
    ("diagnoses.csv", include_str!("../../../catalog/diagnoses.csv")),
    ("tcm_diagnoses.csv", include_str!("../../../catalog/tcm_diagnoses.csv")),
    ("charge_items.csv", include_str!("../../../catalog/charge_items.csv")),
    ("drugs.csv", include_str!("../../../catalog/drugs.csv")),
    ("tcm_techniques.csv", include_str!("../../../catalog/tcm_techniques.csv")),
];

#[derive(Debug, Deserialize)]
struct Manifest {
    file: Vec<FileEntry>,
}

/// One shipped file, as the manifest describes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FileEntry {
    pub path: String,
    pub kind: String,
    pub version: String,
    pub effective_from: String,
    pub source: String,
    #[serde(default)]
    pub note: String,
}

/// The shipped files and their parsed items.
pub fn shipped() -> Result<Vec<(FileEntry, Vec<Item>)>, DomainError> {
    let m: Manifest =
        toml::from_str(MANIFEST).map_err(|e| DomainError::with(ErrorCode::CatalogFile, [e.to_string()]))?;
    m.file
        .into_iter()
        .map(|f| {
            let kind =
                Kind::parse(&f.kind).ok_or_else(|| DomainError::with(ErrorCode::CatalogFile, [f.kind.clone()]))?;
            let text = FILES
                .iter()
                .find(|(p, _)| *p == f.path)
                .map(|(_, t)| *t)
                .ok_or_else(|| DomainError::with(ErrorCode::CatalogFile, [f.path.clone()]))?;
            let items = catalog::parse_csv(kind, text)
                .map_err(|e| DomainError::with(ErrorCode::CatalogFile, [format!("{}：{}", f.path, e.zh())]))?;
            Ok((f, items))
        })
        .collect()
}

/// The items in force today, for one organisation.
#[derive(Debug, Default)]
pub struct Catalog {
    pub day: String,
    items: Vec<Item>,
    active: Vec<bool>,
    by_code: HashMap<(Kind, String), usize>,
}

impl Catalog {
    /// An item in force and active.
    pub fn get(&self, kind: Kind, code: &str) -> Option<&Item> {
        self.by_code.get(&(kind, code.to_string())).filter(|i| self.active[**i]).map(|i| &self.items[*i])
    }

    /// Active items of the kinds that match the query, best first (code, then initials, then name).
    pub fn search(&self, kinds: &[Kind], q: &str, limit: usize) -> Vec<&Item> {
        let lower = q.trim().to_ascii_lowercase();
        let mut hits: Vec<(u8, &Item)> = self
            .items
            .iter()
            .zip(&self.active)
            .filter(|(i, a)| **a && kinds.contains(&i.kind) && catalog::matches(i, q))
            .map(|(i, _)| {
                let rank = if i.code.to_ascii_lowercase() == lower || i.name == q.trim() {
                    0
                } else if i.initials.starts_with(&lower) {
                    1
                } else {
                    2
                };
                (rank, i)
            })
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.code.cmp(&b.1.code)));
        hits.into_iter().take(limit).map(|(_, i)| i).collect()
    }
}

/// Catalogues in memory, per organisation and day.
#[derive(Clone, Default)]
pub struct Cache(Arc<Mutex<HashMap<Uuid, Arc<Catalog>>>>);

fn to_row(org_id: Uuid, item: &Item, from: &str, source: &str, active: bool, at: i64) -> Row {
    Row {
        org_id,
        kind: item.kind.code().into(),
        code: item.code.clone(),
        effective_from: from.into(),
        name: item.name.clone(),
        initials: item.initials.clone(),
        insurance_code: item.insurance_code.clone(),
        insurance_name: item.insurance_name.clone(),
        category: item.category.clone(),
        unit: item.unit.clone(),
        price_fen: item.price_fen,
        class: item.class.map(|c| c.code().into()),
        drug: item.drug.as_ref().map(|d| serde_json::to_string(d).unwrap_or_default()),
        active,
        source: source.into(),
        created_at: at,
    }
}

fn of_row(r: &Row) -> Option<Item> {
    Some(Item {
        kind: Kind::parse(&r.kind)?,
        code: r.code.clone(),
        name: r.name.clone(),
        initials: r.initials.clone(),
        insurance_code: r.insurance_code.clone(),
        insurance_name: r.insurance_name.clone(),
        category: r.category.clone(),
        unit: r.unit.clone(),
        price_fen: r.price_fen,
        class: r.class.as_deref().and_then(Class::parse),
        drug: r.drug.as_deref().and_then(|d| serde_json::from_str::<DrugFacts>(d).ok()),
    })
}

/// Loads every shipped file version the organisation does not have yet.
pub async fn load_shipped(app: &App, org_id: Uuid) -> Result<usize, DomainError> {
    let mut added = 0;
    for (f, items) in shipped()? {
        let source = format!("file:{}@{}", f.path, f.version);
        if dayi_store::catalog::count_from(&app.db, org_id, &source).await.or_internal()? > 0 {
            continue;
        }
        let at = now_micros();
        let rows: Vec<Row> = items.iter().map(|i| to_row(org_id, i, &f.effective_from, &source, true, at)).collect();
        let mut tx = app.db.begin().await.or_internal()?;
        dayi_store::catalog::insert(&mut tx, &rows).await.or_internal()?;
        let entry = crate::Actor::cli(org_id).entry(
            "catalog.load",
            "catalog",
            &source,
            None,
            dayi_core::audit::OK,
            &format!("{} 条", rows.len()),
        );
        dayi_store::audit::append(&mut tx, org_id, vec![entry]).await.or_internal()?;
        tx.commit().await.or_internal()?;
        added += rows.len();
    }
    if added > 0 {
        forget(app, org_id);
    }
    Ok(added)
}

/// The organisation's catalogue in force today (loading the shipped files on first use).
pub async fn current(app: &App, org_id: Uuid) -> Result<Arc<Catalog>, DomainError> {
    let day = today_cst().to_string();
    if let Some(c) = app.catalog.0.lock().unwrap_or_else(|e| e.into_inner()).get(&org_id)
        && c.day == day
    {
        return Ok(c.clone());
    }
    load_shipped(app, org_id).await?;
    let rows = dayi_store::catalog::in_force(&app.db, org_id, &day).await.or_internal()?;
    let mut c = Catalog { day, ..Default::default() };
    for r in &rows {
        if let Some(item) = of_row(r) {
            c.by_code.insert((item.kind, item.code.clone()), c.items.len());
            c.items.push(item);
            c.active.push(r.active);
        }
    }
    let c = Arc::new(c);
    app.catalog.0.lock().unwrap_or_else(|e| e.into_inner()).insert(org_id, c.clone());
    Ok(c)
}

pub fn forget(app: &App, org_id: Uuid) {
    app.catalog.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&org_id);
}

/// Who may look things up: doctors, cashiers and catalogue keepers.
async fn may_read(app: &App, actor: &Actor) -> Result<(), DomainError> {
    if [Perm::Clinical, Perm::Billing, Perm::Catalog].iter().any(|p| actor.can(*p)) {
        return Ok(());
    }
    actor.require(app, Perm::Clinical).await
}

/// The catalogue keepers' pages (reading is wider: clinicians, cashiers).
pub async fn require_keep(app: &App, actor: &Actor) -> Result<(), DomainError> {
    actor.require(app, Perm::Catalog).await
}

/// A search box: items of `kinds` matching `q`.
pub async fn search(app: &App, actor: &Actor, kinds: &[Kind], q: &str, limit: usize) -> Result<Vec<Item>, DomainError> {
    may_read(app, actor).await?;
    let c = current(app, actor.org_id).await?;
    Ok(c.search(kinds, q, limit.clamp(1, 100)).into_iter().cloned().collect())
}

/// An administrator's change to one item, from a day not in the past.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EditForm {
    #[schema(value_type = dayi_core::catalog::Kind)]
    pub kind: String,
    pub code: String,
    pub name: String,
    /// Yuan, e.g. "12.50".
    #[serde(deserialize_with = "dayi_core::lenient::text")]
    #[schema(value_type = f64)]
    pub price: String,
    /// a, b, c (甲, 乙, 丙).
    #[schema(value_type = dayi_core::catalog::Class)]
    pub class: String,
    pub active: bool,
    #[schema(format = Date)]
    pub effective_from: String,
}

/// Writes the change as a new dated row; the old price stays for the days it held.
pub async fn edit(app: &App, actor: &Actor, f: &EditForm) -> Result<Item, DomainError> {
    actor.require(app, Perm::Catalog).await?;
    let kind = Kind::parse(f.kind.trim())
        .ok_or_else(|| DomainError::field("kind", ErrorCode::InvalidFormat, [f.kind.as_str()]))?;
    let today = today_cst().to_string();
    let from = match f.effective_from.trim() {
        "" => today.clone(),
        d => d.to_string(),
    };
    if time::Date::parse(&from, time::macros::format_description!("[year]-[month]-[day]")).is_err() {
        return Err(DomainError::field("effective_from", ErrorCode::InvalidFormat, ["YYYY-MM-DD"]));
    }
    if from < today {
        return Err(DomainError::field("effective_from", ErrorCode::CatalogDate, [today]));
    }
    let history =
        dayi_store::catalog::history(&app.db, actor.org_id, kind.code(), f.code.trim()).await.or_internal()?;
    let base = history.iter().find(|r| r.effective_from <= from).or(history.last());
    let mut item =
        base.and_then(of_row).ok_or_else(|| DomainError::field("code", ErrorCode::CatalogUnknown, [f.code.trim()]))?;
    let mut err = DomainError::new(ErrorCode::Validation);
    if !f.name.trim().is_empty() {
        if f.name.trim().chars().count() > 100 {
            err = err.and_field("name", ErrorCode::TooLong, ["100"]);
        }
        item.name = f.name.trim().into();
        item.initials = catalog::initials(&item.name);
    }
    if !f.price.trim().is_empty() {
        match catalog::parse_fen(&f.price) {
            Some(fen) => item.price_fen = fen,
            None => err = err.and_field("price", ErrorCode::CatalogPrice, [""; 0]),
        }
    }
    if !f.class.trim().is_empty() {
        match Class::parse(f.class.trim()).or_else(|| Class::from_zh(&f.class)) {
            Some(c) => item.class = Some(c),
            None => err = err.and_field("class", ErrorCode::InvalidFormat, ["甲/乙/丙"]),
        }
    }
    if !err.fields.is_empty() {
        return Err(err);
    }
    let row = to_row(actor.org_id, &item, &from, &actor.username, f.active, now_micros());
    let mut tx = app.db.begin().await.or_internal()?;
    // The same day twice: the later edit replaces the earlier one of that day.
    dayi_store::catalog::replace(&mut tx, &row).await.or_internal()?;
    let detail = format!(
        "{} 自 {from} 起：{} 元{}",
        item.name,
        catalog::yuan(item.price_fen),
        if f.active { "" } else { "，停用" }
    );
    let entry = actor.entry("catalog.edit", kind.code(), &item.code, None, dayi_core::audit::OK, &detail);
    dayi_store::audit::append(&mut tx, actor.org_id, vec![entry]).await.or_internal()?;
    tx.commit().await.or_internal()?;
    forget(app, actor.org_id);
    Ok(item)
}

/// An item's dated rows, newest first.
pub async fn history(app: &App, actor: &Actor, kind: Kind, code: &str) -> Result<Vec<Row>, DomainError> {
    may_read(app, actor).await?;
    dayi_store::catalog::history(&app.db, actor.org_id, kind.code(), code).await.or_internal()
}
