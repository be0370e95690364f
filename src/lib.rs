//! trm-init: PID 1 of the TRM Directus container. See README.md for the whole picture.

pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod exit;
pub mod health;
pub mod lifecycle;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod preflight;
pub mod process;
pub mod reaper;
pub mod signals;
pub mod supervisor;
