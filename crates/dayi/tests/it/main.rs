//! One integration-test binary: the server on 127.0.0.1:0 with a fresh
//! database per test (SQLite file or a PostgreSQL database), driven over HTTP.

mod api;
mod auth;
mod booking;
mod browser;
mod browser_booking;
mod browser_chronic;
mod browser_lab;
mod browser_patient;
mod browser_queue;
mod browser_visit;
mod chronic;
mod cli;
mod fhir;
mod fhir_booking;
mod fhir_chronic;
mod fhir_client;
mod fhir_directory;
mod fhir_import;
mod fhir_lab;
mod fhir_schema;
mod fhir_search_params;
mod fhir_snapshots;
mod fhir_update;
mod fhir_visit;
mod harness;
mod lab;
mod matrix;
mod patient;
mod queue;
mod schemathesis;
mod visit;
