//! The CI dry-run gate (`.gitea/workflows/build.yml`, Task 1.8), read without a runner: its triggers,
//! the TimescaleDB service (the compose file's pinned image, on a host port other than 5432), the
//! order of its steps (build, then `trm-init preflight` from the built image, then push, then the
//! Portainer webhook), and the exact preflight command.

use serde_yaml_ng::Value;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &str) -> Value {
    let file = repo().join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

fn workflow() -> Value {
    yaml(".gitea/workflows/build.yml")
}

fn job() -> Value {
    let wf = workflow();
    let jobs = wf["jobs"].as_mapping().expect("jobs");
    assert_eq!(jobs.len(), 1, "one job: build, preflight and push happen on one runner with one image");
    jobs.values().next().cloned().unwrap_or(Value::Null)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

fn steps() -> Vec<Value> {
    job()["steps"].as_sequence().cloned().expect("steps")
}

/// The index of the only step whose `run` contains `needle`.
fn step_running(needle: &str) -> usize {
    let found: Vec<usize> = steps()
        .iter()
        .enumerate()
        .filter(|(_, s)| s["run"].as_str().is_some_and(|r| r.contains(needle)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(found.len(), 1, "exactly one step runs {needle:?}: {found:?}");
    found[0]
}

#[test]
fn triggers_are_pushes_to_main_touching_the_image_and_manual_dispatch() {
    let on = &workflow()["on"];
    assert_eq!(strings(&on["push"]["branches"]), ["main"]);
    let paths = strings(&on["push"]["paths"]);
    for needed in [
        "snapshots/**",
        "db-init/**",
        "db-init-post/**",
        "extensions/**",
        "src/**",
        "config/**",
        "Dockerfile",
        ".gitea/workflows/build.yml",
    ] {
        assert!(paths.iter().any(|p| p == needed), "push.paths lacks {needed}: {paths:?}");
    }
    // Everything the Dockerfile copies must trigger a build, or a change could ship unchecked.
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY") && !l.contains("--from")) {
        let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with("--")).collect();
        for source in &words[1..words.len() - 1] {
            let source = source.trim_end_matches('/');
            let covered = paths.iter().any(|p| {
                p == source
                    || p.strip_suffix("/**").is_some_and(|dir| source == dir || source.starts_with(&format!("{dir}/")))
            });
            assert!(covered, "the Dockerfile copies {source} but push.paths does not list it: {paths:?}");
        }
    }
    assert!(on.get("workflow_dispatch").is_some(), "manual dispatch");
    assert_eq!(job()["runs-on"].as_str(), Some("ubuntu-22.04"));
}

#[test]
fn service_is_the_compose_files_timescaledb_on_a_host_port_other_than_5432() {
    let compose = yaml("compose.dev.yaml");
    let pinned = compose["services"]["db"]["image"].as_str().expect("compose.dev.yaml services.db.image");
    let services = job()["services"].as_mapping().cloned().expect("services");
    assert_eq!(services.len(), 1, "one service: the database");
    let db = services.values().next().cloned().unwrap_or(Value::Null);
    assert_eq!(db["image"].as_str(), Some(pinned), "the same pinned TimescaleDB as compose.dev.yaml");
    let ports = strings(&db["ports"]);
    assert_eq!(ports.len(), 1, "{ports:?}");
    let (host, container) = ports[0].split_once(':').expect("HOST:CONTAINER");
    assert_eq!(container, "5432");
    assert_ne!(host, "5432", "the runner host already uses 5432");
    assert!(db["options"].as_str().unwrap_or("").contains("--health-cmd \"pg_isready"), "health by pg_isready");

    // The preflight reaches that service with its credentials on that port.
    let preflight = steps()[step_running(" preflight")]["run"].as_str().unwrap_or("").to_string();
    for (key, var) in
        [("POSTGRES_USER", "DB_USER"), ("POSTGRES_PASSWORD", "DB_PASSWORD"), ("POSTGRES_DB", "DB_DATABASE")]
    {
        let value = db["env"][key].as_str().unwrap_or_else(|| panic!("service env {key}"));
        assert!(preflight.contains(&format!("-e {var}={value} ")), "preflight {var} must be {value}: {preflight}");
    }
    assert!(preflight.contains(&format!("-e DB_PORT={host} ")), "preflight DB_PORT must be {host}: {preflight}");
}

#[test]
fn the_exact_preflight_command_runs_the_built_image() {
    let steps = steps();
    let preflight = steps[step_running(" preflight")]["run"].as_str().unwrap_or("").to_string();
    assert_eq!(
        preflight,
        "docker run --rm --network host \
         -e DB_CLIENT=pg -e DB_HOST=127.0.0.1 -e DB_PORT=15432 \
         -e DB_DATABASE=directus -e DB_USER=directus -e DB_PASSWORD=directus \
         -e SECRET=ci-dry-run-secret-not-used-beyond-this-job \
         -e ADMIN_EMAIL=ci@example.com -e ADMIN_PASSWORD=ci-dry-run \
         \"$IMAGE:$GITHUB_SHA\" preflight"
    );
    // `IMAGE preflight` is `trm-init preflight` because trm-init is the image's entrypoint, and this
    // trm-init has that subcommand.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_trm-init"))
        .args(["preflight", "--help"])
        .env_remove("TRM_INIT_CONFIG")
        .output()
        .expect("trm-init runs");
    assert!(help.status.success(), "trm-init preflight --help: {}", String::from_utf8_lossy(&help.stderr));
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/trm-init\"]"), "the image's entrypoint is trm-init");
    let build = steps[step_running("docker build")]["run"].as_str().unwrap_or("").to_string();
    assert!(build.contains("--tag \"$IMAGE:$GITHUB_SHA\""), "the preflight runs the image just built: {build}");
}

