//! The access step against the real Directus 11.17.4 and PostgreSQL (and Redis): a small access file is
//! applied, skipped when unchanged, exported back identically, refused when it names what the schema
//! lacks, never touches hand-made rows, deletes (and logs) what it managed and the file dropped — and a
//! Directus already running serves the new permissions at once.

use trm_test_support as common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(180);

const ROLE: &str = "0b5c8a10-0000-4000-8000-00000000a001";
const READER: &str = "0b5c8a10-0000-4000-8000-00000000b001";
const WRITER: &str = "0b5c8a10-0000-4000-8000-00000000b002";

/// Two policies on the slice-1 collections whose names do not change between phases.
fn small_file(with_writer: bool, org_read: bool) -> String {
    let mut text = format!(
        "version: 1\nroles:\n  - id: {ROLE}\n    name: tester\n    policies: [reader{}]\npolicies:\n  - id: {READER}\n    name: reader\n    app_access: true\n    permissions:\n",
        if with_writer { ", writer" } else { "" }
    );
    if org_read {
        text.push_str("      organizations:\n        read: {fields: [id, name, slug]}\n");
    }
    text.push_str("      vehicles:\n        read: {filter: {make: {_eq: Toyota}}}\n");
    if with_writer {
        text.push_str(&format!(
            "  - id: {WRITER}\n    name: writer\n    description: writes vehicles\n    permissions:\n      vehicles:\n        create: {{validation: {{year: {{_gte: 1900}}}}, presets: {{make: Toyota}}}}\n        update: {{fields: [plate, vin]}}\n"
        ));
    }
    text
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write access file");
    path
}

fn with_file(env: &[(String, String)], path: &std::path::Path) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("TRM_INIT_ACCESS__FILE".into(), path.to_string_lossy().into_owned()));
    env
}

fn schema_ready(db: &TestDb, port: u16) -> Vec<(String, String)> {
    let env = directus_env(db, port);
    let out = trm_init(&["schema"], &env, LIMIT);
    assert_eq!(out.code(), 0, "schema step: {}", out.stderr);
    env
}

