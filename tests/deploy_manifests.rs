//! deploy/: the Kubernetes kustomize base renders (`kubectl kustomize`), every manifest and the
//! rendered output validate against the Kubernetes OpenAPI schema of a current release
//! (`kubernetes-validate --strict`), deploy/swarm/stack.yaml validates against Docker's compose schema,
//! and the settings agree with each other and with trm-init: grace periods cover drain + stop_grace,
//! probes point at the right endpoints, trm-init accepts the configuration and its multi-replica check
//! finds nothing to warn about. Tools: `eval "$(scripts/deploy-tools.sh)"` (scripts/test.sh does it).
use trm_test_support as common;

use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use trm_init::config::duration::Dur;

/// The Kubernetes release the manifests are validated against (bundled by kubernetes-validate 1.37.0).
const K8S_VERSION: &str = "1.37.0";

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn venv() -> PathBuf {
    let venv = std::env::var("TRM_TEST_DEPLOY_VENV").unwrap_or_default();
    common::require(
        "the deploy validators (TRM_TEST_DEPLOY_VENV)",
        !venv.is_empty() && Path::new(&venv).join("bin/kubernetes-validate").exists(),
        "run eval \"$(scripts/deploy-tools.sh)\" first (scripts/test.sh does)",
    );
    PathBuf::from(venv)
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn kustomize(dir: &str) -> String {
    let have = Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success());
    common::require(
        "kubectl (for `kubectl kustomize`)",
        have,
        "install kubectl (it ships kustomize); no Debian package provides kustomize",
    );
    let out = Command::new("kubectl").arg("kustomize").arg(repo(dir)).output().expect("run kubectl kustomize");
    assert!(out.status.success(), "kustomize {dir} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn validate(files: &[PathBuf]) -> (bool, String) {
    let bin = venv().join("bin/kubernetes-validate");
    run(Command::new(bin).args(["--strict", "-k", K8S_VERSION]).args(files))
}

fn docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde::Deserialize::deserialize(d).expect("YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn kind<'a>(all: &'a [Value], kind: &str) -> &'a Value {
    all.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} rendered"))
}

fn dur(text: &str) -> Duration {
    text.parse::<Dur>().unwrap_or_else(|e| panic!("{text:?} is not a duration: {e}")).get()
}

fn str_map(v: &Value) -> Vec<(String, String)> {
    v.as_mapping()
        .expect("a mapping")
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
            };
            (k.as_str().expect("string key").to_string(), v)
        })
        .collect()
}

/// Every .yaml under deploy/kubernetes that is a Kubernetes object (not a kustomization).
fn kubernetes_manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo("deploy/kubernetes")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read deploy/kubernetes").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml")
                && path.file_name() != Some("kustomization.yaml".as_ref())
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn kustomize_renders_and_every_manifest_validates_against_the_kubernetes_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = kubernetes_manifests();
    assert!(files.len() >= 6, "{files:?}");
    for (name, folder) in [("base.yaml", "deploy/kubernetes"), ("migrate.yaml", "deploy/kubernetes/migrate")] {
        let path = dir.path().join(name);
        std::fs::write(&path, kustomize(folder)).expect("write render");
        files.push(path);
    }
    let (ok, text) = validate(&files);
    assert!(ok, "kubernetes-validate refused a manifest:\n{text}");
    for kind in ["deployment", "service", "poddisruptionbudget", "configmap", "persistentvolumeclaim", "job"] {
        assert!(text.contains(&format!("passed for resource {kind}/")), "{kind} was not validated:\n{text}");
    }

    // The validator bites: an unknown field and a wrong type are refused.
    let broken = dir.path().join("broken.yaml");
    let deployment = std::fs::read_to_string(repo("deploy/kubernetes/deployment.yaml")).expect("deployment");
    std::fs::write(&broken, deployment.replace("replicas: 3", "replicas: three\n  replica: 3")).expect("write");
    let (ok, text) = validate(&[broken]);
    assert!(!ok, "a broken Deployment passed:\n{text}");
}

