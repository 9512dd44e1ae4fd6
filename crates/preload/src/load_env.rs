//! The environment at load, as the constructor saw it, copied without allocating.
//!
//! The library is loaded into every process an agent starts, and most of them never start a
//! program. So the constructor does the least that must happen at load: it copies the entries
//! the configuration reads (RAMPART_*, LD_PRELOAD) into static storage. Parsing them into a
//! `Config` waits for the first hook (`crate::config`). A copy, not pointers: programs that set
//! their process title overwrite the original environment strings.
//!
//! No allocation here means the constructor never initialises malloc, which alone costs ~10 us
//! (getrandom, brk, a zeroed heap page) in a process that may never allocate otherwise.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::env::PRELOAD_VAR;

/// Room for the copied entries (NUL-separated). More than any sane RAMPART_* set plus LD_PRELOAD;
/// when it does not fit, the constructor falls back to parsing the configuration at once.
const CAPACITY: usize = 4096;

const EMPTY: u8 = 0;
const FILLING: u8 = 1;
const READY: u8 = 2;
const TOO_BIG: u8 = 3;

/// Write-once storage for the copy.
pub struct Store {
    state: AtomicU8,
    bytes: UnsafeCell<[u8; CAPACITY]>,
    len: UnsafeCell<usize>,
}

// SAFETY: written once by the single caller that wins EMPTY → FILLING, read only after READY is
// published with Release (readers load it with Acquire) and never written again.
unsafe impl Sync for Store {}

/// The process's copy, filled by the constructor.
pub static LOAD_ENV: Store = Store::new();

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub const fn new() -> Store {
        Store {
            state: AtomicU8::new(EMPTY),
            bytes: UnsafeCell::new([0; CAPACITY]),
            len: UnsafeCell::new(0),
        }
    }

    /// Copies the relevant entries, in order (the first of duplicated names wins, as in
    /// `lookup_var`), once. Returns whether a complete copy exists (this one or an earlier one).
    pub fn capture<'a>(&self, entries: impl Iterator<Item = &'a [u8]>) -> bool {
        if self
            .state
            .compare_exchange(EMPTY, FILLING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return self.state.load(Ordering::Acquire) == READY;
        }
        // SAFETY: only the winner of EMPTY → FILLING gets here, and nobody reads before READY.
        let (bytes, len) = unsafe { (&mut *self.bytes.get(), &mut *self.len.get()) };
        match pack(entries, bytes) {
            Some(used) => {
                *len = used;
                self.state.store(READY, Ordering::Release);
                true
            }
            None => {
                self.state.store(TOO_BIG, Ordering::Release);
                false
            }
        }
    }

    /// The copied entries, when a complete copy was made.
    pub fn entries(&self) -> Option<impl Iterator<Item = &[u8]>> {
        if self.state.load(Ordering::Acquire) != READY {
            return None;
        }
        // SAFETY: READY was published after the last write; the storage is never written again.
        let (bytes, len) = unsafe { (&*self.bytes.get(), *self.len.get()) };
        Some(
            bytes
                .get(..len)
                .unwrap_or_default()
                .split(|b| *b == 0)
                .filter(|entry| !entry.is_empty()),
        )
    }
}

/// Whether the configuration reads this `NAME=value` entry.
pub fn is_relevant(entry: &[u8]) -> bool {
    entry.starts_with(b"RAMPART_")
        || entry
            .strip_prefix(PRELOAD_VAR.as_bytes())
            .is_some_and(|rest| rest.starts_with(b"="))
}

/// Writes the relevant entries into `buffer`, each followed by a NUL; the bytes used, or None when
/// they do not fit.
fn pack<'a>(entries: impl Iterator<Item = &'a [u8]>, buffer: &mut [u8]) -> Option<usize> {
    let mut used = 0;
    for entry in entries.filter(|entry| is_relevant(entry)) {
        let end = used + entry.len() + 1;
        let (nul, text) = buffer.get_mut(used..end)?.split_last_mut()?;
        text.copy_from_slice(entry);
        *nul = 0;
        used = end;
    }
    Some(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_relevant_entries_in_order_and_only_once() {
        let store = Box::new(Store::new());
        let env: [&[u8]; 6] = [
            b"PATH=/bin",
            b"RAMPART_URL=http://127.0.0.1:1",
            b"LD_PRELOAD_X=no",
            b"LD_PRELOAD=/lib/librampart.so",
            b"RAMPART_URL=http://second",
            b"RAMPART_MODE=",
        ];
        let copied = || store.entries().map(Iterator::collect::<Vec<_>>);
        assert_eq!(copied(), None);
        assert!(store.capture(env.iter().copied()));
        assert_eq!(
            copied(),
            Some(vec![
                &b"RAMPART_URL=http://127.0.0.1:1"[..],
                b"LD_PRELOAD=/lib/librampart.so",
                b"RAMPART_URL=http://second",
                b"RAMPART_MODE=",
            ])
        );
        assert!(
            store.capture([&b"RAMPART_URL=later"[..]].into_iter()),
            "the first copy stays"
        );
        assert_eq!(copied().map(|e| e.len()), Some(4));
    }

    #[test]
    fn packing_stops_when_the_entries_do_not_fit() {
        let mut buffer = [0u8; 16];
        assert_eq!(pack([&b"RAMPART_MODE=x"[..]].into_iter(), &mut buffer), Some(15));
        assert_eq!(buffer.get(..15), Some(&b"RAMPART_MODE=x\0"[..]));
        assert_eq!(pack([&b"RAMPART_MODE=xy"[..]].into_iter(), &mut buffer), Some(16));
        assert_eq!(pack([&b"RAMPART_MODE=xyz"[..]].into_iter(), &mut buffer), None);
        assert_eq!(
            pack(
                [&b"HOME=/a/very/long/home/directory"[..]].into_iter(),
                &mut buffer
            ),
            Some(0)
        );
    }

    #[test]
    fn relevance() {
        assert!(is_relevant(b"RAMPART_TOKEN=x"));
        assert!(is_relevant(b"LD_PRELOAD="));
        assert!(!is_relevant(b"LD_PRELOADX=1"));
        assert!(!is_relevant(b"HOME=/root"));
    }
}
