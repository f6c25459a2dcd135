//! What the searches over visits share (Encounter, Condition,
//! ServiceRequest, MedicationRequest): the parameters that select by
//! patient, encounter or id, the status parameter mapped to our codes,
//! `_count` and `_offset`, and the searchset with its paging links.

use dayi_app::visit::query::{Filter, MAX_PAGE};
use dayi_core::DomainError;
use serde_json::Value;
use uuid::Uuid;

use super::{bad, count_of, reference_id, searchset};

/// Matches in one page when `_count` is not given.
pub const DEFAULT_COUNT: usize = 50;

/// One resource type's search.
pub struct Spec {
    pub kind: &'static str,
    /// `status`, or `clinical-status` for Condition.
    pub status_param: &'static str,
    /// Our status codes for one of the type's status codes (an empty list:
    /// a valid code no record of ours has); `None` for a code not in R4.
    pub statuses: fn(&str) -> Option<&'static [&'static str]>,
    pub status_hint: &'static str,
    /// The type's other parameters, handed back in `Parsed::extra`.
    pub extra: &'static [&'static str],
}

/// A parsed search: the filter so far, the raw values of the type's own
/// parameters, `_id` values, and the page asked for.
#[derive(Debug, Default)]
pub struct Parsed {
    pub filter: Filter,
    /// `_id` values, one list per parameter (they intersect).
    pub ids: Vec<Vec<String>>,
    pub extra: Vec<(String, String)>,
    pub count: usize,
    pub offset: usize,
}

/// Keeps in `set` only what is also in `new` (the first list sets it).
pub fn narrow<T: PartialEq + Clone>(set: &mut Option<Vec<T>>, new: Vec<T>) {
    *set = Some(match set.take() {
        None => {
            let mut v: Vec<T> = vec![];
            for x in new {
                if !v.contains(&x) {
                    v.push(x);
                }
            }
            v
        }
        Some(old) => old.into_iter().filter(|x| new.contains(x)).collect(),
    });
}

pub fn parse(query: &str, spec: &Spec) -> Result<Parsed, DomainError> {
    let mut p = Parsed { count: DEFAULT_COUNT, ..Default::default() };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let values = || v.split(',').map(str::trim).filter(|x| !x.is_empty());
        match k.as_ref() {
            "patient" | "subject" => {
                let ids = values().map(|x| reference_id(&k, "Patient", x)).collect::<Result<Vec<Uuid>, _>>()?;
                narrow(&mut p.filter.patients, ids);
            }
            "encounter" if spec.extra.contains(&"encounter") => {
                let ids = values().map(|x| reference_id("encounter", "Encounter", x)).collect::<Result<Vec<_>, _>>()?;
                narrow(&mut p.filter.visits, ids);
            }
            "_id" => p.ids.push(values().map(String::from).collect()),
            k if k == spec.status_param => {
                let mut ours: Vec<String> = vec![];
                for x in values() {
                    let codes =
                        (spec.statuses)(x).ok_or_else(|| bad(format!("{k}「{x}」应为 {}", spec.status_hint)))?;
                    ours.extend(codes.iter().map(|c| c.to_string()));
                }
                narrow(&mut p.filter.statuses, ours);
            }
            "_count" => p.count = count_of(&v)?.min(MAX_PAGE as usize),
            "_offset" => p.offset = v.trim().parse().map_err(|_| bad(format!("_offset「{v}」应为非负整数")))?,
            k if spec.extra.contains(&k) && k != "encounter" => p.extra.push((k.to_string(), v.to_string())),
            k if k.contains(':') => return Err(bad(format!("不支持检索修饰符「{k}」"))),
            _ => {}
        }
    }
    if p.filter.patients.is_none() && p.filter.visits.is_none() && p.ids.is_empty() {
        let by = if spec.extra.contains(&"encounter") { "patient、encounter 或 _id" } else { "patient 或 _id" };
        let why = format!("请提供 {by}：{} 按患者或就诊检索；不带任何检索参数时按 next 链接逐页列出全部", spec.kind);
        return Err(super::too_costly(why));
    }
    Ok(p)
}

/// A searchset of one page, with `next` and `previous` links when there are
/// more matches either side.
pub fn bundle(base: &str, kind: &str, query: &str, p: &Parsed, total: i64, resources: Vec<Value>) -> Value {
    let total = usize::try_from(total).unwrap_or(0);
    let mut b = searchset(base, kind, query, total, resources, None);
    super::link_pages(&mut b, base, kind, query, p.count, p.offset, total);
    b
}

#[cfg(test)]
mod tests {
    use dayi_core::ErrorCode;

    use super::*;

    fn statuses(code: &str) -> Option<&'static [&'static str]> {
        match code {
            "in-progress" => Some(&["open"]),
            "planned" => Some(&[]),
            _ => None,
        }
    }

    const SPEC: Spec = Spec {
        kind: "Condition",
        status_param: "status",
        statuses,
        status_hint: "in-progress",
        extra: &["encounter", "code"],
    };

    #[test]
    fn references_intersect_and_statuses_map() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let q = format!("patient=Patient/{a},{b}&subject={b}&status=in-progress,planned&code=x&_count=500");
        let p = parse(&q, &SPEC).unwrap();
        assert_eq!(p.filter.patients, Some(vec![b]));
        assert_eq!(p.filter.statuses, Some(vec!["open".to_string()]));
        assert_eq!(p.extra, [("code".to_string(), "x".to_string())]);
        assert_eq!((p.count, p.offset), (MAX_PAGE as usize, 0));
        let p = parse(&format!("encounter=Encounter/{a}&_offset=20"), &SPEC).unwrap();
        assert_eq!((p.filter.visits, p.offset), (Some(vec![a]), 20));
    }

    #[test]
    fn a_selection_is_required_and_bad_values_refused() {
        for q in ["status=in-progress", "code=x", "patient=Encounter/x", "patient=abc", "_id=1&status=done"] {
            assert!(parse(q, &SPEC).is_err(), "{q}");
        }
        assert_eq!(parse("code=x", &SPEC).unwrap_err().code, ErrorCode::SearchTooCostly, "narrowing alone");
        assert!(parse(&format!("patient={}&_offset=-1", Uuid::now_v7()), &SPEC).is_err());
        assert!(parse(&format!("patient={}&code:text=x", Uuid::now_v7()), &SPEC).is_err());
        assert!(parse(&format!("patient={}&_sort=date", Uuid::now_v7()), &SPEC).is_ok(), "unknown: ignored");
    }

    #[test]
    fn pages_link_to_their_neighbours() {
        let p = Parsed { count: 2, offset: 2, ..Default::default() };
        let b = bundle("http://h/fhir", "Condition", "patient=x&_count=2&_offset=2", &p, 5, vec![]);
        let links: Vec<(&str, &str)> = b["link"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["relation"].as_str().unwrap(), l["url"].as_str().unwrap()))
            .collect();
        assert_eq!(
            links,
            [
                ("self", "http://h/fhir/Condition?patient=x&_count=2&_offset=2"),
                ("next", "http://h/fhir/Condition?patient=x&_count=2&_offset=4"),
                ("previous", "http://h/fhir/Condition?patient=x&_count=2&_offset=0"),
            ]
        );
        let last = Parsed { count: 2, offset: 4, ..Default::default() };
        let b = bundle("http://h/fhir", "Condition", "", &last, 5, vec![]);
        assert_eq!(b["link"].as_array().unwrap().len(), 2, "no next after the last page");
    }
}
