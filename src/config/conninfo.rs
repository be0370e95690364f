//! `DB_CONNECTION_STRING`: the one parser of its two forms, a URL (`postgres://user:pw@host/db?k=v`)
//! and libpq `key=value` pairs (`host=h password='a b'`).
//!
//! Owns splitting the string into its parts, so that redaction (`config`, `check`) and taking out the
//! TLS keys tokio-postgres does not know (`db::target`) read it the same way. It does not validate
//! hosts or keys: tokio-postgres parses what remains.

use super::secret::REDACTED;
use percent_encoding::percent_decode_str;

/// A parsed connection string that renders back to the same text (minus what was taken out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnString {
    Url(UrlForm),
    Pairs(Vec<Pair>),
}

/// `scheme://[user[:password]@]rest[?query]`, kept as raw (still percent-encoded) pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlForm {
    scheme: String,
    user: Option<String>,
    password: Option<String>,
    rest: String,
    query: Vec<(String, String)>,
}

/// One `key=value` of the libpq form: the unquoted value and the pair's original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    key: String,
    value: String,
    raw: String,
}

impl ConnString {
    /// Parses either form. The URL form is recognised by its `postgres://` or `postgresql://` scheme.
    pub(crate) fn parse(text: &str) -> Result<ConnString, String> {
        match ["postgres://", "postgresql://"].iter().find(|s| text.starts_with(*s)) {
            Some(scheme) => Ok(ConnString::Url(UrlForm::parse(scheme, &text[scheme.len()..]))),
            None => pairs(text).map(ConnString::Pairs),
        }
    }

    /// Removes the parameters named in `keys` and returns them (key, decoded value), in order.
    pub(crate) fn take(&mut self, keys: &[&str]) -> Vec<(String, String)> {
        match self {
            ConnString::Url(url) => {
                let (taken, kept) = url.query.drain(..).partition(|(k, _)| keys.contains(&decode(k).as_str()));
                url.query = kept;
                taken.into_iter().map(|(k, v): (String, String)| (decode(&k), decode(&v))).collect()
            }
            ConnString::Pairs(pairs) => {
                let (taken, kept) = pairs.drain(..).partition(|p| keys.contains(&p.key.as_str()));
                *pairs = kept;
                taken.into_iter().map(|p: Pair| (p.key, p.value)).collect()
            }
        }
    }

    /// The text with every password (URL userinfo, `password=`) replaced by `<redacted>`.
    pub(crate) fn redacted(&self) -> String {
        let mut copy = self.clone();
        match &mut copy {
            ConnString::Url(url) => {
                if url.password.is_some() {
                    url.password = Some(REDACTED.into());
                }
                for (k, v) in &mut url.query {
                    if decode(k).eq_ignore_ascii_case("password") {
                        *v = REDACTED.into();
                    }
                }
            }
            ConnString::Pairs(pairs) => {
                for p in pairs.iter_mut().filter(|p| p.key.eq_ignore_ascii_case("password")) {
                    p.raw = format!("{}={REDACTED}", p.key);
                }
            }
        }
        copy.render()
    }

    /// The text as tokio-postgres should parse it.
    pub(crate) fn render(&self) -> String {
        match self {
            ConnString::Url(url) => {
                let mut out = url.scheme.clone();
                if let Some(user) = &url.user {
                    out.push_str(user);
                    if let Some(pw) = &url.password {
                        out.push(':');
                        out.push_str(pw);
                    }
                    out.push('@');
                }
                out.push_str(&url.rest);
                if !url.query.is_empty() {
                    let query: Vec<String> = url.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    out.push('?');
                    out.push_str(&query.join("&"));
                }
                out
            }
            ConnString::Pairs(pairs) => pairs.iter().map(|p| p.raw.as_str()).collect::<Vec<_>>().join(" "),
        }
    }
}

/// The connection string with its password replaced, for display; an unparseable string is shown as
/// `<redacted>` entirely (it might be all password).
pub(crate) fn redact(text: &str) -> String {
    ConnString::parse(text).map(|c| c.redacted()).unwrap_or_else(|_| REDACTED.into())
}

