//! docs/permissions.md is generated from snapshots/access.yaml (`trm-init access matrix`): this test
//! fails when the committed table and the file differ, and says how to regenerate it.

use trm_test_support as common;

use common::*;
use std::time::Duration;

#[test]
fn committed_permissions_matrix_matches_the_access_file() {
    let env = vec![("TRM_INIT_SCHEMA__SNAPSHOT".to_string(), repo_snapshot().to_string_lossy().into_owned())];
    let out = trm_init(&["access", "matrix"], &env, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let committed = std::fs::read_to_string(repo_dir("docs/permissions.md")).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "docs/permissions.md differs from what snapshots/access.yaml generates; regenerate it with\n  \
         TRM_INIT_SCHEMA__SNAPSHOT=snapshots/schema.yaml cargo run -q -- access matrix > docs/permissions.md"
    );
}

#[test]
fn check_reads_the_access_file_next_to_the_snapshot() {
    let env: Vec<(String, String)> = [
        ("DB_HOST", "db.example"),
        ("DB_DATABASE", "d"),
        ("DB_USER", "u"),
        ("TRM_INIT_SCHEMA__SNAPSHOT", repo_snapshot().to_str().unwrap_or_default()),
        ("TRM_INIT_DB_INIT__PRE_DIR", repo_dir("db-init").to_str().unwrap_or_default()),
        ("TRM_INIT_DB_INIT__POST_DIR", repo_dir("db-init-post").to_str().unwrap_or_default()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = trm_init(&["check"], &env, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("# access.file:"), "{}", out.stdout);

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("access.yaml");
    std::fs::write(&broken, "version: 1\npolicies: [{id: nope, name: x}]\n").expect("write");
    let mut env = env;
    env.push(("TRM_INIT_ACCESS__FILE".into(), broken.to_string_lossy().into_owned()));
    let out = trm_init(&["check"], &env, Duration::from_secs(30));
    assert_eq!(out.code(), 78, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("access.file") && out.stderr.contains("is not a UUID"), "{}", out.stderr);
}
