//! The route table. Every route is declared with what it needs (public,
//! signed in, or a permission), so the permission-matrix test can walk all
//! of them; the check itself is done by the use case in `dayi_app`.

use axum::Router;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::response::Response;
use axum::routing::{MethodRouter, delete, get, post, put};
use dayi_core::security::Perm;
use dayi_core::{DomainError, ErrorCode};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::respond;
use crate::principal::Ctx;
use crate::{AppState, api, assets, metrics, pages, principal};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Public,
    /// Any signed-in account.
    Login,
    /// A session that still owes its second factor.
    Pending,
    Perm(Perm),
    /// Any one of these.
    AnyPerm(&'static [Perm]),
    /// A patient signed in to the portal (staff accounts do not apply).
    Patient,
}

impl Need {
    pub fn allows(&self, roles: &dayi_core::security::Roles) -> bool {
        match self {
            Need::Public | Need::Login | Need::Pending => true,
            Need::Perm(p) => roles.allows(*p),
            Need::AnyPerm(ps) => ps.iter().any(|p| roles.allows(*p)),
            Need::Patient => false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub need: Need,
}

struct Table {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Table {
    fn add(mut self, method: Method, path: &'static str, need: Need, mr: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, mr);
        self.specs.push(RouteSpec { method, path, need });
        self
    }
    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::GET, path, need, get(h))
    }
    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::POST, path, need, post(h))
    }
    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::PUT, path, need, put(h))
    }
    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, need: Need, h: H) -> Self {
        self.add(Method::DELETE, path, need, delete(h))
    }
}

const STAFF_VIEW: &[Perm] = &[Perm::StaffManage, Perm::SecurityManage];
/// The roster and a session's board (names masked): the counter, clinicians and the roster keeper.
const ROSTER_VIEW: &[Perm] = &[Perm::PatientRead, Perm::Schedule];
/// Walk-ins (the counter) and added slots (the doctor) from a session's board.
const BOARD_REGISTER: &[Perm] = &[Perm::Registration, Perm::Clinical];
/// A FHIR transaction or batch: patients need patient.write, records clinical (checked per entry).
const IMPORT: &[Perm] = &[Perm::PatientWrite, Perm::Clinical];

fn table() -> Table {
    let parts: [fn(Table) -> Table; 17] = [
        platform, auth, admin, patient, card, audit, roster, booking, triage, queue, visit, catalog, chronic, lab,
        billing, portal, fhir,
    ];
    parts.into_iter().fold(Table { router: Router::new(), specs: vec![] }, |t, part| part(t))
}

/// Health, metrics, static files, language and the API's own document.
fn platform(t: Table) -> Table {
    use Need::*;
    t.get("/healthz", Public, api::system::healthz)
        .get("/metrics", Public, metrics::render)
        .get("/static/{*path}", Public, assets::serve)
        .get("/api/openapi.json", Public, api::openapi::document)
        .get("/api/docs", Public, api::openapi::browse)
        .get("/api/me", Login, api::system::me)
}

/// Sign-in, the second factor, and the security officer's pages and tokens.
fn auth(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/lang/{code}", Public, pages::auth::set_lang)
        .get("/login", Public, pages::auth::login_form)
        .post("/login", Public, pages::auth::login_submit)
        .get("/login/totp", Pending, pages::auth::totp_form)
        .post("/login/totp", Pending, pages::auth::totp_submit)
        .get("/login/enrol", Pending, pages::auth::enrol_form)
        .post("/login/enrol", Pending, pages::auth::enrol_submit)
        .post("/logout", Login, pages::auth::logout)
        .get("/security", Perm(P::SecurityManage), pages::security::overview)
        .post("/security/roles", Perm(P::SecurityManage), pages::security::role_totp)
        .post("/security/staff/{id}/unlock", Perm(P::SecurityManage), pages::security::unlock)
        .post("/security/staff/{id}/totp-reset", Perm(P::SecurityManage), pages::security::totp_reset)
        .post("/security/staff/{id}/totp-require", Perm(P::SecurityManage), pages::security::totp_require)
        .post("/security/tokens", Perm(P::SecurityManage), pages::security::token_create)
        .post("/security/tokens/{id}/revoke", Perm(P::SecurityManage), pages::security::token_revoke)
}