#[test]
fn apply_skip_export_refuse_and_ownership() {
    let db = TestDb::fresh("access_mechanism").with_postgis();
    let env = schema_ready(&db, free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    let both = write(&dir, "both.yaml", &small_file(true, true));

    // An admin's own policy, made by hand: never touched.
    db.query(
        "INSERT INTO directus_policies (id, name, icon, app_access) VALUES ('0b5c8a10-0000-4000-8000-0000000000ff', 'hand-made', 'badge', true);
         INSERT INTO directus_permissions (policy, collection, action, fields) VALUES ('0b5c8a10-0000-4000-8000-0000000000ff', 'devices', 'read', '*')",
    );

    let first = trm_init(&["access", "apply"], &with_file(&env, &both), LIMIT);
    assert_eq!(first.code(), 0, "{}", first.stderr);
    assert!(first.stderr.contains("access file applied"), "{}", first.stderr);
    assert_eq!(db.query(&format!("SELECT name FROM directus_roles WHERE id = '{ROLE}'")), "tester");
    assert_eq!(
        db.query(&format!("SELECT string_agg(p.name, ',' ORDER BY a.sort) FROM directus_access a JOIN directus_policies p ON p.id = a.policy WHERE a.role = '{ROLE}'")),
        "reader,writer"
    );
    assert_eq!(
        db.query(&format!("SELECT fields, validation::text, presets::text FROM directus_permissions WHERE policy = '{WRITER}' AND action = 'create'")),
        "*|{\"year\":{\"_gte\":1900}}|{\"make\":\"Toyota\"}"
    );

    let again = trm_init(&["access", "apply"], &with_file(&env, &both), LIMIT);
    assert_eq!(again.code(), 0, "{}", again.stderr);
    assert!(again.stderr.contains("access unchanged since the apply"), "unchanged file not skipped:\n{}", again.stderr);

    // Export round-trips: the exported file, applied, changes nothing, and exports identically.
    let export = trm_init(&["access", "export"], &with_file(&env, &both), LIMIT);
    assert_eq!(export.code(), 0, "{}", export.stderr);
    assert!(export.stdout.contains("hand-made"), "export shows every policy, hand-made too:\n{}", export.stdout);
    assert!(
        !export.stdout.contains("name: Administrator"),
        "the bootstrap's admin role is left out:\n{}",
        export.stdout
    );
    let exported = write(&dir, "exported.yaml", &export.stdout);
    let reapply = trm_init(&["access", "apply"], &with_file(&env, &exported), LIMIT);
    assert_eq!(reapply.code(), 0, "{}", reapply.stderr);
    assert!(reapply.stderr.contains("written=0"), "re-applying the export wrote something:\n{}", reapply.stderr);
    let export2 = trm_init(&["access", "export"], &with_file(&env, &exported), LIMIT);
    assert_eq!(export2.stdout, export.stdout, "export is not stable");
    // The exported file now manages the hand-made policy too (it was adopted); go back to the small file.
    let hand = "0b5c8a10-0000-4000-8000-0000000000ff";

    // A drift made by hand in a managed policy is put back; the file's rows are the truth.
    db.query(&format!("UPDATE directus_permissions SET fields = 'id' WHERE policy = '{WRITER}' AND action = 'update'"));
    let restore = trm_init(&["access", "apply"], &with_file(&env, &both), LIMIT);
    assert_eq!(restore.code(), 0, "{}", restore.stderr);
    assert_eq!(
        db.query(&format!("SELECT fields FROM directus_permissions WHERE policy = '{WRITER}' AND action = 'update'")),
        "plate,vin"
    );
    // The small file no longer names the adopted hand-made policy: it is deleted, and the log says so.
    assert!(restore.stderr.contains("deleted policy \"hand-made\""), "{}", restore.stderr);
    assert_eq!(db.query(&format!("SELECT count(*) FROM directus_policies WHERE id = '{hand}'")), "0");

    // A second hand-made policy, never exported: it survives a file that drops the writer policy.
    db.query(
        "INSERT INTO directus_policies (id, name, icon) VALUES ('0b5c8a10-0000-4000-8000-0000000000fe', 'mine', 'badge');
         INSERT INTO directus_access (id, role, policy) VALUES ('0b5c8a10-0000-4000-8000-0000000000fd', NULL, '0b5c8a10-0000-4000-8000-0000000000fe')",
    );
    let smaller = write(&dir, "smaller.yaml", &small_file(false, false));
    let out = trm_init(&["access", "apply"], &with_file(&env, &smaller), LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    for needle in
        ["deleted policy \"writer\"", "with its 2 permission(s)", "deleted permission reader/organizations/read"]
    {
        assert!(out.stderr.contains(needle), "{needle} not logged:\n{}", out.stderr);
    }
    assert_eq!(db.query(&format!("SELECT count(*) FROM directus_policies WHERE id = '{WRITER}'")), "0");
    assert_eq!(
        db.query("SELECT name FROM directus_policies WHERE id = '0b5c8a10-0000-4000-8000-0000000000fe'"),
        "mine"
    );
    assert_eq!(db.query("SELECT count(*) FROM directus_access WHERE id = '0b5c8a10-0000-4000-8000-0000000000fd'"), "1");

    // A file naming a collection or a field the schema lacks: refused (70) before anything is written.
    let before = db.query("SELECT count(*) FROM directus_permissions");
    let bad = small_file(true, true)
        .replace("update: {fields: [plate, vin]}", "update: {fields: [plate, colour]}")
        .replace("      organizations:\n", "      trophies:\n        read: {}\n      organizations:\n");
    let bad = write(&dir, "bad.yaml", &bad);
    let refused = trm_init(&["access", "apply"], &with_file(&env, &bad), LIMIT);
    assert_eq!(refused.code(), 70, "{}", refused.stderr);
    assert!(refused.stderr.contains("collection trophies"), "{}", refused.stderr);
    assert!(refused.stderr.contains("field vehicles.colour"), "{}", refused.stderr);
    assert_eq!(db.query("SELECT count(*) FROM directus_permissions"), before, "a refused file wrote something");
    assert_eq!(db.query(&format!("SELECT count(*) FROM directus_policies WHERE id = '{WRITER}'")), "0");

    // A filter through a relation that does not exist is refused the same way.
    let bad_path = small_file(false, false).replace("{make: {_eq: Toyota}}", "{owner: {name: {_eq: x}}}");
    let bad_path = write(&dir, "bad-path.yaml", &bad_path);
    let refused = trm_init(&["access", "apply"], &with_file(&env, &bad_path), LIMIT);
    assert_eq!(refused.code(), 70, "{}", refused.stderr);
    assert!(refused.stderr.contains("field vehicles.owner"), "{}", refused.stderr);

    let missing = trm_init(&["access", "apply"], &with_file(&env, &dir.path().join("nope.yaml")), LIMIT);
    assert_eq!(missing.code(), 70, "{}", missing.stderr);
    assert!(missing.stderr.contains("nope.yaml"), "{}", missing.stderr);

    // The repository's own file round-trips as well: `org:` shorthands beside filters, `_and` / `_or`
    // validations with deep $CURRENT_USER paths, update presets. Its export, applied, writes nothing.
    let repo_file = repo_dir("snapshots/access.yaml");
    let applied = trm_init(&["access", "apply"], &with_file(&env, &repo_file), LIMIT);
    assert_eq!(applied.code(), 0, "{}", applied.stderr);
    let export = trm_init(&["access", "export"], &with_file(&env, &repo_file), LIMIT);
    assert_eq!(export.code(), 0, "{}", export.stderr);
    for needle in
        ["org: entry_id.event_id.organization_id", "$CURRENT_USER.crews.entry_id", "overridden_by: $CURRENT_USER"]
    {
        assert!(export.stdout.contains(needle), "{needle} not in the export:\n{}", export.stdout);
    }
    let exported = write(&dir, "repo-exported.yaml", &export.stdout);
    let reapply = trm_init(&["access", "apply"], &with_file(&env, &exported), LIMIT);
    assert_eq!(reapply.code(), 0, "{}", reapply.stderr);
    assert!(
        reapply.stderr.contains("written=0"),
        "re-applying the repository file's export wrote something:\n{}",
        reapply.stderr
    );
}

/// redis-server on a free port, stopped on drop.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "redis-server cannot run ({e}); install it (apt-get install redis-server), as scripts/test.sh does"
                )
            });
        let up = eventually(Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        assert!(up, "redis-server did not listen on {port}");
        Redis { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Directus (`node cli.js start`) with `env`, stopped on drop.
pub struct Directus {
    child: std::process::Child,
    pub port: u16,
    log: tempfile::NamedTempFile,
}

impl Directus {
    pub fn start(env: &[(String, String)], port: u16) -> Directus {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let out = std::fs::OpenOptions::new().append(true).open(log.path()).expect("log");
        let err = std::fs::OpenOptions::new().append(true).open(log.path()).expect("log");
        let child = Command::new("node")
            .arg("cli.js")
            .arg("start")
            .current_dir(directus_dir())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("node starts Directus");
        let d = Directus { child, port, log };
        let up = eventually(Duration::from_secs(90), || {
            std::thread::sleep(Duration::from_millis(200));
            http(port, "GET", "/server/ping", None, None).0 == 200
        });
        assert!(
            up,
            "Directus did not answer /server/ping; log:\n{}",
            std::fs::read_to_string(d.log.path()).unwrap_or_default()
        );
        d
    }
}

impl Drop for Directus {
    fn drop(&mut self) {
        // SAFETY: kill with a pid we started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if eventually(Duration::from_secs(10), || matches!(self.child.try_wait(), Ok(Some(_)))) {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_running_directus_with_redis_serves_the_new_permissions_at_once() {
    let db = TestDb::fresh("access_cache").with_postgis();
    let port = free_port();
    let env = schema_ready(&db, port);
    let redis = Redis::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let first = write(&dir, "first.yaml", &small_file(false, true));
    let mut env = with_file(&env, &first);
    env.push(("REDIS".into(), format!("redis://127.0.0.1:{}", redis.port)));
    let out = trm_init(&["access", "apply"], &env, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);

    let directus = Directus::start(&env, port);
    let admin = directus_login(port);
    db.query(
        "INSERT INTO organizations (id, name, slug) VALUES ('0b5c8a10-0000-4000-8000-0000000000c1', 'Club', 'club')",
    );
    let user = format!("{{\"email\":\"tester@example.com\",\"password\":\"tester-pw-1\",\"role\":\"{ROLE}\"}}");
    let (status, body) = http(port, "POST", "/users", Some(&admin), Some(&user));
    assert_eq!(status, 200, "create user: {body}");
    let token = login(port, "tester@example.com", "tester-pw-1");

    let (status, body) = http(port, "GET", "/items/organizations", Some(&token), None);
    assert_eq!(status, 200, "the tester reads organizations: {body}");
    assert!(body.contains("club"), "{body}");

    // Control: a change made behind Directus's back is not seen — the permission is cached.
    db.query(&format!("DELETE FROM directus_permissions WHERE policy = '{READER}' AND collection = 'organizations'"));
    let (status, body) = http(port, "GET", "/items/organizations", Some(&token), None);
    assert_eq!(status, 200, "Directus caches permissions (the control of this test): {body}");

    // The access step clears the cache: the running Directus serves the file's permissions at once.
    let second = write(&dir, "second.yaml", &small_file(true, false));
    let env2 = with_file(&env, &second);
    let out = trm_init(&["access", "apply"], &env2, LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("running replicas told to drop theirs"), "{}", out.stderr);
    assert!(
        out.stderr.contains("listeners=") && !out.stderr.contains("listeners=0"),
        "no Directus listened:\n{}",
        out.stderr
    );
    let (status, body) = http(port, "GET", "/items/organizations", Some(&token), None);
    assert_eq!(status, 403, "the removed permission is still served: {body}");
    let body = "{\"model\":\"Hilux\",\"year\":1990}";
    let (status, text) = http(port, "POST", "/items/vehicles", Some(&token), Some(body));
    assert_eq!(status, 200, "the new writer policy is served at once: {text}");
    assert!(text.contains("Toyota"), "the preset applies: {text}");
    drop(directus);
}
