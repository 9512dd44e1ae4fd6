//! librampart.so: the LD_PRELOAD exec guard.
//!
//! Every libc entry point that starts a program (`hooks`, plus `c/shim.c` for the variadic execl*)
//! asks the policy server (`guard` → `client`) before the real call, and fails with EPERM when the
//! answer is no. The configuration is a snapshot taken when the library loads (`config`); children
//! get it back even if the agent strips it (`env`). See README.md for why the crate is shaped so.

// A panic inside a hook would fall back to the real function (redhook's catch_unwind): a silent
// allow. Hooks catch panics themselves, and these lints keep the obvious panic sources out.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod client;
pub mod command;
pub mod config;
pub mod env;
pub mod ffi;
pub mod guard;
mod hooks;
pub mod load_env;
pub mod output;
pub mod publish;
pub mod reentry;
pub mod transport;
pub mod wire;

// The exports.txt reader build.rs uses: compiled here only for its unit tests.
#[cfg(test)]
#[path = "../exports_table.rs"]
mod exports_table;

use std::sync::atomic::{AtomicPtr, Ordering};

use config::Config;
use publish::Published;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const VERSION_SIZE: usize = VERSION.len() + 1;

#[allow(
    clippy::indexing_slicing,
    reason = "const evaluation: an out-of-bounds index fails the build"
)]
const fn nul_terminated_version() -> [u8; VERSION_SIZE] {
    let source = VERSION.as_bytes();
    let mut bytes = [0u8; VERSION_SIZE];
    let mut i = 0;
    while i < source.len() {
        bytes[i] = source[i];
        i += 1;
    }
    bytes
}

/// The crate version as a NUL-terminated string in .rodata. The native addon reads it straight
/// from the ELF file (dynsym → file offset) without loading the library: keep it plain data.
#[allow(non_upper_case_globals, reason = "exported C symbol name")]
#[unsafe(no_mangle)]
#[used]
pub static rampart_preload_version: [u8; VERSION_SIZE] = nul_terminated_version();

static CONFIG: Published<Config> = Published::new();

/// The loader's name of this library, recorded by the constructor (NULL until then).
static LIBRARY_NAME: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

fn library_path() -> Vec<u8> {
    let mut name = LIBRARY_NAME.load(Ordering::Acquire).cast_const();
    if name.is_null() {
        name = ffi::library_name();
    }
    // SAFETY: NULL or the loader's name of this library, which lives as long as the library.
    unsafe { ffi::library_path(name) }
}

fn load_config() -> Config {
    match load_env::LOAD_ENV.entries() {
        Some(entries) => load_config_from(&entries.collect::<Vec<_>>()),
        // SAFETY: `environ` is the process environment.
        None => load_config_from(&unsafe { ffi::c_array(ffi::current_environ()) }),
    }
}

/// Parses the configuration from `NAME=value` entries.
fn load_config_from(entries: &[&[u8]]) -> Config {
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() }.unsigned_abs();
    Config::from_env(entries, pid, &library_path())
}

/// Our own panics are caught and turned into verdicts; the default hook would print a multi-line
/// report into the program's stderr. Installed by the constructor, not when the configuration is
/// parsed: that often happens first in a fork child, where std's hook lock (taken for writing
/// here) could be held by a parent thread that does not exist in the child. The closure captures
/// nothing, so boxing it does not allocate.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        if CONFIG.get().is_some_and(|config| config.settings.debug) {
            output::write_stderr_line(&output::debug_line(
                &format!("internal error: {info}").replace('\n', " "),
            ));
        }
    }));
}

/// The configuration, parsed on first use from the constructor's copy of the environment
/// (`load_env`). A hook that runs before the constructor (another library's constructor calling
/// system()) parses `environ`, which at that point is still the environment the process was
/// started with. A vfork child that parses first publishes into the parent's memory, so the
/// parent does not parse again.
pub fn config() -> &'static Config {
    CONFIG.get_or_publish(load_config)
}

/// `config()` for the hooks: a panic while parsing (a bug) must not unwind into redhook, whose
/// fallback would run the real function.
pub fn config_or_none() -> Option<&'static Config> {
    std::panic::catch_unwind(config).ok()
}

