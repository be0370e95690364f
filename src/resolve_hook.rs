//! The module resolution hook of Directus's Node processes (`child.resolve_hook`): the main child, its
//! preload and the Directus step helper start as `node --import <resolve-hook.mjs> ...`, so Node answers
//! a relative import of an ES module without parsing the package's whole package.json again for every
//! file (directus-step/esm-resolve.mjs says what it answers and why; docs/benchmarks.md, round 10, what
//! it saves).
//!
//! Owns the decision whether those commands get the option, and where the script is: `resolve-hook.mjs`
//! in the folder of `schema.step_script`, as `preload.mjs`. It never stops a boot (a missing or unreadable
//! script is one warning and Node resolves alone; the script itself never stops its process), never
//! reads or changes the script beyond opening it, and leaves a command that does not run Directus through
//! `node` as it is.

use crate::config::ChildConfig;
use std::path::{Path, PathBuf};

/// The script's file name, looked for next to `schema.step_script`.
pub const SCRIPT: &str = "resolve-hook.mjs";

/// What Directus's Node commands get.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// `--import <script>` after the Node program.
    Use(PathBuf),
    /// `child.resolve_hook = false`: commands as they are.
    Off,
    /// The script cannot be opened by this uid: commands as they are, with one warning.
    Unusable { script: PathBuf, why: String },
}

impl Decision {
    /// The decision for `child` with the script next to `step_script`.
    pub fn make(child: &ChildConfig, step_script: &Path) -> Decision {
        if !child.resolve_hook {
            return Decision::Off;
        }
        let script = step_script.with_file_name(SCRIPT);
        let script = std::path::absolute(&script).unwrap_or(script);
        match std::fs::File::open(&script).and_then(|f| f.metadata()) {
            Ok(meta) if meta.is_file() => Decision::Use(script),
            Ok(_) => Decision::Unusable { script, why: "not a file".into() },
            Err(e) => Decision::Unusable { script, why: e.to_string() },
        }
    }

    /// `argv` with `--import <script>` after its Node program (the first argument named `node`, so an
    /// `env -C DIR node ...` prefix stays in front); as it is when off, unusable or without `node`.
    pub fn command(&self, argv: &[String]) -> Vec<String> {
        let Decision::Use(script) = self else { return argv.to_vec() };
        let Some(node) = argv.iter().position(|a| Path::new(a).file_name().is_some_and(|n| n == "node")) else {
            return argv.to_vec();
        };
        let mut out = argv[..=node].to_vec();
        out.push("--import".into());
        out.push(script.to_string_lossy().into_owned());
        out.extend_from_slice(&argv[node + 1..]);
        out
    }

    /// One log line: info when on (or deliberately off), a warning when the script cannot be used.
    pub fn log(&self) {
        match self {
            Decision::Use(script) => tracing::info!(
                script = %script.display(),
                "module resolution hook: Directus's Node processes start with --import {}",
                script.display()
            ),
            Decision::Off => tracing::info!("child.resolve_hook = false: Directus's Node processes resolve modules alone"),
            Decision::Unusable { script, why } => tracing::warn!(
                "child.resolve_hook: {} cannot be used ({why}): Directus's Node processes start without it (slower start, nothing else)",
                script.display()
            ),
        }
    }

    /// For `trm-init check`: one comment line.
    pub fn describe(&self) -> String {
        match self {
            Decision::Use(script) => format!("--import {} for Directus's Node processes", script.display()),
            Decision::Off => "off (child.resolve_hook = false)".into(),
            Decision::Unusable { script, why } => format!("not used: {} cannot be used ({why})", script.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    fn with_script() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SCRIPT), "").unwrap();
        let step = dir.path().join("step.mjs");
        (dir, step)
    }

    #[test]
    fn on_by_default_the_option_follows_the_node_program() {
        let (dir, step) = with_script();
        let d = Decision::make(&ChildConfig::default(), &step);
        let script = dir.path().join(SCRIPT).to_string_lossy().into_owned();
        assert_eq!(d, Decision::Use(dir.path().join(SCRIPT)));
        assert_eq!(
            d.command(&strings(&["node", "--max-old-space-size=512", "/d/start.js"])),
            strings(&["node", "--import", &script, "--max-old-space-size=512", "/d/start.js"])
        );
        assert_eq!(
            d.command(&strings(&["env", "-C", "/d", "/usr/bin/node", "step.mjs", "/d"])),
            strings(&["env", "-C", "/d", "/usr/bin/node", "--import", &script, "step.mjs", "/d"])
        );
        assert_eq!(d.command(&strings(&["sh", "-c", "node x"])), strings(&["sh", "-c", "node x"]));
    }

    #[test]
    fn off_or_missing_leaves_commands_alone() {
        let (_dir, step) = with_script();
        let off = Decision::make(&ChildConfig { resolve_hook: false, ..ChildConfig::default() }, &step);
        assert_eq!(off, Decision::Off);
        let argv = strings(&["node", "/d/start.js"]);
        assert_eq!(off.command(&argv), argv);
        let missing = Decision::make(&ChildConfig::default(), Path::new("/nonexistent/step.mjs"));
        assert!(matches!(&missing, Decision::Unusable { script, .. } if script.ends_with(SCRIPT)), "{missing:?}");
        assert_eq!(missing.command(&argv), argv);
        assert!(missing.describe().contains("/nonexistent/resolve-hook.mjs"), "{}", missing.describe());
    }

    #[test]
    fn a_folder_in_its_place_is_unusable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(SCRIPT)).unwrap();
        let d = Decision::make(&ChildConfig::default(), &dir.path().join("step.mjs"));
        assert!(matches!(&d, Decision::Unusable { why, .. } if why == "not a file"), "{d:?}");
    }
}
