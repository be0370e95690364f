//! The command line: help that explains, global options anywhere, usage errors as 64, and `check`
//! printing the effective configuration with secrets redacted.
use trm_test_support as common;

use common::{repo_dir, snapshot_collection_count};
use std::process::Output;

fn trm_init(args: &[&str], env: &[(&str, &str)]) -> Output {
    common::trm_init_command(args, env).output().expect("run trm-init")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn help_explains_commands_configuration_and_exit_codes() {
    let out = trm_init(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out);
    for needle in ["health", "db-init", "schema", "status", "check", "TRM_INIT_", "DB_*", "78", "143", "--no-preflight"]
    {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = trm_init(&["--version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn global_options_work_before_and_after_the_subcommand() {
    let env = [("TRM_INIT_PREFLIGHT__ENABLED", "false")];
    for args in
        [&["--log-level", "debug", "check"][..], &["check", "--log-level", "debug"], &["--log-format", "json", "check"]]
    {
        let out = trm_init(args, &env);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }
}

#[test]
fn run_options_with_another_subcommand_are_a_usage_error() {
    let out = trm_init(&["--no-preflight", "status"], &[]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
}

#[test]
fn bad_log_level_flag_is_a_usage_error() {
    let out = trm_init(&["--log-level", "loud", "check"], &[]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
}

#[test]
fn check_prints_the_effective_config_without_secrets() {
    let (pre, post, snapshot) = (repo_dir("db-init"), repo_dir("db-init-post"), repo_dir("snapshots/schema.yaml"));
    let env = [
        ("DB_HOST", "db.example"),
        ("DB_DATABASE", "directus"),
        ("DB_USER", "directus"),
        ("DB_PASSWORD", "pa55-w0rd-secret"),
        ("TRM_INIT_DB_INIT__PRE_DIR", pre.to_str().expect("utf-8")),
        ("TRM_INIT_DB_INIT__POST_DIR", post.to_str().expect("utf-8")),
        ("TRM_INIT_SCHEMA__SNAPSHOT", snapshot.to_str().expect("utf-8")),
        ("TRM_INIT_CHILD__STOP_GRACE", "5s"),
    ];
    let out = trm_init(&["check"], &env);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("stop_grace = \"5s\""), "the env override is shown: {shown}");
    assert!(shown.contains("directus@db.example:5432/directus"), "{shown}");
    let collections = format!("# schema.snapshot: {} collection(s)", snapshot_collection_count());
    assert!(shown.contains(&collections), "the snapshot is read: {shown}");
    assert!(!shown.contains("pa55-w0rd-secret"), "the password leaked: {shown}");
}

#[test]
fn check_reads_the_snapshot_and_names_a_broken_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("schema.yaml");
    std::fs::write(&broken, "collections: [ {collection: a\n").expect("write");
    let env = [
        ("TRM_INIT_PREFLIGHT__ENABLED", "true"),
        ("DB_HOST", "h"),
        ("DB_DATABASE", "d"),
        ("DB_USER", "u"),
        ("TRM_INIT_SCHEMA__SNAPSHOT", broken.to_str().expect("utf-8")),
    ];
    let out = trm_init(&["check"], &env);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(78), "{shown}");
    assert!(shown.contains("schema.snapshot") && shown.contains(broken.to_str().expect("utf-8")), "{shown}");
}

#[test]
fn check_names_every_problem_and_exits_78() {
    let env = [("TRM_INIT_DB_INIT__PRE_DIR", "/no/such/folder"), ("TRM_INIT_SCHEMA__SNAPSHOT", "/no/such.yaml")];
    let out = trm_init(&["check"], &env);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(78), "{shown}");
    for needle in ["DB_HOST", "/no/such/folder", "/no/such.yaml"] {
        assert!(shown.contains(needle), "{needle} not named: {shown}");
    }
}

#[test]
fn check_reports_the_extensions_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle = dir.path().join("trm-extensions");
    std::fs::create_dir_all(bundle.join("dist")).expect("mkdir");
    std::fs::write(bundle.join("dist/api.js"), "export default {}").expect("write");
    std::fs::write(
        bundle.join("package.json"),
        r#"{"name":"trm-extensions","version":"1.2.3","directus:extension":{"type":"bundle",
           "path":{"app":"dist/app.js","api":"dist/api.js"},
           "entries":[{"type":"endpoint","name":"faulty-positions"},{"type":"hook","name":"stage-start-list"}]}}"#,
    )
    .expect("write");
    let folder = dir.path().to_str().expect("utf-8");
    let off = [("TRM_INIT_PREFLIGHT__ENABLED", "false"), ("EXTENSIONS_PATH", folder)];
    let out = trm_init(&["check"], &off);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains(&format!("# extensions: 1 in {folder}")), "{shown}");
    assert!(
        shown.contains("#   trm-extensions 1.2.3 (bundle): endpoint faulty-positions, hook stage-start-list"),
        "{shown}"
    );

    // An extension whose build output is missing is a problem, named with its folder.
    std::fs::remove_file(bundle.join("dist/api.js")).expect("rm");
    let out = trm_init(&["check"], &off);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(78), "{shown}");
    assert!(shown.contains("dist/api.js is missing") && shown.contains(folder), "{shown}");

    let none = [("TRM_INIT_PREFLIGHT__ENABLED", "false"), ("EXTENSIONS_PATH", "/no/such/extensions")];
    let out = trm_init(&["check"], &none);
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(0), "a missing folder is a note, not a problem: {shown}");
    assert!(shown.contains("# extensions: no folder /no/such/extensions"), "{shown}");
}
