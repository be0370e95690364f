//! `docs/permissions.md`: the policy x collection x action matrix, generated from the access file
//! (`trm-init access matrix`). Owns the Markdown only; reads nothing but the parsed file.

use super::file::{AccessFile, Action, Permission};
use serde_json::Value;
use std::collections::BTreeSet;

/// The whole document.
pub fn markdown(file: &AccessFile, source: &str) -> String {
    let mut out = String::new();
    out.push_str("# Permissions\n\n");
    out.push_str(&format!(
        "Generated from `{source}` by `trm-init access matrix`; do not edit by hand (a test fails when this \
         table and the file differ).\n\n"
    ));
    out.push_str(
        "Cells: `—` no access; `all` every row; `org` the rows of organisations where the user holds the \
         policy's organisation role (`org_roles`, checked through `organization_users` in *that* \
         organisation); `org+` the same with a further condition; `cond` another condition; `validated` / \
         `presets`: a create or update checked against / filled from the payload rules (all listed under \
         the tables); `(a, b)` only those fields.\n\n",
    );
    out.push_str("| policy | Directus roles | organisation roles | app access |\n|---|---|---|---|\n");
    for p in &file.policies {
        let roles: Vec<&str> = file
            .roles
            .iter()
            .filter(|r| r.policies.iter().any(|x| x == &p.name || x.eq_ignore_ascii_case(&p.id)))
            .map(|r| r.name.as_str())
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.name,
            if roles.is_empty() { "—".into() } else { roles.join(", ") },
            p.org_roles.as_ref().map(|r| r.join(", ")).unwrap_or_else(|| "—".into()),
            if p.admin_access {
                "admin"
            } else if p.app_access {
                "yes"
            } else {
                "no"
            },
        ));
    }
    let collections: BTreeSet<&str> =
        file.policies.iter().flat_map(|p| p.permissions.keys().map(String::as_str)).collect();
    let mut notes = Vec::new();
    for action in Action::ALL {
        if !file.policies.iter().any(|p| p.permissions.values().any(|a| a.contains_key(&action))) {
            continue;
        }
        out.push_str(&format!("\n## {action}\n\n| collection |"));
        for p in &file.policies {
            out.push_str(&format!(" {} |", p.name));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(file.policies.len()));
        out.push('\n');
        for c in &collections {
            out.push_str(&format!("| {c} |"));
            for p in &file.policies {
                let cell = match p.permissions.get(*c).and_then(|a| a.get(&action)) {
                    None => "—".to_string(),
                    Some(perm) => {
                        let (text, cell_notes) = cell(perm);
                        for note in cell_notes {
                            notes.push(format!("- {} / {c} / {action}: {note}", p.name));
                        }
                        text
                    }
                };
                out.push_str(&format!(" {cell} |"));
            }
            out.push('\n');
        }
    }
    if !notes.is_empty() {
        out.push_str("\n## Conditions\n\n");
        for n in notes {
            out.push_str(&n);
            out.push('\n');
        }
    }
    membership(file, &mut out);
    out
}

/// The `membership` section: organisation roles, capabilities, and what the tenant guard allows
/// (docs/security.md says why).
fn membership(file: &AccessFile, out: &mut String) {
    let m = &file.membership;
    out.push_str(
        "\n## Organisation roles\n\nDeclared once, in the file's `membership` section (every other list is \
         checked against it). `$CURRENT_USER.<alias>.organization_id`: the organisations where the user holds \
         the role.\n\n| organisation role | alias on directus_users | capabilities (extensions) |\n|---|---|---|\n",
    );
    for (role, alias) in &m.roles {
        let caps: Vec<&str> =
            m.capabilities.iter().filter(|(_, roles)| roles.contains(role)).map(|(c, _)| c.as_str()).collect();
        let caps = if caps.is_empty() { "—".to_string() } else { caps.join(", ") };
        out.push_str(&format!("| {role} | {alias} | {caps} |\n"));
    }
    out.push_str(
        "\n## Relations a non-admin's query may walk\n\nFilters, sorts, deep filters, aggregates and groupBy \
         of every user but a platform admin may name a collection's own fields and walk only these \
         many-to-one relations; every other relation, every one-to-many alias, `$FOLLOW` and dynamic \
         variables with a path are refused (403, the extension `tenant-guard`; docs/security.md).\n\n\
         | collection | may walk |\n|---|---|\n",
    );
    for (collection, fields) in &m.filter_relations {
        out.push_str(&format!("| {collection} | {} |\n", fields.join(", ")));
    }
    out.push_str(
        "\n## Sorting\n\n`POST /utils/sort/<collection>` (drag-sorting) moves a row among the rows with the \
         same value of the group field, each changed row written as the caller (update permission on the \
         sort field, row by row).\n\n| collection | group |\n|---|---|\n",
    );
    for (collection, group) in &m.sort_groups {
        out.push_str(&format!("| {collection} | {group} |\n"));
    }
}

fn cell(p: &Permission) -> (String, Vec<String>) {
    let filter = p.filter.as_ref().filter(|f| !f.is_null() && f.as_object().is_none_or(|o| !o.is_empty()));
    let mut notes = Vec::new();
    let mut text = match (&p.org, filter) {
        (Some(_), None) => "org".to_string(),
        (Some(path), Some(f)) => {
            notes.push(format!("rows: `org: {path}` and `{f}`"));
            "org+".to_string()
        }
        (None, Some(f)) => {
            notes.push(format!("rows: `{f}`"));
            "cond".to_string()
        }
        (None, None) => "all".to_string(),
    };
    if let Some(v) = p.validation.as_ref().filter(|v| v.as_object().is_some_and(|o| !o.is_empty())) {
        notes.push(format!("validation: `{v}`"));
        text.push_str(", validated");
    }
    if let Some(v) = p.presets.as_ref().filter(|v| v.as_object().is_some_and(|o| !o.is_empty())) {
        notes.push(format!("presets: `{v}`"));
        text.push_str(", presets");
    }
    match &p.fields {
        Value::Array(items) => {
            let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            text.push_str(&format!(" ({})", names.join(", ")));
        }
        Value::Null => text.push_str(" (no fields)"),
        _ => {}
    }
    (text, notes)
}
