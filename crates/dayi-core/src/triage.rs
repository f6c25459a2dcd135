//! Pre-triage (预检分诊): from the temperature, the symptoms ticked and the
//! epidemiological answers, where the patient goes — emergency, the fever
//! clinic (发热门诊) or an ordinary department — and why. The cut-off, the
//! symptom list and the questions are dated configuration
//! (domain-rules-cn.md §7.1); this module only applies them.

use serde::{Deserialize, Serialize};

use crate::error::Checks;
use crate::security::named_enum;
use crate::{DomainError, ErrorCode};

named_enum! {
    /// Where pre-triage sends a patient.
    Route {
        Emergency = ("emergency", "急诊", "Emergency"),
        Fever = ("fever", "发热门诊", "Fever clinic"),
        Department = ("department", "普通门诊", "Outpatient department"),
    }
}

/// A symptom on the nurse's checklist and where it points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symptom {
    pub code: String,
    pub name: String,
    pub route: Route,
    /// For `Route::Department`: the department code it suggests, if any.
    #[serde(default)]
    pub dept: Option<String>,
}

/// An epidemiological question (流行病学史); a "yes" sends to the fever clinic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub code: String,
    pub text: String,
}

/// The rules in force (configuration `triage.rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// Fever from this temperature, in tenths of a degree (373 = 37.3 ℃).
    pub fever_from_tenths: i32,
    /// Plausible thermometer range, tenths; outside it is a typing error.
    pub min_tenths: i32,
    pub max_tenths: i32,
    /// Department codes of the fever clinic and of emergency.
    pub fever_dept: String,
    pub emergency_dept: String,
    pub symptoms: Vec<Symptom>,
    pub questions: Vec<Question>,
}

/// What the nurse found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    /// Tenths of a degree; `None` when not measured.
    pub temperature_tenths: Option<i32>,
    /// Codes of the symptoms ticked.
    pub symptoms: Vec<String>,
    /// Codes of the questions answered "yes".
    pub exposures: Vec<String>,
}

/// Where to go, why, and the department the route or the symptoms point to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Decision {
    pub route: Route,
    /// Human reasons, most serious first, in Chinese.
    pub reasons: Vec<String>,
    pub dept: Option<String>,
}

/// "37.3" or "37" → tenths; anything else is a format error for the form.
pub fn parse_temperature(s: &str, r: &Rules) -> Result<Option<i32>, DomainError> {
    let s = s.trim().trim_end_matches(['℃', 'C', 'c', '°']).trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        DomainError::field("temperature", ErrorCode::TriageTemperature, [tenths(r.min_tenths), tenths(r.max_tenths)])
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    if whole.is_empty() || frac.len() != 1 || !whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let t = whole.parse::<i32>().map_err(|_| bad())? * 10 + frac.parse::<i32>().map_err(|_| bad())?;
    if t < r.min_tenths || t > r.max_tenths {
        return Err(bad());
    }
    Ok(Some(t))
}

/// Tenths as "37.3".
pub fn tenths(t: i32) -> String {
    format!("{}.{}", t / 10, t % 10)
}

