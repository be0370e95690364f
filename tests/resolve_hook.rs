//! Issue 27: Directus's Node processes start with `--import <step_script's folder>/resolve-hook.mjs`
//! (`child.resolve_hook`, on by default), and nothing about it can stop a boot. On real Directus, as PID 1:
//! a cold boot where the step helper and the main child run with the option (and the hook registers
//! without a word), a warm restart with the key off (no option), one with the script missing (one warning,
//! no option) and one with the script's own module missing (the script says so, Directus starts). That
//! each answer is Node's own is directus-step/test/esm-resolve.test.mjs; the time it saves is
//! bench/boot.sh and bench/container-restart.sh. No timings are asserted.

use trm_test_support as common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// The main child's command line (the `node` process trm-init started), arguments joined by spaces.
fn main_child_cmdline(outer_pid: i32) -> String {
    let pid = children_of(outer_pid).into_iter().find(|p| comm(*p).as_deref() == Some("node"));
    let pid = pid.unwrap_or_else(|| panic!("no node child of trm-init (pid {outer_pid})"));
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("read the child's cmdline");
    String::from_utf8_lossy(&raw).trim_end_matches('\0').replace('\0', " ")
}

/// trm-init + Directus on `db` with `extra`, healthy within `limit`: the log and the main child's command.
fn boot(db: &TestDb, extra: &[(&str, String)], limit: Duration) -> (String, String) {
    let ports = Ports::free();
    let mut env = boot_env(db, ports);
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let boot = Boot::start(&env, ports);
    boot.wait_healthy(limit);
    let cmdline = main_child_cmdline(boot.pid1.outer_pid);
    let (code, log) = boot.stop(Duration::from_secs(30));
    assert_eq!(code, 143, "stopped by SIGTERM; log:\n{log}");
    (log, cmdline)
}

/// The repository's directus-step folder copied to `dir` without `leave_out`; the copy's step.mjs.
fn step_folder_without(dir: &Path, leave_out: &str) -> String {
    for entry in std::fs::read_dir(repo_dir("directus-step")).expect("read directus-step").flatten() {
        let name = entry.file_name();
        if entry.path().is_file() && name != leave_out {
            std::fs::copy(entry.path(), dir.join(&name)).expect("copy a directus-step file");
        }
    }
    assert!(!dir.join(leave_out).exists(), "{leave_out} left out");
    dir.join("step.mjs").to_string_lossy().into_owned()
}

#[test]
fn directus_boots_with_the_hook_without_it_and_past_a_missing_script() {
    let db = TestDb::fresh("resolve_hook");
    let hook = repo_dir("directus-step/resolve-hook.mjs").to_string_lossy().into_owned();
    let option = format!("--import {hook}");

    // 1. Cold boot: the step helper and the main child get the option; the hook registers silently.
    let (log, cmdline) = boot(&db, &[], Duration::from_secs(300));
    assert!(cmdline.contains(&option), "the main child runs with {option}: {cmdline}");
    let helper = log.lines().find(|l| l.contains("starting the Directus step helper")).unwrap_or("(none)");
    assert!(helper.contains(&format!("\"--import\", \"{hook}\"")), "the helper runs with the hook: {helper}");
    assert!(log.contains("module resolution hook: Directus's Node processes start with --import"), "{log}");
    assert!(!log.contains("trm-init resolve hook:"), "the hook registered without a word:\n{log}");

    // 2. Warm restart with the key off: no option, one line saying so.
    let (log, cmdline) = boot(&db, &[("TRM_INIT_CHILD__RESOLVE_HOOK", "false".into())], Duration::from_secs(180));
    assert!(!cmdline.contains("--import"), "no hook with child.resolve_hook = false: {cmdline}");
    assert!(log.contains("child.resolve_hook = false"), "{log}");

    // 3. The script missing next to schema.step_script (the step forced, so its helper starts too): one
    // warning naming it, no option, healthy.
    let tmp = tempfile::tempdir().expect("tempdir");
    let step = step_folder_without(tmp.path(), "resolve-hook.mjs");
    let extra = [("TRM_INIT_SCHEMA__STEP_SCRIPT", step), ("TRM_INIT_SCHEMA__SKIP_UNCHANGED", "false".into())];
    let (log, cmdline) = boot(&db, &extra, Duration::from_secs(180));
    assert!(!cmdline.contains("--import"), "no hook when its script is missing: {cmdline}");
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN") && l.contains("child.resolve_hook")).collect();
    assert_eq!(warnings.len(), 1, "one warning about the hook: {warnings:?}\n{log}");
    assert!(warnings[0].contains("resolve-hook.mjs cannot be used"), "{}", warnings[0]);
    assert!(warnings[0].contains(&tmp.path().to_string_lossy().into_owned()), "names the file: {}", warnings[0]);

    // 4. The script there but its module (esm-resolve.mjs) missing: Node runs, the script says why it did
    // not register, Directus starts.
    let tmp = tempfile::tempdir().expect("tempdir");
    let step = step_folder_without(tmp.path(), "esm-resolve.mjs");
    let (log, cmdline) = boot(&db, &[("TRM_INIT_SCHEMA__STEP_SCRIPT", step)], Duration::from_secs(180));
    assert!(cmdline.contains("--import"), "the option is given: {cmdline}");
    assert!(
        log.contains("trm-init resolve hook: esm-resolve.mjs cannot be loaded"),
        "the script says why it did not register:\n{log}"
    );
}

#[test]
fn check_shows_the_key_and_the_decision() {
    let hook = repo_dir("directus-step/resolve-hook.mjs").to_string_lossy().into_owned();
    let step = repo_dir("directus-step/step.mjs").to_string_lossy().into_owned();
    let env = [("TRM_INIT_SCHEMA__STEP_SCRIPT", step.as_str()), ("TRM_INIT_PREFLIGHT__ENABLED", "false")];
    let out = run_to_end(trm_init_command(&["check"], &env), Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("resolve_hook = true"), "the key in the effective config:\n{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("# child.resolve_hook: --import {hook} for Directus's Node processes")),
        "the decision:\n{}",
        out.stdout
    );
    let off = [("TRM_INIT_CHILD__RESOLVE_HOOK", "false"), ("TRM_INIT_PREFLIGHT__ENABLED", "false")];
    let out = run_to_end(trm_init_command(&["check"], &off), Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stdout.contains("# child.resolve_hook: off (child.resolve_hook = false)"), "{}", out.stdout);
}
