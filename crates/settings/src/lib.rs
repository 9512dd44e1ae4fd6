//! The RAMPART_* settings librampart.so reads, and their pure parser.
//!
//! The library (`crates/preload`) parses its settings with [`Settings::from_entries`]; the Node
//! addon (`crates/native`, `librarySettings`) exposes the same function so that the CLI can be
//! tested against exactly what the library does. Nothing here reads the environment: the caller
//! hands in `NAME=value` entries (or a lookup) and the process id.
//!
//! Every variable is listed once, in [`VARIABLES`] (name, default, meaning); the parser takes its
//! names and defaults from there, and so does the table in the documentation of [`VARIABLES`].
//! Rules shared by all of them: the first `NAME=` entry wins (as getenv), an empty value means
//! unset, values are read as UTF-8 (invalid bytes become U+FFFD), and an unset variable behaves
//! exactly like its default value (which goes through the same parser).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::borrow::Cow;
use std::fmt;

/// One RAMPART_* variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    /// The value an unset (or empty) variable behaves as; `None`: nothing takes its place.
    /// `<pid>` stands for the process id.
    pub default: Option<&'static str>,
    /// What it does, for documentation.
    pub meaning: &'static str,
}

macro_rules! default_value {
    (none) => {
        None
    };
    ($value:literal) => {
        Some($value)
    };
}

macro_rules! default_doc {
    (none) => {
        "(none)"
    };
    ($value:literal) => {
        concat!("`", $value, "`")
    };
}

/// Defines one `const` per variable and [`VARIABLES`], whose documentation is a table generated
/// from the same rows.
macro_rules! variables {
    ($($id:ident = $name:literal, default $default:tt, $meaning:literal;)*) => {
        $(
            #[doc = concat!("`", $name, "`: ", $meaning)]
            pub const $id: Variable = Variable {
                name: $name,
                default: default_value!($default),
                meaning: $meaning,
            };
        )*

        /// Every variable the library reads, in the order the cascade restores them.
        ///
        /// | variable | default | meaning |
        /// | --- | --- | --- |
        $(
            #[doc = concat!("| `", $name, "` | ", default_doc!($default), " | ", $meaning, " |")]
        )*
        pub const VARIABLES: [Variable; [$($name),*].len()] = [$($id),*];
    };
}

variables! {
    URL = "RAMPART_URL", default "http://127.0.0.1:9090",
        "the policy server, `http://host[:port][/base]` without user:password@, query or fragment; \
         https is refused (this build has no TLS); checks go to `<base>/v1/preflight/exec`";
    TOKEN = "RAMPART_TOKEN", default none,
        "sent as `Authorization: Bearer <token>`";
    MODE = "RAMPART_MODE", default "enforce",
        "`enforce` (block what the server denies), `monitor` (ask, never block) or `disabled` \
         (never ask), in any case; any other value is enforce, with a note";
    FAIL_OPEN = "RAMPART_FAIL_OPEN", default "1",
        "when the server cannot be reached: a true flag (`1`, `true`, `yes`, `on`, in any case) \
         allows, a false flag (`0`, `false`, `no`, `off`) denies; any other value denies, with a note";
    AGENT = "RAMPART_AGENT", default "preload",
        "the agent name sent with every check";
    SESSION = "RAMPART_SESSION", default "preload-<pid>",
        "the session id sent with every check";
    DEBUG = "RAMPART_DEBUG", default "0",
        "a true flag prints debug lines on stderr; any other value is off, without a note";
}

/// The variables' names, in table order.
pub const NAMES: [&str; VARIABLES.len()] = names();

#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an out-of-bounds index fails the build"
)]
const fn names() -> [&'static str; VARIABLES.len()] {
    let mut names = [""; VARIABLES.len()];
    let mut i = 0;
    while i < VARIABLES.len() {
        names[i] = VARIABLES[i].name;
        i += 1;
    }
    names
}

