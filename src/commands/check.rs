//! `trm-init check`: validate configuration, folders and snapshot; print the effective config with
//! secrets redacted. Touches no database and starts nothing.

use crate::config::database::DbSettings;
use crate::config::Config;
use crate::exit::{self, Failure};

pub(super) fn check(config: &Config) -> Result<u8, Failure> {
    let mut problems = Vec::new();
    let mut out = String::from("# effective configuration (defaults < file < TRM_INIT_* variables)\n");
    out.push_str(&config.to_toml());
    let cache = crate::compile_cache::Decision::make(&config.child, std::env::var_os(crate::compile_cache::VAR));
    out.push_str(&format!("\n# child.compile_cache: {}\n", cache.describe()));
    let hook = crate::resolve_hook::Decision::make(&config.child, &config.schema.step_script);
    out.push_str(&format!("# child.resolve_hook: {}\n", hook.describe()));
    let started = crate::preflight::directus::install::child_command(&config.child.command, &config.child, &hook);
    out.push_str(&format!(
        "# child: runs {started:?} (child.skip_update_check, child.direct_start, child.resolve_hook)\n"
    ));
    let script = crate::preflight::directus::install::preload_script(&config.schema.step_script);
    let preload =
        match crate::preflight::directus::install::preload_command(&config.child.command, &config.child, &script, &hook) {
            Ok(_) if !config.preflight.enabled => {
                "not preloaded (preflight.enabled = false): nothing to overlap".to_string()
            }
            Ok(argv) => format!(
                "spawned as {argv:?} once the preflight has work (not on a warm restart that skips every step); Directus's server starts once the preflight succeeded"
            ),
            Err(reason) => format!("not preloaded ({reason}): the child starts after the preflight"),
        };
    out.push_str(&format!("# child.preload: {preload}\n"));

    if config.preflight.enabled {
        match DbSettings::from_env() {
            Ok(db) => {
                out.push_str(&format!("\n# database (from DB_* variables)\n# connection = {:?}\n", db.describe()));
                out.push_str(&format!("# tls = {}\n", if db.ssl.enabled { "on" } else { "off" }));
                for w in &db.warnings {
                    out.push_str(&format!("# warning: {w}\n"));
                }
            }
            Err(e) => problems.push(exit::error_chain(&e)),
        }
        for (key, dir) in [("db_init.pre_dir", &config.db_init.pre_dir), ("db_init.post_dir", &config.db_init.post_dir)]
        {
            match crate::preflight::db_init::check_folder(dir) {
                Ok(n) => out.push_str(&format!("# {key}: {n} migration file(s) in {}\n", dir.display())),
                Err(list) => problems.extend(list.into_iter().map(|p| format!("{key}: {p}"))),
            }
        }
        if config.schema.enabled {
            match crate::preflight::directus::snapshot::Snapshot::read(&config.schema.snapshot) {
                Ok(snapshot) => out.push_str(&format!(
                    "# schema.snapshot: {} collection(s), {} field(s), {} relation(s) in {}\n",
                    snapshot.declared.collections.len(),
                    snapshot.declared.fields.len(),
                    snapshot.declared.relations.len(),
                    config.schema.snapshot.display()
                )),
                Err(e) => problems.push(format!("schema.snapshot: {}", exit::error_chain(&e))),
            }
            if config.access.enabled {
                let path = config.access_file();
                match crate::preflight::access::file::AccessFile::read(&path) {
                    Ok((file, _)) => out.push_str(&format!(
                        "# access.file: {} role(s), {} policy(ies), {} permission(s) in {}\n",
                        file.roles.len(),
                        file.policies.len(),
                        file.expand().permissions.len(),
                        path.display()
                    )),
                    Err(e) => problems.push(format!("access.file: {}", exit::error_chain(&e))),
                }
            }
        }
    }
    extensions(&mut out, &mut problems);
    print!("{out}");
    if problems.is_empty() {
        println!("\n# check: ok");
        Ok(0)
    } else {
        Err(Failure::new(exit::CONFIG, format!("check found {} problem(s): {}", problems.len(), problems.join("; "))))
    }
}

/// Reports the Directus extensions folder (Directus's own `EXTENSIONS_PATH`, default /directus/extensions):
/// each extension's name, version and type (a bundle's entries too). A folder that is missing is only a
/// note (Directus starts without extensions); an extension Directus could not load is a problem.
fn extensions(out: &mut String, problems: &mut Vec<String>) {
    let dir =
        std::env::var_os("EXTENSIONS_PATH").map_or_else(|| "/directus/extensions".into(), std::path::PathBuf::from);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        out.push_str(&format!("\n# extensions: no folder {} (EXTENSIONS_PATH); Directus loads none\n", dir.display()));
        return;
    };
    let mut names: Vec<_> = entries
        .flatten()
        .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.file_name())
        .collect();
    names.sort();
    let mut lines = Vec::new();
    for name in names {
        let manifest = dir.join(&name).join("package.json");
        let parsed = std::fs::read_to_string(&manifest)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).map_err(|e| e.to_string()));
        let json = match parsed {
            Ok(json) => json,
            Err(e) => {
                problems.push(format!("extensions: {}: {e}", manifest.display()));
                continue;
            }
        };
        let ext = &json["directus:extension"];
        let (kind, api) = (ext["type"].as_str().unwrap_or(""), ext["path"]["api"].as_str().or(ext["path"].as_str()));
        if kind.is_empty() {
            problems.push(format!("extensions: {} has no \"directus:extension\" type", manifest.display()));
            continue;
        }
        if let Some(api) = api.filter(|a| !dir.join(&name).join(a).is_file()) {
            problems.push(format!("extensions: {}: built file {api} is missing", dir.join(&name).display()));
        }
        let parts: Vec<String> = ext["entries"].as_array().map_or_else(Vec::new, |list| {
            list.iter()
                .map(|e| format!("{} {}", e["type"].as_str().unwrap_or("?"), e["name"].as_str().unwrap_or("?")))
                .collect()
        });
        let version = json["version"].as_str().unwrap_or("?");
        let entries = if parts.is_empty() { String::new() } else { format!(": {}", parts.join(", ")) };
        lines.push(format!("#   {} {version} ({kind}){entries}\n", name.to_string_lossy()));
    }
    out.push_str(&format!("\n# extensions: {} in {}\n", lines.len(), dir.display()));
    out.extend(lines);
}
