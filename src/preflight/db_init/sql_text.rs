//! SQL text helpers: splitting a no-transaction file into statements, and turning PostgreSQL's error
//! position (a 1-based character index) into line:column.
//!
//! The splitter knows quotes ('', E'', ""), dollar quotes ($$, $tag$), line and nested block comments.
//! It does not know `BEGIN ATOMIC ... END` bodies: keep those in transactional files.

/// The statements of `sql`: (byte offset where the statement's text starts, text without the `;`).
/// Pieces holding only whitespace and comments are left out.
pub(crate) fn statements(sql: &str) -> Vec<(usize, &str)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'\'' => {
                let escapes = i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !is_ident(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes);
                has_code = true;
                continue;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', false);
                has_code = true;
                continue;
            }
            b'$' if i == 0 || !is_ident(b[i - 1]) => {
                if let Some(tag_end) = dollar_tag_end(b, i) {
                    let tag = &b[i..=tag_end];
                    let body = tag_end + 1;
                    i = find(b, body, tag).map(|p| p + tag.len()).unwrap_or(b.len());
                    has_code = true;
                    continue;
                }
            }
            b';' => {
                if has_code {
                    out.push((start, &sql[start..i]));
                }
                start = i + 1;
                has_code = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        if !c.is_ascii_whitespace() {
            has_code = true;
        }
        i += 1;
    }
    if has_code {
        out.push((start, &sql[start..]));
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The index after the closing quote (a doubled quote is part of the text).
fn skip_quoted(b: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < b.len() {
        if backslash_escapes && b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// For `$tag$` starting at `i`, the index of its closing `$`.
fn dollar_tag_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return None; // $1: a parameter
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Line and column (both 1-based) of PostgreSQL's error position `position` (1-based characters).
pub(crate) fn line_col(text: &str, position: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for c in text.chars().take(position.saturating_sub(1)) {
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// Characters in `text[..byte_offset]` (to shift a statement's error position into its file).
pub(crate) fn chars_before(text: &str, byte_offset: usize) -> usize {
    text[..byte_offset].chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        statements(sql).into_iter().map(|(_, s)| s.trim().to_string()).collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let sql = "-- trm-init: no-transaction\nCREATE INDEX CONCURRENTLY a ON t (x);\n\
                   SELECT 'a;b', \"we;ird\", E'it\\'s;';\n\
                   DO $body$ BEGIN PERFORM 1; END $body$;\n/* c; /* nested; */ */ SELECT $$x;y$$;\n-- tail;\n";
        assert_eq!(
            texts(sql),
            [
                "-- trm-init: no-transaction\nCREATE INDEX CONCURRENTLY a ON t (x)",
                "SELECT 'a;b', \"we;ird\", E'it\\'s;'",
                "DO $body$ BEGIN PERFORM 1; END $body$",
                "/* c; /* nested; */ */ SELECT $$x;y$$",
            ]
        );
    }

    #[test]
    fn last_statement_without_semicolon_counts_and_offsets_point_into_the_file() {
        let sql = "SELECT 1;\nSELECT $1::int";
        let parts = statements(sql);
        assert_eq!(parts.len(), 2);
        assert_eq!(&sql[parts[1].0..], parts[1].1);
        assert_eq!(parts[1].1.trim(), "SELECT $1::int");
    }

    #[test]
    fn error_position_becomes_line_and_column() {
        let text = "SELECT 1;\n\nSELEC 2;";
        // PostgreSQL reports position 12 for "SELEC": 1-based character index.
        assert_eq!(line_col(text, 12), (3, 1));
        assert_eq!(line_col(text, 1), (1, 1));
        assert_eq!(line_col("é\nxy", 4), (2, 2), "positions count characters, not bytes");
        assert_eq!(chars_before("éa;b", 4), 3);
    }
}
