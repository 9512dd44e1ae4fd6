//! A write-once global published with one atomic compare-and-swap.
//!
//! `OnceLock` would block a second caller while the first one initialises; in the child of a
//! multithreaded `fork` a lock held by another (now vanished) thread never opens again. Here nobody
//! waits: a racing initialiser builds its own value, loses the swap and drops it.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

pub struct Published<T> {
    value: AtomicPtr<T>,
}

impl<T: Send + Sync> Default for Published<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync> Published<T> {
    pub const fn new() -> Self {
        Published {
            value: AtomicPtr::new(ptr::null_mut()),
        }
    }

    pub fn get(&self) -> Option<&T> {
        let current = self.value.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was published from `Box::into_raw` and is never freed.
        unsafe { current.as_ref() }
    }

    pub fn get_or_publish(&self, build: impl FnOnce() -> T) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        let mine = Box::into_raw(Box::new(build()));
        match self
            .value
            .compare_exchange(ptr::null_mut(), mine, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `mine` came from Box::into_raw just above and is now owned by the static.
            Ok(_) => unsafe { &*mine },
            Err(winner) => {
                // SAFETY: the swap failed, so `mine` was never shared; `winner` is a published box.
                unsafe {
                    drop(Box::from_raw(mine));
                    &*winner
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_later_builders_do_not_run_after_publication() {
        let cell: Published<u32> = Published::new();
        assert!(cell.get().is_none());
        assert_eq!(*cell.get_or_publish(|| 7), 7);
        assert_eq!(*cell.get_or_publish(|| 9), 7);
        assert_eq!(cell.get().copied(), Some(7));
    }

    #[test]
    fn racing_threads_all_see_one_value() {
        static CELL: Published<usize> = Published::new();
        let seen: Vec<usize> = (0..8)
            .map(|i| std::thread::spawn(move || *CELL.get_or_publish(|| i)))
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect();
        assert_eq!(seen.len(), 8);
        assert!(
            seen.iter()
                .all(|v| *v == seen.first().copied().unwrap_or(usize::MAX))
        );
    }
}
