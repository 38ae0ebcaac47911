//! The binary as ops run it, one module per topic, on the harness in `harness`.

mod commands;
mod database_tls;
pub mod harness;
mod logs;
mod signals;
mod startup;