/// The console home, departments and staff accounts.
fn admin(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/", Perm(P::Console), pages::home::home)
        .get("/admin/staff", AnyPerm(STAFF_VIEW), pages::admin::staff_list)
        .post("/admin/staff", Perm(P::StaffManage), pages::admin::staff_create)
        .post("/admin/staff/{id}/password", Perm(P::StaffManage), pages::admin::staff_password)
        .post("/admin/staff/{id}/active", Perm(P::StaffManage), pages::admin::staff_active)
        .get("/admin/depts", Perm(P::OrgManage), pages::admin::dept_list)
        .post("/admin/depts", Perm(P::OrgManage), pages::admin::dept_create)
        .get("/api/staff", AnyPerm(STAFF_VIEW), api::admin::staff_list)
        .post("/api/staff", Perm(P::StaffManage), api::admin::staff_create)
        .get("/api/depts", Perm(P::Console), api::admin::dept_list)
        .post("/api/depts", Perm(P::OrgManage), api::admin::dept_create)
        .get("/api/audit", Perm(P::AuditRead), api::admin::audit_search)
        .get("/api/audit/verify", Perm(P::AuditRead), api::admin::audit_verify)
        .get("/api/tokens", Perm(P::SecurityManage), api::admin::token_list)
        .post("/api/tokens", Perm(P::SecurityManage), api::admin::token_create)
        .delete("/api/tokens/{id}", Perm(P::SecurityManage), api::admin::token_revoke)
}

/// The patient index: registration, search, records, merges.
fn patient(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/patients", Perm(P::PatientRead), pages::patient::list)
        .post("/patients", Perm(P::PatientWrite), pages::patient::create)
        .get("/patients/new", Perm(P::PatientWrite), pages::patient::new_form)
        .get("/patients/duplicates", Perm(P::PatientMerge), pages::patient::duplicates)
        .post("/patients/merges", Perm(P::PatientMerge), pages::patient::merge)
        .post("/patients/merges/{id}/undo", Perm(P::PatientMerge), pages::patient::undo_merge)
        .get("/patients/{id}", Perm(P::PatientRead), pages::patient::show)
        .post("/patients/{id}/unmask", Perm(P::PatientUnmask), pages::patient::unmask)
        .get("/patients/{id}/qr", Perm(P::PatientRead), pages::patient::dynamic_qr)
        .get("/patients/{id}/card", Perm(P::PatientRead), pages::patient::print_card)
        .post("/api/patients", Perm(P::PatientWrite), api::patient::register)
        .get("/api/patients", Perm(P::PatientRead), api::patient::search)
        .get("/api/patients/{id}", Perm(P::PatientRead), api::patient::get)
        .post("/api/patients/{id}/unmask", Perm(P::PatientUnmask), api::patient::unmask)
        .get("/api/patients/{id}/duplicates", Perm(P::PatientRead), api::patient::duplicates)
        .post("/api/patients/merges", Perm(P::PatientMerge), api::patient::merge)
        .post("/api/patients/merges/{id}/undo", Perm(P::PatientMerge), api::patient::undo_merge)
}

/// The health card: one code for every station.
fn card(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/station", Perm(P::PatientRead), pages::card::form)
        .post("/station", Perm(P::PatientRead), pages::card::submit)
        .get("/api/patients/{id}/card/static", Perm(P::PatientRead), api::card::static_code)
        .get("/api/patients/{id}/card/dynamic", Perm(P::PatientRead), api::card::dynamic_code)
        .get("/api/patients/{id}/card-uses", Perm(P::PatientRead), api::card::uses)
        .post("/api/card/resolve", Perm(P::PatientRead), api::card::resolve)
}

/// The audit log: search, verification and purging.
fn audit(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/audit", Perm(P::AuditRead), pages::audit::search)
        .get("/audit/verify", Perm(P::AuditRead), pages::audit::verify)
        .post("/audit/purge", Perm(P::AuditPurge), pages::audit::purge)
}

