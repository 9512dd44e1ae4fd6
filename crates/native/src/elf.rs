//! ELF facts the CLI needs, read from files with goblin (never by loading them: dlopen-ing
//! librampart.so into node would hook node's own exec calls).
//!
//! - `verify_library`: is this file a librampart.so this host can preload? (ELF class and
//!   machine, shared object, every required row of `exports.txt` defined and exported, version;
//!   optional rows are reported, not required: a library built on an older libc lacks them)
//! - `inspect_executable`: can preloading protect this program? (static, setuid/setgid, `#!`)

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::Path;

use goblin::container::{Container, Ctx};
use goblin::elf::Elf;
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{PT_INTERP, PT_LOAD, ProgramHeader};
use goblin::elf::sym::{self, Sym};

// REQUIRED_EXPORTS and OPTIONAL_EXPORTS, from crates/preload/exports.txt (see build.rs).
include!(concat!(env!("OUT_DIR"), "/exports.rs"));

/// The data symbol holding the library's crate version as NUL-terminated bytes.
pub const VERSION_SYMBOL: &str = "rampart_preload_version";

/// A version string longer than this is not a version: the symbol points at something else.
const MAX_VERSION_LEN: usize = 64;

/// librampart.so is a few MiB at most; refuse to slurp something absurd into memory.
const MAX_LIBRARY_SIZE: u64 = 512 * 1024 * 1024;

/// The kernel reads at most this much of a `#!` line (BINPRM_BUF_SIZE).
const MAX_SHEBANG_LEN: usize = 256;

/// Every symbol librampart.so must export (the required rows), in `exports.txt` order.
pub fn expected_exports() -> Vec<&'static str> {
    REQUIRED_EXPORTS.to_vec()
}

/// The symbols a library exports only when built against a libc that has them (the optional
/// rows), in `exports.txt` order.
pub fn optional_exports() -> Vec<&'static str> {
    OPTIONAL_EXPORTS.to_vec()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfClass {
    Elf32,
    Elf64,
}

impl ElfClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ElfClass::Elf32 => "ELF32",
            ElfClass::Elf64 => "ELF64",
        }
    }

    fn bits(self) -> u8 {
        match self {
            ElfClass::Elf32 => 32,
            ElfClass::Elf64 => 64,
        }
    }

    fn of(header: &Header) -> Option<ElfClass> {
        match header.e_ident[header::EI_CLASS] {
            header::ELFCLASS32 => Some(ElfClass::Elf32),
            header::ELFCLASS64 => Some(ElfClass::Elf64),
            _ => None,
        }
    }
}

/// The class of programs this process (and so the host) runs.
pub fn host_class() -> ElfClass {
    if cfg!(target_pointer_width = "64") {
        ElfClass::Elf64
    } else {
        ElfClass::Elf32
    }
}

/// The ELF `e_machine` of this process's architecture.
pub fn host_machine() -> u16 {
    if cfg!(target_arch = "x86_64") {
        header::EM_X86_64
    } else if cfg!(target_arch = "aarch64") {
        header::EM_AARCH64
    } else if cfg!(target_arch = "x86") {
        header::EM_386
    } else if cfg!(target_arch = "arm") {
        header::EM_ARM
    } else if cfg!(target_arch = "riscv64") {
        header::EM_RISCV
    } else if cfg!(target_arch = "powerpc64") {
        header::EM_PPC64
    } else if cfg!(target_arch = "s390x") {
        header::EM_S390
    } else if cfg!(target_arch = "loongarch64") {
        header::EM_LOONGARCH
    } else {
        header::EM_NONE
    }
}

/// The name people know an architecture by (`uname -m` style).
pub fn machine_name(e_machine: u16) -> String {
    match e_machine {
        header::EM_X86_64 => "x86_64".into(),
        header::EM_AARCH64 => "aarch64".into(),
        header::EM_386 => "i386".into(),
        header::EM_ARM => "arm".into(),
        header::EM_RISCV => "riscv".into(),
        header::EM_PPC64 => "ppc64".into(),
        header::EM_S390 => "s390x".into(),
        header::EM_LOONGARCH => "loongarch".into(),
        other => match header::machine_to_str(other) {
            "EM_UNKNOWN" => format!("unknown machine {other:#x}"),
            name => name.to_lowercase(),
        },
    }
}

