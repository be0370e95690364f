//! Preflight step "access": Directus roles, policies and permissions as code (`access.file`).
//!
//! Owns applying the access file after the schema and the post-schema migrations, on preflight's
//! locked session, and the `access` commands' work (`export`, `matrix`). Order and rules:
//!   1. the file must exist (else exit 70 naming the path) and pass its own checks;
//!   2. the installed Directus must be the major the file is written for (11), else exit 70 naming the
//!      licence a later major needs, unless `access.licence_confirmed`; Directus must be installed on the
//!      database (the schema step ran), else exit 70;
//!   3. with `access.skip_unchanged`, a fingerprint (file + every row of the access tables) equal to the
//!      one recorded after the last apply skips everything below;
//!   4. every collection, field and relational path the file names must exist in the schema, else exit
//!      70 listing them — before anything is written;
//!   5. one transaction: roles, policies and role-policy links of the file are created or updated by
//!      their ids; each policy of the file owns its permissions (one per collection and action: created,
//!      updated, or deleted when the file no longer has them); roles, policies and links trm-init
//!      created earlier and the file no longer has are deleted. Everything deleted is logged. Rows trm-init
//!      never managed — an admin's own roles and policies, links of users to policies — are not touched;
//!   6. after the commit, Directus's permission cache is cleared in Redis and running replicas are told
//!      to drop their local copies (see `cache`); then the fingerprint is recorded.
//!
//! It never connects, locks or spawns: the session (holding the preflight lock) belongs to the caller.

pub mod cache;
pub mod file;
pub mod matrix;
pub mod rows;
pub mod validate;

use crate::config::Config;
use crate::db::describe_error;
use crate::db::Session;
use crate::exit::{self, Failure};
use file::{AccessFile, FileError, Membership, Rows};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use thiserror::Error;
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Error)]
pub enum AccessError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("Directus is not installed on this database (a system table it needs is missing): the access step needs the schema step first")]
    NotInstalled,
    #[error("the access file {path} names what the schema lacks: {}", problems.join("; "))]
    Unknown { path: PathBuf, problems: Vec<String> },
    #[error("{what}: {message}")]
    Database { what: &'static str, message: String, lost: bool },
    #[error("stopped by a stop signal (the access transaction was rolled back)")]
    Stopped,
    #[error(
        "the access file {path} is written for the permissions of Directus {written}, but Directus {installed} \
         is installed: from Directus 12 on, permissions with filters need a licence with custom permission rules \
         (without one they are refused or silently dropped, so every TRM member would lose access, and dropping \
         the filters would show every organisation's rows to everyone); refusing to apply it. Stay on Directus \
         {written}.x, or, once the licence covers custom permission rules, set access.licence_confirmed = true \
         (TRM_INIT_ACCESS__LICENCE_CONFIRMED=true)"
    )]
    DirectusMajor { path: PathBuf, written: u64, installed: String },
    #[error(
        "the access rows were written, but running Directus replicas could not be told to drop their cached \
         permissions: {0} (the next boot applies and clears again)"
    )]
    Cache(String),
}

impl exit::ExitCode for AccessError {
    fn exit_code(&self) -> u8 {
        match self {
            // The one classifier (`db::connection_lost`): the connection lost is 69, a failed query 70.
            AccessError::Database { lost, .. } => crate::db::step_code(*lost, exit::DIRECTUS),
            AccessError::Cache(_) => exit::UNAVAILABLE,
            AccessError::Stopped => exit::TERMINATED,
            _ => exit::DIRECTUS,
        }
    }
}

fn db_err(what: &'static str) -> impl FnOnce(tokio_postgres::Error) -> AccessError {
    move |e| AccessError::Database { what, message: describe_error(&e), lost: crate::db::connection_lost(&e) }
}

/// What an apply did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub skipped: bool,
    /// Rows created or changed.
    pub written: usize,
    /// What was deleted, described.
    pub deleted: Vec<String>,
}

/// Preflight's entry point.
pub async fn run(ctx: &super::Context<'_>) -> Result<(), Failure> {
    if !ctx.config.access.enabled {
        tracing::info!("access.enabled = false: the access file is not applied");
        return Ok(());
    }
    if !ctx.config.schema.enabled {
        tracing::info!(
            "schema.enabled = false: trm-init does not manage Directus here, so the access file is not applied either"
        );
        return Ok(());
    }
    apply(ctx.config, ctx.db, &ctx.shutdown).await.map(|_| ()).map_err(Failure::from)
}