#[test]
fn the_deployment_drains_within_its_grace_and_probes_the_right_endpoints() {
    let rendered = docs(&kustomize("deploy/kubernetes"));
    let config: std::collections::BTreeMap<String, String> =
        str_map(&kind(&rendered, "ConfigMap")["data"]).into_iter().collect();
    let deployment = kind(&rendered, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let c = &pod["containers"][0];

    // Budget: drain + stop_grace (KILL) < terminationGracePeriodSeconds; Directus's own shutdown fits.
    let drain = dur(&config["TRM_INIT_CHILD__DRAIN"]);
    let stop_grace = dur(&config["TRM_INIT_CHILD__STOP_GRACE"]);
    let grace = Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().expect("grace period"));
    let shutdown = Duration::from_millis(config["SERVER_SHUTDOWN_TIMEOUT"].parse().expect("ms"));
    assert!(drain >= Duration::from_secs(5), "drain {drain:?} too short for endpoint propagation");
    assert!(drain + stop_grace < grace, "drain {drain:?} + stop_grace {stop_grace:?} >= grace {grace:?}");
    assert!(shutdown < stop_grace, "Directus's shutdown {shutdown:?} must fit in stop_grace {stop_grace:?}");

    // Probes on trm-init's port: startup and readiness on /readyz, liveness on /livez.
    let health_port =
        c["ports"].as_sequence().expect("ports").iter().find(|p| p["name"] == "health").expect("health port");
    assert_eq!(health_port["containerPort"], 8056);
    for (probe, path) in [("startupProbe", "/readyz"), ("readinessProbe", "/readyz"), ("livenessProbe", "/livez")] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "health", "{probe}");
    }
    let env = c["env"].as_sequence().expect("env");
    let listen = env.iter().find(|e| e["name"] == "TRM_INIT_HEALTH__LISTEN").expect("TRM_INIT_HEALTH__LISTEN");
    assert_eq!(listen["value"], "$(POD_IP):8056");
    let pod_ip = env.iter().position(|e| e["name"] == "POD_IP").expect("POD_IP");
    let listen_at = env.iter().position(|e| e["name"] == "TRM_INIT_HEALTH__LISTEN").expect("listen");
    assert!(pod_ip < listen_at, "POD_IP must be defined before it is referenced");

    // Non-root, read-only root filesystem, the replica count trm-init is told.
    assert_eq!(pod["securityContext"]["runAsUser"], 1000);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    pm2_home_is_writable(c);
    assert_eq!(
        deployment["spec"]["replicas"].as_u64().map(|n| n.to_string()),
        Some(config["TRM_INIT_CHILD__REPLICAS"].clone())
    );
    assert_eq!(deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);

    // trm-init's own multi-replica check has nothing to say about this environment.
    let mut vars: std::collections::BTreeMap<String, String> = config.clone();
    for e in env.iter().filter(|e| e["value"].is_string()) {
        vars.insert(e["name"].as_str().unwrap_or_default().into(), e["value"].as_str().unwrap_or_default().into());
    }
    let problems = trm_init::config::replicas::problems(3, |k| vars.get(k).cloned());
    assert!(problems.is_empty(), "{problems:?}");
    check_accepts(&vars);
}

/// `trm-init check` loads the TRM_INIT_* settings of a manifest (durations, keys, values).
fn check_accepts(vars: &std::collections::BTreeMap<String, String>) {
    let mut cmd = Command::new(common::bin());
    cmd.arg("check").env_remove("TRM_INIT_CONFIG");
    for (k, v) in vars.iter().filter(|(k, _)| k.starts_with("TRM_INIT_") && *k != "TRM_INIT_HEALTH__LISTEN") {
        cmd.env(k, v);
    }
    let (ok, text) = run(&mut cmd);
    assert!(!text.contains("invalid configuration"), "{text}");
    // check exits non-zero when the image's folders (/directus/...) are missing here; the keys parsed.
    let _ = ok;
}

#[test]
fn the_migration_job_runs_trm_init_preflight_with_the_same_settings() {
    let rendered = docs(&kustomize("deploy/kubernetes/migrate"));
    let job = kind(&rendered, "Job");
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["args"][0], "preflight");
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(c["envFrom"][0]["configMapRef"]["name"], kind(&rendered, "ConfigMap")["metadata"]["name"]);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    pm2_home_is_writable(c);
}