/// Rosters, sessions and their boards.
fn roster(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/roster", AnyPerm(ROSTER_VIEW), pages::roster::roster)
        .post("/roster", Perm(P::Schedule), pages::roster::add)
        .post("/roster/generate", Perm(P::Schedule), pages::roster::generate)
        .get("/roster/sessions/{id}", AnyPerm(ROSTER_VIEW), pages::roster::board)
        .post("/roster/sessions/{id}/stop", Perm(P::Schedule), pages::roster::stop)
        .post("/roster/sessions/{id}/register", AnyPerm(BOARD_REGISTER), pages::roster::register_here)
        .get("/api/sessions", Login, api::roster::sessions)
        .post("/api/sessions", Perm(P::Schedule), api::roster::create_session)
        .get("/api/sessions/{id}/board", AnyPerm(ROSTER_VIEW), api::roster::board)
        .post("/api/sessions/{id}/stop", Perm(P::Schedule), api::roster::stop)
        .post("/api/roster/templates", Perm(P::Schedule), api::roster::create_template)
        .post("/api/roster/generate", Perm(P::Schedule), api::roster::generate)
}

/// Bookings, walk-ins, check-in and the kiosk.
fn booking(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/patients/{id}/book", Perm(P::Registration), pages::booking::for_patient)
        .post("/bookings", Perm(P::Registration), pages::booking::book)
        .get("/bookings/{id}", Perm(P::PatientRead), pages::booking::slip)
        .post("/bookings/{id}/cancel", Perm(P::Registration), pages::booking::cancel)
        .get("/kiosk", Perm(P::CheckIn), pages::booking::kiosk)
        .post("/kiosk", Perm(P::CheckIn), pages::booking::kiosk_scan)
        .get("/messages", Perm(P::Registration), pages::booking::messages)
        .post("/api/bookings", Perm(P::Registration), api::booking::book)
        .post("/api/walk-ins", Perm(P::Registration), api::booking::walk_in)
        .post("/api/bookings/added", Perm(P::Clinical), api::booking::add_slot)
        .get("/api/bookings/{id}", Perm(P::PatientRead), api::booking::get)
        .post("/api/bookings/{id}/cancel", Perm(P::Registration), api::booking::cancel)
        .get("/api/patients/{id}/bookings", Perm(P::PatientRead), api::booking::of_patient)
        .post("/api/check-in", Perm(P::CheckIn), api::booking::check_in)
        .get("/api/messages", Perm(P::Registration), api::booking::messages)
}

/// Pre-triage at the desk.
fn triage(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/triage", Perm(P::Triage), pages::triage::form)
        .post("/triage", Perm(P::Triage), pages::triage::submit)
        .post("/triage/find", Perm(P::Triage), pages::triage::find)
        .get("/triage/register", Perm(P::Triage), pages::triage::register)
        .post("/api/triage/preview", Perm(P::Triage), api::triage::preview)
        .post("/api/triage", Perm(P::Triage), api::triage::record)
        .get("/api/triage", Perm(P::Triage), api::triage::register)
}

/// Queue calling: panels, screens, settings and their events.
fn queue(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/queue", Perm(P::QueueCall), pages::queue::panel)
        .get("/queue/screen", Perm(P::QueueScreen), pages::queue::zone_screen)
        .get("/queue/screen/room/{id}", Perm(P::QueueScreen), pages::queue::room_screen)
        .get("/queue/settings", Perm(P::QueueManage), pages::queue::settings)
        .post("/queue/settings/voice", Perm(P::QueueManage), pages::queue::save_voice)
        .post("/queue/settings/rules", Perm(P::QueueManage), pages::queue::save_rules)
        .post("/queue/settings/priority", Perm(P::QueueManage), pages::queue::save_priority)
        .get("/api/queue/panel", Perm(P::QueueCall), api::queue::panel)
        .post("/api/queue/panel", Perm(P::QueueCall), api::queue::choose)
        .post("/api/queue/pause", Perm(P::QueueCall), api::queue::pause)
        .post("/api/queue/next", Perm(P::QueueCall), api::queue::next)
        .post("/api/queue/entries/{id}/call", Perm(P::QueueCall), api::queue::call)
        .post("/api/queue/entries/{id}/transfer", Perm(P::QueueCall), api::queue::transfer)
        .post("/api/queue/entries/{id}/{action}", Perm(P::QueueCall), api::queue::act)
        .get("/api/queue/boards", Perm(P::QueueScreen), api::queue::boards)
        .get("/api/queue/events", Perm(P::QueueScreen), api::queue::events)
        .get("/portal/api/bookings/{id}/queue", Patient, api::queue::position)
        .get("/portal/api/bookings/{id}/queue/events", Patient, api::queue::position_events)
}

