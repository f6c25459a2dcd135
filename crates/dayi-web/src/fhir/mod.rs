//! HL7 FHIR R4 (4.0.1) over JSON: `Patient` read, search, create and update, mapped
//! from the same patient records the console uses; `Schedule`, `Slot` and
//! `Appointment` from the roster and bookings; `Encounter`, `Condition`,
//! `ServiceRequest` and `MedicationRequest` from the outpatient visits;
//! `Observation` and `DiagnosticReport` from the published lab results;
//! `Practitioner`, `PractitionerRole`, `Organization` and `Location` from the
//! staff accounts, departments and rostered rooms; and a
//! `CapabilityStatement` at `/fhir/metadata`. Every failure is an `OperationOutcome`
//! (`error::respond` sends `/fhir` paths to [`outcome`]).
//!
//! # Identifier systems
//!
//! National namespaces are used where one exists; the rest are ours, under
//! `https://dayi.org.cn/fhir/sid/`.
//!
//! | record | `Identifier.system` | source |
//! |---|---|---|
//! | 居民身份证号 | `urn:oid:2.16.156.10011.1.3` | the national health-information OID arc (2.16.156.10011, WS/T 682-2020) as the shared-document standards (WS/T 483, WS/T 500) assign it to 患者身份证号标识 |
//! | 护照 | `http://hl7.org/fhir/sid/passport-{ISO 3166 alpha-3}` | HL7 Terminology NamingSystems `passportNumNS-*` (e.g. `passport-CHN`, OID 2.16.840.1.113883.4.330.156) |
//! | 外国人永久居留身份证 | `https://dayi.org.cn/fhir/sid/foreign-pr` | ours |
//! | 港澳台居民居住证 | `https://dayi.org.cn/fhir/sid/hk-mo-tw-residence` | ours |
//! | 港澳居民来往内地通行证 | `https://dayi.org.cn/fhir/sid/hk-mo-travel` | ours |
//! | 台湾居民来往大陆通行证 | `https://dayi.org.cn/fhir/sid/tw-travel` | ours |
//! | 其他证件 | `https://dayi.org.cn/fhir/sid/other-id` | ours |
//! | 电子健康卡 id | `https://dayi.org.cn/fhir/sid/health-card` | ours: the card id is issued by Dayi, not by the national card platform, so the national 健康卡号 OID (2.16.156.10011.1.19) would claim too much |
//! | 就诊卡号 | `https://dayi.org.cn/fhir/sid/hospital-no/{organisation code}` | ours: each organisation numbers its own patients, so the namespace names the organisation |
//! | 标本条码 | `https://dayi.org.cn/fhir/sid/specimen/{organisation code}` | ours: each organisation numbers its own tubes (date and daily sequence) |
//! | 挂号流水号 | `https://dayi.org.cn/fhir/sid/reg-no/{organisation code}` | ours: numbered per organisation (department code, date, daily sequence) |
//! | 科室代码 | `https://dayi.org.cn/fhir/sid/dept/{organisation code}` | ours: each organisation codes its own departments |
//! | 机构代码 | `https://dayi.org.cn/fhir/sid/org` | ours: the code Dayi gives each organisation of the community (the sign-in form's), not the national 医疗机构登记号 |
//! | 工号 | `https://dayi.org.cn/fhir/sid/staff/{organisation code}` | ours: the staff member's sign-in name, which is the work number the hospital issues; each organisation numbers its own staff |
//!
//! Identifiers of other systems (another hospital's record number, another
//! country's number, one with no `system`) are kept as received and read
//! back as sent (`system` left out when there was none): they are record
//! numbers of others, not documents of ours, so they are not masked. Within
//! a system one identifier names one person.
//!
//! Codes: ethnicity GB/T 3304 (`urn:oid:2.16.156.10011.2.3.3.3`), family
//! relation GB/T 4761 (`urn:oid:2.16.156.10011.2.3.3.8`), both the national
//! value-domain OIDs; region GB/T 2260 and insurance type under
//! `https://dayi.org.cn/fhir/CodeSystem/`. Gender: GB/T 2261.1 codes 1, 2, 0, 9
//! are `male`, `female`, `unknown`, `other` (9 "not stated/not applicable"
//! follows HL7's map of v2 `N` to `other`).
//!
//! # Masking
//!
//! Read and search answer the masked view (ID numbers and phones keep their
//! ends, PIPL): the resource then carries the security label `MASKED`. Search
//! by identifier or phone still matches the full value, server-side.
//!
//! # Search
//!
//! `identifier` (`system|value`, exact; resident ID, health card and hospital
//! card number, or another system's identifier; a bare value matches any
//! system, `|value` one that named none), `name` (Chinese name prefix, full pinyin or initials), `phone`
//! (mobile number) select; `birthdate` (`eq ne gt lt ge le sa eb`, partial dates)
//! and `gender` only narrow a selection, since listing everyone born on a day
//! is not a lookup a station needs. Each selecting value runs the app's search
//! (which audits it); several parameters intersect, comma-separated values unite.
//!
//! # Booking
//!
//! A clinic session (出诊: one doctor's half-day in one department) is a
//! `Schedule`, each of its numbered slots (号源) a `Slot` with id
//! `{session id}-{slot number}`, and a booking or registration (预约/挂号) an
//! `Appointment`, identified by its registration number (挂号流水号) under
//! `https://dayi.org.cn/fhir/sid/reg-no/{organisation code}`. The clinic type
//! (普通/专家/特需) is the `serviceType`, coded in
//! `https://dayi.org.cn/fhir/CodeSystem/clinic-type`; the department is a
//! `HealthcareService` identified by its code under
//! `https://dayi.org.cn/fhir/sid/dept/{organisation code}`. Times are Beijing
//! time (`+08:00`). Appointment reads and searches go through the app's
//! booking reads, which audit them as accesses to the patient's record.
//!
//! # Visits
//!
//! An outpatient visit (门诊就诊) is an `Encounter` (class `AMB` of v3
//! ActCode; `in-progress` while open, then `finished`; `period` from opening
//! to finishing; the doctor a `participant` of type `ATND`, a `Practitioner`
//! reference with the name; `serviceProvider` the department's
//! `Organization`, by reference and by its code; `appointment` the
//! booking it came from; `reasonCode` the chief complaint). Each diagnosis is
//! a `Condition` with id `{visit id}-{number}` (`encounter-diagnosis`,
//! `active`, `confirmed`, recorded by the doctor), ranked in
//! `Encounter.diagnosis`: the primary diagnosis 1, the others in the
//! doctor's order. Orders are `ServiceRequest`s (lab, exam, treatment, TCM
//! technique) or `MedicationRequest`s (drugs: dose with its UCUM unit where
//! it has one, `Timing.repeat` from the frequency, route as text,
//! `boundsDuration` and `expectedSupplyDuration` the days, the packs to
//! dispense). Order statuses: ordered and paid are `active`, executed
//! `completed`; cancelled (before payment) and refunded orders were never
//! carried out, so `revoked` (ServiceRequest) or `cancelled`
//! (MedicationRequest, with the reason). The exact state rides in the
//! extension `https://dayi.org.cn/fhir/StructureDefinition/order-status`.
//!
//! | code | `Coding.system` | source |
//! |---|---|---|
//! | 西医诊断（ICD-10 国家临床版 2.0） | `https://dayi.org.cn/fhir/CodeSystem/icd-10-cn-clinical-2.0` | ours: the national clinical edition has no published URI or OID for FHIR, and it is not WHO's ICD-10 (`http://hl7.org/fhir/sid/icd-10`), whose codes stop at four characters |
//! | 医保版 2.0 诊断编码 | `https://dayi.org.cn/fhir/CodeSystem/icd-10-cn-nhsa-2.0` | ours, for the insurance edition (医保疾病诊断分类与代码); a second coding when the catalogue has it |
//! | 中医病证（GB/T 15657-2021） | `https://dayi.org.cn/fhir/CodeSystem/gb-t-15657` | ours, named after the standard as GB/T 2260 is |
//! | 医疗服务项目（检验、检查、治疗、中医适宜技术） | `https://dayi.org.cn/fhir/CodeSystem/medical-service-item` | ours: 全国医疗服务价格项目规范 codes with the catalogue's local sub-items |
//! | 医保医疗服务项目编码 | `https://dayi.org.cn/fhir/CodeSystem/nhsa-service-item` | ours; a second coding when the catalogue has it |
//! | 本院药品编码 | `https://dayi.org.cn/fhir/CodeSystem/drug/{organisation code}` | ours: each organisation keeps its own drug catalogue |
//! | 医保药品编码 | `https://dayi.org.cn/fhir/CodeSystem/nhsa-drug` | ours; a second coding when the catalogue has it |
//! | 医嘱类别、医嘱状态、用药频次 | `https://dayi.org.cn/fhir/CodeSystem/order-kind`, `…/order-status`, `…/frequency` | ours (频次 keeps the Latin abbreviations qd, bid, tid …) |
//!
//! Reading any of these needs `clinical` (a doctor's account or token; the
//! cashier's is refused); every read and search is audited as an access to
//! the patient's record (`visit.read`, `visit.search`, `diagnosis.*`,
//! `order.*`). Searches need `patient` (or `subject`), `encounter` or `_id`;
//! `status`, `date` (Encounter: the visit's day) and `code` narrow. They
//! answer pages of `_count` (default 50, at most 200), newest first, with
//! `next` and `previous` links (`_offset`).
//!
//! # Lab results
//!
//! Only verified (审核发布) results leave the lab, and of a corrected result
//! only its current version. Each current result of a verified test is an
//! `Observation` (id the result's): category `laboratory`; `code` the LOINC
//! code where the catalogue has one plus our item code with its Chinese
//! name; `valueQuantity` in the catalogue's unit, coded in UCUM where it maps
//! (`10^9/L` → `10*9/L`, `μmol/L` → `umol/L`, `mIU/L` → `m[IU]/L` …), or
//! `valueString` for a text result (尿蛋白 `2+`); `interpretation` the flag
//! (v3 ObservationInterpretation N, L, H, LL, HH, A); `referenceRange` the
//! range it was judged by, for the patient's sex and age, as low/high and
//! text; `effectiveDateTime` when it was entered, `issued` when verified,
//! `performer` the verifier by name; `specimen` the tube by its barcode (no
//! `Specimen` resource yet); `device` the analyzer when one sent it; `status`
//! `final`, or `corrected` once a correction (with its reason as a `note`)
//! has been verified. Each verified test is a `DiagnosticReport` (category
//! `LAB` of v2 table 0074) with the lab order's id, `basedOn` that order's
//! `ServiceRequest`, `code` the panel, `effectiveDateTime` the collection,
//! `issued` the verification, `resultsInterpreter` the verifier and `result`
//! its observations in the catalogue's order; `corrected` when any of them is.
//! Searches take `patient`/`subject`, `encounter`, `_id`, `code`, `date`
//! (Observation: the day entered; DiagnosticReport: the day collected),
//! `category` and `status`, as the visit searches do; the reads need
//! `clinical` and are audited per patient (`lab.observation.*`,
//! `lab.report.*`).
//!
//! | code | `Coding.system` | source |
//! |---|---|---|
//! | LOINC | `http://loinc.org` | the catalogue's `loinc` column, where known |
//! | 检验指标 | `https://dayi.org.cn/fhir/CodeSystem/lab-item/{organisation code}` | ours: each organisation may replace the lab catalogue (`lab.catalog`) |
//! | 检验项目组合 | `https://dayi.org.cn/fhir/CodeSystem/lab-panel/{organisation code}` | ours, as the items |
//!
//! # Directory
//!
//! Each staff account that holds a work role is a `Practitioner` (id the
//! account's; identifier the 工号; name split as a patient's) and a
//! `PractitionerRole` with the same id: `code` its roles, `organization`
//! and `specialty` its department. The three security duties are left out
//! of the roles, and accounts that hold nothing else (and kiosks) out of
//! the directory: it tells who does what in care, not who holds the keys.
//! Staff records hold no phone, so none is exposed. The hospital is an
//! `Organization` of type `prov`, each department one of type `dept` and
//! `partOf` the hospital, identified as above. Each consulting room a
//! department's roster names is a `Location` (`physicalType` `ro`) managed
//! by that department; rooms have no table, so the id is a name-based UUID
//! (v5) of the department and the room's name. Wherever the staff id is at
//! hand, other resources reference these: the doctor of a visit
//! (`Encounter.participant`, `Condition.recorder`, `*Request.requester`) and
//! of a session (`Schedule.actor`, `Appointment.participant`), the lab's
//! verifier (`Observation.performer`, `DiagnosticReport.resultsInterpreter`),
//! the department (`Encounter.serviceProvider`), the hospital
//! (`DiagnosticReport.performer`) and the room; a visiting expert without an
//! account stays a name. Reading needs `console`, which every staff role
//! holds (a kiosk does not); searches read the organisation's records whole
//! and select, and page by `_count` and `_offset`.
//!
//! | code | `Coding.system` | source |
//! |---|---|---|
//! | 机构、科室类别 | `http://terminology.hl7.org/CodeSystem/organization-type` (`prov`, `dept`) and ours `…/CodeSystem/org-kind`, `…/CodeSystem/dept-kind` | HL7 for the kind of unit; ours for 县级医院/乡镇卫生院 …, 临床/医技/行政职能科室 |
//! | 工作人员角色 | `https://dayi.org.cn/fhir/CodeSystem/staff-role` | ours: the codes of `dayi_core::security::Role` |
//! | 科室（专科） | `https://dayi.org.cn/fhir/CodeSystem/dept/{organisation code}` | ours: the department codes as a code system, for `PractitionerRole.specialty` |

