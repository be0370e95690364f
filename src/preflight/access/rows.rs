//! The database side of the access step: reading Directus's access tables, writing the managed rows,
//! and trm-init's own record of which rows it manages.
//!
//! Owns the SQL on `directus_roles`, `directus_policies`, `directus_access`, `directus_permissions` and
//! the tables `trm_init_access_managed` (ids of the roles, policies and role-policy links trm-init
//! created from the file) and `trm_init_access_state` (the fingerprint of the last apply). Rows it does
//! not manage are only ever read. It does not open transactions or connections: the caller does.

use super::file::{AccessRow, Action, PermissionRow, Policy, Role, Rows};
use crate::preflight::state::StateTable;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::Client;

pub const MANAGED: &str = "trm_init_access_managed";
pub const STATE: &str = "trm_init_access_state";

/// The defaults Directus gives a role's and a policy's icon (export leaves them out).
pub const ROLE_ICON: &str = "supervised_user_circle";
pub const POLICY_ICON: &str = "badge";

type Pg = tokio_postgres::Error;

pub use crate::preflight::directus::fingerprint::directus_installed;

fn json(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// Every role, policy, role-policy link and policy permission in the database.
pub async fn read_all(db: &Client) -> Result<Rows, Pg> {
    let mut rows = Rows::default();
    for r in db
        .query("SELECT id::text, name, icon, description, parent::text FROM directus_roles ORDER BY name, id", &[])
        .await?
    {
        let icon: Option<String> = r.try_get(2)?;
        rows.roles.push(Role {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            icon: icon.filter(|i| i != ROLE_ICON),
            description: r.try_get(3)?,
            parent: r.try_get(4)?,
            policies: vec![],
        });
    }
    for r in db
        .query(
            "SELECT id::text, name, icon, description, ip_access, enforce_tfa, admin_access, app_access
               FROM directus_policies ORDER BY name, id",
            &[],
        )
        .await?
    {
        let icon: Option<String> = r.try_get(2)?;
        let ip: Option<String> = r.try_get(4)?;
        rows.policies.push(Policy {
            id: r.try_get(0)?,
            name: r.try_get(1)?,
            icon: icon.filter(|i| i != POLICY_ICON),
            description: r.try_get(3)?,
            ip_access: ip.filter(|s| !s.is_empty()).map(|s| s.split(',').map(|p| p.trim().to_string()).collect()),
            enforce_tfa: r.try_get(5)?,
            admin_access: r.try_get(6)?,
            app_access: r.try_get(7)?,
            org_roles: None,
            permissions: BTreeMap::new(),
        });
    }
    for r in db
        .query(
            "SELECT id::text, role::text, policy::text, coalesce(sort, 0) FROM directus_access
              WHERE role IS NOT NULL AND \"user\" IS NULL ORDER BY role, sort, policy",
            &[],
        )
        .await?
    {
        rows.access.push(AccessRow {
            id: r.try_get(0)?,
            role: r.try_get(1)?,
            policy: r.try_get(2)?,
            sort: r.try_get(3)?,
        });
    }
    rows.permissions = read_permissions(db, None).await?.into_iter().map(|(_, p)| p).collect();
    Ok(rows)
}

/// Permission rows (with their ids) of every policy, or of the given ones.
pub async fn read_permissions(db: &Client, policies: Option<&[String]>) -> Result<Vec<(i32, PermissionRow)>, Pg> {
    let sql = "SELECT id, policy::text, collection, action, permissions::text, validation::text, presets::text, fields
                 FROM directus_permissions WHERE policy IS NOT NULL AND ($1::text[] IS NULL OR policy::text = ANY($1))
                ORDER BY policy, collection, action, id";
    let filter: Option<Vec<String>> = policies.map(<[String]>::to_vec);
    let mut out = Vec::new();
    for r in db.query(sql, &[&filter]).await? {
        let action: String = r.try_get(3)?;
        let Some(action) = Action::parse(&action) else {
            tracing::warn!(id = r.try_get::<_, i32>(0)?, action, "a permission with an unknown action is ignored");
            continue;
        };
        out.push((
            r.try_get(0)?,
            PermissionRow {
                policy: r.try_get(1)?,
                collection: r.try_get(2)?,
                action,
                permissions: json(r.try_get(4)?),
                validation: json(r.try_get(5)?),
                presets: json(r.try_get(6)?),
                fields: r.try_get(7)?,
            },
        ));
    }
    Ok(out)
}

/// The ids trm-init manages, by kind (`role`, `policy`, `access`); empty before the first apply.
pub async fn managed(db: &Client) -> Result<BTreeMap<String, BTreeSet<String>>, Pg> {
    let exists: bool = db.query_one(&format!("SELECT to_regclass('{MANAGED}') IS NOT NULL"), &[]).await?.get(0);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if exists {
        for r in db.query(&format!("SELECT kind, id FROM {MANAGED}"), &[]).await? {
            out.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?);
        }
    }
    Ok(out)
}

