//! A patient record as a FHIR `Patient` resource (the masked view), and the
//! namespaces both directions share. See the module doc of `fhir` for why
//! each system was chosen.

use dayi_app::patient::PatientView;
use dayi_app::records::Org;
use dayi_core::identity::IdKind;
use dayi_core::patient::{ForeignId, Insurance, Relation};
use serde_json::{Value, json};

use super::{CODE_SYSTEM, SID};

pub const RESIDENT_ID: &str = "urn:oid:2.16.156.10011.1.3";
pub const PASSPORT_PREFIX: &str = "http://hl7.org/fhir/sid/passport-";
pub const HEALTH_CARD: &str = "https://dayi.org.cn/fhir/sid/health-card";

pub const ETHNICITY_SYSTEM: &str = "urn:oid:2.16.156.10011.2.3.3.3";
pub const RELATION_SYSTEM: &str = "urn:oid:2.16.156.10011.2.3.3.8";
pub const ISO_3166: &str = "urn:iso:std:iso:3166";
pub const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
pub const V2_0131: &str = "http://terminology.hl7.org/CodeSystem/v2-0131";
pub const V3_ROLE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
const V3_OBSERVATION_VALUE: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

pub const EXT_NATIONALITY: &str = "http://hl7.org/fhir/StructureDefinition/patient-nationality";
pub const EXT_ETHNICITY: &str = "https://dayi.org.cn/fhir/StructureDefinition/ethnicity";
pub const EXT_INSURANCE: &str = "https://dayi.org.cn/fhir/StructureDefinition/insurance-type";
pub const EXT_REGION: &str = "https://dayi.org.cn/fhir/StructureDefinition/region-code";
pub const EXT_GUARDIAN_ID: &str = "https://dayi.org.cn/fhir/StructureDefinition/guardian-id-number";

pub fn region_system() -> String {
    format!("{CODE_SYSTEM}/gb-t-2260")
}

pub fn insurance_system() -> String {
    format!("{CODE_SYSTEM}/insurance-type")
}

/// The hospital card numbers of one organisation.
pub fn hospital_no_system(org_code: &str) -> String {
    format!("{SID}/hospital-no/{org_code}")
}

/// The namespace of an ID document's number. A passport's names its country.
pub fn document_system(kind: IdKind, nationality: Option<&str>) -> String {
    let ours = |s: &str| format!("{SID}/{s}");
    match kind {
        IdKind::ResidentId => RESIDENT_ID.into(),
        IdKind::Passport => match nationality {
            Some(n) => format!("{PASSPORT_PREFIX}{n}"),
            None => ours("passport"),
        },
        IdKind::ForeignPr => ours("foreign-pr"),
        IdKind::HkMoTwResidence => ours("hk-mo-tw-residence"),
        IdKind::HkMoTravel => ours("hk-mo-travel"),
        IdKind::TwTravel => ours("tw-travel"),
        IdKind::Other => ours("other-id"),
    }
}

/// The document kind (and, for a passport, the issuing country) of a namespace.
pub fn document_kind(system: &str) -> Option<(IdKind, Option<String>)> {
    if let Some(country) = system.strip_prefix(PASSPORT_PREFIX) {
        let ok = country.len() == 3 && country.bytes().all(|b| b.is_ascii_alphabetic());
        return ok.then(|| (IdKind::Passport, Some(country.to_ascii_uppercase())));
    }
    IdKind::ALL.iter().copied().find(|k| document_system(*k, None) == system).map(|k| (k, None))
}

/// The v2-0203 identifier type, where one fits.
pub(super) fn id_type(code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": V2_0203, "code": code, "display": display }] })
}

fn document_type(kind: IdKind) -> Option<Value> {
    match kind {
        IdKind::ResidentId => Some(id_type("NI", "National unique individual identifier")),
        IdKind::Passport => Some(id_type("PPN", "Passport number")),
        IdKind::ForeignPr => Some(id_type("PRC", "Permanent Resident Card Number")),
        _ => None,
    }
}

/// Compound surnames (复姓), so 欧阳娜娜 is family 欧阳, given 娜娜.
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "轩辕",
    "令狐", "端木", "万俟", "澹台", "单于", "百里", "呼延", "南宫", "西门", "独孤", "司空", "闻人", "钟离", "申屠",
    "赫连", "拓跋", "鲜于", "闾丘", "左丘", "淳于", "濮阳", "公冶", "太叔", "宗政", "第五",
];

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9fff}' | '\u{20000}'..='\u{2ffff}')
}

