//! The restart policy in the real engine: with PostgreSQL unreachable at first, the container exits with
//! the documented code (69, database not reachable before `database.wait_timeout`), Docker's
//! `--restart on-failure` starts it again, and once PostgreSQL answers it converges to healthy with every
//! migration applied exactly once. "PostgreSQL down" is a port where nothing listens yet; "back" is a
//! TCP relay from that port to the suite's PostgreSQL, opened by the test.

mod container;

use container::*;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;
use trm_test_support::*;

/// Relays every connection on `listener` to `upstream` (both directions), until the test ends.
fn relay(listener: TcpListener, upstream: String) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else { continue };
            let (mut a, mut b) = (conn.try_clone().expect("clone"), server.try_clone().expect("clone"));
            let (mut c, mut d) = (conn, server);
            std::thread::spawn(move || std::io::copy(&mut a, &mut b));
            std::thread::spawn(move || std::io::copy(&mut d, &mut c));
        }
    });
}

#[test]
fn on_failure_restarts_until_postgres_is_back_and_applies_nothing_twice() {
    engine();
    let db = TestDb::fresh("container_restart");
    let ports = Ports::free();
    let down_port = free_port();
    let mut env = container_env(&db, ports);
    for (k, v) in env.iter_mut() {
        if k == "DB_PORT" {
            *v = down_port.to_string();
        }
    }
    env.push(("TRM_INIT_DATABASE__WAIT_TIMEOUT".into(), "3s".into()));
    let c = Container::run(IMAGE, &env, ports, &["--restart", "on-failure"], &[]);

    // Down: trm-init gives up after wait_timeout with 69, and Docker starts it again.
    let restarted =
        eventually(Duration::from_secs(60), || c.inspect("{{.RestartCount}}").parse::<u32>().unwrap_or(0) >= 1);
    assert!(restarted, "Docker restarted the container: {}\n{}", c.inspect("{{json .State}}"), c.logs());
    // The first run's code from the engine's record: `.State.ExitCode` is 0 again once the restart began.
    let codes = c.exit_codes();
    assert_eq!(
        codes.first(),
        Some(&69),
        "the documented code for an unreachable database (codes {codes:?}):\n{}",
        c.logs()
    );
    assert!(c.logs().contains("was not reachable within database.wait_timeout"), "{}", c.logs());
    assert_eq!(db.query("SELECT count(*) FROM pg_tables WHERE tablename = 'migrations_applied'"), "0");

    // Back: the next start converges.
    let admin = conninfo_map(&pg_admin());
    let listener = TcpListener::bind(("127.0.0.1", down_port)).expect("the relay's port");
    relay(listener, format!("{}:{}", admin["host"], admin["port"]));
    c.wait_health("healthy", Duration::from_secs(180));
    let restarts: u32 = c.inspect("{{.RestartCount}}").parse().unwrap_or(0);
    eprintln!("[container] healthy after {restarts} restarts");
    let files = repo_migrations("db-init").len() + repo_migrations("db-init-post").len();
    assert_eq!(db.query("SELECT count(*) FROM migrations_applied"), files.to_string(), "each migration once");
    assert_eq!(db.query("SELECT count(*) FROM trm_init_schema_state"), "1");
}
