//! A string that never reaches logs or `check` output.

use serde::{Serialize, Serializer};
use std::fmt;

/// A secret value (a password, a connection string with a password in it). `Debug`, `Display` and
/// `Serialize` all print `<redacted>`; only `expose` gives the value, for the code that must send it.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secret(String);

pub(crate) const REDACTED: &str = "<redacted>";

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}
