//! The configuration snapshot, read once from the environment when the library loads.
//!
//! Hooks never call getenv: Node replaces `environ` with the child's environment before execvp,
//! and an agent may strip or change RAMPART_* for its children. Parsing is pure
//! (`Config::from_env`) so every rule is unit-tested; `crate::state` publishes the result.

use std::fmt;

use crate::command;
use crate::env::{GUARDED_VARS, PRELOAD_VAR, Snapshot};

pub const DEFAULT_URL: &str = "http://127.0.0.1:9090";
pub const DEFAULT_AGENT: &str = "preload";
pub const PREFLIGHT_PATH: &str = "/v1/preflight/exec";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Ask, and block what the server denies.
    Enforce,
    /// Ask (so the server audits), never block.
    Monitor,
    /// Never ask.
    Disabled,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
            Mode::Disabled => "disabled",
        }
    }
}

/// Why RAMPART_URL cannot be used. Every one of these denies in enforce mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlProblem {
    /// `user:password@` in the URL: credentials belong in RAMPART_TOKEN.
    Credentials,
    /// A scheme other than http/https.
    Scheme(String),
    /// https needs TLS, which this build leaves out (keeps the library small; the server is local).
    HttpsUnsupported,
    /// Not a URL at all; what is wrong.
    Invalid(&'static str),
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlProblem::Credentials => write!(
                f,
                "RAMPART_URL must not contain user:password@ (use RAMPART_TOKEN)"
            ),
            UrlProblem::Scheme(scheme) => write!(f, "RAMPART_URL scheme \"{scheme}\" is not http or https"),
            UrlProblem::HttpsUnsupported => {
                write!(f, "RAMPART_URL uses https, which librampart.so does not support")
            }
            UrlProblem::Invalid(what) => write!(f, "RAMPART_URL is invalid: {what}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// RAMPART_URL as given (or the default), for messages.
    pub url: String,
    /// The full preflight URL, or why RAMPART_URL cannot be used.
    pub endpoint: Result<String, UrlProblem>,
    pub token: Option<String>,
    pub mode: Mode,
    pub fail_open: bool,
    pub agent: String,
    pub session: String,
    pub debug: bool,
    /// Problems with the variables (unknown mode, ...), printed as debug lines.
    pub notes: Vec<String>,
    /// Load-time values the cascade restores in children.
    pub snapshot: Snapshot,
}

impl Config {
    /// Builds the configuration from `KEY=VALUE` entries (the environment at load), the process id
    /// (for the default session) and the path this library was loaded from.
    pub fn from_env(entries: &[&[u8]], pid: u32, library_path: &[u8]) -> Config {
        let lookup = |name: &[u8]| command::lookup_var(entries.iter().copied(), name);
        let var = |name: &str| lookup(name.as_bytes()).map(|v| String::from_utf8_lossy(v).into_owned());
        let non_empty = |name: &str| var(name).filter(|v| !v.is_empty());
        let mut notes = Vec::new();

        let url = non_empty("RAMPART_URL").unwrap_or_else(|| DEFAULT_URL.to_string());
        let endpoint = check_url(&url).map(|base| format!("{base}{PREFLIGHT_PATH}"));

        let mode = match non_empty("RAMPART_MODE")
            .map(|m| m.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("enforce") => Mode::Enforce,
            Some("monitor") => Mode::Monitor,
            Some("disabled") => Mode::Disabled,
            Some(other) => {
                notes.push(format!(
                    "RAMPART_MODE \"{other}\" is not enforce, monitor or disabled; using enforce"
                ));
                Mode::Enforce
            }
        };

        let fail_open = match non_empty("RAMPART_FAIL_OPEN")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None => true,
            Some(value) => parse_flag(value).unwrap_or_else(|| {
                notes.push(format!(
                    "RAMPART_FAIL_OPEN \"{value}\" is not 1 or 0; failing closed"
                ));
                false
            }),
        };

        let debug =
            non_empty("RAMPART_DEBUG").is_some_and(|v| parse_flag(&v.to_ascii_lowercase()) == Some(true));

        let snapshot = Snapshot {
            vars: GUARDED_VARS
                .iter()
                .map(|name| (*name, lookup(name.as_bytes()).map(<[u8]>::to_vec)))
                .collect(),
            library_entries: library_entries(lookup(PRELOAD_VAR.as_bytes()), library_path),
        };

        Config {
            url,
            endpoint,
            token: non_empty("RAMPART_TOKEN"),
            mode,
            fail_open,
            agent: non_empty("RAMPART_AGENT").unwrap_or_else(|| DEFAULT_AGENT.to_string()),
            session: non_empty("RAMPART_SESSION").unwrap_or_else(|| format!("preload-{pid}")),
            debug,
            notes,
            snapshot,
        }
    }
}

