//! The OpenAPI document and a browsable page for it (Swagger UI, vendored).

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;

use super::{admin, patient, queue, system};

#[derive(OpenApi)]
#[openapi(
    info(title = "大医 Dayi API", description = "县乡医院信息系统接口。Errors are RFC 9457 problem+json with a stable `code`. \
        Authenticate with a session cookie (browser; send `X-CSRF-Token` on writes) or `Authorization: Bearer <token>`."),
    paths(
        system::healthz, system::me,
        admin::staff_list, admin::staff_create, admin::dept_list, admin::dept_create,
        admin::audit_search, admin::audit_verify, admin::token_list, admin::token_create, admin::token_revoke,
        patient::register, patient::search, patient::get, patient::unmask, patient::duplicates, patient::merge,
        patient::undo_merge, patient::card_static, patient::card_dynamic, patient::card_uses, patient::resolve,
        queue::panel, queue::choose, queue::pause, queue::next, queue::call, queue::act, queue::transfer, queue::boards,
        queue::position, queue::triage_preview, queue::triage, queue::triage_register,
    ),
    tags((name = "system", description = "健康检查与当前用户"), (name = "staff", description = "用户管理"), (name = "org", description = "机构与科室"),
         (name = "audit", description = "审计日志"), (name = "security", description = "安全：接口令牌"),
         (name = "patient", description = "患者主索引"), (name = "card", description = "电子健康卡与一码通用"),
         (name = "queue", description = "叫号：医生叫号、显示屏（事件流 GET /api/queue/events）"), (name = "triage", description = "预检分诊"),
         (name = "portal", description = "患者端"))
)]
pub struct ApiDoc;

pub async fn document() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

pub async fn browse() -> Html<&'static str> {
    Html(include_str!("../../templates/openapi_ui.html"))
}
