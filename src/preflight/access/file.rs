//! The access file (`snapshots/access.yaml`): roles, policies and permissions as code.
//!
//! Owns the file's format, its parsing and checks that need no database (unique names and ids, known
//! actions, well-formed fields), and the translation both ways between the file and the rows Directus
//! stores: `expand` turns the file into rows (the `org:` shorthand becomes the membership filter),
//! `collapse` turns rows back into the file's form (`trm-init access export`). It never touches the
//! database.
//!
//! The `org:` shorthand: `org: event_id.organization_id` on a permission of a policy with
//! `org_roles: [marshal]` is the filter
//! `{event_id: {organization_id: {_in: [$CURRENT_USER.marshal_of.organization_id]}}}`: "the row belongs
//! to an organisation in which the current user holds one of these roles" (`marshal_of` lists the
//! user's memberships as marshal; the file's `membership` section maps roles to those aliases).
//! `org: "."` is the organisation itself (on `organizations`: `id`); a path
//! segment ending in `[]` is a one-to-many alias (`organization_vehicles[].organization_id`: any of the
//! vehicle's registrations belongs to such an organisation).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub const VERSION: u32 = 1;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("access file {path} cannot be read: {source}")]
    Missing { path: PathBuf, source: std::io::Error },
    #[error("access file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl crate::exit::ExitCode for FileError {
    fn exit_code(&self) -> u8 {
        crate::exit::DIRECTUS
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Membership::is_default")]
    pub membership: Membership,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub policies: Vec<Policy>,
}

/// How `org:` reaches the user's memberships: for each organisation role, the one-to-many alias on
/// `directus_users` that lists the user's memberships in that role (`org_admin_of`, ...), so that
/// `$CURRENT_USER.<alias>.organization_id` is the set of organisations where the user holds it. Also
/// what the extensions act on beside Directus's permissions: the roles holding each capability, the
/// relations a non-admin's query may walk, and the field grouping a sortable collection's rows. The one
/// declaration of the organisation roles: every other list is generated from it or checked against it
/// (tests/access_docs.rs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Membership {
    /// organisation role -> alias on directus_users
    pub roles: BTreeMap<String, String>,
    /// The organisation field of a membership row.
    pub organization: String,
    /// capability -> the organisation roles that hold it (extensions/src/shared/access-model.ts)
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub capabilities: BTreeMap<String, Vec<String>>,
    /// collection -> the many-to-one fields a non-admin's filter, sort or aggregate may walk
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub filter_relations: BTreeMap<String, Vec<String>>,
    /// sortable collection -> the field whose rows are sorted among themselves
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sort_groups: BTreeMap<String, String>,
}

/// The repository's access file, whose `membership` section is the default of every other file. Only
/// that section is kept in the binary (`MEMBERSHIP`): the whole file is 26 kB of constants.
const REPOSITORY_FILE: &str = include_str!("../../../snapshots/access.yaml");

/// Where the repository file's top-level `membership:` section starts and ends (the next top-level key
/// or the end of the file), found at compile time. A file without the section gives an empty range,
/// which parses as no section: `Membership::default`'s fallback, which the unit test below rules out.
const MEMBERSHIP_RANGE: (usize, usize) = top_level_section(REPOSITORY_FILE.as_bytes(), b"membership:");

/// The `membership` section of the repository file, copied at compile time.
static MEMBERSHIP: [u8; MEMBERSHIP_RANGE.1 - MEMBERSHIP_RANGE.0] =
    copy_range(REPOSITORY_FILE.as_bytes(), MEMBERSHIP_RANGE.0);

/// The byte range of the line starting with `key` at column 0 through the line before the next line
/// that starts at column 0 with anything but `#` (a comment) or a line end.
const fn top_level_section(text: &[u8], key: &[u8]) -> (usize, usize) {
    let mut line = 0;
    let mut start = usize::MAX;
    while line < text.len() {
        if start == usize::MAX {
            if starts_with_at(text, line, key) {
                start = line;
            }
        } else if text[line] != b' ' && text[line] != b'#' && text[line] != b'\n' && text[line] != b'\r' {
            return (start, line);
        }
        while line < text.len() && text[line] != b'\n' {
            line += 1;
        }
        line += 1;
    }
    if start == usize::MAX {
        (0, 0)
    } else {
        (start, text.len())
    }
}