/// An `io::Error` as a reason for a sentence ("No such file or directory"), without "(os error 2)".
pub fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// What `verify_library` found. `problems` is empty exactly when the library is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryReport {
    pub path: String,
    pub problems: Vec<String>,
    pub elf_class: Option<ElfClass>,
    pub machine: Option<String>,
    pub host_machine: String,
    pub shared_object: bool,
    /// Required symbols of exports.txt the library defines and exports (hooks and version).
    pub exported_hooks: Vec<String>,
    /// Required symbols it does not: each is a problem.
    pub missing_symbols: Vec<String>,
    /// Optional symbols it exports.
    pub exported_optional: Vec<String>,
    /// Optional symbols it does not (built against a libc without them): not a problem.
    pub missing_optional: Vec<String>,
    pub version: Option<String>,
    pub expected_version: String,
}

impl LibraryReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads and verifies the library at `path`; unreadable files are reported, not thrown.
pub fn verify_library(path: &Path, expected_version: &str) -> LibraryReport {
    let display = path.display().to_string();
    match read_whole(path, MAX_LIBRARY_SIZE) {
        Ok(bytes) => verify_library_bytes(&display, &bytes, expected_version),
        Err(problem) => LibraryReport {
            problems: vec![problem],
            ..empty_report(&display, expected_version)
        },
    }
}

fn empty_report(path: &str, expected_version: &str) -> LibraryReport {
    LibraryReport {
        path: path.to_string(),
        problems: vec![],
        elf_class: None,
        machine: None,
        host_machine: machine_name(host_machine()),
        shared_object: false,
        exported_hooks: vec![],
        missing_symbols: vec![],
        exported_optional: vec![],
        missing_optional: vec![],
        version: None,
        expected_version: expected_version.to_string(),
    }
}

/// The checks of `verify_library` on the file's bytes (pure: `path` only names it).
pub fn verify_library_bytes(path: &str, bytes: &[u8], expected_version: &str) -> LibraryReport {
    let mut report = empty_report(path, expected_version);
    if !bytes.starts_with(header::ELFMAG) {
        report
            .problems
            .push("It is not an ELF file (it does not start with \\x7fELF).".into());
        return report;
    }
    let elf = match Elf::parse(bytes) {
        Ok(elf) => elf,
        Err(error) => {
            report
                .problems
                .push(format!("It is a damaged ELF file: {error}."));
            return report;
        }
    };
    let class = ElfClass::of(&elf.header);
    report.elf_class = class;
    report.machine = Some(machine_name(elf.header.e_machine));
    report.shared_object = elf.header.e_type == header::ET_DYN;

    if let Some(class) = class
        && class != host_class()
    {
        report.problems.push(format!(
            "It is a {}-bit library but this host runs {}-bit programs.",
            class.bits(),
            host_class().bits()
        ));
    }
    if elf.header.e_machine != host_machine() {
        report.problems.push(format!(
            "It is built for {} but this host is {}.",
            machine_name(elf.header.e_machine),
            report.host_machine
        ));
    }
    if !report.shared_object {
        report.problems.push(format!(
            "It is not a shared library (its ELF type is {}).",
            header::et_to_str(elf.header.e_type)
        ));
    }

    for name in expected_exports() {
        if exported_symbol(&elf, name).is_some() {
            report.exported_hooks.push(name.to_string());
        } else {
            report.missing_symbols.push(name.to_string());
        }
    }
    if !report.missing_symbols.is_empty() {
        report.problems.push(format!(
            "It does not export {} (every required symbol in crates/preload/exports.txt must be defined).",
            report.missing_symbols.join(", ")
        ));
    }
    for name in optional_exports() {
        if exported_symbol(&elf, name).is_some() {
            report.exported_optional.push(name.to_string());
        } else {
            report.missing_optional.push(name.to_string());
        }
    }

    if let Some(symbol) = exported_symbol(&elf, VERSION_SYMBOL) {
        match read_version(&elf, bytes, &symbol) {
            Ok(version) => {
                if version != expected_version {
                    report.problems.push(format!(
                        "Its version is {version} but this rampart is {expected_version}: \
                         install the library that came with this rampart."
                    ));
                }
                report.version = Some(version);
            }
            Err(problem) => report.problems.push(problem),
        }
    }
    report
}

