//! The CI dry-run gate of `.gitea/workflows/build.yml`, run by the real engine from the file's own steps:
//! the job's `env`, the TimescaleDB service (its image, env, health options; under host networking the
//! `ports` mapping H:C becomes `PGPORT=H`), then each step's `run` script through bash in step order,
//! each `if:` evaluated for a push to main: build, preflight, log in and push to a local registry
//! (Debian's docker-registry on 127.0.0.1 with htpasswd), the webhook skipped (its secret is empty).
//! Plus `docker run IMAGE check`, which needs no database and prints no secret.

mod container;

use container::*;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use trm_test_support::*;

/// The image's config requires TimescaleDB, which Debian does not package: the database stand-in has
/// PostGIS only. The preflight step therefore runs twice: as written (it must refuse with 78 naming
/// timescaledb, so the gate does fail), then with this one variable added after `docker run`.
const RELAX: &str = "-e TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS='[\"postgis\"]'";

struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    addr: String,
}

impl Registry {
    /// Debian's docker-registry on a free loopback port, storage and htpasswd in a temporary folder.
    fn start(user: &str, password: &str) -> Registry {
        require(
            "Debian's docker-registry",
            std::path::Path::new("/usr/bin/docker-registry").exists(),
            "apt-get install docker-registry (scripts/test.sh installs it)",
        );
        let dir = tempfile::tempdir().expect("a registry folder");
        let hash = Command::new("python3")
            .args([
                "-c",
                "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
                password,
            ])
            .output()
            .expect("python3 for a bcrypt hash");
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
        assert!(hash.starts_with("$2"), "a bcrypt hash: {hash}");
        std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).expect("htpasswd");
        let addr = format!("127.0.0.1:{}", free_port());
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n\
             auth:\n  htpasswd:\n    realm: trm-test\n    path: {}\n",
            dir.path().join("data").display(),
            dir.path().join("htpasswd").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).expect("config.yml");
        let child = Command::new("/usr/bin/docker-registry")
            .args(["serve", &dir.path().join("config.yml").to_string_lossy()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry");
        let port: u16 = addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
        assert!(eventually(Duration::from_secs(20), || get(port, "/v2/").is_some()), "registry on {addr}");
        Registry { child, _dir: dir, addr }
    }

    fn tags(&self, repo: &str, user: &str, password: &str) -> String {
        let out = Command::new("curl")
            .args(["-s", "-u", &format!("{user}:{password}"), &format!("http://{}/v2/{repo}/tags/list", self.addr)])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `${{ vars.X }}`, `${{ secrets.X }}`, `${{ github.X }}` replaced from `ctx` (an unknown one fails).
fn expand(text: &str, ctx: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map(|e| start + e).expect("closing }}");
        let key = rest[start + 3..end].trim();
        out.push_str(ctx.get(key).unwrap_or_else(|| panic!("the test does not know {key:?}")));
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A step's `if:` for a push to main with the webhook secret unset; an unknown condition fails.
fn condition(cond: Option<&str>) -> bool {
    match cond {
        None => true,
        Some("github.ref == 'refs/heads/main'") => true,
        Some("github.ref == 'refs/heads/main' && env.PORTAINER_WEBHOOK_URL != ''") => false,
        Some(other) => panic!("the test does not know the step condition {other:?}"),
    }
}

fn bash(script: &str, env: &BTreeMap<String, String>) -> std::process::Output {
    Command::new("bash")
        .args(["-eo", "pipefail", "-c", script])
        .current_dir(repo_dir(""))
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .expect("bash")
}

#[test]
fn the_workflow_builds_gates_on_preflight_and_pushes_to_a_registry() {
    engine();
    let (user, password) = ("ci-pusher", "ci-registry-pw-0123");
    let registry = Registry::start(user, password);
    let docker_config = tempfile::tempdir().expect("DOCKER_CONFIG");
    let sha = "0123456789abcdef0123456789abcdef01234567".to_string();
    let ctx: BTreeMap<&str, String> = [
        ("vars.REGISTRY", registry.addr.clone()),
        ("secrets.REGISTRY_USERNAME", user.into()),
        ("secrets.REGISTRY_PASSWORD", password.into()),
        ("secrets.PORTAINER_WEBHOOK_URL", String::new()),
    ]
    .into_iter()
    .collect();

    let wf: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(repo_dir(".gitea/workflows/build.yml")).expect("read"))
            .expect("YAML");
    let job = wf["jobs"].as_mapping().and_then(|j| j.values().next()).cloned().expect("one job");
    let mut env: BTreeMap<String, String> = std::env::vars().collect();
    env.insert("GITHUB_SHA".into(), sha.clone());
    env.insert("GITHUB_REF".into(), "refs/heads/main".into());
    env.insert("DOCKER_CONFIG".into(), docker_config.path().to_string_lossy().into_owned());
    for (k, v) in job["env"].as_mapping().expect("job env") {
        env.insert(k.as_str().expect("key").into(), expand(v.as_str().unwrap_or_default(), &ctx));
    }

    // ---- the service: the compose file's database image (here its stand-in) --------------------------
    let services = job["services"].as_mapping().expect("services");
    assert_eq!(services.len(), 1, "one service");
    let svc = services.values().next().expect("service");
    let ports = svc["ports"].as_sequence().expect("ports");
    let host_port = ports[0].as_str().and_then(|p| p.split(':').next()).expect("H:C").to_string();
    let mut run: Vec<String> = ["run", "-d", "--network", "host", "--pull", "never"].map(String::from).to_vec();
    for (k, v) in svc["env"].as_mapping().expect("service env") {
        run.push("-e".into());
        run.push(format!("{}={}", k.as_str().expect("key"), v.as_str().expect("value")));
    }
    run.push("-e".into());
    run.push(format!("PGPORT={host_port}"));
    let options = bash("eval \"set -- $OPTIONS\"; printf '%s\\0' \"$@\"", &{
        let mut e = env.clone();
        e.insert("OPTIONS".into(), svc["options"].as_str().unwrap_or_default().into());
        e
    });
    run.extend(String::from_utf8_lossy(&options.stdout).split('\0').filter(|s| !s.is_empty()).map(String::from));
    run.push(svc["image"].as_str().expect("image").into());
    let refs: Vec<&str> = run.iter().map(String::as_str).collect();
    let service = Container { id: docker_ok(&refs), ports: Ports { directus: 0, health: 0 } };
    service.wait_health("healthy", Duration::from_secs(120));

    // ---- the steps, in order ------------------------------------------------------------------------
    let steps = job["steps"].as_sequence().expect("steps");
    let mut ran = Vec::new();
    for step in steps {
        let name = step["name"].as_str().unwrap_or("?").to_string();
        let Some(script) = step["run"].as_str() else {
            assert!(
                step["uses"].as_str().is_some_and(|u| u.starts_with("actions/checkout")),
                "{name}: only checkout has no run"
            );
            continue; // the checkout: the test runs in the repository
        };
        if !condition(step["if"].as_str()) {
            ran.push(format!("{name}: skipped"));
            continue;
        }
        let mut step_env = env.clone();
        if let Some(m) = step["env"].as_mapping() {
            for (k, v) in m {
                step_env.insert(k.as_str().expect("key").into(), expand(v.as_str().unwrap_or_default(), &ctx));
            }
        }
        let script = expand(script, &ctx);
        if script.contains(" preflight") {
            let as_written = bash(&script, &step_env);
            assert_eq!(
                as_written.status.code(),
                Some(78),
                "{name} as written on a database without TimescaleDB: {}",
                text(&as_written)
            );
            assert!(text(&as_written).contains("timescaledb"), "{}", text(&as_written));
            let relaxed = script.replacen("docker run ", &format!("docker run {RELAX} "), 1);
            assert_ne!(relaxed, script, "{name} starts with docker run");
            let out = bash(&relaxed, &step_env);
            assert!(out.status.success(), "{name}: {}", text(&out));
            assert!(text(&out).contains("db-init-post") || text(&out).contains("post:"), "{}", text(&out));
        } else {
            let out = bash(&script, &step_env);
            assert!(out.status.success(), "{name}: {}", text(&out));
        }
        ran.push(format!("{name}: ok"));
    }
    eprintln!("[container] workflow steps: {ran:?}");
    assert_eq!(ran.len(), 5, "build, preflight, login, push, webhook: {ran:?}");
    assert!(ran.last().is_some_and(|s| s.ends_with("skipped")), "the webhook without its secret: {ran:?}");
    let tags = registry.tags("trm/directus", user, password);
    assert!(tags.contains("\"main\"") && tags.contains(&sha), "pushed :main and :<sha>: {tags}");
    let schema = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &host_port, "-U", "directus", "-d", "directus", "-Atc"])
        .arg("SELECT count(*) FROM trm_init_schema_state")
        .env("PGPASSWORD", "directus")
        .output()
        .expect("psql");
    assert_eq!(
        String::from_utf8_lossy(&schema.stdout).trim(),
        "1",
        "the gate applied the schema on the service database"
    );
}

#[test]
fn check_validates_the_image_without_a_database_and_prints_no_secret() {
    engine();
    let secret = "check-db-password-must-not-show";
    let out = run_to_exit(&[
        "-e",
        "DB_CLIENT=pg",
        "-e",
        "DB_HOST=127.0.0.1",
        "-e",
        "DB_DATABASE=none",
        "-e",
        "DB_USER=none",
        "-e",
        &format!("DB_PASSWORD={secret}"),
        IMAGE,
        "check",
    ]);
    assert!(out.status.success(), "docker run IMAGE check: {}", text(&out));
    let all = text(&out);
    assert!(all.contains("/directus/snapshots/schema.yaml"), "the effective config: {all}");
    assert!(!all.contains(secret), "no secret in check's output: {all}");
}