#[test]
fn steps_run_build_then_preflight_then_push_then_the_webhook() {
    let steps = steps();
    let checkout = steps.iter().position(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout@")));
    let build = step_running("docker build");
    let preflight = step_running(" preflight");
    let login = step_running("docker login");
    let push = step_running("docker push");
    let webhook = step_running("PORTAINER_WEBHOOK_URL");
    assert_eq!(checkout, Some(0), "checkout first");
    assert!(build < preflight && preflight < login && login < push && push < webhook, "order");

    let push_run = steps[push]["run"].as_str().unwrap_or("");
    for tag in ["\"$IMAGE:$GITHUB_SHA\"", "\"$IMAGE:main\""] {
        assert!(push_run.contains(&format!("docker push {tag}")), "pushes {tag}: {push_run}");
    }
    // Nothing after the preflight may run when it failed: no step before the push relaxes that.
    for (i, step) in steps.iter().enumerate().take(push + 1) {
        let cond = step["if"].as_str().unwrap_or("");
        assert!(!cond.contains("always()") && !cond.contains("failure()"), "step {i} runs after a failure: {cond}");
        assert!(step.get("continue-on-error").is_none(), "step {i} may not continue on error");
    }
    // Only main publishes (a manual dispatch of another branch must not overwrite :main).
    for i in [login, push, webhook] {
        let cond = steps[i]["if"].as_str().unwrap_or("");
        assert!(cond.contains("github.ref == 'refs/heads/main'"), "step {i} publishes only from main: {cond:?}");
    }
    let login_env = &steps[login]["env"];
    for secret in ["REGISTRY_USERNAME", "REGISTRY_PASSWORD"] {
        assert_eq!(login_env[secret].as_str(), Some(format!("${{{{ secrets.{secret} }}}}").as_str()));
    }
    // The webhook is called only when its secret exists.
    assert_eq!(job()["env"]["PORTAINER_WEBHOOK_URL"].as_str(), Some("${{ secrets.PORTAINER_WEBHOOK_URL }}"));
    assert!(steps[webhook]["if"].as_str().unwrap_or("").contains("env.PORTAINER_WEBHOOK_URL != ''"));
}
