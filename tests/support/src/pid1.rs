//! trm-init as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`), and what the tests
//! read about processes from `/proc`.

use crate::{eventually, require_root, trm_init_command, wait_child, Captured, Outcome};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// trm-init running as PID 1 of a new PID namespace (`unshare --pid --fork --mount-proc`).
pub struct Pid1 {
    unshare: Child,
    /// trm-init's pid as seen from outside the namespace.
    pub outer_pid: i32,
    exited: Option<ExitStatus>,
    stdout: Captured,
    stderr: Captured,
}

impl Pid1 {
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Pid1 {
        Self::start_with(args, env, |_| {})
    }

    pub fn start_with(args: &[&str], env: &[(&str, &str)], tweak: impl FnOnce(&mut Command)) -> Pid1 {
        require_root();
        // The one launcher's command, run through `unshare` (same environment, same pipes).
        let launcher = trm_init_command(args, env);
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc"]).arg(launcher.get_program()).args(launcher.get_args());
        for (k, v) in launcher.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        tweak(&mut cmd);
        let mut unshare = cmd.spawn().expect("unshare must be installed (util-linux)");
        let stdout = Captured::read_from(unshare.stdout.take());
        let stderr = Captured::read_from(unshare.stderr.take());
        // trm-init may already be gone (a config error exits at once): then there is no pid to signal.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut outer_pid = 0;
        let mut exited = None;
        while Instant::now() < deadline {
            if let Some(pid) = children_of(unshare.id() as i32).first() {
                outer_pid = *pid;
                break;
            }
            if let Some(status) = unshare.try_wait().expect("try_wait on unshare") {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(outer_pid != 0 || exited.is_some(), "unshare did not start trm-init within 5 s");
        Pid1 { unshare, outer_pid, exited, stdout, stderr }
    }

    /// trm-init's (and its children's) stderr so far.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.text()
    }

    /// trm-init's (and its children's) stdout so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.text()
    }

    /// Waits until stdout or stderr contains `needle`.
    pub fn wait_for_output(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.stderr.text().contains(needle) || self.stdout.text().contains(needle))
    }

    pub fn signal(&self, sig: i32) {
        assert!(self.outer_pid > 0, "trm-init already exited; cannot send signal {sig}");
        // SAFETY: kill takes integers only; the pid is a process this test started.
        unsafe { libc::kill(self.outer_pid, sig) };
    }

    /// Waits for trm-init to exit; returns its exit code (unshare passes it on) and output.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let status = match self.exited {
            Some(status) => status,
            None => wait_child(&mut self.unshare, limit),
        };
        // Give the reader threads a moment to drain what the pipes still hold.
        std::thread::sleep(Duration::from_millis(50));
        Outcome { status, stdout: self.stdout.text(), stderr: self.stderr.text() }
    }

    /// Pids (outer view) of every process in trm-init's namespace other than trm-init.
    pub fn namespace_pids(&self) -> Vec<i32> {
        if self.outer_pid <= 0 {
            return vec![];
        }
        let Ok(my_ns) = std::fs::read_link(format!("/proc/{}/ns/pid", self.outer_pid)) else { return vec![] };
        std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
                    .filter(|p| *p != self.outer_pid)
                    .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() == Some(&my_ns))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        if self.outer_pid > 0 && self.exited.is_none() {
            // SAFETY: kill takes integers only (SIGKILL to PID 1 of a namespace ends the namespace).
            unsafe { libc::kill(self.outer_pid, libc::SIGKILL) };
        }
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

pub fn children_of(parent: i32) -> Vec<i32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) {
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(text.split_whitespace().filter_map(|p| p.parse::<i32>().ok()));
            }
        }
    }
    out
}

/// Zombie processes among `pids`.
pub fn zombies(pids: &[i32]) -> Vec<i32> {
    pids.iter()
        .copied()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
                .unwrap_or(false)
        })
        .collect()
}

/// The command name (`comm`) of `pid`.
pub fn comm(pid: i32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim().to_string())
}

impl Pid1 {
    /// Waits until a process named `name` runs in trm-init's namespace; returns its outer pid.
    pub fn wait_for_process(&self, name: &str, limit: Duration) -> i32 {
        let mut found = None;
        let ok = eventually(limit, || {
            found = self.namespace_pids().into_iter().find(|p| comm(*p).as_deref() == Some(name));
            found.is_some()
        });
        assert!(ok, "no process {name:?} appeared in trm-init's namespace within {limit:?}");
        found.unwrap_or_default()
    }
}