/// The doctor's workstation.
fn visit(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/visits", Perm(P::Clinical), pages::visit::today)
        .post("/visits/open/{id}", Perm(P::Clinical), pages::visit::open)
        .get("/visits/catalog", AnyPerm(&[P::Clinical, P::Billing, P::Catalog]), pages::visit::suggest)
        .get("/visits/{id}", Perm(P::Clinical), pages::visit::workstation)
        .post("/visits/{id}/record", Perm(P::Clinical), pages::visit::record)
        .post("/visits/{id}/diagnoses", Perm(P::Clinical), pages::visit::diagnoses)
        .post("/visits/{id}/orders", Perm(P::Clinical), pages::visit::order)
        .post("/visits/{id}/orders/{order}/cancel", Perm(P::Clinical), pages::visit::cancel_order)
        .post("/visits/{id}/finish", Perm(P::Clinical), pages::visit::finish)
        .post("/visits/{id}/certificates", Perm(P::Clinical), pages::visit::certify)
        .post("/visits/{id}/templates", Perm(P::Clinical), pages::visit::save_template)
        .get("/certificates/{id}", Perm(P::Clinical), pages::visit::certificate)
        .get("/portal/visits", Patient, pages::visit::portal_visits)
        .post("/api/visits/open/{id}", Perm(P::Clinical), api::visit::open)
        .get("/api/visits/{id}", Perm(P::Clinical), api::visit::get)
        .post("/api/visits/{id}/record", Perm(P::Clinical), api::visit::record)
        .post("/api/visits/{id}/diagnoses", Perm(P::Clinical), api::visit::diagnoses)
        .post("/api/visits/{id}/orders", Perm(P::Clinical), api::visit::order)
        .post("/api/visits/{id}/orders/{order}/cancel", Perm(P::Clinical), api::visit::cancel)
        .post("/api/visits/{id}/orders/{order}/execute", Perm(P::Clinical), api::visit::execute)
        .post("/api/visits/{id}/finish", Perm(P::Clinical), api::visit::finish)
        .post("/api/visits/{id}/certificates", Perm(P::Clinical), api::visit::certify)
        .post("/api/visit-templates", Perm(P::Clinical), api::visit::add_template)
        .get("/api/visit-templates/{id}", Perm(P::Clinical), api::visit::templates)
        .get("/api/catalog", AnyPerm(&[P::Clinical, P::Billing, P::Catalog]), api::visit::search)
        .post("/api/catalog", Perm(P::Catalog), api::visit::edit)
}

/// The catalogues of diagnoses, items and drugs.
fn catalog(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/catalog", Perm(P::Catalog), pages::catalog::browse).post("/catalog", Perm(P::Catalog), pages::catalog::edit)
}

