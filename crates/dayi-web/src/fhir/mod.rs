//! HL7 FHIR R4 (4.0.1) over JSON: `Patient` read, search and create, mapped
//! from the same patient records the console uses, and a `CapabilityStatement`
//! at `/fhir/metadata`. Every failure is an `OperationOutcome`
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
//! card number), `name` (Chinese name prefix, full pinyin or initials), `phone`
//! (mobile number) select; `birthdate` (`eq ne gt lt ge le sa eb`, partial dates)
//! and `gender` only narrow a selection, since listing everyone born on a day
//! is not a lookup a station needs. Each selecting value runs the app's search
//! (which audits it); several parameters intersect, comma-separated values unite.

mod intake;
pub mod metadata;
pub mod outcome;
pub mod patient;
mod resource;
mod search;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

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
