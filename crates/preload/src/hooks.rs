//! One hook per libc entry point that starts a program. Each hook is thin: it passes nested calls
//! (from the guard itself) straight through, lets `prepare` decide, then calls the real function —
//! with the executable that was checked and a restored environment.
//!
//! glibc calls its internal copies (`__execve`, `__posix_spawn`), never these symbols, so every
//! public entry point has its own hook; `c/shim.c` adds the variadic execl, execle and execlp.
//! `exports.txt` lists them all; a hook for an optional row is compiled only under its
//! `has_symbol_<name>` cfg (set by build.rs when the build's libc has the symbol).

use std::ffi::{CStr, CString};
use std::iter;
use std::sync::atomic::{AtomicU8, Ordering};

use libc::{FILE, c_char, c_int, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t};
use redhook::{hook, real};

use crate::client::Place;
use crate::command::{self, DEFAULT_PATH, Probe, Resolution, lookup_var};
use crate::ffi::{self, CArray, RebuiltEnv};
use crate::guard::{self, Ruling};
use crate::reentry::{self, InHook};

/// How a hook names the program it is about to run.
#[derive(Clone, Copy)]
enum Target {
    /// A path, run as given (execve, execv, execl, execle, posix_spawn).
    Path(*const c_char),
    /// A name searched in PATH (execvp, execvpe, execlp, posix_spawnp); the PATH is taken from the
    /// child's environment when the call has one.
    Search(*const c_char, CArray),
    /// An open file (fexecve).
    Fd(c_int),
    /// execveat's directory fd, path and flags.
    #[cfg(has_symbol_execveat)]
    At(c_int, *const c_char, c_int),
}

/// What the real call runs after an allow; owns the allocations the call points into.
struct Go {
    /// The resolved executable (PATH searches), to run exactly what was checked.
    path: Option<CString>,
    /// The restored environment, when the child's lost our values.
    env: Option<RebuiltEnv>,
}

impl Go {
    fn path_or(&self, original: *const c_char) -> *const c_char {
        self.path.as_ref().map_or(original, |path| path.as_ptr())
    }

    fn env_or(&self, original: CArray) -> CArray {
        self.env.as_ref().map_or(original, RebuiltEnv::as_ptr)
    }
}

enum Prepared {
    Go(Go),
    /// Do not run; fail with this errno (EPERM when denied).
    Refuse(c_int),
}

/// The executable to show in the command and, for a PATH search, the path to run instead.
struct Resolved {
    shown: Vec<u8>,
    run: Option<CString>,
}

/// Finds the executable a target names. A path that cannot be executed is not asked about: the
/// call fails with the errno execve would give (Python tries every PATH entry this way).
///
/// # Safety
/// The pointers in `target` are NULL or valid C strings / NULL-terminated arrays.
unsafe fn resolve(target: Target) -> Result<Resolved, c_int> {
    match target {
        Target::Path(path) => {
            // SAFETY: per the function contract.
            let path = unsafe { ffi::c_bytes(path) }.ok_or(libc::EFAULT)?;
            match ffi::probe(path) {
                Probe::Executable => Ok(Resolved {
                    shown: path.to_vec(),
                    run: None,
                }),
                Probe::Fails(errno) => Err(errno),
            }
        }
        Target::Search(file, envp) => {
            // SAFETY: per the function contract.
            let file = unsafe { ffi::c_bytes(file) }.ok_or(libc::EFAULT)?;
            // SAFETY: per the function contract; `current_environ` is the live environment.
            let path_var = lookup_var(unsafe { ffi::c_strings(envp) }, b"PATH")
                // SAFETY: as above.
                .or_else(|| lookup_var(unsafe { ffi::c_strings(ffi::current_environ()) }, b"PATH"))
                .unwrap_or(DEFAULT_PATH);
            match command::resolve_in_path(file, path_var, ffi::probe) {
                Resolution::Found(found) => {
                    let run = if *found == *file {
                        None
                    } else {
                        Some(CString::new(found.to_vec()).map_err(|_| libc::ENOENT)?)
                    };
                    Ok(Resolved {
                        shown: found.into_owned(),
                        run,
                    })
                }
                Resolution::NotFound(errno) => Err(errno),
            }
        }
        Target::Fd(fd) => Ok(Resolved {
            shown: ffi::fd_path(fd),
            run: None,
        }),
        #[cfg(has_symbol_execveat)]
        Target::At(dirfd, path, flags) => {
            // SAFETY: per the function contract.
            let path = unsafe { ffi::c_bytes(path) }.unwrap_or_default();
            let shown = if path.is_empty() && flags & libc::AT_EMPTY_PATH != 0 {
                ffi::fd_path(dirfd)
            } else if path.starts_with(b"/") {
                path.to_vec()
            } else {
                let mut base = if dirfd == libc::AT_FDCWD {
                    ffi::cwd()
                } else {
                    ffi::fd_path(dirfd)
                };
                base.push(b'/');
                base.extend_from_slice(path);
                base
            };
            Ok(Resolved { shown, run: None })
        }
    }
}

