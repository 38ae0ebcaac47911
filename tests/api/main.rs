//! The API test suite: one binary, a module per resource or feature. Every `api_test!` runs
//! on a fresh SQLite file and, as its `#[ignore]`d `postgres` variant (`--run-ignored all`
//! with `TEST_DATABASE_URL` set), on a fresh PostgreSQL schema.

#![allow(clippy::unwrap_used)]
// a failing unwrap in a test is a failing test
// The app's futures nest deeper than the default limit (see src/lib.rs).
#![recursion_limit = "256"]

mod helpers;

mod auth;
mod changes;
mod conventions;
mod csv_export;
mod domain;
mod errors;
mod external_ids;
mod faults;
mod health;
mod idempotency;
mod import;
mod openapi;
mod operations;
mod process;
mod regions;
mod regions_list;
mod reports;
mod robustness;
mod roles;
mod schema;
mod seed;
