//! Search parameters of `GET /fhir/Patient`, parsed into the app searches
//! to run (each with an exact post-filter) and the narrowing filters.
//! Identifiers of other systems are looked up in their own table.

use dayi_app::patient::PatientView;
use dayi_core::identity::{IdKind, ResidentId, normalize_number};
use dayi_core::patient::{Query, classify, parse_phone};
use dayi_core::timefmt::today_cst;
use dayi_core::{DomainError, ErrorCode};

use super::resource::{HEALTH_CARD, RESIDENT_ID, document_kind, hospital_no_system, sex_code};

fn bad(msg: impl ToString) -> DomainError {
    DomainError::with(ErrorCode::BadRequest, [msg.to_string()])
}

/// One lookup a selecting value runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A value handed to the app's search box, and what a hit must also
    /// satisfy (the search box guesses the key from the shape; the
    /// parameter knows it).
    Box { q: String, must: Must },
    /// An identifier of another system: in any system (`None`) or in one
    /// (`Some("")` for an identifier that named none).
    Foreign { system: Option<String>, value: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Must {
    Nothing,
    HospitalNo(String),
    CardId(String),
    /// The (masked) view's document kind; the number matched exactly in the query.
    Document(IdKind),
}

impl Must {
    pub fn holds(&self, v: &PatientView) -> bool {
        match self {
            Must::Nothing => true,
            Must::HospitalNo(n) => v.hospital_no == *n,
            Must::CardId(c) => v.card_id == *c,
            Must::Document(k) => v.id_kind.as_deref() == Some(k.code()),
        }
    }
}

/// A `birthdate` comparison over the days a (partial) date covers.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTest {
    prefix: String,
    first: String,
    last: String,
}

impl DateTest {
    fn parse(param: &str, raw: &str) -> Result<Self, DomainError> {
        let (prefix, date) = match raw.get(..2) {
            Some(p) if p.bytes().all(|b| b.is_ascii_lowercase()) => (p, &raw[2..]),
            _ => ("eq", raw),
        };
        if !matches!(prefix, "eq" | "ne" | "gt" | "lt" | "ge" | "le" | "sa" | "eb") {
            return Err(bad(format!("{param} 不支持前缀「{prefix}」（可用 eq ne gt lt ge le sa eb）")));
        }
        let shape_ok = match date.len() {
            4 => date.bytes().all(|b| b.is_ascii_digit()),
            7 | 10 => {
                date.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
            }
            _ => false,
        };
        if !shape_ok {
            return Err(bad(format!("{param}「{raw}」应为 YYYY、YYYY-MM 或 YYYY-MM-DD")));
        }
        // Stored dates are YYYY-MM-DD, so text order is date order, and the
        // 31st of a month sorts after each of its days even when it has fewer.
        let (first, last) = match date.len() {
            4 => (format!("{date}-01-01"), format!("{date}-12-31")),
            7 => (format!("{date}-01"), format!("{date}-31")),
            _ => (date.to_string(), date.to_string()),
        };
        Ok(Self { prefix: prefix.into(), first, last })
    }

    pub fn holds(&self, day: &str) -> bool {
        let inside = self.first.as_str() <= day && day <= self.last.as_str();
        match self.prefix.as_str() {
            "eq" => inside,
            "ne" => !inside,
            "gt" | "sa" => day > self.last.as_str(),
            "lt" | "eb" => day < self.first.as_str(),
            "ge" => day >= self.first.as_str(),
            _ => day <= self.last.as_str(),
        }
    }
}

/// A parsed search.
#[derive(Debug, Default)]
pub struct Search {
    /// One entry per selecting parameter (they intersect); its lookups unite.
    pub selects: Vec<Vec<Lookup>>,
    pub births: Vec<DateTest>,
    /// One entry per `gender` parameter; its codes unite.
    pub sexes: Vec<Vec<&'static str>>,
    /// `_lastUpdated`, compared by the Beijing day of the record's last change.
    pub updated: Vec<DateTest>,
    pub count: Option<usize>,
    pub offset: usize,
}

impl Search {
    pub fn keeps(&self, v: &PatientView) -> bool {
        let day = super::instant(v.version);
        self.births.iter().all(|d| d.holds(&v.birth_date))
            && self.sexes.iter().all(|s| s.contains(&v.sex.as_str()))
            && self.updated.iter().all(|d| d.holds(&day[..10.min(day.len())]))
    }
}

