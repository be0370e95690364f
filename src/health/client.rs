//! trm-init's own minimal HTTP/1.1 GET, used by the upstream ping and by `trm-init health`.
//!
//! Owns one request on one fresh connection (`Connection: close`) under one deadline, reading at most
//! `MAX_RESPONSE` bytes. It never resolves names (see `target`), starts no process and reads no file,
//! so `trm-init health` works with nothing but the static binary (a shell-less image, an empty
//! chroot). Hand-written on purpose: hyper's client half would add code for no gain on a GET whose
//! answer is a few bytes.

use super::target::Target;
use std::fmt;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// Bytes of the response read at most (head and body together).
pub(crate) const MAX_RESPONSE: usize = 4096;

/// A response: its status and as much of its body as arrived within the bounds.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Why there is no HTTP status.
#[derive(Debug)]
pub(crate) enum GetError {
    Refused,
    Unreachable(io::Error),
    /// No complete response head before the deadline; `silent`: not one byte came back.
    TimedOut {
        limit: Duration,
        silent: bool,
    },
    NotHttp(String),
    HeadTooLarge,
    /// The peer closed; `silent`: before sending anything.
    Closed {
        silent: bool,
    },
    Io(io::Error),
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |d: &Duration| humantime::format_duration(*d).to_string();
        match self {
            GetError::Refused => write!(f, "refused the connection"),
            GetError::Unreachable(e) => write!(f, "cannot be reached: {e}"),
            GetError::TimedOut { limit, silent: true } => write!(f, "did not answer within {}", show(limit)),
            GetError::TimedOut { limit, silent: false } => {
                write!(f, "sent an incomplete answer within {}", show(limit))
            }
            GetError::NotHttp(why) => write!(f, "answered something that is not HTTP ({why})"),
            GetError::HeadTooLarge => write!(f, "answered a response head larger than {MAX_RESPONSE} bytes"),
            GetError::Closed { silent: true } => {
                write!(f, "closed the connection without answering")
            }
            GetError::Closed { silent: false } => {
                write!(f, "closed the connection in the middle of its answer")
            }
            GetError::Io(e) => write!(f, "failed: {e}"),
        }
    }
}

