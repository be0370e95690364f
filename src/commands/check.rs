//! `trm-init check`: validate configuration, folders and snapshot; print the effective config with
//! secrets redacted. Touches no database and starts nothing.

use crate::config::database::DbSettings;
use crate::config::Config;
use crate::exit::{self, Failure};

pub(super) fn check(config: &Config) -> Result<u8, Failure> {
    let mut problems = Vec::new();
    let mut out = String::from("# effective configuration (defaults < file < TRM_INIT_* variables)\n");
    out.push_str(&config.to_toml());

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
        }
    }
    print!("{out}");
    if problems.is_empty() {
        println!("\n# check: ok");
        Ok(0)
    } else {
        Err(Failure::new(exit::CONFIG, format!("check found {} problem(s): {}", problems.len(), problems.join("; "))))
    }
}