/// Chronic-disease management (三高共管).
fn chronic(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/chronic", Perm(P::PublicHealthWork), pages::chronic::desk)
        .get("/chronic/worklist.xlsx", Perm(P::PublicHealthWork), pages::chronic::desk_xlsx)
        .get("/chronic/proposals.xlsx", Perm(P::PublicHealthWork), pages::chronic::proposals_xlsx)
        .get("/chronic/screening.xlsx", Perm(P::PublicHealthWork), pages::chronic::screening_xlsx)
        .get("/chronic/area", Perm(P::PublicHealthManage), pages::chronic::area)
        .post("/chronic/area", Perm(P::PublicHealthManage), pages::chronic::area_save)
        .get("/chronic/patients/{id}", Perm(P::PublicHealthWork), pages::chronic::file)
        .post("/chronic/patients/{id}/enrol", Perm(P::PublicHealthWork), pages::chronic::enrol)
        .post("/chronic/patients/{id}/followups", Perm(P::PublicHealthWork), pages::chronic::followup)
        .post("/chronic/patients/{id}/screen", Perm(P::PublicHealthWork), pages::chronic::screen)
        .post("/chronic/enrolments/{id}/close", Perm(P::PublicHealthWork), pages::chronic::close)
        .post("/chronic/proposals/{id}/dismiss", Perm(P::PublicHealthWork), pages::chronic::dismiss)
        .get("/chronic/indicators", AnyPerm(&[P::PublicHealthWork, P::Reports]), pages::chronic::indicators)
        .get("/chronic/indicators.xlsx", AnyPerm(&[P::PublicHealthWork, P::Reports]), pages::chronic::indicators_xlsx)
        .get("/chronic/indicators/patients", AnyPerm(&[P::PublicHealthWork, P::Reports]), pages::chronic::behind)
        .get(
            "/chronic/indicators/patients.xlsx",
            AnyPerm(&[P::PublicHealthWork, P::Reports]),
            pages::chronic::behind_xlsx,
        )
        .get("/portal/chronic", Patient, pages::chronic::portal)
        .get("/api/chronic/patients/{id}", Perm(P::PublicHealthWork), api::chronic::file)
        .post("/api/chronic/patients/{id}/enrol", Perm(P::PublicHealthWork), api::chronic::enrol)
        .post("/api/chronic/patients/{id}/followups", Perm(P::PublicHealthWork), api::chronic::followup)
        .post("/api/chronic/patients/{id}/screenings", Perm(P::PublicHealthWork), api::chronic::screen)
        .post("/api/chronic/enrolments/{id}/close", Perm(P::PublicHealthWork), api::chronic::close)
        .post("/api/chronic/proposals/{id}/dismiss", Perm(P::PublicHealthWork), api::chronic::dismiss)
        .get("/api/chronic/area", AnyPerm(&[P::PublicHealthWork, P::PublicHealthManage]), api::chronic::area)
        .put("/api/chronic/area", Perm(P::PublicHealthManage), api::chronic::set_area)
        .get("/api/chronic/proposals", Perm(P::PublicHealthWork), api::chronic::proposals)
        .get("/api/chronic/worklist", Perm(P::PublicHealthWork), api::chronic::worklist)
        .get("/api/chronic/indicators", AnyPerm(&[P::PublicHealthWork, P::Reports]), api::chronic::indicators)
        .get("/api/chronic/indicators/patients", AnyPerm(&[P::PublicHealthWork, P::Reports]), api::chronic::behind)
}

/// Specimens, results, verification and critical values.
fn lab(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/lab", Perm(P::Lab), pages::lab::desk)
        .post("/lab/find", Perm(P::Lab), pages::lab::find)
        .post("/lab/visits/{id}/collect", Perm(P::Lab), pages::lab::collect)
        .get("/lab/labels", Perm(P::Lab), pages::lab::labels)
        .get("/lab/specimens/{barcode}", Perm(P::Lab), pages::lab::show)
        .post("/lab/specimens/{barcode}/receive", Perm(P::Lab), pages::lab::receive)
        .post("/lab/specimens/{barcode}/results", Perm(P::Lab), pages::lab::enter)
        .post("/lab/tests/{id}/verify", Perm(P::Lab), pages::lab::verify)
        .get("/lab/alerts/banner", Login, pages::lab::banner)
        .post("/lab/alerts/{id}/ack", Perm(P::Clinical), pages::lab::ack)
        .get("/portal/lab", Patient, pages::lab::portal_results)
        .get("/api/lab/worklist", Perm(P::Lab), api::lab::worklist)
        .post("/api/lab/visits/{id}/collect", Perm(P::Lab), api::lab::collect)
        .get("/api/lab/specimens/{barcode}", Perm(P::Lab), api::lab::show)
        .post("/api/lab/specimens/{barcode}/receive", Perm(P::Lab), api::lab::receive)
        .post("/api/lab/specimens/{barcode}/reject", Perm(P::Lab), api::lab::reject)
        .post("/api/lab/results", Perm(P::Lab), api::lab::enter)
        .post("/api/lab/tests/{id}/verify", Perm(P::Lab), api::lab::verify)
        .get("/api/lab/patients/{id}/results", Perm(P::Clinical), api::lab::published)
        .get("/api/lab/patients/{id}/trend/{item}", Perm(P::Clinical), api::lab::trend)
        .get("/api/lab/alerts", Perm(P::Clinical), api::lab::alerts)
        .post("/api/lab/alerts/{id}/ack", Perm(P::Clinical), api::lab::ack)
        .get("/portal/api/lab/{id}", Patient, api::lab::portal_results)
        .get("/portal/api/lab/{id}/trend/{item}", Patient, api::lab::portal_trend)
}