/// The defined, exported (global or weak, visible) dynamic symbol called `name`.
fn exported_symbol(elf: &Elf, name: &str) -> Option<Sym> {
    elf.dynsyms.iter().find(|symbol| {
        let bind = symbol.st_bind();
        let visibility = sym::st_visibility(symbol.st_other);
        symbol.st_shndx != 0 // SHN_UNDEF: an import, not an export
            && (bind == sym::STB_GLOBAL || bind == sym::STB_WEAK)
            && (visibility == sym::STV_DEFAULT || visibility == sym::STV_PROTECTED)
            && elf.dynstrtab.get_at(symbol.st_name) == Some(name)
    })
}

/// The NUL-terminated version string the version symbol points at: its address is mapped to a
/// file offset through the PT_LOAD segment that holds it.
fn read_version(elf: &Elf, bytes: &[u8], symbol: &Sym) -> Result<String, String> {
    let unreadable = |why: &str| format!("Its {VERSION_SYMBOL} symbol cannot be read: {why}.");
    if symbol.st_type() != sym::STT_OBJECT {
        return Err(unreadable("it is not a data symbol"));
    }
    let address = symbol.st_value;
    // Hostile headers may make any of this arithmetic overflow: checked, never wrapped.
    let segment = elf
        .program_headers
        .iter()
        .find(|ph| {
            ph.p_type == PT_LOAD
                && ph.p_vaddr <= address
                && ph
                    .p_vaddr
                    .checked_add(ph.p_filesz)
                    .is_some_and(|end| address < end)
        })
        .ok_or_else(|| unreadable("its address is not in a loaded part of the file"))?;
    let out_of_range = || unreadable("its address is out of range");
    let start = (address - segment.p_vaddr)
        .checked_add(segment.p_offset)
        .ok_or_else(out_of_range)?;
    let start = usize::try_from(start).map_err(|_| out_of_range())?;
    let segment_end = segment.p_offset.saturating_add(segment.p_filesz);
    let segment_end = usize::try_from(segment_end).unwrap_or(usize::MAX);
    let wanted = if symbol.st_size > 0 {
        symbol.st_size
    } else {
        MAX_VERSION_LEN as u64 + 1
    };
    let limit = start
        .saturating_add(usize::try_from(wanted).unwrap_or(usize::MAX))
        .min(segment_end)
        .min(bytes.len());
    let data = bytes
        .get(start..limit)
        .ok_or_else(|| unreadable("it points past the end of the file"))?;
    let text = data
        .iter()
        .position(|&b| b == 0)
        .map(|nul| &data[..nul])
        .ok_or_else(|| unreadable("it is not a NUL-terminated string"))?;
    if text.is_empty() || text.len() > MAX_VERSION_LEN {
        return Err(unreadable("it does not hold a version string"));
    }
    match std::str::from_utf8(text) {
        Ok(version) if version.chars().all(|c| c.is_ascii_graphic()) => Ok(version.to_string()),
        _ => Err(unreadable("it does not hold a printable version string")),
    }
}

/// Reads the library version of the file at `path`, if it is a readable ELF with that symbol.
pub fn library_version(path: &Path) -> Option<String> {
    let bytes = read_whole(path, MAX_LIBRARY_SIZE).ok()?;
    let elf = Elf::parse(&bytes).ok()?;
    let symbol = exported_symbol(&elf, VERSION_SYMBOL)?;
    read_version(&elf, &bytes, &symbol).ok()
}

fn read_whole(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let file = File::open(path).map_err(|e| format!("It cannot be read: {}.", io_reason(&e)))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("It cannot be read: {}.", io_reason(&e)))?;
    if !meta.is_file() {
        return Err("It is not a regular file.".into());
    }
    if meta.len() > limit {
        return Err(format!(
            "It is {} bytes, far too large to be librampart.",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("It cannot be read: {}.", io_reason(&e)))?;
    Ok(bytes)
}

/// A `#!` line: the interpreter the kernel runs and its one optional argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    pub interpreter: String,
    pub argument: Option<String>,
}

/// What decides whether preloading can protect a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutableInfo {
    pub path: String,
    pub is_elf: bool,
    pub elf_class: Option<ElfClass>,
    pub machine: Option<String>,
    /// No PT_INTERP: the dynamic loader never runs, so LD_PRELOAD is ignored.
    pub is_static: bool,
    /// The PT_INTERP dynamic loader, e.g. /lib64/ld-linux-x86-64.so.2.
    pub interpreter: Option<String>,
    /// The loader ignores LD_PRELOAD (secure-execution mode) for these.
    pub setuid: bool,
    pub setgid: bool,
    pub shebang: Option<Shebang>,
}

