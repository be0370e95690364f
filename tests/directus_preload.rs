//! `directus-step/preload.mjs` with the real Directus 11.17.4: importing `@directus/api`'s `server.js`
//! touches no database (so no schema, permissions or settings are read before the go), and the server
//! starts only on "go". Directus's database is a local port that counts connections and never answers;
//! the control (the go) shows that the server does connect there, so the test can fail. With Redis
//! configured (a real redis-server), the import connects and subscribes to Directus's bus: the test shows
//! that this subscription is all it does before the go (no key read or written) and that a
//! `schemaChanged` message, which the preflight's schema apply publishes, neither touches the database nor
//! stops the preloaded child (README "Directus preloaded").

use trm_test_support as common;

use common::*;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 with a valid two-int buffer; both descriptors are ours on success.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0, "pipe2");
    // SAFETY: just created, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

struct Preloading {
    child: std::process::Child,
    go: Option<std::fs::File>,
    stderr: Captured,
    db_connections: Arc<AtomicUsize>,
}

/// `node preload.mjs <server.js>` in Directus's folder with Directus's environment, the database at a
/// counting port, the go pipe's read end as descriptor 3.
fn preload(name: &str, extra: &[(&str, String)]) -> Preloading {
    let db = TestDb::fresh(name);
    let (db_port, db_connections) = black_hole();
    let dir = directus_dir();
    let server = std::fs::canonicalize(dir.join("node_modules/@directus/api/dist/server.js")).expect("server.js");
    let script = step_script().with_file_name("preload.mjs");
    let (read, write) = pipe();
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(&server).current_dir(&dir);
    for (k, v) in directus_env(&db, free_port()) {
        cmd.env(k, v);
    }
    cmd.env("DB_HOST", "127.0.0.1").env("DB_PORT", db_port.to_string()).env("DB_CONNECTION_TIMEOUT", "2000");
    cmd.envs(extra.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let raw = read.as_raw_fd();
    // SAFETY: between fork and exec; dup2 is async-signal-safe. dup2 clears close-on-exec on fd 3.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("node");
    drop(read);
    let stderr = Captured::read_from(child.stderr.take());
    Preloading { child, go: Some(std::fs::File::from(write)), stderr, db_connections }
}

impl Drop for Preloading {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_server_module_loads_without_touching_the_database_and_starts_only_on_go() {
    // End of file without the go: exits 0, never connected, never started.
    let mut p = preload("preload_import", &[]);
    let loaded = eventually(LIMIT, || p.stderr.text().contains("waiting for trm-init's go"));
    assert!(loaded, "server.js never loaded:\n{}", p.stderr.text());
    std::thread::sleep(Duration::from_secs(2)); // anything scheduled at import would have run by now
    assert_eq!(
        p.db_connections.load(Ordering::SeqCst),
        0,
        "the import connected to the database:\n{}",
        p.stderr.text()
    );
    drop(p.go.take());
    let status = wait_child(&mut p.child, LIMIT);
    assert_eq!(status.code(), Some(0), "{}", p.stderr.text());
    assert!(p.stderr.text().contains("no go from trm-init"), "{}", p.stderr.text());
    assert_eq!(p.db_connections.load(Ordering::SeqCst), 0, "{}", p.stderr.text());

    // Control: the go starts the server, which goes to the database at once.
    let mut p = preload("preload_import", &[]);
    assert!(eventually(LIMIT, || p.stderr.text().contains("waiting for trm-init's go")), "{}", p.stderr.text());
    assert_eq!(p.db_connections.load(Ordering::SeqCst), 0);
    p.go.as_mut().expect("go pipe").write_all(b"go\n").expect("write the go");
    drop(p.go.take());
    let connected = eventually(LIMIT, || p.db_connections.load(Ordering::SeqCst) > 0);
    assert!(
        connected,
        "after the go the server never reached its database: the test would prove nothing\n{}",
        p.stderr.text()
    );
}

/// Redis commands that read or write keys; none may come from the preloaded child before the go.
const KEY_COMMANDS: [&str; 14] = [
    "get",
    "set",
    "mget",
    "mset",
    "del",
    "unlink",
    "exists",
    "keys",
    "scan",
    "expire",
    "pexpire",
    "hget",
    "hset",
    "getbuffer",
];

fn key_commands(redis: &RedisServer) -> Vec<String> {
    let stats = redis.cli(&["INFO", "commandstats"]);
    stats
        .lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter(|l| KEY_COMMANDS.iter().any(|c| l.starts_with(&format!("{c}:"))))
        .map(str::to_string)
        .collect()
}

#[test]
fn with_redis_the_preload_only_subscribes_and_a_schema_change_before_the_go_is_harmless() {
    let redis = RedisServer::start();
    // Directus's caches on Redis too (the most Redis a deployment gives it): the import must still read nothing.
    let extra = [
        ("REDIS", redis.url()),
        ("CACHE_ENABLED", "true".to_string()),
        ("CACHE_STORE", "redis".to_string()),
        ("CACHE_AUTO_PURGE", "true".to_string()),
    ];
    let mut p = preload("preload_redis", &extra);
    assert!(eventually(LIMIT, || p.stderr.text().contains("waiting for trm-init's go")), "{}", p.stderr.text());
    // The import subscribed to the bus channel the schema apply publishes on (else this test proves nothing).
    let channel = "directus:bus:schemaChanged";
    let subscribed = eventually(Duration::from_secs(20), || redis.cli(&["PUBSUB", "NUMSUB", channel]).ends_with("\n1"));
    assert!(
        subscribed,
        "the preload never subscribed to {channel}: {}\n{}",
        redis.cli(&["PUBSUB", "CHANNELS"]),
        p.stderr.text()
    );
    // What Directus's clearSystemCache publishes when the preflight's step applies a schema change.
    let receivers = redis.cli(&["PUBLISH", channel, r#"{"autoPurgeCache":true}"#]);
    assert_eq!(receivers, "1", "the preloaded child did not receive the schema change");
    std::thread::sleep(Duration::from_secs(2));
    assert!(p.child.try_wait().expect("try_wait").is_none(), "the message ended the preload:\n{}", p.stderr.text());
    assert_eq!(p.db_connections.load(Ordering::SeqCst), 0, "the message reached the database:\n{}", p.stderr.text());
    assert_eq!(key_commands(&redis), Vec::<String>::new(), "Redis keys touched before the go:\n{}", p.stderr.text());
    assert_eq!(redis.cli(&["DBSIZE"]), "0", "the preload wrote to Redis before the go");

    // Control: after the go the server goes to its database (and would read its caches from then on).
    p.go.as_mut().expect("go pipe").write_all(b"go\n").expect("write the go");
    drop(p.go.take());
    let connected = eventually(LIMIT, || p.db_connections.load(Ordering::SeqCst) > 0);
    assert!(connected, "after the go the server never reached its database\n{}", p.stderr.text());
}
