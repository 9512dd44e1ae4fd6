//! Builds the C half of librampart.so and everything `exports.txt` drives.
//!
//! * `src/c/shim.c` defines the variadic `execl`, `execle` and `execlp` (stable Rust cannot define
//!   C-variadic functions); it flattens the varargs and calls the Rust guard.
//! * `exports.txt` is the table of exported symbols. An optional row is part of this build only
//!   when the target's libc has the symbol: a tiny C program taking its address must compile and
//!   link (as Bear's platform-checks does); then `has_symbol_<name>` is set for the Rust code.
//! * A linker version script exports exactly the rows of this build and makes everything else
//!   local, so the C symbols are exported (rustc's own script only knows Rust items) and no helper
//!   leaks into the dynamic symbol table.
//! * `OUT_DIR/real_functions.rs` (included by src/hooks.rs) resolves the real function of each
//!   Rust hook at load; `OUT_DIR/entry_points.rs` (included by the tests) lists every row.
//! * The unwinder is linked statically (libgcc_eh.a) so loading the library does not also load
//!   libgcc_s.so.1: that second library cost ~100 us per process start (see README.md).

#[path = "exports_table.rs"]
mod exports_table;

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use exports_table::Row;

fn main() {
    println!("cargo::rerun-if-changed=src/c/shim.c");
    println!("cargo::rerun-if-changed=exports.txt");

    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));

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

    let text = fs::read_to_string("exports.txt")
        .unwrap_or_else(|error| fail(format!("cannot read exports.txt: {error}")));
    let rows = exports_table::parse(&text).unwrap_or_else(|error| fail(error));
    // (row, part of this build)
    let rows: Vec<(Row<'_>, bool)> = rows
        .into_iter()
        .map(|row| {
            let built = !row.optional || detect_optional(&row, &out_dir);
            (row, built)
        })
        .collect();
    write_or_exit(&out_dir.join("real_functions.rs"), &real_functions(&rows));
    write_or_exit(&out_dir.join("entry_points.rs"), &entry_points(&rows));
    let symbols: Vec<&str> = rows
        .iter()
        .filter(|(_, built)| *built)
        .map(|(row, _)| row.symbol)
        .collect();

    if target_os == "macos" {
        // ld64 takes a list of exported symbols (with the Mach-O leading underscore) instead of a
        // version script.
        let list: String = symbols.iter().map(|s| format!("_{s}\n")).collect();
        let path = out_dir.join("exports.list");
        write_or_exit(&path, &list);
        println!(
            "cargo::rustc-cdylib-link-arg=-Wl,-exported_symbols_list,{}",
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
    // Export exactly the rows of this build (`local: *` hides everything else). rustc passes its
    // own version script as well; lld (rustc's default linker on x86_64 Linux since 1.90) merges
    // both, and the global entries here add the C-defined execl* to rustc's Rust-only list.
    println!(
        "cargo::rustc-cdylib-link-arg=-Wl,--version-script={}",
        path.display()
    );
    // Resolve all relocations at load time: the hooks then never enter the lazy binding path of the
    // dynamic loader (which takes its lock) inside a fork or vfork child.
    println!("cargo::rustc-cdylib-link-arg=-Wl,-z,now");
}

/// Declares `has_symbol_<name>` for an optional row and sets it when the target's libc has the
/// symbol (or when it is already set, e.g. `--cfg` in RUSTFLAGS to build a hook this libc lacks).
fn detect_optional(row: &Row<'_>, out_dir: &Path) -> bool {
    let cfg = format!("has_symbol_{}", row.symbol);
    println!("cargo::rustc-check-cfg=cfg({cfg})");
    let forced = env::var_os(format!("CARGO_CFG_{}", cfg.to_uppercase())).is_some();
    let found = forced || libc_has(row.symbol, out_dir);
    if found {
        println!("cargo::rustc-cfg={cfg}");
    }
    found
}

/// Whether the target's libc declares and defines `symbol`: a program taking its address is
/// compiled and linked with the C compiler cc picked for the target.
fn libc_has(symbol: &str, out_dir: &Path) -> bool {
    let source = out_dir.join(format!("has_symbol_{symbol}.c"));
    let program = out_dir.join(format!("has_symbol_{symbol}"));
    let code = format!(
        "#define _GNU_SOURCE\n\
         #include <spawn.h>\n\
         #include <stdio.h>\n\
         #include <stdlib.h>\n\
         #include <unistd.h>\n\
         int main(void) {{\n\
         \x20   void *volatile address = (void *)&{symbol};\n\
         \x20   return address == 0;\n\
         }}\n"
    );
    write_or_exit(&source, &code);
    let compiler = cc::Build::new().cargo_metadata(false).get_compiler();
    compiler
        .to_command()
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .output()
        .is_ok_and(|out| out.status.success())
}

/// src/hooks.rs's `resolve_real_functions` and the run-time presence of each optional row. The
/// optional lines carry their cfg, so forcing it (`cargo clippy -- --cfg ...`) type-checks a hook
/// this libc lacks.
fn real_functions(rows: &[(Row<'_>, bool)]) -> String {
    let hooks = || {
        rows.iter()
            .map(|(row, _)| row)
            .filter(|row| row.kind.is_rust_hook())
    };
    let mut code = String::from(
        "// @generated by build.rs from exports.txt.\n\n\
         /// Resolves the real function of every Rust hook now (called from the constructor).\n\
         pub fn resolve_real_functions() {\n",
    );
    for row in hooks() {
        if row.optional {
            let _ = writeln!(
                code,
                "    #[cfg(has_symbol_{0})]\n    resolve_optional!({0});",
                row.symbol
            );
        } else {
            let _ = writeln!(code, "    resolve!({});", row.symbol);
        }
    }
    code.push_str(
        "}\n\n\
         /// Whether the running libc has each optional row (looked up once).\n\
         #[allow(non_upper_case_globals)]\n\
         mod optional {\n",
    );
    for row in hooks().filter(|row| row.optional) {
        let _ = writeln!(
            code,
            "    #[cfg(has_symbol_{0})]\n    pub static {0}: super::Optional = super::Optional::new(c\"{0}\");",
            row.symbol
        );
    }
    code.push_str("}\n");
    code
}

/// The table for the integration tests: `entry_point_table! { symbol kind built "note", ... }`.
fn entry_points(rows: &[(Row<'_>, bool)]) -> String {
    let mut code = String::from("// @generated by build.rs from exports.txt.\nentry_point_table! {\n");
    for (row, built) in rows {
        let _ = writeln!(
            code,
            "    {} {} {built} {:?},",
            row.symbol,
            row.kind.as_str(),
            row.note
        );
    }
    code.push_str("}\n");
    code
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
                println!("cargo::rustc-link-search=native={}", dir.display());
                // -bundle: a link-time input of the cdylib only.
                println!("cargo::rustc-link-lib=static:-bundle=gcc_eh");
            }
        }
        _ => println!("cargo::warning=libgcc_eh.a not found: librampart.so will depend on libgcc_s.so.1"),
    }
}

fn write_or_exit(path: &Path, text: &str) {
    if let Err(error) = fs::write(path, text) {
        fail(format!("cannot write {}: {error}", path.display()));
    }
}

fn fail(message: String) -> ! {
    println!("cargo::warning={message}");
    std::process::exit(1);
}