/// Resolves, checks and prepares one exec or spawn. Runs with the in-hook flag set and every panic
/// caught (a panic becomes the internal-failure ruling, never a silent allow).
///
/// # Safety
/// `target`, `argv` and `envp` hold NULL or valid C strings / NULL-terminated arrays.
unsafe fn prepare(hook: &'static str, target: Target, argv: CArray, envp: CArray, place: Place) -> Prepared {
    let Some(config) = crate::config_or_none() else {
        guard::internal_failure_without_config();
        return Prepared::Refuse(libc::EPERM);
    };
    guard::protect(
        config,
        || {
            let _inside = InHook::enter();
            // SAFETY: per the function contract.
            let resolved = match unsafe { resolve(target) } {
                Ok(resolved) => resolved,
                Err(errno) => return Prepared::Refuse(errno),
            };
            // SAFETY: per the function contract.
            let mut args = unsafe { ffi::c_strings(argv) };
            let first = command::first_word(args.next(), &resolved.shown, ffi::same_file);
            let command = command::render(iter::once(first).chain(args));
            if guard::check(config, hook, &command, place) == Ruling::Deny {
                return Prepared::Refuse(libc::EPERM);
            }
            // SAFETY: per the function contract.
            let env = unsafe { restored_env(envp) };
            Prepared::Go(Go {
                path: resolved.run,
                env,
            })
        },
        |ruling| match ruling {
            Ruling::Allow => Prepared::Go(Go {
                path: None,
                env: None,
            }),
            Ruling::Deny => Prepared::Refuse(libc::EPERM),
        },
    )
}

/// The child environment with the load-time values put back, or None when it already has them.
/// The intact case walks `envp` in place and allocates nothing.
///
/// # Safety
/// `envp` is NULL or a NULL-terminated array of C strings.
unsafe fn restored_env(envp: CArray) -> Option<RebuiltEnv> {
    // SAFETY: per the function contract.
    let entries = unsafe { ffi::c_strings(envp) };
    let plan = crate::env::plan(&crate::config().snapshot, entries)?;
    // SAFETY: as above; the plan's indexes count the same entries.
    let pointers = unsafe { ffi::c_pointers(envp) };
    Some(RebuiltEnv::new(plan, &pointers))
}

/// Checks a shell command (system, popen) and re-asserts the load-time values in this process's
/// environment, which the real function hands to `/bin/sh`.
///
/// system() and popen() run in the parent, so setenv is allowed here. It is not thread-safe
/// against a concurrent getenv in another thread, so it only runs when the agent changed the
/// values (rare), never on the common path. Re-implementing system/popen on posix_spawn with a
/// rebuilt envp would avoid it but would have to reproduce their signal handling and pclose's
/// bookkeeping exactly.
///
/// # Safety
/// `command` is a valid C string.
unsafe fn prepare_shell(hook: &'static str, command: *const c_char) -> Result<(), c_int> {
    let Some(config) = crate::config_or_none() else {
        guard::internal_failure_without_config();
        return Err(libc::EPERM);
    };
    guard::protect(
        config,
        || {
            let _inside = InHook::enter();
            // SAFETY: per the function contract.
            let text =
                String::from_utf8_lossy(unsafe { ffi::c_bytes(command) }.unwrap_or_default()).into_owned();
            if guard::check(config, hook, &text, Place::Spawner) == Ruling::Deny {
                return Err(libc::EPERM);
            }
            reassert_environment();
            Ok(())
        },
        |ruling| match ruling {
            Ruling::Allow => Ok(()),
            Ruling::Deny => Err(libc::EPERM),
        },
    )
}

