//! The deletion guard against the real Directus 11.17.4: many variants of the repository's snapshot
//! (generated at test time from whatever `snapshots/schema.yaml` holds) are applied to copies of one
//! bootstrapped database with a row in every collection. For each variant the test compares three views:
//! - Directus's own plan (`schema apply --dry-run`, a separate Directus process): its `- Delete` lines;
//! - the guard: `trm-init schema` refuses (70) or applies;
//! - reality: a real apply (`schema.allow_destructive = true`) on the copy, and whether a table, a column,
//!   a row or a column's values are gone afterwards.
//!
//! The guard must refuse exactly when Directus's plan deletes something or the real apply loses data,
//! and list the same deletions as the plan. The copies come from `CREATE DATABASE ... TEMPLATE`, so
//! Directus is bootstrapped once.

use trm_test_support as common;

use common::*;
use serde_yaml_ng::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;
use trm_init::preflight::directus::Deletions;

const LIMIT: Duration = Duration::from_secs(300);

fn yaml(path: &Path) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("snapshot")).expect("snapshot YAML")
}

fn seq<'v>(doc: &'v mut Value, key: &str) -> &'v mut Vec<Value> {
    doc.get_mut(key).and_then(Value::as_sequence_mut).unwrap_or_else(|| panic!("the snapshot has no `{key}` list"))
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn is(v: &Value, collection: &str, field: &str) -> bool {
    s(v, "collection").as_deref() == Some(collection) && s(v, "field").as_deref() == Some(field)
}