fn name(v: &str) -> Result<Lookup, DomainError> {
    match classify(v) {
        Query::Name(_) | Query::Pinyin(_) => Ok(Lookup::Box { q: v.to_string(), must: Must::Nothing }),
        _ => Err(bad(format!("name「{v}」应为汉字姓名（或其开头）、拼音全拼或首字母"))),
    }
}

fn phone(v: &str) -> Result<Lookup, DomainError> {
    match parse_phone(v) {
        Some(p) if classify(&p) == Query::Phone(p.clone()) => Ok(Lookup::Box { q: p, must: Must::Nothing }),
        _ => Err(bad(format!("phone「{v}」应为 11 位手机号（固定电话不能用于检索）"))),
    }
}

/// `system|value`, `|value` (no system), or a bare value for any system. A
/// value that cannot be in one of our systems finds nobody there (no
/// lookup); an ID document we do not index is refused; any other system is
/// another's, whose identifiers are kept as received.
fn identifier(v: &str, org_code: &str) -> Result<Vec<Lookup>, DomainError> {
    let (system, raw) = match v.split_once('|') {
        Some((s, val)) => (Some(s), val.trim()),
        None => (None, v.trim()),
    };
    let value = normalize_number(raw);
    let shape = classify(&value);
    let look = |must| vec![Lookup::Box { q: value.clone(), must }];
    let foreign = |system: Option<&str>| Lookup::Foreign { system: system.map(String::from), value: raw.to_string() };
    Ok(match system {
        None => {
            let mut ours = match &shape {
                Query::HospitalNo(n) => look(Must::HospitalNo(n.clone())),
                Query::CardId(c) => look(Must::CardId(c.clone())),
                Query::IdNumber(_) => look(Must::Nothing),
                _ => vec![],
            };
            ours.push(foreign(None));
            ours
        }
        Some("") => vec![foreign(Some(""))],
        Some(s) if s == hospital_no_system(org_code) => match shape {
            Query::HospitalNo(n) => look(Must::HospitalNo(n)),
            _ => vec![],
        },
        Some(HEALTH_CARD) => match shape {
            Query::CardId(c) => look(Must::CardId(c)),
            _ => vec![],
        },
        // An old 15-digit number is the same person as its 18-digit upgrade.
        Some(RESIDENT_ID) => ResidentId::parse(&value, today_cst())
            .ok()
            .map(|id| Lookup::Box { q: id.as_str().to_string(), must: Must::Document(IdKind::ResidentId) })
            .into_iter()
            .collect(),
        Some(s) => match document_kind(s) {
            Some((kind @ (IdKind::HkMoTwResidence | IdKind::ForeignPr), _)) => match shape {
                Query::IdNumber(_) => look(Must::Document(kind)),
                _ => vec![],
            },
            Some(_) => {
                let why = format!("不支持按此证件检索：{s}（可用居民身份证号、电子健康卡、就诊卡号或其他系统的标识）");
                return Err(bad(why));
            }
            None => vec![foreign(Some(s))],
        },
    })
}

