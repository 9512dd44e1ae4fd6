//! The Node addon behind `src/native/index.ts`: locate, verify and install librampart.so, inspect
//! the executables rampart is asked to run, and parse RAMPART_* exactly as the library does. This
//! file holds `#[napi]` items only: they convert types and map errors; the logic lives in
//! `elf.rs`, `install.rs`, `locate.rs` and the `rampart-settings` crate (the library's own parser).
//! Never link or load the preload library here: its hooks would catch node's own execs.
//! File-reading items use `catch_unwind`: a bug on a hostile file becomes a JS error, not an abort.
#![deny(clippy::all)]

pub mod elf;
pub mod install;
pub mod locate;

use std::path::{Path, PathBuf};

use napi::{Error, Result};
use napi_derive::napi;

/// Version of the addon (the package version).
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The library's file name on this platform: `librampart.so` (Linux) or `librampart.dylib` (macOS).
#[napi]
pub fn library_file_name() -> String {
    locate::library_file_name().to_string()
}

/// Every symbol librampart.so must export (the required rows of crates/preload/exports.txt), in
/// file order.
#[napi]
pub fn expected_exports() -> Vec<String> {
    elf::expected_exports().into_iter().map(String::from).collect()
}

/// The symbols librampart.so exports only when built against a libc that has them (the optional
/// rows of crates/preload/exports.txt), in file order.
#[napi]
pub fn optional_exports() -> Vec<String> {
    elf::optional_exports().into_iter().map(String::from).collect()
}

/// The directories only node can compute, from which the library search path is built.
#[napi(object)]
pub struct SearchInputs {
    /// Home directory: `<home>/.rampart/lib` is searched first.
    pub home: Option<String>,
    /// Real directory of the `rampart` binary and its parent.
    pub binary_dirs: Vec<String>,
    /// Directory of the resolved `@rampart/core-<platform>` package.
    pub platform_package_dir: Option<String>,
    /// Root of the rampart package (a source checkout has `target/release` under it).
    pub package_root: Option<String>,
    /// Paths never chosen by `locateLibrary` (still listed as searched), e.g. an install target.
    pub exclude: Option<Vec<String>>,
}

/// One place the library is looked for.
#[napi(object)]
pub struct Candidate {
    pub path: String,
    /// `home`, `usr-local`, `beside-binary`, `platform-package` or `source-checkout`.
    pub origin: String,
}

/// The search path, in the order the library is looked for, without duplicates.
#[napi(catch_unwind)]
pub fn library_search_path(inputs: SearchInputs) -> Vec<Candidate> {
    locate::search_path(&to_search_inputs(inputs))
        .into_iter()
        .map(to_candidate)
        .collect()
}

/// The result of looking for the library.
#[napi(object)]
pub struct LocateResult {
    /// The first candidate that is a regular file, if any.
    pub found: Option<Candidate>,
    /// Every candidate, in search order.
    pub searched: Vec<Candidate>,
}

/// Looks for the library along the search path, skipping `inputs.exclude`.
#[napi(catch_unwind)]
pub fn locate_library(inputs: SearchInputs) -> LocateResult {
    let exclude: Vec<PathBuf> = inputs
        .exclude
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    let candidates = locate::search_path(&to_search_inputs(inputs));
    let found = locate::first_existing(&candidates, &exclude)
        .cloned()
        .map(to_candidate);
    LocateResult {
        found,
        searched: candidates.into_iter().map(to_candidate).collect(),
    }
}

fn to_search_inputs(inputs: SearchInputs) -> locate::SearchInputs {
    locate::SearchInputs {
        home: inputs.home.map(PathBuf::from),
        binary_dirs: inputs.binary_dirs.into_iter().map(PathBuf::from).collect(),
        platform_package_dir: inputs.platform_package_dir.map(PathBuf::from),
        package_root: inputs.package_root.map(PathBuf::from),
    }
}

fn to_candidate(candidate: locate::Candidate) -> Candidate {
    Candidate {
        path: candidate.path.display().to_string(),
        origin: candidate.origin.as_str().to_string(),
    }
}