const fn starts_with_at(text: &[u8], at: usize, prefix: &[u8]) -> bool {
    if at + prefix.len() > text.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if text[at + i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn copy_range<const N: usize>(text: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = text[at + i];
        i += 1;
    }
    out
}

/// The `membership` section as the repository's file declares it (every key required).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Declared {
    roles: BTreeMap<String, String>,
    organization: String,
    capabilities: BTreeMap<String, Vec<String>>,
    filter_relations: BTreeMap<String, Vec<String>>,
    sort_groups: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RepositoryHead {
    membership: Declared,
}

impl Default for Membership {
    /// The repository file's declaration; empty (no role) if that file could not be read, which the
    /// unit test below rules out for every build.
    fn default() -> Self {
        let section = std::str::from_utf8(&MEMBERSHIP).map_err(|e| e.to_string());
        match section.and_then(|s| serde_yaml_ng::from_str::<RepositoryHead>(s).map_err(|e| e.to_string())) {
            Ok(RepositoryHead { membership: d }) => Membership {
                roles: d.roles,
                organization: d.organization,
                capabilities: d.capabilities,
                filter_relations: d.filter_relations,
                sort_groups: d.sort_groups,
            },
            Err(_) => Membership {
                roles: BTreeMap::new(),
                organization: "organization_id".into(),
                capabilities: BTreeMap::new(),
                filter_relations: BTreeMap::new(),
                sort_groups: BTreeMap::new(),
            },
        }
    }
}

impl Membership {
    fn is_default(&self) -> bool {
        *self == Membership::default()
    }

    fn variable(&self, role: &str) -> Option<String> {
        self.roles.get(role).map(|alias| format!("$CURRENT_USER.{alias}.{}", self.organization))
    }

    /// The filter "the organisation reached by `path` is one where the current user holds one of
    /// `roles`" (`"."`: the row is the organisation).
    pub fn filter(&self, path: &str, roles: &[String]) -> Value {
        let vars: Vec<String> = roles.iter().filter_map(|r| self.variable(r)).collect();
        let mut value = json!({ "_in": vars });
        let path = if path == "." { "id" } else { path };
        for key in path.split('.').rev() {
            // `name[]`: a one-to-many hop (any of the related rows).
            if let Some(o2m) = key.strip_suffix("[]") {
                value = json!({ o2m: { "_some": value } });
            } else {
                value = json!({ key: value });
            }
        }
        value
    }

    /// The inverse of `filter`: (path, roles) when `value` is exactly such a filter.
    pub fn match_filter(&self, value: &Value) -> Option<(String, Vec<String>)> {
        let mut path = Vec::new();
        let mut at = value;
        loop {
            let obj = at.as_object().filter(|o| o.len() == 1)?;
            let (key, inner) = obj.iter().next()?;
            if key == "_in" {
                let roles = self.match_vars(inner)?;
                if path.is_empty() {
                    return None;
                }
                let path = if path == ["id"] { ".".to_string() } else { path.join(".") };
                return Some((path, roles));
            }
            if key.starts_with('_') {
                return None;
            }
            match inner.as_object().filter(|o| o.len() == 1).and_then(|o| o.get("_some")) {
                Some(some) => {
                    path.push(format!("{key}[]"));
                    at = some;
                }
                None => {
                    path.push(key.clone());
                    at = inner;
                }
            }
        }
    }

    fn match_vars(&self, value: &Value) -> Option<Vec<String>> {
        let items = value.as_array().filter(|a| !a.is_empty())?;
        items
            .iter()
            .map(|v| {
                let v = v.as_str()?;
                self.roles.keys().find(|r| self.variable(r).as_deref() == Some(v)).cloned()
            })
            .collect()
    }
}

/// A Directus role; `policies` names the policies attached to it (by name, or by id).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The parent role's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub policies: Vec<String>,
}

/// A Directus policy and its permissions, by collection and action.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub app_access: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin_access: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub enforce_tfa: bool,
    /// IP addresses or ranges the policy is limited to (none: anywhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_access: Option<Vec<String>>,
    /// The `organization_users.role` values the `org:` shorthand of this policy's permissions checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_roles: Option<Vec<String>>,
    #[serde(default)]
    pub permissions: BTreeMap<String, BTreeMap<Action, Permission>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Read,
    Update,
    Delete,
    Share,
}

