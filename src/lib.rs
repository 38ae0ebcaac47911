//! Betriebsnachbarschaften: the system of record for regional skilled-labour networks.
//!
//! Data flows one way: HTTP types (`api`) → domain values (`domain`) → rows and queries
//! (`models`) → SQL (`db`), and back through `From<Row> for View`.

// An event's write nests a future per lookup sent together (`db::all!`) inside the handler's,
// deeper than the compiler's default of 128 allows when it lays out the handler's future.
#![recursion_limit = "256"]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod models;
pub mod seed;
pub mod startup;
pub mod synthetic;

pub use api::openapi::openapi;
