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
    out
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
