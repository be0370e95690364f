//! The Directus extensions (extensions/), built once per change of their sources and loaded by every
//! Directus a test boots (`directus_env` sets EXTENSIONS_PATH).

use crate::repo_dir;
use std::path::PathBuf;
use std::process::Command;

const EXTENSIONS_HOW: &str = "the extension build needs Node 22 and npm, and the packages of \
                              extensions/package-lock.json in the npm cache: scripts/test.sh runs \
                              `npm ci` in extensions/ once, after which tests build offline";

/// The folder Directus loads extensions from (EXTENSIONS_PATH): `trm-extensions/` holding the built
/// bundle's package.json and dist/, as the image's /directus/extensions. Builds extensions/ with
/// `npm ci --offline` and `npm run build` when its sources changed since the last build (a stamp of
/// their content); concurrent test processes take turns through a lock file.
pub fn extensions_path() -> PathBuf {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    match BUILT.get_or_init(build_extensions) {
        Ok(path) => path.clone(),
        Err(why) => panic!("building extensions/ failed: {why}\n{EXTENSIONS_HOW}"),
    }
}

fn build_extensions() -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let src = repo_dir("extensions");
    // Next to the test executables (target/<triple>/<profile>/), shared by every test binary of a run.
    let exe = std::env::current_exe().map_err(|e| format!("the test executable's path: {e}"))?;
    let profile = exe.parent().and_then(|deps| deps.parent()).ok_or("the test executable has no target folder")?;
    let base = profile.join("extensions-build");
    let stage = base.join("path");
    std::fs::create_dir_all(&stage).map_err(|e| format!("create {}: {e}", stage.display()))?;
    let lock = std::fs::File::create(base.join(".lock")).map_err(|e| format!("lock file: {e}"))?;
    // SAFETY: flock on a file we opened; released when `lock` is dropped (closed).
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };

    let mut inputs = vec![src.join("package.json"), src.join("package-lock.json"), src.join("tsconfig.json")];
    let mut stack = vec![src.join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| format!("read {}: {e}", dir.display()))?.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                inputs.push(e.path());
            }
        }
    }
    inputs.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in &inputs {
        file.hash(&mut hasher);
        std::fs::read(file).map_err(|e| format!("read {}: {e}", file.display()))?.hash(&mut hasher);
    }
    let stamp = format!("{:016x}", hasher.finish());
    let out = stage.join("trm-extensions");
    if std::fs::read_to_string(base.join(".stamp")).ok().as_deref() == Some(stamp.as_str())
        && out.join("dist/api.js").exists()
    {
        return Ok(stage);
    }
    let npm = |args: &[&str]| -> Result<(), String> {
        let o =
            Command::new("npm").args(args).current_dir(&src).output().map_err(|e| format!("npm cannot run ({e})"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(format!("npm {args:?}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
        }
    };
    npm(&["ci", "--offline", "--no-audit", "--no-fund"])?;
    npm(&["run", "build"])?;
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(out.join("dist")).map_err(|e| format!("create {}: {e}", out.display()))?;
    std::fs::copy(src.join("package.json"), out.join("package.json")).map_err(|e| format!("copy package.json: {e}"))?;
    for f in std::fs::read_dir(src.join("dist")).map_err(|e| format!("read dist: {e}"))?.flatten() {
        std::fs::copy(f.path(), out.join("dist").join(f.file_name())).map_err(|e| format!("copy dist: {e}"))?;
    }
    std::fs::write(base.join(".stamp"), stamp).map_err(|e| format!("write stamp: {e}"))?;
    Ok(stage)
}
