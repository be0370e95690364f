//! Issue 17: trm-init starts Directus without cli.js's npm update check. Outbound HTTPS is black-holed
//! (HTTPS_PROXY points at a local port that accepts connections and never answers, as a locked-down
//! production network does). A cold boot (bootstrap, guard, apply through the step helper, then the
//! child configured as the CONTRACT's default `node <dir>/cli.js start`) reaches healthy with no
//! connection ever reaching the black hole and no "Update available" output. The control run, with
//! `child.skip_update_check = false`, shows the black hole does catch cli.js's check: the test can fail.
//! With `child.direct_start` (default) the child is `@directus/api`'s `start.js`, the server module
//! itself (with `child.preload`, also default, `preload.mjs` loading its `server.js` during the preflight); `check` shows which command each setting gives, and that a start.js that cannot be found falls
//! back to `cli/run.js start` with a warning instead of failing. No timings are asserted.

use trm_test_support as common;

use common::*;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn boot(env: &[(String, String)], cwd: &std::path::Path) -> Pid1 {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Pid1::start_with(&[], &env, |cmd| {
        // No package.json above the working directory: the update check has no cache, as in a fresh container.
        cmd.current_dir(cwd);
    })
}

/// The command line of the `node` process trm-init started as its child.
fn node_cmdline(pid1: &Pid1) -> String {
    let pid = pid1.wait_for_process("node", Duration::from_secs(60));
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

#[test]
fn no_directus_command_waits_on_the_npm_registry() {
    let db = TestDb::fresh("update_check");
    let ports = Ports::free();
    let (hole, reached) = black_hole();
    let cwd = tempfile::tempdir().expect("tempdir");
    let cli = directus_dir().join("cli.js").to_string_lossy().into_owned();
    let mut env = boot_env(&db, ports);
    env.retain(|(k, _)| k != "HTTPS_PROXY" && k != "TRM_INIT_CHILD__COMMAND");
    env.push(("HTTPS_PROXY".into(), format!("http://127.0.0.1:{hole}")));
    // The CONTRACT's default form of the child command, with the test's Directus folder.
    env.push(("TRM_INIT_CHILD__COMMAND".into(), format!("[\"node\", \"{cli}\", \"start\"]")));

    let pid1 = boot(&env, cwd.path());
    let healthy = eventually(Duration::from_secs(600), || {
        std::thread::sleep(Duration::from_millis(200));
        http(ports.directus, "GET", "/server/ping", None, None).0 == 200 || pid1.outer_pid == 0
    });
    assert!(healthy, "a cold boot did not get healthy:\n{}", pid1.stderr_so_far());
    let cmdline = node_cmdline(&pid1);
    let log = format!("{}{}", pid1.stdout_so_far(), pid1.stderr_so_far());
    assert!(log.contains("snapshot applied"), "the cold boot ran the whole schema step:\n{log}");
    assert!(
        cmdline.contains("directus-step/preload.mjs")
            && cmdline.contains("@directus/api/dist/server.js")
            && !cmdline.contains("run.js"),
        "child.direct_start + child.preload: the child loads the server module itself: {cmdline}"
    );
    assert_eq!(reached.load(Ordering::SeqCst), 0, "a Directus command went to the network:\n{log}");
    assert!(!log.contains("Update available"), "{log}");
    pid1.signal(libc::SIGTERM);
    let out = pid1.wait(Duration::from_secs(60));
    assert!(matches!(out.code(), 0 | 143), "{}", out.stderr);

    // Control: cli.js as written does go to the network (the black hole catches it).
    env.push(("TRM_INIT_CHILD__SKIP_UPDATE_CHECK".into(), "false".into()));
    let pid1 = boot(&env, cwd.path());
    let caught = eventually(Duration::from_secs(300), || reached.load(Ordering::SeqCst) > 0);
    let cmdline = node_cmdline(&pid1);
    assert!(
        caught,
        "cli.js's update check never reached the black hole: the test would prove nothing\n{}",
        pid1.stderr_so_far()
    );
    assert!(cmdline.contains("cli.js start"), "{cmdline}");
    pid1.signal(libc::SIGTERM);
    let _ = pid1.wait(Duration::from_secs(60));
}

/// What `trm-init check` says the child runs, for `env`.
fn child_line(env: &[(&str, &str)]) -> (String, String) {
    let out = trm_init_command(&["check"], env).output().expect("run trm-init check");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{text}");
    let line = text.lines().find(|l| l.starts_with("# child: runs ")).unwrap_or_default().to_string();
    (line, text)
}

#[test]
fn direct_start_and_its_fallbacks() {
    let dx = directus_dir();
    let command = format!("[\"node\", \"{}\", \"start\"]", dx.join("cli.js").display());
    let base = [("TRM_INIT_PREFLIGHT__ENABLED", "false"), ("TRM_INIT_CHILD__COMMAND", command.as_str())];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        child_line(&env)
    };
    let (line, text) = with(&[]);
    assert!(line.contains("@directus/api/dist/start.js\"]"), "default: the server module: {text}");
    let (line, text) = with(&[("TRM_INIT_CHILD__DIRECT_START", "false")]);
    assert!(line.contains("@directus/api/dist/cli/run.js\", \"start\"]"), "direct_start = false: run.js start: {text}");
    let (line, text) = with(&[("TRM_INIT_CHILD__SKIP_UPDATE_CHECK", "false")]);
    assert!(line.contains("cli.js\", \"start\"]"), "skip_update_check = false: cli.js as written: {text}");

    // A Directus whose @directus/api has no start.js: run.js start, with a warning naming the file.
    let copy = tempfile::tempdir().expect("tempdir");
    let api = std::fs::canonicalize(dx.join("node_modules/@directus/api")).expect("@directus/api");
    let fake_api = copy.path().join("node_modules/@directus/api");
    std::fs::create_dir_all(fake_api.join("dist/cli")).expect("mkdir");
    std::fs::copy(api.join("package.json"), fake_api.join("package.json")).expect("copy package.json");
    std::fs::write(fake_api.join("dist/cli/run.js"), "").expect("run.js");
    let real_cli = std::fs::canonicalize(dx.join("cli.js")).expect("cli.js");
    let fake_pkg = copy.path().join("node_modules/directus");
    std::fs::create_dir_all(&fake_pkg).expect("mkdir");
    std::fs::copy(real_cli.with_file_name("package.json"), fake_pkg.join("package.json")).expect("copy");
    std::fs::copy(&real_cli, fake_pkg.join("cli.js")).expect("copy cli.js");
    let command = format!("[\"node\", \"{}\", \"start\"]", fake_pkg.join("cli.js").display());
    let (line, text) =
        child_line(&[("TRM_INIT_PREFLIGHT__ENABLED", "false"), ("TRM_INIT_CHILD__COMMAND", command.as_str())]);
    assert!(line.contains("dist/cli/run.js\", \"start\"]"), "no start.js: run.js start: {text}");
    assert!(text.contains("child.direct_start: cannot start Directus's server module directly"), "{text}");
    assert!(text.contains("dist/start.js is missing"), "the warning names the file: {text}");
}
