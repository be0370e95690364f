//! Node's compile cache for the main child: `NODE_COMPILE_CACHE`, so Directus's start reads V8's code
//! cache for its modules from disk instead of compiling them again.
//!
//! Owns the decision whether the main child's environment (and the Directus step helper's, which
//! imports the same modules) gets `NODE_COMPILE_CACHE`, and which directory: from `child.compile_cache` / `child.compile_cache_dir`, the operator's own variable and
//! what the directory looks like to trm-init's uid. It never stops a boot (an unusable directory is one
//! warning line and Directus starts without the cache), never creates, fills or cleans the directory (the
//! image build fills it, Node adds to it), and never overrides a `NODE_COMPILE_CACHE` the operator set.
//!
//! What Node 22 does with the directory (checked by hand with `NODE_DEBUG_NATIVE=COMPILE_CACHE`, see
//! docs/benchmarks.md): it keeps one folder per Node version, architecture, V8 flags and uid in it
//! (`v22.23.5-x64-9ac5647c-1000`), checks every entry against the module's source and recompiles (and
//! rewrites) one that does not match; in a directory it cannot write it still reads what is there; one it
//! cannot create or read it ignores silently. So a stale cache costs only its own misses, and what is
//! left to decide here is whether the directory can do any good, and to say so once when it cannot.

use crate::config::ChildConfig;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The variable Node reads.
pub const VAR: &str = "NODE_COMPILE_CACHE";

/// What the main child's environment gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Set `NODE_COMPILE_CACHE` to this directory (with a warning when Node can only read it).
    Use { dir: PathBuf, read_only: Option<Unusable> },
    /// `child.compile_cache = false`: the environment is left as it is.
    Off,
    /// The operator set `NODE_COMPILE_CACHE` themselves: kept as it is.
    Operator(OsString),
    /// The directory cannot help: the child starts without the cache.
    Unusable(Unusable),
}

/// Why `child.compile_cache_dir` cannot serve as Node's cache (or only read-only).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Unusable {
    #[error("child.compile_cache_dir = {0:?} does not exist")]
    Missing(PathBuf),
    #[error("child.compile_cache_dir = {0:?} is not a directory")]
    NotADirectory(PathBuf),
    #[error("child.compile_cache_dir = {0:?} cannot be read by uid {1}")]
    Unreadable(PathBuf, u32),
    #[error("child.compile_cache_dir = {0:?} is not writable by uid {1} and holds no cache for that uid (Node names its folders by version and uid)")]
    NothingForUs(PathBuf, u32),
    #[error("child.compile_cache_dir = {0:?} is not writable by uid {1}: Node reads the cache there but adds no entries for modules it lacks")]
    ReadOnly(PathBuf, u32),
}

impl Decision {
    /// The decision for `cfg`, given the operator's `NODE_COMPILE_CACHE` (if any).
    pub fn make(cfg: &ChildConfig, operator: Option<OsString>) -> Decision {
        if let Some(value) = operator {
            return Decision::Operator(value);
        }
        if !cfg.compile_cache {
            return Decision::Off;
        }
        let dir = cfg.compile_cache_dir.clone();
        // SAFETY: geteuid takes no arguments and cannot fail.
        let uid = unsafe { libc::geteuid() };
        match std::fs::metadata(&dir) {
            Err(_) if !dir.exists() => return Decision::Unusable(Unusable::Missing(dir)),
            Err(_) => return Decision::Unusable(Unusable::Unreadable(dir, uid)),
            Ok(meta) if !meta.is_dir() => return Decision::Unusable(Unusable::NotADirectory(dir)),
            Ok(_) => {}
        }
        if !access(&dir, libc::R_OK | libc::X_OK) {
            return Decision::Unusable(Unusable::Unreadable(dir, uid));
        }
        if access(&dir, libc::W_OK) {
            return Decision::Use { dir, read_only: None };
        }
        if !holds_folder_for(&dir, uid) {
            return Decision::Unusable(Unusable::NothingForUs(dir, uid));
        }
        let read_only = Some(Unusable::ReadOnly(dir.clone(), uid));
        Decision::Use { dir, read_only }
    }

    /// The variable to add to the main child's environment, if any.
    pub fn env(&self) -> Option<(&'static str, &Path)> {
        match self {
            Decision::Use { dir, .. } => Some((VAR, dir.as_path())),
            _ => None,
        }
    }

    /// One log line: info when the cache is used (or deliberately not), a warning when it cannot be.
    pub fn log(&self) {
        match self {
            Decision::Use { dir, read_only: None } => {
                tracing::info!(dir = %dir.display(), "Node compile cache: the main child gets {VAR}")
            }
            Decision::Use { read_only: Some(why), .. } => tracing::warn!("Node compile cache used read-only: {why}"),
            Decision::Off => tracing::info!("child.compile_cache = false: the main child starts without {VAR}"),
            Decision::Operator(value) => tracing::info!(
                value = %value.to_string_lossy(),
                "{VAR} is set in the environment: kept as it is (child.compile_cache_dir is not used)"
            ),
            Decision::Unusable(why) => {
                tracing::warn!("{why}: the main child starts without Node's compile cache (slower start, nothing else)")
            }
        }
    }

    /// For `trm-init check`: one comment line.
    pub fn describe(&self) -> String {
        match self {
            Decision::Use { dir, read_only: None } => format!("{VAR}={} for the main child", dir.display()),
            Decision::Use { dir, read_only: Some(_) } => {
                format!("{VAR}={} for the main child (read-only: not writable by this uid)", dir.display())
            }
            Decision::Off => "off (child.compile_cache = false)".into(),
            Decision::Operator(value) => format!("{VAR}={} from the environment, kept", value.to_string_lossy()),
            Decision::Unusable(why) => format!("not used: {why}"),
        }
    }
}

/// access(2) with the process's uid: honours permissions, ACLs and read-only mounts (EROFS).
fn access(path: &Path, mode: libc::c_int) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::access(c_path.as_ptr(), mode) == 0 }
}

/// Whether the directory holds a folder Node would use for `uid` (`v<version>-<arch>-<hash>-<uid>`).
fn holds_folder_for(dir: &Path, uid: u32) -> bool {
    let suffix = format!("-{uid}");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with('v') && name.ends_with(&suffix) && e.path().is_dir()
            })
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(on: bool, dir: &Path) -> ChildConfig {
        ChildConfig { compile_cache: on, compile_cache_dir: dir.to_path_buf(), ..ChildConfig::default() }
    }

    #[test]
    fn operator_value_wins_over_everything() {
        let d = Decision::make(&cfg(true, Path::new("/nonexistent")), Some("/elsewhere".into()));
        assert_eq!(d, Decision::Operator("/elsewhere".into()));
        assert_eq!(d.env(), None);
    }

    #[test]
    fn off_sets_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        assert_eq!(Decision::make(&cfg(false, tmp.path()), None), Decision::Off);
    }

    #[test]
    fn a_writable_directory_is_used() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = Decision::make(&cfg(true, tmp.path()), None);
        assert_eq!(d.env(), Some((VAR, tmp.path())));
    }

    #[test]
    fn missing_and_file_are_unusable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("nope");
        assert_eq!(Decision::make(&cfg(true, &missing), None), Decision::Unusable(Unusable::Missing(missing)));
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").expect("write");
        assert_eq!(Decision::make(&cfg(true, &file), None), Decision::Unusable(Unusable::NotADirectory(file)));
    }
}
