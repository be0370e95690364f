//! `child.preload`, trm-init as PID 1: the main child is spawned before the preflight through the
//! repository's `directus-step/preload.mjs`, which imports the stand-in installation's `server.js` and
//! starts its server only on trm-init's go. The stand-in is a Directus-shaped folder (`cli.js` of a
//! package named `directus`, `@directus/api` with `dist/server.js` and `dist/start.js`) whose server.js
//! logs who imported it and serves `pong`: only "some child process" matters here. The preflight is real
//! (PostgreSQL, db-init) and is held inside a migration by a table lock the test owns, so each test acts
//! while the preload waits. Every exit path: go after success (phase preflight until then), a failed
//! preflight (its code, the child stopped), a stop signal (128 + n, the child stopped), a child that dies
//! while preloading (started again after the preflight), and `child.preload = false` / `-- CMD` (spawned
//! after the preflight only).

use trm_test_support as common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// A Directus-shaped installation: `<dir>/node_modules/directus/cli.js` and `@directus/api`.
struct StandIn {
    dir: tempfile::TempDir,
    log: PathBuf,
}

const SERVER_JS: &str = r#"import http from 'node:http';
import { appendFileSync } from 'node:fs';
const entry = process.argv[1].split('/').pop();
const log = (line) => appendFileSync(process.env.STANDIN_LOG, line + '\n');
log(`imported by ${entry}`);
if (process.env.STANDIN_DIE_IN_PRELOAD === '1' && entry === 'preload.mjs') process.exit(7);
export async function startServer() {
	process.on('SIGTERM', () => process.exit(0));
	http.createServer((req, res) => res.end('pong')).listen(Number(process.env.PORT), '127.0.0.1');
	log(`serving (${entry})`);
}
"#;