/// GETs `target`. The head must arrive within `limit`; the body is then read until its announced
/// length, the end of the connection, `MAX_RESPONSE`, or `body_wait` (whichever comes first) and may be
/// cut short: a slow body never delays the verdict past `limit`.
pub(crate) async fn get(target: &Target, limit: Duration, body_wait: Duration) -> Result<Reply, GetError> {
    let deadline = Instant::now() + limit;
    let timed_out = |silent| GetError::TimedOut { limit, silent };
    let mut stream = match timeout_at(deadline, connect(&target.addrs)).await {
        Err(_) => return Err(timed_out(true)),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(GetError::Refused),
        Ok(Err(e)) => return Err(GetError::Unreachable(e)),
        Ok(Ok(s)) => s,
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: trm-init\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    match timeout_at(deadline, stream.write_all(request.as_bytes())).await {
        Err(_) => return Err(timed_out(true)),
        Ok(Err(e)) => return Err(GetError::Io(e)),
        Ok(Ok(())) => {}
    }
    let mut buf = Vec::with_capacity(1024);
    let head = loop {
        match parse_head(&buf) {
            Head::Complete(head) => break head,
            Head::Invalid(why) => return Err(GetError::NotHttp(why)),
            Head::Partial if buf.len() >= MAX_RESPONSE => return Err(GetError::HeadTooLarge),
            Head::Partial => {}
        }
        match timeout_at(deadline, read_some(&mut stream, &mut buf)).await {
            Err(_) => return Err(timed_out(buf.is_empty())),
            Ok(Err(e)) => return Err(GetError::Io(e)),
            Ok(Ok(0)) => return Err(GetError::Closed { silent: buf.is_empty() }),
            Ok(Ok(_)) => {}
        }
    };
    let wanted = wanted_len(&head);
    let body_deadline = deadline.min(Instant::now() + body_wait);
    while buf.len() < wanted {
        match timeout_at(body_deadline, read_some(&mut stream, &mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    Ok(Reply { status: head.status, body: body(&head, &buf) })
}

/// How many bytes of the response to read: the head and the announced body, at most `MAX_RESPONSE`
/// (a `Content-Length` near `usize::MAX` must not overflow).
fn wanted_len(head: &ResponseHead) -> usize {
    head.body_start.saturating_add(head.content_length.unwrap_or(MAX_RESPONSE)).min(MAX_RESPONSE)
}

/// The body of a response whose head is `head`, from what was read (`buf`, head included).
pub(crate) fn body(head: &ResponseHead, buf: &[u8]) -> Vec<u8> {
    let end = wanted_len(head).min(buf.len());
    let body = buf.get(head.body_start.min(end)..end).unwrap_or_default();
    if head.chunked {
        dechunk(body)
    } else {
        body.to_vec()
    }
}

async fn connect(addrs: &[std::net::SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 1024];
    let room = MAX_RESPONSE.saturating_sub(buf.len()).min(chunk.len());
    if room == 0 {
        return Ok(0);
    }
    let n = stream.read(&mut chunk[..room]).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

pub(crate) struct ResponseHead {
    status: u16,
    body_start: usize,
    content_length: Option<usize>,
    chunked: bool,
}

pub(crate) enum Head {
    Complete(ResponseHead),
    Partial,
    Invalid(String),
}

pub(crate) fn parse_head(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(body_start)) => {
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .map(str::trim)
            };
            let content_length = header("content-length").and_then(|v| v.parse().ok());
            let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
            match response.code {
                Some(status) => Head::Complete(ResponseHead { status, body_start, content_length, chunked }),
                None => Head::Invalid("no status".into()),
            }
        }
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(e) => Head::Invalid(e.to_string()),
    }
}

/// The data of a chunked body, as far as it is complete.
pub(crate) fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&raw[..eol]).unwrap_or("").split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        let data = &raw[eol + 2..];
        if size == 0 || data.len() < size {
            out.extend_from_slice(&data[..size.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data[..size]);
        raw = data.get(size + 2..).unwrap_or(&[]);
    }
    out
}

/// `trm-init health`'s verdict and its one line of output.
#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) healthy: bool,
    pub(crate) line: String,
}

/// How long the body may take once the status is known.
const PROBE_BODY_WAIT: Duration = Duration::from_millis(250);
/// Characters of the body shown.
const MAX_SHOWN: usize = 512;

/// Probes `target`: healthy only on status 200.
pub(crate) async fn probe(target: &Target, limit: Duration) -> Probe {
    match get(target, limit, PROBE_BODY_WAIT).await {
        Ok(reply) => {
            let healthy = reply.status == 200;
            let verdict = if healthy { "healthy" } else { "unhealthy" };
            let body = String::from_utf8_lossy(&reply.body);
            let shown: String = body.trim().chars().take(MAX_SHOWN).collect();
            let text = if shown.is_empty() {
                format!("{verdict}: {} {target}", reply.status)
            } else {
                format!("{verdict}: {} {shown}", reply.status)
            };
            Probe { healthy, line: one_line(&text) }
        }
        Err(e) => Probe { healthy: false, line: one_line(&format!("unhealthy: {target} {e}")) },
    }
}

/// Printable, on one line, at most 1 KiB (Docker keeps 4 KiB of a probe's output).
pub(crate) fn one_line(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(1024).collect();
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parsing_tells_complete_partial_and_garbage_apart() {
        assert!(
            matches!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), Head::Complete(h) if h.status == 200 && h.content_length == Some(2))
        );
        assert!(matches!(parse_head(b"HTTP/1.1 503 Serv"), Head::Partial));
        assert!(matches!(parse_head(b"SSH-2.0-OpenSSH\r\n"), Head::Invalid(_)));
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(dechunk(b"4\r\npong\r\n0\r\n\r\n"), b"pong");
        assert_eq!(dechunk(b"2\r\npo\r\n2;x=1\r\nng\r\n0\r\n\r\n"), b"pong");
        assert_eq!(dechunk(b"4\r\npo"), b"po");
    }

    #[test]
    fn output_is_one_bounded_line() {
        let line = one_line(&format!("a\nb\r{}", "x".repeat(10_000)));
        assert!(!line.contains('\n') && !line.contains('\r'));
        assert!(line.len() <= 1024);
    }
}
