//! A `Patient` resource sent to create: mapped onto the registration form the
//! counter uses, remembering which element each form field came from so a
//! refused field names its element. The hospital card number and the health
//! card id are the server's to assign: sent ones are ignored. An identifier
//! of a system that is not an ID document of ours (another hospital's record
//! number, another organisation's card number, one with no system) is kept
//! as received. Elements Dayi does not keep (a second phone, e-mail,
//! photo…) are dropped, as FHIR allows; the answer shows what was stored.

use dayi_core::ErrorCode;
use dayi_core::error::Checks;
use dayi_core::patient::{ForeignId, MAX_FOREIGN_IDS, NewPatient};
use serde_json::Value;

use super::outcome::{FhirError, Paths};
use super::resource::{
    EXT_ETHNICITY, EXT_GUARDIAN_ID, EXT_INSURANCE, EXT_NATIONALITY, EXT_REGION, HEALTH_CARD, RELATION_SYSTEM, V2_0131,
    V3_ROLE, document_kind, hospital_no_system, sex_code, split_name,
};

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

/// The extension with this URL and its value's code (`valueCoding` or `valueCode`).
fn extension<'a>(v: &'a Value, url: &str) -> Option<&'a Value> {
    list(v, "extension").iter().find(|e| text(e, "url") == Some(url))
}

fn ext_code<'a>(v: &'a Value, url: &str) -> Option<&'a str> {
    let e = extension(v, url)?;
    text(e, "valueCode").or_else(|| e.get("valueCoding").and_then(|c| text(c, "code")))
}