fn reassert_environment() {
    // SAFETY: the live environment is a NULL-terminated array of C strings.
    let entries = unsafe { ffi::c_strings(ffi::current_environ()) };
    let fixes = crate::env::corrections(&crate::config().snapshot, entries);
    for fix in fixes {
        let Ok(name) = CString::new(fix.name) else {
            continue;
        };
        match fix.value.and_then(|value| CString::new(value).ok()) {
            // SAFETY: both are valid C strings; we are in the parent process (system/popen).
            Some(value) => unsafe {
                libc::setenv(name.as_ptr(), value.as_ptr(), 1);
            },
            // SAFETY: as above.
            None => unsafe {
                libc::unsetenv(name.as_ptr());
            },
        }
    }
}

/// The exec family: refuse with -1/errno, or run the real call with the checked executable and the
/// restored environment.
///
/// # Safety
/// The arguments are what the caller passed to the hooked libc function.
unsafe fn guarded_exec(hook: &'static str, target: Target, argv: CArray, envp: CArray) -> c_int {
    // SAFETY: per the function contract.
    match unsafe { prepare(hook, target, argv, envp, Place::Exec) } {
        Prepared::Refuse(errno) => {
            ffi::set_errno(errno);
            -1
        }
        Prepared::Go(go) => {
            let env = go.env_or(envp);
            // SAFETY: the real functions with the caller's arguments, or our replacements, which
            // `go` keeps alive across the call.
            unsafe {
                match target {
                    Target::Path(path) => real!(execve)(path, argv, env),
                    // execvpe with the resolved path runs exactly what was checked and keeps
                    // execvp's fallback to /bin/sh for scripts without a #! line.
                    Target::Search(file, _) => real!(execvpe)(go.path_or(file), argv, env),
                    Target::Fd(fd) => real!(fexecve)(fd, argv, env),
                    #[cfg(has_symbol_execveat)]
                    Target::At(dirfd, path, flags) => real_execveat(dirfd, path, argv, env, flags),
                }
            }
        }
    }
}

/// The spawn family: like `guarded_exec`, but errors are returned, not put in errno. `real` is
/// the real call, given the program to run and the environment to pass.
///
/// # Safety
/// `target`, `argv` and `envp` are what the caller passed to the hooked spawn function.
unsafe fn guarded_spawn(
    hook: &'static str,
    target: Target,
    argv: CArray,
    envp: CArray,
    real: impl FnOnce(*const c_char, CArray) -> c_int,
) -> c_int {
    // SAFETY: per the function contract.
    match unsafe { prepare(hook, target, argv, envp, Place::Spawner) } {
        Prepared::Refuse(errno) => errno,
        Prepared::Go(go) => match target {
            Target::Path(path) => real(path, go.env_or(envp)),
            Target::Search(file, _) => real(go.path_or(file), go.env_or(envp)),
            _ => libc::EINVAL,
        },
    }
}

/// Whether the running libc has an optional row's symbol (`optional::<name>`, generated): the
/// build's libc may be newer. 0 = not looked up yet, 1 = present, 2 = missing.
#[allow(dead_code, reason = "unused where the build's libc has no optional row")]
pub struct Optional {
    name: &'static CStr,
    state: AtomicU8,
}

#[allow(dead_code, reason = "unused where the build's libc has no optional row")]
impl Optional {
    const fn new(name: &'static CStr) -> Optional {
        Optional {
            name,
            state: AtomicU8::new(0),
        }
    }

