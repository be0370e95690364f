//! `trm-init schema` against the real Directus 11.17.4 and PostgreSQL: the snapshot applies on a fresh
//! database and reads back identical, an unchanged schema is skipped by fingerprint, any change (SQL,
//! REST) runs the step again, a destructive snapshot is refused with exit 70 and the data kept.

use trm_test_support as common;

use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

fn schema(env: &[(String, String)], extra: &[&str]) -> Outcome {
    let mut args = vec!["schema"];
    args.extend_from_slice(extra);
    trm_init(&args, env, LIMIT)
}

/// Drops the timestamp and the `directus:` line noise so two snapshots compare on content.
fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn snapshot_applies_on_a_fresh_database_reads_back_identical_and_is_then_skipped() {
    let db = TestDb::fresh("schema_roundtrip").with_postgis();
    let env = directus_env(&db, free_port());

    let first = schema(&env, &[]);
    assert_eq!(first.code(), 0, "first apply failed:\n{}", first.stderr);
    assert!(
        first.stderr.contains("[directus step]") && first.stderr.contains("Installing Directus system tables"),
        "Directus's own log is relayed with a prefix:\n{}",
        first.stderr
    );
    assert!(first.stderr.contains("snapshot applied"), "{}", first.stderr);
    assert_eq!(first.stderr.matches("starting the Directus step helper").count(), 1, "one Node process");
    assert_eq!(
        db.query("SELECT count(*) FROM directus_collections WHERE collection NOT LIKE 'directus_%'"),
        snapshot_collection_count().to_string()
    );

    let dir = tempfile::tempdir().unwrap();
    let readback = dir.path().join("readback.yaml");
    directus_cli(&["schema", "snapshot", "--yes", readback.to_str().unwrap()], &env);
    assert_eq!(read(&readback), read(&repo_snapshot()), "the applied snapshot reads back differently");

    let second = schema(&env, &[]);
    assert_eq!(second.code(), 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("bootstrap and schema apply skipped"),
        "unchanged schema not skipped:\n{}",
        second.stderr
    );
    assert!(!second.stderr.contains("[directus step]"), "Directus ran although nothing changed");

    // A change made with plain SQL to a Directus-managed column changes the fingerprint; apply restores it.
    db.query("ALTER TABLE vehicles ALTER COLUMN plate TYPE varchar(40)");
    let third = schema(&env, &[]);
    assert_eq!(third.code(), 0, "{}", third.stderr);
    assert!(third.stderr.contains("fingerprint differs"), "SQL change not noticed:\n{}", third.stderr);
    assert_eq!(
        db.query("SELECT character_maximum_length FROM information_schema.columns WHERE table_name='vehicles' AND column_name='plate'"),
        "32"
    );
}

