//! The Dockerfile says what matters: the Directus version the tests run, the static binary the build
//! stage produces at the path ENTRYPOINT and HEALTHCHECK name, USER node, COPY sources that exist and
//! reach the build context, cache-friendly layer order, nothing added to the base but trm-init and our
//! folders, and a baked config whose paths are the folders the image holds.

use trm_test_support as common;

use common::dockerfile_model::{load, repo, Copy, Stage};
use std::path::Path;
use std::time::Duration;
use trm_init::config::Config;

const BINARY: &str = "/usr/local/bin/trm-init";
const BUILD_OUTPUT: &str = "target/x86_64-unknown-linux-gnu/release/trm-init";
/// Docker's defaults for HEALTHCHECK --timeout and for `docker stop --time`.
const DOCKER_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
const DOCKER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The Directus version scripts/install-directus.sh installs for the end-to-end tests.
fn tested_directus_version() -> String {
    let script = read("scripts/install-directus.sh");
    let marker = "${DIRECTUS_VERSION:-";
    let start = script.find(marker).expect("install-directus.sh defaults DIRECTUS_VERSION") + marker.len();
    let end = start + script[start..].find('}').expect("closing brace");
    script[start..end].to_string()
}

fn final_copies() -> Vec<Copy> {
    load().final_stage().copies()
}

/// The final-stage COPY whose single source is `source` (e.g. "config/").
fn copy_of(copies: &[Copy], source: &str) -> Copy {
    copies
        .iter()
        .find(|c| c.sources.iter().any(|s| s.trim_end_matches('/') == source.trim_end_matches('/')))
        .unwrap_or_else(|| panic!("the final stage has no COPY of {source}"))
        .clone()
}

fn build_stage() -> Stage {
    let dockerfile = load();
    let from = final_copies()
        .into_iter()
        .find(|c| c.dest == BINARY)
        .and_then(|c| c.from)
        .expect("the final stage copies the binary from a build stage (COPY --from=...)");
    dockerfile.stage(&from).unwrap_or_else(|| panic!("no stage named {from}")).clone()
}

#[test]
fn final_stage_is_the_directus_version_the_tests_install() {
    let version = tested_directus_version();
    assert_eq!(load().final_stage().base, format!("directus/directus:{version}"));
}

#[test]
fn build_stage_is_a_pinned_rust_image_new_enough_for_the_crate() {
    let stage = build_stage();
    let (image, tag) = stage.base.split_once(':').expect("the build image is pinned with a tag");
    assert_eq!(image, "rust");
    let version: Vec<u32> = tag.split('-').next().unwrap().split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(version.len(), 3, "pin the full Rust version (x.y.z), not {tag}");
    let manifest = read("Cargo.toml");
    let needed = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml has rust-version");
    let needed: Vec<u32> = needed.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(version[..2] >= needed[..2], "rust {tag} is older than rust-version {needed:?}");
}

#[test]
fn build_stage_produces_the_static_binary_the_final_stage_copies() {
    let stage = build_stage();
    let cargo = read(".cargo/config.toml");
    assert!(cargo.contains("target = \"x86_64-unknown-linux-gnu\"") && cargo.contains("+crt-static"));
    let copies = stage.copies();
    for needed in ["Cargo.toml", "Cargo.lock", ".cargo", "src"] {
        assert!(
            copies.iter().any(|c| c.sources.iter().any(|s| s.trim_end_matches('/') == needed)),
            "the build stage must COPY {needed} (the static target comes from .cargo/config.toml)"
        );
    }
    let runs: Vec<String> = stage.all("RUN").iter().map(|r| r.rest.clone()).collect();
    assert!(
        runs.iter().any(|r| r.contains("cargo build --release --locked")),
        "the build stage runs `cargo build --release --locked`: {runs:?}"
    );
    let workdir = stage.workdir().expect("the build stage sets WORKDIR");
    let produced = format!("{}/{BUILD_OUTPUT}", workdir.trim_end_matches('/'));
    let binary = final_copies().into_iter().find(|c| c.dest == BINARY).expect("the COPY of the binary");
    assert_eq!(binary.sources, std::slice::from_ref(&produced), "the final stage copies what cargo produced");
    assert_eq!(binary.target_of(&produced, false), BINARY);
}