    /// Looked up by the constructor, or by the first call of a hook that runs before it.
    fn present(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            1 => true,
            2 => false,
            _ => {
                let present = symbol_exists(self.name);
                self.state.store(if present { 1 } else { 2 }, Ordering::Release);
                present
            }
        }
    }
}

fn symbol_exists(name: &CStr) -> bool {
    // SAFETY: `name` is a valid C string; RTLD_NEXT looks past this library.
    !unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) }.is_null()
}

/// The real function of an optional row, or None where the running libc lacks it (redhook's
/// lookup would abort on a missing symbol).
#[allow(unused_macros, reason = "unused where the build's libc has no optional row")]
macro_rules! real_optional {
    ($name:ident) => {
        optional::$name.present().then(|| real!($name))
    };
}

hook! {
    unsafe fn execve(path: *const c_char, argv: CArray, envp: CArray) -> c_int => rampart_hook_execve {
        if reentry::active() {
            // SAFETY: a nested call from the guard itself goes straight to libc.
            return unsafe { real!(execve)(path, argv, envp) };
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_exec("execve", Target::Path(path), argv, envp) }
    }
}

hook! {
    unsafe fn execv(path: *const c_char, argv: CArray) -> c_int => rampart_hook_execv {
        if reentry::active() {
            // SAFETY: a nested call from the guard itself goes straight to libc.
            return unsafe { real!(execv)(path, argv) };
        }
        // SAFETY: the caller's arguments; execv runs with the current environment.
        unsafe { guarded_exec("execv", Target::Path(path), argv, ffi::current_environ()) }
    }
}

hook! {
    unsafe fn execvp(file: *const c_char, argv: CArray) -> c_int => rampart_hook_execvp {
        if reentry::active() {
            // SAFETY: a nested call from the guard itself goes straight to libc.
            return unsafe { real!(execvp)(file, argv) };
        }
        let env = ffi::current_environ();
        // SAFETY: the caller's arguments; Node sets `environ` to the child's before execvp.
        unsafe { guarded_exec("execvp", Target::Search(file, env), argv, env) }
    }
}

hook! {
    unsafe fn execvpe(file: *const c_char, argv: CArray, envp: CArray) -> c_int => rampart_hook_execvpe {
        if reentry::active() {
            // SAFETY: a nested call from the guard itself goes straight to libc.
            return unsafe { real!(execvpe)(file, argv, envp) };
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_exec("execvpe", Target::Search(file, envp), argv, envp) }
    }
}

hook! {
    unsafe fn fexecve(fd: c_int, argv: CArray, envp: CArray) -> c_int => rampart_hook_fexecve {
        if reentry::active() {
            // SAFETY: a nested call from the guard itself goes straight to libc.
            return unsafe { real!(fexecve)(fd, argv, envp) };
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_exec("fexecve", Target::Fd(fd), argv, envp) }
    }
}

#[cfg(has_symbol_execveat)]
hook! {
    unsafe fn execveat(dirfd: c_int, path: *const c_char, argv: CArray, envp: CArray, flags: c_int) -> c_int => rampart_hook_execveat {
        if reentry::active() {
            // SAFETY: a nested call from the guard itself goes straight to libc.
            return unsafe { real_execveat(dirfd, path, argv, envp, flags) };
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_exec("execveat", Target::At(dirfd, path, flags), argv, envp) }
    }
}

hook! {
    unsafe fn posix_spawn(
        pid: *mut pid_t,
        path: *const c_char,
        file_actions: *const posix_spawn_file_actions_t,
        attrp: *const posix_spawnattr_t,
        argv: CArray,
        envp: CArray
    ) -> c_int => rampart_hook_posix_spawn {
        let real = |path, env| {
            // SAFETY: the caller's arguments, with the checked program and environment.
            unsafe { real!(posix_spawn)(pid, path, file_actions, attrp, argv, env) }
        };
        if reentry::active() {
            // A nested call from the guard itself goes straight to libc.
            return real(path, envp);
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_spawn("posix_spawn", Target::Path(path), argv, envp, real) }
    }
}

