//! The cascade: a child's environment must keep this library preloaded and the load-time
//! RAMPART_* values, whatever the agent did to it (Node's `env:` option, `env -i`, `unset`).
//!
//! `plan` is pure: it compares a child environment with the snapshot and says which entries to
//! keep and which to add, so the common case (nothing changed) allocates nothing and passes the
//! caller's envp through untouched.

/// The variable that preloads us into children.
#[cfg(target_os = "macos")]
pub const PRELOAD_VAR: &str = "DYLD_INSERT_LIBRARIES";
#[cfg(not(target_os = "macos"))]
pub const PRELOAD_VAR: &str = "LD_PRELOAD";

/// The variables the library reads (the settings table's names, in its order); children get their
/// load-time values (or their absence).
pub const GUARDED_VARS: [&str; rampart_settings::VARIABLES.len()] = rampart_settings::NAMES;

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Each guarded variable and its load-time value (None: it was unset).
    pub vars: Vec<(&'static str, Option<Vec<u8>>)>,
    /// Names under which a preload list refers to this library; the first is the one we add.
    pub library_entries: Vec<Vec<u8>>,
}

/// One entry of a rebuilt environment.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// The caller's entry at this index, unchanged.
    Keep(usize),
    /// A new `KEY=VALUE` entry.
    New(Vec<u8>),
}

fn split_entry(entry: &[u8]) -> (&[u8], Option<&[u8]>) {
    match entry.iter().position(|b| *b == b'=') {
        Some(at) => (entry.get(..at).unwrap_or_default(), entry.get(at + 1..)),
        None => (entry, None),
    }
}

fn preload_names_us(value: &[u8], snapshot: &Snapshot) -> bool {
    value.split(|b| *b == b':' || *b == b' ').any(|item| {
        snapshot
            .library_entries
            .iter()
            .any(|ours| ours.as_slice() == item)
    })
}

fn with_entry(name: &str, value: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(name.len() + 1 + value.len());
    entry.extend_from_slice(name.as_bytes());
    entry.push(b'=');
    entry.extend_from_slice(value);
    entry
}

/// A variable the child must get (`Some`) or lose (`None`), replacing every occurrence.
#[derive(Debug, PartialEq, Eq)]
pub struct Correction {
    pub name: &'static str,
    pub value: Option<Vec<u8>>,
}

/// The value of `entry` if its key is `name` (a bare `name` without `=` counts, as an empty value:
/// the same key `split_entry` sees). Compares the prefix only, without scanning for `=`.
fn value_of<'a>(entry: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let rest = entry.strip_prefix(name.as_bytes())?;
    if rest.is_empty() {
        return Some(rest);
    }
    rest.strip_prefix(b"=")
}

/// The first value of `name` in `child`, and whether it occurs more than once.
fn occurrences<'a>(child: impl Iterator<Item = &'a [u8]>, name: &str) -> (Option<&'a [u8]>, bool) {
    let mut values = child.filter_map(|entry| value_of(entry, name));
    let first = values.next();
    (first, values.next().is_some())
}

/// What must change in the child environment `child` so that it carries this library and the
/// load-time RAMPART_* values: a guarded variable that is duplicated, missing or different gets its
/// load-time value (or is removed if it was unset); a preload list that lost us gets our entry
/// first, its other entries kept. Empty (no allocation) when nothing needs to change. `child` is
/// walked without being collected, so an intact environment costs no allocation at all.
pub fn corrections<'a>(
    snapshot: &Snapshot,
    child: impl Iterator<Item = &'a [u8]> + Clone,
) -> Vec<Correction> {
    let mut fixes = Vec::new();
    for (name, wanted) in &snapshot.vars {
        let (first, duplicated) = occurrences(child.clone(), name);
        if duplicated || first != wanted.as_deref() {
            fixes.push(Correction {
                name,
                value: wanted.clone(),
            });
        }
    }
    if let Some(ours) = snapshot.library_entries.first() {
        let (first, duplicated) = occurrences(child, PRELOAD_VAR);
        if duplicated || !first.is_some_and(|value| preload_names_us(value, snapshot)) {
            let mut value = ours.clone();
            if let Some(existing) = first.filter(|v| !v.is_empty()) {
                value.push(b':');
                value.extend_from_slice(existing);
            }
            fixes.push(Correction {
                name: PRELOAD_VAR,
                value: Some(value),
            });
        }
    }
    fixes
}

