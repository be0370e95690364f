//! The migration folders: which files are migrations, their text and checksums.
//!
//! Owns the naming rule (`NNN_name.sql`, one number width per folder, lexical order; `README*` and
//! `.gitkeep` ignored, anything else an error that names it), the CRLF/BOM normalisation behind the
//! checksum, and the `-- trm-init: no-transaction` directive. Reads files only.

use sha2::{Digest, Sha256};
use std::path::Path;

/// The UTF-8 byte order mark, dropped before the checksum.
const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug)]
pub(crate) struct MigrationFile {
    pub(crate) name: String,
    /// The text as sent to the server: UTF-8 BOM dropped, CRLF turned into LF.
    pub(crate) sql: String,
    /// sha256 hex of `sql` (what is recorded).
    pub(crate) checksum: String,
    pub(crate) no_transaction: bool,
    raw: Vec<u8>,
}

impl MigrationFile {
    pub(crate) fn from_bytes(name: &str, raw: Vec<u8>) -> Result<MigrationFile, String> {
        let body = raw.strip_prefix(BOM).unwrap_or(&raw);
        let text = std::str::from_utf8(body).map_err(|e| format!("{name}: not UTF-8 text ({e})"))?;
        let sql = text.replace("\r\n", "\n");
        let no_transaction = sql.lines().next().is_some_and(is_no_transaction_directive);
        Ok(MigrationFile { name: name.to_string(), checksum: sha256_hex(sql.as_bytes()), sql, no_transaction, raw })
    }

    /// Whether `recorded` is this file's checksum: the normalised hash, or the raw hash of the same
    /// content with CRLF line ends and/or a BOM (rows written by the shell runner from such a checkout).
    pub(crate) fn matches(&self, recorded: &str) -> bool {
        let recorded = recorded.trim();
        if recorded.eq_ignore_ascii_case(&self.checksum) {
            return true;
        }
        let crlf = self.sql.replace('\n', "\r\n");
        let with_bom = |t: &str| [BOM, t.as_bytes()].concat();
        [
            sha256_hex(&self.raw),
            sha256_hex(crlf.as_bytes()),
            sha256_hex(&with_bom(&self.sql)),
            sha256_hex(&with_bom(&crlf)),
        ]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(recorded))
    }
}

fn is_no_transaction_directive(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.eq_ignore_ascii_case("--trm-init:no-transaction")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Why a folder is not usable.
#[derive(Debug)]
pub(crate) enum FolderProblem {
    /// The folder cannot be listed (a configuration problem).
    Unreadable(String),
    /// Files that break the naming rule, each named.
    BadNames(Vec<String>),
}

/// The migration file names of `dir`, sorted; every other entry (but README*/.gitkeep) is a problem.
pub(crate) fn migration_names(dir: &Path) -> Result<Vec<String>, FolderProblem> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| FolderProblem::Unreadable(format!("folder {} cannot be read: {e}", dir.display())))?;
    let mut names = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| FolderProblem::Unreadable(format!("folder {} cannot be read: {e}", dir.display())))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            problems.push(format!("{:?} is not a UTF-8 file name", entry.file_name()));
            continue;
        };
        if is_ignored(&name) {
            continue;
        }
        let is_file = std::fs::metadata(entry.path()).map(|m| m.is_file()).unwrap_or(false);
        if !is_file {
            problems.push(format!("{name} is not a regular file (migration folders hold NNN_name.sql files only)"));
        } else if !is_migration_name(&name) {
            problems.push(format!(
                "{name} is not a migration file name (expected NNN_name.sql: digits, underscore, letters/digits/_.-, \".sql\"; README* and .gitkeep are ignored)"
            ));
        } else {
            names.push(name);
        }
    }
    names.sort();
    problems.extend(number_problems(&names));
    if problems.is_empty() {
        Ok(names)
    } else {
        problems.sort();
        Err(FolderProblem::BadNames(problems))
    }
}

