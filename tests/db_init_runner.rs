//! db-init against a real PostgreSQL, one fresh database per test: apply, re-run, adopt the shell
//! runner's rows, CRLF copies, edited / broken / out-of-order / missing files, no-transaction files,
//! required extensions, the post-schema folder, `check` on bad folder contents, and the required-columns
//! helper (db-init-post/025) the post-schema files call.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn run(db: &TestDb, pre: &std::path::Path, post: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = db_init_command(db, pre, post, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_to_end(cmd, LIMIT)
}

fn empty() -> tempfile::TempDir {
    migration_dir(&[])
}

#[test]
fn fresh_apply_then_rerun_skips_everything() {
    let db = TestDb::fresh("dbi_fresh_rerun");
    let post = empty();
    let pre = repo_dir("db-init");
    let n = repo_migrations("db-init").len();
    let first = run(&db, &pre, post.path(), &["--phase", "pre"], &[]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    assert_eq!(first.stdout.trim(), format!("pre: {n} applied, 0 skipped"));
    assert!(first.stderr.contains("001_extensions.sql applied in"), "{}", first.stderr);
    // 001 adapts to the server: the test states which branch this server takes and checks that one.
    let timescale = db.query(
        "SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') THEN 'absent' \
                WHEN current_setting('shared_preload_libraries') ~ 'timescaledb' THEN 'preloaded' ELSE 'not-preloaded' END",
    );
    match timescale.as_str() {
        "absent" => {
            assert!(first.stderr.contains("timescaledb is not available"), "the WARNING is logged: {}", first.stderr)
        }
        "not-preloaded" => assert!(first.stderr.contains("not in shared_preload_libraries"), "{}", first.stderr),
        _ => assert_eq!(db.query("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"), "1"),
    }
    let second = run(&db, &pre, post.path(), &["--phase", "pre"], &[]);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert_eq!(second.stdout.trim(), format!("pre: 0 applied, {n} skipped"));
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), n.to_string());
    assert_eq!(db.query("SELECT count(*) FROM information_schema.columns WHERE table_name = 'positions'"), "13");
    assert_eq!(
        db.query("SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'positions'"),
        "positions_device_ts,positions_faulty_idx,positions_ts"
    );
}

#[test]
fn rows_written_by_the_shell_runner_are_adopted_without_reapplying() {
    let db = TestDb::fresh("dbi_shell_rows");
    let pre = repo_dir("db-init");
    // What ../shared/baselines/apply-db-init.sh does: psql -f each file, then record sha256sum.
    db.query("CREATE TABLE migrations_applied (filename TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), checksum TEXT NOT NULL)");
    let files = repo_migrations("db-init");
    for name in &files {
        let text = std::fs::read_to_string(pre.join(name)).unwrap();
        db.query(&text);
        let out = std::process::Command::new("sha256sum").arg(pre.join(name)).output().unwrap();
        let sum = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().to_string();
        db.query(&format!(
            "INSERT INTO migrations_applied (filename, checksum, applied_at) VALUES ('{name}', '{sum}', '2026-01-01')"
        ));
    }
    let post = empty();
    let out = run(&db, &pre, post.path(), &["--phase", "pre"], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("pre: 0 applied, {} skipped", files.len()));
    assert_eq!(
        db.query("SELECT count(*) FROM migrations_applied WHERE applied_at = '2026-01-01'"),
        files.len().to_string(),
        "rows untouched"
    );
}

#[test]
fn crlf_and_bom_copy_of_an_applied_file_is_accepted() {
    let db = TestDb::fresh("dbi_crlf");
    let text = "CREATE TABLE a (x int);\nCREATE TABLE b (y int);\n";
    let pre = migration_dir(&[("001_ab.sql", text)]);
    let post = empty();
    assert_eq!(run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]).code(), 0);
    std::fs::write(pre.path().join("001_ab.sql"), format!("\u{feff}{}", text.replace('\n', "\r\n"))).unwrap();
    let out = run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "pre: 0 applied, 1 skipped");
}