pub async fn create_own_tables(db: &Client) -> Result<(), Pg> {
    db.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {MANAGED} (kind text NOT NULL, id text NOT NULL, PRIMARY KEY (kind, id))
"
    ))
    .await?;
    STATE_TABLE.create(db).await
}

pub async fn record_managed(db: &Client, kind: &str, ids: &[String]) -> Result<(), Pg> {
    db.execute(&format!("DELETE FROM {MANAGED} WHERE kind = $1"), &[&kind]).await?;
    db.execute(&format!("INSERT INTO {MANAGED} (kind, id) SELECT $1, unnest($2::text[])"), &[&kind, &ids]).await?;
    Ok(())
}

pub async fn upsert_role(db: &Client, r: &Role) -> Result<u64, Pg> {
    db.execute(
        "INSERT INTO directus_roles (id, name, icon, description) VALUES ($1::text::uuid, $2, coalesce($3, $5), $4)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, icon = EXCLUDED.icon, description = EXCLUDED.description
         WHERE (directus_roles.name, directus_roles.icon, directus_roles.description)
               IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.icon, EXCLUDED.description)",
        &[&r.id, &r.name, &r.icon, &r.description, &ROLE_ICON],
    )
    .await
}

pub async fn set_parent(db: &Client, id: &str, parent: Option<&str>) -> Result<u64, Pg> {
    db.execute(
        "UPDATE directus_roles SET parent = $2::text::uuid WHERE id = $1::text::uuid AND parent IS DISTINCT FROM $2::text::uuid",
        &[&id, &parent],
    )
    .await
}

pub async fn upsert_policy(db: &Client, p: &Policy) -> Result<u64, Pg> {
    let ip = p.ip_access.as_ref().map(|v| v.join(","));
    db.execute(
        "INSERT INTO directus_policies (id, name, icon, description, ip_access, enforce_tfa, admin_access, app_access)
         VALUES ($1::text::uuid, $2, coalesce($3, $9), $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, icon = EXCLUDED.icon, description = EXCLUDED.description,
             ip_access = EXCLUDED.ip_access, enforce_tfa = EXCLUDED.enforce_tfa, admin_access = EXCLUDED.admin_access,
             app_access = EXCLUDED.app_access
         WHERE (directus_policies.name, directus_policies.icon, directus_policies.description, directus_policies.ip_access,
                directus_policies.enforce_tfa, directus_policies.admin_access, directus_policies.app_access)
               IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.icon, EXCLUDED.description, EXCLUDED.ip_access,
                EXCLUDED.enforce_tfa, EXCLUDED.admin_access, EXCLUDED.app_access)",
        &[&p.id, &p.name, &p.icon, &p.description, &ip, &p.enforce_tfa, &p.admin_access, &p.app_access, &POLICY_ICON],
    )
    .await
}

