//! What the policy server is asked about: argv rendered as one POSIX-shell-quoted string, with a
//! truthful first word, and the executable a PATH search will really run.

use std::borrow::Cow;

/// Characters that never need quoting in a POSIX shell word.
fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&byte)
}

/// Characters that keep a special meaning inside double quotes (and `!`, history expansion in
/// interactive bash): a word holding one is single-quoted instead.
fn needs_single_quotes(byte: u8) -> bool {
    b"$`\"\\!".contains(&byte)
}

/// Quotes one word for a POSIX shell: plain words stay bare, others are double-quoted (the product
/// page's `/bin/bash -c "ls -la"`) unless they hold `$ \` " \ !`, then single-quoted with `'\''`.
/// The first word also quotes `=` (a bare `a=b` would be an assignment). Invalid UTF-8 is shown
/// with U+FFFD.
pub fn quote_word(word: &[u8], first: bool) -> String {
    let mut out = String::new();
    push_quoted(&mut out, word, first);
    out
}

/// `quote_word` appended to `out`, without a temporary string per word.
fn push_quoted(out: &mut String, word: &[u8], first: bool) {
    let text = String::from_utf8_lossy(word);
    let plain = !word.is_empty() && word.iter().all(|b| is_plain(*b)) && !(first && word.contains(&b'='));
    if plain {
        out.push_str(&text);
    } else if !word.iter().any(|b| needs_single_quotes(*b)) {
        out.push('"');
        out.push_str(&text);
        out.push('"');
    } else {
        out.push('\'');
        for (index, part) in text.split('\'').enumerate() {
            if index > 0 {
                out.push_str("'\\''");
            }
            out.push_str(part);
        }
        out.push('\'');
    }
}

/// Renders a command line: every word quoted for a POSIX shell, separated by single spaces.
pub fn render<'a>(words: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut out = String::with_capacity(256);
    for (index, word) in words.into_iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        push_quoted(&mut out, word, index == 0);
    }
    out
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|b| *b == b'/').next().unwrap_or(path)
}

/// The first word to show: argv[0] when it truthfully names the executable, else the real path.
///
/// argv[0] is a free-form string (`exec -a`, login shells, spoofing): it is kept only when its
/// basename is the executable's and, if it holds a `/`, it is that path or the same file
/// (`same_file` compares two paths on disk).
pub fn first_word<'a>(
    argv0: Option<&'a [u8]>,
    executable: &'a [u8],
    same_file: impl Fn(&[u8], &[u8]) -> bool,
) -> &'a [u8] {
    match argv0 {
        Some(name) if !name.is_empty() && basename(name) == basename(executable) => {
            if !name.contains(&b'/') || name == executable || same_file(name, executable) {
                name
            } else {
                executable
            }
        }
        _ => executable,
    }
}

/// Whether a file could be executed, as far as the kernel's permission checks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Executable,
    /// Not executable; the errno an exec of it would fail with (ENOENT, EACCES, ENOTDIR, ...).
    Fails(i32),
}

/// Outcome of a PATH search.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution<'a> {
    /// The executable a PATH search runs (the file itself when it holds a `/`).
    Found(Cow<'a, [u8]>),
    /// Nothing to run; the errno execvp would fail with.
    NotFound(i32),
}

/// glibc's default search path when PATH is unset.
pub const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Searches `path_var` for `file` as execvp does (an empty entry is the current directory),
/// taking the first candidate that `probe` finds executable. As with execvp, the error is EACCES if
/// some candidate existed but could not be executed, else ENOENT.
pub fn resolve_in_path<'a>(
    file: &'a [u8],
    path_var: &[u8],
    probe: impl Fn(&[u8]) -> Probe,
) -> Resolution<'a> {
    if file.is_empty() {
        return Resolution::NotFound(libc::ENOENT);
    }
    if file.contains(&b'/') {
        return match probe(file) {
            Probe::Executable => Resolution::Found(Cow::Borrowed(file)),
            Probe::Fails(errno) => Resolution::NotFound(errno),
        };
    }
    let mut saw_eacces = false;
    for dir in path_var.split(|b| *b == b':') {
        let mut candidate = Vec::with_capacity(dir.len() + 1 + file.len());
        if dir.is_empty() {
            candidate.extend_from_slice(b"./");
        } else {
            candidate.extend_from_slice(dir);
            if !dir.ends_with(b"/") {
                candidate.push(b'/');
            }
        }
        candidate.extend_from_slice(file);
        match probe(&candidate) {
            Probe::Executable => return Resolution::Found(Cow::Owned(candidate)),
            Probe::Fails(libc::EACCES) => saw_eacces = true,
            Probe::Fails(_) => {}
        }
    }
    Resolution::NotFound(if saw_eacces { libc::EACCES } else { libc::ENOENT })
}