//!
//! # What every search shares
//!
//! A search with no parameter walks every record of the type by keyset (see
//! `keyset`): `next` links carry the last id shown as `_cursor`, the first
//! page counts. A search that only narrows is refused as `too-costly`; the
//! CapabilityStatement names the parameters each type requires.
//!
//! `_summary=count` answers the total alone; `_include` follows the
//! references each type lists in `searchInclude` of the CapabilityStatement
//! (the included resources are read by their own reads: checked and
//! audited); a parameter a type does not know is dropped with a warning, or
//! refused (400) under `Prefer: handling=strict`. See [`params`].
//!
//! # Versions
//!
//! A Patient's `meta.versionId` (and `ETag: W/"…"`) is its last change in
//! microseconds. `PUT /fhir/Patient/{id}` needs `If-Match` with the version
//! read: 428 without one, 412 when someone changed the record meanwhile.
//!
//! # Import
//!
//! `POST /fhir` takes a `transaction` (all or nothing) or `batch` Bundle of
//! `POST` entries; `dayi import fhir` reads Bundles and NDJSON. Patients are
//! registered under the same rules as at the counter; clinical resources
//! (`dayi_app::import::OUTSIDE_KINDS`) are kept as outside records, tagged
//! `https://dayi.org.cn/fhir/CodeSystem/record-source|outside`, and read back
//! through the Encounter, Condition, Observation and DiagnosticReport reads.
//! Re-importing the same data writes nothing (see [`bundle`]).

