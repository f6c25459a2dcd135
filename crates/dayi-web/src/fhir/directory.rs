//! What the directory searches share (Practitioner, PractitionerRole,
//! Organization, Location). One organisation has hundreds of staff and tens
//! of departments and rooms, so each search reads its records whole through
//! the app and selects here. Parameters as the other searches take them:
//! repeated parameters intersect, comma-separated values unite, modifiers
//! are refused and parameters we do not know are ignored; `_count` and
//! `_offset` page as the visit searches do. With no parameter a search
//! walks the list in id order by `_cursor`, as every type's does.

use dayi_app::visit::query::MAX_PAGE;
use dayi_core::DomainError;
use serde_json::Value;
use uuid::Uuid;

use super::keyset::{self, Walk};
use super::visit_search::{self, DEFAULT_COUNT, Parsed};
use super::{bad, count_of, reference_id};

/// A parsed directory search.
#[derive(Debug)]
pub struct Params {
    by: Vec<(String, Vec<String>)>,
    page: Parsed,
    /// A search with no parameter: the walk's page.
    walk: Option<Walk>,
}

pub fn parse(query: &str, known: &[&str]) -> Result<Params, DomainError> {
    let walk = keyset::parse(query)?;
    let mut p = Params { by: vec![], page: Parsed { count: DEFAULT_COUNT, ..Default::default() }, walk };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "_count" => p.page.count = count_of(&v)?.min(MAX_PAGE as usize),
            "_offset" => p.page.offset = v.trim().parse().map_err(|_| bad(format!("_offset「{v}」应为非负整数")))?,
            k if known.contains(&k) => {
                let values: Vec<String> =
                    v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect();
                if let Some(x) = values.iter().find(|x| k == "active" && !matches!(x.as_str(), "true" | "false")) {
                    return Err(bad(format!("active「{x}」应为 true 或 false")));
                }
                p.by.push((k.to_string(), values));
            }
            k if k.contains(':') => return Err(bad(format!("不支持检索修饰符「{k}」"))),
            _ => {}
        }
    }
    Ok(p)
}

impl Params {
    fn lists(&self, name: &str) -> impl Iterator<Item = &Vec<String>> {
        self.by.iter().filter(move |(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether each `name` parameter has a value that `hit` accepts.
    pub fn all(&self, name: &str, hit: impl Fn(&str) -> bool) -> bool {
        self.lists(name).all(|values| values.iter().any(|v| hit(v)))
    }

    /// The ids of a reference parameter (`{kind}/{id}`), one list per parameter.
    pub fn refs(&self, name: &str, kind: &str) -> Result<Vec<Vec<Uuid>>, DomainError> {
        self.lists(name).map(|vs| vs.iter().map(|v| reference_id(name, kind, v)).collect()).collect()
    }

    /// The values of a token parameter, each checked by `valid` first.
    pub fn check(&self, name: &str, valid: impl Fn(&str) -> Result<(), DomainError>) -> Result<(), DomainError> {
        self.lists(name).flatten().try_for_each(|v| valid(v))
    }

    /// `active=true|false` (checked by `parse`) against a record's state.
    pub fn active(&self, active: bool) -> bool {
        self.all("active", |v| (v == "true") == active)
    }

    /// One page of the matches, as a searchset with its paging links.
    pub fn page(&self, base: &str, kind: &str, query: &str, matches: Vec<Value>) -> Result<Value, DomainError> {
        if let Some(w) = &self.walk {
            let keyed = matches.into_iter().filter_map(|r| Some((Uuid::parse_str(r["id"].as_str()?).ok()?, r)));
            let (total, shown, more) = w.slice(keyed.collect())?;
            return Ok(keyset::bundle(base, kind, query, total, more, shown));
        }
        let total = matches.len();
        let shown = matches.into_iter().skip(self.page.offset).take(self.page.count).collect();
        Ok(visit_search::bundle(base, kind, query, &self.page, total as i64, shown))
    }
}

/// A reference parameter's lists all name `id`.
pub fn refers(lists: &[Vec<Uuid>], id: Uuid) -> bool {
    lists.iter().all(|l| l.contains(&id))
}

/// FHIR string search: the text or a part of it starts with the value,
/// ignoring case (Latin letters) and spaces at either end.
pub fn starts(texts: &[&str], v: &str) -> bool {
    let v = v.trim().to_lowercase();
    texts.iter().any(|t| t.trim().to_lowercase().starts_with(&v))
}

/// A token value `[system|]code` against one coding; `system|` alone
/// matches any code of that system.
pub fn token(v: &str, system: &str, code: &str) -> bool {
    match v.split_once('|') {
        None => v == code,
        Some(("", c)) => c == code,
        Some((s, "")) => s == system,
        Some((s, c)) => s == system && c == code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_with_or_without_system() {
        for v in ["03", "|03", "s|03", "s|"] {
            assert!(token(v, "s", "03"), "{v}");
        }
        for v in ["04", "t|03", "t|"] {
            assert!(!token(v, "s", "03"), "{v}");
        }
    }

    #[test]
    fn repeats_intersect_and_commas_unite() {
        let p = parse("name=王,李&name=王&_count=1&_sort=x", &["name"]).unwrap();
        assert!(p.all("name", |v| starts(&["王建国"], v)));
        assert!(!p.all("name", |v| starts(&["李四"], v)));
        assert!(parse("name:contains=王", &["name"]).is_err());
        assert!(parse("_offset=-1", &[]).is_err());
        assert!(parse("active=maybe", &["active"]).is_err());
        assert!(parse("active=true,false", &["active"]).unwrap().active(false));
    }
}