impl Action {
    pub const ALL: [Action; 5] = [Action::Create, Action::Read, Action::Update, Action::Delete, Action::Share];

    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Share => "share",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == text)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One permission. Omitted `fields` is `"*"` (every field); `filter`, `validation` and `presets` omitted
/// are NULL (no item restriction, no validation, no presets).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    /// Shorthand: the rows whose organisation (reached by this relational path) counts the current user
    /// among the policy's `org_roles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// A Directus filter (ANDed with `org` when both are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presets: Option<Value>,
    #[serde(default = "all_fields", skip_serializing_if = "is_all_fields")]
    pub fields: Value,
}

fn is_false(b: &bool) -> bool {
    !b
}

fn all_fields() -> Value {
    Value::String("*".into())
}

fn is_all_fields(v: &Value) -> bool {
    v == &all_fields()
}

/// A `directus_permissions` row as trm-init writes it (JSON columns as values, `fields` as stored).
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionRow {
    pub policy: String,
    pub collection: String,
    pub action: Action,
    pub permissions: Option<Value>,
    pub validation: Option<Value>,
    pub presets: Option<Value>,
    pub fields: Option<String>,
}

impl PermissionRow {
    pub fn key(&self) -> (String, String, Action) {
        (self.policy.clone(), self.collection.clone(), self.action)
    }

    pub fn describe(&self, policy_name: &str) -> String {
        format!("{policy_name}/{}/{}", self.collection, self.action)
    }
}

/// A `directus_access` row linking a role to a policy; its id is derived from the pair, so it is stable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccessRow {
    pub id: String,
    pub role: String,
    pub policy: String,
    pub sort: i32,
}

/// The rows the file stands for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub roles: Vec<Role>,
    pub policies: Vec<Policy>,
    pub access: Vec<AccessRow>,
    pub permissions: Vec<PermissionRow>,
}

impl AccessFile {
    pub fn read(path: &Path) -> Result<(AccessFile, String), FileError> {
        let bytes = std::fs::read(path).map_err(|source| FileError::Missing { path: path.to_path_buf(), source })?;
        let text = crate::preflight::directus::snapshot::normalise(&String::from_utf8_lossy(&bytes));
        let file =
            AccessFile::parse(&text).map_err(|reason| FileError::Invalid { path: path.to_path_buf(), reason })?;
        Ok((file, text))
    }

    pub fn parse(text: &str) -> Result<AccessFile, String> {
        let file: AccessFile = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        if file.version != VERSION {
            return Err(format!("version {} is not supported (this trm-init reads version {VERSION})", file.version));
        }
        file.check()?;
        Ok(file)
    }