fn parse_flag(value: &str) -> Option<bool> {
    match value {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The ways our library is named: the LD_PRELOAD entries that are this library (matched by full
/// path or by file name), then the path it was loaded from. The first one is what the cascade puts
/// back into a child's LD_PRELOAD.
fn library_entries(preload: Option<&[u8]>, library_path: &[u8]) -> Vec<Vec<u8>> {
    let file_name = |p: &[u8]| {
        p.rsplit(|b| *b == b'/')
            .next()
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    };
    let ours = file_name(library_path);
    let mut entries: Vec<Vec<u8>> = preload
        .unwrap_or_default()
        .split(|b| *b == b':' || *b == b' ')
        .filter(|entry| {
            !entry.is_empty() && (*entry == library_path || (!ours.is_empty() && file_name(entry) == ours))
        })
        .map(<[u8]>::to_vec)
        .collect();
    if !library_path.is_empty() && !entries.iter().any(|e| e == library_path) {
        entries.push(library_path.to_vec());
    }
    entries
}

/// Checks RAMPART_URL and returns its base without a trailing slash.
pub fn check_url(url: &str) -> Result<&str, UrlProblem> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlProblem::Invalid("contains whitespace or control characters"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(UrlProblem::Invalid(
            "missing scheme:// (expected http://host:port)",
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {}
        "https" => return Err(UrlProblem::HttpsUnsupported),
        _ => return Err(UrlProblem::Scheme(scheme.to_string())),
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(UrlProblem::Credentials);
    }
    if path.contains(['?', '#']) {
        return Err(UrlProblem::Invalid("must not carry a query or fragment"));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(UrlProblem::Invalid("unclosed [ in IPv6 address"));
        };
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlProblem::Invalid("missing host"));
    }
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return Err(UrlProblem::Invalid("port is not a number from 1 to 65535"));
    }
    Ok(url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[&str]) -> Config {
        let entries: Vec<&[u8]> = entries.iter().map(|e| e.as_bytes()).collect();
        Config::from_env(&entries, 4242, b"/home/u/.rampart/lib/librampart.so")
    }

    #[test]
    fn defaults_match_the_product_page() {
        let c = config(&[]);
        assert_eq!(c.url, "http://127.0.0.1:9090");
        assert_eq!(
            c.endpoint.as_deref(),
            Ok("http://127.0.0.1:9090/v1/preflight/exec")
        );
        assert_eq!(c.token, None);
        assert_eq!(c.mode, Mode::Enforce);
        assert!(c.fail_open);
        assert_eq!(c.agent, "preload");
        assert_eq!(c.session, "preload-4242");
        assert!(!c.debug);
        assert!(c.notes.is_empty());
    }

    #[test]
    fn variables_are_read() {
        let c = config(&[
            "RAMPART_URL=http://127.0.0.1:7777/",
            "RAMPART_TOKEN=tok",
            "RAMPART_MODE=monitor",
            "RAMPART_FAIL_OPEN=0",
            "RAMPART_AGENT=codex",
            "RAMPART_SESSION=research-run-1",
            "RAMPART_DEBUG=1",
        ]);
        assert_eq!(
            c.endpoint.as_deref(),
            Ok("http://127.0.0.1:7777/v1/preflight/exec")
        );
        assert_eq!(c.token.as_deref(), Some("tok"));
        assert_eq!(c.mode, Mode::Monitor);
        assert!(!c.fail_open);
        assert_eq!(c.agent, "codex");
        assert_eq!(c.session, "research-run-1");
        assert!(c.debug);
    }

    #[test]
    fn empty_values_mean_unset() {
        let c = config(&[
            "RAMPART_TOKEN=",
            "RAMPART_AGENT=",
            "RAMPART_URL=",
            "RAMPART_FAIL_OPEN=",
        ]);
        assert_eq!(c.token, None);
        assert_eq!(c.agent, "preload");
        assert_eq!(c.url, DEFAULT_URL);
        assert!(c.fail_open);
    }

    #[test]
    fn mode_disabled_and_unknown_mode() {
        assert_eq!(config(&["RAMPART_MODE=disabled"]).mode, Mode::Disabled);
        let c = config(&["RAMPART_MODE=off"]);
        assert_eq!(c.mode, Mode::Enforce, "an unknown mode must not weaken the guard");
        assert_eq!(c.notes.len(), 1);
    }

    #[test]
    fn fail_open_spellings() {
        for (value, expected) in [
            ("1", true),
            ("true", true),
            ("0", false),
            ("false", false),
            ("FALSE", false),
        ] {
            assert_eq!(
                config(&[&format!("RAMPART_FAIL_OPEN={value}")]).fail_open,
                expected,
                "{value}"
            );
        }
        let c = config(&["RAMPART_FAIL_OPEN=maybe"]);
        assert!(!c.fail_open, "an unknown value fails closed");
        assert_eq!(c.notes.len(), 1);
    }

    #[test]
    fn debug_only_when_set_to_a_true_value() {
        assert!(!config(&["RAMPART_DEBUG=0"]).debug);
        assert!(config(&["RAMPART_DEBUG=true"]).debug);
    }

    #[test]
    fn url_checks() {
        assert_eq!(check_url("http://127.0.0.1:9090"), Ok("http://127.0.0.1:9090"));
        assert_eq!(check_url("http://localhost:9090/"), Ok("http://localhost:9090"));
        assert_eq!(
            check_url("HTTP://[::1]:9090/rampart"),
            Ok("HTTP://[::1]:9090/rampart")
        );
        assert_eq!(
            check_url("http://u:p@127.0.0.1:9090"),
            Err(UrlProblem::Credentials)
        );
        assert_eq!(
            check_url("http://token@127.0.0.1:9090"),
            Err(UrlProblem::Credentials)
        );
        assert_eq!(
            check_url("ftp://127.0.0.1"),
            Err(UrlProblem::Scheme("ftp".into()))
        );
        assert_eq!(
            check_url("unix:///run/rampart.sock"),
            Err(UrlProblem::Scheme("unix".into()))
        );
        assert_eq!(
            check_url("https://127.0.0.1:9090"),
            Err(UrlProblem::HttpsUnsupported)
        );
        assert!(matches!(check_url("127.0.0.1:9090"), Err(UrlProblem::Invalid(_))));
        assert!(matches!(check_url("http://:9090"), Err(UrlProblem::Invalid(_))));
        assert!(matches!(
            check_url("http://127.0.0.1:99999"),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            check_url("http://127.0.0.1:x"),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            check_url("http://127.0.0.1:9090/?a=b"),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            check_url("http://127.0.0.1 :9090"),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            check_url("http://[::1:9090"),
            Err(UrlProblem::Invalid(_))
        ));
    }

    #[test]
    fn bad_url_is_kept_as_a_problem() {
        let c = config(&["RAMPART_URL=http://admin:pw@127.0.0.1:9090"]);
        assert_eq!(c.endpoint, Err(UrlProblem::Credentials));
    }

    #[test]
    fn snapshot_keeps_load_time_values_and_our_preload_entry() {
        let c = config(&[
            "LD_PRELOAD=/usr/lib/libother.so:librampart.so",
            "RAMPART_MODE=enforce",
            "RAMPART_TOKEN=t",
        ]);
        assert_eq!(
            c.snapshot.library_entries,
            vec![
                b"librampart.so".to_vec(),
                b"/home/u/.rampart/lib/librampart.so".to_vec()
            ]
        );
        let value = |name: &str| {
            c.snapshot
                .vars
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| v.clone())
        };
        assert_eq!(value("RAMPART_MODE"), Some(b"enforce".to_vec()));
        assert_eq!(value("RAMPART_TOKEN"), Some(b"t".to_vec()));
        assert_eq!(value("RAMPART_URL"), None);
    }

    #[test]
    fn library_path_is_the_entry_when_not_named_in_ld_preload() {
        let c = config(&["LD_PRELOAD=/usr/lib/libother.so"]);
        assert_eq!(
            c.snapshot.library_entries,
            vec![b"/home/u/.rampart/lib/librampart.so".to_vec()]
        );
    }
}
