//! `GET /fhir/metadata`: what this server does, for clients to discover.
//! Public, as FHIR clients ask before they sign in.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{FHIR_VERSION, MEDIA_TYPE, json};

pub async fn capabilities() -> Response {
    let param = |name: &str, kind: &str, doc: &str| json!({ "name": name, "type": kind, "documentation": doc });
    let body = json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": dayi_core::timefmt::today_cst().to_string(),
        "publisher": "Dayi",
        "kind": "instance",
        "software": { "name": "Dayi 大医", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Dayi 县域医院信息系统 FHIR R4 接口" },
        "fhirVersion": FHIR_VERSION,
        "format": [MEDIA_TYPE, "json"],
        "rest": [{
            "mode": "server",
            "documentation": "需登录：会话（写操作带 X-CSRF-Token）或接口令牌（Authorization: Bearer）。证件号码和电话以脱敏形式返回。",
            "security": {
                "description": "接口令牌（Authorization: Bearer dayi_…）或登录会话；权限 patient.read / patient.write",
            },
            "resource": [{
                "type": "Patient",
                "interaction": [{ "code": "read" }, { "code": "search-type" }, { "code": "create" }],
                "versioning": "no-version",
                "updateCreate": false,
                "searchParam": [
                    param("identifier", "token", "system|value，精确匹配：居民身份证号、电子健康卡、就诊卡号"),
                    param("name", "string", "汉字姓名（前缀）、拼音全拼或首字母"),
                    param("phone", "token", "11 位手机号"),
                    param("birthdate", "date", "须与 name、identifier 或 phone 组合使用"),
                    param("gender", "token", "male | female | other | unknown；须与 name、identifier 或 phone 组合使用"),
                ],
            }],
        }],
    });
    json(StatusCode::OK, &body)
}