pub mod appointment;
pub mod bundle;
pub mod careplan;
pub mod condition;
mod directory;
pub mod encounter;
mod keyset;
pub mod location;
pub mod metadata;
pub mod observation;
pub mod organization;
pub mod outcome;
pub mod outside;
pub mod params;
pub mod patient;
mod patient_form;
pub mod practitioner;
pub mod practitioner_role;
pub mod report;
pub mod request;
mod resource;
pub mod schedule;
mod search;
pub mod slot;
mod visit_search;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dayi_core::timefmt::{CST, from_micros};
use dayi_core::{DomainError, ErrorCode};
// `json` here is the response function; the macro is named in full.
use serde_json::Value;
use uuid::Uuid;

pub use outcome::FhirError;

pub const MEDIA_TYPE: &str = "application/fhir+json";
pub const FHIR_VERSION: &str = "4.0.1";

/// Our namespaces for identifiers and code systems.
pub const SID: &str = "https://dayi.org.cn/fhir/sid";
pub const CODE_SYSTEM: &str = "https://dayi.org.cn/fhir/CodeSystem";

/// A FHIR JSON body with its media type.
pub fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    r
}

/// The absolute base of the FHIR endpoint as the client reached it, for
/// `Bundle.entry.fullUrl` (which FHIR wants absolute).
pub fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("{}://{host}/fhir", if tls { "https" } else { "http" })
}

