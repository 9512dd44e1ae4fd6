//! The in-hook flag: while the guard runs (ureq, std), any exec-family call it makes itself must go
//! straight to the real function instead of being checked again.
//!
//! The flag covers the check only, never the real call: in a vfork child the thread-local storage is
//! the suspended parent thread's, and a flag left set by a child that exec'd would silently switch
//! the guard off in the parent.

use std::cell::Cell;

thread_local! {
    // `const` initialisation: no lazy init, no destructor, no allocation (safe in fork children).
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread is inside the guard.
pub fn active() -> bool {
    IN_HOOK.with(Cell::get)
}

/// Marks this thread as inside the guard until dropped.
pub struct InHook {
    previous: bool,
}

impl InHook {
    pub fn enter() -> Self {
        InHook {
            previous: IN_HOOK.with(|flag| flag.replace(true)),
        }
    }
}

impl Drop for InHook {
    fn drop(&mut self) {
        IN_HOOK.with(|flag| flag.set(self.previous));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_is_set_inside_and_restored_after() {
        assert!(!active());
        {
            let _outer = InHook::enter();
            assert!(active());
            {
                let _inner = InHook::enter();
                assert!(active());
            }
            assert!(active(), "leaving a nested scope keeps the outer one");
        }
        assert!(!active());
    }

    #[test]
    fn flag_is_restored_when_the_guarded_code_panics() {
        let result = std::panic::catch_unwind(|| {
            let _guard = InHook::enter();
            #[allow(clippy::panic)]
            {
                panic!("boom");
            }
        });
        assert!(result.is_err());
        assert!(!active());
    }
}