impl UrlForm {
    fn parse(scheme: &str, after: &str) -> UrlForm {
        let (head, query) = after.split_once('?').unwrap_or((after, ""));
        let authority_end = head.find('/').unwrap_or(head.len());
        let (user, password, rest) = match head[..authority_end].rfind('@') {
            Some(at) => {
                let userinfo = &head[..at];
                let (user, password) = match userinfo.split_once(':') {
                    Some((u, p)) => (u.to_string(), Some(p.to_string())),
                    None => (userinfo.to_string(), None),
                };
                (Some(user), password, head[at + 1..].to_string())
            }
            None => (None, None, head.to_string()),
        };
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect();
        UrlForm { scheme: scheme.to_string(), user, password, rest, query }
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// `key = value` pairs of a libpq conninfo string (values may be 'quoted' with \ escapes).
fn pairs(text: &str) -> Result<Vec<Pair>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(out);
        }
        let start = i;
        while chars.get(i).is_some_and(|c| *c != '=' && !c.is_whitespace()) {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        skip_ws(&mut i);
        if chars.get(i) != Some(&'=') {
            return Err(format!("DB_CONNECTION_STRING: expected `=` after {key:?}"));
        }
        i += 1;
        skip_ws(&mut i);
        let mut value = String::new();
        if chars.get(i) == Some(&'\'') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("DB_CONNECTION_STRING: unterminated quoted value".into()),
                    Some('\\') => {
                        if let Some(c) = chars.get(i + 1) {
                            value.push(*c);
                        }
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = chars.get(i).filter(|c| !c.is_whitespace()) {
                let c = match (c, chars.get(i + 1)) {
                    ('\\', Some(next)) => {
                        i += 1;
                        next
                    }
                    _ => c,
                };
                value.push(*c);
                i += 1;
            }
        }
        let raw: String = chars[start..i.min(chars.len())].iter().collect();
        out.push(Pair { key, value, raw });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(text: &str, keys: &[&str]) -> (String, Vec<(String, String)>) {
        let mut c = ConnString::parse(text).unwrap();
        let taken = c.take(keys);
        (c.render(), taken)
    }

    #[test]
    fn url_parameters_are_taken_out_and_decoded() {
        let (rest, taken) = take(
            "postgres://u:p@h:5/d?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fca.pem",
            &["sslmode", "sslrootcert"],
        );
        assert_eq!(rest, "postgres://u:p@h:5/d?connect_timeout=3");
        assert_eq!(taken, [("sslmode".into(), "verify-full".into()), ("sslrootcert".into(), "/ca.pem".into())]);
        assert_eq!(take("postgresql://h/d?sslmode=require", &["sslmode"]).0, "postgresql://h/d");
    }

    #[test]
    fn pairs_are_taken_out_and_quotes_kept() {
        let (rest, taken) = take("host=h password='a b\\'c' sslmode=require dbname=d", &["sslmode"]);
        assert_eq!(rest, "host=h password='a b\\'c' dbname=d");
        assert_eq!(taken, [("sslmode".into(), "require".into())]);
        let quoted = ConnString::parse("password = 'a b\\'c'").unwrap();
        assert_eq!(
            quoted,
            ConnString::Pairs(vec![Pair {
                key: "password".into(),
                value: "a b'c".into(),
                raw: "password = 'a b\\'c'".into()
            }])
        );
    }

    #[test]
    fn passwords_are_redacted_in_both_forms() {
        assert_eq!(
            redact("postgres://u:pw@h:5432/d?sslmode=require"),
            "postgres://u:<redacted>@h:5432/d?sslmode=require"
        );
        assert_eq!(redact("postgres://h/d?user=u&password=pw"), "postgres://h/d?user=u&password=<redacted>");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("host=h password=pw user=u"), "host=h password=<redacted> user=u");
        assert_eq!(redact("host=h password='p w' user=u"), "host=h password=<redacted> user=u");
        assert_eq!(redact("host=h password='unterminated"), "<redacted>");
        // An @ in the path or query is not userinfo.
        assert_eq!(redact("postgres://h/d?application_name=a@b"), "postgres://h/d?application_name=a@b");
    }

    #[test]
    fn malformed_pairs_are_named() {
        assert!(ConnString::parse("host h").unwrap_err().contains("\"host\""));
    }
}
