//! Where the installed Directus is, which version it is, and how to start its commands without the
//! npm update check.
//!
//! Owns reading the Directus installation on disk: the folder of `cli.js` named by `schema.directus`
//! (or a child command), the `directus` package's version, and `@directus/api`'s `cli/run.js` (the
//! entry point `cli.js` imports after its update check) and `start.js` (the server module the CLI's
//! `start` runs), resolved the way Node resolves them from that folder, so it follows whatever version
//! is installed; and from those, the command the main child runs (and, with `child.preload`, the command
//! that loads `dist/server.js` before the preflight). It reads files only: it never starts anything.

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
    api_entry_for(cli, "./cli/run.js")
}

/// `@directus/api`'s `start.js` (the module that only calls `startServer()`), resolved like `run_js_for`:
/// `exports["./start.js"]` or, as 11.17's package has it, the `./*` -> `./dist/*.js` pattern.
pub fn start_js_for(cli: &Path) -> Result<PathBuf, String> {
    api_entry_for(cli, "./start")
}

/// One of `@directus/api`'s exports (`subpath` as an import names it, e.g. `./cli/run.js`, `./start`),
/// from the folder of the real `cli.js`: the exact key first, then one `*` pattern.
fn api_entry_for(cli: &Path, subpath: &str) -> Result<PathBuf, String> {
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
                .and_then(|e| export_target(e, subpath))
                .ok_or_else(|| format!("{} does not export {subpath}", api.join("package.json").display()))?;
            let entry = api.join(target.trim_start_matches("./"));
            return match entry.is_file() {
                true => Ok(entry),
                false => Err(format!("{} is missing", entry.display())),
            };
        }
        dir = d.parent();
    }
    Err(format!("no node_modules/@directus/api above {}", real.display()))
}

/// Node's subpath-export lookup for string targets: the exact key, else the one `./prefix*suffix`
/// pattern whose parts match (`"./*": "./dist/*.js"` maps `./start` to `./dist/start.js`).
fn export_target(exports: &serde_json::Value, subpath: &str) -> Option<String> {
    if let Some(exact) = exports.get(subpath).and_then(|t| t.as_str()) {
        return Some(exact.to_string());
    }
    let map = exports.as_object()?;
    map.iter().find_map(|(key, target)| {
        let (prefix, suffix) = key.split_once('*')?;
        let middle = subpath.strip_prefix(prefix)?.strip_suffix(suffix)?;
        let target = target.as_str()?;
        (!middle.is_empty() && target.matches('*').count() == 1).then(|| target.replace('*', middle))
    })
}

/// The `cli.js` a command names, with its index, as a path trm-init can read: `env -C DIR node cli.js
/// ...` (the local stack's form) makes a relative cli.js DIR's.
fn cli_js_of(argv: &[String]) -> Option<(usize, PathBuf)> {
    let (index, cli) = cli_js(argv)?;
    let base = match argv.first().map(Path::new).and_then(Path::file_name).is_some_and(|n| n == "env") {
        true => argv.iter().position(|a| a == "-C").and_then(|i| argv.get(i + 1)).map(PathBuf::from),
        false => None,
    };
    let cli = match base {
        Some(dir) if cli.is_relative() => dir.join(cli),
        _ => cli.to_path_buf(),
    };
    Some((index, cli))
}

