//! Gives back, once the main child runs, the memory trm-init only needed to start.
//!
//! Owns nothing but a one-shot trim: freed heap goes back to the kernel (`malloc_trim`), and the
//! resident pages of trm-init's own read-only file mappings (code and constants that start-up read
//! through: CLI, configuration, preflight) are dropped from its page tables. Only mappings with no
//! private (copied-on-write) page are touched, so nothing but clean file pages is dropped; any page
//! needed again is faulted back from the page cache. The signal/reap loop never calls this.

use std::fs;

/// Trims the resident set; returns how many kB of mappings were released (for the debug log).
pub(crate) fn trim_after_startup() -> u64 {
    // SAFETY: malloc_trim takes an integer and only returns free heap memory to the kernel.
    unsafe { libc::malloc_trim(0) };
    let Ok(exe) = fs::read_link("/proc/self/exe") else { return 0 };
    let Some(exe) = exe.to_str().map(str::to_owned) else { return 0 };
    let Ok(smaps) = fs::read_to_string("/proc/self/smaps") else { return 0 };
    let mut released = 0;
    for mapping in parse(&smaps).into_iter().filter(|m| m.path == exe && m.read_only && m.anonymous_kb == 0) {
        // SAFETY: the range is a whole mapping of our own executable, read-only and with no private
        // page: MADV_DONTNEED only drops clean page-cache pages, which refault unchanged.
        let rc = unsafe {
            libc::madvise(mapping.start as *mut libc::c_void, mapping.end - mapping.start, libc::MADV_DONTNEED)
        };
        if rc == 0 {
            released += mapping.rss_kb;
        }
    }
    tracing::debug!(released_kb = released, "start-up memory released");
    released
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
            out.push(Mapping {
                start: usize::from_str_radix(start, 16).unwrap_or(0),
                end: usize::from_str_radix(end, 16).unwrap_or(0),
                read_only: !perms.contains('w') && perms.ends_with('p'),
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
        trim_after_startup();
        // Code and constants fault back in: formatting and hashing still work.
        assert_eq!(format!("{:?}", vec![1, 2]), "[1, 2]");
    }
}
