//! Small, audited conversions between C pointers and Rust slices, and the few libc queries the
//! guard needs (file probes, fd paths, errno, environ). Everything above this module works on
//! plain slices and is unit-tested without FFI.

use std::ffi::{CStr, CString};

use libc::{c_char, c_int};

use crate::command::Probe;
use crate::env::Entry;

/// A NULL-terminated array of C strings (argv, envp).
pub type CArray = *const *const c_char;

#[cfg(not(target_os = "macos"))]
unsafe extern "C" {
    static environ: CArray;
}

/// The process environment right now (Node sets it to the child's before execvp).
pub fn current_environ() -> CArray {
    #[cfg(not(target_os = "macos"))]
    // SAFETY: reading the pointer value of libc's `environ`; it is only ever replaced whole.
    unsafe {
        environ
    }
    #[cfg(target_os = "macos")]
    {
        unsafe extern "C" {
            fn _NSGetEnviron() -> *mut *mut *mut c_char;
        }
        // SAFETY: _NSGetEnviron returns the address of the process's environ variable.
        unsafe { (*_NSGetEnviron()) as CArray }
    }
}

pub fn set_errno(errno: c_int) {
    // SAFETY: the errno location is always valid for the calling thread.
    unsafe {
        #[cfg(not(target_os = "macos"))]
        {
            *libc::__errno_location() = errno;
        }
        #[cfg(target_os = "macos")]
        {
            *libc::__error() = errno;
        }
    }
}

fn errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The bytes of a C string, or None for NULL.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string that outlives `'a`.
pub unsafe fn c_bytes<'a>(text: *const c_char) -> Option<&'a [u8]> {
    if text.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    Some(unsafe { CStr::from_ptr(text) }.to_bytes())
}

/// The pointers of a NULL-terminated array (without the terminator); NULL gives an empty list.
///
/// # Safety
/// `array` is NULL or points to a NULL-terminated array of pointers.
pub unsafe fn c_pointers(array: CArray) -> Vec<*const c_char> {
    let mut pointers = Vec::new();
    if array.is_null() {
        return pointers;
    }
    let mut index = 0;
    loop {
        // SAFETY: the array is NULL-terminated and we stop at the terminator.
        let item = unsafe { *array.add(index) };
        if item.is_null() {
            return pointers;
        }
        pointers.push(item);
        index += 1;
    }
}

/// The strings of a NULL-terminated array, without allocating. Fused: once the terminator is
/// reached it stays done (an adapter may ask again, e.g. `filter_map` after a miss), and a clone
/// made before the end starts where the original was.
///
/// # Safety
/// As `c_pointers`, and every string outlives `'a`.
pub unsafe fn c_strings<'a>(array: CArray) -> impl Iterator<Item = &'a [u8]> + Clone {
    let mut next = array;
    std::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        // SAFETY: the array is NULL-terminated and `next` never passes the terminator.
        let item = unsafe { *next };
        // SAFETY: a non-null entry of the array is a valid C string.
        let text = unsafe { c_bytes(item) };
        next = if item.is_null() {
            std::ptr::null()
        } else {
            // SAFETY: `item` is not the terminator, so the next slot is still inside the array.
            unsafe { next.add(1) }
        };
        text
    })
}

/// The strings of a NULL-terminated array.
///
/// # Safety
/// As `c_pointers`, and every string outlives `'a`.
pub unsafe fn c_array<'a>(array: CArray) -> Vec<&'a [u8]> {
    // SAFETY: forwarded contract; the pointers are non-null entries of the array.
    unsafe { c_pointers(array) }
        .into_iter()
        .filter_map(|p| unsafe { c_bytes(p) })
        .collect()
}

fn c_string(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes).ok()
}