/// A HumanName as one string: its text, or the parts in the order the name is written.
fn name_of(n: &Value) -> Option<String> {
    if let Some(t) = text(n, "text") {
        return Some(t.to_string());
    }
    let family = text(n, "family").unwrap_or("");
    let given: Vec<&str> = list(n, "given").iter().filter_map(Value::as_str).collect();
    let han = split_name(&format!("{family}{}", given.concat())).is_some();
    let s = if han { format!("{family}{}", given.concat()) } else { format!("{} {family}", given.join(" ")) };
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The first phone of a telecom list, with its index.
fn first_phone(v: &Value) -> Option<(usize, &str)> {
    list(v, "telecom").iter().enumerate().find_map(|(i, t)| {
        let phone = matches!(text(t, "system"), Some("phone") | Some("sms"));
        if phone { text(t, "value").map(|p| (i, p)) } else { None }
    })
}

fn has_coding(concepts: &[Value], system: &str, codes: &[&str]) -> bool {
    concepts
        .iter()
        .flat_map(|c| list(c, "coding"))
        .any(|c| text(c, "system") == Some(system) && text(c, "code").is_some_and(|code| codes.contains(&code)))
}

fn relation_code(concepts: &[Value]) -> Option<&str> {
    concepts
        .iter()
        .flat_map(|c| list(c, "coding"))
        .find(|c| text(c, "system") == Some(RELATION_SYSTEM))
        .and_then(|c| text(c, "code"))
}

struct Intake {
    form: NewPatient,
    foreign: Vec<ForeignId>,
    paths: Paths,
    checks: Checks,
}

/// What a Patient resource brings: the registration form, the identifiers
/// of other systems, and where each form field came from.
#[derive(Debug)]
pub struct Intaken {
    pub form: NewPatient,
    pub foreign: Vec<ForeignId>,
    pub paths: Paths,
}

impl Intake {
    /// A problem with an element that is not a form field of its own.
    fn refuse(&mut self, path: String, code: ErrorCode, why: &str) {
        self.checks.add(&path, code, [why]);
        self.paths.set(path.clone(), path);
    }

    fn names(&mut self, r: &Value) {
        let names = list(r, "name");
        let i = names.iter().position(|n| text(n, "use") == Some("official")).unwrap_or(0);
        if let Some(n) = names.get(i).and_then(name_of) {
            self.form.name = n;
            self.paths.set("name", format!("Patient.name[{i}]"));
        }
    }

    fn identifiers(&mut self, r: &Value, org_code: &str) {
        let mut doc_at = None;
        for (i, id) in list(r, "identifier").iter().enumerate() {
            let system = text(id, "system").unwrap_or("");
            if system == HEALTH_CARD || system == hospital_no_system(org_code) {
                continue;
            }
            let path = format!("Patient.identifier[{i}]");
            let Some((kind, country)) = document_kind(system) else {
                self.foreign(&path, system, text(id, "value").unwrap_or(""));
                continue;
            };
            if doc_at.is_some() {
                self.refuse(path, ErrorCode::InvalidFormat, "每位患者只登记一种证件");
                continue;
            }
            doc_at = Some(i);
            self.form.id_kind = kind.code().into();
            self.form.id_number = text(id, "value").unwrap_or("").into();
            if self.form.id_number.is_empty() {
                self.refuse(format!("{path}.value"), ErrorCode::Required, "");
            }
            if let Some(c) = country {
                self.form.nationality = c;
                self.paths.set("nationality", format!("{path}.system"));
            }
            for f in ["id_kind", "id_number"] {
                self.paths.set(f, path.clone());
            }
        }
    }

    /// An identifier of another system, kept as received once checked.
    fn foreign(&mut self, path: &str, system: &str, value: &str) {
        match ForeignId::parse(system, value) {
            Err((code, why)) => {
                // The value alone passes: the system is what is wrong.
                let at = if ForeignId::parse("", value).is_ok() { "system" } else { "value" };
                self.refuse(format!("{path}.{at}"), code, &why);
            }
            Ok(_) if self.foreign.len() >= MAX_FOREIGN_IDS => {
                let why = format!("每位患者最多登记 {MAX_FOREIGN_IDS} 个外部标识");
                self.refuse(path.to_string(), ErrorCode::InvalidFormat, &why);
            }
            Ok(id) if self.foreign.contains(&id) => {}
            Ok(id) => self.foreign.push(id),
        }
    }

    fn nationality(&mut self, r: &Value) {
        let Some(e) = extension(r, EXT_NATIONALITY) else { return };
        let code = list(e, "extension")
            .iter()
            .find(|x| text(x, "url") == Some("code"))
            .and_then(|x| x.get("valueCodeableConcept"))
            .map(|c| list(c, "coding"))
            .and_then(|c| c.first())
            .and_then(|c| text(c, "code"))
            .map(str::to_ascii_uppercase);
        let Some(code) = code else { return };
        let path = format!("Patient.extension('{EXT_NATIONALITY}')");
        if self.form.nationality.is_empty() {
            self.form.nationality = code;
            self.paths.set("nationality", path);
        } else if self.form.nationality != code {
            // A passport's namespace already names its country.
            let country = self.form.nationality.clone();
            self.checks.add(&path, ErrorCode::NationalityMismatch, [country]);
            self.paths.set(path.clone(), path);
        }
    }

    fn contacts(&mut self, r: &Value) {
        let (mut guardian, mut emergency) = (false, false);
        for (j, c) in list(r, "contact").iter().enumerate() {
            let at = format!("Patient.contact[{j}]");
            let rel = list(c, "relationship");
            let prefix = if has_coding(rel, V3_ROLE, &["GUARD"]) {
                if std::mem::replace(&mut guardian, true) {
                    self.refuse(at, ErrorCode::InvalidFormat, "只能登记一位监护人");
                    continue;
                }
                "guardian"
            } else if has_coding(rel, V2_0131, &["C", "EP"]) {
                if std::mem::replace(&mut emergency, true) {
                    self.refuse(at, ErrorCode::InvalidFormat, "只能登记一位紧急联系人");
                    continue;
                }
                "emergency"
            } else {
                let why = format!("联系人须标明角色：监护人（{V3_ROLE} GUARD）或紧急联系人（{V2_0131} C）");
                self.refuse(format!("{at}.relationship"), ErrorCode::InvalidFormat, &why);
                continue;
            };
            let name = c.get("name").and_then(name_of).unwrap_or_default();
            let relation = relation_code(rel).unwrap_or("").to_string();
            let phone = first_phone(c);
            let phone_path = phone.map_or(format!("{at}.telecom"), |(i, _)| format!("{at}.telecom[{i}]"));
            let phone = phone.map(|(_, p)| p.to_string()).unwrap_or_default();
            self.paths.set(format!("{prefix}_name"), format!("{at}.name"));
            self.paths.set(format!("{prefix}_relation"), format!("{at}.relationship"));
            self.paths.set(format!("{prefix}_phone"), phone_path);
            if prefix == "guardian" {
                let id = extension(c, EXT_GUARDIAN_ID).and_then(|e| {
                    text(e, "valueString").or_else(|| e.get("valueIdentifier").and_then(|i| text(i, "value")))
                });
                self.form.guardian_id_number = id.unwrap_or("").into();
                self.paths.set("guardian_id_number", format!("{at}.extension('{EXT_GUARDIAN_ID}')"));
                (self.form.guardian_name, self.form.guardian_relation, self.form.guardian_phone) =
                    (name, relation, phone);
            } else {
                (self.form.emergency_name, self.form.emergency_relation, self.form.emergency_phone) =
                    (name, relation, phone);
            }
        }
    }
}

/// The registration form a resource describes, the identifiers of other
/// systems it carries, and where each form field came from. `org_code`
/// names our own card numbers, which are ignored.
pub fn form(r: &Value, org_code: &str) -> Result<Intaken, FhirError> {
    let mut t = Intake { form: NewPatient::default(), foreign: vec![], paths: Paths::default(), checks: Checks::new() };
    // In the resource's element order, so refusals list the way the resource reads.
    t.identifiers(r, org_code);
    t.nationality(r);
    t.form.ethnicity = ext_code(r, EXT_ETHNICITY).unwrap_or("").into();
    t.form.insurance = ext_code(r, EXT_INSURANCE).unwrap_or("").into();
    t.names(r);
    if let Some((i, p)) = first_phone(r) {
        t.form.phone = p.into();
        t.paths.set("phone", format!("Patient.telecom[{i}]"));
    }
    if let Some(g) = text(r, "gender") {
        match sex_code(g) {
            Some(code) => t.form.sex = code.into(),
            None => t.refuse("Patient.gender".into(), ErrorCode::ChoiceInvalid, g),
        }
    }
    t.form.birth_date = text(r, "birthDate").unwrap_or("").into();
    let addresses = list(r, "address");
    let i = addresses.iter().position(|a| text(a, "use") == Some("home")).unwrap_or(0);
    if let Some(a) = addresses.get(i) {
        let parts = ["state", "city", "district"].map(|k| text(a, k).unwrap_or(""));
        let lines: Vec<&str> = list(a, "line").iter().filter_map(Value::as_str).collect();
        t.form.address = text(a, "text").map(String::from).unwrap_or_else(|| parts.concat() + &lines.concat());
        t.form.region_code = ext_code(a, EXT_REGION).unwrap_or("").into();
        t.paths.set("address", format!("Patient.address[{i}]"));
        t.paths.set("region_code", format!("Patient.address[{i}].extension('{EXT_REGION}')"));
    }
    t.contacts(r);
    match t.checks.finish() {
        Ok(()) => Ok(Intaken { form: t.form, foreign: t.foreign, paths: t.paths }),
        Err(e) => Err(FhirError(e, t.paths)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_full_resource_fills_the_form() {
        let r = json!({
            "resourceType": "Patient",
            "identifier": [
                { "system": "https://dayi.org.cn/fhir/sid/hospital-no/x", "value": "1000000001" },
                { "system": "urn:oid:2.16.156.10011.1.3", "value": "11010519491231002X" }
            ],
            "name": [{ "use": "nickname", "text": "小张" }, { "use": "official", "family": "张", "given": ["三"] }],
            "gender": "female",
            "telecom": [{ "system": "email", "value": "a@b.cn" }, { "system": "phone", "value": "13812345678" }],
            "address": [{ "text": "济宁市汶上县", "extension": [{ "url": EXT_REGION, "valueCoding": { "code": "370830" } }] }],
            "extension": [{ "url": EXT_ETHNICITY, "valueCoding": { "code": "01" } }],
            "contact": [{
                "relationship": [{ "coding": [{ "system": V2_0131, "code": "C" }, { "system": RELATION_SYSTEM, "code": "30" }] }],
                "name": { "text": "张丽" },
                "telecom": [{ "system": "phone", "value": "13953754321" }]
            }]
        });
        let Intaken { form: f, foreign, paths: p } = form(&r, "x").unwrap();
        assert!(foreign.is_empty(), "our own card number is ours to assign: {foreign:?}");
        assert_eq!((f.name.as_str(), f.sex.as_str()), ("张三", "2"));
        assert_eq!((f.id_kind.as_str(), f.id_number.as_str()), ("resident_id", "11010519491231002X"));
        assert_eq!((f.phone.as_str(), f.region_code.as_str(), f.ethnicity.as_str()), ("13812345678", "370830", "01"));
        assert_eq!((f.emergency_name.as_str(), f.emergency_relation.as_str()), ("张丽", "30"));
        assert_eq!(p.of("id_number"), "Patient.identifier[1]");
        assert_eq!(p.of("name"), "Patient.name[1]");
        assert_eq!(p.of("phone"), "Patient.telecom[1]");
        assert_eq!(p.of("emergency_phone"), "Patient.contact[0].telecom[0]");
    }

    #[test]
    fn bad_elements_are_refused_where_they_are() {
        let r = json!({
            "identifier": [{ "system": "urn:example:mrn" }, { "system": "urn:a b", "value": "1" }],
            "gender": "M",
            "contact": [{ "name": { "text": "李四" } }]
        });
        let e = form(&r, "x").unwrap_err();
        let got: Vec<String> = e.0.fields.iter().map(|f| e.1.of(&f.field)).collect();
        assert_eq!(
            got,
            [
                "Patient.identifier[0].value",
                "Patient.identifier[1].system",
                "Patient.gender",
                "Patient.contact[0].relationship"
            ]
        );
    }

    #[test]
    fn other_systems_identifiers_are_kept() {
        let r = json!({ "identifier": [
            { "system": "http://hospital.example.org/mrn", "value": "12345" },
            { "value": "A-77" },
            { "system": "https://dayi.org.cn/fhir/sid/hospital-no/other", "value": "1000000009" },
            { "system": "https://dayi.org.cn/fhir/sid/hospital-no/x", "value": "1000000001" },
            { "system": "http://hospital.example.org/mrn", "value": "12345" },
        ] });
        let got = form(&r, "x").unwrap().foreign;
        let want = [
            ("http://hospital.example.org/mrn", "12345"),
            ("", "A-77"),
            ("https://dayi.org.cn/fhir/sid/hospital-no/other", "1000000009"),
        ];
        assert_eq!(got, want.map(|(s, v)| ForeignId { system: s.into(), value: v.into() }));
        let many: Vec<Value> = (0..11).map(|i| json!({ "system": "urn:x", "value": i.to_string() })).collect();
        let e = form(&json!({ "identifier": many }), "x").unwrap_err();
        assert_eq!(e.1.of(&e.0.fields[0].field), "Patient.identifier[10]");
    }

    #[test]
    fn a_passport_names_its_country() {
        let r = json!({ "identifier": [{ "system": "http://hl7.org/fhir/sid/passport-KOR", "value": "M12345678" }] });
        let f = form(&r, "x").unwrap().form;
        assert_eq!((f.id_kind.as_str(), f.nationality.as_str()), ("passport", "KOR"));
        let latin = json!({ "name": [{ "family": "Kim", "given": ["Min", "Su"] }] });
        assert_eq!(form(&latin, "x").unwrap().form.name, "Min Su Kim");
    }
}