/// An instant as a FHIR `instant` in Beijing time, e.g. `2026-11-23T08:00:00+08:00`.
pub fn instant(us: i64) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
    );
    from_micros(us).to_offset(CST).format(&fmt).unwrap_or_default()
}

/// The weak ETag of a resource version, `W/"{versionId}"`, as FHIR writes it.
pub fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("W/\"{version}\"")).unwrap_or(HeaderValue::from_static("W/\"0\""))
}

/// The version an update names in `If-Match` (`W/"3"`, `"3"` or `3`).
/// Updates must name one (428), so no one's change is overwritten unseen.
pub fn if_match(headers: &HeaderMap) -> Result<i64, DomainError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Err(DomainError::new(ErrorCode::VersionRequired));
    };
    let raw = v.to_str().unwrap_or("").trim();
    let tag = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    tag.parse::<i64>().map_err(|_| bad(format!("If-Match「{raw}」应为 W/\"版本号\"")))
}

/// A refused search parameter (400), the reason in Chinese.
fn bad(msg: impl ToString) -> DomainError {
    DomainError::with(ErrorCode::BadRequest, [msg.to_string()])
}

/// A search that only narrows (400 `too-costly`): serving it would read
/// every record of the organisation for each page. The reason names what
/// to add; with no parameter at all the same search walks every record.
fn too_costly(msg: impl ToString) -> DomainError {
    DomainError::with(ErrorCode::SearchTooCostly, [msg.to_string()])
}