/// The dependency layer builds an empty crate first; the real build must not reuse that crate's output
/// (COPY keeps the sources' old mtimes, which cargo could take as "unchanged").
#[test]
fn real_build_cannot_reuse_the_empty_crate() {
    let stage = build_stage();
    let runs: Vec<&str> = stage.all("RUN").iter().map(|r| r.rest.as_str()).collect();
    let Some(empty) = runs.iter().position(|r| r.contains("fn main() {}")) else { return };
    let copy_src = stage.instructions.iter().position(|i| i.keyword == "COPY" && i.rest.starts_with("src"));
    let real =
        runs[empty + 1..].iter().find(|r| r.contains("cargo build")).expect("a real cargo build after the empty one");
    assert!(copy_src.is_some(), "the sources are copied after the dependency layer");
    assert!(real.contains("touch src/main.rs src/lib.rs"), "touch the real sources before `cargo build`: {real}");
}

#[test]
fn cargo_lock_is_in_sync_for_the_locked_build() {
    let out = trm_test_support::cargo_locked_offline(
        &repo(),
        &["metadata", "--format-version", "1", "--filter-platform", "x86_64-unknown-linux-gnu"],
    );
    assert!(
        out.status.success(),
        "`cargo build --locked` in the image would fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn entrypoint_is_exec_form_naming_the_copied_binary() {
    let stage = load().final_stage().clone();
    let entrypoint = stage.last("ENTRYPOINT").expect("ENTRYPOINT");
    assert_eq!(entrypoint.exec_form(), Some(vec![BINARY.to_string()]), "line {}", entrypoint.line);
    if let Some(cmd) = stage.last("CMD") {
        assert!(cmd.exec_form().is_some(), "CMD must be exec form (line {})", cmd.line);
    }
}

#[test]
fn healthcheck_is_exec_form_trm_init_health_with_sane_timings() {
    let stage = load().final_stage().clone();
    let health = stage.healthcheck().expect("HEALTHCHECK");
    let argv =
        health.exec.clone().unwrap_or_else(|| panic!("HEALTHCHECK must be CMD [...] (exec form): {}", health.raw));
    assert_eq!(argv[..2], [BINARY.to_string(), "health".to_string()]);
    let timeout = health.timeout.expect("--timeout");
    assert!(timeout < DOCKER_HEALTH_TIMEOUT, "--timeout {timeout:?} must be below Docker's default");
    assert!(health.interval.is_some(), "--interval");
    assert!(health.retries.is_some(), "--retries");
    // trm-init health gives up before Docker kills it, so the probe itself reports why.
    if let Some(i) = argv.iter().position(|a| a == "--timeout") {
        let own = humantime::parse_duration(&argv[i + 1]).expect("trm-init health --timeout");
        assert!(own < timeout, "trm-init health --timeout {own:?} must be below HEALTHCHECK --timeout {timeout:?}");
    }
    // A cold boot may first wait for the database for the whole database.wait_timeout.
    let start = health.start_period.expect("--start-period");
    let wait = Config::default().database.wait_timeout.get();
    assert!(start > wait, "--start-period {start:?} must cover database.wait_timeout ({wait:?}) plus a cold boot");
}

#[test]
fn runs_as_node_and_stops_with_sigterm_before_docker_kills() {
    let stage = load().final_stage().clone();
    assert_eq!(stage.last("USER").map(|u| u.rest.as_str()), Some("node"));
    assert_eq!(stage.last("STOPSIGNAL").map(|u| u.rest.as_str()), Some("SIGTERM"));
    assert_eq!(stage.workdir().as_deref(), Some("/directus"));
    let grace = baked_config().child.stop_grace.get();
    assert!(grace < DOCKER_STOP_TIMEOUT, "child.stop_grace {grace:?} must end before docker stop's KILL");
}

#[test]
fn every_copy_source_exists_and_reaches_the_build_context() {
    let ignore = read(".dockerignore");
    for stage in &load().stages {
        for copy in stage.copies().iter().filter(|c| c.from.is_none()) {
            for source in &copy.sources {
                let path = repo().join(source);
                assert!(path.exists(), "line {}: COPY source {source} does not exist in the repository", copy.line);
                assert!(
                    !ignored(&ignore, source),
                    "line {}: COPY source {source} is excluded by .dockerignore",
                    copy.line
                );
            }
        }
    }
}

/// Whether .dockerignore excludes `source`: its lines in order, the last that matches wins (`!` lines
/// re-include); a pattern matches the path or a folder above it, `*` one path component (the plain
/// names, `dir/*` and `**/name` this project uses).
fn ignored(dockerignore: &str, source: &str) -> bool {
    let path: Vec<&str> = source.trim_start_matches("./").trim_end_matches('/').split('/').collect();
    let mut excluded = false;
    for line in dockerignore.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (exception, pattern) = line.strip_prefix('!').map_or((false, line), |p| (true, p));
        let pattern: Vec<&str> = pattern.trim_start_matches("**/").trim_end_matches('/').split('/').collect();
        if pattern.len() <= path.len() && pattern.iter().zip(&path).all(|(p, s)| *p == "*" || p == s) {
            excluded = !exception;
        }
    }
    excluded
}

