//! trm-init is one static binary: it runs as PID 1 in an empty chroot with no libc and no shell.
use trm_test_support as common;

use common::{bin, require_root, wait_child};
use std::os::unix::process::ExitStatusExt;
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

/// The release build: the binary the image ships (`cargo build --release`, as the Dockerfile runs it).
fn release_bin() -> std::path::PathBuf {
    let named = std::env::var_os("TRM_TEST_RELEASE_BIN").map(std::path::PathBuf::from).unwrap_or_default();
    common::require(
        "the release build of trm-init",
        named.is_file(),
        "build it with `cargo build --release --bin trm-init` and name it in TRM_TEST_RELEASE_BIN \
         (scripts/test.sh does both)",
    );
    named
}

/// `readelf ARG FILE`: the section table (`-SW`) or the program headers (`-lW`).
fn readelf(arg: &str, file: &std::path::Path) -> String {
    let out = Command::new("readelf").arg(arg).arg(file).output().expect("readelf(1) (binutils)");
    assert!(out.status.success(), "readelf {arg} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `file` carries unwind tables: a `.eh_frame` section or a `PT_GNU_EH_FRAME` header.
fn has_unwind_tables(file: &std::path::Path) -> bool {
    let sections = readelf("-SW", file);
    assert!(sections.contains(" .text "), "readelf listed no .text in {}: {sections}", file.display());
    sections.contains(".eh_frame") || readelf("-lW", file).contains("GNU_EH_FRAME")
}

/// The release link leaves out the unwind tables (build.rs; 544 KiB of the binary): no `.eh_frame`,
/// no `.eh_frame_hdr` and no header pointing at one.
#[test]
fn the_release_binary_links_no_unwind_tables() {
    let release = release_bin();
    assert!(!has_unwind_tables(&release), "{} has unwind tables: build.rs did not reach its link", release.display());
}

/// What leaving out the unwind tables changes for a panic (trm-init has no way to panic on purpose): a
/// probe program linked as trm-init is (this repository's build.rs, .cargo/config.toml and release
/// profile), built once with build.rs and once without. Both print the panic's message and end the same
/// way, as a plain process and as PID 1, with and without `RUST_BACKTRACE`; a thread that starts and
/// ends, and a clean exit, work in both.
#[test]
fn a_panic_without_unwind_tables_prints_its_message_and_ends_as_with_them() {
    require_root();
    let with_build_rs = build_probe(true);
    let without = build_probe(false);
    assert!(!has_unwind_tables(&with_build_rs.1), "the probe linked with build.rs has unwind tables");
    assert!(has_unwind_tables(&without.1), "the probe linked without build.rs has no unwind tables");
    for pid1 in [false, true] {
        let clean = run_probe(&with_build_rs.1, false, None, pid1);
        assert_eq!(clean.0.code(), Some(0), "clean run (PID 1: {pid1}): {clean:?}");
        assert!(clean.1.contains("thread joined 7"), "clean run (PID 1: {pid1}): {clean:?}");
        for backtrace in [None, Some("1"), Some("full")] {
            let (status, stderr) = run_probe(&with_build_rs.1, true, backtrace, pid1);
            let (before, stderr_before) = run_probe(&without.1, true, backtrace, pid1);
            let case = format!("PID 1: {pid1}, RUST_BACKTRACE: {backtrace:?}");
            assert!(stderr.contains("panicked at") && stderr.contains(PROBE_PANIC), "{case}: {stderr}");
            assert!(stderr_before.contains(PROBE_PANIC), "{case}, with unwind tables: {stderr_before}");
            assert_eq!(
                (status.code(), status.signal()),
                (before.code(), before.signal()),
                "{case}: ends unlike the same panic with unwind tables\n{stderr}\n--- with them:\n{stderr_before}"
            );
            if !pid1 {
                assert_eq!(status.signal(), Some(libc::SIGABRT), "{case}: a panic aborts: {stderr}");
            }
            if backtrace.is_some() {
                assert!(stderr.contains("stack backtrace:"), "{case}: {stderr}");
            }
        }
    }
}

const PROBE_PANIC: &str = "the probe panics on purpose";

/// Builds the probe in a temporary folder: (the folder, the release binary).
fn build_probe(with_build_rs: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = common::repo_dir("");
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).expect("Cargo.toml");
    let at = manifest.find("[profile.release]").expect("Cargo.toml has [profile.release]");
    let profile: String = manifest[at..].lines().take_while(|l| !l.trim().is_empty()).collect::<Vec<_>>().join("\n");
    assert!(profile.contains("panic = \"abort\""), "the release profile is panic = \"abort\": {profile}");
    let name = "trm-panic-probe";
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write the probe");
    };
    write(
        "Cargo.toml",
        &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{profile}\n"),
    );
    write("Cargo.lock", &format!("version = 4\n\n[[package]]\nname = \"{name}\"\nversion = \"0.1.0\"\n"));
    write(".cargo/config.toml", &std::fs::read_to_string(repo.join(".cargo/config.toml")).expect("config"));
    if with_build_rs {
        write("build.rs", &std::fs::read_to_string(repo.join("build.rs")).expect("build.rs"));
    }
    write(
        "src/main.rs",
        &format!(
            "fn main() {{\n    let joined = std::thread::spawn(|| 7).join().unwrap_or(0);\n    \
             println!(\"thread joined {{joined}}\");\n    \
             if std::env::args().nth(1).as_deref() == Some(\"panic\") {{\n        panic!(\"{PROBE_PANIC}\");\n    }}\n}}\n"
        ),
    );
    let out = common::cargo_locked_offline(dir.path(), &["build", "--release", "--quiet"]);
    assert!(out.status.success(), "building the probe: {}", String::from_utf8_lossy(&out.stderr));
    let binary = dir.path().join("target/x86_64-unknown-linux-gnu/release").join(name);
    assert!(binary.is_file(), "the probe build made no {}", binary.display());
    (dir, binary)
}

/// Runs the probe (as PID 1 of a new PID namespace when `pid1`): its status and stdout + stderr.
fn run_probe(
    binary: &std::path::Path,
    panic: bool,
    backtrace: Option<&str>,
    pid1: bool,
) -> (std::process::ExitStatus, String) {
    let mut cmd = if pid1 {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--mount-proc"]).arg(binary);
        c
    } else {
        Command::new(binary)
    };
    if panic {
        cmd.arg("panic");
    }
    cmd.env_remove("RUST_BACKTRACE");
    if let Some(value) = backtrace {
        cmd.env("RUST_BACKTRACE", value);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run the probe");
    let status = wait_child(&mut child, Duration::from_secs(20));
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut text).expect("read");
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut text).expect("read");
    (status, text)
}
