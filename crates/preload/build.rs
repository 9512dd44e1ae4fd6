//! Builds the C half of librampart.so and fixes what the library exports.
//!
//! * `src/c/shim.c` defines the variadic `execl`, `execle` and `execlp` (stable Rust cannot define
//!   C-variadic functions); it flattens the varargs and calls the Rust guard.
//! * `exports.txt` is the single list of exported symbols. A linker version script generated from it
//!   exports exactly those names and makes everything else local, so the C symbols are exported
//!   (rustc's own script only knows Rust items) and no helper leaks into the dynamic symbol table.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src/c/shim.c");
    println!("cargo:rerun-if-changed=exports.txt");

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();

    cc::Build::new()
        .file("src/c/shim.c")
        .warnings(true)
        .extra_warnings(true)
        // Hidden by default: only the version script decides what is exported.
        .flag_if_supported("-fvisibility=hidden")
        // Nothing in Rust references `execl*`, so without whole-archive the linker would drop the
        // shim's object file and the three exports with it.
        .link_lib_modifier("+whole-archive")
        .compile("rampart_shim");

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

fn write_or_exit(path: &PathBuf, text: &str) {
    if let Err(error) = fs::write(path, text) {
        println!("cargo:warning=cannot write {}: {error}", path.display());
        std::process::exit(1);
    }
}
