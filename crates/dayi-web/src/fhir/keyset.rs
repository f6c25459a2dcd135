//! Searches with no search parameter (`GET /fhir/{Type}`, `?_count=N`), as
//! generic clients send them: every record of the type, a page at a time in
//! key order, each `next` link carrying the id of the last record shown
//! (`_cursor`). This is keyset paging: a page is one range read of an index
//! however deep the walk, and a record added meanwhile is met once, when the
//! walk reaches its id. The first page counts the records (a scan of the
//! index); later ones only under `_total=accurate`, and `_total=none` spares
//! the first.

use dayi_app::visit::query::{After, MAX_PAGE, Step};
use dayi_core::DomainError;
use serde_json::Value;
use uuid::Uuid;

use super::visit_search::DEFAULT_COUNT;
use super::{bad, count_of, searchset};

/// The parameters a walk takes; any other makes the search a scoped one.
const OWN: &[&str] = &["_count", "_cursor", "_total", "_format"];

/// A walk's page, as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    pub cursor: Option<String>,
    pub count: usize,
    /// `_total`: `Some(true)` accurate, `Some(false)` none, `None` as usual.
    pub total: Option<bool>,
}

/// The walk a query asks for, or `None` when it names a search parameter.
/// `_cursor` belongs to walks and `_offset` does not: each is refused where
/// it does not belong.
pub fn parse(query: &str) -> Result<Option<Walk>, DomainError> {
    let mut w = Walk { cursor: None, count: DEFAULT_COUNT, total: None };
    let mut scoped = false;
    let mut offset = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "_count" => w.count = count_of(&v)?.min(MAX_PAGE as usize),
            "_cursor" => w.cursor = Some(v.to_string()),
            "_total" => {
                w.total = match v.as_ref() {
                    "none" => Some(false),
                    "accurate" => Some(true),
                    "estimate" => None,
                    _ => return Err(bad(format!("_total「{v}」应为 none、estimate 或 accurate"))),
                }
            }
            "_offset" => offset = true,
            k if OWN.contains(&k) => {}
            _ => scoped = true,
        }
    }
    match (scoped, &w.cursor, offset) {
        (true, Some(_), _) => Err(bad("_cursor 只用于不带检索参数时按 next 链接翻页")),
        (true, None, _) => Ok(None),
        (false, _, true) => Err(bad("不带检索参数时请按 next 链接（_cursor）翻页，不支持 _offset")),
        (false, _, false) => Ok(Some(w)),
    }
}

impl Walk {
    /// The page to read, starting after `after`.
    pub fn step(&self, after: After) -> Step {
        Step { after, limit: self.count as i64, count: self.total.unwrap_or(self.cursor.is_none()) }
    }

    /// Where the page starts, for a type whose ids are UUIDs.
    pub fn after_id(&self) -> Result<After, DomainError> {
        self.after(|c| Uuid::parse_str(c).ok().map(After::Id))
    }

    /// Where the page starts, for ids `{uuid}-{number}` (Slot, Condition).
    pub fn after_pair(&self, parse: fn(&str) -> Option<(Uuid, i64)>) -> Result<After, DomainError> {
        self.after(|c| parse(c).map(|(a, b)| After::Pair(a, b)))
    }

    fn after(&self, parse: impl Fn(&str) -> Option<After>) -> Result<After, DomainError> {
        match &self.cursor {
            None => Ok(After::Start),
            Some(c) => parse(c).ok_or_else(|| bad(format!("_cursor「{c}」不是本类资源的翻页位置，请使用 next 链接"))),
        }
    }

    /// One page of an in-memory list in id order (the directory, read whole):
    /// the records after the cursor, whether more follow, and the count if asked.
    pub fn slice<T>(&self, mut all: Vec<(Uuid, T)>) -> Result<(Option<i64>, Vec<T>, bool), DomainError> {
        all.sort_by_key(|(id, _)| *id);
        let step = self.step(self.after_id()?);
        let total = step.count.then_some(all.len() as i64);
        let from = match step.after {
            After::Id(last) => all.partition_point(|(id, _)| *id <= last),
            _ => 0,
        };
        let mut rest: Vec<T> = all.into_iter().skip(from).map(|(_, x)| x).collect();
        let more = rest.len() > self.count;
        rest.truncate(self.count);
        Ok((total, rest, more))
    }
}

