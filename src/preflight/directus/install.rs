//! Where the installed Directus is, which version it is, and how to start its commands without the
//! npm update check.
//!
//! Owns reading the Directus installation on disk: the folder of `cli.js` named by `schema.directus`
//! (or a child command), the `directus` package's version, and `@directus/api`'s `cli/run.js` (the
//! entry point `cli.js` imports after its update check), resolved the way Node resolves it from that
//! folder, so it follows whatever version is installed. It reads files only: it never starts anything.

use std::path::{Path, PathBuf};

/// The `cli.js` named in a command (the first argument whose file name is `cli.js`), with its index.
fn cli_js(argv: &[String]) -> Option<(usize, &Path)> {
    argv.iter().enumerate().map(|(i, a)| (i, Path::new(a))).find(|(_, p)| p.file_name().is_some_and(|n| n == "cli.js"))
}

/// The folder holding `cli.js` when the command names one (`node /directus/cli.js` -> `/directus`).
/// This is where Directus reads `.env` and where its commands run (the image's WORKDIR).
pub fn install_dir(prefix: &[String]) -> Option<PathBuf> {
    let (_, cli) = cli_js(prefix)?;
    let dir = cli.parent()?;
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let dir = std::path::absolute(dir).ok()?;
    dir.is_dir().then_some(dir)
}

/// The Directus version of the installation the command names: `version` of the `package.json` next to
/// the real `cli.js` (symlinks followed). None when it cannot be read.
pub fn installed_version(prefix: &[String]) -> Option<String> {
    let (_, cli) = cli_js(prefix)?;
    let real = std::fs::canonicalize(cli).ok()?;
    let json = read_json(&real.parent()?.join("package.json"))?;
    json.get("version")?.as_str().map(str::to_string)
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// `@directus/api`'s `cli/run.js` as Node resolves it from the folder of the real `cli.js`: the nearest
/// `node_modules/@directus/api` upwards, then its `exports["./cli/run.js"]`.
pub fn run_js_for(cli: &Path) -> Result<PathBuf, String> {
    let real = std::fs::canonicalize(cli).map_err(|e| format!("{} cannot be read: {e}", cli.display()))?;
    let package = real.parent().map(|d| d.join("package.json")).and_then(|p| read_json(&p));
    if package.as_ref().and_then(|p| p.get("name")?.as_str().map(str::to_string)).as_deref() != Some("directus") {
        return Err(format!("{} is not the cli.js of the `directus` package", real.display()));
    }
    let mut dir = real.parent();
    while let Some(d) = dir {
        let api = d.join("node_modules/@directus/api");
        if let Some(json) = read_json(&api.join("package.json")) {
            let target = json
                .get("exports")
                .and_then(|e| e.get("./cli/run.js"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| format!("{} does not export ./cli/run.js", api.join("package.json").display()))?;
            let run = api.join(target.trim_start_matches("./"));
            return match run.is_file() {
                true => Ok(run),
                false => Err(format!("{} is missing", run.display())),
            };
        }
        dir = d.parent();
    }
    Err(format!("no node_modules/@directus/api above {}", real.display()))
}

/// With `child.skip_update_check`: a command that runs Directus's `cli.js` runs `@directus/api`'s
/// `cli/run.js` instead (same arguments, same commands, no npm update check). Anything else, or a
/// `cli.js` whose run.js cannot be found (a warning says why), is returned as it was.
pub fn without_update_check(argv: &[String]) -> Vec<String> {
    let Some((index, cli)) = cli_js(argv) else { return argv.to_vec() };
    // `env -C DIR node cli.js ...` (the local stack's form): a relative cli.js is DIR's.
    let base = match argv.first().map(Path::new).and_then(Path::file_name).is_some_and(|n| n == "env") {
        true => argv.iter().position(|a| a == "-C").and_then(|i| argv.get(i + 1)).map(PathBuf::from),
        false => None,
    };
    let cli = match base {
        Some(dir) if cli.is_relative() => dir.join(cli),
        _ => cli.to_path_buf(),
    };
    match run_js_for(&cli) {
        Ok(run) => {
            let mut out = argv.to_vec();
            out[index] = run.to_string_lossy().into_owned();
            tracing::debug!(from = %cli.display(), to = %run.display(), "Directus started through @directus/api's cli/run.js (no npm update check)");
            out
        }
        Err(reason) => {
            tracing::warn!(command = ?argv, "cannot skip Directus's npm update check ({reason}): running cli.js as configured");
            argv.to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An npm-style layout: <dir>/cli.js -> node_modules/directus/cli.js, node_modules/@directus/api.
    fn fake_install() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("node_modules/directus");
        let api = dir.path().join("node_modules/@directus/api");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::create_dir_all(api.join("dist/cli")).unwrap();
        std::fs::write(pkg.join("cli.js"), "").unwrap();
        std::fs::write(pkg.join("package.json"), r#"{"name":"directus","version":"11.17.4"}"#).unwrap();
        std::fs::write(
            api.join("package.json"),
            r#"{"name":"@directus/api","version":"35.2.0","exports":{"./cli/run.js":"./dist/cli/run.js"}}"#,
        )
        .unwrap();
        std::fs::write(api.join("dist/cli/run.js"), "").unwrap();
        std::os::unix::fs::symlink("node_modules/directus/cli.js", dir.path().join("cli.js")).unwrap();
        dir
    }

    #[test]
    fn install_dir_and_version_come_from_cli_js() {
        let dir = fake_install();
        let prefix = vec!["node".to_string(), dir.path().join("cli.js").to_string_lossy().into_owned()];
        assert_eq!(install_dir(&prefix).as_deref(), Some(dir.path()));
        assert_eq!(installed_version(&prefix).as_deref(), Some("11.17.4"));
        assert_eq!(install_dir(&["directus".to_string()]), None);
    }

    #[test]
    fn cli_js_becomes_the_run_js_of_the_installed_api() {
        let dir = fake_install();
        let cli = dir.path().join("cli.js").to_string_lossy().into_owned();
        let argv = vec!["node".to_string(), cli, "start".to_string()];
        let out = without_update_check(&argv);
        let real = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(out[1], real.join("node_modules/@directus/api/dist/cli/run.js").to_string_lossy());
        assert_eq!((out[0].as_str(), out[2].as_str()), ("node", "start"));
        // Not Directus: unchanged.
        let other = vec!["node".to_string(), "/srv/app.js".to_string()];
        assert_eq!(without_update_check(&other), other);
        let env_c =
            ["env", "-C", &dir.path().to_string_lossy(), "node", "cli.js", "start"].map(str::to_string).to_vec();
        assert!(without_update_check(&env_c)[4].ends_with("@directus/api/dist/cli/run.js"));
        let missing = vec!["node".to_string(), "/nonexistent/cli.js".to_string(), "start".to_string()];
        assert_eq!(without_update_check(&missing), missing);
    }
}
