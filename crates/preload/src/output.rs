//! Everything the library prints: the one blocked line and the debug lines, each a single raw
//! `write(2)` on stderr (never stdout, never a buffered stream: in a fork or vfork child there is no
//! safe way to flush one), and the redaction of credentials in debug output.

/// Prefix of every debug line (the product page's format).
pub const DEBUG_PREFIX: &str = "rampart_preload: ";
/// Prefix of the line printed when a command is denied.
pub const BLOCKED_PREFIX: &str = "rampart: blocked — ";
/// Longest server message printed; a hostile server cannot flood the terminal.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Writes `line` and a newline to stderr with one `write(2)`, retrying only on EINTR.
pub fn write_stderr_line(line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    loop {
        // SAFETY: the pointer and length describe `bytes`, which outlives the call.
        let written = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        // SAFETY: __errno_location always returns this thread's errno slot.
        if written >= 0 || unsafe { *libc::__errno_location() } != libc::EINTR {
            return;
        }
    }
}

/// The line shown when a command is denied; the message is made into one printable line.
pub fn blocked_line(message: &str) -> String {
    format!("{BLOCKED_PREFIX}{}", one_line(message))
}

pub fn debug_line(text: &str) -> String {
    format!("{DEBUG_PREFIX}{text}")
}

/// Control characters (newlines included) become spaces and the text is capped, so a message can
/// never add lines or terminal escapes of its own.
pub fn one_line(message: &str) -> String {
    let mut out: String = message
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if message.chars().nth(MAX_MESSAGE_CHARS).is_some() {
        out.push('…');
    }
    out
}

const REDACTED: &str = "[REDACTED]";

/// Credential shapes recognised by a prefix and a minimum length of key characters after it.
const KEY_PREFIXES: &[(&str, usize)] = &[
    ("ghp_", 20),
    ("gho_", 20),
    ("ghs_", 20),
    ("sk-", 16),
    ("AKIA", 16),
];

/// Replaces credentials in a command with `[REDACTED]`: bearer tokens, `--password X`,
/// `--password=X`, `-p<pw>`, `token=`/`password=`/`secret=` values and well-known key prefixes
/// (ghp_, gho_, ghs_, xox?-, sk-, AKIA). Quoted values are redacted up to their closing quote.
pub fn redact(command: &str) -> String {
    let bytes = command.as_bytes();
    let mut out = String::with_capacity(command.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        let at_word_start = i == 0 || bytes.get(i - 1).is_some_and(|b| !b.is_ascii_alphanumeric());
        let after_space_or_quote = i == 0
            || bytes
                .get(i - 1)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'\'' || *b == b'"');

        // A keyword whose value follows directly (after the keyword, or after spaces for some).
        let keyword = if at_word_start && starts_with_ignore_case(rest, b"bearer ") {
            Some((b"bearer ".len(), true))
        } else if rest.starts_with(b"--password=") {
            Some(("--password=".len(), false))
        } else if rest.starts_with(b"--password") && rest.get(10).is_some_and(|b| b.is_ascii_whitespace()) {
            Some(("--password".len(), true))
        } else if after_space_or_quote
            && rest.starts_with(b"-p")
            && rest
                .get(2)
                .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'\'' && *b != b'"')
        {
            Some((2, false))
        } else {
            [&b"token="[..], b"password=", b"secret="]
                .iter()
                .find(|k| starts_with_ignore_case(rest, k))
                .map(|k| (k.len(), false))
        };
        if let Some((keyword_len, skip_spaces)) = keyword {
            let mut value_start = i + keyword_len;
            if skip_spaces {
                while bytes.get(value_start).is_some_and(|b| *b == b' ' || *b == b'\t') {
                    value_start += 1;
                }
            }
            let value_end = value_end(bytes, value_start);
            if value_end > value_start {
                out.push_str(command.get(i..value_start).unwrap_or_default());
                out.push_str(REDACTED);
                i = value_end;
                continue;
            }
        }

        if at_word_start && let Some(end) = key_end(bytes, i) {
            out.push_str(REDACTED);
            i = end;
            continue;
        }

        // Copy one whole character (commands may hold any UTF-8).
        let char_len = command
            .get(i..)
            .and_then(|r| r.chars().next())
            .map_or(1, char::len_utf8);
        out.push_str(command.get(i..i + char_len).unwrap_or_default());
        i += char_len;
    }
    out
}

fn starts_with_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .get(..needle.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(needle))
}