/// Inspects the program file at `path` (an absolute or relative path, not a bare name).
/// Reads only the ELF header, the program headers and the interpreter name, so a 100 MB
/// binary costs a few small reads.
pub fn inspect_executable(path: &Path) -> Result<ExecutableInfo, String> {
    let display = path.display().to_string();
    let fail = |what: String| format!("{display}: {what}");
    let file = File::open(path).map_err(|e| fail(format!("cannot be read: {}", io_reason(&e))))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot be read: {}", io_reason(&e))))?;
    if !meta.is_file() {
        return Err(fail("is not a regular file".into()));
    }
    let mode = meta.permissions().mode();
    let mut info = ExecutableInfo {
        path: display.clone(),
        is_elf: false,
        elf_class: None,
        machine: None,
        is_static: false,
        interpreter: None,
        setuid: mode & 0o4000 != 0,
        setgid: mode & 0o2000 != 0,
        shebang: None,
    };

    let mut head = vec![0u8; MAX_SHEBANG_LEN];
    let read = read_at_most(&file, &mut head, 0).map_err(|e| fail(format!("cannot be read: {e}")))?;
    head.truncate(read);

    if head.starts_with(b"#!") {
        info.shebang =
            Some(parse_shebang(&head).ok_or_else(|| fail("has a #! line without an interpreter".into()))?);
        return Ok(info);
    }
    if !head.starts_with(header::ELFMAG) {
        return Ok(info);
    }
    let header = Elf::parse_header(&head).map_err(|e| fail(format!("is a damaged ELF file: {e}")))?;
    info.is_elf = true;
    info.elf_class = ElfClass::of(&header);
    info.machine = Some(machine_name(header.e_machine));

    let ctx = Ctx::new(
        if header.e_ident[header::EI_CLASS] == header::ELFCLASS64 {
            Container::Big
        } else {
            Container::Little
        },
        header
            .endianness()
            .map_err(|e| fail(format!("is a damaged ELF file: {e}")))?,
    );
    let entry_size = if ctx.is_big() { 56 } else { 32 }; // sizeof(Elf64_Phdr), sizeof(Elf32_Phdr)
    if header.e_phnum > 0 && usize::from(header.e_phentsize) != entry_size {
        return Err(fail(format!(
            "is a damaged ELF file: program header entries are {} bytes, not {entry_size}",
            header.e_phentsize
        )));
    }
    let table_len = usize::from(header.e_phnum) * entry_size;
    let mut table = vec![0u8; table_len];
    let got =
        read_at_most(&file, &mut table, header.e_phoff).map_err(|e| fail(format!("cannot be read: {e}")))?;
    if got != table_len {
        return Err(fail(
            "is a damaged ELF file: its program headers are cut off".into(),
        ));
    }
    let program_headers = ProgramHeader::parse(&table, 0, usize::from(header.e_phnum), ctx)
        .map_err(|e| fail(format!("is a damaged ELF file: {e}")))?;

    match program_headers.iter().find(|ph| ph.p_type == PT_INTERP) {
        None => info.is_static = true,
        Some(ph) => {
            let mut name = vec![0u8; (ph.p_filesz as usize).min(4096)];
            let got = read_at_most(&file, &mut name, ph.p_offset)
                .map_err(|e| fail(format!("cannot be read: {e}")))?;
            name.truncate(got);
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            info.interpreter = Some(String::from_utf8_lossy(&name[..end]).into_owned());
        }
    }
    Ok(info)
}

/// Fills `buf` from `offset` until it is full or the file ends; returns how much was read.
fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset.saturating_add(filled as u64)) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_reason(&e)),
        }
    }
    Ok(filled)
}