pub fn file_path(config: &Config) -> PathBuf {
    let file = config.access_file();
    std::path::absolute(&file).unwrap_or(file)
}

/// Steps 1-6 of the module comment on `session` (which must hold the preflight lock). A stop signal
/// (`shutdown`) cancels the running statement on the server; the transaction is rolled back and the
/// step ends with `Stopped` (143).
pub async fn apply(config: &Config, session: &Session, shutdown: &CancellationToken) -> Result<Outcome, AccessError> {
    match session.cancellable(shutdown, apply_rows(config, session)).await {
        Ok(result) => result,
        Err(_) => Err(AccessError::Stopped),
    }
}

/// The Directus major whose permission model the access file's format (version 1) describes.
pub const WRITTEN_FOR_MAJOR: u64 = 11;

/// The installed Directus (`schema.directus`'s package.json) against `WRITTEN_FOR_MAJOR`: another major
/// refuses unless `access.licence_confirmed`. A version that cannot be read is a warning (the image
/// always has one).
pub fn check_directus_major(config: &Config, path: &Path) -> Result<(), AccessError> {
    let Some(installed) = crate::preflight::directus::installed_version(&config.schema.directus) else {
        tracing::warn!(
            directus = ?config.schema.directus,
            "the Directus version cannot be read (package.json next to cli.js): the access file is applied \
             without checking that Directus {WRITTEN_FOR_MAJOR} is installed"
        );
        return Ok(());
    };
    let major = installed.trim().trim_start_matches('v').split('.').next().and_then(|m| m.parse::<u64>().ok());
    if major == Some(WRITTEN_FOR_MAJOR) {
        return Ok(());
    }
    if config.access.licence_confirmed {
        tracing::warn!(
            "the access file is written for Directus {WRITTEN_FOR_MAJOR}, Directus {installed} is installed: applied \
             because access.licence_confirmed = true (the licence covers custom permission rules)"
        );
        return Ok(());
    }
    Err(AccessError::DirectusMajor { path: path.to_path_buf(), written: WRITTEN_FOR_MAJOR, installed })
}

async fn apply_rows(config: &Config, db: &Client) -> Result<Outcome, AccessError> {
    let path = file_path(config);
    let (file, text) = AccessFile::read(&path)?;
    check_directus_major(config, &path)?;
    if !rows::directus_installed(db).await.map_err(db_err("reading the access tables"))? {
        return Err(AccessError::NotInstalled);
    }
    let fingerprint = |state: &str| crate::preflight::state::hash(&[("file", text.as_str()), ("rows", state)]);
    let before = rows::state_text(db).await.map_err(db_err("reading the access tables"))?;
    if config.access.skip_unchanged {
        let recorded = rows::STATE_TABLE.load(db).await.map_err(db_err("reading the access fingerprint"))?;
        match recorded.map(|r| (r.fingerprint, r.applied_at)) {
            Some((f, at)) if f == fingerprint(&before) => {
                tracing::info!(file = %path.display(), "access unchanged since the apply of {at} (same file, same access rows): skipped");
                return Ok(Outcome { skipped: true, ..Outcome::default() });
            }
            Some(_) => tracing::info!("the access file or the access rows changed since the last apply: applying"),
            None => tracing::info!("no access fingerprint recorded yet: applying"),
        }
    }

    let wanted = file.expand();
    let schema = validate::Schema::read(db).await.map_err(db_err("reading the schema"))?;
    let names: BTreeMap<&str, &str> = wanted.policies.iter().map(|p| (p.id.as_str(), p.name.as_str())).collect();
    let problems: Vec<String> = wanted
        .permissions
        .iter()
        .flat_map(|p| schema.problems(p, names.get(p.policy.as_str()).copied().unwrap_or("?")))
        .collect();
    if !problems.is_empty() {
        return Err(AccessError::Unknown { path, problems });
    }

    db.batch_execute("BEGIN").await.map_err(db_err("starting the access transaction"))?;
    let result = write(db, &wanted).await;
    let outcome = match result {
        Ok(outcome) => {
            db.batch_execute("COMMIT").await.map_err(db_err("committing the access rows"))?;
            outcome
        }
        Err(e) => {
            if let Err(rollback) = db.batch_execute("ROLLBACK").await {
                tracing::warn!("rollback after a failed access apply: {}", describe_error(&rollback));
            }
            return Err(e);
        }
    };
    for d in &outcome.deleted {
        tracing::warn!("access: deleted {d} (no longer in {})", path.display());
    }
    tracing::info!(written = outcome.written, deleted = outcome.deleted.len(), "access file applied");

    // Running replicas: clear even when nothing was written here (the file may have been applied by a
    // run whose clearing failed; the fingerprint is only recorded once clearing worked).
    match cache::RedisTarget::from_env().map_err(AccessError::Cache)? {
        Some(target) => match cache::clear_permissions(&target).await {
            Ok(c) => tracing::info!(
                keys = c.keys,
                listeners = c.listeners,
                "Directus permission cache cleared in Redis; running replicas told to drop theirs"
            ),
            Err(e) => {
                rows::STATE_TABLE.forget(db).await.map_err(db_err("forgetting the access fingerprint"))?;
                return Err(AccessError::Cache(e));
            }
        },
        None => tracing::info!(
            "Directus runs without Redis here: a Directus process already running keeps its cached permissions until it restarts"
        ),
    }
    let after = rows::state_text(db).await.map_err(db_err("reading the access tables"))?;
    rows::STATE_TABLE.store(db, &fingerprint(&after), "").await.map_err(db_err("recording the access fingerprint"))?;
    Ok(outcome)
}