/// A walk's searchset: the page, the total when counted, and a `next` link
/// after the last record shown when more follow.
pub fn bundle(base: &str, kind: &str, query: &str, total: Option<i64>, more: bool, resources: Vec<Value>) -> Value {
    let last = resources.last().and_then(|r| r["id"].as_str()).map(String::from);
    let mut b = searchset(base, kind, query, usize::try_from(total.unwrap_or(0)).unwrap_or(0), resources, None);
    if total.is_none()
        && let Some(o) = b.as_object_mut()
    {
        o.remove("total");
    }
    if let (true, Some(last)) = (more, last) {
        let mut next = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if k != "_cursor" {
                next.append_pair(&k, &v);
            }
        }
        next.append_pair("_cursor", &last);
        let link = serde_json::json!({ "relation": "next", "url": format!("{base}/{kind}?{}", next.finish()) });
        if let Some(links) = b["link"].as_array_mut() {
            links.push(link);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_result_parameters_make_a_walk() {
        assert_eq!(parse("").unwrap(), Some(Walk { cursor: None, count: DEFAULT_COUNT, total: None }));
        let w = parse("_count=5&_cursor=abc&_total=accurate&_format=json").unwrap().unwrap();
        assert_eq!((w.count, w.cursor.as_deref(), w.total), (5, Some("abc"), Some(true)));
        assert_eq!(parse("_count=9999").unwrap().unwrap().count, MAX_PAGE as usize);
        assert_eq!(parse("name=x").unwrap(), None);
        assert_eq!(parse("name=x&_offset=10").unwrap(), None, "a scoped search pages by offset");
        for refused in ["name=x&_cursor=y", "_offset=10", "_total=maybe", "_count=-1"] {
            assert!(parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn the_first_page_counts_and_cursors_name_a_record() {
        let first = parse("").unwrap().unwrap();
        assert!(first.step(first.after_id().unwrap()).count);
        let id = Uuid::now_v7();
        let later = parse(&format!("_cursor={id}")).unwrap().unwrap();
        assert_eq!(later.step(later.after_id().unwrap()).after, After::Id(id));
        assert!(!later.step(After::Id(id)).count);
        assert!(parse(&format!("_cursor={id}&_total=accurate")).unwrap().unwrap().step(After::Id(id)).count);
        assert!(!parse("_total=none").unwrap().unwrap().step(After::Start).count);
        assert!(parse("_cursor=x").unwrap().unwrap().after_id().is_err());
        let pair =
            |s: &str| s.rsplit_once('-').and_then(|(a, b)| Some((Uuid::parse_str(a).ok()?, b.parse::<i64>().ok()?)));
        let w = parse(&format!("_cursor={id}-3")).unwrap().unwrap();
        assert_eq!(w.after_pair(pair).unwrap(), After::Pair(id, 3));
        assert!(w.after_id().is_err());
    }

    #[test]
    fn in_memory_pages_resume_after_the_cursor() {
        let mut ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        ids.sort();
        let all = || ids.iter().rev().map(|id| (*id, id.to_string())).collect::<Vec<_>>();
        let w = parse("_count=2").unwrap().unwrap();
        let (total, page, more) = w.slice(all()).unwrap();
        assert_eq!((total, page, more), (Some(5), vec![ids[0].to_string(), ids[1].to_string()], true));
        let w = parse(&format!("_count=2&_cursor={}", ids[3])).unwrap().unwrap();
        assert_eq!(w.slice(all()).unwrap(), (None, vec![ids[4].to_string()], false));
    }

    #[test]
    fn next_links_carry_the_last_id_seen() {
        let r = |id: &str| serde_json::json!({ "resourceType": "Patient", "id": id });
        let b = bundle("http://h/fhir", "Patient", "_count=2&_cursor=a", None, true, vec![r("b"), r("c")]);
        assert!(b.get("total").is_none(), "not counted");
        assert_eq!(b["link"][1]["url"], "http://h/fhir/Patient?_count=2&_cursor=c");
        let b = bundle("http://h/fhir", "Patient", "", Some(2), false, vec![r("b"), r("c")]);
        assert_eq!((b["total"].as_u64(), b["link"].as_array().unwrap().len()), (Some(2), 1));
    }
}