hook! {
    unsafe fn posix_spawnp(
        pid: *mut pid_t,
        file: *const c_char,
        file_actions: *const posix_spawn_file_actions_t,
        attrp: *const posix_spawnattr_t,
        argv: CArray,
        envp: CArray
    ) -> c_int => rampart_hook_posix_spawnp {
        let real = |file, env| {
            // SAFETY: the caller's arguments, with the checked program and environment.
            unsafe { real!(posix_spawnp)(pid, file, file_actions, attrp, argv, env) }
        };
        if reentry::active() {
            // A nested call from the guard itself goes straight to libc.
            return real(file, envp);
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_spawn("posix_spawnp", Target::Search(file, envp), argv, envp, real) }
    }
}

// pidfd_spawn[p] (glibc 2.39) are posix_spawn[p] with a pidfd instead of a pid: the same hooks.
#[cfg(has_symbol_pidfd_spawn)]
hook! {
    unsafe fn pidfd_spawn(
        pidfd: *mut c_int,
        path: *const c_char,
        file_actions: *const posix_spawn_file_actions_t,
        attrp: *const posix_spawnattr_t,
        argv: CArray,
        envp: CArray
    ) -> c_int => rampart_hook_pidfd_spawn {
        let real = |path, env| match real_optional!(pidfd_spawn) {
            // SAFETY: the caller's arguments, with the checked program and environment.
            Some(real) => unsafe { real(pidfd, path, file_actions, attrp, argv, env) },
            None => libc::ENOSYS,
        };
        if reentry::active() {
            // A nested call from the guard itself goes straight to libc.
            return real(path, envp);
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_spawn("pidfd_spawn", Target::Path(path), argv, envp, real) }
    }
}

#[cfg(has_symbol_pidfd_spawnp)]
hook! {
    unsafe fn pidfd_spawnp(
        pidfd: *mut c_int,
        file: *const c_char,
        file_actions: *const posix_spawn_file_actions_t,
        attrp: *const posix_spawnattr_t,
        argv: CArray,
        envp: CArray
    ) -> c_int => rampart_hook_pidfd_spawnp {
        let real = |file, env| match real_optional!(pidfd_spawnp) {
            // SAFETY: the caller's arguments, with the checked program and environment.
            Some(real) => unsafe { real(pidfd, file, file_actions, attrp, argv, env) },
            None => libc::ENOSYS,
        };
        if reentry::active() {
            // A nested call from the guard itself goes straight to libc.
            return real(file, envp);
        }
        // SAFETY: the caller's arguments.
        unsafe { guarded_spawn("pidfd_spawnp", Target::Search(file, envp), argv, envp, real) }
    }
}

hook! {
    unsafe fn system(command: *const c_char) -> c_int => rampart_hook_system {
        // system(NULL) only asks whether a shell exists.
        if command.is_null() || reentry::active() {
            // SAFETY: the caller's argument, straight to libc.
            return unsafe { real!(system)(command) };
        }
        // SAFETY: `command` is the caller's non-null C string.
        match unsafe { prepare_shell("system", command) } {
            // SAFETY: the caller's argument.
            Ok(()) => unsafe { real!(system)(command) },
            Err(errno) => {
                ffi::set_errno(errno);
                -1
            }
        }
    }
}

hook! {
    unsafe fn popen(command: *const c_char, mode: *const c_char) -> *mut FILE => rampart_hook_popen {
        if command.is_null() || reentry::active() {
            // SAFETY: the caller's arguments, straight to libc.
            return unsafe { real!(popen)(command, mode) };
        }
        // SAFETY: the caller's argument: NULL or a C string.
        if cfg!(target_env = "gnu") && !unsafe { ffi::c_bytes(mode) }.is_some_and(popen_mode_is_valid) {
            // glibc fails such a call with EINVAL before starting anything: nothing to ask about.
            ffi::set_errno(libc::EINVAL);
            return std::ptr::null_mut();
        }
        // SAFETY: `command` is the caller's non-null C string.
        match unsafe { prepare_shell("popen", command) } {
            // SAFETY: the caller's arguments.
            Ok(()) => unsafe { real!(popen)(command, mode) },
            Err(errno) => {
                ffi::set_errno(errno);
                std::ptr::null_mut()
            }
        }
    }
}

