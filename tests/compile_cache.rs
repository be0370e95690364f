//! Issue 27: the main child gets Node's compile cache (`NODE_COMPILE_CACHE` = `child.compile_cache_dir`)
//! unless `child.compile_cache = false` or the operator set the variable; a directory that cannot serve
//! (a file, missing, unreadable, unwritable with nothing for this uid) never stops a boot: one warning,
//! and the child starts without it. On real Directus: a cold boot with an empty cache directory hands it
//! to Directus's Node, which fills it; a restart with every entry stale (junk bytes) boots healthy through
//! the preloaded child; a restart with the directory replaced by a file boots healthy with the warning. The bogus-directory cases that need another uid run a shell child as uid 1000 (what the
//! child sees is what trm-init decided; Node's own handling of such directories is in docs/benchmarks.md).
//! No timings are asserted (the speed-up is measured by bench/compile-cache.sh).

use trm_test_support as common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

const VAR: &str = "NODE_COMPILE_CACHE";
/// The child prints what it got.
const PRINT: &str = "echo \"child: NODE_COMPILE_CACHE=${NODE_COMPILE_CACHE-unset}\"";

/// `trm-init run --no-preflight -- sh -c PRINT` with `env` (as a uid, with a copy of the binary that uid
/// can run, when given): its outcome.
fn run_shell_child(env: &[(&str, &str)], as_user: Option<(u32, &Path)>) -> Outcome {
    let args = ["run", "--no-preflight", "--", "sh", "-c", PRINT];
    let mut cmd = match as_user {
        Some((_, binary)) => trm_init_command_of(binary, &args, env),
        None => trm_init_command(&args, env),
    };
    if !env.iter().any(|(k, _)| *k == VAR) {
        cmd.env_remove(VAR);
    }
    if let Some((uid, _)) = as_user {
        cmd.uid(uid).gid(uid);
    }
    run_to_end(cmd, Duration::from_secs(30))
}

fn seen(out: &Outcome) -> String {
    out.stdout.lines().find_map(|l| l.strip_prefix("child: NODE_COMPILE_CACHE=")).unwrap_or("(no line)").to_string()
}

/// A tempdir others may enter (tempfile makes 0700 folders).
fn open_tempdir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
    tmp
}

fn dir_env(dir: &Path) -> String {
    dir.to_string_lossy().into_owned()
}

