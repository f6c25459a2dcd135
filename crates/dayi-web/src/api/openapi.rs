//! The OpenAPI document and a browsable page for it (Swagger UI, vendored).
//!
//! Operations come from the handlers' `#[utoipa::path]` attributes and their
//! bodies from the `ToSchema` derives on the types the handlers really take
//! and return. `conventions` then adds what every operation shares: failures
//! as problem+json and the credentials the route table asks for.

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::{admin, billing, booking, card, chronic, lab, patient, portal, queue, roster, system, triage, visit};
use crate::error::{FieldProblem, Problem};
use crate::routes::{Need, specs};

#[derive(OpenApi)]
#[openapi(
    info(title = "大医 Dayi API", description = "县乡医院信息系统接口。Errors are RFC 9457 problem+json with a stable `code`. \
        Authenticate with a session cookie (browser; send `X-CSRF-Token` on writes) or `Authorization: Bearer <token>`; \
        the patient portal (`/portal/api/`) with the `dayi_portal` cookie its sign-in sets."),
    paths(
        system::healthz, system::me, document, browse,
        admin::staff_list, admin::staff_create, admin::dept_list, admin::dept_create,
        admin::audit_search, admin::audit_verify, admin::token_list, admin::token_create, admin::token_revoke,
        patient::register, patient::search, patient::get, patient::unmask, patient::duplicates, patient::merge,
        patient::undo_merge, card::static_code, card::dynamic_code, card::uses, card::resolve,
        queue::panel, queue::choose, queue::pause, queue::next, queue::call, queue::act, queue::transfer, queue::boards,
        queue::events, queue::position, queue::position_events, triage::preview, triage::record, triage::register,
        roster::sessions, roster::create_session, roster::board, roster::stop, roster::create_template, roster::generate,
        booking::book, booking::walk_in, booking::add_slot, booking::get, booking::cancel, booking::of_patient,
        booking::check_in, booking::messages,
        portal::code, portal::login, portal::sessions, portal::book, portal::bookings, portal::cancel,
        visit::open, visit::get, visit::record, visit::diagnoses, visit::order, visit::cancel, visit::execute, visit::finish,
        visit::certify, visit::add_template, visit::templates, visit::search, visit::edit,
        billing::due, billing::pay, billing::refund, billing::receipt, billing::close, billing::payments, billing::open,
        billing::close_day, billing::closing, billing::notify, billing::portal_due, billing::portal_pay,
        billing::portal_payment, billing::portal_payments,
        chronic::file, chronic::enrol, chronic::followup, chronic::screen, chronic::close, chronic::dismiss,
        chronic::proposals, chronic::worklist, chronic::indicators, chronic::behind, chronic::area, chronic::set_area,
        lab::worklist, lab::collect, lab::receive, lab::reject, lab::show, lab::enter, lab::verify, lab::published,
        lab::trend, lab::alerts, lab::ack, lab::portal_results, lab::portal_trend,
    ),
    // Inside tuples utoipa inlines a schema without collecting what it refers to: those are listed here.
    components(schemas(Problem, FieldProblem, dayi_core::chronic::Class, dayi_core::chronic::Next)),
    tags((name = "system", description = "健康检查、当前用户与本文档"), (name = "chronic", description = "慢病管理（三高共管）"), (name = "staff", description = "用户管理"), (name = "org", description = "机构与科室"),
         (name = "audit", description = "审计日志"), (name = "security", description = "安全：接口令牌"),
         (name = "patient", description = "患者主索引"), (name = "card", description = "电子健康卡与一码通用"),
         (name = "queue", description = "叫号：医生叫号、显示屏与事件流"), (name = "triage", description = "预检分诊"),
         (name = "booking", description = "排班、挂号与签到"), (name = "visit", description = "门诊医生站"),
         (name = "catalog", description = "目录：诊断、收费项目、药品、中医适宜技术"), (name = "billing", description = "收费、退费、日结与支付回调"),
         (name = "lab", description = "检验：采集、签收、结果、审核、危急值"),
         (name = "portal", description = "患者端"))
)]
pub struct ApiDoc;

/// The document as served.
pub fn spec() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    conventions(&mut doc);
    doc
}

/// What every operation shares, added once rather than on each handler.
fn conventions(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "bearer": { "type": "http", "scheme": "bearer", "description": "dayi_<org>_<secret>, issued on /security" },
        "session": { "type": "apiKey", "in": "cookie", "name": "dayi_session" },
        "portal": { "type": "apiKey", "in": "cookie", "name": "dayi_portal" },
    });
    drop_empty_defaults(&mut doc["components"]["schemas"]);
    let problem = json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } });
    let routes = specs();
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            // Failures are problems: a declared error status gets the body, and any other 4xx is covered.
            if let Some(responses) = op["responses"].as_object_mut() {
                for (status, r) in responses.iter_mut() {
                    if (status.starts_with('4') || status.starts_with('5')) && r.get("content").is_none() {
                        r["content"] = problem.clone();
                    }
                }
                responses.entry("4XX").or_insert_with(
                    || json!({ "description": "请求被拒绝：见 `code`（problem+json）", "content": problem.clone() }),
                );
            }
            // The credential the route table asks for.
            let need = routes.iter().find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method));
            op["security"] = match need.map(|r| r.need) {
                Some(Need::Public) => json!([]),
                Some(Need::Patient) => json!([{ "portal": [] }]),
                _ => json!([{ "bearer": [] }, { "session": [] }]),
            };
        }
    }
}

/// Form types keep numbers, ids and codes as text, so the `default` utoipa
/// takes from `Default` is `""`: not a value of the type the field declares
/// (integer, uuid, date, one of the codes). Omitting the field is the default.
fn drop_empty_defaults(schemas: &mut Value) {
    for schema in schemas.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        // `get_mut`, not indexing: an index would add `"properties": null` to the enums.
        let props = schema.get_mut("properties").and_then(Value::as_object_mut);
        for prop in props.into_iter().flat_map(|m| m.values_mut()) {
            let typed_text = prop.get("$ref").is_some() || prop.get("format").is_some() || prop["type"] != "string";
            if prop.get("default") == Some(&json!("")) && typed_text {
                prop.as_object_mut().map(|p| p.remove("default"));
            }
        }
    }
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/openapi.json", tag = "system",
    responses((status = 200, description = "the OpenAPI document", body = Value)))]
pub async fn document() -> Response {
    Json(spec()).into_response()
}

/// The document in Swagger UI.
#[utoipa::path(get, path = "/api/docs", tag = "system",
    responses((status = 200, description = "Swagger UI", content_type = "text/html", body = String)))]
pub async fn browse() -> Html<&'static str> {
    Html(include_str!("../../templates/openapi_ui.html"))
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
