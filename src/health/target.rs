//! Where an HTTP request goes: `http://host:port/path` turned into socket addresses without DNS.
//!
//! Owns URL parsing for the upstream ping and the `trm-init health` client. The binary is static glibc
//! and may run where there is no resolver configuration at all (Alpine, an empty chroot), so only IP
//! literals and `localhost` are accepted; it never calls getaddrinfo.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A parsed `http://` URL whose host is an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Addresses to try in order (`localhost` gives 127.0.0.1 then ::1).
    pub(crate) addrs: Vec<SocketAddr>,
    /// The `Host` header value (`127.0.0.1:8055`).
    pub(crate) authority: String,
    /// Path and query (`/server/ping`).
    pub(crate) path: String,
}

impl Target {
    /// Parses `http://host[:port][/path]`. `host` is an IPv4 literal, a bracketed IPv6 literal or `localhost`.
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let uri: hyper::Uri = url.trim().parse().map_err(|e| format!("{url:?} is not a URL ({e})"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url:?} must start with http:// (https is not supported for a local probe)"));
        }
        let authority = uri.authority().ok_or_else(|| format!("{url:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{url:?} must not carry credentials"));
        }
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        let ips: Vec<IpAddr> = if host.eq_ignore_ascii_case("localhost") {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)]
        } else {
            let literal = host.trim_start_matches('[').trim_end_matches(']');
            match literal.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => {
                    return Err(format!(
                        "{url:?}: the host must be an IP address or localhost (no DNS lookups are made)"
                    ))
                }
            }
        };
        let path = uri.path_and_query().map(|p| p.as_str()).filter(|p| !p.is_empty()).unwrap_or("/");
        Ok(Target {
            addrs: ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect(),
            authority: authority.as_str().to_string(),
            path: path.to_string(),
        })
    }

    /// `/path` on a listening address; an unspecified address (0.0.0.0, ::) is probed on loopback.
    pub(crate) fn local(listen: SocketAddr, path: &str) -> Target {
        let ip = match listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(ip, listen.port());
        Target { addrs: vec![addr], authority: addr.to_string(), path: path.to_string() }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_url_keeps_port_path_and_query() {
        let t = Target::parse("http://127.0.0.1:8055/server/ping?x=1").unwrap();
        assert_eq!(t.addrs, vec!["127.0.0.1:8055".parse().unwrap()]);
        assert_eq!(t.authority, "127.0.0.1:8055");
        assert_eq!(t.path, "/server/ping?x=1");
    }

    #[test]
    fn localhost_tries_both_loopbacks_and_defaults_to_port_80() {
        let t = Target::parse("http://localhost").unwrap();
        assert_eq!(t.addrs, vec!["127.0.0.1:80".parse().unwrap(), "[::1]:80".parse().unwrap()]);
        assert_eq!(t.path, "/");
    }

    #[test]
    fn ipv6_literal_is_accepted() {
        let t = Target::parse("http://[::1]:8056/healthz").unwrap();
        assert_eq!(t.addrs, vec!["[::1]:8056".parse().unwrap()]);
    }

    #[test]
    fn names_needing_dns_and_other_schemes_are_refused() {
        assert!(Target::parse("http://directus:8055/").unwrap_err().contains("IP address"));
        assert!(Target::parse("https://127.0.0.1/").unwrap_err().contains("http://"));
        assert!(Target::parse("127.0.0.1:8056").is_err());
    }

    #[test]
    fn unspecified_listen_address_is_probed_on_loopback() {
        let t = Target::local("0.0.0.0:8056".parse().unwrap(), "/healthz");
        assert_eq!(t.to_string(), "http://127.0.0.1:8056/healthz");
    }
}