/// `_count`: how many matches to include (the total still counts them all).
/// A search by a required reference plus optional `status` and `_count`
/// (Slot by schedule, Appointment by patient). Repeated parameters intersect;
/// comma-separated values within one unite.
struct RefSearch {
    ids: Vec<Uuid>,
    statuses: Vec<Vec<String>>,
    count: Option<usize>,
}

fn ref_search(
    query: &str,
    param: &str,
    kind: &str,
    allowed: &[&str],
    status_hint: &str,
    missing: &str,
) -> Result<RefSearch, DomainError> {
    let mut refs: Vec<Vec<Uuid>> = vec![];
    let mut statuses: Vec<Vec<String>> = vec![];
    let mut count = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let values = || v.split(',').map(str::trim).filter(|x| !x.is_empty());
        match k.as_ref() {
            "status" => {
                let codes = values().map(|x| match allowed.contains(&x) {
                    true => Ok(x.to_string()),
                    false => Err(bad(format!("status「{x}」应为 {status_hint}"))),
                });
                statuses.push(codes.collect::<Result<_, _>>()?);
            }
            "_count" => count = Some(count_of(&v)?),
            k if k == param => refs.push(values().map(|x| reference_id(param, kind, x)).collect::<Result<_, _>>()?),
            k if k.contains(':') => return Err(bad(format!("不支持检索修饰符「{k}」"))),
            _ => {}
        }
    }
    let Some((first, rest)) = refs.split_first() else {
        return Err(too_costly(format!("{missing}；不带任何检索参数时按 next 链接逐页列出全部")));
    };
    let mut ids: Vec<Uuid> = vec![];
    for id in first {
        if rest.iter().all(|r| r.contains(id)) && !ids.contains(id) {
            ids.push(*id);
        }
    }
    Ok(RefSearch { ids, statuses, count })
}

