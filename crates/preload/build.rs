//! Builds the C half of librampart.so and fixes what the library exports.
//!
//! * `src/c/shim.c` defines the variadic `execl`, `execle` and `execlp` (stable Rust cannot define
//!   C-variadic functions); it flattens the varargs and calls the Rust guard.
//! * `exports.txt` is the single list of exported symbols. A linker version script generated from it
//!   exports exactly those names and makes everything else local, so the C symbols are exported
//!   (rustc's own script only knows Rust items) and no helper leaks into the dynamic symbol table.
//! * The unwinder is linked statically (libgcc_eh.a) so loading the library does not also load
//!   libgcc_s.so.1: that second library cost ~100 us per process start (see README.md).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/c/shim.c");
    println!("cargo:rerun-if-changed=exports.txt");

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();

    let mut shim = cc::Build::new();
    shim.file("src/c/shim.c")
        .warnings(true)
        .extra_warnings(true)
        // Hidden by default: only the version script decides what is exported.
        .flag_if_supported("-fvisibility=hidden")
        // Nothing in Rust references `execl*`, so without whole-archive the linker would drop the
        // shim's object file and the three exports with it.
        .link_lib_modifier("+whole-archive");
    shim.compile("rampart_shim");
    if env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("gnu") && target_os == "linux" {
        link_unwinder_statically(&shim);
    }

    let exports = fs::read_to_string("exports.txt").unwrap_or_else(|error| {
        println!("cargo:warning=cannot read exports.txt: {error}");
        std::process::exit(1);
    });
    let symbols: Vec<&str> = exports
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();

    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    if target_os == "macos" {
        // ld64 takes a list of exported symbols (with the Mach-O leading underscore) instead of a
        // version script.
        let list: String = symbols.iter().map(|s| format!("_{s}\n")).collect();
        let path = out_dir.join("exports.list");
        write_or_exit(&path, &list);
        println!(
            "cargo:rustc-cdylib-link-arg=-Wl,-exported_symbols_list,{}",
            path.display()
        );
        return;
    }

    let mut script = String::from("{\n  global:\n");
    for symbol in &symbols {
        let _ = writeln!(script, "    {symbol};");
    }
    script.push_str("  local:\n    *;\n};\n");
    let path = out_dir.join("exports.map");
    write_or_exit(&path, &script);
    // Export exactly the names in exports.txt (`local: *` hides everything else). rustc passes its
    // own version script as well; lld (rustc's default linker on x86_64 Linux since 1.90) merges
    // both, and the global entries here add the C-defined execl* to rustc's Rust-only list.
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--version-script={}",
        path.display()
    );
    // Resolve all relocations at load time: the hooks then never enter the lazy binding path of the
    // dynamic loader (which takes its lock) inside a fork or vfork child.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,now");
}

/// Links libgcc_eh.a (the unwinder behind panics and catch_unwind) into the library. Rust's std asks
/// for libgcc_s.so.1; with the `_Unwind_*` symbols already resolved from the archive, the linker's
/// --as-needed (rustc passes it) drops libgcc_s from DT_NEEDED. The copy is private (the version
/// script hides it) and finds our frames through the loader (`_dl_find_object`, glibc >= 2.35),
/// so it coexists with a libgcc_s the program itself loads. Without libgcc_eh.a the library
/// still builds, just with libgcc_s.so.1 as a dependency.
fn link_unwinder_statically(compiler: &cc::Build) {
    let archive = compiler
        .get_compiler()
        .to_command()
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|path| PathBuf::from(path.trim()));
    match archive {
        Some(path) if path.is_absolute() && path.is_file() => {
            if let Some(dir) = path.parent() {
                println!("cargo:rustc-link-search=native={}", dir.display());
                // -bundle: a link-time input of the cdylib only.
                println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
            }
        }
        _ => println!("cargo:warning=libgcc_eh.a not found: librampart.so will depend on libgcc_s.so.1"),
    }
}

fn write_or_exit(path: &PathBuf, text: &str) {
    if let Err(error) = fs::write(path, text) {
        println!("cargo:warning=cannot write {}: {error}", path.display());
        std::process::exit(1);
    }
}