async fn write(db: &Client, wanted: &Rows) -> Result<Outcome, AccessError> {
    let w = |e: tokio_postgres::Error| db_err("writing the access rows")(e);
    let mut out = Outcome::default();
    rows::create_own_tables(db).await.map_err(db_err("creating trm-init's access tables"))?;
    let managed = rows::managed(db).await.map_err(db_err("reading trm-init's access record"))?;
    let empty = BTreeSet::new();
    let mine = |kind: &str| managed.get(kind).unwrap_or(&empty);
    let existing = rows::read_all(db).await.map_err(db_err("reading the access tables"))?;
    let role_name: BTreeMap<String, String> = existing.roles.iter().map(|r| (r.id.clone(), r.name.clone())).collect();
    let policy_name: BTreeMap<String, String> =
        existing.policies.iter().chain(wanted.policies.iter()).map(|p| (p.id.clone(), p.name.clone())).collect();
    let name_of = |map: &BTreeMap<String, String>, id: &str| map.get(id).cloned().unwrap_or_else(|| id.to_string());

    for role in &wanted.roles {
        out.written += rows::upsert_role(db, role).await.map_err(&w)? as usize;
    }
    for role in &wanted.roles {
        out.written += rows::set_parent(db, &role.id, role.parent.as_deref()).await.map_err(&w)? as usize;
    }
    for policy in &wanted.policies {
        out.written += rows::upsert_policy(db, policy).await.map_err(&w)? as usize;
    }
    for link in &wanted.access {
        out.written += rows::upsert_access(db, link).await.map_err(&w)? as usize;
    }

    // Each policy of the file owns its permissions: one row per (collection, action).
    let ids: Vec<String> = wanted.policies.iter().map(|p| p.id.clone()).collect();
    let current = rows::read_permissions(db, Some(&ids)).await.map_err(&w)?;
    let mut by_key: BTreeMap<_, Vec<(i32, file::PermissionRow)>> = BTreeMap::new();
    for (id, row) in current {
        by_key.entry(row.key()).or_default().push((id, row));
    }
    for want in &wanted.permissions {
        match by_key.remove(&want.key()) {
            None => out.written += rows::insert_permission(db, want).await.map_err(&w)? as usize,
            Some(mut have) => {
                let (id, row) = have.remove(0);
                if &row != want {
                    out.written += rows::update_permission(db, id, want).await.map_err(&w)? as usize;
                }
                for (extra, row) in have {
                    rows::delete_permission(db, extra).await.map_err(&w)?;
                    out.deleted
                        .push(format!("duplicate permission {}", row.describe(&name_of(&policy_name, &row.policy))));
                }
            }
        }
    }
    for (_, left) in by_key {
        for (id, row) in left {
            rows::delete_permission(db, id).await.map_err(&w)?;
            out.deleted.push(format!("permission {}", row.describe(&name_of(&policy_name, &row.policy))));
        }
    }

    // What trm-init created earlier and the file no longer has.
    let keep = |ids: Vec<&String>| ids.into_iter().cloned().collect::<BTreeSet<String>>();
    let want_access = keep(wanted.access.iter().map(|a| &a.id).collect());
    let want_policies = keep(wanted.policies.iter().map(|p| &p.id).collect());
    let want_roles = keep(wanted.roles.iter().map(|r| &r.id).collect());
    for id in mine("access").difference(&want_access) {
        if rows::delete_access(db, id).await.map_err(&w)? > 0 {
            let link = existing.access.iter().find(|a| &a.id == id);
            out.deleted.push(match link {
                Some(a) => format!(
                    "link of role {:?} to policy {:?}",
                    name_of(&role_name, &a.role),
                    name_of(&policy_name, &a.policy)
                ),
                None => format!("role-policy link {id}"),
            });
        }
    }
    for id in mine("policy").difference(&want_policies) {
        if existing.policies.iter().any(|p| &p.id == id) {
            let (perms, links) = rows::delete_policy(db, id).await.map_err(&w)?;
            out.deleted.push(format!(
                "policy {:?} ({id}) with its {perms} permission(s) and {links} link(s)",
                name_of(&policy_name, id)
            ));
        }
    }
    for id in mine("role").difference(&want_roles) {
        if existing.roles.iter().any(|r| &r.id == id) {
            let users = rows::delete_role(db, id).await.map_err(&w)?;
            out.deleted.push(format!(
                "role {:?} ({id}); {users} user(s) had it and now have no role",
                name_of(&role_name, id)
            ));
        }
    }
    rows::record_managed(db, "role", &want_roles.into_iter().collect::<Vec<_>>()).await.map_err(&w)?;
    rows::record_managed(db, "policy", &want_policies.into_iter().collect::<Vec<_>>()).await.map_err(&w)?;
    rows::record_managed(db, "access", &want_access.into_iter().collect::<Vec<_>>()).await.map_err(&w)?;
    Ok(out)
}