/// A variable's default, or "" when it has none (a unit test checks the ones used so).
const fn default_of(variable: Variable) -> &'static str {
    match variable.default {
        Some(value) => value,
        None => "",
    }
}

pub const DEFAULT_URL: &str = default_of(URL);
pub const DEFAULT_AGENT: &str = default_of(AGENT);
/// Where checks go, under RAMPART_URL.
pub const PREFLIGHT_PATH: &str = "/v1/preflight/exec";

/// Spellings of a true flag (RAMPART_FAIL_OPEN, RAMPART_DEBUG), matched in any ASCII case.
pub const TRUE_FLAGS: [&str; 4] = ["1", "true", "yes", "on"];
/// Spellings of a false flag, matched in any ASCII case.
pub const FALSE_FLAGS: [&str; 4] = ["0", "false", "no", "off"];

/// `Some(true)` or `Some(false)` for a flag spelling (any ASCII case), `None` for anything else.
pub fn parse_flag(value: &str) -> Option<bool> {
    // A match rather than a search of TRUE_FLAGS/FALSE_FLAGS keeps a table of string slices (and
    // its relocations) out of librampart.so; a unit test checks that both say the same.
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

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
    pub const ALL: [Mode; 3] = [Mode::Enforce, Mode::Monitor, Mode::Disabled];

    /// The RAMPART_MODE spelling, in lower case.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Monitor => "monitor",
            Mode::Disabled => "disabled",
        }
    }

    /// The mode a RAMPART_MODE value names, in any ASCII case.
    pub fn from_name(value: &str) -> Option<Mode> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.name().eq_ignore_ascii_case(value))
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
        if !after.is_empty() && !after.starts_with(':') {
            return Err(UrlProblem::Invalid("unexpected text after ] in IPv6 address"));
        }
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
        && (!port.bytes().all(|b| b.is_ascii_digit()) || !port.parse::<u16>().is_ok_and(|n| n != 0))
    {
        return Err(UrlProblem::Invalid("port is not a number from 1 to 65535"));
    }
    Ok(url.trim_end_matches('/'))
}

/// The value of `name` in a list of `KEY=VALUE` entries (the first occurrence, as getenv).
pub fn lookup_var<'a>(entries: impl IntoIterator<Item = &'a [u8]>, name: &[u8]) -> Option<&'a [u8]> {
    entries.into_iter().find_map(|entry| {
        let rest = entry.strip_prefix(name)?;
        rest.strip_prefix(b"=")
    })
}

/// The parsed RAMPART_* settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
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
}

impl Settings {
    /// Parses the settings from `KEY=VALUE` entries (an environment) and the process id (for the
    /// default session).
    pub fn from_entries(entries: &[&[u8]], pid: u32) -> Settings {
        Settings::from_lookup(|name| lookup_var(entries.iter().copied(), name.as_bytes()), pid)
    }

