//! Host name resolution that works in a static binary on a musl image, without libc's NSS.
//!
//! Order: an IP literal; `/etc/hosts`; then A (and, when there is none, AAAA) queries over UDP to the
//! `/etc/resolv.conf` name servers, honouring `search`, `ndots`, `timeout` and `attempts` the way the
//! Docker and Kubernetes resolvers expect. Owns nothing else: the caller retries on failure.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const HOSTS: &str = "/etc/hosts";
const RESOLV_CONF: &str = "/etc/resolv.conf";
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;

/// Resolves `host` to one address.
pub(crate) async fn lookup(host: &str) -> io::Result<IpAddr> {
    if let Some(ip) = literal(host) {
        return Ok(ip);
    }
    if let Ok(text) = std::fs::read_to_string(HOSTS) {
        if let Some(ip) = from_hosts(&text, host) {
            return Ok(ip);
        }
    }
    let conf = ResolvConf::parse(&std::fs::read_to_string(RESOLV_CONF).unwrap_or_default());
    lookup_dns(host, &conf).await
}

pub(crate) fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// The first address `/etc/hosts` gives `host` (names compare case-insensitively).
pub(crate) fn from_hosts(text: &str, host: &str) -> Option<IpAddr> {
    let host = host.trim_end_matches('.');
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut fields = l.split_whitespace();
            let ip: IpAddr = fields.next()?.parse().ok()?;
            fields.any(|name| name.eq_ignore_ascii_case(host)).then_some(ip)
        })
        .next()
}

#[derive(Debug, PartialEq)]
pub(crate) struct ResolvConf {
    pub(crate) servers: Vec<SocketAddr>,
    pub(crate) search: Vec<String>,
    pub(crate) ndots: usize,
    pub(crate) timeout: Duration,
    pub(crate) attempts: usize,
}