#[test]
fn on_by_default_the_child_gets_the_directory() {
    let tmp = open_tempdir();
    let dir = dir_env(tmp.path());
    let out = run_shell_child(&[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", &dir)], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(seen(&out), dir, "stdout: {}\nstderr: {}", out.stdout, out.stderr);
    assert!(!out.stderr.contains("WARN"), "no warning for a usable directory: {}", out.stderr);
}

#[test]
fn off_leaves_the_environment_alone() {
    let tmp = open_tempdir();
    let dir = dir_env(tmp.path());
    let out = run_shell_child(
        &[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", &dir), ("TRM_INIT_CHILD__COMPILE_CACHE", "false")],
        None,
    );
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(seen(&out), "unset", "stdout: {}", out.stdout);
}

#[test]
fn the_operators_own_value_is_kept() {
    let tmp = open_tempdir();
    let dir = dir_env(tmp.path());
    let out = run_shell_child(&[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", &dir), (VAR, "/operator/cache")], None);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(seen(&out), "/operator/cache", "stdout: {}", out.stdout);
    assert!(out.stderr.contains("kept"), "the log says the operator's value is kept: {}", out.stderr);
}

/// A cache that cannot serve: exit 0 (the child ran), no variable, exactly one warning naming the key.
fn assert_ignored_with_one_warning(out: &Outcome, dir: &str, why: &str) {
    assert_eq!(out.code(), 0, "a bad cache must not stop the boot: {}", out.stderr);
    assert_eq!(seen(out), "unset", "{why}: stdout {}", out.stdout);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "one warning: {warnings:?}");
    assert!(
        warnings[0].contains("child.compile_cache_dir") && warnings[0].contains(dir) && warnings[0].contains(why),
        "the warning names the key, the directory and why ({why}): {}",
        warnings[0]
    );
}

#[test]
fn a_missing_directory_or_a_file_is_ignored_with_a_warning() {
    let tmp = open_tempdir();
    let missing = dir_env(&tmp.path().join("missing"));
    let out = run_shell_child(&[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", &missing)], None);
    assert_ignored_with_one_warning(&out, &missing, "does not exist");

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a cache").expect("write");
    let file = dir_env(&file);
    let out = run_shell_child(&[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", &file)], None);
    assert_ignored_with_one_warning(&out, &file, "is not a directory");
}

#[test]
fn unreadable_and_unwritable_directories_as_another_uid() {
    require_root();
    let tmp = open_tempdir();
    let uid = 1000;
    // The binary where uid 1000 can run it: target/ is wherever the checkout is, maybe in a 0700 folder.
    let binary = tmp.path().join("trm-init");
    std::fs::copy(bin(), &binary).expect("copy trm-init into the open tempdir");
    let cmd = |dir: &Path| {
        let dir = dir_env(dir);
        (dir.clone(), run_shell_child(&[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", &dir)], Some((uid, &binary))))
    };

    let unreadable = tmp.path().join("unreadable");
    std::fs::create_dir(&unreadable).expect("mkdir");
    std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let (dir, out) = cmd(&unreadable);
    assert_ignored_with_one_warning(&out, &dir, "cannot be read by uid 1000");

    // Not writable and nothing Node could read for this uid: ignored.
    let empty = tmp.path().join("read-only-empty");
    std::fs::create_dir(&empty).expect("mkdir");
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let (dir, out) = cmd(&empty);
    assert_ignored_with_one_warning(&out, &dir, "holds no cache for that uid");

    // Not writable but holding a cache for this uid (a read-only root with the image's cache): Node reads
    // it (checked by hand, docs/benchmarks.md), so the child gets it, with one warning.
    let warm = tmp.path().join("read-only-warm");
    std::fs::create_dir_all(warm.join("v22.0.0-x64-00000000-1000")).expect("mkdir");
    std::fs::set_permissions(&warm, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let (dir, out) = cmd(&warm);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(seen(&out), dir, "stdout: {}", out.stdout);
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.contains("WARN")).collect();
    assert!(
        warnings.len() == 1 && warnings[0].contains("read-only") && warnings[0].contains("not writable by uid 1000"),
        "one warning that the cache is read-only: {warnings:?}"
    );
}

/// The Node process trm-init started (the main child: `env -C DIR node cli.js start` execs node).
fn main_child_environ(outer_pid: i32) -> String {
    let pid = children_of(outer_pid).into_iter().find(|p| comm(*p).as_deref() == Some("node"));
    let pid = pid.unwrap_or_else(|| panic!("no node child of trm-init (pid {outer_pid})"));
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("read the child's environ");
    String::from_utf8_lossy(&raw).replace('\0', "\n")
}

/// Files Node wrote under the cache directory (in its `v<version>-<arch>-<hash>-<uid>` folders).
fn cache_entries(dir: &Path) -> usize {
    let Ok(folders) = std::fs::read_dir(dir) else { return 0 };
    folders.flatten().filter_map(|f| std::fs::read_dir(f.path()).ok()).map(|entries| entries.count()).sum()
}

/// trm-init + Directus on `db` with `child.compile_cache_dir = dir`, healthy within `limit`; the boot and
/// the main child's environment.
fn boot_healthy(db: &TestDb, dir: &str, extra: &[(&str, &str)], limit: Duration) -> (Boot, String) {
    let ports = Ports::free();
    let mut env = boot_env(db, ports);
    env.push(("TRM_INIT_CHILD__COMPILE_CACHE_DIR".into(), dir.to_string()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let boot = Boot::start(&env, ports);
    boot.wait_healthy(limit);
    let environ = main_child_environ(boot.pid1.outer_pid);
    (boot, environ)
}

#[test]
fn real_directus_fills_the_cache_and_boots_past_a_bogus_one() {
    require(
        "no NODE_COMPILE_CACHE in the test's environment",
        std::env::var_os(VAR).is_none(),
        "unset NODE_COMPILE_CACHE",
    );
    let db = TestDb::fresh("compile_cache");
    let tmp = open_tempdir();
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).expect("mkdir cache");
    let cache_s = dir_env(&cache);

    // 1. Cold boot with an empty cache: Directus's Node gets the variable and fills the directory.
    let (boot, environ) = boot_healthy(&db, &cache_s, &[], Duration::from_secs(300));
    assert!(
        environ.lines().any(|l| l == format!("{VAR}={cache_s}")),
        "Directus runs with {VAR}={cache_s}; its environment:\n{environ}"
    );
    let (code, log) = boot.stop(Duration::from_secs(30));
    assert_eq!(code, 143, "stopped by SIGTERM; log:\n{log}");
    let entries = cache_entries(&cache);
    assert!(entries > 100, "Node wrote its compile cache for Directus's modules: {entries} entries in {cache_s}");

    // 2. Restart with every entry stale (overwritten with bytes that match no module), the schema step
    // forced so that the child is preloaded beside it (child.preload, on by default): the step's helper,
    // the preloaded child and the server start past them.
    let mut stale = 0;
    for folder in std::fs::read_dir(&cache).expect("read cache").flatten() {
        for entry in std::fs::read_dir(folder.path()).expect("read cache folder").flatten() {
            std::fs::write(entry.path(), b"stale entry, matches no module").expect("overwrite entry");
            stale += 1;
        }
    }
    assert!(stale > 100, "{stale} entries made stale");
    let forced = [("TRM_INIT_SCHEMA__SKIP_UNCHANGED", "false")];
    let (boot, environ) = boot_healthy(&db, &cache_s, &forced, Duration::from_secs(180));
    assert!(environ.lines().any(|l| l == format!("{VAR}={cache_s}")), "environment:\n{environ}");
    let (code, log) = boot.stop(Duration::from_secs(30));
    assert_eq!(code, 143, "log:\n{log}");
    assert!(log.contains("the preloaded main child starts Directus's server (go)"), "preloaded:\n{log}");

    // 3. Warm restart with the directory replaced by a file: healthy, one warning, no variable.
    std::fs::remove_dir_all(&cache).expect("rm cache");
    std::fs::write(&cache, "not a cache").expect("write");
    let (boot, environ) = boot_healthy(&db, &cache_s, &[], Duration::from_secs(180));
    assert!(!environ.contains(&format!("{VAR}=")), "no {VAR} for a file; environment:\n{environ}");
    let (code, log) = boot.stop(Duration::from_secs(30));
    assert_eq!(code, 143, "log:\n{log}");
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("child.compile_cache_dir")).collect();
    assert_eq!(warnings.len(), 1, "one warning about the cache: {warnings:?}");
    assert!(warnings[0].contains("is not a directory"), "{}", warnings[0]);
}

#[test]
fn check_shows_the_keys_and_the_decision() {
    let tmp = open_tempdir();
    let dir = dir_env(tmp.path());
    let env = [("TRM_INIT_CHILD__COMPILE_CACHE_DIR", dir.as_str()), ("TRM_INIT_PREFLIGHT__ENABLED", "false")];
    let mut cmd = trm_init_command(&["check"], &env);
    cmd.env_remove(VAR);
    let out = run_to_end(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("compile_cache = true"), "the key in the effective config:\n{}", out.stdout);
    assert!(out.stdout.contains(&format!("compile_cache_dir = \"{dir}\"")), "the folder:\n{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("# child.compile_cache: NODE_COMPILE_CACHE={dir} for the main child")),
        "the decision:\n{}",
        out.stdout
    );
    let missing = format!("{dir}/missing");
    let mut cmd = trm_init_command(
        &["check"],
        &[("TRM_INIT_CHILD__COMPILE_CACHE_DIR", missing.as_str()), ("TRM_INIT_PREFLIGHT__ENABLED", "false")],
    );
    cmd.env_remove(VAR);
    let out = run_to_end(cmd, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "an unusable cache is no problem for check either: {}", out.stderr);
    assert!(out.stdout.contains("# child.compile_cache: not used: child.compile_cache_dir"), "{}", out.stdout);
}