#[test]
fn edited_file_is_refused_naming_file_and_both_checksums() {
    let db = TestDb::fresh("dbi_edited");
    let pre = migration_dir(&[("001_a.sql", "CREATE TABLE a (x int);\n")]);
    let post = empty();
    assert_eq!(run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]).code(), 0);
    let recorded = db.query("SELECT checksum FROM migrations_applied WHERE filename = '001_a.sql'");
    std::fs::write(pre.path().join("001_a.sql"), "CREATE TABLE a (x bigint);\n").unwrap();
    let out = run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]);
    assert_eq!(out.code(), 65, "{}", out.stderr);
    let now = trm_init::preflight::db_init::files::sha256_hex(b"CREATE TABLE a (x bigint);\n");
    for needle in ["001_a.sql", recorded.as_str(), now.as_str()] {
        assert!(out.stderr.contains(needle), "{needle} missing: {}", out.stderr);
    }
}

#[test]
fn broken_sql_reports_file_and_line_column_and_records_nothing() {
    let db = TestDb::fresh("dbi_broken");
    let pre = migration_dir(&[
        ("001_ok.sql", "CREATE TABLE ok_t (x int);\n"),
        ("002_broken.sql", "CREATE TABLE half_t (x int);\n\n  SELEC 1;\n"),
    ]);
    let post = empty();
    let out = run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]);
    assert_eq!(out.code(), 65, "{}", out.stderr);
    for needle in
        ["002_broken.sql", "line 3, column 3", "42601", "syntax error", "nothing of this file was applied or recorded"]
    {
        assert!(out.stderr.contains(needle), "{needle} missing: {}", out.stderr);
    }
    assert_eq!(db.query("SELECT string_agg(filename, ',') FROM migrations_applied"), "001_ok.sql");
    assert_eq!(
        db.query("SELECT to_regclass('half_t') IS NULL"),
        "t",
        "the failing file's first statement is rolled back"
    );
}

#[test]
fn no_transaction_file_runs_create_index_concurrently() {
    let db = TestDb::fresh("dbi_cic");
    let pre = migration_dir(&[
        ("001_t.sql", "CREATE TABLE t (a int, b text);\nINSERT INTO t SELECT g, g::text FROM generate_series(1, 1000) g;\n"),
        (
            "002_idx.sql",
            "-- trm-init: no-transaction\r\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);\r\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (b);\r\n",
        ),
    ]);
    let post = empty();
    let out = run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "pre: 2 applied, 0 skipped");
    assert_eq!(db.query("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('t_a','t_b') AND i.indisvalid"), "2");
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied WHERE filename = '002_idx.sql'"), "1");
}

#[test]
fn out_of_order_file_is_refused_unless_allowed() {
    let db = TestDb::fresh("dbi_out_of_order");
    let pre = migration_dir(&[("001_a.sql", "CREATE TABLE a (x int);"), ("003_c.sql", "CREATE TABLE c (x int);")]);
    let post = empty();
    assert_eq!(run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]).code(), 0);
    std::fs::write(pre.path().join("002_b.sql"), "CREATE TABLE b (x int);").unwrap();
    let refused = run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]);
    assert_eq!(refused.code(), 65, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("002_b.sql") && refused.stderr.contains("allow_out_of_order"),
        "{}",
        refused.stderr
    );
    let allowed =
        run(&db, pre.path(), post.path(), &["--phase", "pre"], &[("TRM_INIT_DB_INIT__ALLOW_OUT_OF_ORDER", "true")]);
    assert_eq!(allowed.code(), 0, "{}", allowed.stderr);
    assert_eq!(allowed.stdout.trim(), "pre: 1 applied, 2 skipped");
}

#[test]
fn recorded_file_that_is_gone_is_a_warning() {
    let db = TestDb::fresh("dbi_missing");
    let pre = migration_dir(&[("001_a.sql", "CREATE TABLE a (x int);"), ("002_b.sql", "CREATE TABLE b (x int);")]);
    let post = empty();
    assert_eq!(run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]).code(), 0);
    std::fs::remove_file(pre.path().join("001_a.sql")).unwrap();
    let out = run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("WARN") && out.stderr.contains("001_a.sql is recorded as applied but the file is gone"),
        "{}",
        out.stderr
    );
}