fn count_of(v: &str) -> Result<usize, DomainError> {
    v.trim().parse::<usize>().map_err(|_| bad(format!("_count「{v}」应为非负整数")))
}

/// The id in a reference search value: `{kind}/{id}`, an absolute URL ending
/// in it, or the bare id. Our logical ids are UUIDs.
fn reference_id(param: &str, kind: &str, v: &str) -> Result<Uuid, DomainError> {
    let v = v.trim();
    let id = match v.rsplit_once('/') {
        Some((head, id)) if head == kind || head.ends_with(&format!("/{kind}")) => id,
        Some(_) => return Err(bad(format!("{param}「{v}」应为 {kind}/{{id}}"))),
        None => v,
    };
    Uuid::parse_str(id).map_err(|_| bad(format!("{param}「{v}」应为 {kind}/{{id}}，id 为本系统的资源 id")))
}

/// A `searchset` Bundle of `resources` (those shown of `total`
/// matches), with an `OperationOutcome` entry for a warning.
fn searchset(
    base: &str,
    kind: &str,
    query: &str,
    total: usize,
    resources: Vec<Value>,
    warning: Option<String>,
) -> Value {
    let mut entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let url = format!("{base}/{kind}/{id}");
            serde_json::json!({ "fullUrl": url, "resource": r, "search": { "mode": "match" } })
        })
        .collect();
    if let Some(w) = warning {
        entries.push(serde_json::json!({
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{ "severity": "warning", "code": "too-costly", "diagnostics": w }],
            },
            "search": { "mode": "outcome" },
        }));
    }
    let sep = if query.is_empty() { "" } else { "?" };
    serde_json::json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{ "relation": "self", "url": format!("{base}/{kind}{sep}{query}") }],
        "entry": entries,
    })
}

/// The query without paging parameters, then the page's own.
fn page_query(query: &str, count: usize, offset: usize) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "_count" && k != "_offset" {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair("_count", &count.to_string());
    out.append_pair("_offset", &offset.to_string());
    out.finish()
}

/// Adds `next` and `previous` links to a searchset page of `count` from
/// `offset` when there are more matches either side.
fn link_pages(b: &mut Value, base: &str, kind: &str, query: &str, count: usize, offset: usize, total: usize) {
    let link = |relation: &str, at: usize| serde_json::json!({ "relation": relation, "url": format!("{base}/{kind}?{}", page_query(query, count, at)) });
    if let Some(links) = b["link"].as_array_mut() {
        if count > 0 && offset + count < total {
            links.push(link("next", offset + count));
        }
        if offset > 0 && count > 0 {
            links.push(link("previous", offset.saturating_sub(count)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_in_beijing_time() {
        let t = time::macros::datetime!(2026-11-23 02:00:00 UTC);
        assert_eq!(instant(dayi_core::timefmt::to_micros(t)), "2026-11-23T10:00:00+08:00");
    }

    #[test]
    fn references_name_their_kind() {
        let id = Uuid::now_v7();
        for v in [format!("Schedule/{id}"), format!("http://h/fhir/Schedule/{id}"), id.to_string()] {
            assert_eq!(reference_id("schedule", "Schedule", &v).unwrap(), id, "{v}");
        }
        for v in [format!("Patient/{id}"), "Schedule/abc".into(), format!("xSchedule/{id}")] {
            assert!(reference_id("schedule", "Schedule", &v).is_err(), "{v}");
        }
    }
}