/// The cashier, online payment and the daily closing.
fn billing(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/billing", Perm(P::Billing), pages::billing::desk)
        .post("/billing/find", Perm(P::Billing), pages::billing::find)
        .post("/billing/pay", Perm(P::Billing), pages::billing::pay)
        .get("/billing/payments/{id}", Perm(P::Billing), pages::billing::receipt)
        .post("/billing/payments/{id}/refund", Perm(P::Billing), pages::billing::refund)
        .get("/billing/closing", Perm(P::Billing), pages::billing::closing_desk)
        .post("/billing/closing", Perm(P::Billing), pages::billing::close_day)
        .get("/billing/closings/{id}", Perm(P::Billing), pages::billing::closing)
        .get("/pay/local/{merchant}/{no}", Public, pages::billing::checkout)
        .post("/pay/local/{merchant}/{no}", Public, pages::billing::checkout_submit)
        .get("/portal/bills", Patient, pages::billing::portal_bills)
        .post("/portal/bills/pay", Patient, pages::billing::portal_pay)
        .get("/portal/payments/{id}", Patient, pages::billing::portal_receipt)
        .get("/api/billing/due/{id}", Perm(P::Billing), api::billing::due)
        .post("/api/billing/pay", Perm(P::Billing), api::billing::pay)
        .post("/api/billing/refund", Perm(P::Billing), api::billing::refund)
        .get("/api/billing/payments/{id}", Perm(P::Billing), api::billing::receipt)
        .post("/api/billing/payments/{id}/close", Perm(P::Billing), api::billing::close)
        .get("/api/billing/patients/{id}/payments", Perm(P::Billing), api::billing::payments)
        .get("/api/billing/open", Perm(P::Billing), api::billing::open)
        .post("/api/billing/closings", Perm(P::Billing), api::billing::close_day)
        .get("/api/billing/closings/{id}", Perm(P::Billing), api::billing::closing)
        .post("/api/pay/notify/{provider}/{org}", Public, api::billing::notify)
        .get("/portal/api/due/{id}", Patient, api::billing::portal_due)
        .post("/portal/api/pay", Patient, api::billing::portal_pay)
        .get("/portal/api/payments/{id}", Patient, api::billing::portal_payment)
        .get("/portal/api/patients/{id}/payments", Patient, api::billing::portal_payments)
}

/// The patient's phone: sign-in, family and booking.
fn portal(t: Table) -> Table {
    use Need::*;
    t.get("/portal/login", Public, pages::portal::login_form)
        .post("/portal/login", Public, pages::portal::login)
        .post("/portal/logout", Patient, pages::portal::logout)
        .get("/portal", Patient, pages::portal::home)
        .get("/portal/book", Patient, pages::portal::choose)
        .post("/portal/book", Patient, pages::portal::book)
        .post("/portal/bookings/{id}/cancel", Patient, pages::portal::cancel)
        .get("/portal/family", Patient, pages::portal::family)
        .post("/portal/family", Patient, pages::portal::link)
        .post("/portal/api/code", Public, api::portal::code)
        .post("/portal/api/login", Public, api::portal::login)
        .get("/portal/api/sessions", Patient, api::portal::sessions)
        .post("/portal/api/bookings", Patient, api::portal::book)
        .get("/portal/api/bookings", Patient, api::portal::bookings)
        .post("/portal/api/bookings/{id}/cancel", Patient, api::portal::cancel)
}