/// Removes `key` from the mapping at `v[outer]` (or the whole `outer` when `key` is None).
fn remove(v: &mut Value, outer: &str, key: Option<&str>) {
    match key {
        None => {
            v.as_mapping_mut().expect("mapping").remove(outer);
        }
        Some(k) => {
            v.get_mut(outer).and_then(Value::as_mapping_mut).expect("nested mapping").remove(k);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The database: fill, measure, copy

/// Per (table, column): rows, non-null values, md5 of the sorted values. Tables: every collection's table
/// (as before the apply) and the fields the snapshot adds to directus_users.
type State = BTreeMap<(String, String), (i64, i64, String)>;

fn columns(db: &str, tables: Option<&BTreeSet<String>>) -> Vec<(String, String)> {
    let filter = match tables {
        Some(t) => format!("table_name IN ({})", t.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(",")),
        None => {
            "(table_name IN (SELECT collection FROM directus_collections WHERE collection NOT LIKE 'directus\\_%'))"
                .to_string()
        }
    };
    let sql = format!(
        "SELECT table_name || '|' || column_name FROM information_schema.columns WHERE table_schema = current_schema() \
         AND ({filter} OR (table_name = 'directus_users' AND column_name IN \
           (SELECT field FROM directus_fields WHERE collection = 'directus_users'))) ORDER BY 1"
    );
    psql(db, &sql).lines().filter_map(|l| l.split_once('|')).map(|(t, c)| (t.to_string(), c.to_string())).collect()
}

fn state(db: &str, tables: Option<&BTreeSet<String>>) -> State {
    let cols = columns(db, tables);
    if cols.is_empty() {
        return State::new();
    }
    let parts: Vec<String> = cols
        .iter()
        .map(|(t, c)| {
            format!(
                "SELECT '{t}|{c}|' || count(*) || '|' || count(\"{c}\") || '|' || \
                 md5(coalesce(string_agg(\"{c}\"::text, ',' ORDER BY \"{c}\"::text), '')) FROM \"{t}\""
            )
        })
        .collect();
    psql(db, &parts.join(" UNION ALL "))
        .lines()
        .filter_map(|l| {
            let p: Vec<&str> = l.split('|').collect();
            (p.len() == 5).then(|| {
                (
                    (p[0].to_string(), p[1].to_string()),
                    (p[2].parse().unwrap_or(0), p[3].parse().unwrap_or(0), p[4].to_string()),
                )
            })
        })
        .collect()
}

/// What `after` lost against `before`: tables, columns, rows, or values of a column that stayed.
fn losses(before: &State, after: &State) -> Vec<String> {
    let tables_after: BTreeSet<&String> = after.keys().map(|(t, _)| t).collect();
    let mut out = BTreeSet::new();
    for ((t, c), (rows, nonnull, sum)) in before {
        if !tables_after.contains(t) {
            out.insert(format!("table {t} ({rows} rows)"));
            continue;
        }
        match after.get(&(t.clone(), c.clone())) {
            None if *nonnull > 0 => {
                out.insert(format!("column {t}.{c} ({nonnull} values)"));
            }
            None => {
                out.insert(format!("column {t}.{c} (empty)"));
            }
            Some((rows2, _, _)) if rows2 < rows => {
                out.insert(format!("rows of {t} ({rows} -> {rows2})"));
            }
            Some((_, nonnull2, sum2)) if nonnull2 != nonnull || sum2 != sum => {
                out.insert(format!("values of {t}.{c}"));
            }
            Some(_) => {}
        }
    }
    out.into_iter().collect()
}

/// A copy of `template` (which must have no open session).
fn copy_of(template: &str, name: &str) -> TestDb {
    let name = format!("t_guard_{name}_{}", std::process::id()).to_lowercase();
    psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql("postgres", &format!("CREATE DATABASE {name} TEMPLATE {template}"));
    TestDb { name }
}

// ---------------------------------------------------------------------------------------------------
// The three views

/// Directus's own plan on `db` for `snapshot`: a separate Directus process (`schema apply --dry-run`),
/// started through @directus/api's cli/run.js as trm-init starts Directus.
fn directus_plan(db: &TestDb, snapshot: &Path) -> (Deletions, String) {
    let cli = directus_dir().join("cli.js");
    let run = trm_init::preflight::directus::install::run_js_for(&cli).expect("@directus/api's cli/run.js");
    let out = std::process::Command::new("node")
        .arg(run)
        .args(["schema", "apply", "--dry-run"])
        .arg(snapshot)
        .current_dir(directus_dir())
        .envs(directus_env(db, free_port()))
        .output()
        .expect("node runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Directus's dry run failed: {text}");
    let lines: Vec<String> = text.lines().map(trm_init::preflight::directus::helper::strip_ansi).collect();
    (Deletions::from_plan(&lines), text)
}

/// The deletions a refusal lists ("would delete collections a, b; fields c.d (and the data ...").
fn refused_deletions(stderr: &str) -> Deletions {
    let mut d = Deletions::default();
    let Some(start) = stderr.find("would delete ") else { return d };
    let rest = &stderr[start + "would delete ".len()..];
    let list = &rest[..rest.find(" (and the data").unwrap_or(rest.len())];
    for part in list.split("; ") {
        let Some((what, names)) = part.split_once(' ') else { continue };
        let set = match what {
            "collections" => &mut d.collections,
            "fields" => &mut d.fields,
            "relations" => &mut d.relations,
            _ => continue,
        };
        set.extend(names.split(", ").map(str::to_string));
    }
    d
}

struct Outcome3 {
    name: &'static str,
    plan: Deletions,
    refused: bool,
    ours: Deletions,
    lost: Vec<String>,
    refusal: String,
    applied: bool,
}

fn check_variant(template: &str, name: &'static str, doc: &Value) -> Outcome3 {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, serde_yaml_ng::to_string(doc).expect("yaml")).expect("write variant");
    let db = copy_of(template, name);
    let (plan, plan_text) = directus_plan(&db, &file);
    let before = state(&db.name, None);
    let tables: BTreeSet<String> = before.keys().map(|(t, _)| t.clone()).collect();

    let mut env = directus_env(&db, free_port());
    env.push(("TRM_INIT_SCHEMA__SNAPSHOT".into(), file.to_string_lossy().into_owned()));
    env.push(("TRM_INIT_SCHEMA__SKIP_UNCHANGED".into(), "false".into()));
    let guarded = trm_init(&["schema"], &env, LIMIT);
    // 0: applied; 70 with "would delete": refused; 70 otherwise: let through, and Directus's apply failed
    // (one transaction, rolled back), which the loss check below sees as nothing lost.
    let refused = match guarded.code() {
        0 => false,
        70 => guarded.stderr.contains("would delete"),
        code => panic!("{name}: trm-init schema exited {code}:\n{}", guarded.stderr),
    };
    let ours = refused_deletions(&guarded.stderr);
    let refusal = guarded.stderr.lines().filter(|l| l.contains("would delete")).collect::<Vec<_>>().join("\n");
    if refused {
        assert!(losses(&before, &state(&db.name, Some(&tables))).is_empty(), "{name}: a refused snapshot changed data");
        env.push(("TRM_INIT_SCHEMA__ALLOW_DESTRUCTIVE".into(), "true".into()));
    }
    // The real apply: the guard's own when it let the snapshot through, otherwise the same step allowed.
    let applied = if refused { trm_init(&["schema"], &env, LIMIT) } else { guarded };
    let lost = losses(&before, &state(&db.name, Some(&tables)));
    let _ = plan_text;
    Outcome3 { name, plan, refused, ours, lost, refusal, applied: applied.code() == 0 }
}

// ---------------------------------------------------------------------------------------------------

#[test]
fn guard_refuses_exactly_when_directus_plan_or_a_real_apply_loses_something() {
    let template = TestDb::fresh("guard_template").with_postgis();
    let env = directus_env(&template, free_port());
    let first = trm_init(&["schema"], &env, LIMIT);
    assert_eq!(first.code(), 0, "the repository's snapshot applies:\n{}", first.stderr);
    template.query(&std::fs::read_to_string(repo_dir("tests/sql/fill_collections.sql")).expect("fill script"));
    let base = state(&template.name, None);
    let with_rows: BTreeSet<String> = base
        .iter()
        .filter(|((t, _), (rows, _, _))| *rows > 0 && t != "directus_users")
        .map(|((t, _), _)| t.clone())
        .collect();
    require(
        "rows in the snapshot's collections",
        with_rows.len() >= 3,
        &format!("tests/sql/fill_collections.sql filled only {with_rows:?}"),
    );

    // Targets, chosen from the current snapshot and the data.
    let snap = yaml(&repo_snapshot());
    let fields = snap["fields"].as_sequence().expect("fields").clone();
    let relations = snap["relations"].as_sequence().expect("relations").clone();
    let related_fields: BTreeSet<(String, String)> =
        relations.iter().filter_map(|r| Some((s(r, "collection")?, s(r, "field")?))).collect();
    let target = fields
        .iter()
        .find(|f| {
            let (c, n) = (s(f, "collection").unwrap_or_default(), s(f, "field").unwrap_or_default());
            with_rows.contains(&c)
                && s(f, "type").as_deref() == Some("string")
                && !f["schema"]["is_primary_key"].as_bool().unwrap_or(false)
                && !related_fields.contains(&(c.clone(), n.clone()))
                && base.get(&(c, n)).is_some_and(|(_, nonnull, _)| *nonnull > 0)
        })
        .expect("a string field with data in a collection with rows");
    let (coll, field) = (s(target, "collection").unwrap_or_default(), s(target, "field").unwrap_or_default());
    let relation = relations
        .iter()
        .find(|r| s(r, "collection").is_some_and(|c| with_rows.contains(&c)) && r["meta"].is_mapping())
        .expect("a relation from a collection with rows")
        .clone();
    let (rel_c, rel_f) = (s(&relation, "collection").unwrap_or_default(), s(&relation, "field").unwrap_or_default());
    let collection_meta_key = snap["collections"]
        .as_sequence()
        .and_then(|cs| cs.iter().find(|c| s(c, "collection").as_deref() == Some(&coll)))
        .and_then(|c| c["meta"].as_mapping())
        .map(|m| {
            if m.contains_key("note") {
                "note".to_string()
            } else {
                m.keys().next().and_then(Value::as_str).unwrap_or("note").to_string()
            }
        })
        .unwrap_or_else(|| "note".into());
    eprintln!(
        "targets: collection {coll}, field {coll}.{field}, relation {rel_c}.{rel_f}, meta key {collection_meta_key}"
    );

    let on_coll = |c: &str| {
        let coll = coll.clone();
        let c = c.to_string();
        move |v: &Value| s(v, c.as_str()).as_deref() == Some(coll.as_str())
    };
    let mut variants: Vec<(&'static str, Value)> = Vec::new();
    let mut add = |name: &'static str, change: &dyn Fn(&mut Value)| {
        let mut doc = snap.clone();
        change(&mut doc);
        variants.push((name, doc));
    };
    add("unchanged", &|_| {});
    add("collection_meta_key_missing", &|d| {
        for c in seq(d, "collections").iter_mut().filter(|c| on_coll("collection")(c)) {
            remove(c, "meta", Some(&collection_meta_key));
        }
    });
    add("collection_meta_missing", &|d| {
        for c in seq(d, "collections").iter_mut().filter(|c| on_coll("collection")(c)) {
            remove(c, "meta", None);
        }
    });
    add("field_meta_key_missing", &|d| {
        for f in seq(d, "fields").iter_mut().filter(|f| is(f, &coll, &field)) {
            remove(f, "meta", Some("note"));
        }
    });
    add("field_meta_missing", &|d| {
        for f in seq(d, "fields").iter_mut().filter(|f| is(f, &coll, &field)) {
            remove(f, "meta", None);
        }
    });
    add("field_schema_key_missing", &|d| {
        for f in seq(d, "fields").iter_mut().filter(|f| is(f, &coll, &field)) {
            remove(f, "schema", Some("is_indexed"));
        }
    });
    add("field_schema_missing", &|d| {
        for f in seq(d, "fields").iter_mut().filter(|f| is(f, &coll, &field)) {
            remove(f, "schema", None);
        }
    });
    add("field_type_to_alias", &|d| {
        for f in seq(d, "fields").iter_mut().filter(|f| is(f, &coll, &field)) {
            f["type"] = Value::from("alias");
            f["schema"] = Value::Null;
            f["meta"]["special"] = Value::Sequence(vec![Value::from("alias"), Value::from("no-data")]);
            f["meta"]["interface"] = Value::from("presentation-divider");
        }
    });
    add("field_removed", &|d| seq(d, "fields").retain(|f| !is(f, &coll, &field)));
    add("field_added", &|d| {
        let mut f = target.clone();
        f["field"] = Value::from("trm_guard_added");
        f["meta"]["field"] = Value::from("trm_guard_added");
        f["schema"]["name"] = Value::from("trm_guard_added");
        f["schema"]["is_unique"] = Value::from(false);
        f["schema"]["is_nullable"] = Value::from(true);
        seq(d, "fields").push(f);
    });
    add("relation_removed", &|d| seq(d, "relations").retain(|r| !is(r, &rel_c, &rel_f)));
    add("relation_meta_key_missing", &|d| {
        for r in seq(d, "relations").iter_mut().filter(|r| is(r, &rel_c, &rel_f)) {
            remove(r, "meta", Some("sort_field"));
        }
    });
    add("relation_on_delete_cascade", &|d| {
        for r in seq(d, "relations").iter_mut().filter(|r| is(r, &rel_c, &rel_f)) {
            r["schema"]["on_delete"] = Value::from("CASCADE");
        }
    });
    add("collection_removed", &|d| {
        seq(d, "collections").retain(|c| !on_coll("collection")(c));
        seq(d, "fields").retain(|f| !on_coll("collection")(f));
        seq(d, "relations").retain(|r| !on_coll("collection")(r) && !on_coll("related_collection")(r));
    });
    add("collection_renamed", &|d| {
        let new = format!("{coll}_renamed");
        let set = |v: &mut Value, path: &[&str]| {
            let mut cur = v;
            for p in &path[..path.len() - 1] {
                match cur.get_mut(*p) {
                    Some(next) if next.is_mapping() => cur = next,
                    _ => return,
                }
            }
            if let Some(m) = cur.as_mapping_mut() {
                if m.get(path[path.len() - 1]).and_then(Value::as_str) == Some(coll.as_str()) {
                    m.insert(Value::from(path[path.len() - 1]), Value::from(new.clone()));
                }
            }
        };
        for c in seq(d, "collections").iter_mut() {
            for p in [&["collection"][..], &["meta", "collection"], &["schema", "name"]] {
                set(c, p);
            }
        }
        for f in seq(d, "fields").iter_mut() {
            for p in
                [&["collection"][..], &["meta", "collection"], &["schema", "table"], &["schema", "foreign_key_table"]]
            {
                set(f, p);
            }
        }
        for r in seq(d, "relations").iter_mut() {
            for p in [
                &["collection"][..],
                &["related_collection"],
                &["meta", "many_collection"],
                &["meta", "one_collection"],
                &["schema", "table"],
                &["schema", "foreign_key_table"],
            ] {
                set(r, p);
            }
        }
    });
    add("group_added", &|d| {
        let mut group = seq(d, "collections").iter().find(|c| on_coll("collection")(c)).cloned().expect("target");
        let name = Value::from("trm_guard_group");
        group["collection"] = name.clone();
        group["meta"]["collection"] = name.clone();
        group["meta"]["group"] = Value::Null;
        group.as_mapping_mut().expect("mapping").insert(Value::from("schema"), Value::Null);
        for c in seq(d, "collections").iter_mut().filter(|c| on_coll("collection")(c)) {
            c["meta"]["group"] = name.clone();
        }
        seq(d, "collections").push(group);
    });
    add("pk_type_changed", &|d| {
        let pk = seq(d, "fields").iter_mut().find(|f| {
            s(f, "collection").is_some_and(|c| with_rows.contains(&c))
                && f["schema"]["is_primary_key"].as_bool() == Some(true)
                && s(f, "type").as_deref() == Some("uuid")
        });
        if let Some(f) = pk {
            f["type"] = Value::from("string");
            f["schema"]["data_type"] = Value::from("character varying");
            f["schema"]["max_length"] = Value::from(255);
        }
    });

    // Each variant works on its own copy of the template; two at a time (two cores).
    let outcomes: Vec<Outcome3> = std::thread::scope(|scope| {
        let chunks: Vec<Vec<(&'static str, Value)>> = {
            let mut a = Vec::new();
            let mut b = Vec::new();
            for (i, v) in variants.into_iter().enumerate() {
                if i % 2 == 0 {
                    a.push(v)
                } else {
                    b.push(v)
                }
            }
            vec![a, b]
        };
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let template = template.name.clone();
                scope.spawn(move || chunk.into_iter().map(|(n, d)| check_variant(&template, n, &d)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("variant thread")).collect()
    });

    let mut report =
        String::from("| variant | Directus's plan deletes | guard | real apply loses |\n|---|---|---|---|\n");
    let mut wrong = Vec::new();
    for o in &outcomes {
        let plan = if o.plan.is_empty() { "nothing".to_string() } else { o.plan.to_string() };
        let guard = if o.refused { "refuses (70)" } else { "applies" };
        let lost = match (o.applied, o.lost.is_empty()) {
            (false, true) => "nothing (the apply failed and was rolled back)".to_string(),
            (_, true) => "nothing".to_string(),
            _ => o.lost.join(", "),
        };
        report.push_str(&format!("| {} | {plan} | {guard} | {lost} |\n", o.name));
        let should_refuse = !o.plan.is_empty() || !o.lost.is_empty();
        if o.refused != should_refuse {
            wrong.push(format!("{}: guard refused={} but plan={} lost={:?}", o.name, o.refused, o.plan, o.lost));
        }
        if o.refused && o.ours != o.plan {
            wrong.push(format!("{}: the guard lists {} but Directus's plan deletes {}", o.name, o.ours, o.plan));
        }
    }
    eprintln!("{report}");
    assert!(wrong.is_empty(), "{}\n{report}", wrong.join("\n"));

    let get = |n: &str| outcomes.iter().find(|o| o.name == n).expect("variant ran");
    // directus#27877: one missing meta key drops the table with its rows, and the guard says why.
    let bug = get("collection_meta_key_missing");
    assert!(bug.refused && bug.lost.iter().any(|l| l.starts_with(&format!("table {coll}"))), "{report}");
    assert!(
        bug.refusal.contains(&format!("lacks `meta.{collection_meta_key}`"))
            && bug.refusal.contains("scripts/make-snapshot.sh"),
        "the refusal names the entry, the key and how to regenerate: {}",
        bug.refusal
    );
    assert!(get("field_type_to_alias").refused && !get("field_type_to_alias").lost.is_empty(), "{report}");
    for fine in ["unchanged", "field_meta_key_missing", "field_added", "group_added", "relation_on_delete_cascade"] {
        assert!(!get(fine).refused && get(fine).lost.is_empty(), "{fine} must apply without loss\n{report}");
    }
}