    /// Parses the settings from `lookup` (a variable's raw value, `None` when unset) and the
    /// process id (for the default session).
    pub fn from_lookup<'a>(lookup: impl Fn(&str) -> Option<&'a [u8]>, pid: u32) -> Settings {
        // Names and defaults are taken from the table at compile time (`const`), so the library
        // carries the strings it uses and not the rows (meanings stay out of librampart.so).
        // Values are borrowed (`Cow`) until kept: parsing runs in the fork child of every first
        // exec, so it allocates only what `Settings` holds (and the notes).
        let non_empty = |name: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .map(String::from_utf8_lossy)
        };
        let value = |name: &str, default: &'static str| non_empty(name).unwrap_or(Cow::Borrowed(default));
        let mut notes = Vec::new();

        let url = value(URL.name, const { default_of(URL) }).into_owned();
        let endpoint = check_url(&url).map(|base| format!("{base}{PREFLIGHT_PATH}"));

        let mode = value(MODE.name, const { default_of(MODE) });
        let mode = Mode::from_name(&mode).unwrap_or_else(|| {
            notes.push(format!(
                "RAMPART_MODE \"{}\" is not enforce, monitor or disabled; using enforce",
                mode.to_ascii_lowercase()
            ));
            Mode::Enforce
        });

        let fail_open = value(FAIL_OPEN.name, const { default_of(FAIL_OPEN) });
        let fail_open = parse_flag(&fail_open).unwrap_or_else(|| {
            notes.push(format!(
                "RAMPART_FAIL_OPEN \"{}\" is not 1 or 0; failing closed",
                fail_open.to_ascii_lowercase()
            ));
            false
        });

        let debug = parse_flag(&value(DEBUG.name, const { default_of(DEBUG) })) == Some(true);

        Settings {
            url,
            endpoint,
            token: non_empty(TOKEN.name).map(Cow::into_owned),
            mode,
            fail_open,
            agent: value(AGENT.name, const { default_of(AGENT) }).into_owned(),
            session: match non_empty(SESSION.name) {
                Some(session) => session.into_owned(),
                None => {
                    let default = const { default_of(SESSION) };
                    match default.split_once("<pid>") {
                        Some((before, after)) => format!("{before}{pid}{after}"),
                        None => default.to_string(),
                    }
                }
            },
            debug,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(entries: &[&str]) -> Settings {
        let entries: Vec<&[u8]> = entries.iter().map(|e| e.as_bytes()).collect();
        Settings::from_entries(&entries, 4242)
    }

    #[test]
    fn defaults_match_the_product_page() {
        let c = settings(&[]);
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
        let c = settings(&[
            "RAMPART_URL=http://127.0.0.1:7777/",
            "RAMPART_TOKEN=tok",
            "RAMPART_MODE=monitor",
            "RAMPART_FAIL_OPEN=0",
            "RAMPART_AGENT=codex",
            "RAMPART_SESSION=research-run-1",
            "RAMPART_DEBUG=1",
        ]);
        assert_eq!(c.url, "http://127.0.0.1:7777/", "kept as given, for messages");
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
        assert!(c.notes.is_empty());
    }

    #[test]
    fn empty_values_mean_unset() {
        let c = settings(&[
            "RAMPART_URL=",
            "RAMPART_TOKEN=",
            "RAMPART_MODE=",
            "RAMPART_FAIL_OPEN=",
            "RAMPART_AGENT=",
            "RAMPART_SESSION=",
            "RAMPART_DEBUG=",
        ]);
        assert_eq!(c.token, None);
        assert_eq!(c.agent, "preload");
        assert_eq!(c.url, DEFAULT_URL);
        assert_eq!(c.mode, Mode::Enforce);
        assert!(c.fail_open);
        assert_eq!(c.session, "preload-4242");
        assert!(!c.debug);
        assert!(c.notes.is_empty());
    }

    #[test]
    fn the_first_entry_of_a_name_wins() {
        let c = settings(&["RAMPART_AGENT=first", "RAMPART_AGENT=second"]);
        assert_eq!(c.agent, "first");
        // An empty first entry is unset: the default, not the later entry.
        let c = settings(&["RAMPART_AGENT=", "RAMPART_AGENT=second"]);
        assert_eq!(c.agent, "preload");
        // A longer name with the same prefix, or the name without `=`, is not the variable.
        let c = settings(&["RAMPART_AGENTS=x", "RAMPART_AGENT"]);
        assert_eq!(c.agent, "preload");
    }

    #[test]
    fn lookup_takes_the_first_occurrence() {
        let env: [&[u8]; 4] = [b"PATHX=/x", b"PATH=/a", b"PATH=/b", b"EMPTY="];
        assert_eq!(lookup_var(env.iter().copied(), b"PATH"), Some(&b"/a"[..]));
        assert_eq!(lookup_var(env.iter().copied(), b"EMPTY"), Some(&b""[..]));
        assert_eq!(lookup_var(env.iter().copied(), b"NOPE"), None);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        let entries: [&[u8]; 1] = [b"RAMPART_AGENT=a\xffb"];
        assert_eq!(Settings::from_entries(&entries, 1).agent, "a\u{fffd}b");
    }

    #[test]
    fn mode_in_any_case() {
        assert_eq!(settings(&["RAMPART_MODE=disabled"]).mode, Mode::Disabled);
        assert_eq!(settings(&["RAMPART_MODE=Monitor"]).mode, Mode::Monitor);
        assert_eq!(settings(&["RAMPART_MODE=ENFORCE"]).mode, Mode::Enforce);
        assert!(settings(&["RAMPART_MODE=Monitor"]).notes.is_empty());
    }

    #[test]
    fn unknown_mode_is_enforce_with_a_note() {
        let c = settings(&["RAMPART_MODE=Off"]);
        assert_eq!(c.mode, Mode::Enforce, "an unknown mode must not weaken the guard");
        assert_eq!(
            c.notes,
            ["RAMPART_MODE \"off\" is not enforce, monitor or disabled; using enforce"]
        );
    }

    #[test]
    fn fail_open_spellings() {
        for (value, expected) in [
            ("1", true),
            ("true", true),
            ("yes", true),
            ("on", true),
            ("TRUE", true),
            ("0", false),
            ("false", false),
            ("no", false),
            ("off", false),
            ("FALSE", false),
        ] {
            let c = settings(&[&format!("RAMPART_FAIL_OPEN={value}")]);
            assert_eq!(c.fail_open, expected, "{value}");
            assert!(c.notes.is_empty(), "{value}");
        }
    }

    #[test]
    fn unknown_fail_open_fails_closed_with_a_note() {
        let c = settings(&["RAMPART_FAIL_OPEN=Maybe"]);
        assert!(!c.fail_open, "an unknown value fails closed");
        assert_eq!(
            c.notes,
            ["RAMPART_FAIL_OPEN \"maybe\" is not 1 or 0; failing closed"]
        );
    }

    #[test]
    fn debug_only_when_set_to_a_true_value() {
        assert!(!settings(&["RAMPART_DEBUG=0"]).debug);
        assert!(settings(&["RAMPART_DEBUG=true"]).debug);
        assert!(settings(&["RAMPART_DEBUG=On"]).debug);
        let c = settings(&["RAMPART_DEBUG=verbose"]);
        assert!(!c.debug);
        assert!(c.notes.is_empty(), "an unknown debug value is off, silently");
    }

    #[test]
    fn flags() {
        for spelling in TRUE_FLAGS {
            assert_eq!(parse_flag(spelling), Some(true));
            assert_eq!(parse_flag(&spelling.to_ascii_uppercase()), Some(true));
        }
        for spelling in FALSE_FLAGS {
            assert_eq!(parse_flag(spelling), Some(false));
            assert_eq!(parse_flag(&spelling.to_ascii_uppercase()), Some(false));
        }
        for other in ["", " 1", "1 ", "y", "n", "2", "enable", "tru"] {
            assert_eq!(parse_flag(other), None, "{other:?}");
        }
    }

    #[test]
    fn mode_names() {
        for mode in Mode::ALL {
            assert_eq!(Mode::from_name(mode.name()), Some(mode));
        }
        assert_eq!(Mode::from_name("Disabled"), Some(Mode::Disabled));
        assert_eq!(Mode::from_name("off"), None);
        assert_eq!(Mode::from_name(""), None);
    }

    #[test]
    fn session_default_names_the_pid() {
        let entries: [&[u8]; 0] = [];
        assert_eq!(Settings::from_entries(&entries, 1).session, "preload-1");
        assert_eq!(
            Settings::from_entries(&entries, u32::MAX).session,
            "preload-4294967295"
        );
        // Only the default is a template: a given session is kept as it is.
        assert_eq!(settings(&["RAMPART_SESSION=run-<pid>"]).session, "run-<pid>");
    }

    #[test]
    fn token_is_kept_verbatim() {
        assert_eq!(settings(&["RAMPART_TOKEN= a=b "]).token.as_deref(), Some(" a=b "));
    }

    #[test]
    fn url_checks() {
        assert_eq!(check_url("http://127.0.0.1:9090"), Ok("http://127.0.0.1:9090"));
        // Port 0 would be "refused", which fail-open treats as a server that is down.
        assert!(matches!(
            check_url("http://127.0.0.1:0"),
            Err(UrlProblem::Invalid(_))
        ));
        assert!(matches!(
            check_url("http://[::1]x:9090"),
            Err(UrlProblem::Invalid(_))
        ));
        assert_eq!(check_url("http://[::1]:9090/"), Ok("http://[::1]:9090"));
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
    fn url_problems_read_as_sentences() {
        assert_eq!(
            UrlProblem::Credentials.to_string(),
            "RAMPART_URL must not contain user:password@ (use RAMPART_TOKEN)"
        );
        assert_eq!(
            UrlProblem::Scheme("ftp".into()).to_string(),
            "RAMPART_URL scheme \"ftp\" is not http or https"
        );
        assert_eq!(
            UrlProblem::HttpsUnsupported.to_string(),
            "RAMPART_URL uses https, which librampart.so does not support"
        );
        assert_eq!(
            check_url("http://127.0.0.1:9090/?x").map_err(|p| p.to_string()),
            Err("RAMPART_URL is invalid: must not carry a query or fragment".to_string())
        );
    }

    #[test]
    fn bad_url_is_kept_as_a_problem() {
        let c = settings(&["RAMPART_URL=http://admin:pw@127.0.0.1:9090"]);
        assert_eq!(c.url, "http://admin:pw@127.0.0.1:9090");
        assert_eq!(c.endpoint, Err(UrlProblem::Credentials));
        assert!(c.notes.is_empty(), "a URL problem is the endpoint's, not a note");
    }

    #[test]
    fn the_table_lists_every_variable_once_with_its_default() {
        assert_eq!(
            NAMES,
            [
                "RAMPART_URL",
                "RAMPART_TOKEN",
                "RAMPART_MODE",
                "RAMPART_FAIL_OPEN",
                "RAMPART_AGENT",
                "RAMPART_SESSION",
                "RAMPART_DEBUG",
            ]
        );
        for variable in VARIABLES {
            assert!(!variable.meaning.is_empty(), "{}", variable.name);
            assert!(
                !variable.meaning.contains('|'),
                "breaks the doc table: {}",
                variable.name
            );
        }
        // Only RAMPART_TOKEN has no default; the parser reads the others through default_of.
        let without: Vec<&str> = VARIABLES
            .iter()
            .filter(|v| v.default.is_none())
            .map(|v| v.name)
            .collect();
        assert_eq!(without, ["RAMPART_TOKEN"]);
        assert_eq!(DEFAULT_URL, "http://127.0.0.1:9090");
        assert_eq!(DEFAULT_AGENT, "preload");
    }

    #[test]
    fn every_default_parses_without_a_note() {
        // An unset variable behaves as its default: each default must be a valid value.
        for variable in VARIABLES {
            if let Some(default) = variable.default {
                let entry = format!("{}={default}", variable.name);
                let c = settings(&[&entry]);
                assert!(c.notes.is_empty(), "{entry}: {:?}", c.notes);
                assert!(c.endpoint.is_ok(), "{entry}");
                let unset = settings(&[]);
                assert_eq!(
                    (c.url, c.mode, c.fail_open, c.agent, c.debug),
                    (unset.url, unset.mode, unset.fail_open, unset.agent, unset.debug),
                    "{entry}"
                );
            }
        }
        assert_eq!(MODE.default.and_then(Mode::from_name), Some(Mode::Enforce));
        assert_eq!(FAIL_OPEN.default.and_then(parse_flag), Some(true));
        assert_eq!(DEBUG.default.and_then(parse_flag), Some(false));
    }
}