/// Runs `work` with `path` as a C string: on the stack when it is short (every probe of a check
/// would otherwise be an allocation), else on the heap. None when `path` holds a NUL.
fn with_c_path<T>(path: &[u8], work: impl FnOnce(*const c_char) -> T) -> Option<T> {
    const SHORT: usize = 256;
    if path.contains(&0) {
        return None;
    }
    let mut buffer = [0u8; SHORT];
    match buffer.get_mut(..path.len()) {
        // `< SHORT` leaves room for the NUL already in the zeroed buffer.
        Some(start) if path.len() < SHORT => {
            start.copy_from_slice(path);
            Some(work(buffer.as_ptr().cast()))
        }
        _ => c_string(path).map(|path| work(path.as_ptr())),
    }
}

/// Whether `path` is an executable regular file for the effective user, as execve would see it.
pub fn probe(path: &[u8]) -> Probe {
    with_c_path(path, |path| {
        // SAFETY: `stat` is plain old data; zeroed is a valid value to be overwritten.
        let mut status: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `path` is NUL-terminated and `status` is a valid out-pointer.
        if unsafe { libc::stat(path, &mut status) } != 0 {
            return Probe::Fails(errno());
        }
        if status.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Probe::Fails(libc::EACCES);
        }
        // SAFETY: `path` is NUL-terminated.
        if unsafe { libc::faccessat(libc::AT_FDCWD, path, libc::X_OK, libc::AT_EACCESS) } != 0 {
            return Probe::Fails(errno());
        }
        Probe::Executable
    })
    .unwrap_or(Probe::Fails(libc::ENOENT))
}

/// Whether two paths name the same file (device and inode).
pub fn same_file(a: &[u8], b: &[u8]) -> bool {
    let identity = |path: &[u8]| {
        with_c_path(path, |path| {
            // SAFETY: as in `probe`.
            let mut status: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: as in `probe`.
            (unsafe { libc::stat(path, &mut status) } == 0).then_some((status.st_dev, status.st_ino))
        })
        .flatten()
    };
    matches!((identity(a), identity(b)), (Some(x), Some(y)) if x == y)
}

/// The path an open file descriptor refers to (`/proc/self/fd/N` when it cannot be read).
pub fn fd_path(fd: c_int) -> Vec<u8> {
    let link = format!("/proc/self/fd/{fd}");
    std::fs::read_link(&link)
        .map(|target| std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str()).to_vec())
        .unwrap_or_else(|_| link.into_bytes())
}

