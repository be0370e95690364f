//! The destructive check (trm-init's own reading of the database) agrees with Directus's own plan
//! (`schema apply --dry-run`), and a `schema apply` that prints "isn't installed" counts as a failure.
//! One test in its own binary: it drives a reaper (waitpid(-1)) inside the test process, which would
//! steal the exit statuses of other tests' processes.

use trm_test_support as common;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use trm_init::config::Config;
use trm_init::preflight::directus::{deletions, snapshot::Snapshot, CliError, Deletions, Directus, DirectusCli};
use trm_init::reaper::Reaper;

/// Runs `work` while reaping our children every 20 ms (what `supervisor::drive` does on SIGCHLD).
async fn reaping<T>(reaper: &Reaper, work: impl std::future::Future<Output = T>) -> T {
    tokio::pin!(work);
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep(Duration::from_millis(20)) => { reaper.reap(); }
        }
    }
}

fn config_for(env: &[(String, String)]) -> Config {
    let mut config = Config::default();
    let cli = directus_dir().join("cli.js").to_string_lossy().into_owned();
    config.schema.directus = vec!["node".into(), cli];
    config.schema.snapshot = repo_snapshot();
    let _ = env;
    config
}

#[test]
fn deletions_computed_from_the_database_agree_with_directus_dry_run() {
    let db = TestDb::fresh("plan_agreement").with_postgis();
    let env = directus_env(&db, free_port());
    for (k, v) in &env {
        // The Directus children inherit the test process's environment.
        std::env::set_var(k, v);
    }
    let config = config_for(&env);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let admin = conninfo_map(&pg_admin());
        let conninfo = format!(
            "host={} port={} user={} password={} dbname={}",
            admin["host"],
            admin["port"],
            admin["user"],
            admin.get("password").cloned().unwrap_or_default(),
            db.name
        );
        let (client, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(conn);
        let reaper = Reaper::new();
        let shutdown = CancellationToken::new();

        // On a database without Directus, `schema apply` exits 0 but says it is not installed: a failure.
        let cli = DirectusCli {
            prefix: &config.schema.directus,
            reaper: &reaper,
            shutdown: &shutdown,
            timeout: Duration::from_secs(120),
            grace: Duration::from_secs(5),
        };
        let snapshot_arg = repo_snapshot().to_string_lossy().into_owned();
        let not_installed = reaping(&reaper, cli.run(&["schema", "apply", "--yes", &snapshot_arg])).await;
        assert!(matches!(not_installed, Err(CliError::FailureLine { .. })), "{:?}", not_installed.err());

        let step = Directus::new(&config, &reaper, &shutdown, &client);
        reaping(&reaper, step.run()).await.expect("bootstrap + apply of the repository's snapshot");

        // A snapshot that drops a collection (with the fields and relations pointing at it), a field of
        // directus_users, and one relation (its field kept).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("smaller.yaml");
        let mut doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(repo_snapshot()).unwrap()).unwrap();
        let drop_if = |doc: &mut serde_yaml_ng::Value, key: &str, pred: &dyn Fn(&serde_yaml_ng::Value) -> bool| {
            doc[key].as_sequence_mut().unwrap().retain(|v| !pred(v));
        };
        let is = |v: &serde_yaml_ng::Value, c: &str, f: &str| {
            v["collection"].as_str() == Some(c) && v["field"].as_str() == Some(f)
        };
        drop_if(&mut doc, "collections", &|v| v["collection"].as_str() == Some("devices"));
        drop_if(&mut doc, "fields", &|v| v["collection"].as_str() == Some("devices"));
        drop_if(&mut doc, "fields", &|v| is(v, "directus_users", "phone"));
        drop_if(&mut doc, "relations", &|v| is(v, "entry_devices", "assigned_user_id"));
        std::fs::write(&path, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();

        let snapshot = Snapshot::read(&path).unwrap();
        let ours = step.deletions(&snapshot).await.expect("our deletions");
        let plan = reaping(&reaper, step.plan(&path)).await.expect("Directus's dry run");
        let theirs = Deletions::from_plan(&plan);
        assert_eq!(
            ours,
            theirs,
            "trm-init and Directus disagree on what the apply deletes; plan:\n{}",
            plan.join("\n")
        );
        assert_eq!(ours.collections, BTreeSet::from(["devices".to_string()]));
        assert!(ours.fields.contains("directus_users.phone"), "{ours}");
        assert!(ours.relations.contains("entry_devices.assigned_user_id"), "{ours}");

        // The unchanged snapshot deletes nothing, by both readings.
        let full = Snapshot::read(&repo_snapshot()).unwrap();
        assert!(step.deletions(&full).await.unwrap().is_empty());
        let plan = reaping(&reaper, step.plan(&repo_snapshot())).await.unwrap();
        assert!(Deletions::from_plan(&plan).is_empty(), "{}", plan.join("\n"));
        assert!(deletions::directus_installed(&client).await.unwrap());
    });
}