impl StandIn {
    fn new() -> StandIn {
        let dir = tempfile::tempdir().expect("temp dir");
        let pkg = dir.path().join("node_modules/directus");
        let api = dir.path().join("node_modules/@directus/api");
        std::fs::create_dir_all(&pkg).expect("mkdir");
        std::fs::create_dir_all(api.join("dist")).expect("mkdir");
        std::fs::write(pkg.join("cli.js"), "process.exit(99);\n").expect("cli.js");
        std::fs::write(pkg.join("package.json"), r#"{"name":"directus","version":"11.17.4","type":"module"}"#)
            .expect("package.json");
        std::fs::write(
            api.join("package.json"),
            r#"{"name":"@directus/api","type":"module","exports":{"./*":"./dist/*.js"}}"#,
        )
        .expect("api package.json");
        std::fs::write(api.join("dist/server.js"), SERVER_JS).expect("server.js");
        std::fs::write(api.join("dist/start.js"), "import { startServer } from './server.js';\nstartServer();\n")
            .expect("start.js");
        let log = dir.path().join("standin.log");
        StandIn { dir, log }
    }

    fn cli(&self) -> String {
        self.dir.path().join("node_modules/directus/cli.js").to_string_lossy().into_owned()
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

/// A database whose preflight stops inside db-init pre at `SELECT ... FROM gate` while the test holds
/// the table; `then` is the rest of the migration (valid SQL, or not).
struct Gated {
    db: TestDb,
    pre: tempfile::TempDir,
    post: tempfile::TempDir,
}

fn gated(name: &str, then: &str) -> Gated {
    let db = TestDb::fresh(name);
    db.query("CREATE TABLE gate (id int)");
    let sql = format!("SELECT count(*) FROM gate; {then}");
    let pre = migration_dir(&[("001_gate.sql", &sql)]);
    let post = migration_dir(&[]);
    Gated { db, pre, post }
}

impl Gated {
    /// Ends the test's session holding the gate (killing psql alone leaves its backend in pg_sleep).
    fn open(&self, hold: TableHold) {
        self.db.query(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE relation = 'gate'::regclass \
             AND mode = 'AccessExclusiveLock' AND granted",
        );
        drop(hold);
    }
}

fn env_for(g: &Gated, standin: &StandIn, ports: (u16, u16), extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let (health, server) = ports;
    let mut env = g.db.env();
    let command = format!("[\"node\", \"{}\", \"start\"]", standin.cli());
    let pairs: Vec<(&str, String)> = vec![
        ("TRM_INIT_SCHEMA__ENABLED", "false".into()),
        ("TRM_INIT_SCHEMA__STEP_SCRIPT", step_script().to_string_lossy().into_owned()),
        ("TRM_INIT_DB_INIT__PRE_DIR", g.pre.path().to_string_lossy().into_owned()),
        ("TRM_INIT_DB_INIT__POST_DIR", g.post.path().to_string_lossy().into_owned()),
        ("TRM_INIT_CHILD__COMMAND", command),
        ("TRM_INIT_CHILD__STOP_GRACE", "3s".into()),
        ("TRM_INIT_HEALTH__LISTEN", format!("127.0.0.1:{health}")),
        ("TRM_INIT_HEALTH__UPSTREAM", format!("http://127.0.0.1:{server}/server/ping")),
        ("TRM_INIT_HEALTH__CACHE_TTL", "100ms".into()),
        ("PORT", server.to_string()),
        ("STANDIN_LOG", standin.log.to_string_lossy().into_owned()),
    ];
    env.extend(pairs.into_iter().map(|(k, v)| (k.to_string(), v)));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn start(args: &[&str], env: &[(String, String)]) -> Pid1 {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Pid1::start(args, &env)
}

/// Waits until the preflight waits on the gate and the stand-in has been imported by the preload.
fn preloaded_and_waiting(init: &Pid1, g: &Gated, standin: &StandIn) {
    let waiting = eventually(LIMIT, || g.db.trm_init_waits_for_a_lock());
    assert!(waiting, "the preflight never reached the gate:\n{}", init.stderr_so_far());
    let imported = eventually(LIMIT, || standin.lines().contains(&"imported by preload.mjs".to_string()));
    assert!(imported, "the preload never imported server.js: {:?}\n{}", standin.lines(), init.stderr_so_far());
    assert!(init.wait_for_output("waiting for trm-init's go", LIMIT), "{}", init.stderr_so_far());
}

fn phase(port: u16) -> Option<(u16, String)> {
    let (status, body) = probe(port, "/readyz")?;
    Some((status, body.get("phase")?.as_str()?.to_string()))
}

fn ports() -> (u16, u16) {
    (free_port(), free_port())
}

#[test]
fn the_preloaded_child_serves_only_after_the_preflight_and_readyz_waits_for_it() {
    let standin = StandIn::new();
    let g = gated("preload_go", "SELECT 1;");
    let (health, server) = ports();
    let hold = g.db.hold_table("gate");
    let init = start(&["run"], &env_for(&g, &standin, (health, server), &[]));
    preloaded_and_waiting(&init, &g, &standin);
    // Loaded, not serving: nothing listens on Directus's port and /readyz says preflight.
    assert_eq!(standin.lines(), ["imported by preload.mjs"], "{}", init.stderr_so_far());
    assert!(get(server, "/server/ping").is_none(), "the server must not start before the go");
    let before = phase(health);
    assert!(matches!(before.as_ref(), Some((503, p)) if p == "preflight"), "{before:?}");

    g.open(hold);
    let ready = eventually(LIMIT, || matches!(phase(health), Some((200, _))));
    assert!(ready, "not ready after the go:\n{}", init.stderr_so_far());
    assert_eq!(get(server, "/server/ping").map(|(_, body)| body).as_deref(), Some("pong"));
    assert_eq!(standin.lines(), ["imported by preload.mjs", "serving (preload.mjs)"], "one module load, one server");
    assert!(init.stderr_so_far().contains("preloaded main child starts Directus's server (go)"));
    init.signal(libc::SIGTERM);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 0, "the child's own code after TERM (its handler exits 0):\n{}", out.stderr);
}

#[test]
fn a_failed_preflight_stops_the_preloaded_child_and_exits_with_the_preflights_code() {
    let standin = StandIn::new();
    let g = gated("preload_fail", "SELECT count(*) FROM no_such_table;");
    let hold = g.db.hold_table("gate");
    let init = start(&["run"], &env_for(&g, &standin, ports(), &[]));
    preloaded_and_waiting(&init, &g, &standin);
    g.open(hold);
    let out = init.wait(LIMIT);
    assert_eq!(out.code(), 65, "db-init's migration failure (65), not the child's code:\n{}", out.stderr);
    assert!(out.stderr.contains("preloaded main child stopped: its server never started"), "{}", out.stderr);
    assert_eq!(standin.lines(), ["imported by preload.mjs"], "never served, never started again");
}

#[test]
fn a_stop_signal_during_the_preflight_stops_the_preloaded_child_and_exits_128_plus_n() {
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let standin = StandIn::new();
        let g = gated("preload_stop", "SELECT 1;");
        let hold = g.db.hold_table("gate");
        let init = start(&["run"], &env_for(&g, &standin, ports(), &[]));
        preloaded_and_waiting(&init, &g, &standin);
        init.signal(sig);
        let out = init.wait(LIMIT);
        g.open(hold);
        assert_eq!(out.code(), code, "{}", out.stderr);
        assert!(out.stderr.contains("preloaded main child stopped: its server never started"), "{}", out.stderr);
        assert_eq!(standin.lines(), ["imported by preload.mjs"], "never served");
    }
}

#[test]
fn a_child_that_dies_while_preloading_is_started_the_normal_way_after_the_preflight() {
    let standin = StandIn::new();
    let g = gated("preload_dies", "SELECT 1;");
    let (health, server) = ports();
    let hold = g.db.hold_table("gate");
    let init = start(&["run"], &env_for(&g, &standin, (health, server), &[("STANDIN_DIE_IN_PRELOAD", "1")]));
    let warned = init.wait_for_output("the preloaded main child exited during the preflight", LIMIT);
    assert!(warned, "{}", init.stderr_so_far());
    assert!(matches!(phase(health), Some((503, p)) if p == "preflight"), "a dead preload does not stop the preflight");
    g.open(hold);
    let ready = eventually(LIMIT, || matches!(phase(health), Some((200, _))));
    assert!(ready, "not ready after the preflight:\n{}", init.stderr_so_far());
    assert_eq!(standin.lines(), ["imported by preload.mjs", "imported by start.js", "serving (start.js)"]);
    init.signal(libc::SIGTERM);
    assert_eq!(init.wait(LIMIT).code(), 0);
}

#[test]
fn preload_off_or_a_command_line_child_is_spawned_after_the_preflight() {
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 2] = [
        (&["run"], &[("TRM_INIT_CHILD__PRELOAD", "false")], "child.preload = false"),
        (&["run", "--"], &[], "`-- CMD`"),
    ];
    for (args, extra, why) in cases {
        let standin = StandIn::new();
        let g = gated("preload_off", "SELECT 1;");
        let (health, server) = ports();
        let hold = g.db.hold_table("gate");
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if args.last().map(String::as_str) == Some("--") {
            args.extend(["node".to_string(), standin.cli(), "start".to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let init = start(&args, &env_for(&g, &standin, (health, server), extra));
        assert!(eventually(LIMIT, || g.db.trm_init_waits_for_a_lock()), "{}", init.stderr_so_far());
        assert!(init.stderr_so_far().contains(why), "the log says why it is not preloaded:\n{}", init.stderr_so_far());
        assert!(standin.lines().is_empty(), "{why}: nothing runs before the preflight: {:?}", standin.lines());
        g.open(hold);
        let ready = eventually(LIMIT, || matches!(phase(health), Some((200, _))));
        assert!(ready, "{why}: not ready:\n{}", init.stderr_so_far());
        assert_eq!(standin.lines(), ["imported by start.js", "serving (start.js)"], "{why}");
        init.signal(libc::SIGTERM);
        assert_eq!(init.wait(LIMIT).code(), 0);
    }
}

/// The stand-in must really be Directus-shaped: `check` resolves it to a preload command.
#[test]
fn check_names_the_preload_command_or_why_there_is_none() {
    let standin = StandIn::new();
    let command = format!("[\"node\", \"{}\", \"start\"]", standin.cli());
    let script = step_script().to_string_lossy().into_owned();
    let base = [("TRM_INIT_CHILD__COMMAND", command.as_str()), ("TRM_INIT_SCHEMA__STEP_SCRIPT", script.as_str())];
    let line = |extra: &[(&str, &str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        let out = trm_init_command(&["check"], &env).output().expect("trm-init check");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().find(|l| l.starts_with("# child.preload: ")).unwrap_or_default().to_string()
    };
    let on = line(&[]);
    let preload = Path::new(&script).with_file_name("preload.mjs");
    assert!(on.contains(&*preload.to_string_lossy()) && on.contains("dist/server.js"), "{on}");
    assert!(line(&[("TRM_INIT_CHILD__PRELOAD", "false")]).contains("not preloaded (child.preload = false)"));
    let own = line(&[("TRM_INIT_CHILD__COMMAND", "[\"/srv/wrapper.sh\"]")]);
    assert!(own.contains("is not Directus's `cli.js start`"), "{own}");
}