impl ResolvConf {
    pub(crate) fn parse(text: &str) -> ResolvConf {
        let mut conf =
            ResolvConf { servers: vec![], search: vec![], ndots: 1, timeout: Duration::from_secs(2), attempts: 2 };
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut fields = line.split_whitespace();
            match fields.next() {
                Some("nameserver") => {
                    if let Some(ip) =
                        fields.next().and_then(|f| f.split('%').next()).and_then(|f| f.parse::<IpAddr>().ok())
                    {
                        conf.servers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("search") | Some("domain") => {
                    conf.search = fields.map(|d| d.trim_end_matches('.').to_string()).collect()
                }
                Some("options") => {
                    for opt in fields {
                        let (name, value) = opt.split_once(':').unwrap_or((opt, ""));
                        let n = value.parse::<u64>().ok();
                        match (name, n) {
                            ("ndots", Some(n)) => conf.ndots = n.min(15) as usize,
                            ("timeout", Some(n)) => conf.timeout = Duration::from_secs(n.clamp(1, 30)),
                            ("attempts", Some(n)) => conf.attempts = n.clamp(1, 5) as usize,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if conf.servers.is_empty() {
            conf.servers.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        conf
    }

    /// The names to try, in order (resolv.conf(5): the bare name first when it has `ndots` dots).
    pub(crate) fn candidates(&self, host: &str) -> Vec<String> {
        if let Some(absolute) = host.strip_suffix('.') {
            return vec![absolute.to_string()];
        }
        let searched = self.search.iter().map(|d| format!("{host}.{d}"));
        if host.matches('.').count() >= self.ndots {
            std::iter::once(host.to_string()).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(host.to_string())).collect()
        }
    }
}

pub(crate) async fn lookup_dns(host: &str, conf: &ResolvConf) -> io::Result<IpAddr> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no such host");
    for name in conf.candidates(host) {
        for qtype in [TYPE_A, TYPE_AAAA] {
            match query_servers(&name, qtype, conf).await {
                Ok(Some(ip)) => return Ok(ip),
                Ok(None) => {}
                Err(e) => last = e,
            }
        }
    }
    Err(last)
}

/// Asks each server in turn (`attempts` rounds); `Ok(None)` when a server says the name has no such record.
async fn query_servers(name: &str, qtype: u16, conf: &ResolvConf) -> io::Result<Option<IpAddr>> {
    let mut last = io::Error::new(io::ErrorKind::TimedOut, "no name server answered");
    for _ in 0..conf.attempts {
        for server in &conf.servers {
            match query(name, qtype, *server, conf.timeout).await {
                Ok(answer) => return Ok(answer),
                Err(e) => last = io::Error::new(e.kind(), format!("name server {server}: {e}")),
            }
        }
    }
    Err(last)
}

async fn query(name: &str, qtype: u16, server: SocketAddr, limit: Duration) -> io::Result<Option<IpAddr>> {
    let bind: SocketAddr =
        if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(server).await?;
    let id = query_id();
    let packet = build_query(id, name, qtype)?;
    socket.send(&packet).await?;
    let mut buf = [0u8; 1500];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let n = timeout(deadline.saturating_duration_since(tokio::time::Instant::now()), socket.recv(&mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("no answer within {limit:?}")))??;
        match parse_answer(&buf[..n], id, qtype) {
            Answer::Mismatch => continue,
            Answer::Found(ip) => return Ok(Some(ip)),
            Answer::NoRecord => return Ok(None),
            Answer::Failed(why) => return Err(io::Error::other(why)),
        }
    }
}

fn query_id() -> u16 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (nanos ^ (std::process::id() << 7)) as u16
}

pub(crate) fn build_query(id: u16, name: &str, qtype: u16) -> io::Result<Vec<u8>> {
    let mut p = Vec::with_capacity(32 + name.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a name label is longer than 63 bytes"));
        }
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    Ok(p)
}

#[derive(Debug, PartialEq)]
pub(crate) enum Answer {
    Found(IpAddr),
    /// NXDOMAIN, or the name exists without a record of that type.
    NoRecord,
    Failed(String),
    /// Not the answer to our query (another id): keep listening.
    Mismatch,
}

pub(crate) fn parse_answer(p: &[u8], id: u16, qtype: u16) -> Answer {
    if p.len() < 12 || u16::from_be_bytes([p[0], p[1]]) != id || p[2] & 0x80 == 0 {
        return Answer::Mismatch;
    }
    match p[3] & 0x0f {
        0 => {}
        3 => return Answer::NoRecord,
        rcode => return Answer::Failed(format!("name server answered with error code {rcode}")),
    }
    let qd = u16::from_be_bytes([p[4], p[5]]) as usize;
    let an = u16::from_be_bytes([p[6], p[7]]) as usize;
    let mut at = 12;
    for _ in 0..qd {
        let Some(next) = skip_name(p, at) else {
            return Answer::Failed("malformed answer".into());
        };
        at = next + 4;
    }
    for _ in 0..an {
        let Some(next) = skip_name(p, at) else {
            return Answer::Failed("malformed answer".into());
        };
        if next + 10 > p.len() {
            return Answer::Failed("truncated answer".into());
        }
        let rtype = u16::from_be_bytes([p[next], p[next + 1]]);
        let len = u16::from_be_bytes([p[next + 8], p[next + 9]]) as usize;
        let data = next + 10;
        if data + len > p.len() {
            return Answer::Failed("truncated answer".into());
        }
        if rtype == qtype && rtype == TYPE_A && len == 4 {
            return Answer::Found(IpAddr::from([p[data], p[data + 1], p[data + 2], p[data + 3]]));
        }
        if rtype == qtype && rtype == TYPE_AAAA && len == 16 {
            let mut b = [0u8; 16];
            b.copy_from_slice(&p[data..data + 16]);
            return Answer::Found(IpAddr::from(b));
        }
        at = data + len;
    }
    Answer::NoRecord
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(p: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *p.get(at)? as usize;
        if len & 0xc0 == 0xc0 {
            return Some(at + 2);
        }
        if len == 0 {
            return Some(at + 1);
        }
        at += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_skip_every_lookup() {
        assert_eq!(literal("10.1.2.3"), Some(IpAddr::from([10, 1, 2, 3])));
        assert_eq!(literal("[::1]"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        assert_eq!(literal("db"), None);
    }

    #[test]
    fn hosts_file_matches_any_alias_case_insensitively() {
        let text = "127.0.0.1 localhost\n# 10.0.0.9 db\n172.18.0.2\tpostgres DB  # compose\n";
        assert_eq!(from_hosts(text, "db"), Some(IpAddr::from([172, 18, 0, 2])));
        assert_eq!(from_hosts(text, "nope"), None);
    }

    #[test]
    fn resolv_conf_search_and_ndots_order_candidates() {
        let conf = ResolvConf::parse(
            "nameserver 127.0.0.11\nsearch ns.svc.cluster.local svc.cluster.local\noptions ndots:5 timeout:1\n",
        );
        assert_eq!(conf.servers, vec!["127.0.0.11:53".parse().unwrap()]);
        assert_eq!(conf.timeout, Duration::from_secs(1));
        assert_eq!(conf.candidates("db"), ["db.ns.svc.cluster.local", "db.svc.cluster.local", "db"]);
        let plain = ResolvConf::parse("nameserver 1.1.1.1\n");
        assert_eq!(plain.candidates("db.example.org"), ["db.example.org"]);
        assert_eq!(plain.candidates("db"), ["db"]);
    }

    fn answer(id: u16, rcode: u8, records: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = build_query(id, "db.local", TYPE_A).unwrap();
        p[2] |= 0x80;
        p[3] = rcode;
        p[7] = records.len() as u8;
        for (rtype, data) in records {
            p.extend_from_slice(&[0xc0, 12]);
            p.extend_from_slice(&rtype.to_be_bytes());
            p.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            p.extend_from_slice(&(data.len() as u16).to_be_bytes());
            p.extend_from_slice(data);
        }
        p
    }

    #[test]
    fn answers_are_parsed_through_cnames_and_errors() {
        let cname: &[u8] = &[2, b'x', b'y', 0];
        let p = answer(7, 0, &[(5, cname), (TYPE_A, &[10, 0, 0, 5])]);
        assert_eq!(parse_answer(&p, 7, TYPE_A), Answer::Found(IpAddr::from([10, 0, 0, 5])));
        assert_eq!(parse_answer(&p, 8, TYPE_A), Answer::Mismatch);
        assert_eq!(parse_answer(&answer(7, 3, &[]), 7, TYPE_A), Answer::NoRecord);
        assert!(matches!(parse_answer(&answer(7, 2, &[]), 7, TYPE_A), Answer::Failed(_)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn dns_query_reaches_a_name_server_and_reads_its_answer() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = server.recv_from(&mut buf).await {
                let mut reply = buf[..n].to_vec();
                let qtype = u16::from_be_bytes([reply[n - 4], reply[n - 3]]);
                reply[2] |= 0x80;
                if qtype == TYPE_A && reply[12..n].windows(2).any(|w| w == b"db") {
                    reply[7] = 1;
                    reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 192, 0, 2, 7]);
                }
                let _ = server.send_to(&reply, from).await;
            }
        });
        let conf = ResolvConf {
            servers: vec![addr],
            search: vec!["svc".into()],
            ndots: 1,
            timeout: Duration::from_secs(1),
            attempts: 1,
        };
        assert_eq!(lookup_dns("db", &conf).await.unwrap(), IpAddr::from([192, 0, 2, 7]));
    }
}