/// The current working directory, read into `buffer` without allocating (checks run in fork and
/// vfork children); None when it cannot be read or does not fit.
pub fn cwd_into(buffer: &mut [u8]) -> Option<&[u8]> {
    // SAFETY: getcwd writes at most `buffer.len()` bytes, NUL included, into `buffer`.
    let result = unsafe { libc::getcwd(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result.is_null() {
        return None;
    }
    let length = buffer.iter().position(|b| *b == 0)?;
    buffer.get(..length)
}

/// The current working directory, for paths relative to AT_FDCWD.
pub fn cwd() -> Vec<u8> {
    std::env::current_dir()
        .map(|dir| std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str()).to_vec())
        .unwrap_or_else(|_| b".".to_vec())
}

/// The file this library was loaded from: the loader's own copy of the name (it lives as long as
/// the library, i.e. the process for a preloaded one), so asking costs no allocation.
pub fn library_name() -> *const c_char {
    // SAFETY: `Dl_info` is plain old data.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let here = library_name as *const () as *const libc::c_void;
    // SAFETY: `here` is an address inside this library and `info` a valid out-pointer.
    if unsafe { libc::dladdr(here, &mut info) } != 0 {
        info.dli_fname
    } else {
        std::ptr::null()
    }
}

/// `library_name` as bytes (empty when unknown).
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
pub unsafe fn library_path(name: *const c_char) -> Vec<u8> {
    // SAFETY: `name` is NULL or the loader's NUL-terminated name of this library (see above).
    unsafe { c_bytes(name) }.unwrap_or_default().to_vec()
}

/// A child environment rebuilt from an `env::plan`: kept entries point into the caller's array,
/// new ones are owned here. Must outlive the exec/spawn call that uses `as_ptr`.
pub struct RebuiltEnv {
    _owned: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl RebuiltEnv {
    pub fn new(plan: Vec<Entry>, original: &[*const c_char]) -> RebuiltEnv {
        let mut owned = Vec::new();
        let mut pointers = Vec::with_capacity(plan.len() + 1);
        for entry in plan {
            match entry {
                Entry::Keep(index) => {
                    if let Some(pointer) = original.get(index) {
                        pointers.push(*pointer);
                    }
                }
                Entry::New(bytes) => {
                    if let Some(text) = c_string(&bytes) {
                        // The CString's heap buffer does not move when the CString is moved.
                        pointers.push(text.as_ptr());
                        owned.push(text);
                    }
                }
            }
        }
        pointers.push(std::ptr::null());
        RebuiltEnv {
            _owned: owned,
            pointers,
        }
    }

    pub fn as_ptr(&self) -> CArray {
        self.pointers.as_ptr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_read_up_to_the_terminator() {
        let a = c"A=1";
        let b = c"B=2";
        let array = [a.as_ptr(), b.as_ptr(), std::ptr::null()];
        // SAFETY: a NULL-terminated array of live C strings.
        let entries = unsafe { c_array(array.as_ptr()) };
        assert_eq!(entries, vec![&b"A=1"[..], &b"B=2"[..]]);
        // SAFETY: NULL is allowed.
        assert!(unsafe { c_array(std::ptr::null()) }.is_empty());
    }

    #[test]
    fn strings_stop_at_the_terminator_and_stay_stopped() {
        let a = c"A=1";
        let array = [a.as_ptr(), std::ptr::null(), c"past the end".as_ptr()];
        // SAFETY: a NULL-terminated array of live C strings.
        let mut strings = unsafe { c_strings(array.as_ptr()) };
        let copy = strings.clone();
        assert_eq!(strings.next(), Some(&b"A=1"[..]));
        assert_eq!(strings.next(), None);
        assert_eq!(
            strings.next(),
            None,
            "asking again must not read past the terminator"
        );
        assert_eq!(copy.count(), 1, "a clone starts where the original was");
    }

    #[test]
    fn rebuilt_env_keeps_and_adds_entries() {
        let a = c"A=1";
        let b = c"B=2";
        let original = [a.as_ptr(), b.as_ptr()];
        let rebuilt = RebuiltEnv::new(vec![Entry::Keep(1), Entry::New(b"C=3".to_vec())], &original);
        // SAFETY: as_ptr is a NULL-terminated array of live C strings.
        let entries = unsafe { c_array(rebuilt.as_ptr()) };
        assert_eq!(entries, vec![&b"B=2"[..], &b"C=3"[..]]);
    }

    #[test]
    fn probe_tells_executables_from_others() {
        assert_eq!(probe(b"/bin/sh"), Probe::Executable);
        assert_eq!(probe(b"/nonexistent/x"), Probe::Fails(libc::ENOENT));
        assert_eq!(
            probe(b"/tmp"),
            Probe::Fails(libc::EACCES),
            "directories are not executables"
        );
        assert_eq!(probe(b"/etc/hostname\0x"), Probe::Fails(libc::ENOENT));
        let long = format!("/nonexistent{}", "/x".repeat(200));
        assert_eq!(
            probe(long.as_bytes()),
            Probe::Fails(libc::ENOENT),
            "long paths go through the heap copy"
        );
        assert_eq!(
            probe(format!("{}/bin/sh", "/.".repeat(200)).as_bytes()),
            Probe::Executable
        );
    }

    #[test]
    fn same_file_compares_inodes() {
        assert!(same_file(b"/bin/sh", b"/bin/../bin/sh"));
        assert!(!same_file(b"/bin/sh", b"/nonexistent"));
    }
}
