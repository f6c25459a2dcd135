//! The OpenAPI document and a browsable page for it (Swagger UI, vendored).

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;

use super::{admin, billing, booking, chronic, lab, patient, portal, queue, system, visit};

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
        booking::sessions, booking::create_session, booking::board, booking::stop, booking::create_template, booking::generate, booking::book, booking::walk_in, booking::add_slot, booking::get, booking::cancel, booking::of_patient, booking::check_in, booking::messages,
        portal::code, portal::login, portal::sessions, portal::book, portal::bookings, portal::cancel,
        visit::open, visit::get, visit::record, visit::diagnoses, visit::order, visit::cancel, visit::execute, visit::finish, visit::certify, visit::add_template, visit::templates, visit::search, visit::edit,
        billing::due, billing::pay, billing::refund, billing::receipt, billing::close, billing::payments, billing::open, billing::close_day, billing::closing, billing::notify, billing::portal_due, billing::portal_pay, billing::portal_payment, billing::portal_payments,
        chronic::file, chronic::enrol, chronic::followup, chronic::screen, chronic::close, chronic::dismiss, chronic::proposals, chronic::worklist, chronic::indicators, chronic::behind, chronic::area, chronic::set_area,
        lab::worklist, lab::collect, lab::receive, lab::reject, lab::show, lab::enter, lab::verify, lab::published, lab::trend, lab::alerts, lab::ack, lab::portal_results, lab::portal_trend,
    ),
    tags((name = "system", description = "健康检查与当前用户"), (name = "chronic", description = "慢病管理（三高共管）"), (name = "staff", description = "用户管理"), (name = "org", description = "机构与科室"),
         (name = "audit", description = "审计日志"), (name = "security", description = "安全：接口令牌"),
         (name = "patient", description = "患者主索引"), (name = "card", description = "电子健康卡与一码通用"),
         (name = "queue", description = "叫号：医生叫号、显示屏（事件流 GET /api/queue/events）"), (name = "triage", description = "预检分诊"),
         (name = "booking", description = "排班、挂号与签到"), (name = "visit", description = "门诊医生站"),
         (name = "catalog", description = "目录：诊断、收费项目、药品、中医适宜技术"), (name = "billing", description = "收费、退费、日结与支付回调"),
         (name = "lab", description = "检验：采集、签收、结果、审核、危急值"),
         (name = "portal", description = "患者端"))
)]
pub struct ApiDoc;

pub async fn document() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

pub async fn browse() -> Html<&'static str> {
    Html(include_str!("../../templates/openapi_ui.html"))
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