/// Load-time initialisation, kept to what must happen at load because most processes never start
/// a program: copy the relevant environment (no allocation), note this library's path, and
/// resolve every real function now so that no fork or vfork child ever runs dlsym (loader lock).
/// Parsing waits for the first hook — except with RAMPART_DEBUG, whose notes are printed at load,
/// and when the copy does not fit its static storage.
extern "C" fn initialise(_argc: libc::c_int, _argv: ffi::CArray, envp: ffi::CArray) {
    let _ = std::panic::catch_unwind(|| {
        let envp = if envp.is_null() {
            ffi::current_environ()
        } else {
            envp
        };
        LIBRARY_NAME.store(ffi::library_name().cast_mut(), Ordering::Release);
        install_panic_hook();
        // SAFETY: `envp` is the process environment (from the loader or `environ`).
        let copied = load_env::LOAD_ENV.capture(unsafe { ffi::c_strings(envp) });
        hooks::resolve_real_functions();
        let debug_requested = load_env::LOAD_ENV.entries().is_some_and(|mut entries| {
            entries
                .find_map(|entry| entry.strip_prefix(b"RAMPART_DEBUG="))
                .is_some_and(|value| !value.is_empty())
        });
        if !copied {
            // SAFETY: as above.
            let entries = unsafe { ffi::c_array(envp) };
            CONFIG.get_or_publish(|| load_config_from(&entries));
        }
        if debug_requested || !copied {
            let config = config();
            if config.settings.debug {
                for note in &config.settings.notes {
                    output::write_stderr_line(&output::debug_line(note));
                }
            }
        }
    });
}

#[cfg(all(not(test), not(target_os = "macos")))]
#[used]
#[unsafe(link_section = ".init_array")]
static INITIALISE: extern "C" fn(libc::c_int, ffi::CArray, ffi::CArray) = initialise;

#[cfg(all(not(test), target_os = "macos"))]
#[used]
#[unsafe(link_section = "__DATA,__mod_init_func")]
static INITIALISE: extern "C" fn(libc::c_int, ffi::CArray, ffi::CArray) = initialise;

#[cfg(test)]
mod tests {
    #[test]
    fn version_symbol_is_the_crate_version_nul_terminated() {
        let bytes = super::rampart_preload_version;
        let (last, text) = bytes.split_last().unwrap_or((&1, &[]));
        assert_eq!(*last, 0);
        assert_eq!(text, env!("CARGO_PKG_VERSION").as_bytes());
    }

    /// The panic hook is process-wide: tests that install one take turns.
    static PANIC_HOOK_TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn initialise_is_idempotent_and_keeps_the_first_snapshot() {
        let _turn = PANIC_HOOK_TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first = c"RAMPART_AGENT=first";
        let envp = [first.as_ptr(), std::ptr::null()];
        super::initialise(0, std::ptr::null(), envp.as_ptr());
        let second = c"RAMPART_AGENT=second";
        let envp = [second.as_ptr(), std::ptr::null()];
        super::initialise(0, std::ptr::null(), envp.as_ptr());
        assert_eq!(super::config().settings.agent, "first");
    }

    #[test]
    fn parsing_the_configuration_leaves_the_panic_hook_alone() {
        // The first parse often runs in a fork child: it must not take std's panic-hook lock,
        // which a vanished parent thread may hold. Seen from outside: a hook installed before
        // the parse is still the one that runs after it.
        thread_local! {
            static HOOK_RAN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        }
        let _turn = PANIC_HOOK_TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::panic::set_hook(Box::new(|_| HOOK_RAN.with(|ran| ran.set(true))));
        let _ = super::load_config_from(&[b"RAMPART_DEBUG=1"]);
        let _ = std::panic::catch_unwind(|| {
            #[allow(clippy::panic)]
            {
                panic!("after parsing");
            }
        });
        let _ = std::panic::take_hook();
        assert!(
            HOOK_RAN.with(std::cell::Cell::get),
            "parsing the configuration replaced the panic hook"
        );
    }
}
