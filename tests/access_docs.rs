//! docs/permissions.md is generated from snapshots/access.yaml (`trm-init access matrix`): this test
//! fails when the committed table and the file differ, and says how to regenerate it.

use trm_test_support as common;

use common::*;
use std::time::Duration;

#[test]
fn committed_permissions_matrix_matches_the_access_file() {
    let env = vec![("TRM_INIT_SCHEMA__SNAPSHOT".to_string(), repo_snapshot().to_string_lossy().into_owned())];
    let out = trm_init(&["access", "matrix"], &env, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let committed = std::fs::read_to_string(repo_dir("docs/permissions.md")).unwrap_or_default();
    assert!(
        committed == out.stdout,
        "docs/permissions.md differs from what snapshots/access.yaml generates; regenerate it with\n  \
         TRM_INIT_SCHEMA__SNAPSHOT=snapshots/schema.yaml cargo run -q -- access matrix > docs/permissions.md"
    );
}

#[test]
fn check_reads_the_access_file_next_to_the_snapshot() {
    let env: Vec<(String, String)> = [
        ("DB_HOST", "db.example"),
        ("DB_DATABASE", "d"),
        ("DB_USER", "u"),
        ("TRM_INIT_SCHEMA__SNAPSHOT", repo_snapshot().to_str().unwrap_or_default()),
        ("TRM_INIT_DB_INIT__PRE_DIR", repo_dir("db-init").to_str().unwrap_or_default()),
        ("TRM_INIT_DB_INIT__POST_DIR", repo_dir("db-init-post").to_str().unwrap_or_default()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let out = trm_init(&["check"], &env, Duration::from_secs(30));
    assert_eq!(out.code(), 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("# access.file:"), "{}", out.stdout);

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("access.yaml");
    std::fs::write(&broken, "version: 1\npolicies: [{id: nope, name: x}]\n").expect("write");
    let mut env = env;
    env.push(("TRM_INIT_ACCESS__FILE".into(), broken.to_string_lossy().into_owned()));
    let out = trm_init(&["check"], &env, Duration::from_secs(30));
    assert_eq!(out.code(), 78, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("access.file") && out.stderr.contains("is not a UUID"), "{}", out.stderr);
}

/// Issue 24, item 8: the organisation roles (and what the extensions act on) are declared once, in the
/// access file's `membership` section; every other list of them is checked against it here, so a role
/// added or renamed there fails until each copy follows.
/// The tests create TRM users with `MEMBER_ROLE` (tests/support): the access file's "TRM member" role.
#[test]
fn the_tests_member_role_is_the_access_file_s() {
    use trm_init::preflight::access::file::AccessFile;
    let text = std::fs::read_to_string(repo_dir("snapshots/access.yaml")).unwrap_or_default();
    let file = AccessFile::parse(&text).unwrap_or_else(|e| panic!("snapshots/access.yaml: {e}"));
    let member = file.roles.iter().find(|r| r.name == "TRM member").map(|r| r.id.as_str());
    assert_eq!(member, Some(MEMBER_ROLE), "snapshots/access.yaml's role \"TRM member\" vs tests/support MEMBER_ROLE");
}

#[test]
fn organisation_roles_are_declared_once_in_the_access_file() {
    use trm_init::preflight::access::file::{AccessFile, Membership};
    let text = std::fs::read_to_string(repo_dir("snapshots/access.yaml")).unwrap_or_default();
    let file = AccessFile::parse(&text).unwrap_or_else(|e| panic!("snapshots/access.yaml: {e}"));
    let m = &file.membership;
    let roles: Vec<String> = m.roles.keys().cloned().collect();
    let mut problems = Vec::new();

    // trm-init's default for files without the section is the repository's declaration.
    if Membership::default() != *m {
        problems.push("Membership::default() differs from snapshots/access.yaml's membership".to_string());
    }

    // The extensions' copy (JSON between the markers), key by key.
    let ts = std::fs::read_to_string(repo_dir("extensions/src/shared/access-model.ts")).unwrap_or_default();
    let json = ts
        .split_once("/* access-model:begin */")
        .and_then(|(_, rest)| rest.split_once("/* access-model:end */"))
        .map(|(json, _)| json)
        .unwrap_or_default();
    let copy: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("access-model.ts: {e}"));
    let declared = serde_json::json!({
        "organization": m.organization,
        "roles": m.roles,
        "capabilities": m.capabilities,
        "filter_relations": m.filter_relations,
        "sort_groups": m.sort_groups,
    });
    if copy != declared {
        problems.push(format!(
            "extensions/src/shared/access-model.ts differs from the access file's membership; paste this between its markers:\n{}",
            serde_json::to_string_pretty(&declared).unwrap_or_default()
        ));
    }

    // The schema scripts: phase1's list and phase4's (role, column, alias) rows.
    let phase1 = std::fs::read_to_string(repo_dir("scripts/schema/phase1.mjs")).unwrap_or_default();
    let listed =
        phase1.lines().find_map(|l| l.strip_prefix("export const ORG_ROLES = ")).map(quoted).unwrap_or_default();
    let mut sorted = listed.clone();
    sorted.sort();
    if sorted != roles {
        problems.push(format!("scripts/schema/phase1.mjs ORG_ROLES {listed:?} != {roles:?}"));
    }
    let phase4 = std::fs::read_to_string(repo_dir("scripts/schema/phase4.mjs")).unwrap_or_default();
    for (role, alias) in &m.roles {
        let column = format!("{}_user_id", alias.trim_end_matches("_of"));
        if !phase4.contains(&format!("['{role}', '{column}', '{alias}']")) {
            problems.push(format!("scripts/schema/phase4.mjs lacks ['{role}', '{column}', '{alias}']"));
        }
        let sql = std::fs::read_to_string(repo_dir("db-init-post/006_membership_role_columns.sql")).unwrap_or_default();
        let line = sql.lines().find(|l| l.trim_start().starts_with(&format!("NEW.{column} ")));
        if !line.is_some_and(|l| l.contains(&format!("NEW.role = '{role}'"))) {
            problems.push(format!("db-init-post/006 does not set {column} for {role:?}"));
        }
    }
    let mut column_count = 0;
    for l in phase4.lines() {
        if l.trim_start().starts_with("['") && l.contains("_user_id'") {
            column_count += 1;
        }
    }
    if column_count != roles.len() {
        problems
            .push(format!("scripts/schema/phase4.mjs has {column_count} role rows, the access file {}", roles.len()));
    }

    // The snapshot: organization_users.role's choices.
    let snapshot = repo_snapshot_yaml();
    let field = snapshot_list(&snapshot, "fields")
        .iter()
        .find(|f| yaml_str(&f["collection"]) == "organization_users" && yaml_str(&f["field"]) == "role");
    let mut choices: Vec<String> = field
        .and_then(|f| f["meta"]["options"]["choices"].as_sequence())
        .map(|c| c.iter().map(|c| yaml_str(&c["value"]).to_string()).collect())
        .unwrap_or_default();
    choices.sort();
    if choices != roles {
        problems.push(format!("snapshots/schema.yaml organization_users.role choices {choices:?} != {roles:?}"));
    }

    // The boundary suites' role tables.
    for suite in ["tests/access_boundary.rs", "tests/tenant_attacks.rs"] {
        let text = std::fs::read_to_string(repo_dir(suite)).unwrap_or_default();
        for role in &roles {
            if !text.contains(&format!("\"{role}\")")) {
                problems.push(format!("{suite} has no ('?', \"{role}\") row"));
            }
        }
    }

    // Sort groups cover every sortable collection; each allowed filter relation is a many-to-one of
    // the schema (so a new sortable collection or a renamed field fails here).
    for c in snapshot_list(&snapshot, "collections") {
        let name = yaml_str(&c["collection"]);
        if !c["meta"]["sort_field"].is_null() && !m.sort_groups.contains_key(name) {
            problems.push(format!("{name} has a sort field but no membership.sort_groups entry"));
        }
    }
    let relations = snapshot_list(&snapshot, "relations");
    for (collection, fields) in &m.filter_relations {
        for field in fields {
            let m2o = relations.iter().any(|r| {
                yaml_str(&r["collection"]) == collection
                    && yaml_str(&r["field"]) == field
                    && !r["related_collection"].is_null()
            });
            if !m2o {
                problems.push(format!("membership.filter_relations: {collection}.{field} is not a many-to-one"));
            }
        }
    }
    for (collection, field) in &m.sort_groups {
        let known = snapshot_list(&snapshot, "fields")
            .iter()
            .any(|f| yaml_str(&f["collection"]) == collection && yaml_str(&f["field"]) == field);
        if !known {
            problems.push(format!("membership.sort_groups: {collection}.{field} is not a field"));
        }
    }
    for (capability, holders) in &m.capabilities {
        if holders.is_empty() {
            problems.push(format!("membership.capabilities.{capability} names no role"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The 'quoted' strings of a JavaScript array literal.
fn quoted(line: &str) -> Vec<String> {
    line.split('\'').skip(1).step_by(2).map(str::to_string).collect()
}