/// Parses a `#!` line the way Linux does: the interpreter up to the first blank, then the rest
/// of the line (trimmed) as one argument.
pub fn parse_shebang(head: &[u8]) -> Option<Shebang> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let line = String::from_utf8_lossy(line);
    let line = line.trim_matches(|c| c == ' ' || c == '\t' || c == '\r');
    let (interpreter, argument) = match line.find([' ', '\t']) {
        Some(cut) => (&line[..cut], line[cut..].trim_matches([' ', '\t'])),
        None => (line, ""),
    };
    if interpreter.is_empty() {
        return None;
    }
    Some(Shebang {
        interpreter: interpreter.to_string(),
        argument: (!argument.is_empty()).then(|| argument.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_list_has_the_hooks_and_the_version_symbol() {
        let exports = expected_exports();
        assert!(exports.contains(&"execve"));
        assert!(exports.contains(&"popen"));
        assert!(exports.contains(&VERSION_SYMBOL));
        assert!(
            exports
                .iter()
                .all(|name| !name.is_empty() && !name.contains(char::is_whitespace))
        );
        // execveat came with glibc 2.34: a library built on an older glibc is still valid.
        assert!(optional_exports().contains(&"execveat"));
        assert!(!exports.contains(&"execveat"));
    }

    #[test]
    fn machine_names_are_the_familiar_ones() {
        assert_eq!(machine_name(header::EM_X86_64), "x86_64");
        assert_eq!(machine_name(header::EM_AARCH64), "aarch64");
        assert_eq!(machine_name(header::EM_MIPS), "mips");
        assert_eq!(machine_name(0x7777), "unknown machine 0x7777");
    }

    #[test]
    fn a_non_elf_file_is_reported_not_thrown() {
        let report = verify_library_bytes("x", b"#!/bin/sh\necho hi\n", "0.1.0");
        assert!(!report.ok());
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0].contains("not an ELF file"),
            "{:?}",
            report.problems
        );
        assert_eq!(report.elf_class, None);
    }

    #[test]
    fn a_truncated_elf_file_is_reported_as_damaged() {
        let mut bytes = std::fs::read("/bin/true").unwrap();
        bytes.truncate(40);
        let report = verify_library_bytes("x", &bytes, "0.1.0");
        assert!(
            report.problems[0].contains("damaged ELF"),
            "{:?}",
            report.problems
        );
    }

    #[test]
    fn an_executable_is_not_a_library_and_exports_no_hooks() {
        let report = verify_library(Path::new("/bin/true"), "0.1.0");
        assert_eq!(report.elf_class, Some(host_class()));
        assert_eq!(report.machine.as_deref(), Some(report.host_machine.as_str()));
        assert_eq!(report.missing_symbols.len(), expected_exports().len());
        assert_eq!(report.missing_optional, optional_exports());
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("does not export execve")),
            "{:?}",
            report.problems
        );
        assert_eq!(report.version, None);
    }

    #[test]
    fn a_missing_file_is_a_problem_with_the_reason() {
        let report = verify_library(Path::new("/nonexistent/librampart.so"), "0.1.0");
        assert_eq!(
            report.problems,
            vec!["It cannot be read: No such file or directory.".to_string()]
        );
    }

    #[test]
    fn shebang_lines_are_split_like_the_kernel_does() {
        let parse = |s: &str| parse_shebang(s.as_bytes());
        assert_eq!(
            parse("#!/usr/bin/env node\nrest"),
            Some(Shebang {
                interpreter: "/usr/bin/env".into(),
                argument: Some("node".into())
            })
        );
        assert_eq!(
            parse("#! /bin/sh -e -x \r\n"),
            Some(Shebang {
                interpreter: "/bin/sh".into(),
                argument: Some("-e -x".into())
            })
        );
        assert_eq!(
            parse("#!/bin/bash"),
            Some(Shebang {
                interpreter: "/bin/bash".into(),
                argument: None
            })
        );
        assert_eq!(parse("#!   \n"), None);
        assert_eq!(parse("echo"), None);
    }

    #[test]
    fn bin_true_is_a_dynamic_elf_program() {
        let info = inspect_executable(Path::new("/bin/true")).unwrap();
        assert!(info.is_elf);
        assert!(!info.is_static);
        assert!(
            info.interpreter.as_deref().unwrap_or("").contains("ld-"),
            "{info:?}"
        );
        assert!(!info.setuid && !info.setgid);
    }

    #[test]
    fn a_hostile_program_header_size_is_refused_without_allocating_it() {
        let mut bytes = std::fs::read("/bin/true").unwrap();
        // e_phentsize (offset 54 in an ELF64 header) and e_phnum (56): 65535 entries of 65535 bytes.
        bytes[54..58].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        let path = std::env::temp_dir().join(format!("rampart-hostile-{}", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let result = inspect_executable(&path);
        std::fs::remove_file(&path).unwrap();
        let error = result.unwrap_err();
        assert!(
            error.ends_with("is a damaged ELF file: program header entries are 65535 bytes, not 56"),
            "{error}"
        );
    }

    #[test]
    fn inspecting_a_missing_file_names_it() {
        let error = inspect_executable(Path::new("/nonexistent/prog")).unwrap_err();
        assert_eq!(
            error,
            "/nonexistent/prog: cannot be read: No such file or directory"
        );
    }
}