    /// Checks that need no database.
    fn check(&self) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        let mut role_names = BTreeSet::new();
        for role in &self.roles {
            check_uuid(&role.id, &format!("role {:?}", role.name))?;
            if !ids.insert(role.id.to_ascii_lowercase()) {
                return Err(format!("id {} is used twice", role.id));
            }
            if !role_names.insert(role.name.as_str()) {
                return Err(format!("two roles are named {:?}", role.name));
            }
            if let Some(parent) = &role.parent {
                if !self.roles.iter().any(|r| r.id.eq_ignore_ascii_case(parent)) {
                    return Err(format!("role {:?}: parent {parent} is not a role of this file", role.name));
                }
            }
            for p in &role.policies {
                self.policy_ref(p)
                    .ok_or_else(|| format!("role {:?}: no policy named {p:?} in this file", role.name))?;
            }
        }
        for (capability, roles) in &self.membership.capabilities {
            for role in roles {
                if !self.membership.roles.contains_key(role) {
                    return Err(format!(
                        "membership.capabilities.{capability}: {role:?} is not an organisation role (membership.roles)"
                    ));
                }
            }
        }
        let mut policy_names = BTreeSet::new();
        for policy in &self.policies {
            let what = format!("policy {:?}", policy.name);
            check_uuid(&policy.id, &what)?;
            if !ids.insert(policy.id.to_ascii_lowercase()) {
                return Err(format!("id {} is used twice", policy.id));
            }
            if !policy_names.insert(policy.name.as_str()) {
                return Err(format!("two policies are named {:?}", policy.name));
            }
            for (collection, actions) in &policy.permissions {
                if actions.is_empty() {
                    return Err(format!("{what}, {collection}: no action given (create, read, update, delete, share)"));
                }
                for (action, p) in actions {
                    let at = format!("{what}, {collection}.{action}");
                    if let Some(path) = &p.org {
                        if policy.org_roles.as_ref().is_none_or(|r| r.is_empty()) {
                            return Err(format!("{at}: `org: {path}` needs `org_roles` on the policy"));
                        }
                        for role in policy.org_roles.iter().flatten() {
                            if !self.membership.roles.contains_key(role) {
                                return Err(format!("{what}: org role {role:?} has no alias in `membership.roles`"));
                            }
                        }
                        let bad = |k: &str| {
                            let k = k.strip_suffix("[]").unwrap_or(k);
                            k.is_empty() || k.starts_with('_') || k.contains(['[', ']'])
                        };
                        if path != "." && path.split('.').any(bad) {
                            return Err(format!("{at}: `org: {path}` is not a relational path (a.b.c, or \".\")"));
                        }
                    }
                    match &p.fields {
                        Value::Null => {}
                        Value::String(s) if s == "*" => {}
                        Value::Array(items) if items.iter().all(|i| i.as_str().is_some_and(|s| !s.contains(','))) => {}
                        other => {
                            return Err(format!("{at}: fields must be \"*\", null or a list of names, not {other}"))
                        }
                    }
                    for (key, v) in [("filter", &p.filter), ("validation", &p.validation), ("presets", &p.presets)] {
                        if let Some(v) = v {
                            if !v.is_object() && !v.is_null() {
                                return Err(format!("{at}: {key} must be a mapping, not {v}"));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn policy_ref(&self, name_or_id: &str) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|p| p.name == name_or_id)
            .or_else(|| self.policies.iter().find(|p| p.id.eq_ignore_ascii_case(name_or_id)))
    }

    /// The rows this file stands for (ids lower-cased, `org:` expanded).
    pub fn expand(&self) -> Rows {
        let mut rows = Rows::default();
        for role in &self.roles {
            let mut role = role.clone();
            role.id = role.id.to_ascii_lowercase();
            role.parent = role.parent.map(|p| p.to_ascii_lowercase());
            for (sort, p) in role.policies.iter().enumerate() {
                if let Some(policy) = self.policy_ref(p) {
                    let policy_id = policy.id.to_ascii_lowercase();
                    rows.access.push(AccessRow {
                        id: access_id(&role.id, &policy_id),
                        role: role.id.clone(),
                        policy: policy_id,
                        sort: sort as i32 + 1,
                    });
                }
            }
            rows.roles.push(role);
        }
        for policy in &self.policies {
            let mut p = policy.clone();
            p.id = p.id.to_ascii_lowercase();
            let roles = p.org_roles.clone().unwrap_or_default();
            for (collection, actions) in &policy.permissions {
                for (action, perm) in actions {
                    let org = perm.org.as_ref().map(|path| self.membership.filter(path, &roles));
                    let filter = perm.filter.clone().filter(|f| !f.is_null());
                    let permissions = match (org, filter) {
                        (Some(o), Some(f)) => Some(json!({"_and": [o, f]})),
                        (Some(o), None) => Some(o),
                        (None, f) => f,
                    };
                    rows.permissions.push(PermissionRow {
                        policy: p.id.clone(),
                        collection: collection.clone(),
                        action: *action,
                        permissions,
                        validation: perm.validation.clone().filter(|v| !v.is_null()),
                        presets: perm.presets.clone().filter(|v| !v.is_null()),
                        fields: match &perm.fields {
                            Value::Null => None,
                            Value::Array(items) => {
                                Some(items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                            }
                            _ => Some("*".into()),
                        },
                    });
                }
            }
            rows.policies.push(p);
        }
        rows
    }

    /// The file form of `rows` (what `trm-init access export` prints): permissions whose filter is a
    /// membership filter become `org:` again, with the policy's `org_roles` taken from them.
    pub fn collapse(rows: &Rows, membership: &Membership) -> AccessFile {
        let names: BTreeMap<&str, &str> = rows.policies.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
        let unique_name = |id: &str| -> String {
            match names.get(id) {
                Some(name) if rows.policies.iter().filter(|p| p.name == *name).count() == 1 => name.to_string(),
                _ => id.to_string(),
            }
        };
        let roles = rows
            .roles
            .iter()
            .map(|r| {
                let mut links: Vec<&AccessRow> = rows.access.iter().filter(|a| a.role == r.id).collect();
                links.sort_by_key(|a| (a.sort, a.policy.clone()));
                Role { policies: links.iter().map(|a| unique_name(&a.policy)).collect(), ..r.clone() }
            })
            .collect();
        let policies = rows
            .policies
            .iter()
            .map(|p| {
                let mine: Vec<&PermissionRow> = rows.permissions.iter().filter(|r| r.policy == p.id).collect();
                let org_roles = mine
                    .iter()
                    .find_map(|r| r.permissions.as_ref().and_then(|f| split_org(f, membership)))
                    .map(|(_, roles, _)| roles);
                let mut permissions: BTreeMap<String, BTreeMap<Action, Permission>> = BTreeMap::new();
                for r in mine {
                    let mut perm = Permission {
                        validation: r.validation.clone(),
                        presets: r.presets.clone(),
                        fields: match &r.fields {
                            None => Value::Null,
                            Some(s) if s == "*" => all_fields(),
                            Some(s) if s.is_empty() => Value::Array(vec![]),
                            Some(s) => Value::Array(s.split(',').map(|f| Value::String(f.to_string())).collect()),
                        },
                        ..Permission::default()
                    };
                    match r.permissions.as_ref().map(|f| (f, split_org(f, membership))) {
                        Some((_, Some((path, roles, rest)))) if Some(&roles) == org_roles.as_ref() => {
                            perm.org = Some(path);
                            perm.filter = rest;
                        }
                        Some((f, _)) => perm.filter = Some(f.clone()),
                        None => {}
                    }
                    permissions.entry(r.collection.clone()).or_default().insert(r.action, perm);
                }
                Policy { org_roles, permissions, ..p.clone() }
            })
            .collect();
        AccessFile { version: VERSION, membership: membership.clone(), roles, policies }
    }

    /// The file as YAML, with a header saying where it came from.
    pub fn to_yaml(&self, header: &str) -> Result<String, String> {
        let body = serde_yaml_ng::to_string(self).map_err(|e| e.to_string())?;
        let header: String = header.lines().map(|l| format!("# {l}\n")).collect();
        Ok(format!("{header}{body}"))
    }
}

/// `filter` as (org path, roles, the rest ANDed to it) when it is a membership filter, alone or as the
/// first of exactly two `_and` members (the shape `expand` writes).
fn split_org(filter: &Value, membership: &Membership) -> Option<(String, Vec<String>, Option<Value>)> {
    if let Some((path, roles)) = membership.match_filter(filter) {
        return Some((path, roles, None));
    }
    let and = filter.as_object().filter(|o| o.len() == 1)?.get("_and")?.as_array()?;
    if and.len() != 2 {
        return None;
    }
    let (path, roles) = membership.match_filter(&and[0])?;
    Some((path, roles, Some(and[1].clone())))
}

fn check_uuid(id: &str, what: &str) -> Result<(), String> {
    let ok = id.len() == 36
        && id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: id {id:?} is not a UUID (ids are stable: write them in the file)"))
    }
}

/// The id of the `directus_access` row linking `role` to `policy`: a UUID (version 8 layout) from
/// sha256 of the pair, the same on every replica and every boot.
pub fn access_id(role: &str, policy: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("trm-init access: role {role} policy {policy}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
version: 1
roles:
  - id: 6a0f6a52-0000-4000-8000-000000000001
    name: member
    policies: [marshal]
policies:
  - id: 6a0f6a52-0000-4000-8000-000000000002
    name: marshal
    app_access: true
    org_roles: [marshal]
    permissions:
      organizations:
        read: {org: "."}
      entries:
        read: {org: event_id.organization_id}
        update: {org: event_id.organization_id, fields: [notes], filter: {status: {_neq: withdrawn}}}
      devices:
        read: {fields: null}
      vehicles:
        read: {org: "organization_vehicles[].organization_id"}
"#;

    #[test]
    fn org_shorthand_expands_to_the_membership_filter_and_collapses_back() {
        let file = AccessFile::parse(SMALL).unwrap();
        let rows = file.expand();
        let update = rows.permissions.iter().find(|r| r.collection == "entries" && r.action == Action::Update).unwrap();
        assert_eq!(
            update.permissions,
            Some(json!({"_and": [
                {"event_id": {"organization_id": {"_in": ["$CURRENT_USER.marshal_of.organization_id"]}}},
                {"status": {"_neq": "withdrawn"}}
            ]}))
        );
        assert_eq!(update.fields.as_deref(), Some("notes"));
        let orgs = rows.permissions.iter().find(|r| r.collection == "organizations").unwrap();
        assert_eq!(orgs.permissions, Some(json!({"id": {"_in": ["$CURRENT_USER.marshal_of.organization_id"]}})));
        let vehicles = rows.permissions.iter().find(|r| r.collection == "vehicles").unwrap();
        assert_eq!(
            vehicles.permissions,
            Some(
                json!({"organization_vehicles": {"_some": {"organization_id": {"_in": ["$CURRENT_USER.marshal_of.organization_id"]}}}})
            )
        );
        assert_eq!(rows.access.len(), 1);
        assert_eq!(rows.access[0].id, access_id(&rows.roles[0].id, &rows.policies[0].id));

        let back = AccessFile::collapse(&rows, &file.membership);
        assert_eq!(back, file, "collapse(expand(file)) is the file");
        let text = back.to_yaml("exported").unwrap();
        assert_eq!(AccessFile::parse(&text).unwrap(), file);
    }

    #[test]
    fn mistakes_are_named() {
        let bad = SMALL.replace("org_roles: [marshal]", "");
        assert!(AccessFile::parse(&bad).unwrap_err().contains("needs `org_roles`"));
        let bad = SMALL.replace("policies: [marshal]", "policies: [nobody]");
        assert!(AccessFile::parse(&bad).unwrap_err().contains("no policy named \"nobody\""));
        let bad = SMALL.replace("6a0f6a52-0000-4000-8000-000000000002", "marshal-policy");
        assert!(AccessFile::parse(&bad).unwrap_err().contains("is not a UUID"));
        let bad = SMALL.replace("read: {fields: null}", "erase: {}");
        assert!(AccessFile::parse(&bad).is_err());
        let bad = SMALL.replace("      devices:\n        read: {fields: null}\n", "      devices:\n");
        assert!(AccessFile::parse(&bad).unwrap_err().contains("devices: no action given"), "{bad}");
    }

    #[test]
    fn the_repository_file_declares_the_default_membership() {
        let m = Membership::default();
        assert_eq!(m.roles.len(), 6, "snapshots/access.yaml's membership.roles: {m:?}");
        assert!(m.roles.contains_key("org-admin") && !m.capabilities.is_empty() && !m.sort_groups.is_empty());
        let bad = format!("{SMALL}\nmembership:\n  capabilities: {{flag: [nobody]}}\n");
        assert!(AccessFile::parse(&bad).unwrap_err().contains("is not an organisation role"), "{bad}");
    }

    #[test]
    fn the_kept_membership_section_is_the_whole_files() {
        let whole: RepositoryHead = serde_yaml_ng::from_str(REPOSITORY_FILE).unwrap();
        let kept = std::str::from_utf8(&MEMBERSHIP).unwrap();
        assert!(kept.starts_with("membership:\n") && !kept.contains("\npolicies:"), "{kept}");
        let d = whole.membership;
        let from_whole = Membership {
            roles: d.roles,
            organization: d.organization,
            capabilities: d.capabilities,
            filter_relations: d.filter_relations,
            sort_groups: d.sort_groups,
        };
        assert_eq!(Membership::default(), from_whole);
        assert_eq!(top_level_section(b"a: 1\nm:\n  x: 1\n# c\n\nb: 2\n", b"m:"), (5, 20));
        assert_eq!(top_level_section(b"a: 1\nm:\n  x: 1\n", b"m:"), (5, 15));
        assert_eq!(top_level_section(b"a: 1\n", b"m:"), (0, 0));
    }

    #[test]
    fn access_ids_are_stable_uuids() {
        let a = access_id("r", "p");
        assert_eq!(a, access_id("r", "p"));
        assert_ne!(a, access_id("p", "r"));
        assert_eq!(a.len(), 36);
        check_uuid(&a, "x").unwrap();
    }
}
