//! The configuration snapshot, read once from the environment when the library loads.
//!
//! Hooks never call getenv: Node replaces `environ` with the child's environment before execvp,
//! and an agent may strip or change RAMPART_* for its children. Parsing is pure
//! (`Config::from_env`) so every rule is unit-tested; `crate::state` publishes the result. The
//! RAMPART_* settings themselves are parsed by `rampart_settings` (crates/settings), which the
//! Node addon exposes too; this module adds what only the library needs: the cascade snapshot.

pub use rampart_settings::{Mode, Settings, UrlProblem};

use crate::command;
use crate::env::{GUARDED_VARS, PRELOAD_VAR, Snapshot};

#[derive(Debug, Clone)]
pub struct Config {
    /// The parsed RAMPART_* settings.
    pub settings: Settings,
    /// Load-time values the cascade restores in children.
    pub snapshot: Snapshot,
}

impl Config {
    /// Builds the configuration from `KEY=VALUE` entries (the environment at load), the process id
    /// (for the default session) and the path this library was loaded from.
    pub fn from_env(entries: &[&[u8]], pid: u32, library_path: &[u8]) -> Config {
        let lookup = |name: &[u8]| command::lookup_var(entries.iter().copied(), name);
        let snapshot = Snapshot {
            vars: GUARDED_VARS
                .iter()
                .map(|name| (*name, lookup(name.as_bytes()).map(<[u8]>::to_vec)))
                .collect(),
            library_entries: library_entries(lookup(PRELOAD_VAR.as_bytes()), library_path),
        };
        Config {
            settings: Settings::from_entries(entries, pid),
            snapshot,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[&str]) -> Config {
        let entries: Vec<&[u8]> = entries.iter().map(|e| e.as_bytes()).collect();
        Config::from_env(&entries, 4242, b"/home/u/.rampart/lib/librampart.so")
    }

    #[test]
    fn settings_are_the_settings_crates_parse() {
        let entries = [
            "RAMPART_URL=http://127.0.0.1:7777/",
            "RAMPART_TOKEN=tok",
            "RAMPART_MODE=Monitor",
            "RAMPART_FAIL_OPEN=maybe",
            "RAMPART_AGENT=codex",
            "RAMPART_DEBUG=1",
        ];
        let bytes: Vec<&[u8]> = entries.iter().map(|e| e.as_bytes()).collect();
        assert_eq!(config(&entries).settings, Settings::from_entries(&bytes, 4242));
        assert_eq!(config(&[]).settings.session, "preload-4242");
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