/// The value of `name` in a list of `KEY=VALUE` entries (the first occurrence, as getenv): the
/// settings parser's own lookup, so PATH and RAMPART_* are found by one rule.
pub use rampart_settings::lookup_var;

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> String {
        render(list.iter().map(|w| w.as_bytes()))
    }

    #[test]
    fn plain_words_stay_bare_and_spaces_get_double_quotes() {
        assert_eq!(words(&["/bin/bash", "-c", "ls -la"]), "/bin/bash -c \"ls -la\"");
        assert_eq!(
            words(&["git", "commit", "-m", "fix it"]),
            "git commit -m \"fix it\""
        );
        assert_eq!(
            words(&["ls", "--color=auto", "a,b", "x@y:z"]),
            "ls --color=auto a,b x@y:z"
        );
    }

    #[test]
    fn shell_specials_are_single_quoted() {
        assert_eq!(words(&["echo", "$HOME"]), "echo '$HOME'");
        assert_eq!(words(&["echo", "it's $x"]), "echo 'it'\\''s $x'");
        assert_eq!(
            words(&["sh", "-c", "rm -rf / ; echo `id`"]),
            "sh -c 'rm -rf / ; echo `id`'"
        );
        assert_eq!(words(&["echo", "a\"b"]), "echo 'a\"b'");
        assert_eq!(words(&["echo", "back\\slash"]), "echo 'back\\slash'");
    }

    #[test]
    fn globs_and_operators_are_quoted() {
        assert_eq!(words(&["ls", "*.rs"]), "ls \"*.rs\"");
        assert_eq!(words(&["echo", "a;b", "x|y", "~"]), "echo \"a;b\" \"x|y\" \"~\"");
        assert_eq!(words(&["echo", "line\nbreak"]), "echo \"line\nbreak\"");
    }

    #[test]
    fn empty_words_and_assignment_like_first_words_are_quoted() {
        assert_eq!(words(&["printf", ""]), "printf \"\"");
        assert_eq!(words(&["a=b", "c=d"]), "\"a=b\" c=d");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(render([&b"echo"[..], &[0xff, b'a'][..]]), "echo \"\u{fffd}a\"");
    }

    #[test]
    fn truthful_argv0_is_kept() {
        let never = |_: &[u8], _: &[u8]| false;
        assert_eq!(first_word(Some(b"ls"), b"/usr/bin/ls", never), b"ls");
        assert_eq!(
            first_word(Some(b"/usr/bin/ls"), b"/usr/bin/ls", never),
            b"/usr/bin/ls"
        );
        assert_eq!(
            first_word(Some(b"/bin/ls"), b"/usr/bin/ls", |_, _| true),
            b"/bin/ls"
        );
    }

    #[test]
    fn spoofed_or_missing_argv0_is_replaced_by_the_real_path() {
        let never = |_: &[u8], _: &[u8]| false;
        assert_eq!(first_word(Some(b"ls"), b"/bin/rm", never), b"/bin/rm");
        assert_eq!(first_word(Some(b"/tmp/evil/rm"), b"/bin/rm", never), b"/bin/rm");
        assert_eq!(first_word(Some(b"-bash"), b"/bin/bash", never), b"/bin/bash");
        assert_eq!(first_word(Some(b""), b"/bin/true", never), b"/bin/true");
        assert_eq!(first_word(None, b"/bin/true", never), b"/bin/true");
    }

    fn only(executables: &'static [&'static str]) -> impl Fn(&[u8]) -> Probe {
        move |path| {
            if executables.iter().any(|e| e.as_bytes() == path) {
                Probe::Executable
            } else if path.starts_with(b"/noexec/") {
                Probe::Fails(libc::EACCES)
            } else {
                Probe::Fails(libc::ENOENT)
            }
        }
    }

    #[test]
    fn path_search_takes_the_first_executable_candidate() {
        let probe = only(&["/usr/bin/tool", "/opt/bin/tool"]);
        assert_eq!(
            resolve_in_path(b"tool", b"/usr/local/bin:/opt/bin:/usr/bin", &probe),
            Resolution::Found(Cow::Owned(b"/opt/bin/tool".to_vec()))
        );
        assert_eq!(
            resolve_in_path(b"tool", b"/usr/bin/", &probe),
            Resolution::Found(Cow::Owned(b"/usr/bin/tool".to_vec()))
        );
    }

    #[test]
    fn empty_path_entry_means_current_directory() {
        let probe = only(&["./tool"]);
        assert_eq!(
            resolve_in_path(b"tool", b"/nope:", &probe),
            Resolution::Found(Cow::Owned(b"./tool".to_vec()))
        );
    }

    #[test]
    fn names_with_a_slash_are_not_searched() {
        let probe = only(&["./run.sh"]);
        assert_eq!(
            resolve_in_path(b"./run.sh", b"/bin", &probe),
            Resolution::Found(Cow::Borrowed(&b"./run.sh"[..]))
        );
        assert_eq!(
            resolve_in_path(b"./missing", b"/bin", &probe),
            Resolution::NotFound(libc::ENOENT)
        );
    }

    #[test]
    fn nothing_found_reports_eacces_only_when_a_candidate_existed() {
        let probe = only(&[]);
        assert_eq!(
            resolve_in_path(b"tool", b"/a:/b", &probe),
            Resolution::NotFound(libc::ENOENT)
        );
        assert_eq!(
            resolve_in_path(b"tool", b"/a:/noexec", &probe),
            Resolution::NotFound(libc::EACCES)
        );
        assert_eq!(
            resolve_in_path(b"", b"/a", &probe),
            Resolution::NotFound(libc::ENOENT)
        );
    }
}
