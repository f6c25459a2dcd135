//! `GET /fhir/metadata`: what this server does, for clients to discover.
//! Public, as FHIR clients ask before they sign in.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{FHIR_VERSION, MEDIA_TYPE, json};

pub async fn capabilities() -> Response {
    let param = |name: &str, kind: &str, doc: &str| json!({ "name": name, "type": kind, "documentation": doc });
    let dept = super::schedule::dept_system("{机构代码}");
    let dept_doc = format!("仅支持 actor:identifier=[system|]科室代码，system 为 {dept}");
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
            }, {
                "type": "Schedule",
                "documentation": "出诊：一位医生在一个科室的半天门诊。serviceType 为号别（普通/专家/特需）",
                "interaction": [{ "code": "read" }, { "code": "search-type" }],
                "versioning": "no-version",
                "searchParam": [
                    param("date", "date", "出诊日期，前缀 eq ge gt le lt；未给出时为今天起 8 天，跨度最多 92 天"),
                    param("actor", "reference", &dept_doc),
                    param("service-type", "token", "号别：general | expert | special"),
                    param("active", "token", "true 出诊 | false 停诊"),
                ],
            }, {
                "type": "Slot",
                "documentation": "号源：出诊的每个号，id 为 {出诊 id}-{号序}；加号为 overbooked",
                "interaction": [{ "code": "read" }, { "code": "search-type" }],
                "versioning": "no-version",
                "searchParam": [
                    param("schedule", "reference", "必填：Schedule/{id}"),
                    param("status", "token", "free | busy | busy-unavailable（停诊）"),
                ],
            }, {
                "type": "Appointment",
                "documentation": "预约/挂号；identifier 为挂号流水号。查阅记入审计日志",
                "interaction": [{ "code": "read" }, { "code": "search-type" }],
                "versioning": "no-version",
                "searchParam": [
                    param("patient", "reference", "必填：Patient/{id}；返回昨天及以后的预约（最多 100 个）"),
                    param("status", "token", "booked | arrived（已签到）| cancelled（含停诊退号）| noshow"),
                ],
            }],
        }],
    });
    json(StatusCode::OK, &body)
}
