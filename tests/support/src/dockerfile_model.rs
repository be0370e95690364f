//! The repository's Dockerfile, parsed into stages and instructions, for the tests that check it
//! (tests/dockerfile.rs) and the one that assembles and boots its final stage (tests/image_rehearsal.rs).
//!
//! Owns reading the Dockerfile only: line continuations, comments, flags, exec (JSON) form. It knows
//! the instructions this project uses; it is not a general Dockerfile parser (no ARG expansion, no
//! heredocs, default escape character only).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The repository root (where Cargo.toml is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn load() -> Dockerfile {
    let path = repo().join("Dockerfile");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Dockerfile::parse(&text)
}

#[derive(Debug, Clone)]
pub struct Instruction {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// Upper case: FROM, COPY, RUN, ...
    pub keyword: String,
    /// Leading `--name=value` flags (`--name` alone gives an empty value).
    pub flags: Vec<(String, String)>,
    /// Everything after the flags, continuation lines joined with a space.
    pub rest: String,
}

impl Instruction {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The JSON array of an exec-form instruction, or None for shell form.
    pub fn exec_form(&self) -> Option<Vec<String>> {
        exec_form(&self.rest)
    }

    pub fn words(&self) -> Vec<&str> {
        self.rest.split_whitespace().collect()
    }
}

fn exec_form(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(text).ok()
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub base: String,
    pub name: Option<String>,
    pub instructions: Vec<Instruction>,
}

impl Stage {
    pub fn all(&self, keyword: &str) -> Vec<&Instruction> {
        self.instructions.iter().filter(|i| i.keyword == keyword).collect()
    }

    /// The last instruction of that kind (the one that takes effect for USER, ENTRYPOINT, ...).
    pub fn last(&self, keyword: &str) -> Option<&Instruction> {
        self.instructions.iter().rev().find(|i| i.keyword == keyword)
    }

    pub fn copies(&self) -> Vec<Copy> {
        self.all("COPY").into_iter().map(Copy::from_instruction).collect()
    }

    /// ENV key=value pairs in order (both `ENV K=V K2=V2` and the legacy `ENV K V`).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for i in self.all("ENV") {
            let rest = i.rest.trim();
            let first = rest.split_whitespace().next().unwrap_or("");
            if first.contains('=') {
                for word in split_words(rest) {
                    if let Some((k, v)) = word.split_once('=') {
                        out.push((k.to_string(), v.to_string()));
                    }
                }
            } else if let Some((k, v)) = rest.split_once(char::is_whitespace) {
                out.push((k.to_string(), unquote(v.trim()).to_string()));
            }
        }
        out
    }

    /// The working directory after all WORKDIR instructions (relative ones resolved).
    pub fn workdir(&self) -> Option<String> {
        let mut dir: Option<PathBuf> = None;
        for i in self.all("WORKDIR") {
            let next = PathBuf::from(i.rest.trim());
            dir = Some(match dir {
                Some(d) if next.is_relative() => d.join(next),
                _ => next,
            });
        }
        dir.map(|d| d.to_string_lossy().into_owned())
    }

    pub fn healthcheck(&self) -> Option<Healthcheck> {
        self.last("HEALTHCHECK").map(Healthcheck::from_instruction)
    }
}

/// Splits on whitespace, keeping double-quoted values together and removing the quotes.
fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s)
}

#[derive(Debug, Clone)]
pub struct Copy {
    pub line: usize,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub sources: Vec<String>,
    pub dest: String,
}

impl Copy {
    fn from_instruction(i: &Instruction) -> Copy {
        let mut parts: Vec<String> = i.exec_form().unwrap_or_else(|| split_words(&i.rest));
        assert!(parts.len() >= 2, "line {}: COPY needs a source and a destination", i.line);
        let dest = parts.pop().unwrap_or_default();
        Copy {
            line: i.line,
            from: i.flag("from").map(str::to_string),
            chown: i.flag("chown").map(str::to_string),
            sources: parts,
            dest,
        }
    }

    /// Where `source` lands in the image. A directory's contents go into the destination; a file goes to
    /// the destination itself, or under it by its own name when the destination ends with `/`.
    pub fn target_of(&self, source: &str, source_is_dir: bool) -> String {
        if self.dest.ends_with('/') && !source_is_dir {
            let name = Path::new(source).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            format!("{}{name}", self.dest)
        } else {
            self.dest.trim_end_matches('/').to_string()
        }
    }
}

