//! What Directus's environment must say when several replicas run (`child.replicas` > 1).
//!
//! Owns the list of problems only: it reads variables through the function it is given (the real
//! environment in `trm-init run`) and returns sentences; the caller logs them as warnings. It never
//! fails a start: a deployer may know better (e.g. a store set in a file Directus reads itself).

/// The problems with `env` for `replicas` replicas of Directus behind one load balancer.
pub fn problems(replicas: u32, env: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    if replicas < 2 {
        return out;
    }
    // Directus reads `NAME_FILE` for every NAME: a value from a file counts as set.
    let set = |name: &str| {
        env(name).is_some_and(|v| !v.trim().is_empty()) || env(&format!("{name}_FILE")).is_some_and(|v| !v.is_empty())
    };
    let value = |name: &str| env(name).map(|v| v.trim().to_ascii_lowercase());
    let truthy = |name: &str| value(name).is_some_and(|v| v == "true" || v == "1");
    let redis = |name: &str| value(name).as_deref() == Some("redis");

    if !redis("CACHE_STORE") {
        out.push(format!(
            "CACHE_STORE is {} (not redis): each replica keeps its own cache, so a change made through one replica \
             is not seen by the others until their cache expires",
            shown(value("CACHE_STORE"), "memory")
        ));
    }
    if (truthy("RATE_LIMITER_ENABLED") || truthy("RATE_LIMITER_GLOBAL_ENABLED")) && !redis("RATE_LIMITER_STORE") {
        out.push(format!(
            "RATE_LIMITER_STORE is {} (not redis): each replica counts requests on its own, so the limit is \
             multiplied by the number of replicas",
            shown(value("RATE_LIMITER_STORE"), "memory")
        ));
    }
    if !redis("SYNCHRONIZATION_STORE") {
        out.push(format!(
            "SYNCHRONIZATION_STORE is {} (not redis): scheduled flows and jobs run once per replica",
            shown(value("SYNCHRONIZATION_STORE"), "memory")
        ));
    }
    let uses_redis = ["CACHE_STORE", "RATE_LIMITER_STORE", "SYNCHRONIZATION_STORE"].iter().any(|n| redis(n));
    if uses_redis && !set("REDIS") && !set("REDIS_HOST") {
        out.push("a store is redis but neither REDIS nor REDIS_HOST is set: Directus cannot reach Redis".into());
    }
    if !set("SECRET") {
        out.push(
            "SECRET (or SECRET_FILE) is not set: each replica makes up its own secret, so a token issued by one \
             replica is refused by the others"
                .into(),
        );
    }
    out
}

fn shown(value: Option<String>, default: &str) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => format!("unset (Directus's default: {default})"),
    }
}

#[cfg(test)]
mod tests {
    use super::problems;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn one_replica_needs_nothing() {
        assert!(problems(1, env(&[])).is_empty());
    }

    #[test]
    fn several_replicas_name_every_missing_setting() {
        let p = problems(3, env(&[("RATE_LIMITER_ENABLED", "true")]));
        let text = p.join("\n");
        assert_eq!(p.len(), 4, "{text}");
        for name in ["CACHE_STORE", "RATE_LIMITER_STORE", "SYNCHRONIZATION_STORE", "SECRET"] {
            assert!(text.contains(name), "{name} missing from {text}");
        }
        assert!(text.contains("unset (Directus's default: memory)"), "{text}");
    }

    #[test]
    fn redis_everywhere_and_a_secret_file_is_clean() {
        let ok = [
            ("CACHE_STORE", "redis"),
            ("RATE_LIMITER_ENABLED", "true"),
            ("RATE_LIMITER_STORE", "Redis"),
            ("SYNCHRONIZATION_STORE", "redis"),
            ("REDIS", "redis://redis:6379"),
            ("SECRET_FILE", "/run/secrets/directus_secret"),
        ];
        assert!(problems(2, env(&ok)).is_empty(), "{:?}", problems(2, env(&ok)));
        let p = problems(2, env(&ok[..5]));
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("SECRET"));
        let p = problems(2, env(&[("CACHE_STORE", "redis"), ("SYNCHRONIZATION_STORE", "redis"), ("SECRET", "x")]));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("REDIS_HOST"));
    }
}
