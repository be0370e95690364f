//! Compares a folder with the history: what is applied, pending, changed, missing or out of order.
//! Pure: no I/O, so `status`, `--dry-run` and the runner share one verdict.

use super::files::MigrationFile;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Recorded with a matching checksum: skipped.
    Applied,
    /// Not recorded; sorts after every recorded file.
    Pending,
    /// Not recorded, but sorts before the last recorded file of its folder.
    OutOfOrder,
    /// Recorded with another checksum: the file was edited after it was applied.
    Changed { recorded: String },
    /// Recorded, but the file is gone.
    Missing,
}

#[derive(Debug)]
pub(crate) struct Item<'a> {
    pub(crate) name: String,
    pub(crate) state: State,
    pub(crate) file: Option<&'a MigrationFile>,
}

pub(crate) fn plan<'a>(files: &'a [MigrationFile], recorded: &BTreeMap<String, String>) -> Vec<Item<'a>> {
    let last_recorded = recorded.keys().next_back();
    let mut items: Vec<Item<'a>> = files
        .iter()
        .map(|f| {
            let state = match recorded.get(&f.name) {
                Some(sum) if f.matches(sum) => State::Applied,
                Some(sum) => State::Changed { recorded: sum.clone() },
                None if last_recorded.is_some_and(|last| f.name < *last) => State::OutOfOrder,
                None => State::Pending,
            };
            Item { name: f.name.clone(), state, file: Some(f) }
        })
        .collect();
    for name in recorded.keys().filter(|n| !files.iter().any(|f| &f.name == *n)) {
        items.push(Item { name: name.clone(), state: State::Missing, file: None });
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sql: &str) -> MigrationFile {
        MigrationFile::from_bytes(name, sql.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn each_state_is_found() {
        let files = [file("001_a.sql", "a"), file("002_b.sql", "b"), file("003_c.sql", "c"), file("005_e.sql", "e")];
        let mut rec = BTreeMap::new();
        rec.insert("001_a.sql".to_string(), files[0].checksum.clone());
        rec.insert("003_c.sql".to_string(), "0000".to_string());
        rec.insert("004_d.sql".to_string(), "1111".to_string());
        let states: Vec<(String, State)> = plan(&files, &rec).into_iter().map(|i| (i.name, i.state)).collect();
        assert_eq!(
            states,
            [
                ("001_a.sql".into(), State::Applied),
                ("002_b.sql".into(), State::OutOfOrder),
                ("003_c.sql".into(), State::Changed { recorded: "0000".into() }),
                ("004_d.sql".into(), State::Missing),
                ("005_e.sql".into(), State::Pending),
            ]
        );
    }
}