/// The environment `child` must become (see `corrections`), or None when it is fine as it is.
/// Unchanged entries are referenced by index, not copied.
pub fn plan<'a>(snapshot: &Snapshot, child: impl Iterator<Item = &'a [u8]> + Clone) -> Option<Vec<Entry>> {
    let fixes = corrections(snapshot, child.clone());
    if fixes.is_empty() {
        return None;
    }
    let mut entries: Vec<Entry> = child
        .enumerate()
        .filter(|(_, e)| !fixes.iter().any(|fix| split_entry(e).0 == fix.name.as_bytes()))
        .map(|(index, _)| Entry::Keep(index))
        .collect();
    entries.extend(
        fixes
            .into_iter()
            .filter_map(|fix| fix.value.map(|value| Entry::New(with_entry(fix.name, &value)))),
    );
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            vars: GUARDED_VARS
                .iter()
                .map(|name| {
                    let value = match *name {
                        "RAMPART_MODE" => Some(b"enforce".to_vec()),
                        "RAMPART_URL" => Some(b"http://127.0.0.1:9090".to_vec()),
                        "RAMPART_SESSION" => Some(b"s1".to_vec()),
                        _ => None,
                    };
                    (*name, value)
                })
                .collect(),
            library_entries: vec![b"/lib/rampart/librampart.so".to_vec()],
        }
    }

    fn intact() -> Vec<&'static [u8]> {
        vec![
            b"PATH=/usr/bin",
            b"LD_PRELOAD=/lib/rampart/librampart.so",
            b"RAMPART_MODE=enforce",
            b"RAMPART_URL=http://127.0.0.1:9090",
            b"RAMPART_SESSION=s1",
        ]
    }

    /// The environment `plan` produces, as strings.
    fn apply(child: &[&[u8]]) -> Option<Vec<String>> {
        plan(&snapshot(), child.iter().copied()).map(|entries| {
            entries
                .into_iter()
                .map(|entry| match entry {
                    Entry::Keep(i) => {
                        String::from_utf8_lossy(child.get(i).copied().unwrap_or_default()).into_owned()
                    }
                    Entry::New(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                })
                .collect()
        })
    }

    fn set(env: &mut [&'static [u8]], index: usize, entry: &'static [u8]) {
        if let Some(slot) = env.get_mut(index) {
            *slot = entry;
        }
    }

    #[test]
    fn intact_environment_needs_nothing() {
        assert_eq!(apply(&intact()), None);
    }

    #[test]
    fn our_library_anywhere_in_the_list_is_enough() {
        let mut env = intact();
        set(
            &mut env,
            1,
            b"LD_PRELOAD=/usr/lib/libfoo.so /lib/rampart/librampart.so",
        );
        assert_eq!(apply(&env), None);
    }

    #[test]
    fn stripped_preload_is_restored() {
        let env: Vec<&[u8]> = intact()
            .into_iter()
            .filter(|e| !e.starts_with(b"LD_PRELOAD"))
            .collect();
        let rebuilt = apply(&env).unwrap_or_default();
        assert!(rebuilt.contains(&"LD_PRELOAD=/lib/rampart/librampart.so".to_string()));
        assert!(rebuilt.contains(&"PATH=/usr/bin".to_string()));
    }

    #[test]
    fn other_preload_entries_are_kept_after_ours() {
        let mut env = intact();
        set(&mut env, 1, b"LD_PRELOAD=/usr/lib/libfoo.so");
        let rebuilt = apply(&env).unwrap_or_default();
        assert!(rebuilt.contains(&"LD_PRELOAD=/lib/rampart/librampart.so:/usr/lib/libfoo.so".to_string()));
        assert_eq!(rebuilt.iter().filter(|e| e.starts_with("LD_PRELOAD=")).count(), 1);
    }

    #[test]
    fn empty_preload_gets_just_ours() {
        let mut env = intact();
        set(&mut env, 1, b"LD_PRELOAD=");
        let rebuilt = apply(&env).unwrap_or_default();
        assert!(rebuilt.contains(&"LD_PRELOAD=/lib/rampart/librampart.so".to_string()));
    }

    #[test]
    fn changed_rampart_values_are_put_back() {
        let mut env = intact();
        set(&mut env, 2, b"RAMPART_MODE=disabled");
        let rebuilt = apply(&env).unwrap_or_default();
        assert!(rebuilt.contains(&"RAMPART_MODE=enforce".to_string()));
        assert!(!rebuilt.iter().any(|e| e == "RAMPART_MODE=disabled"));
    }

    #[test]
    fn variables_unset_at_load_are_removed() {
        let mut env = intact();
        env.push(b"RAMPART_FAIL_OPEN=1");
        env.push(b"RAMPART_URL_EXTRA=keep");
        let rebuilt = apply(&env).unwrap_or_default();
        assert!(!rebuilt.iter().any(|e| e.starts_with("RAMPART_FAIL_OPEN=")));
        assert!(
            rebuilt.contains(&"RAMPART_URL_EXTRA=keep".to_string()),
            "only the library's variables are guarded"
        );
    }

    #[test]
    fn missing_values_are_added() {
        let env: Vec<&[u8]> = vec![b"HOME=/root"];
        let rebuilt = apply(&env).unwrap_or_default();
        for expected in [
            "HOME=/root",
            "RAMPART_MODE=enforce",
            "RAMPART_URL=http://127.0.0.1:9090",
            "RAMPART_SESSION=s1",
            "LD_PRELOAD=/lib/rampart/librampart.so",
        ] {
            assert!(
                rebuilt.contains(&expected.to_string()),
                "{expected} missing from {rebuilt:?}"
            );
        }
    }

    #[test]
    fn duplicates_are_collapsed() {
        let mut env = intact();
        env.push(b"RAMPART_MODE=disabled");
        let rebuilt = apply(&env).unwrap_or_default();
        assert_eq!(
            rebuilt.iter().filter(|e| e.starts_with("RAMPART_MODE=")).count(),
            1
        );
        assert!(rebuilt.contains(&"RAMPART_MODE=enforce".to_string()));
    }

    #[test]
    fn corrections_name_what_to_set_and_unset() {
        let env: Vec<&[u8]> = vec![
            b"LD_PRELOAD=/lib/rampart/librampart.so",
            b"RAMPART_MODE=enforce",
            b"RAMPART_URL=http://127.0.0.1:9090",
            b"RAMPART_SESSION=other",
            b"RAMPART_DEBUG=1",
        ];
        assert_eq!(
            corrections(&snapshot(), env.iter().copied()),
            vec![
                Correction {
                    name: "RAMPART_SESSION",
                    value: Some(b"s1".to_vec())
                },
                Correction {
                    name: "RAMPART_DEBUG",
                    value: None
                },
            ]
        );
    }

    #[test]
    fn a_bare_name_without_a_value_counts_as_an_occurrence() {
        let mut env = intact();
        env.push(b"RAMPART_MODE");
        let out = apply(&env).unwrap_or_default();
        assert!(out.contains(&"RAMPART_MODE=enforce".to_string()), "{out:?}");
        assert!(!out.contains(&"RAMPART_MODE".to_string()), "{out:?}");
        assert_eq!(apply(&intact()), None, "an intact environment needs no plan");
    }

    #[test]
    fn unchanged_entries_are_referenced_not_copied() {
        let env: Vec<&[u8]> = vec![b"A=1", b"RAMPART_MODE=monitor"];
        let entries = plan(&snapshot(), env.iter().copied()).unwrap_or_default();
        assert_eq!(entries.first(), Some(&Entry::Keep(0)));
        assert!(!entries.contains(&Entry::Keep(1)));
    }
}
