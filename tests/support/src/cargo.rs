//! Cargo run by tests against the repository's Cargo.lock, offline: the one place a test reads cargo's
//! package cache. Owns making that cache complete first; never lets two tests of one binary hold
//! cargo's package lock at once.
//!
//! On a fresh machine cargo has downloaded only the crates a build needed, while an `--offline`
//! command needs every package in Cargo.lock (other targets' and features' too). So the first call
//! runs `cargo fetch --locked` (online, a no-op when the cache is already complete; scripts/test.sh
//! runs it before the suite too), and a test never depends on what earlier runs left in the cache.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

const FETCH_HOW: &str = "`cargo fetch --locked` must reach crates.io once to put every package of \
                         Cargo.lock in cargo's package cache (scripts/test.sh runs it before the tests)";

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// `cargo ARGS --locked --offline` in `dir`, after the package cache holds all of Cargo.lock.
/// Panics with what to do when the cache cannot be filled or cargo cannot run.
pub fn cargo_locked_offline(dir: &Path, args: &[&str]) -> Output {
    static FETCHED: OnceLock<Result<(), String>> = OnceLock::new();
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let fetched = FETCHED.get_or_init(|| {
        let out = cargo()
            .args(["fetch", "--locked", "--quiet"])
            .current_dir(crate::repo_dir(""))
            .output()
            .map_err(|e| format!("cargo cannot run ({e})"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    });
    if let Err(why) = fetched {
        panic!("filling cargo's package cache failed: {why}\n{FETCH_HOW}");
    }
    cargo()
        .args(args)
        .args(["--locked", "--offline"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cargo {args:?} cannot run in {}: {e}", dir.display()))
}