/// End of a value starting at `start`: a quoted value runs to its closing quote, a bare one to the
/// next whitespace or quote.
fn value_end(bytes: &[u8], start: usize) -> usize {
    match bytes.get(start) {
        Some(quote @ (b'\'' | b'"')) => bytes
            .iter()
            .skip(start + 1)
            .position(|b| b == quote)
            .map_or(bytes.len(), |offset| start + 1 + offset + 1),
        _ => bytes
            .iter()
            .skip(start)
            .position(|b| b.is_ascii_whitespace() || *b == b'\'' || *b == b'"')
            .map_or(bytes.len(), |offset| start + offset),
    }
}

/// If a known API key starts at `start`, where it ends.
fn key_end(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = bytes.get(start..)?;
    let is_key_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-';
    let run_after = |prefix_len: usize| {
        rest.iter()
            .skip(prefix_len)
            .take_while(|b| is_key_char(b))
            .count()
    };
    for (prefix, min_len) in KEY_PREFIXES {
        if rest.starts_with(prefix.as_bytes()) {
            let run = run_after(prefix.len());
            if run >= *min_len {
                return Some(start + prefix.len() + run);
            }
        }
    }
    // Slack tokens: xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, ...
    if rest.starts_with(b"xox")
        && rest.get(3).is_some_and(u8::is_ascii_lowercase)
        && rest.get(4) == Some(&b'-')
    {
        let run = run_after(5);
        if run >= 10 {
            return Some(start + 5 + run);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers_are_redacted() {
        assert_eq!(
            redact("curl -H 'Authorization: Bearer abc.def' https://x"),
            "curl -H 'Authorization: Bearer [REDACTED]' https://x"
        );
        assert_eq!(
            redact("curl -H \"authorization: bearer xyz\""),
            "curl -H \"authorization: bearer [REDACTED]\""
        );
    }

    #[test]
    fn password_flags_are_redacted() {
        assert_eq!(
            redact("mysql --password hunter2 db"),
            "mysql --password [REDACTED] db"
        );
        assert_eq!(
            redact("mysql --password=hunter2 db"),
            "mysql --password=[REDACTED] db"
        );
        assert_eq!(
            redact("mysql --password 'two words' db"),
            "mysql --password [REDACTED] db"
        );
        assert_eq!(
            redact("mysql -uroot -phunter2 db"),
            "mysql -uroot -p[REDACTED] db"
        );
    }

    #[test]
    fn lone_dash_p_is_not_a_password() {
        assert_eq!(redact("mkdir -p /tmp/x"), "mkdir -p /tmp/x");
        assert_eq!(redact("cp -a x y"), "cp -a x y");
    }

    #[test]
    fn token_assignments_are_redacted() {
        assert_eq!(
            redact("curl https://x/?token=abc123&x=1 -o f"),
            "curl https://x/?token=[REDACTED] -o f"
        );
        assert_eq!(redact("GITHUB_TOKEN=abc make"), "GITHUB_TOKEN=[REDACTED] make");
        assert_eq!(redact("env DB_PASSWORD=pw run"), "env DB_PASSWORD=[REDACTED] run");
    }

    #[test]
    fn known_key_prefixes_are_redacted() {
        let ghp = format!("ghp_{}", "a".repeat(36));
        assert_eq!(
            redact(&format!("git clone https://{ghp}@github.com/x")),
            "git clone https://[REDACTED]@github.com/x"
        );
        assert_eq!(redact(&format!("echo sk-{}", "Z9".repeat(12))), "echo [REDACTED]");
        assert_eq!(
            redact("aws --key AKIAABCDEFGHIJKLMNOP s3 ls"),
            "aws --key [REDACTED] s3 ls"
        );
        assert_eq!(redact("slack xoxb-1234567890-abcdef"), "slack [REDACTED]");
    }

    #[test]
    fn ordinary_words_that_look_like_prefixes_stay() {
        assert_eq!(redact("pip install sk-learn"), "pip install sk-learn");
        assert_eq!(redact("echo task-runner risk-free"), "echo task-runner risk-free");
        assert_eq!(redact("ls -la /tmp"), "ls -la /tmp");
        assert_eq!(redact("echo héllo wörld"), "echo héllo wörld");
    }

    #[test]
    fn blocked_line_is_one_printable_line() {
        assert_eq!(
            blocked_line("Destructive command blocked"),
            "rampart: blocked — Destructive command blocked"
        );
        assert_eq!(blocked_line("a\nb\r\x1b[31mc"), "rampart: blocked — a b  [31mc");
        let long = "x".repeat(5000);
        assert_eq!(
            blocked_line(&long).chars().count(),
            BLOCKED_PREFIX.chars().count() + MAX_MESSAGE_CHARS + 1
        );
    }

    #[test]
    fn debug_lines_carry_the_prefix() {
        assert_eq!(debug_line("decision: allow"), "rampart_preload: decision: allow");
    }
}