/// `trm-init access export`: the database's access rows in the file's format. Left out: policies with
/// admin access, the public policy, roles that only hold those (the bootstrap's Administrator), and
/// links of single users to policies (those are data, not design).
pub async fn export(db: &Client, membership: &Membership) -> Result<String, AccessError> {
    if !rows::directus_installed(db).await.map_err(db_err("reading the access tables"))? {
        return Err(AccessError::NotInstalled);
    }
    let mut all = rows::read_all(db).await.map_err(db_err("reading the access tables"))?;
    let public: BTreeSet<String> = db
        .query("SELECT policy::text FROM directus_access WHERE role IS NULL AND \"user\" IS NULL", &[])
        .await
        .map_err(db_err("reading the access tables"))?
        .iter()
        .filter_map(|r| r.try_get(0).ok())
        .collect();
    let left_out: BTreeSet<String> =
        all.policies.iter().filter(|p| p.admin_access || public.contains(&p.id)).map(|p| p.id.clone()).collect();
    let admin_roles: BTreeSet<String> = all
        .roles
        .iter()
        .filter(|r| {
            let links: Vec<_> = all.access.iter().filter(|a| a.role == r.id).collect();
            !links.is_empty() && links.iter().all(|a| left_out.contains(&a.policy))
        })
        .map(|r| r.id.clone())
        .collect();
    all.policies.retain(|p| !left_out.contains(&p.id));
    all.permissions.retain(|p| !left_out.contains(&p.policy));
    all.access.retain(|a| !left_out.contains(&a.policy) && !admin_roles.contains(&a.role));
    all.roles.retain(|r| !admin_roles.contains(&r.id));
    let file = AccessFile::collapse(&all, membership);
    file.to_yaml(
        "Directus access rows exported by `trm-init access export` (format: see README, \"Access as code\").\n\
         Left out: admin-access policies, the public policy, the Administrator role, links of single users.",
    )
    .map_err(|reason| AccessError::File(FileError::Invalid { path: PathBuf::from("<export>"), reason }))
}

/// The `membership` section of the configured file, when it can be read (export uses it to write
/// `org:` again); the default otherwise.
pub fn membership_of(path: &Path) -> Membership {
    AccessFile::read(path).map(|(f, _)| f.membership).unwrap_or_default()
}
