//! The schema snapshot file: read, normalised for hashing, and reduced to the names it declares.
//!
//! Owns parsing `snapshots/schema.yaml` (Directus's own format: `collections`, `fields`, `relations`)
//! for what trm-init itself needs before starting Directus: that it is a snapshot, its normalised text
//! (the fingerprint), the Directus version that wrote it (`directus:`) and the names it declares (for
//! `check`). What an apply does with it is Directus's diff, read by `guard`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SnapshotError {
    #[error("schema snapshot {path} cannot be read: {source}")]
    Missing { path: PathBuf, source: std::io::Error },
    #[error("schema snapshot {path} is not a Directus snapshot: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl crate::exit::ExitCode for SnapshotError {
    fn exit_code(&self) -> u8 {
        crate::exit::DIRECTUS
    }
}

/// What the snapshot declares, by name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Declared {
    pub collections: BTreeSet<String>,
    /// (collection, field)
    pub fields: BTreeSet<(String, String)>,
    /// (collection, field) of the many side
    pub relations: BTreeSet<(String, String)>,
}

pub struct Snapshot {
    pub path: PathBuf,
    /// The `directus:` key: the Directus version that wrote the snapshot.
    pub directus: Option<String>,
    /// The file's text with line endings and a BOM normalised (what the fingerprint hashes).
    pub normalised: String,
    pub declared: Declared,
}

#[derive(serde::Deserialize)]
struct File {
    version: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    directus: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    collections: Vec<Named>,
    #[serde(default)]
    fields: Vec<Named>,
    #[serde(default)]
    relations: Vec<Named>,
}

#[derive(serde::Deserialize)]
struct Named {
    collection: String,
    #[serde(default)]
    field: Option<String>,
}

impl Snapshot {
    pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
        let bytes =
            std::fs::read(path).map_err(|source| SnapshotError::Missing { path: path.to_path_buf(), source })?;
        Self::parse(path, &bytes)
    }

    /// The snapshot `bytes` read from `path` (named in errors).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let normalised = normalise(&String::from_utf8_lossy(bytes));
        let invalid = |reason: String| SnapshotError::Invalid { path: path.to_path_buf(), reason };
        // Directus reads `.yaml`/`.yml` as YAML and anything else as JSON; YAML parses both.
        let file: File = serde_yaml_ng::from_str(&normalised).map_err(|e| invalid(e.to_string()))?;
        if file.version.is_none() {
            return Err(invalid("no `version` key".into()));
        }
        let pairs = |items: Vec<Named>, what: &str| -> Result<BTreeSet<(String, String)>, SnapshotError> {
            items
                .into_iter()
                .map(|n| match n.field {
                    Some(f) => Ok((n.collection, f)),
                    None => Err(invalid(format!("an entry of `{what}` in collection {} has no `field`", n.collection))),
                })
                .collect()
        };
        let directus = file.directus.map(|v| match v {
            serde_yaml_ng::Value::String(s) => s,
            other => serde_yaml_ng::to_string(&other).unwrap_or_default().trim().to_string(),
        });
        let declared = Declared {
            collections: file.collections.into_iter().map(|c| c.collection).collect(),
            fields: pairs(file.fields, "fields")?,
            relations: pairs(file.relations, "relations")?,
        };
        Ok(Snapshot { path: path.to_path_buf(), directus, normalised, declared })
    }
}

/// How the snapshot's `directus:` version compares with the installed Directus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionMatch {
    Same,
    /// Same major, other minor or patch: Directus's snapshot format may differ in details.
    Minor,
    /// Another major version: keys and defaults differ; an apply may delete what it does not recognise.
    Major,
    /// No `directus:` key, or a version that cannot be read.
    Unknown,
}

/// Compares `major.minor.patch` of the snapshot's version with the installed one.
pub fn compare_versions(snapshot: Option<&str>, installed: &str) -> VersionMatch {
    let parse = |v: &str| -> Option<(u64, u64, String)> {
        let mut parts = v.trim().trim_start_matches('v').splitn(3, '.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next().unwrap_or("").to_string()))
    };
    match (snapshot.and_then(parse), parse(installed)) {
        (Some(a), Some(b)) if a == b => VersionMatch::Same,
        (Some(a), Some(b)) if a.0 == b.0 => VersionMatch::Minor,
        (Some(_), Some(_)) => VersionMatch::Major,
        _ => VersionMatch::Unknown,
    }
}

/// CRLF -> LF and no UTF-8 BOM: a Windows checkout must not look like a new snapshot.
pub fn normalise(text: &str) -> String {
    text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str =
        "version: 1\ndirectus: 11.17.4\nvendor: postgres\ncollections:\n  - collection: a\n    meta: {}\n\
                         fields:\n  - collection: a\n    field: id\n  - collection: directus_users\n    field: phone\n\
                         systemFields: []\nrelations:\n  - collection: a\n    field: b\n    related_collection: c\n";

    #[test]
    fn names_are_read_from_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, SMALL).unwrap();
        let s = Snapshot::read(&path).unwrap();
        assert_eq!(s.declared.collections.iter().collect::<Vec<_>>(), ["a"]);
        assert!(s.declared.fields.contains(&("directus_users".into(), "phone".into())));
        assert!(s.declared.relations.contains(&("a".into(), "b".into())));
        assert_eq!(s.directus.as_deref(), Some("11.17.4"));
    }

    #[test]
    fn versions_compare_by_major_and_minor() {
        assert_eq!(compare_versions(Some("11.17.4"), "11.17.4"), VersionMatch::Same);
        assert_eq!(compare_versions(Some("11.16.0"), "11.17.4"), VersionMatch::Minor);
        assert_eq!(compare_versions(Some("11.17.3"), "11.17.4"), VersionMatch::Minor);
        assert_eq!(compare_versions(Some("10.13.1"), "11.17.4"), VersionMatch::Major);
        assert_eq!(compare_versions(None, "11.17.4"), VersionMatch::Unknown);
        assert_eq!(compare_versions(Some("latest"), "11.17.4"), VersionMatch::Unknown);
    }

    #[test]
    fn crlf_and_bom_do_not_change_the_normalised_text() {
        let windows = format!("\u{feff}{}", SMALL.replace('\n', "\r\n"));
        assert_eq!(normalise(&windows), SMALL);
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = Snapshot::read(Path::new("/nonexistent/schema.yaml")).err().unwrap();
        assert!(err.to_string().contains("/nonexistent/schema.yaml"), "{err}");
    }
}