/// Parses a query string. Unknown parameters are ignored, as FHIR allows;
/// modifiers (`name:exact`) are refused since none is supported.
pub fn parse(query: &str, org_code: &str) -> Result<Search, DomainError> {
    let mut s = Search::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let values = || v.split(',').map(str::trim).filter(|x| !x.is_empty());
        if k.contains(':') {
            return Err(bad(format!("不支持检索修饰符「{k}」")));
        }
        match k.as_ref() {
            "name" => s.selects.push(values().map(name).collect::<Result<_, _>>()?),
            "phone" => s.selects.push(values().map(phone).collect::<Result<_, _>>()?),
            "identifier" => {
                let found: Vec<Vec<Lookup>> = values().map(|x| identifier(x, org_code)).collect::<Result<_, _>>()?;
                s.selects.push(found.into_iter().flatten().collect());
            }
            "birthdate" => {
                s.births.extend(values().map(|x| DateTest::parse("birthdate", x)).collect::<Result<Vec<_>, _>>()?)
            }
            "_lastUpdated" => {
                s.updated.extend(values().map(|x| DateTest::parse("_lastUpdated", x)).collect::<Result<Vec<_>, _>>()?)
            }
            "gender" => {
                let codes = values().map(|g| {
                    sex_code(g).ok_or_else(|| bad(format!("gender「{g}」应为 male、female、other 或 unknown")))
                });
                s.sexes.push(codes.collect::<Result<_, _>>()?);
            }
            "_count" => {
                let n = v.parse::<usize>().map_err(|_| bad(format!("_count「{v}」应为非负整数")))?;
                s.count = Some(n);
            }
            "_offset" => s.offset = v.trim().parse().map_err(|_| bad(format!("_offset「{v}」应为非负整数")))?,
            _ => {}
        }
    }
    if s.selects.is_empty() {
        return Err(super::too_costly(
            "请提供 name、identifier 或 phone 之一；birthdate、gender 和 _lastUpdated 只能与它们组合使用（只按出生日期或性别检索须读遍全部患者）。不带任何检索参数时按 next 链接逐页列出全部患者",
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(raw: &str) -> DateTest {
        DateTest::parse("birthdate", raw).unwrap()
    }

    #[test]
    fn birthdates_cover_partial_dates() {
        assert!(date("1958").holds("1958-03-12") && !date("1958").holds("1959-01-01"));
        assert!(date("1958-03").holds("1958-03-31") && !date("1958-03").holds("1958-04-01"));
        assert!(date("ge1958-03-12").holds("1958-03-12") && !date("gt1958-03-12").holds("1958-03-12"));
        assert!(date("lt1959").holds("1958-12-31") && !date("lt1959").holds("1959-01-01"));
        assert!(date("le1958-02").holds("1958-02-28") && date("ne1958").holds("1957-12-31"));
        assert!(DateTest::parse("birthdate", "ap1958").is_err() && DateTest::parse("birthdate", "1958-3-1").is_err());
    }

    #[test]
    fn a_narrowing_parameter_alone_is_refused() {
        assert_eq!(parse("birthdate=1958&gender=male", "o").unwrap_err().code, ErrorCode::SearchTooCostly);
        assert_eq!(parse("name=%E5%BC%A0&birthdate=1958", "o").unwrap().selects.len(), 1);
        assert!(parse("name:exact=x", "o").is_err());
        assert!(parse("name=123", "o").is_err());
        assert!(parse("phone=0537-7212345", "o").is_err());
    }

    #[test]
    fn identifiers_are_matched_in_their_own_system() {
        let s = parse("identifier=urn:oid:2.16.156.10011.1.3|11010519491231002x", "o").unwrap();
        assert_eq!(
            s.selects[0],
            [Lookup::Box { q: "11010519491231002X".into(), must: Must::Document(IdKind::ResidentId) }]
        );
        let s = parse("identifier=https://dayi.org.cn/fhir/sid/hospital-no/o|1000000001", "o").unwrap();
        assert_eq!(s.selects[0], [Lookup::Box { q: "1000000001".into(), must: Must::HospitalNo("1000000001".into()) }]);
        // the wrong shape for the system: nobody
        assert!(parse("identifier=urn:oid:2.16.156.10011.1.3|1000000001", "o").unwrap().selects[0].is_empty());
        // a document kind we do not index is refused
        assert!(parse("identifier=http://hl7.org/fhir/sid/passport-KOR|M1234567", "o").is_err());
    }

    #[test]
    fn other_systems_are_looked_up_as_received() {
        let foreign = |system: Option<&str>, value: &str| Lookup::Foreign {
            system: system.map(String::from),
            value: value.into(),
        };
        let s = parse("identifier=http%3A%2F%2Fhospital.example.org%2Fmrn%7C12345", "o").unwrap();
        assert_eq!(s.selects[0], [foreign(Some("http://hospital.example.org/mrn"), "12345")]);
        // another organisation's card numbers are its own, kept as another system's
        let other = "https://dayi.org.cn/fhir/sid/hospital-no/p";
        let s = parse(&format!("identifier={other}|1000000001"), "o").unwrap();
        assert_eq!(s.selects[0], [foreign(Some(other), "1000000001")]);
        // a bare value: ours by its shape, and any other system's
        let s = parse("identifier=1000000001", "o").unwrap();
        assert_eq!(
            s.selects[0],
            [
                Lookup::Box { q: "1000000001".into(), must: Must::HospitalNo("1000000001".into()) },
                foreign(None, "1000000001")
            ]
        );
        assert_eq!(parse("identifier=A-77", "o").unwrap().selects[0], [foreign(None, "A-77")]);
        // "|value": an identifier that named no system
        assert_eq!(parse("identifier=%7CA-77", "o").unwrap().selects[0], [foreign(Some(""), "A-77")]);
    }
}