/// Whether glibc's popen accepts `mode`: `r` or `w` (exactly one of them), optionally with `e`.
fn popen_mode_is_valid(mode: &[u8]) -> bool {
    let (mut read, mut write) = (false, false);
    for byte in mode {
        match byte {
            b'r' => read = true,
            b'w' => write = true,
            b'e' => {}
            _ => return false,
        }
    }
    read != write
}

/// The real execveat, or ENOSYS where the running libc has none.
///
/// # Safety
/// The arguments of an execveat call.
#[cfg(has_symbol_execveat)]
unsafe fn real_execveat(
    dirfd: c_int,
    path: *const c_char,
    argv: CArray,
    envp: CArray,
    flags: c_int,
) -> c_int {
    match real_optional!(execveat) {
        // SAFETY: the caller's arguments, passed on.
        Some(real) => unsafe { real(dirfd, path, argv, envp, flags) },
        None => {
            ffi::set_errno(libc::ENOSYS);
            -1
        }
    }
}

// Used by the generated `resolve_real_functions`. redhook resolves lazily under a `Once`; doing it
// at load keeps dlsym out of fork/vfork children. A symbol libc lacks is skipped (looking it up
// through redhook would abort).
macro_rules! resolve {
    ($name:ident) => {
        // A literal, not a CString: the constructor does not allocate.
        let name = const { CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) };
        if name.is_ok_and(symbol_exists) {
            let _ = real!($name);
        }
    };
}

#[allow(unused_macros, reason = "unused where the build's libc has no optional row")]
macro_rules! resolve_optional {
    ($name:ident) => {
        if optional::$name.present() {
            let _ = real!($name);
        }
    };
}

// `resolve_real_functions()` (called from the constructor) and `mod optional`, from exports.txt.
include!(concat!(env!("OUT_DIR"), "/real_functions.rs"));

/// The Rust side of execl and execle (c/shim.c): the argv is already flattened; `envp` is
/// `environ` for execl.
///
/// # Safety
/// Called only by the shim with execl/execle's arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rampart_shim_execve(
    hook: *const c_char,
    path: *const c_char,
    argv: CArray,
    envp: CArray,
) -> c_int {
    // SAFETY: the shim passes a string literal.
    let hook = match unsafe { ffi::c_bytes(hook) } {
        Some(b"execle") => "execle",
        _ => "execl",
    };
    if reentry::active() {
        // SAFETY: a nested call goes straight to libc.
        return unsafe { real!(execve)(path, argv, envp) };
    }
    // SAFETY: the caller's arguments.
    unsafe { guarded_exec(hook, Target::Path(path), argv, envp) }
}

/// The Rust side of execlp (c/shim.c).
///
/// # Safety
/// Called only by the shim with execlp's arguments.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rampart_shim_execvp(
    _hook: *const c_char,
    file: *const c_char,
    argv: CArray,
) -> c_int {
    let env = ffi::current_environ();
    if reentry::active() {
        // SAFETY: a nested call goes straight to libc.
        return unsafe { real!(execvpe)(file, argv, env) };
    }
    // SAFETY: the caller's arguments.
    unsafe { guarded_exec("execlp", Target::Search(file, env), argv, env) }
}

#[cfg(test)]
mod tests {
    use super::popen_mode_is_valid;

    #[test]
    fn popen_modes_are_those_glibc_accepts() {
        for mode in ["r", "w", "re", "we", "er", "rr"] {
            assert!(popen_mode_is_valid(mode.as_bytes()), "{mode:?}");
        }
        for mode in ["", "rw", "wr", "e", "x", "rb", "r+", "w+"] {
            assert!(!popen_mode_is_valid(mode.as_bytes()), "{mode:?}");
        }
    }
}