/// Reads and normalises every migration of `dir`, in order.
pub(crate) fn load(dir: &Path) -> Result<Vec<MigrationFile>, FolderProblem> {
    let names = migration_names(dir)?;
    let mut files = Vec::with_capacity(names.len());
    let mut problems = Vec::new();
    for name in names {
        let path = dir.join(&name);
        match std::fs::read(&path) {
            Ok(raw) => match MigrationFile::from_bytes(&name, raw) {
                Ok(f) => files.push(f),
                Err(p) => problems.push(p),
            },
            Err(e) => problems.push(format!("{name} cannot be read: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(FolderProblem::BadNames(problems))
    }
}

fn is_ignored(name: &str) -> bool {
    name == ".gitkeep" || name.starts_with("README")
}

pub(crate) fn is_migration_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".sql") else {
        return false;
    };
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = stem[digits..].strip_prefix('_') else {
        return false;
    };
    digits >= 3
        && !rest.is_empty()
        && rest.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Mixed number widths (010_ sorts before 9_) and numbers used twice, each named.
fn number_problems(names: &[String]) -> Vec<String> {
    let number = |n: &str| n.split('_').next().unwrap_or("").to_string();
    let mut problems = Vec::new();
    // The width most files use is the rule; the others are named.
    let mut widths: Vec<(usize, usize)> = Vec::new();
    for n in names {
        let w = number(n).len();
        match widths.iter_mut().find(|(width, _)| *width == w) {
            Some((_, count)) => *count += 1,
            None => widths.push((w, 1)),
        }
    }
    if let Some(&(width, _)) = widths.iter().max_by_key(|(w, count)| (*count, *w)) {
        for n in names.iter().filter(|n| number(n).len() != width) {
            problems.push(format!(
                "{n} has a {}-digit number but the folder uses {width} digits: use one width so lexical order is numeric order",
                number(n).len()
            ));
        }
    }
    for pair in names.windows(2) {
        if number(&pair[0]) == number(&pair[1]) {
            problems.push(format!(
                "{} and {} share the number {}: give each file its own",
                pair[0],
                pair[1],
                number(&pair[0])
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_bom_do_not_change_the_checksum() {
        let lf = MigrationFile::from_bytes("001_a.sql", b"SELECT 1;\nSELECT 2;\n".to_vec()).unwrap();
        let crlf = MigrationFile::from_bytes("001_a.sql", b"\xEF\xBB\xBFSELECT 1;\r\nSELECT 2;\r\n".to_vec()).unwrap();
        assert_eq!(lf.checksum, crlf.checksum);
        assert_eq!(lf.sql, crlf.sql);
    }

    #[test]
    fn raw_hash_of_the_same_content_is_accepted() {
        let crlf_bytes = b"SELECT 1;\r\n".to_vec();
        let shell_row = sha256_hex(&crlf_bytes);
        let now_lf = MigrationFile::from_bytes("001_a.sql", b"SELECT 1;\n".to_vec()).unwrap();
        assert!(now_lf.matches(&shell_row), "a row hashed from a CRLF checkout must match the LF file");
        let still_crlf = MigrationFile::from_bytes("001_a.sql", crlf_bytes).unwrap();
        assert!(still_crlf.matches(&shell_row));
        assert!(!now_lf.matches(&sha256_hex(b"SELECT 2;\n")));
    }

    #[test]
    fn no_transaction_directive_is_read_from_the_first_line_only() {
        let yes = MigrationFile::from_bytes(
            "001_a.sql",
            b"--  trm-init: no-transaction\r\nCREATE INDEX CONCURRENTLY i ON t (a);".to_vec(),
        )
        .unwrap();
        assert!(yes.no_transaction);
        let no = MigrationFile::from_bytes("001_a.sql", b"SELECT 1;\n-- trm-init: no-transaction\n".to_vec()).unwrap();
        assert!(!no.no_transaction);
    }

    #[test]
    fn file_names_follow_nnn_name_sql() {
        for ok in ["001_extensions.sql", "0001_a-b.c.sql", "123_X9.sql"] {
            assert!(is_migration_name(ok), "{ok}");
        }
        for bad in
            ["1_x.sql", "001.sql", "001_.sql", "001_x.SQL", "abc_x.sql", "001_x.sql.bak", "001-x.sql", "001_x y.sql"]
        {
            assert!(!is_migration_name(bad), "{bad}");
        }
    }

    #[test]
    fn folder_problems_name_each_file() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["001_a.sql", "002_b.sql", "002_c.sql", "0003_d.sql", "notes.txt", "README.md", ".gitkeep"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let FolderProblem::BadNames(problems) = migration_names(dir.path()).unwrap_err() else {
            panic!("expected BadNames")
        };
        let text = problems.join("\n");
        for name in ["notes.txt", "sub", "0003_d.sql", "002_c.sql"] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        assert!(!text.contains("README.md") && !text.contains(".gitkeep is"), "{text}");
        assert!(!text.contains("001_a.sql"), "the majority width is not blamed: {text}");
    }

    #[test]
    fn clean_folder_lists_in_lexical_order() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["010_c.sql", "002_b.sql", "001_a.sql", "README"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        assert_eq!(migration_names(dir.path()).unwrap(), ["001_a.sql", "002_b.sql", "010_c.sql"]);
    }
}