/// The route for `f` under `r`. Unknown codes are refused, not ignored: a
/// stale form must not silently drop a symptom.
pub fn decide(f: &Findings, r: &Rules) -> Result<Decision, DomainError> {
    let mut checks = Checks::new();
    let symptoms: Vec<&Symptom> = f
        .symptoms
        .iter()
        .filter_map(|c| {
            let s = r.symptoms.iter().find(|s| &s.code == c);
            if s.is_none() {
                checks.add("symptoms", ErrorCode::TriageSymptomUnknown, [c]);
            }
            s
        })
        .collect();
    let exposures: Vec<&Question> = f
        .exposures
        .iter()
        .filter_map(|c| {
            let q = r.questions.iter().find(|q| &q.code == c);
            if q.is_none() {
                checks.add("exposures", ErrorCode::TriageSymptomUnknown, [c]);
            }
            q
        })
        .collect();
    checks.finish()?;

    let with = |route| symptoms.iter().filter(move |s| s.route == route);
    let urgent: Vec<String> = with(Route::Emergency).map(|s| format!("危急征象：{}", s.name)).collect();
    let mut fever: Vec<String> = f
        .temperature_tenths
        .filter(|t| *t >= r.fever_from_tenths)
        .map(|t| format!("体温 {} ℃，达到发热标准 {} ℃", tenths(t), tenths(r.fever_from_tenths)))
        .into_iter()
        .collect();
    fever.extend(with(Route::Fever).map(|s| format!("发热门诊症状：{}", s.name)));
    fever.extend(exposures.iter().map(|q| format!("流行病学史：{}", q.text)));
    let suggested = with(Route::Department).find_map(|s| s.dept.clone());
    let (route, reasons) = if !urgent.is_empty() {
        (Route::Emergency, [urgent, fever].concat())
    } else if !fever.is_empty() {
        (Route::Fever, fever)
    } else {
        let mut plain: Vec<String> = with(Route::Department).map(|s| format!("症状：{}", s.name)).collect();
        if plain.is_empty() {
            plain.push("无发热、无危急征象、无流行病学史".into());
        }
        (Route::Department, plain)
    };
    let dept = match route {
        Route::Emergency => Some(r.emergency_dept.clone()),
        Route::Fever => Some(r.fever_dept.clone()),
        Route::Department => suggested,
    };
    Ok(Decision { route, reasons, dept })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        let s = |code: &str, name: &str, route, dept: Option<&str>| Symptom {
            code: code.into(),
            name: name.into(),
            route,
            dept: dept.map(Into::into),
        };
        Rules {
            fever_from_tenths: 373,
            min_tenths: 340,
            max_tenths: 430,
            fever_dept: "FR01".into(),
            emergency_dept: "20".into(),
            symptoms: vec![
                s("chest_pain", "胸痛", Route::Emergency, None),
                s("dyspnea", "呼吸困难", Route::Emergency, None),
                s("cough", "咳嗽", Route::Fever, None),
                s("abdominal_pain", "腹痛", Route::Department, Some("WK")),
                s("headache", "头痛", Route::Department, Some("NK")),
            ],
            questions: vec![Question {
                code: "risk_area".into(), text: "14 天内有中高风险地区旅居史".into()
            }],
        }
    }

    fn find(t: Option<i32>, sym: &[&str], exp: &[&str]) -> Findings {
        Findings {
            temperature_tenths: t,
            symptoms: sym.iter().map(|s| s.to_string()).collect(),
            exposures: exp.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn temperature_at_the_cut_off_is_fever_and_below_is_not() {
        let r = rules();
        assert_eq!(decide(&find(Some(373), &[], &[]), &r).unwrap().route, Route::Fever);
        assert_eq!(decide(&find(Some(372), &[], &[]), &r).unwrap().route, Route::Department);
        // The cut-off is configuration: a hospital using ">38 ℃" sets 381.
        let strict = Rules { fever_from_tenths: 381, ..r };
        assert_eq!(decide(&find(Some(380), &[], &[]), &strict).unwrap().route, Route::Department);
        let d = decide(&find(Some(381), &[], &[]), &strict).unwrap();
        assert_eq!(d.reasons, ["体温 38.1 ℃，达到发热标准 38.1 ℃"]);
    }

    #[test]
    fn each_route_with_its_reasons() {
        let r = rules();
        let d = decide(&find(Some(386), &["chest_pain", "cough"], &["risk_area"]), &r).unwrap();
        assert_eq!(d.route, Route::Emergency, "a danger sign outranks fever");
        assert_eq!(d.reasons[0], "危急征象：胸痛");
        assert_eq!(d.reasons.len(), 4);
        let d = decide(&find(Some(365), &["cough"], &[]), &r).unwrap();
        assert_eq!((d.route, d.reasons.as_slice()), (Route::Fever, &["发热门诊症状：咳嗽".to_string()][..]));
        let d = decide(&find(None, &[], &["risk_area"]), &r).unwrap();
        assert_eq!(d.route, Route::Fever);
        assert_eq!(d.reasons, ["流行病学史：14 天内有中高风险地区旅居史"]);
        let d = decide(&find(Some(366), &["abdominal_pain", "headache"], &[]), &r).unwrap();
        assert_eq!((d.route, d.dept.as_deref()), (Route::Department, Some("WK")));
        assert_eq!(d.reasons, ["症状：腹痛", "症状：头痛"]);
        let d = decide(&find(Some(366), &[], &[]), &r).unwrap();
        assert_eq!((d.route, d.dept), (Route::Department, None));
        assert_eq!(d.reasons, ["无发热、无危急征象、无流行病学史"]);
    }

    #[test]
    fn unknown_codes_are_refused_by_field() {
        let e = decide(&find(None, &["cough", "sneeze"], &["moon"]), &rules()).unwrap_err();
        assert_eq!(e.field_error("symptoms").map(|f| f.code), Some(ErrorCode::TriageSymptomUnknown));
        assert_eq!(e.field_error("exposures").map(|f| f.code), Some(ErrorCode::TriageSymptomUnknown));
    }

    #[test]
    fn temperatures_parse_or_explain() {
        let r = rules();
        assert_eq!(parse_temperature("37.3", &r).unwrap(), Some(373));
        assert_eq!(parse_temperature(" 38 ℃", &r).unwrap(), Some(380));
        assert_eq!(parse_temperature("", &r).unwrap(), None);
        for bad in ["3.73", "373", "37.35", "abc", "-37.0", "37.", ".5", "45.0", "20.0"] {
            let e = parse_temperature(bad, &r).unwrap_err();
            assert_eq!(e.field_error("temperature").map(|f| f.code), Some(ErrorCode::TriageTemperature), "{bad}");
        }
    }
}