/// Family and given name of a Chinese name. Names written otherwise (with ·,
/// or in Latin letters) have no reliable split and stay as text only.
pub fn split_name(name: &str) -> Option<(&str, &str)> {
    if name.chars().count() < 2 || !name.chars().all(is_han) {
        return None;
    }
    let cut = COMPOUND_SURNAMES
        .iter()
        .find(|s| name.starts_with(**s) && name.len() > s.len())
        .map(|s| s.len())
        .unwrap_or_else(|| name.chars().next().map_or(0, char::len_utf8));
    Some(name.split_at(cut))
}

pub(super) fn human_name(name: &str) -> Value {
    let mut n = json!({ "use": "official", "text": name });
    if let Some((family, given)) = split_name(name) {
        n["family"] = json!(family);
        n["given"] = json!([given]);
    }
    n
}

fn phone(value: &str) -> Value {
    let kind = if value.starts_with('1') { "mobile" } else { "home" };
    json!({ "system": "phone", "value": value, "use": kind })
}

fn relation_coding(zh: Option<&str>) -> Option<Value> {
    let r = Relation::ALL.iter().find(|r| Some(r.zh()) == zh)?;
    Some(json!({ "system": RELATION_SYSTEM, "code": r.code(), "display": r.zh() }))
}

fn contact(role: Value, name: &Option<String>, relation: Option<&str>, tel: &Option<String>) -> Value {
    let mut codings = vec![role];
    codings.extend(relation_coding(relation));
    let mut c = json!({ "relationship": [{ "coding": codings }] });
    if let Some(n) = name {
        c["name"] = human_name(n);
    }
    if let Some(t) = tel {
        c["telecom"] = json!([phone(t)]);
    }
    c
}

fn contacts(v: &PatientView) -> Vec<Value> {
    let mut out = vec![];
    if v.guardian_name.is_some() {
        let role = json!({ "system": V3_ROLE, "code": "GUARD", "display": "guardian" });
        let mut c = contact(role, &v.guardian_name, v.guardian_relation, &v.guardian_phone);
        if let Some(id) = &v.guardian_id_number {
            let value = json!({ "system": RESIDENT_ID, "value": id });
            c["extension"] = json!([{ "url": EXT_GUARDIAN_ID, "valueIdentifier": value }]);
        }
        out.push(c);
    }
    if v.emergency_name.is_some() {
        let role = json!({ "system": V2_0131, "code": "C", "display": "Emergency Contact" });
        out.push(contact(role, &v.emergency_name, v.emergency_relation, &v.emergency_phone));
    }
    out
}

fn gender(sex: &str) -> &'static str {
    match sex {
        "1" => "male",
        "2" => "female",
        "9" => "other",
        _ => "unknown",
    }
}

/// GB/T 2261.1 code for a FHIR gender.
pub fn sex_code(gender: &str) -> Option<&'static str> {
    match gender {
        "male" => Some("1"),
        "female" => Some("2"),
        "unknown" => Some("0"),
        "other" => Some("9"),
        _ => None,
    }
}

fn extensions(v: &PatientView) -> Vec<Value> {
    let mut out = vec![];
    if let Some(code) = &v.ethnicity {
        let coding = json!({ "system": ETHNICITY_SYSTEM, "code": code, "display": v.ethnicity_name });
        out.push(json!({ "url": EXT_ETHNICITY, "valueCoding": coding }));
    }
    if let Some(n) = &v.nationality {
        let code = json!({ "coding": [{ "system": ISO_3166, "code": n }] });
        out.push(json!({ "url": EXT_NATIONALITY, "extension": [{ "url": "code", "valueCodeableConcept": code }] }));
    }
    if Insurance::parse(&v.insurance).is_some() {
        let coding = json!({ "system": insurance_system(), "code": v.insurance, "display": v.insurance_name });
        out.push(json!({ "url": EXT_INSURANCE, "valueCoding": coding }));
    }
    out
}

