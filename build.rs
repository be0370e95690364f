//! Owns the release link of the `trm-init` binary: its unwind tables are not linked. Never anything else
//! (the target, crt-static and the other link flags are in .cargo/config.toml, for every build).
//!
//! The release profile is `panic = "abort"`: nothing in trm-init unwinds, yet `.eh_frame` and
//! `.eh_frame_hdr` were 544 KiB of the 4.6 MB binary (std's, glibc's and the LTO object's tables;
//! `-C force-unwind-tables=no` does not remove them). The linker script written here discards
//! `.eh_frame`, and `--no-eh-frame-hdr` leaves out the search table and its `PT_GNU_EH_FRAME` header.
//! Only `bin` targets of release builds get it: test harnesses and debug builds unwind (a failing test
//! reports and the next one runs), so `.cargo/config.toml`, which reaches them too, cannot hold it.
//!
//! What still works and why (docs/benchmarks.md, "Round 8: the binary"; tests/static_binary.rs):
//! - start-up: crtbeginT.o registers the frames at `__EH_FRAME_BEGIN__`, which is 0 without the section,
//!   and libgcc's `__register_frame_info` / `__deregister_frame_info` return at once for 0.
//! - a panic prints its message, then aborts, as before. With `RUST_BACKTRACE` set, std's backtrace
//!   finds no frame table and libgcc aborts inside it: the message is printed first and the process
//!   still ends by SIGABRT, only std's closing "note:" line is missing (the stripped binary's backtrace
//!   listed no frames before either).
//! - nothing else unwinds: glibc unwinds only for `pthread_cancel` and `pthread_exit` (forced unwinding
//!   of the thread's stack). The script's `ASSERT` fails the link if either is ever linked.
//! - lost: call stacks of the release binary in gdb, perf or a core dump (no CFI; no frame pointers).
use std::path::PathBuf;

const SCRIPT: &str = "\
/* Written by build.rs: the release binary links no unwind tables (panic = \"abort\"). */
SECTIONS { /DISCARD/ : { *(.eh_frame) } } INSERT AFTER .text;
ASSERT(!DEFINED(pthread_cancel) && !DEFINED(__pthread_cancel) && !DEFINED(pthread_exit)
       && !DEFINED(__pthread_exit) && !DEFINED(thrd_exit),
       \"trm-init: pthread_cancel/pthread_exit unwind the thread's stack, and the release binary has no \
unwind tables (build.rs)\");
";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // "release" for the release profile and every profile that inherits from it (cargo's definition).
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        return;
    }
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("OUT_DIR is not set (cargo sets it for every build script)".into());
    };
    let script = out.join("no-unwind-tables.ld");
    if let Err(e) = std::fs::write(&script, SCRIPT) {
        fail(format!("cannot write the linker script {}: {e}", script.display()));
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--no-eh-frame-hdr");
}

fn fail(why: String) -> ! {
    eprintln!("build.rs: {why}");
    std::process::exit(1);
}