/// What `verifyLibrary` found; `ok` is true exactly when `problems` is empty.
#[napi(object)]
pub struct LibraryReport {
    pub path: String,
    pub ok: bool,
    /// Human sentences, one per problem.
    pub problems: Vec<String>,
    /// `ELF32` or `ELF64` when the file is an ELF file.
    pub elf_class: Option<String>,
    /// The library's architecture, e.g. `x86_64`.
    pub machine: Option<String>,
    /// This host's architecture.
    pub host_machine: String,
    pub shared_object: bool,
    /// Required symbols of exports.txt the library defines and exports.
    pub exported_hooks: Vec<String>,
    /// Required symbols of exports.txt it lacks (each is a problem).
    pub missing_symbols: Vec<String>,
    /// Optional symbols of exports.txt it exports.
    pub exported_optional: Vec<String>,
    /// Optional symbols it lacks (built against a libc without them; not a problem).
    pub missing_optional: Vec<String>,
    /// The string in its `rampart_preload_version` symbol.
    pub version: Option<String>,
    pub expected_version: String,
}

/// Checks that the file at `path` is a librampart this host can preload: an ELF shared object of
/// the host's class and machine that exports every required symbol of exports.txt, with the expected
/// version. Reads the file; never loads it. Problems (including an unreadable file) are reported,
/// not thrown.
#[napi(catch_unwind)]
pub fn verify_library(path: String, expected_version: String) -> LibraryReport {
    let report = elf::verify_library(Path::new(&path), &expected_version);
    LibraryReport {
        ok: report.ok(),
        path: report.path,
        problems: report.problems,
        elf_class: report.elf_class.map(|c| c.as_str().to_string()),
        machine: report.machine,
        host_machine: report.host_machine,
        shared_object: report.shared_object,
        exported_hooks: report.exported_hooks,
        missing_symbols: report.missing_symbols,
        exported_optional: report.exported_optional,
        missing_optional: report.missing_optional,
        version: report.version,
        expected_version: report.expected_version,
    }
}

/// The result of `installLibrary`.
#[napi(object)]
pub struct InstallResult {
    /// Where the library now is.
    pub path: String,
    pub version: String,
    /// Version of the library it replaced, when there was one.
    pub replaced_version: Option<String>,
    /// True when the same bytes were already installed.
    pub unchanged: bool,
}

/// Verifies `source` and installs it as `<dir>/librampart.so` atomically (temp file, fsync,
/// chmod 0755, rename, fsync of the directory), creating `dir` (0755) when missing. Throws when
/// the source is not a usable library, or, unless `force`, when its version is not
/// `expectedVersion` or the installed library is newer.
#[napi(catch_unwind)]
pub fn install_library(
    source: String,
    dir: String,
    expected_version: String,
    force: bool,
) -> Result<InstallResult> {
    let installed = install::install(
        Path::new(&source),
        Path::new(&dir),
        locate::library_file_name(),
        &expected_version,
        force,
    )
    .map_err(Error::from_reason)?;
    Ok(InstallResult {
        path: installed.path.display().to_string(),
        version: installed.version,
        replaced_version: installed.replaced_version,
        unchanged: installed.unchanged,
    })
}

/// Compares two semantic versions: -1, 0 or 1; throws when either is not `MAJOR.MINOR.PATCH[-pre]`.
#[napi]
pub fn compare_versions(a: String, b: String) -> Result<i32> {
    install::compare_versions(&a, &b)
        .map(|order| order as i32)
        .ok_or_else(|| {
            Error::from_reason(format!(
                "Cannot compare versions {a:?} and {b:?}: not semantic versions."
            ))
        })
}

/// A `#!` line: the interpreter and its one optional argument.
#[napi(object)]
pub struct Shebang {
    pub interpreter: String,
    pub argument: Option<String>,
}

