//! Gives back the memory trm-init only needed to start, and what a burst of health traffic faulted in.
//!
//! Owns the memory thread (`trm-memory`) and every trim: freed heap goes back to the kernel
//! (`malloc_trim`), and the resident pages of trm-init's own read-only file mappings (code and
//! constants that start-up read through: CLI, configuration, preflight) are dropped from its page
//! tables (`MADV_DONTNEED`). Only mappings with no private (copied-on-write) page are touched, so
//! nothing but clean file pages is dropped; any page needed again is faulted back from the page cache.
//!
//! Why a thread of its own: code that runs after a trim faults back in whole blocks (64 KiB
//! fault-around, 128 KiB page-cache folios here), not pages; `MADV_RANDOM` does not change that on this
//! kernel (measured, see docs/benchmarks.md). Trimmed from the runtime's thread, the way back to
//! `epoll_wait` refaulted ~830 kB of code. The runtime's thread now only writes a request to a pipe and
//! goes back to sleep; this thread trims, waits `SETTLE`, trims the same mappings again (taking back what
//! the requester's path faulted in meanwhile), and blocks in `read` on its pipe: what stays resident is
//! this thread's own short path back to sleep. Never on the signal or reap path, never blocks a caller,
//! never panics: a failure is logged at debug and the trim skipped.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;
use std::time::Duration;
use thiserror::Error;

/// How long after a trim the same mappings are trimmed once more.
const SETTLE: Duration = Duration::from_secs(1);
/// The memory thread's stack: it parses `/proc/self/smaps` and logs, nothing deep.
const STACK: usize = 128 * 1024;