fn identifiers(v: &PatientView, org: &Org) -> Vec<Value> {
    let mut out = vec![];
    if let (Some(kind), Some(number)) = (v.id_kind.as_deref().and_then(IdKind::parse), &v.id_number) {
        let mut id =
            json!({ "use": "official", "system": document_system(kind, v.nationality.as_deref()), "value": number });
        if let Some(t) = document_type(kind) {
            id["type"] = t;
        }
        out.push(id);
    }
    out.push(json!({
        "use": "usual",
        "type": id_type("MR", "Medical record number"),
        "system": hospital_no_system(&org.code),
        "value": v.hospital_no,
        "assigner": { "display": org.name },
    }));
    out.push(json!({
        "use": "secondary",
        "type": id_type("HC", "Health Card Number"),
        "system": HEALTH_CARD,
        "value": v.card_id,
    }));
    out
}

/// An identifier another system gave the patient, as it was received (a
/// record number, not a document of ours: not masked).
fn foreign_identifier(id: &ForeignId) -> Value {
    match id.system.as_str() {
        "" => json!({ "value": id.value }),
        s => json!({ "system": s, "value": id.value }),
    }
}

/// The resource for a (masked) record, with the identifiers other systems gave it.
pub fn patient(v: &PatientView, org: &Org, foreign: &[ForeignId]) -> Value {
    let mut ids = identifiers(v, org);
    ids.extend(foreign.iter().map(foreign_identifier));
    let mut r = json!({
        "resourceType": "Patient",
        "id": v.id.to_string(),
        "identifier": ids,
        "active": v.merged_into.is_none(),
        "name": [human_name(&v.name)],
        "gender": gender(&v.sex),
        "birthDate": v.birth_date,
    });
    let masked = !v.unmasked
        && (v.id_number.is_some()
            || v.phone.is_some()
            || v.emergency_phone.is_some()
            || v.guardian_id_number.is_some()
            || v.guardian_phone.is_some());
    r["meta"] = json!({ "versionId": v.version.to_string(), "lastUpdated": super::instant(v.version) });
    if masked {
        let label = json!({ "system": V3_OBSERVATION_VALUE, "code": "MASKED", "display": "masked" });
        r["meta"]["security"] = json!([label]);
    }
    let ext = extensions(v);
    if !ext.is_empty() {
        r["extension"] = json!(ext);
    }
    if let Some(p) = &v.phone {
        r["telecom"] = json!([phone(p)]);
    }
    if v.address.is_some() || v.region_code.is_some() {
        let mut a = json!({ "use": "home" });
        if let Some(t) = &v.address {
            a["text"] = json!(t);
        }
        if let Some(code) = &v.region_code {
            let coding = json!({ "system": region_system(), "code": code });
            a["extension"] = json!([{ "url": EXT_REGION, "valueCoding": coding }]);
        }
        r["address"] = json!([a]);
    }
    let c = contacts(v);
    if !c.is_empty() {
        r["contact"] = json!(c);
    }
    // A merged record only forwards to the one it was merged into.
    if let Some(to) = v.merged_into {
        r["link"] = json!([{ "other": { "reference": format!("Patient/{to}") }, "type": "replaced-by" }]);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_surname() {
        assert_eq!(split_name("张三"), Some(("张", "三")));
        assert_eq!(split_name("欧阳娜娜"), Some(("欧阳", "娜娜")));
        assert_eq!(split_name("欧阳"), Some(("欧", "阳")));
        assert_eq!(split_name("阿依古丽·买买提"), None);
        assert_eq!(split_name("John Smith"), None);
        assert_eq!(split_name("李"), None);
    }

    #[test]
    fn document_systems_round_trip() {
        for k in IdKind::ALL {
            let nat = (*k == IdKind::Passport).then_some("KOR");
            let want = (*k, nat.map(String::from));
            assert_eq!(document_kind(&document_system(*k, nat)), Some(want), "{k}");
        }
        assert_eq!(document_system(IdKind::ResidentId, None), "urn:oid:2.16.156.10011.1.3");
        assert_eq!(document_kind("http://hl7.org/fhir/sid/passport-chn"), Some((IdKind::Passport, Some("CHN".into()))));
        assert_eq!(document_kind(HEALTH_CARD), None);
        assert_eq!(document_kind("http://hl7.org/fhir/sid/passport-XX"), None);
    }

    #[test]
    fn genders_follow_gb_t_2261_1() {
        for code in ["0", "1", "2", "9"] {
            assert_eq!(sex_code(gender(code)), Some(code));
        }
        assert_eq!(sex_code("M"), None);
    }
}