#[test]
fn missing_required_extension_refuses_before_anything_is_applied() {
    let db = TestDb::fresh("dbi_required_ext");
    let post = empty();
    // A name no server packages: the condition does not depend on what this machine has installed.
    let missing = "trm_no_such_extension";
    assert_eq!(db.query(&format!("SELECT count(*) FROM pg_available_extensions WHERE name = '{missing}'")), "0");
    let out = run(
        &db,
        &repo_dir("db-init"),
        post.path(),
        &[],
        &[("TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS", &format!(r#"["{missing}"]"#))],
    );
    assert_eq!(out.code(), 78, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("{missing} is not available on this server")), "{}", out.stderr);
    assert_eq!(db.query("SELECT to_regclass('migrations_applied') IS NULL"), "t", "nothing was written");
}

#[test]
fn post_folder_adds_composite_uniques_once_and_names_a_missing_table() {
    let db = TestDb::fresh("dbi_post");
    // The Phase 1 files as shipped; later phases' files need their own tables (tested with the real schema).
    let phase1 = ["001_composite_uniques.sql", "002_default_views.sql", "003_default_view_widths.sql"];
    let copied = tempfile::tempdir().expect("temp dir");
    for name in phase1 {
        std::fs::copy(repo_dir("db-init-post").join(name), copied.path().join(name)).expect("copy a db-init-post file");
    }
    let post = copied.path().to_path_buf();
    let pre = empty();
    let missing = run(&db, pre.path(), &post, &["--phase", "post"], &[]);
    assert_eq!(missing.code(), 65, "{}", missing.stderr);
    assert!(missing.stderr.contains("organization_users does not exist"), "{}", missing.stderr);
    // The Directus tables, reduced to the columns the constraints use.
    db.query(
        "CREATE TABLE organization_users (id serial, organization_id uuid, user_id uuid); \
         CREATE TABLE organization_vehicles (id serial, organization_id uuid, vehicle_id uuid); \
         CREATE TABLE organization_devices (id serial, organization_id uuid, device_id uuid); \
         CREATE TABLE events (id serial, organization_id uuid, slug text); \
         CREATE TABLE classes (id serial, event_id int, code text); \
         CREATE TABLE entries (id serial, event_id int, race_number int); \
         CREATE TABLE entry_crew (id serial, entry_id int, user_id uuid); \
         CREATE TABLE entry_devices (id serial, entry_id int, device_id uuid); \
         CREATE TABLE directus_presets (id serial, bookmark text, \"user\" uuid, role uuid, collection text, \
                                        layout text, layout_query json, layout_options json, icon text); \
         ALTER TABLE classes ADD CONSTRAINT classes_event_id_code_unique UNIQUE (event_id, code);",
    );
    let out = run(&db, pre.path(), &post, &["--phase", "all"], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout, "pre: 0 applied, 0 skipped\npost: 3 applied, 0 skipped\n");
    assert_eq!(db.query("SELECT count(*) FROM pg_constraint WHERE contype = 'u' AND conname LIKE '%_unique'"), "8");
    assert_eq!(
        db.query("SELECT string_agg(filename, ',' ORDER BY filename) FROM migrations_applied"),
        "post/001_composite_uniques.sql,post/002_default_views.sql,post/003_default_view_widths.sql"
    );
    assert_eq!(
        db.query("SELECT layout_query->'tabular'->>'sort' FROM directus_presets WHERE collection = 'organizations'"),
        r#"["name"]"#,
        "organizations are listed by name"
    );
    assert_eq!(
        db.query("SELECT layout_options->'tabular'->'widths'->>'class_id' FROM directus_presets WHERE collection = 'entries'"),
        "260",
        "entries list their class in a wide column"
    );
    let again = run(&db, pre.path(), &post, &["--phase", "post"], &[]);
    assert_eq!(again.stdout.trim(), "post: 0 applied, 3 skipped");
}

#[test]
fn dry_run_lists_pending_files_and_writes_nothing() {
    let db = TestDb::fresh("dbi_dry_run");
    let post = empty();
    let out = run(&db, &repo_dir("db-init"), post.path(), &["--phase", "pre", "--dry-run"], &[]);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("pre: {} to apply, 0 skipped (dry run)", repo_migrations("db-init").len()));
    assert_eq!(db.query("SELECT to_regclass('migrations_applied') IS NULL AND to_regclass('positions') IS NULL"), "t");
}

#[test]
fn status_shows_applied_pending_and_changed() {
    let db = TestDb::fresh("dbi_status");
    let pre = migration_dir(&[("001_a.sql", "CREATE TABLE a (x int);"), ("002_b.sql", "CREATE TABLE b (x int);")]);
    let post = empty();
    assert_eq!(run(&db, pre.path(), post.path(), &["--phase", "pre"], &[]).code(), 0);
    std::fs::write(pre.path().join("002_b.sql"), "CREATE TABLE b (x bigint);").unwrap();
    std::fs::write(pre.path().join("003_c.sql"), "CREATE TABLE c (x int);").unwrap();
    let mut cmd = trm_init_command(&["status"], &db.env());
    cmd.env("TRM_INIT_DB_INIT__PRE_DIR", pre.path()).env("TRM_INIT_DB_INIT__POST_DIR", post.path());
    let out = run_to_end(cmd, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("pre (") && out.stdout.contains("1 applied, 1 pending, 1 changed, 0 missing"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("002_b.sql") && out.stdout.contains("CHANGED"), "{}", out.stdout);
}

#[test]
fn check_names_stray_files_in_migration_folders() {
    let pre = migration_dir(&[("001_a.sql", ""), ("notes.txt", ""), ("README.md", "")]);
    let post = migration_dir(&[("1_b.sql", "")]);
    let mut cmd = trm_init_command(&["check"], &[] as &[(&str, &str)]);
    cmd.env("DB_HOST", "db")
        .env("DB_DATABASE", "d")
        .env("DB_USER", "u")
        .env("TRM_INIT_SCHEMA__ENABLED", "false")
        .env("TRM_INIT_DB_INIT__PRE_DIR", pre.path())
        .env("TRM_INIT_DB_INIT__POST_DIR", post.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = run_to_end(cmd, LIMIT);
    assert_eq!(out.code(), 78, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("notes.txt") && out.stderr.contains("1_b.sql"), "{}", out.stderr);
    assert!(!out.stderr.contains("README.md"), "{}", out.stderr);
}

#[test]
fn required_columns_helper_names_every_missing_column_in_the_current_schema() {
    // db-init-post/025: the body of the one check every post-schema file calls (created by 010).
    let db = TestDb::fresh("dbi_require_columns");
    let file = std::fs::read_to_string(repo_dir("db-init-post/025_require_columns.sql")).expect("025");
    db.query(&file);
    db.query("CREATE TABLE stages (id int, event_id int); CREATE TABLE stage_results (id int)");
    let call = |search_path: &str, columns: &str| {
        psql_result(
            &db.name,
            &format!("SET search_path = {search_path}; SELECT trm_require_columns('099_demo', ARRAY[{columns}])"),
        )
    };
    assert!(call("public", "'stages.event_id', 'stage_results.id'").is_ok(), "present columns pass");

    let missing = call("public", "'stages.event_id', 'stages.nope', 'stage_results.id', 'entries.id'")
        .expect_err("missing columns are refused");
    assert!(
        missing.contains("099_demo: column stages.nope, entries.id does not exist in schema public"),
        "the migration and every missing column, in the order asked: {missing}"
    );
    assert!(missing.contains("snapshots/schema.yaml"), "the hint says where columns come from: {missing}");

    // current_schema(), not `public` by name: a table only in another schema is found there, and one only
    // in `public` is missing when the migration writes to the other schema.
    db.query("CREATE SCHEMA other; CREATE TABLE other.only_here (x int)");
    assert!(call("other, public", "'only_here.x'").is_ok(), "found in the current schema");
    let elsewhere = call("other, public", "'stages.event_id'").expect_err("not in the current schema");
    assert!(elsewhere.contains("stages.event_id does not exist in schema other"), "{elsewhere}");
    assert!(call("public", "'only_here.x'").is_err(), "not in public");

    let malformed = call("public", "'stages', 'a.b.c'").expect_err("names without one dot are refused");
    assert!(malformed.contains("takes table.column names, got 'stages', 'a.b.c'"), "{malformed}");
}