#[derive(Debug, Error)]
pub(crate) enum MemoryError {
    #[error("cannot read {what}: {source}")]
    Proc { what: &'static str, source: std::io::Error },
    #[error("{0} is not UTF-8")]
    ExePath(String),
    #[error("madvise(MADV_DONTNEED) on {start:#x}-{end:#x} failed: {source}")]
    Advise { start: usize, end: usize, source: std::io::Error },
    #[error("cannot start the memory thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot ask the memory thread to trim: {0}")]
    Request(std::io::Error),
}

/// Asks the memory thread to trim `after` from now (starting the thread on first use). Returns at once.
pub(crate) fn trim_later(after: Duration) {
    if let Err(e) = request(after) {
        tracing::debug!(error = %e, "memory trim skipped");
    }
}

fn request(after: Duration) -> Result<(), MemoryError> {
    static THREAD: OnceLock<Result<Pipe, String>> = OnceLock::new();
    let pipe = THREAD.get_or_init(|| spawn().map_err(|e| e.to_string()));
    let fd = &pipe.as_ref().map_err(|e| MemoryError::Thread(std::io::Error::other(e.clone())))?.write;
    let millis = u64::try_from(after.as_millis()).unwrap_or(u64::MAX).to_ne_bytes();
    // SAFETY: writes 8 bytes from a live buffer to our own pipe; a full pipe (EAGAIN) means trims are
    // already pending, which serve this request too.
    let n = unsafe { libc::write(fd.as_raw_fd(), millis.as_ptr().cast(), millis.len()) };
    if n == millis.len() as isize {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::WouldBlock {
        Ok(())
    } else {
        Err(MemoryError::Request(e))
    }
}

/// The memory thread's request pipe. Both ends live as long as the process (in a static): a write never
/// meets a closed read end, so it can never raise SIGPIPE (which trm-init would forward to the child).
struct Pipe {
    write: OwnedFd,
    _read: OwnedFd,
}

/// Starts the memory thread; returns its request pipe.
fn spawn() -> Result<Pipe, MemoryError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two-element array; both ends are close-on-exec (the child never sees them).
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(MemoryError::Thread(std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own; a blocking write end would only ever wait for the thread.
    unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    std::thread::Builder::new()
        .name("trm-memory".into())
        .stack_size(STACK)
        .spawn({
            let fd = read.as_raw_fd();
            move || serve(fd)
        })
        .map_err(MemoryError::Thread)?;
    Ok(Pipe { write, _read: read })
}

/// The memory thread: one request at a time, for the life of the process (`requests` is `Pipe`'s read
/// end, which the static keeps open).
fn serve(requests: RawFd) {
    while let Some(after) = next_request(requests) {
        std::thread::sleep(after);
        let ranges = match trim() {
            Ok((ranges, released_kb)) => {
                tracing::debug!(released_kb, settle = ?SETTLE, "memory released; trimming again once settled");
                ranges
            }
            Err(e) => {
                tracing::debug!(error = %e, "memory trim failed");
                continue;
            }
        };
        std::thread::sleep(SETTLE);
        // The same mappings again: read-only, so still free of private pages. What runs after the last
        // madvise is only this loop and the `read` in `next_request`: no log line, no std I/O.
        release(&ranges);
    }
}

/// Blocks for the next request (a delay in ms); None when the pipe is closed or fails.
fn next_request(requests: RawFd) -> Option<Duration> {
    let mut buf = [0u8; 8];
    loop {
        // SAFETY: reads at most 8 bytes into a live 8-byte buffer from our own pipe. The raw `syscall`,
        // as in `drop_pages`: after the last trim only it and this loop run (libc's `read` would add its
        // cancellation-point machinery, elsewhere in the binary).
        let n = unsafe { libc::syscall(libc::SYS_read, requests, buf.as_mut_ptr(), buf.len()) };
        if n == buf.len() as libc::c_long {
            return Some(Duration::from_millis(u64::from_ne_bytes(buf)));
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// Trims the resident set now; returns the mappings trimmed and how many kB of them were resident.
pub(crate) fn trim() -> Result<(Vec<Range>, u64), MemoryError> {
    let exe = fs::read_link("/proc/self/exe").map_err(|source| MemoryError::Proc { what: "/proc/self/exe", source })?;
    let exe = exe.to_str().map(str::to_owned).ok_or_else(|| MemoryError::ExePath(exe.display().to_string()))?;
    let smaps = fs::read_to_string("/proc/self/smaps")
        .map_err(|source| MemoryError::Proc { what: "/proc/self/smaps", source })?;
    let mappings: Vec<Mapping> =
        parse(&smaps).into_iter().filter(|m| m.path == exe && m.read_only && m.anonymous_kb == 0).collect();
    let released = mappings.iter().map(|m| m.rss_kb).sum();
    let ranges: Vec<Range> = mappings.iter().map(|m| Range { start: m.start, end: m.end }).collect();
    release(&ranges);
    Ok((ranges, released))
}

/// Free heap back to the kernel, then the ranges' pages out of our page tables.
fn release(ranges: &[Range]) {
    // SAFETY: malloc_trim takes an integer and only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    for range in ranges {
        if let Err(e) = range.drop_pages() {
            tracing::debug!(error = %e, "memory trim failed");
        }
    }
}

/// A whole read-only mapping of our own executable with no private page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Range {
    start: usize,
    end: usize,
}

impl Range {
    fn drop_pages(&self) -> Result<(), MemoryError> {
        // SAFETY: the range is a whole mapping of our own executable, read-only and with no private
        // page: MADV_DONTNEED only drops clean page-cache pages, which refault unchanged. The raw
        // `syscall` (not libc's `madvise` wrapper): the code that runs after the trim stays in one place.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_madvise,
                self.start as *mut libc::c_void,
                self.end - self.start,
                libc::MADV_DONTNEED,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(MemoryError::Advise { start: self.start, end: self.end, source: std::io::Error::last_os_error() })
        }
    }
}

struct Mapping {
    start: usize,
    end: usize,
    read_only: bool,
    path: String,
    rss_kb: u64,
    anonymous_kb: u64,
}

fn parse(smaps: &str) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').filter(|(s, _)| usize::from_str_radix(s, 16).is_ok()) {
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("").to_string();
            let (start, end) =
                (usize::from_str_radix(start, 16).unwrap_or(0), usize::from_str_radix(end, 16).unwrap_or(0));
            out.push(Mapping {
                start,
                end,
                // An unparsable end is never advised (an empty or inverted range).
                read_only: !perms.contains('w') && perms.ends_with('p') && end > start,
                path,
                rss_kb: 0,
                anonymous_kb: u64::MAX, // unknown until its Anonymous: line is read
            });
        } else if let Some(m) = out.last_mut() {
            let mut value = || fields.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(u64::MAX);
            match first {
                "Rss:" => m.rss_kb = value(),
                "Anonymous:" => m.anonymous_kb = value(),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_mappings_qualify() {
        let smaps = "\
00400000-00500000 r-xp 00000000 fe:01 12 /bin/x
Rss:                 900 kB
Anonymous:             0 kB
00600000-00601000 r--p 00100000 fe:01 12 /bin/x
Rss:                   4 kB
Anonymous:             4 kB
00601000-00602000 rw-p 00101000 fe:01 12 /bin/x
Rss:                   4 kB
Anonymous:             4 kB
";
        let maps = parse(smaps);
        let ok: Vec<bool> = maps.iter().map(|m| m.read_only && m.anonymous_kb == 0).collect();
        assert_eq!(ok, [true, false, false]);
        assert_eq!(maps[0].rss_kb, 900);
        assert_eq!((maps[0].start, maps[0].end), (0x400000, 0x500000));
    }

    #[test]
    fn trimming_our_own_process_keeps_it_working() {
        let (ranges, _) = trim().expect("trim of the test binary");
        assert!(!ranges.is_empty(), "the test binary's code mapping qualifies");
        // Code and constants fault back in: formatting and hashing still work.
        assert_eq!(format!("{:?}", vec![1, 2]), "[1, 2]");
        release(&ranges);
        assert_eq!(format!("{:?}", vec![3]), "[3]");
    }

    #[test]
    fn a_range_that_is_not_mapped_is_an_error_not_a_panic() {
        // Page-aligned, below the non-PIE static image at 0x400000, where nothing is mapped: ENOMEM.
        let range = Range { start: 0x10_0000, end: 0x11_0000 };
        assert!(matches!(range.drop_pages(), Err(MemoryError::Advise { .. })));
    }
}
