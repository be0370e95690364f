//! `child.replicas` above 1: trm-init warns at start, one line per setting of Directus's environment
//! that several replicas would trip over; with everything shared it says nothing, and it starts anyway.
use trm_test_support as common;

use common::Pid1;
use std::time::Duration;

const VARS: [&str; 8] = [
    "CACHE_STORE",
    "RATE_LIMITER_ENABLED",
    "RATE_LIMITER_STORE",
    "SYNCHRONIZATION_STORE",
    "REDIS",
    "REDIS_HOST",
    "SECRET",
    "SECRET_FILE",
];

fn run(env: &[(&str, &str)]) -> String {
    let init = Pid1::start_with(&["run", "--no-preflight", "--", "true"], env, |cmd| {
        for v in VARS.iter().filter(|v| !env.iter().any(|(k, _)| k == *v)) {
            cmd.env_remove(v);
        }
    });
    let out = init.wait(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "trm-init must start the child anyway: {}", out.stderr);
    out.stderr
}

#[test]
fn three_replicas_on_memory_stores_without_a_secret_are_warned_about() {
    let log = run(&[("TRM_INIT_CHILD__REPLICAS", "3"), ("RATE_LIMITER_ENABLED", "true")]);
    for name in ["CACHE_STORE", "RATE_LIMITER_STORE", "SYNCHRONIZATION_STORE", "SECRET"] {
        assert!(log.contains(&format!("child.replicas = 3: {name}")), "no warning about {name}:\n{log}");
    }
}

#[test]
fn shared_stores_and_secret_or_one_replica_say_nothing() {
    let log = run(&[
        ("TRM_INIT_CHILD__REPLICAS", "3"),
        ("CACHE_STORE", "redis"),
        ("SYNCHRONIZATION_STORE", "redis"),
        ("REDIS", "redis://127.0.0.1:6379"),
        ("SECRET", "a-shared-secret-a-shared-secret-a-shared"),
    ]);
    assert!(!log.contains("child.replicas"), "{log}");
    assert!(!log.contains("a-shared-secret"), "the secret reached the log");
    let log = run(&[]);
    assert!(!log.contains("child.replicas"), "{log}");
}