/// Facts about a program file that decide whether preloading can protect it.
#[napi(object)]
pub struct ExecutableFacts {
    pub path: String,
    pub is_elf: bool,
    /// `ELF32` or `ELF64`.
    pub elf_class: Option<String>,
    pub machine: Option<String>,
    /// An ELF program without PT_INTERP: no dynamic loader runs, LD_PRELOAD is ignored.
    pub is_static: bool,
    /// Its dynamic loader (PT_INTERP).
    pub interpreter: Option<String>,
    /// Set-user-ID: the loader ignores LD_PRELOAD for it.
    pub setuid: bool,
    /// Set-group-ID: the loader ignores LD_PRELOAD for it.
    pub setgid: bool,
    /// The `#!` line of a script.
    pub shebang: Option<Shebang>,
}

/// Inspects the program file at `path` (a path, not a bare command name). Reads the ELF and
/// program headers or the `#!` line only. Throws `<path>: <what is wrong>` for unreadable files.
#[napi(catch_unwind)]
pub fn inspect_executable(path: String) -> Result<ExecutableFacts> {
    let info = elf::inspect_executable(Path::new(&path)).map_err(Error::from_reason)?;
    Ok(ExecutableFacts {
        path: info.path,
        is_elf: info.is_elf,
        elf_class: info.elf_class.map(|c| c.as_str().to_string()),
        machine: info.machine,
        is_static: info.is_static,
        interpreter: info.interpreter,
        setuid: info.setuid,
        setgid: info.setgid,
        shebang: info.shebang.map(|s| Shebang {
            interpreter: s.interpreter,
            argument: s.argument,
        }),
    })
}

/// The RAMPART_* settings as librampart.so reads them.
#[napi(object, use_nullable = true)]
pub struct LibrarySettings {
    /// RAMPART_URL as given (or the default), as the library names it in messages.
    pub url: String,
    /// Where the library sends checks (`<url without trailing />/v1/preflight/exec`), or null when
    /// RAMPART_URL cannot be used (see `urlProblem`).
    pub endpoint: Option<String>,
    /// Why RAMPART_URL cannot be used (the library's sentence; it then denies in enforce mode), or
    /// null.
    pub url_problem: Option<String>,
    /// RAMPART_TOKEN, or null when unset or empty.
    pub token: Option<String>,
    #[napi(ts_type = "'enforce' | 'monitor' | 'disabled'")]
    pub mode: String,
    /// Whether an unreachable server allows (RAMPART_FAIL_OPEN).
    pub fail_open: bool,
    pub agent: String,
    pub session: String,
    pub debug: bool,
    /// Problems with the values (an unknown mode, an unknown fail-open flag), as the library
    /// prints them with RAMPART_DEBUG.
    pub notes: Vec<String>,
}

/// Parses `entries` (`NAME=value` strings, as in an environment; the first of a name wins, an
/// entry without `=` is no value) with the parser librampart.so uses, for process id `pid` (the
/// default session is `preload-<pid>`). Reads no environment.
#[napi(catch_unwind)]
pub fn library_settings(entries: Vec<String>, pid: u32) -> LibrarySettings {
    let entries: Vec<&[u8]> = entries.iter().map(|entry| entry.as_bytes()).collect();
    let settings = rampart_settings::Settings::from_entries(&entries, pid);
    let (endpoint, url_problem) = match settings.endpoint {
        Ok(endpoint) => (Some(endpoint), None),
        Err(problem) => (None, Some(problem.to_string())),
    };
    LibrarySettings {
        url: settings.url,
        endpoint,
        url_problem,
        token: settings.token,
        mode: settings.mode.name().to_string(),
        fail_open: settings.fail_open,
        agent: settings.agent,
        session: settings.session,
        debug: settings.debug,
        notes: settings.notes,
    }
}

/// One RAMPART_* variable the library reads.
#[napi(object, use_nullable = true)]
pub struct LibrarySetting {
    pub name: String,
    /// The value an unset or empty variable behaves as (`<pid>` stands for the process id), or
    /// null when nothing takes its place (RAMPART_TOKEN).
    pub default: Option<String>,
}

/// Every RAMPART_* variable the library reads, in the library's order (its settings table).
#[napi]
pub fn library_settings_table() -> Vec<LibrarySetting> {
    rampart_settings::VARIABLES
        .iter()
        .map(|variable| LibrarySetting {
            name: variable.name.to_string(),
            default: variable.default.map(str::to_string),
        })
        .collect()
}