#[derive(Debug, Clone)]
pub struct Healthcheck {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub retries: Option<u32>,
    /// `CMD [...]` in exec form; None for shell form or NONE.
    pub exec: Option<Vec<String>>,
    pub raw: String,
}

impl Healthcheck {
    fn from_instruction(i: &Instruction) -> Healthcheck {
        let dur = |name: &str| {
            i.flag(name)
                .map(|v| humantime::parse_duration(v).unwrap_or_else(|e| panic!("HEALTHCHECK --{name}={v}: {e}")))
        };
        let rest = i.rest.trim();
        let exec = rest.strip_prefix("CMD").and_then(exec_form);
        Healthcheck {
            interval: dur("interval"),
            timeout: dur("timeout"),
            start_period: dur("start-period"),
            retries: i.flag("retries").and_then(|v| v.parse().ok()),
            exec,
            raw: rest.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let mut stages: Vec<Stage> = Vec::new();
        for instruction in instructions(text) {
            if instruction.keyword == "FROM" {
                let words = instruction.words();
                let base = words.first().copied().unwrap_or("").to_string();
                let name = match words.as_slice() {
                    [_, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Some(name.to_string()),
                    _ => None,
                };
                stages.push(Stage { base, name, instructions: vec![instruction] });
            } else {
                let stage = stages.last_mut().unwrap_or_else(|| {
                    panic!("line {}: {} before the first FROM", instruction.line, instruction.keyword)
                });
                stage.instructions.push(instruction);
            }
        }
        assert!(!stages.is_empty(), "the Dockerfile has no FROM");
        Dockerfile { stages }
    }

    pub fn final_stage(&self) -> &Stage {
        self.stages.last().expect("at least one stage")
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.as_deref() == Some(name))
    }
}

/// Splits the text into instructions: comments dropped (also inside continuations), `\` continuations
/// joined, flags separated from the arguments.
fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_none()) {
            continue;
        }
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        let entry = pending.get_or_insert((n + 1, String::new()));
        if !entry.1.is_empty() {
            entry.1.push(' ');
        }
        entry.1.push_str(body.trim());
        if !continues {
            let (line_no, joined) = pending.take().unwrap_or_default();
            if !joined.trim().is_empty() {
                out.push(split_instruction(line_no, &joined));
            }
        }
    }
    if let Some((line_no, joined)) = pending {
        out.push(split_instruction(line_no, &joined));
    }
    out
}

fn split_instruction(line: usize, text: &str) -> Instruction {
    let text = text.trim();
    let (keyword, mut rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let mut flags = Vec::new();
    loop {
        rest = rest.trim_start();
        let Some(flag) = rest.strip_prefix("--") else {
            break;
        };
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (name, value) = flag[..end].split_once('=').unwrap_or((&flag[..end], ""));
        flags.push((name.to_string(), value.to_string()));
        rest = &flag[end..];
    }
    Instruction { line, keyword: keyword.to_ascii_uppercase(), flags, rest: rest.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_continuations_flags_and_exec_form() {
        let d = Dockerfile::parse(
            "# c\nFROM a:1 AS build\nRUN x \\\n  # inner comment\n  && y\nFROM b:2\nCOPY --from=build /o /usr/bin/o\n\
             HEALTHCHECK --interval=10s --timeout=5s \\\n  CMD [\"/usr/bin/o\", \"health\"]\nENV A=1 B=\"two words\"\n",
        );
        assert_eq!(d.stages.len(), 2);
        assert_eq!(d.stage("build").unwrap().all("RUN")[0].rest, "x && y");
        let f = d.final_stage();
        assert_eq!(f.copies()[0].from.as_deref(), Some("build"));
        let h = f.healthcheck().unwrap();
        assert_eq!(h.exec.unwrap(), ["/usr/bin/o", "health"]);
        assert_eq!(h.timeout, Some(Duration::from_secs(5)));
        assert_eq!(f.env(), [("A".into(), "1".into()), ("B".into(), "two words".into())]);
    }
}
