//! Property tests: every parser of outside input answers arbitrary input with a value or an `Err`,
//! never a panic (release builds abort on panic, which would end PID 1 without stopping Directus).
//!
//! Owns no code of its own: it feeds arbitrary bytes and strings, and mutations of the repository's
//! real files, to connection strings (`config::conninfo`, `config::database`), Directus's Redis
//! settings and RESP replies (`preflight::access::cache`), the health client's HTTP parsing
//! (`health::client`), durations (`config::duration`), the schema snapshot and the access file.

use crate::config::conninfo::{redact, ConnString};
use crate::config::database::DbSettings;
use crate::config::duration::{Dur, MAX};
use crate::health::client::{body, dechunk, parse_head, Head};
use crate::preflight::access::cache::{parse_url, read_reply, RedisTarget};
use crate::preflight::access::file::AccessFile;
use crate::preflight::directus::snapshot::Snapshot;
use proptest::prelude::*;
use std::collections::HashMap;
use std::path::Path;

const SNAPSHOT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/schema.yaml"));
const ACCESS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/access.yaml"));

/// Text that is mostly the characters parsers split on, with multi-byte characters among them (the
/// slicing bugs were all at a multi-byte character).
fn tricky_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("%".to_string()),
            Just("€".to_string()),
            Just("é".to_string()),
            Just("\u{1F600}".to_string()),
            Just(":".to_string()),
            Just("@".to_string()),
            Just("/".to_string()),
            Just("?".to_string()),
            Just("=".to_string()),
            Just("&".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just(" ".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            "[0-9a-fA-F]{1,3}",
            any::<String>(),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

/// `text` with a byte range replaced by `junk`, cut at character boundaries (a mutated real file).
fn mutate(text: &str, at: usize, len: usize, junk: &str) -> String {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(at % (text.len() + 1));
    let end = floor(start.saturating_add(len));
    format!("{}{junk}{}", &text[..start], &text[end..])
}

fn resp(bytes: &[u8]) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a test runtime");
    runtime.block_on(async {
        let mut reader = tokio::io::BufReader::new(bytes);
        read_reply(&mut reader, 0).await.map(|_| ())
    })
}

#[test]
fn the_measured_redis_password_and_a_non_ascii_reply_are_errors_or_values_not_panics() {
    // Both were measured to abort trm-init (issue 24): a `%` before a multi-byte character, and a
    // reply whose first character is not ASCII.
    let target = RedisTarget::from_vars(&[("REDIS".into(), "redis://:%a€x@127.0.0.1:6390".into())]);
    let error = target.expect_err("a % that starts no escape");
    assert!(error.contains("password") && !error.contains("€"), "names the part, not the value: {error}");
    assert!(resp("€\r\n".as_bytes()).is_err());
    assert!(resp(b"$99999999999999\r\n").is_err(), "a bulk length beyond the bound is refused, not allocated");
    assert!(resp(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err(), "nesting is bounded");
    assert!(resp(b"*2\r\n$1\r\n0\r\n*0\r\n").is_ok());
}

#[test]
fn durations_are_bounded_so_deadlines_never_overflow() {
    assert!("365days".parse::<Dur>().is_ok());
    let err = "18446744073709551615s".parse::<Dur>().expect_err("u64::MAX seconds");
    assert!(err.contains("at most"), "{err}");
    assert!("366days".parse::<Dur>().is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn redis_settings_never_panic(url in tricky_text(), port in tricky_text(), db in tricky_text()) {
        let _ = parse_url(&url);
        let _ = parse_url(&format!("redis://{url}"));
        let vars = vec![("REDIS_HOST".to_string(), url.clone()), ("REDIS_PORT".into(), port), ("REDIS_DB".into(), db)];
        let _ = RedisTarget::from_vars(&vars);
        let _ = RedisTarget::from_vars(&[("REDIS".to_string(), format!("redis://{url}"))]);
    }

    #[test]
    fn resp_replies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), kind in "[-+:$*]") {
        let _ = resp(&bytes);
        let mut typed = kind.into_bytes();
        typed.extend_from_slice(&bytes);
        let _ = resp(&typed);
    }

    #[test]
    fn connection_strings_never_panic(text in tricky_text()) {
        for candidate in [text.clone(), format!("postgres://{text}"), format!("postgresql://{text}")] {
            let _ = redact(&candidate);
            if let Ok(mut parsed) = ConnString::parse(&candidate) {
                let _ = parsed.take(&["sslmode", "sslrootcert", "password"]);
                let _ = parsed.render();
                let _ = parsed.redacted();
            }
            let vars: HashMap<&str, String> = [("DB_CONNECTION_STRING", candidate.clone()), ("DB_SSL", text.clone())].into();
            let _ = DbSettings::from_lookup(&|k| vars.get(k).cloned());
            let vars: HashMap<&str, String> = [
                ("DB_HOST", text.clone()), ("DB_PORT", text.clone()), ("DB_DATABASE", text.clone()),
                ("DB_USER", text.clone()), ("DB_PASSWORD", text.clone()),
            ].into();
            let _ = DbSettings::from_lookup(&|k| vars.get(k).cloned());
        }
    }

    #[test]
    fn http_responses_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), length in any::<u64>()) {
        let _ = dechunk(&bytes);
        let mut response = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
        response.extend_from_slice(&bytes);
        for buf in [&bytes[..], &response[..]] {
            if let Head::Complete(head) = parse_head(buf) {
                let _ = body(&head, buf);
            }
        }
    }

    #[test]
    fn durations_never_panic(text in tricky_text(), number in any::<u64>(), unit in "(ns|us|ms|s|m|h|d|w|y|days|years)") {
        for candidate in [text, format!("{number}{unit}")] {
            if let Ok(d) = candidate.parse::<Dur>() {
                prop_assert!(d.get() <= MAX);
                prop_assert!(std::time::Instant::now().checked_add(d.get()).is_some());
            }
        }
    }

}

proptest! {
    // Each case parses a whole real file: fewer cases.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn snapshots_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128), at in any::<usize>(), len in 0usize..64, junk in tricky_text()) {
        let _ = Snapshot::parse(Path::new("schema.yaml"), &bytes);
        let mutated = mutate(SNAPSHOT, at, len, &junk);
        let _ = Snapshot::parse(Path::new("schema.yaml"), mutated.as_bytes());
    }

    #[test]
    fn access_files_never_panic(text in tricky_text(), at in any::<usize>(), len in 0usize..64, junk in tricky_text()) {
        for candidate in [text, mutate(ACCESS, at, len, &junk)] {
            if let Ok(file) = AccessFile::parse(&candidate) {
                let rows = file.expand();
                let back = AccessFile::collapse(&rows, &file.membership);
                let _ = back.to_yaml("property test");
            }
        }
    }
}
