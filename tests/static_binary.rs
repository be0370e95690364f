//! trm-init is one static binary: it runs as PID 1 in an empty chroot with no libc and no shell.
use trm_test_support as common;

use common::{bin, require_root, wait_child};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A root folder holding nothing but the binary (and an empty /tmp).
fn empty_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::copy(bin(), root.path().join("trm-init")).expect("copy binary");
    std::fs::create_dir(root.path().join("tmp")).expect("mkdir tmp");
    root
}

fn run_in_chroot(root: &std::path::Path, args: &[&str]) -> (i32, String) {
    require_root();
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "chroot"])
        .arg(root)
        .arg("/trm-init")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        // Tests run in parallel on one loopback: any free port for the health server.
        .env("TRM_INIT_HEALTH__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare + chroot");
    let status = wait_child(&mut child, Duration::from_secs(20));
    let mut text = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut text).expect("read");
    std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut text).expect("read");
    (status.code().unwrap_or(-1), text)
}

#[test]
fn binary_is_statically_linked() {
    let out = Command::new("file").arg(bin()).output().expect("file(1)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("static"), "{text}");
}

#[test]
fn runs_as_pid1_in_an_empty_chroot_and_supervises_itself() {
    let root = empty_root();
    // PID 1 supervises a second copy of itself that prints its version.
    let (code, text) = run_in_chroot(root.path(), &["--no-preflight", "--", "/trm-init", "--version"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
}

#[test]
fn exec_failure_in_an_empty_chroot_is_127() {
    let root = empty_root();
    let (code, text) = run_in_chroot(root.path(), &["--no-preflight", "--", "/bin/sh"]);
    assert_eq!(code, 127, "{text}");
    assert!(text.contains("/bin/sh"), "{text}");
}