/// With `child.skip_update_check`: a command that runs Directus's `cli.js` runs `@directus/api`'s
/// `cli/run.js` instead (same arguments, same commands, no npm update check). Anything else, or a
/// `cli.js` whose run.js cannot be found (a warning says why), is returned as it was.
pub fn without_update_check(argv: &[String]) -> Vec<String> {
    let Some((index, cli)) = cli_js_of(argv) else { return argv.to_vec() };
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

/// With `child.direct_start` (and `child.skip_update_check`): a command that is exactly `... cli.js start`
/// runs `@directus/api`'s `start.js` instead, the module that only calls `startServer()` — what the CLI's
/// `start` command runs, without commander, the CLI's other commands' modules, the CLI's own early
/// extension load (Directus's app loads them anyway) and its `cli.before`/`cli.after` init events.
/// Any other command (another command, extra arguments) goes to `without_update_check`; so does a
/// `start` whose start.js cannot be found, with a warning saying why.
pub fn direct_start(argv: &[String]) -> Vec<String> {
    let Some((index, cli)) = cli_js_of(argv) else { return argv.to_vec() };
    if argv[index + 1..] != ["start"] {
        return without_update_check(argv);
    }
    match start_js_for(&cli) {
        Ok(start) => {
            let mut out = argv[..index].to_vec();
            out.push(start.to_string_lossy().into_owned());
            tracing::debug!(from = %cli.display(), to = %start.display(), "Directus started through @directus/api's start.js (no CLI)");
            out
        }
        Err(reason) => {
            tracing::warn!(
                command = ?argv,
                "child.direct_start: cannot start Directus's server module directly ({reason}): starting it through cli/run.js"
            );
            without_update_check(argv)
        }
    }
}

/// `@directus/api`'s `server.js` (the module `start.js` imports; it exports `startServer`), resolved like
/// `start_js_for`.
pub fn server_js_for(cli: &Path) -> Result<PathBuf, String> {
    api_entry_for(cli, "./server")
}

/// The file name of the preload script, looked for in the folder of `schema.step_script`.
pub const PRELOAD_SCRIPT: &str = "preload.mjs";

/// With `child.preload` (and `child.direct_start`, `child.skip_update_check`): the command that loads the
/// server module of the `... cli.js start` in `argv` before the preflight, `... node [options]
/// <script> <@directus/api>/dist/server.js` (same program, options and `env -C` prefix as the child).
/// `Err` says why the child is not preloaded (then it is spawned after the preflight as `child_command`
/// gives it): the setting is off, the command is not Directus's `cli.js start`, or a file is missing.
pub fn preload_command(
    argv: &[String],
    child: &crate::config::ChildConfig,
    script: &Path,
    hook: &crate::resolve_hook::Decision,
) -> Result<Vec<String>, String> {
    if !child.preload {
        return Err("child.preload = false".into());
    }
    if !(child.skip_update_check && child.direct_start) {
        return Err("child.preload needs child.skip_update_check and child.direct_start".into());
    }
    let Some((index, cli)) = cli_js_of(argv).filter(|(i, _)| argv[i + 1..] == ["start"]) else {
        return Err(format!("the child command {argv:?} is not Directus's `cli.js start`"));
    };
    let server = server_js_for(&cli)?;
    let script = std::path::absolute(script).unwrap_or_else(|_| script.to_path_buf());
    if !script.is_file() {
        return Err(format!("{} is missing (it is looked for next to schema.step_script)", script.display()));
    }
    let mut out = argv[..index].to_vec();
    out.push(script.to_string_lossy().into_owned());
    out.push(server.to_string_lossy().into_owned());
    Ok(hook.command(&out))
}

/// The preload script for `step_script` (`schema.step_script`): `preload.mjs` in the same folder.
pub fn preload_script(step_script: &Path) -> PathBuf {
    step_script.with_file_name(PRELOAD_SCRIPT)
}

/// Whether `argv` starts Directus's `cli.js` (directly or behind `env -C DIR`).
pub fn names_directus(argv: &[String]) -> bool {
    cli_js_of(argv).is_some()
}

/// The command the main child runs for `argv` under `child.skip_update_check` and `child.direct_start`,
/// with `hook`'s `--import` when `argv` starts Directus's `cli.js` (`run` spawns it, `check` prints it).
pub fn child_command(
    argv: &[String],
    child: &crate::config::ChildConfig,
    hook: &crate::resolve_hook::Decision,
) -> Vec<String> {
    let out = match (child.skip_update_check, child.direct_start) {
        (true, true) => direct_start(argv),
        (true, false) => without_update_check(argv),
        (false, _) => argv.to_vec(),
    };
    match names_directus(argv) {
        true => hook.command(&out),
        false => out,
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
            r#"{"name":"@directus/api","version":"35.2.0","exports":{".":"./dist/index.js","./*":"./dist/*.js","./cli/run.js":"./dist/cli/run.js"}}"#,
        )
        .unwrap();
        std::fs::write(api.join("dist/cli/run.js"), "").unwrap();
        std::fs::write(api.join("dist/start.js"), "").unwrap();
        std::fs::write(api.join("dist/server.js"), "").unwrap();
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

    #[test]
    fn cli_js_start_becomes_the_start_js_of_the_installed_api() {
        let dir = fake_install();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        let api = real.join("node_modules/@directus/api/dist");
        let cli = dir.path().join("cli.js").to_string_lossy().into_owned();
        let start = vec!["node".to_string(), "--max-semi-space-size=16".into(), cli.clone(), "start".into()];
        let out = direct_start(&start);
        assert_eq!(
            out,
            vec![
                "node".to_string(),
                "--max-semi-space-size=16".into(),
                api.join("start.js").to_string_lossy().into_owned()
            ]
        );
        // Another command, or extra arguments: through run.js, arguments kept.
        let other = vec!["node".to_string(), cli.clone(), "bootstrap".into()];
        assert_eq!(direct_start(&other)[1], api.join("cli/run.js").to_string_lossy());
        let extra = vec!["node".to_string(), cli.clone(), "start".into(), "--x".into()];
        assert_eq!(
            direct_start(&extra)[1..],
            [api.join("cli/run.js").to_string_lossy().into_owned(), "start".into(), "--x".into()]
        );
        // Not Directus: unchanged.
        let plain = vec!["node".to_string(), "/srv/app.js".to_string(), "start".into()];
        assert_eq!(direct_start(&plain), plain);
    }

    #[test]
    fn a_missing_start_js_falls_back_to_run_js() {
        let dir = fake_install();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::remove_file(real.join("node_modules/@directus/api/dist/start.js")).unwrap();
        let cli = dir.path().join("cli.js").to_string_lossy().into_owned();
        let out = direct_start(&["node".to_string(), cli.clone(), "start".into()]);
        assert_eq!(
            out[1..],
            [real.join("node_modules/@directus/api/dist/cli/run.js").to_string_lossy().into_owned(), "start".into()]
        );
        // An @directus/api without the `./*` export: the same fallback.
        let pkg = real.join("node_modules/@directus/api/package.json");
        std::fs::write(&pkg, r#"{"name":"@directus/api","exports":{"./cli/run.js":"./dist/cli/run.js"}}"#).unwrap();
        assert!(start_js_for(Path::new(&cli)).unwrap_err().contains("does not export ./start"));
        assert!(direct_start(&["node".to_string(), cli, "start".into()])[1].ends_with("cli/run.js"));
    }

    #[test]
    fn only_directus_start_is_preloaded() {
        let dir = fake_install();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        let script = dir.path().join("preload.mjs");
        std::fs::write(&script, "").unwrap();
        let cli = dir.path().join("cli.js").to_string_lossy().into_owned();
        let cfg = crate::config::ChildConfig::default();
        let no_hook = crate::resolve_hook::Decision::Off;
        let start = vec!["node".to_string(), "--max-semi-space-size=16".into(), cli.clone(), "start".into()];
        let server = real.join("node_modules/@directus/api/dist/server.js").to_string_lossy().into_owned();
        assert_eq!(
            preload_command(&start, &cfg, &script, &no_hook),
            Ok(vec!["node".into(), "--max-semi-space-size=16".into(), script.to_string_lossy().into_owned(), server])
        );
        let off = crate::config::ChildConfig { preload: false, ..cfg.clone() };
        assert_eq!(preload_command(&start, &off, &script, &no_hook), Err("child.preload = false".into()));
        let run_js = crate::config::ChildConfig { direct_start: false, ..cfg.clone() };
        assert!(preload_command(&start, &run_js, &script, &no_hook).unwrap_err().contains("child.direct_start"));
        let other = vec!["node".to_string(), cli.clone(), "bootstrap".into()];
        assert!(preload_command(&other, &cfg, &script, &no_hook)
            .unwrap_err()
            .contains("not Directus's `cli.js start`"));
        let own = vec!["/srv/wrapper.sh".to_string()];
        assert!(preload_command(&own, &cfg, &script, &no_hook).is_err());
        let missing = dir.path().join("nope/preload.mjs");
        assert!(preload_command(&start, &cfg, &missing, &no_hook).unwrap_err().contains("is missing"));
        // With the resolve hook: its option right after the Node program, before the other options.
        let hook = crate::resolve_hook::Decision::Use("/d/resolve-hook.mjs".into());
        let hooked = preload_command(&start, &cfg, &script, &hook).unwrap();
        assert_eq!(hooked[..4], ["node", "--import", "/d/resolve-hook.mjs", "--max-semi-space-size=16"]);
        std::fs::remove_file(real.join("node_modules/@directus/api/dist/server.js")).unwrap();
        assert!(preload_command(&start, &cfg, &script, &no_hook).unwrap_err().contains("server.js is missing"));
        assert_eq!(
            preload_script(Path::new("/directus/directus-step/step.mjs")),
            Path::new("/directus/directus-step/preload.mjs")
        );
    }

    #[test]
    fn the_resolve_hook_goes_only_to_directus() {
        let dir = fake_install();
        let real = std::fs::canonicalize(dir.path()).unwrap();
        let cli = dir.path().join("cli.js").to_string_lossy().into_owned();
        let cfg = crate::config::ChildConfig::default();
        let hook = crate::resolve_hook::Decision::Use("/d/resolve-hook.mjs".into());
        let start_js = real.join("node_modules/@directus/api/dist/start.js").to_string_lossy().into_owned();
        assert_eq!(
            child_command(&["node".to_string(), cli.clone(), "start".into()], &cfg, &hook),
            ["node", "--import", "/d/resolve-hook.mjs", &start_js]
        );
        let own = vec!["node".to_string(), "/srv/other.js".into()];
        assert_eq!(child_command(&own, &cfg, &hook), own);
        let off = crate::resolve_hook::Decision::Off;
        assert_eq!(child_command(&["node".to_string(), cli, "start".into()], &cfg, &off), ["node", &start_js]);
    }

    #[test]
    fn export_patterns_follow_node() {
        let exports: serde_json::Value =
            serde_json::from_str(r#"{".":"./dist/index.js","./*":"./dist/*.js","./cli/run.js":"./dist/cli/run.js"}"#)
                .unwrap();
        assert_eq!(export_target(&exports, "./start").as_deref(), Some("./dist/start.js"));
        assert_eq!(export_target(&exports, "./cli/run.js").as_deref(), Some("./dist/cli/run.js"));
        assert_eq!(export_target(&exports, "./"), None);
    }
}