#[test]
fn destructive_snapshot_is_refused_with_exit_70_listing_what_and_the_data_stays() {
    let db = TestDb::fresh("schema_destructive").with_postgis();
    let env = directus_env(&db, free_port());
    let first = schema(&env, &[]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    db.query("INSERT INTO vehicles (id, make, model) VALUES (gen_random_uuid(), 'Toyota', 'Hilux')");

    let dir = tempfile::tempdir().unwrap();
    let smaller = dir.path().join("without-vehicles.yaml");
    std::fs::write(&smaller, without_collection(&read(&repo_snapshot()), "vehicles")).unwrap();
    let mut env2 = env.clone();
    env2.push(("TRM_INIT_SCHEMA__SNAPSHOT".into(), smaller.to_string_lossy().into_owned()));

    let refused = schema(&env2, &[]);
    assert_eq!(refused.code(), 70, "{}", refused.stderr);
    assert!(refused.stderr.contains("would delete collections vehicles"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("snapshot applied"), "apply ran although refused");
    assert_eq!(db.query("SELECT count(*) FROM vehicles"), "1");

    let dry = schema(&env2, &["--dry-run"]);
    assert_eq!(dry.code(), 70, "dry run of a refused snapshot exits 70:\n{}", dry.stderr);
    assert!(dry.stderr.contains("- Delete vehicles"), "Directus's plan is shown:\n{}", dry.stderr);

    env2.push(("TRM_INIT_SCHEMA__ALLOW_DESTRUCTIVE".into(), "true".into()));
    // Entries and organization_vehicles reference vehicles (ON DELETE RESTRICT); without those rows the
    // collection can go.
    let allowed = schema(&env2, &[]);
    assert_eq!(allowed.code(), 0, "{}", allowed.stderr);
    assert_eq!(db.query("SELECT to_regclass('vehicles') IS NULL"), "t");
}

/// A developer database built from the slice-1 snapshot before the published names (FKs `event`,
/// `class`, ...; integer keys for vehicles and devices) cannot be converted in place: the new snapshot
/// renames columns and changes primary-key types. The guard refuses it (70) and the rows stay; the
/// README says how to reset the local stack (`scripts/stack.sh --fresh`).
#[test]
fn a_database_of_the_earlier_slice1_snapshot_refuses_the_published_names_and_keeps_its_rows() {
    let db = TestDb::fresh("schema_published_names").with_postgis();
    let mut env = directus_env(&db, free_port());
    let before = repo_dir("tests/fixtures/slice1-before-published-names.yaml");
    let mut old_env = env.clone();
    old_env.push(("TRM_INIT_SCHEMA__SNAPSHOT".into(), before.to_string_lossy().into_owned()));
    let first = schema(&old_env, &[]);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    db.query("INSERT INTO vehicles (make, model) VALUES ('Toyota', 'Land Cruiser 70')");

    env.push(("TRM_INIT_SCHEMA__SNAPSHOT".into(), repo_snapshot().to_string_lossy().into_owned()));
    let refused = schema(&env, &[]);
    assert_eq!(refused.code(), 70, "{}", refused.stderr);
    for gone in ["entries.event", "entries.class", "entry_devices.assigned_user", "organization_users.organization"] {
        assert!(refused.stderr.contains(gone), "the refusal names {gone}:\n{}", refused.stderr);
    }
    assert!(!refused.stderr.contains("snapshot applied"), "apply ran although refused");
    assert_eq!(db.query("SELECT count(*) FROM vehicles"), "1");
    assert_eq!(
        db.query(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'vehicles' AND column_name = 'id'"
        ),
        "integer",
        "the old key is untouched"
    );
}

#[test]
fn a_stop_signal_during_the_step_stops_the_helper_and_exits_143() {
    let db = TestDb::fresh("schema_stopped");
    let env = directus_env(&db, free_port());
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("schema").env_remove("TRM_INIT_CONFIG").stdin(std::process::Stdio::null());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut child = cmd.spawn().expect("trm-init starts");
    let err = Captured::read_from(child.stderr.take());
    let _out = Captured::read_from(child.stdout.take());
    // Bootstrap is under way on the empty database.
    assert!(eventually(LIMIT, || err.text().contains("Installing Directus system tables")), "{}", err.text());
    let log = err.text();
    let pid: i32 = log
        .split("pid=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the helper's pid is logged:\n{log}"));
    // SAFETY: kill with the pid of the process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_child(&mut child, Duration::from_secs(60));
    let code = Outcome { status, stdout: String::new(), stderr: String::new() }.code();
    assert_eq!(code, 143, "{}", err.text());
    assert!(
        eventually(Duration::from_secs(5), || !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || zombies(&[pid]).contains(&pid)),
        "the helper {pid} still runs after trm-init stopped"
    );
}

#[test]
fn missing_snapshot_exits_70_with_the_path() {
    let db = TestDb::fresh("schema_missing");
    let mut env = directus_env(&db, free_port());
    env.push(("TRM_INIT_SCHEMA__SNAPSHOT".into(), "/nonexistent/trm/schema.yaml".into()));
    let out = schema(&env, &[]);
    assert_eq!(out.code(), 70, "{}", out.stderr);
    assert!(out.stderr.contains("/nonexistent/trm/schema.yaml"), "{}", out.stderr);
}

/// The snapshot without one collection: its entry, its fields, and relations from or to it.
pub fn without_collection(yaml: &str, name: &str) -> String {
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(yaml).unwrap();
    let keep = |item: &serde_yaml_ng::Value| {
        item.get("collection").and_then(|c| c.as_str()) != Some(name)
            && item.get("related_collection").and_then(|c| c.as_str()) != Some(name)
    };
    for key in ["collections", "fields", "relations"] {
        if let Some(seq) = doc.get_mut(key).and_then(|v| v.as_sequence_mut()) {
            seq.retain(keep);
        }
    }
    // Fields that point to the removed collection go with their relation.
    let gone: Vec<(String, String)> = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml).unwrap()["relations"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|r| r["related_collection"].as_str() == Some(name))
        .map(|r| (r["collection"].as_str().unwrap().to_string(), r["field"].as_str().unwrap().to_string()))
        .collect();
    if let Some(seq) = doc.get_mut("fields").and_then(|v| v.as_sequence_mut()) {
        seq.retain(|f| {
            !gone.iter().any(|(c, n)| f["collection"].as_str() == Some(c) && f["field"].as_str() == Some(n))
        });
    }
    serde_yaml_ng::to_string(&doc).unwrap()
}
