//! Layering, validation and error messages of the configuration (figment's Jail isolates env and files).
// figment::Jail closures must return figment::Error, which is large; that is the harness, not our API.
#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;

fn load_in(jail: &Jail, file: Option<&str>) -> Result<Config, ConfigError> {
    crate::load_config(file.map(|f| jail.directory().join(f)).as_deref())
}

#[test]
fn defaults_match_the_contract() {
    Jail::expect_with(|jail| {
        let c = load_in(jail, None).unwrap();
        assert_eq!(c.child.command, ["node", "/directus/cli.js", "start"]);
        assert_eq!(c.child.stop_grace, Dur::secs(8));
        assert_eq!(c.child.signal_target, SignalTarget::Child);
        assert_eq!(c.database.wait_timeout, Dur::secs(60));
        assert_eq!(c.database.lock_timeout, Dur::secs(120));
        assert_eq!(c.db_init.table, "migrations_applied");
        assert_eq!(c.health.listen.to_string(), "127.0.0.1:8056");
        assert_eq!(c.schema.timeout, Dur::secs(300));
        assert!(c.preflight.enabled && c.schema.enabled && c.schema.skip_unchanged && !c.schema.allow_destructive);
        Ok(())
    });
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "t.toml",
            "[child]\nstop_grace = \"3s\"\nsignal_target = \"group\"\n[log]\nlevel = \"debug\"\n",
        )?;
        jail.set_env("TRM_INIT_CHILD__STOP_GRACE", "5s");
        let c = load_in(jail, Some("t.toml")).unwrap();
        assert_eq!(c.child.stop_grace, Dur::secs(5), "env wins over the file");
        assert_eq!(c.child.signal_target, SignalTarget::Group, "file wins over defaults");
        assert_eq!(c.log.level, "debug");
        Ok(())
    });
}

#[test]
fn env_list_value_replaces_command() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_CHILD__COMMAND", r#"["sleep", "1"]"#);
        assert_eq!(load_in(jail, None).unwrap().child.command, ["sleep", "1"]);
        Ok(())
    });
}

#[test]
fn config_path_variable_is_not_a_key() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_CONFIG", "/nonexistent.toml");
        assert!(load_in(jail, None).is_ok());
        Ok(())
    });
}

#[test]
fn missing_named_file_is_an_error() {
    Jail::expect_with(|jail| {
        let err = load_in(jail, Some("nope.toml")).unwrap_err().to_string();
        assert!(err.contains("nope.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn unknown_key_in_file_is_named() {
    Jail::expect_with(|jail| {
        jail.create_file("t.toml", "[child]\nstop_grase = \"3s\"\n")?;
        let err = load_in(jail, Some("t.toml")).unwrap_err().to_string();
        assert!(err.contains("stop_grase") && err.contains("t.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn unknown_env_key_is_named_with_its_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_CHILD__STOPGRACE", "3s");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("stopgrace"), "{err}");
        Ok(())
    });
}

#[test]
fn bad_duration_names_key_value_and_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_CHILD__STOP_GRACE", "soon");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("child.stop_grace"), "{err}");
        assert!(err.contains("\"soon\""), "{err}");
        assert!(err.contains("TRM_INIT_CHILD__STOP_GRACE"), "{err}");
        Ok(())
    });
}

#[test]
fn bad_duration_in_file_names_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file("t.toml", "[database]\nwait_timeout = 60\n")?;
        let err = load_in(jail, Some("t.toml")).unwrap_err().to_string();
        assert!(err.contains("database.wait_timeout") && err.contains("t.toml") && err.contains("60"), "{err}");
        Ok(())
    });
}

#[test]
fn invalid_upstream_is_refused_with_origin() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_HEALTH__UPSTREAM", "ftp://x");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(
            err.contains("health.upstream") && err.contains("ftp://x") && err.contains("TRM_INIT_HEALTH__UPSTREAM"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn upstream_host_name_is_refused_because_the_probe_has_no_resolver() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_HEALTH__UPSTREAM", "http://directus:8055/server/ping");
        let err = load_in(jail, None).unwrap_err().to_string();
        assert!(err.contains("health.upstream") && err.contains("IP address"), "{err}");
        Ok(())
    });
}

#[test]
fn table_name_must_be_an_identifier() {
    Jail::expect_with(|jail| {
        jail.create_file("t.toml", "[db_init]\ntable = \"x; drop table y\"\n")?;
        let err = load_in(jail, Some("t.toml")).unwrap_err().to_string();
        assert!(err.contains("db_init.table") && err.contains("t.toml"), "{err}");
        Ok(())
    });
}

#[test]
fn effective_config_prints_as_toml_that_loads_back() {
    Jail::expect_with(|jail| {
        let text = load_in(jail, None).unwrap().to_toml();
        assert!(text.contains("[child]") && text.contains("stop_grace = \"8s\""), "{text}");
        jail.create_file("back.toml", &text)?;
        let back = load_in(jail, Some("back.toml")).unwrap();
        assert_eq!(back.child.stop_grace, Dur::secs(8));
        Ok(())
    });
}

/// README's example TOML is the contract: every key it shows exists, every key exists in it, and each
/// value is the built-in default.
#[test]
fn readme_example_toml_is_the_defaults() {
    const README: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
    let section = README.split("\n## Configuration\n").nth(1).expect("README has a `## Configuration` section");
    let example = section.split("```toml\n").nth(1).and_then(|t| t.split("```").next()).expect("a ```toml block");
    let keys = |t: &toml::Table| -> Vec<String> {
        t.iter()
            .flat_map(|(s, v)| v.as_table().into_iter().flat_map(move |t| t.keys().map(move |k| format!("{s}.{k}"))))
            .collect()
    };
    let shown: toml::Table = toml::from_str(example).unwrap_or_else(|e| panic!("README's example TOML: {e}"));
    let defaults: toml::Table = toml::from_str(&Config::default().to_toml()).expect("defaults as TOML");
    assert_eq!(keys(&shown), keys(&defaults), "README's example TOML lacks or adds keys");
    // Values compared as loaded (\"2m\" and \"120s\" are the same duration).
    let loaded: Config = toml::from_str(example).unwrap_or_else(|e| panic!("README's example TOML: {e}"));
    assert_eq!(loaded.to_toml(), Config::default().to_toml(), "README's example TOML differs from the defaults");
}

#[test]
fn health_can_be_switched_off() {
    Jail::expect_with(|jail| {
        jail.set_env("TRM_INIT_HEALTH__ENABLED", "false");
        // The upstream is not validated for a server that does not run.
        jail.set_env("TRM_INIT_HEALTH__UPSTREAM", "unused");
        assert!(!load_in(jail, None).unwrap().health.enabled);
        Ok(())
    });
}