#[test]
fn dockerignore_reading_follows_docker() {
    let ignore = "tests/*\n!tests/support\n**/node_modules\nbench/\n";
    assert!(ignored(ignore, "tests/cli.rs") && ignored(ignore, "bench/boot.sh") && ignored(ignore, "node_modules"));
    assert!(!ignored(ignore, "tests/support/") && !ignored(ignore, "tests/support/Cargo.toml"));
    assert!(!ignored(ignore, "src/") && !ignored(ignore, "Cargo.toml"));
}

/// The dependency layer runs `cargo build --locked` with only what was copied before it: cargo must
/// find every path dependency (dev-dependencies included) there.
#[test]
fn what_the_build_stage_copies_before_cargo_is_enough_for_cargo() {
    let stage = build_stage();
    let first_build = stage
        .instructions
        .iter()
        .position(|i| i.keyword == "RUN" && i.rest.contains("cargo build"))
        .expect("the build stage runs cargo build");
    let context = tempfile::tempdir().expect("tempdir");
    for copy in stage.instructions[..first_build].iter().filter(|i| i.keyword == "COPY") {
        let words: Vec<&str> = copy.words().into_iter().filter(|w| !w.starts_with("--")).collect();
        for source in &words[..words.len() - 1] {
            let from = repo().join(source);
            let to = context.path().join(source.trim_end_matches('/'));
            std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
            let status = std::process::Command::new("cp").arg("-r").arg(&from).arg(&to).status().expect("cp");
            assert!(status.success(), "cp {} {}", from.display(), to.display());
        }
    }
    // What the RUN itself creates: an empty crate.
    std::fs::create_dir_all(context.path().join("src")).expect("mkdir src");
    std::fs::write(context.path().join("src/main.rs"), "fn main() {}").expect("main.rs");
    std::fs::write(context.path().join("src/lib.rs"), "").expect("lib.rs");
    let out = trm_test_support::cargo_locked_offline(context.path(), &["metadata", "--format-version", "1"]);
    assert!(
        out.status.success(),
        "the build stage's dependency layer would fail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn layers_are_in_cache_friendly_order() {
    let dests: Vec<String> = final_copies().iter().map(|c| c.dest.trim_end_matches('/').to_string()).collect();
    let expected = [
        BINARY,
        "/directus/compile-cache",
        "/directus/config",
        "/directus/directus-step",
        "/directus/db-init",
        "/directus/db-init-post",
        "/directus/snapshots",
        "/directus/seed/node_modules",
        "/directus/seed",
        "/directus/extensions",
    ];
    assert_eq!(dests, expected, "rarely changing layers first, the snapshot and the seed late, extensions last");
    for (source, dest) in
        [("config", 2), ("directus-step", 3), ("db-init", 4), ("db-init-post", 5), ("snapshots", 6), ("seed", 8)]
    {
        let copy = copy_of(&final_copies(), &format!("{source}/"));
        assert_eq!(copy.target_of(&format!("{source}/"), true), expected[dest]);
    }
}

/// The extensions stage: a pinned Node 22 image, dependencies from the lockfile in their own layer, unit
/// tests before the build, and nothing but the built output (package.json + dist/) copied to the final
/// stage, owned by node, into Directus's extensions folder.
#[test]
fn extensions_are_built_in_a_node_stage_and_only_the_output_is_copied() {
    let dockerfile = load();
    let stage = dockerfile.stage("extensions").expect("a build stage named extensions").clone();
    let (image, tag) = stage.base.split_once(':').expect("the Node image is pinned with a tag");
    assert_eq!(image, "node");
    let version = tag.split('-').next().unwrap_or_default();
    assert!(version.starts_with("22.") && version.split('.').count() == 3, "pin Node 22 as x.y.z, not {tag}");

    let copies = stage.copies();
    let runs = stage.all("RUN");
    let ci = runs.iter().position(|r| r.rest.contains("npm ci")).expect("RUN npm ci (installs from the lockfile)");
    let ci_line = runs[ci].line;
    let manifests: Vec<&Copy> = copies.iter().filter(|c| c.line < ci_line).collect();
    let before: Vec<&String> = manifests.iter().flat_map(|c| c.sources.iter()).collect();
    assert!(
        before.iter().any(|s| *s == "extensions/package.json")
            && before.iter().any(|s| *s == "extensions/package-lock.json"),
        "package.json and package-lock.json are copied before npm ci: {before:?}"
    );
    assert!(
        before.iter().all(|s| s.ends_with("package.json") || s.ends_with("package-lock.json")),
        "only the manifests before npm ci, so a source change reuses the installed layer: {before:?}"
    );
    let build = runs.iter().find(|r| r.rest.contains("npm run build")).expect("RUN npm run build");
    assert!(build.rest.contains("npm test"), "the unit tests run in the image build: {}", build.rest);
    let lock = read("extensions/package-lock.json");
    assert!(lock.contains("\"@directus/extensions-sdk\""), "the lockfile pins the official extensions SDK");

    let finals: Vec<Copy> = final_copies().into_iter().filter(|c| c.from.as_deref() == Some("extensions")).collect();
    assert_eq!(finals.len(), 1, "one COPY --from=extensions in the final stage");
    let copy = &finals[0];
    assert_eq!(copy.chown.as_deref(), Some("node:node"), "Directus (uid 1000) owns its extensions");
    assert_eq!(copy.dest.trim_end_matches('/'), "/directus/extensions");
    assert!(
        final_copies().iter().all(|c| !c.sources.iter().any(|s| s.starts_with("extensions"))),
        "the final stage copies no extension sources"
    );
}

#[test]
fn adds_no_shell_tools_and_no_directus_runtime_env() {
    let stage = load().final_stage().clone();
    assert!(stage.all("RUN").is_empty(), "the final stage installs nothing (no RUN): {:?}", stage.all("RUN"));
    for i in &stage.instructions {
        let text = format!("{} {}", i.keyword, i.rest).to_lowercase();
        for tool in ["curl", "wget", "bash", "psql", "apk add", "apt-get"] {
            assert!(!text.contains(tool), "line {}: the image must not add {tool}: {text}", i.line);
        }
    }
    for (key, _) in stage.env() {
        assert!(key.starts_with("TRM_INIT_"), "ENV {key}: Directus runtime settings come from the deployer's env");
    }
}

/// The config the image bakes in, loaded the way trm-init loads it (TRM_INIT_CONFIG).
fn baked_config() -> Config {
    let env = load().final_stage().env();
    let image_path =
        env.iter().find(|(k, _)| k == "TRM_INIT_CONFIG").map(|(_, v)| v.clone()).expect("ENV TRM_INIT_CONFIG");
    let host = host_path_of(&image_path).unwrap_or_else(|| panic!("{image_path} is not inside a COPY destination"));
    assert!(host.is_file(), "TRM_INIT_CONFIG={image_path} comes from {}, which does not exist", host.display());
    trm_init::load_config(Some(&host)).unwrap_or_else(|e| panic!("{}: {e}", host.display()))
}

/// The repository file that ends up at `image_path` through the final stage's COPY of a folder.
fn host_path_of(image_path: &str) -> Option<std::path::PathBuf> {
    final_copies().iter().filter(|c| c.from.is_none()).find_map(|c| {
        let source = c.sources.first()?;
        let dest = c.target_of(source, source.ends_with('/') || repo().join(source).is_dir());
        let rel = Path::new(image_path).strip_prefix(&dest).ok()?;
        Some(repo().join(source).join(rel))
    })
}

#[test]
fn baked_config_paths_are_the_folders_the_image_holds() {
    let config = baked_config();
    let check = |what: &str, path: &Path, dir: bool| {
        let p = path.to_string_lossy();
        let host = host_path_of(&p).unwrap_or_else(|| panic!("{what} = {p} is not a folder the image copies"));
        let ok = if dir { host.is_dir() } else { host.is_file() };
        assert!(ok, "{what} = {p}: the image would hold {}, which is missing", host.display());
    };
    check("db_init.pre_dir", &config.db_init.pre_dir, true);
    check("db_init.post_dir", &config.db_init.post_dir, true);
    if config.schema.enabled {
        check("schema.snapshot", &config.schema.snapshot, false);
        check("schema.step_script", &config.schema.step_script, false);
        let cli = format!("{}/cli.js", load().final_stage().workdir().unwrap_or_default());
        assert!(
            config.schema.directus.contains(&cli),
            "schema.directus {:?} names {cli}: the step helper finds Directus's folder by it",
            config.schema.directus
        );
        if config.access.enabled {
            check("access.file", &config.access_file(), false);
        }
    }
    let workdir = load().final_stage().workdir().unwrap_or_default();
    assert!(
        config.child.command.iter().any(|a| a == &format!("{workdir}/cli.js")),
        "child.command {:?} starts Directus's {workdir}/cli.js",
        config.child.command
    );
}

/// Issue 27: Node's compile cache is made at build time in a stage on the runtime's own base, as uid 1000
/// (Node keeps one folder per uid), and the final stage copies it, owned by node, to the directory the
/// baked config hands to Directus as NODE_COMPILE_CACHE.
#[test]
fn compile_cache_is_warmed_as_node_on_the_runtime_base_and_copied_where_the_config_points() {
    let dockerfile = load();
    let stage = dockerfile.stage("compile-cache").expect("a build stage named compile-cache").clone();
    assert_eq!(
        stage.base,
        dockerfile.final_stage().base,
        "warmed on the runtime's base: the same files at the same paths"
    );
    assert_eq!(stage.last("USER").map(|u| u.rest.as_str()), Some("node"), "warmed as uid 1000, Directus's uid");
    let config = baked_config();
    assert!(config.child.compile_cache, "child.compile_cache is on in the image");
    let dir = config.child.compile_cache_dir.to_string_lossy().into_owned();
    let runs = stage.all("RUN");
    assert!(
        runs.iter().any(|r| r.rest.contains(&format!("NODE_COMPILE_CACHE={dir}")) && r.rest.contains("warm.mjs")),
        "the stage fills {dir} with compile-cache/warm.mjs: {runs:?}"
    );
    let copies: Vec<Copy> = final_copies().into_iter().filter(|c| c.from.as_deref() == Some("compile-cache")).collect();
    assert_eq!(copies.len(), 1, "one COPY --from=compile-cache in the final stage");
    assert_eq!(copies[0].chown.as_deref(), Some("node:node"), "Directus (uid 1000) may add entries to its cache");
    assert_eq!(copies[0].dest.trim_end_matches('/'), dir, "copied to child.compile_cache_dir");
}

#[test]
fn dockerignore_keeps_local_state_out_of_the_context() {
    let ignore = read(".dockerignore");
    for entry in ["target", ".git", ".stack", ".env", "node_modules"] {
        assert!(ignored(&ignore, entry), ".dockerignore must exclude {entry}");
    }
}

#[test]
fn gitattributes_forces_lf_on_what_breaks_with_crlf() {
    let attrs = read(".gitattributes");
    for pattern in ["*.sql", "*.yaml", "*.toml", "*.sh", "Dockerfile"] {
        assert!(
            attrs.lines().any(|l| l.split_whitespace().next() == Some(pattern) && l.contains("eol=lf")),
            ".gitattributes must force LF for {pattern}"
        );
    }
}

#[test]
fn seed_stage_installs_the_locked_runtime_dependencies_only() {
    let copy = final_copies()
        .into_iter()
        .find(|c| c.dest.trim_end_matches('/') == "/directus/seed/node_modules")
        .expect("the final stage copies the seed's node_modules");
    let from = copy.from.clone().expect("node_modules come from a stage (COPY --from=...), not the host");
    let stage = load().stage(&from).unwrap_or_else(|| panic!("no stage named {from}")).clone();
    assert!(stage.base.starts_with("node:22"), "the seed stage runs Node 22 (the base image's major): {}", stage.base);
    let sources: Vec<String> = stage.copies().into_iter().flat_map(|c| c.sources).collect();
    assert_eq!(sources, ["seed/package.json", "seed/package-lock.json"], "only the manifest and its lockfile");
    let runs: Vec<String> = stage.all("RUN").iter().map(|r| r.rest.clone()).collect();
    assert!(runs.iter().any(|r| r.contains("npm ci --omit=dev")), "exact versions, no dev tools: {runs:?}");
    assert_eq!(copy.sources, [format!("{}/node_modules/", stage.workdir().unwrap_or_default())]);

    // The lockfile matches the manifest (npm ci refuses otherwise).
    let manifest: serde_json::Value = serde_json::from_str(&read("seed/package.json")).expect("seed/package.json");
    let lock: serde_json::Value =
        serde_json::from_str(&read("seed/package-lock.json")).expect("seed/package-lock.json");
    for key in ["dependencies", "devDependencies"] {
        assert_eq!(lock["packages"][""][key], manifest[key], "package-lock.json is stale for {key}");
    }
    assert!(manifest["dependencies"]["@directus/sdk"].is_string(), "the loader uses the official SDK");
}