pub async fn upsert_access(db: &Client, a: &AccessRow) -> Result<u64, Pg> {
    db.execute(
        "INSERT INTO directus_access (id, role, \"user\", policy, sort) VALUES ($1::text::uuid, $2::text::uuid, NULL, $3::text::uuid, $4)
         ON CONFLICT (id) DO UPDATE SET role = EXCLUDED.role, \"user\" = NULL, policy = EXCLUDED.policy, sort = EXCLUDED.sort
         WHERE (directus_access.role, directus_access.\"user\", directus_access.policy, directus_access.sort)
               IS DISTINCT FROM (EXCLUDED.role, NULL, EXCLUDED.policy, EXCLUDED.sort)",
        &[&a.id, &a.role, &a.policy, &a.sort],
    )
    .await
}

fn text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

pub async fn insert_permission(db: &Client, p: &PermissionRow) -> Result<u64, Pg> {
    db.execute(
        "INSERT INTO directus_permissions (policy, collection, action, permissions, validation, presets, fields)
         VALUES ($1::text::uuid, $2, $3, $4::text::json, $5::text::json, $6::text::json, $7)",
        &[
            &p.policy,
            &p.collection,
            &p.action.name(),
            &text(&p.permissions),
            &text(&p.validation),
            &text(&p.presets),
            &p.fields,
        ],
    )
    .await
}

pub async fn update_permission(db: &Client, id: i32, p: &PermissionRow) -> Result<u64, Pg> {
    db.execute(
        "UPDATE directus_permissions SET permissions = $2::text::json, validation = $3::text::json,
                presets = $4::text::json, fields = $5 WHERE id = $1",
        &[&id, &text(&p.permissions), &text(&p.validation), &text(&p.presets), &p.fields],
    )
    .await
}

pub async fn delete_permission(db: &Client, id: i32) -> Result<u64, Pg> {
    db.execute("DELETE FROM directus_permissions WHERE id = $1", &[&id]).await
}

pub async fn delete_access(db: &Client, id: &str) -> Result<u64, Pg> {
    db.execute("DELETE FROM directus_access WHERE id = $1::text::uuid", &[&id]).await
}

/// Deletes a policy with its permissions and every link to it; returns (permissions, links) removed.
pub async fn delete_policy(db: &Client, id: &str) -> Result<(u64, u64), Pg> {
    let perms = db.execute("DELETE FROM directus_permissions WHERE policy = $1::text::uuid", &[&id]).await?;
    let links = db.execute("DELETE FROM directus_access WHERE policy = $1::text::uuid", &[&id]).await?;
    db.execute("DELETE FROM directus_policies WHERE id = $1::text::uuid", &[&id]).await?;
    Ok((perms, links))
}

/// Deletes a role: its users keep their accounts without a role, child roles lose their parent, its
/// links go. Returns the number of users that had it.
pub async fn delete_role(db: &Client, id: &str) -> Result<u64, Pg> {
    let users = db.execute("UPDATE directus_users SET role = NULL WHERE role = $1::text::uuid", &[&id]).await?;
    db.execute("UPDATE directus_roles SET parent = NULL WHERE parent = $1::text::uuid", &[&id]).await?;
    db.execute("DELETE FROM directus_access WHERE role = $1::text::uuid", &[&id]).await?;
    db.execute("DELETE FROM directus_roles WHERE id = $1::text::uuid", &[&id]).await?;
    Ok(users)
}

/// Every row of the four access tables as one text: what the fingerprint hashes.
pub async fn state_text(db: &Client) -> Result<String, Pg> {
    let row = db
        .query_one(
            "SELECT concat_ws(E'\\n',
                (SELECT json_agg(r ORDER BY r.id)::text FROM directus_roles r),
                (SELECT json_agg(p ORDER BY p.id)::text FROM directus_policies p),
                (SELECT json_agg(a ORDER BY a.id)::text FROM directus_access a WHERE a.\"user\" IS NULL),
                (SELECT json_agg(json_build_array(p.id, p.policy, p.collection, p.action, p.permissions::text,
                        p.validation::text, p.presets::text, p.fields) ORDER BY p.id)::text FROM directus_permissions p))",
            &[],
        )
        .await?;
    row.try_get(0)
}

/// The one state table of this step (`preflight::state`).
pub const STATE_TABLE: StateTable = StateTable { name: STATE, with_version: false };
