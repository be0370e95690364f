//! compose.dev.yaml parses, references only files that exist, boots the image the way production does
//! (same image, same entrypoint and health check: only env differs), and .env.example gives every
//! variable the stack needs with placeholder values.

use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Value {
    let path = repo().join("compose.dev.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("compose.dev.yaml does not parse: {e}"))
}

fn service(name: &str) -> Value {
    compose()["services"][name].clone()
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what} must be a string, got {v:?}"))
}

/// env_file entries as (path, required): the short form, a list of paths, or a list of {path, required}.
fn env_files(service: &Value) -> Vec<(String, bool)> {
    match &service["env_file"] {
        Value::Null => vec![],
        Value::String(s) => vec![(s.clone(), true)],
        Value::Sequence(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => (s.clone(), true),
                map => (str_of(&map["path"], "env_file path").to_string(), map["required"].as_bool().unwrap_or(true)),
            })
            .collect(),
        other => panic!("env_file: unexpected {other:?}"),
    }
}

fn env_example() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(repo().join(".env.example")).expect(".env.example exists");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or_else(|| panic!(".env.example: not KEY=VALUE: {l}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn compose_file_parses_with_a_database_and_directus() {
    let services = compose()["services"].as_mapping().expect("services").clone();
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    assert_eq!(names, ["db", "directus"]);
}

#[test]
fn every_referenced_file_exists() {
    let directus = service("directus");
    let context = repo().join(str_of(&directus["build"]["context"], "build.context"));
    assert!(context.is_dir(), "build context {} does not exist", context.display());
    let dockerfile = context.join(directus["build"]["dockerfile"].as_str().unwrap_or("Dockerfile"));
    assert!(dockerfile.is_file(), "{} does not exist", dockerfile.display());
    for name in ["db", "directus"] {
        let files = env_files(&service(name));
        assert!(files.iter().any(|(f, _)| f == ".env.example"), "{name} reads .env.example");
        for (file, required) in files {
            assert!(!required || repo().join(&file).is_file(), "{name}: env_file {file} does not exist");
        }
    }
}

#[test]
fn database_is_timescaledb_ha_pinned_and_health_checked() {
    let db = service("db");
    let image = str_of(&db["image"], "db.image");
    let (name, tag) = image.split_once(':').expect("the database image is pinned with a tag");
    assert_eq!(name, "timescale/timescaledb-ha");
    assert!(
        tag.starts_with("pg1") && tag.contains('.') && tag.contains("-ts2."),
        "pin an exact PostgreSQL and TimescaleDB version (pgNN.N-tsN.N.N), not {tag}"
    );
    let test = format!("{:?}", db["healthcheck"]["test"]);
    assert!(test.contains("pg_isready"), "db health check runs pg_isready: {test}");
    let volumes = format!("{:?}", db["volumes"]);
    assert!(volumes.contains("/home/postgres/pgdata"), "the data volume holds timescaledb-ha's PGDATA: {volumes}");
}

#[test]
fn directus_boots_like_production_after_the_database_is_healthy() {
    let directus = service("directus");
    assert_eq!(directus["depends_on"]["db"]["condition"].as_str(), Some("service_healthy"));
    let ports = format!("{:?}", directus["ports"]);
    assert!(ports.contains("8055:8055"), "Directus on port 8055: {ports}");
    for key in ["entrypoint", "command", "healthcheck", "user", "environment", "init"] {
        assert!(directus[key].is_null(), "directus must not override `{key}`: production boots the image as built");
    }
    let volumes = format!("{:?}", directus["volumes"]);
    assert!(volumes.contains("/directus/uploads"), "uploads persist in a volume: {volumes}");
}

#[test]
fn volumes_are_named_and_declared() {
    let top = compose()["volumes"].as_mapping().expect("top-level volumes").clone();
    for name in ["db", "directus"] {
        for mount in service(name)["volumes"].as_sequence().expect("volumes").iter() {
            let source = str_of(mount, "volume").split(':').next().unwrap_or("");
            assert!(
                top.contains_key(Value::String(source.to_string())),
                "{name}: volume {source} must be a named volume declared at the top level"
            );
        }
    }
}

#[test]
fn env_example_has_every_variable_with_placeholders() {
    let env = env_example();
    for key in [
        "DB_CLIENT",
        "DB_HOST",
        "DB_PORT",
        "DB_DATABASE",
        "DB_USER",
        "DB_PASSWORD",
        "SECRET",
        "ADMIN_EMAIL",
        "ADMIN_PASSWORD",
        "PUBLIC_URL",
        "TELEMETRY",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
    ] {
        assert!(env.get(key).is_some_and(|v| !v.is_empty()), ".env.example must set {key}");
    }
    assert_eq!(env["DB_CLIENT"], "pg");
    assert_eq!(env["DB_HOST"], "db", "DB_HOST is the compose service name");
    assert_eq!(env["DB_USER"], env["POSTGRES_USER"]);
    assert_eq!(env["DB_PASSWORD"], env["POSTGRES_PASSWORD"]);
    assert_eq!(env["DB_DATABASE"], env["POSTGRES_DB"]);
    assert!(env["SECRET"].len() >= 32, "Directus wants a SECRET of at least 32 bytes");
    for key in ["SECRET", "ADMIN_PASSWORD", "DB_PASSWORD"] {
        assert!(env[key].contains("change-me"), "{key} in .env.example must be an obvious placeholder");
    }
}

#[test]
fn real_env_files_stay_out_of_git() {
    let ignore = std::fs::read_to_string(repo().join(".gitignore")).unwrap_or_default();
    assert!(ignore.lines().any(|l| l.trim() == ".env"), ".gitignore must list .env (local values, maybe real secrets)");
}