/// FHIR R4 (crate::fhir).
fn fhir(t: Table) -> Table {
    use Need::*;
    use dayi_core::security::Perm as P;
    t.get("/fhir/metadata", Public, crate::fhir::metadata::capabilities)
        .post("/fhir", AnyPerm(IMPORT), crate::fhir::bundle::post)
        .get("/fhir/Patient", Perm(P::PatientRead), crate::fhir::patient::search)
        .post("/fhir/Patient", Perm(P::PatientWrite), crate::fhir::patient::create)
        .get("/fhir/Patient/{id}", Perm(P::PatientRead), crate::fhir::patient::read)
        .put("/fhir/Patient/{id}", Perm(P::PatientWrite), crate::fhir::patient::update)
        .get("/fhir/Schedule", AnyPerm(ROSTER_VIEW), crate::fhir::schedule::search)
        .get("/fhir/Schedule/{id}", AnyPerm(ROSTER_VIEW), crate::fhir::schedule::read)
        .get("/fhir/Slot", AnyPerm(ROSTER_VIEW), crate::fhir::slot::search)
        .get("/fhir/Slot/{id}", AnyPerm(ROSTER_VIEW), crate::fhir::slot::read)
        .get("/fhir/Appointment", Perm(P::PatientRead), crate::fhir::appointment::search)
        .get("/fhir/Appointment/{id}", Perm(P::PatientRead), crate::fhir::appointment::read)
        .get("/fhir/Encounter", Perm(P::Clinical), crate::fhir::encounter::search)
        .get("/fhir/Encounter/{id}", Perm(P::Clinical), crate::fhir::outside::encounter)
        .get("/fhir/CarePlan", AnyPerm(&[P::Clinical, P::PublicHealthWork]), crate::fhir::careplan::search)
        .get("/fhir/CarePlan/{id}", AnyPerm(&[P::Clinical, P::PublicHealthWork]), crate::fhir::careplan::read)
        .get("/fhir/Condition", Perm(P::Clinical), crate::fhir::condition::search)
        .get("/fhir/Condition/{id}", Perm(P::Clinical), crate::fhir::outside::condition)
        .get("/fhir/ServiceRequest", Perm(P::Clinical), crate::fhir::request::search_service)
        .get("/fhir/ServiceRequest/{id}", Perm(P::Clinical), crate::fhir::request::read_service)
        .get("/fhir/MedicationRequest", Perm(P::Clinical), crate::fhir::request::search_medication)
        .get("/fhir/MedicationRequest/{id}", Perm(P::Clinical), crate::fhir::request::read_medication)
        .get("/fhir/Observation", Perm(P::Clinical), crate::fhir::observation::search)
        .get("/fhir/Observation/{id}", Perm(P::Clinical), crate::fhir::outside::observation)
        .get("/fhir/DiagnosticReport", Perm(P::Clinical), crate::fhir::report::search)
        .get("/fhir/DiagnosticReport/{id}", Perm(P::Clinical), crate::fhir::outside::report)
        // The directory: any staff member at a desk (see `dayi_app::directory`).
        .get("/fhir/Practitioner", Perm(P::Console), crate::fhir::practitioner::search)
        .get("/fhir/Practitioner/{id}", Perm(P::Console), crate::fhir::practitioner::read)
        .get("/fhir/PractitionerRole", Perm(P::Console), crate::fhir::practitioner_role::search)
        .get("/fhir/PractitionerRole/{id}", Perm(P::Console), crate::fhir::practitioner_role::read)
        .get("/fhir/Organization", Perm(P::Console), crate::fhir::organization::search)
        .get("/fhir/Organization/{id}", Perm(P::Console), crate::fhir::organization::read)
        .get("/fhir/Location", Perm(P::Console), crate::fhir::location::search)
        .get("/fhir/Location/{id}", Perm(P::Console), crate::fhir::location::read)
}

/// Every route with what it needs, for tests and documentation.
pub fn specs() -> Vec<RouteSpec> {
    table().specs
}

async fn not_found(ctx: Ctx) -> Response {
    respond(&ctx.path, &DomainError::new(ErrorCode::NotFound), ctx.lang)
}

async fn method_not_allowed(ctx: Ctx) -> Response {
    respond(&ctx.path, &DomainError::new(ErrorCode::MethodNotAllowed), ctx.lang)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let e = dayi_app::internal("handler panicked");
    crate::error::problem(&e)
}

pub fn build(state: AppState) -> Router {
    let limit = state.web.body_limit;
    // Install the metrics recorder now, so requests before the first scrape count.
    metrics::handle();
    table()
        .router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), crate::fhir::params::around_search))
        .layer(middleware::from_fn_with_state(state.clone(), principal::authenticate))
        .layer(middleware::from_fn(metrics::track))
        .layer(middleware::from_fn_with_state(state.clone(), crate::limits::enforce))
        .layer(middleware::from_fn(move |req, next| crate::error::explain_rejections(limit, req, next)))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panic_response))
        // `limits::enforce` bounds every body per route; axum's own 2 MB default would cap the FHIR routes.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), crate::headers::secure))
        .with_state(state)
}