/// Directus loads pm2, which creates `$PM2_HOME` (default `$HOME/.pm2`, on the read-only root) in every
/// Node process: the container sets it inside one of its writable mounts.
fn pm2_home_is_writable(c: &Value) {
    let env = c["env"].as_sequence().expect("env");
    let home = env.iter().find(|e| e["name"] == "PM2_HOME").and_then(|e| e["value"].as_str()).expect("env PM2_HOME");
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let writable = mounts.iter().any(|m| {
        m["readOnly"] != true
            && m["mountPath"].as_str().is_some_and(|path| Path::new(home).starts_with(path) && home != path)
    });
    assert!(writable, "PM2_HOME {home} must be below a writable volumeMount: {mounts:?}");
}

const COMPOSE_CHECK: &str = r#"
import glob, json, re, sys, yaml, jsonschema
schema = json.load(open(glob.glob(sys.argv[1] + "/lib/python3*/site-packages/compose/config/compose_spec.json")[0]))
text = open(sys.argv[2]).read()
# Interpolate ${NAME:-default} / ${NAME} as docker stack deploy would with nothing set.
text = re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", text)
errors = list(jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(yaml.safe_load(text)))
for e in errors:
    print("/".join(map(str, e.absolute_path)) + ": " + e.message)
sys.exit(1 if errors else 0)
"#;

fn compose_valid(file: &Path) -> (bool, String) {
    let py = venv().join("bin/python");
    run(Command::new(py).args(["-c", COMPOSE_CHECK]).arg(venv()).arg(file))
}

#[test]
fn the_swarm_stack_validates_and_rolls_start_first_with_rollback() {
    let path = repo("deploy/swarm/stack.yaml");
    let (ok, text) = compose_valid(&path);
    assert!(ok, "deploy/swarm/stack.yaml does not validate against the compose schema:\n{text}");
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("stack.yaml");
    let original = std::fs::read_to_string(&path).expect("stack.yaml");
    std::fs::write(&broken, original.replace("order: start-first", "order: sideways")).expect("write");
    assert!(!compose_valid(&broken).0, "the compose schema check accepted order: sideways");

    let stack: Value = serde_yaml_ng::from_str(&original).expect("stack.yaml parses");
    let svc = &stack["services"]["directus"];
    let deploy = &svc["deploy"];
    assert!(deploy["replicas"].as_u64().is_some_and(|n| n >= 2));
    assert_eq!(deploy["update_config"]["order"], "start-first");
    assert_eq!(deploy["update_config"]["failure_action"], "rollback");
    assert!(deploy["update_config"]["monitor"].is_string());
    assert_eq!(svc["healthcheck"]["test"][1], "/usr/local/bin/trm-init");
    assert_eq!(svc["healthcheck"]["test"][2], "health");

    let env: std::collections::BTreeMap<String, String> = str_map(&svc["environment"]).into_iter().collect();
    let drain = dur(&env["TRM_INIT_CHILD__DRAIN"]);
    let stop_grace = dur(&env["TRM_INIT_CHILD__STOP_GRACE"]);
    let grace = dur(svc["stop_grace_period"].as_str().expect("stop_grace_period"));
    assert!(drain + stop_grace < grace, "drain {drain:?} + stop_grace {stop_grace:?} >= stop_grace_period {grace:?}");
    // The health check must not call a draining task unhealthy: retries x interval > drain.
    let hc = &svc["healthcheck"];
    let unhealthy_after =
        dur(hc["interval"].as_str().expect("interval")) * hc["retries"].as_u64().expect("retries") as u32;
    assert!(unhealthy_after > drain, "health check fails a draining task after {unhealthy_after:?}");
    assert_eq!(deploy["replicas"].as_u64().map(|n| n.to_string()), Some(env["TRM_INIT_CHILD__REPLICAS"].clone()));

    // Secrets as files, each one a declared secret given to the service.
    let given: Vec<&str> = svc["secrets"].as_sequence().expect("secrets").iter().filter_map(Value::as_str).collect();
    for (k, v) in env.iter().filter(|(k, _)| k.ends_with("_FILE")) {
        let name = v.strip_prefix("/run/secrets/").unwrap_or_else(|| panic!("{k} = {v} is not a Docker secret"));
        assert!(given.contains(&name), "{k} names secret {name}, not given to the service");
        assert!(stack["secrets"][name]["external"].as_bool() == Some(true), "secret {name} not declared");
    }
    assert!(!env.contains_key("DB_PASSWORD") && !env.contains_key("SECRET"), "plain secrets in the stack");
    let problems = trm_init::config::replicas::problems(3, |k| env.get(k).cloned());
    assert!(problems.is_empty(), "{problems:?}");
    check_accepts(&env);
}
