//! `Duration` values in configuration: strings such as `500ms`, `8s`, `2m`.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// The longest duration a key accepts: every deadline `now + duration` stays far from overflowing.
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// A duration read from and written as a human string (`"8s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub(crate) const fn secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
    pub fn get(self) -> Duration {
        self.0
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = humantime::parse_duration(text.trim())
            .map_err(|e| format!("invalid duration {text:?} ({e}); write a number and a unit, like 500ms, 8s or 2m"))?;
        if parsed > MAX {
            // Deadlines are `now + duration`: a value near u64::MAX seconds would overflow the clock.
            return Err(format!("invalid duration {text:?}: at most {} (365 days)", humantime::format_duration(MAX)));
        }
        Ok(Dur(parsed))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"500ms\", \"8s\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(format!("invalid duration {v}: a bare number has no unit; write \"{v}s\" or \"{v}ms\"")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                Err(E::custom(format!("invalid duration {v}: a bare number has no unit; write \"{v}s\" or \"{v}ms\"")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_contract_examples() {
        assert_eq!("500ms".parse::<Dur>().unwrap(), Dur(Duration::from_millis(500)));
        assert_eq!("8s".parse::<Dur>().unwrap(), Dur::secs(8));
        assert_eq!("2m".parse::<Dur>().unwrap(), Dur::secs(120));
    }

    #[test]
    fn rejects_missing_unit_with_the_value_named() {
        let err = "abc".parse::<Dur>().unwrap_err();
        assert!(err.contains("\"abc\""), "{err}");
    }
}
