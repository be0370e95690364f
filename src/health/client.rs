//! The one-shot probe behind `trm-init health`: GET a URL, healthy only on status 200.
//!
//! Owns the probe's request, its single deadline, and its one line of output. It reads at most
//! `MAX_RESPONSE` bytes, never resolves names (see `target`), starts no process and reads no file, so it
//! works with nothing but the static binary (a shell-less image, an empty chroot).

use super::target::Target;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// Bytes of the response read at most (head and body together).
const MAX_RESPONSE: usize = 4096;
/// Bytes of the body shown in the output line.
const MAX_SHOWN: usize = 512;
/// How long the body may take once the status is known.
const BODY_WAIT: Duration = Duration::from_millis(250);

/// The probe's verdict and the line to print.
#[derive(Debug)]
pub struct Probe {
    pub healthy: bool,
    pub line: String,
}

/// GETs `target` within `limit` (connect, request and response head together).
pub async fn probe(target: &Target, limit: Duration) -> Probe {
    let deadline = Instant::now() + limit;
    let fail = |what: String| Probe { healthy: false, line: one_line(&format!("unhealthy: {target} {what}")) };
    let mut stream = match timeout_at(deadline, connect(&target.addrs)).await {
        Err(_) => return fail(format!("did not accept a connection within {}", show(limit))),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => return fail("refused the connection".into()),
        Ok(Err(e)) => return fail(format!("cannot be reached: {e}")),
        Ok(Ok(s)) => s,
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: trm-init-health\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    match timeout_at(deadline, stream.write_all(request.as_bytes())).await {
        Err(_) => return fail(format!("did not take the request within {}", show(limit))),
        Ok(Err(e)) => return fail(format!("closed the connection: {e}")),
        Ok(Ok(())) => {}
    }
    let mut buf = Vec::with_capacity(MAX_RESPONSE);
    let head = loop {
        match parse_head(&buf) {
            Head::Complete(head) => break head,
            Head::Invalid(why) => return fail(format!("answered something that is not HTTP ({why})")),
            Head::Partial if buf.len() >= MAX_RESPONSE => {
                return fail(format!("answered a response head larger than {MAX_RESPONSE} bytes"))
            }
            Head::Partial => {}
        }
        match timeout_at(deadline, read_some(&mut stream, &mut buf)).await {
            Err(_) if buf.is_empty() => return fail(format!("did not answer within {}", show(limit))),
            Err(_) => return fail(format!("sent an incomplete answer within {}", show(limit))),
            Ok(Err(e)) => return fail(format!("failed while answering: {e}")),
            Ok(Ok(0)) if buf.is_empty() => return fail("closed the connection without answering".into()),
            Ok(Ok(0)) => return fail("closed the connection in the middle of its answer".into()),
            Ok(Ok(_)) => {}
        }
    };
    // The verdict is the status alone; the body is only shown. Read what is announced, within the
    // size bound and a short wait, so a slow or endless body neither changes nor delays the verdict.
    let deadline = deadline.min(Instant::now() + BODY_WAIT);
    let wanted = head.body_start + head.content_length.unwrap_or(MAX_RESPONSE).min(MAX_RESPONSE);
    while buf.len() < wanted.min(MAX_RESPONSE) {
        match timeout_at(deadline, read_some(&mut stream, &mut buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => break,
        }
    }
    let end = wanted.min(buf.len());
    let body = String::from_utf8_lossy(&buf[head.body_start.min(end)..end]);
    let body = body.trim();
    let shown: String = body.chars().take(MAX_SHOWN).collect();
    let healthy = head.status == 200;
    let verdict = if healthy { "healthy" } else { "unhealthy" };
    let text = if shown.is_empty() { format!("{verdict}: {} {target}", head.status) } else { format!("{verdict}: {} {shown}", head.status) };
    Probe { healthy, line: one_line(&text) }
}

async fn connect(addrs: &[std::net::SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn read_some(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 1024];
    let room = (MAX_RESPONSE - buf.len().min(MAX_RESPONSE)).min(chunk.len());
    if room == 0 {
        return Ok(0);
    }
    let n = stream.read(&mut chunk[..room]).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

struct ResponseHead {
    status: u16,
    body_start: usize,
    content_length: Option<usize>,
}

enum Head {
    Complete(ResponseHead),
    Partial,
    Invalid(String),
}

fn parse_head(buf: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(body_start)) => {
            let content_length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
            match response.code {
                Some(status) => Head::Complete(ResponseHead { status, body_start, content_length }),
                None => Head::Invalid("no status".into()),
            }
        }
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(e) => Head::Invalid(e.to_string()),
    }
}

fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Printable, on one line, at most 1 KiB (Docker keeps 4 KiB of a probe's output).
fn one_line(text: &str) -> String {
    let mut out: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(1024).collect();
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parsing_tells_complete_partial_and_garbage_apart() {
        assert!(matches!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), Head::Complete(h) if h.status == 200 && h.content_length == Some(2)));
        assert!(matches!(parse_head(b"HTTP/1.1 503 Serv"), Head::Partial));
        assert!(matches!(parse_head(b"SSH-2.0-OpenSSH\r\n"), Head::Invalid(_)));
    }

    #[test]
    fn output_is_one_bounded_line() {
        let line = one_line(&format!("a\nb\r{}", "x".repeat(10_000)));
        assert!(!line.contains('\n') && !line.contains('\r'));
        assert!(line.len() <= 1024);
    }
}
