//! Every libc entry point that starts a program, called from a real C program (tests/c/probe.c)
//! with librampart.so preloaded: an allowed command runs, a denied one does not run (its marker
//! file is never created), the call fails with EPERM, and stderr gets exactly one denial line.
//! The entry points are the rows of exports.txt (build.rs passes them in as `entry_point_table!`).

mod common;

use common::*;
use std::path::Path;

/// The probe arguments that make `how` run `touch <marker>`.
fn touch_args(how: &str, kind: &str, marker: &Path) -> Vec<String> {
    probe_args(how, kind, "touch", &[marker.to_str().unwrap()])
}

/// A table row the probe does not know is a missing test, not a passing one.
fn assert_probe_knows(how: &str, outcome: &Outcome) {
    assert!(
        !outcome.stderr().contains("probe: unknown call"),
        "exports.txt lists {how} but tests/c/probe.c has no case for it\n{}",
        outcome.describe()
    );
}

fn allowed_runs(how: &str, kind: &str) {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new(how);
    let marker = allow_marker(&dir, how);
    let outcome = Run::preloaded(probe(), &server.url())
        .args(touch_args(how, kind, &marker))
        .run();
    assert_probe_knows(how, &outcome);
    assert_eq!(
        outcome.code,
        0,
        "{how} of an allowed command failed\n{}",
        outcome.describe()
    );
    assert_allowed(&outcome, &marker, &server);
    assert!(
        outcome.stderr.is_empty(),
        "the library printed on an allowed {how}\n{}",
        outcome.describe()
    );
}

fn denied_does_not_run(how: &str, kind: &str) {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new(how);
    let marker = deny_marker(&dir, how);
    let outcome = Run::preloaded(probe(), &server.url())
        .args(touch_args(how, kind, &marker))
        .run();
    assert_probe_knows(how, &outcome);
    assert_eq!(
        outcome.code,
        42,
        "{how} of a denied command did not fail with EPERM\n{}",
        outcome.describe()
    );
    assert!(
        outcome.stdout().contains(&format!("{how}: failed errno=EPERM")),
        "{how} did not report EPERM\n{}",
        outcome.describe()
    );
    assert_denied(&outcome, &marker, &server);
}

/// One module per row of exports.txt but `data`: `<symbol>::allowed` and `<symbol>::denied`. An
/// optional row this build's libc lacks has no hook to run: its cases are ignored with the reason
/// (libtest prints it), and say so on stderr if run anyway (`--include-ignored`).
macro_rules! entry_point_case {
    ($symbol:ident data $built:tt $note:literal) => {};
    ($symbol:ident $kind:ident true $note:literal) => {
        mod $symbol {
            #[test]
            fn allowed() {
                super::allowed_runs(stringify!($symbol), stringify!($kind));
            }
            #[test]
            fn denied() {
                super::denied_does_not_run(stringify!($symbol), stringify!($kind));
            }
        }
    };
    ($symbol:ident $kind:ident false $note:literal) => {
        mod $symbol {
            const SKIPPED: &str = concat!(
                "skipped: ",
                stringify!($symbol),
                " is not in this libc (",
                $note,
                "): its hook is not built"
            );
            // A literal: libtest drops a reason built with concat!.
            #[test]
            #[ignore = "optional row not in this libc: its hook is not built"]
            fn allowed() {
                eprintln!("{SKIPPED}");
            }
            #[test]
            #[ignore = "optional row not in this libc: its hook is not built"]
            fn denied() {
                eprintln!("{SKIPPED}");
            }
        }
    };
}

macro_rules! entry_point_table {
    ($($symbol:ident $kind:ident $built:tt $note:literal,)*) => {
        $( entry_point_case!($symbol $kind $built $note); )*
    };
}

include!(concat!(env!("OUT_DIR"), "/entry_points.rs"));

/// execve from a vfork child (shares the parent's memory), not a table row of its own.
mod vfork_execve {
    #[test]
    fn allowed() {
        super::allowed_runs("vfork_execve", "exec");
    }
    #[test]
    fn denied() {
        super::denied_does_not_run("vfork_execve", "exec");
    }
}

#[test]
fn allowed_programs_output_reaches_the_caller() {
    let server = StubServer::start(Behavior::policy());
    for (how, args) in [
        ("execve", vec!["/usr/bin/echo", "echo", "hello from execve"]),
        (
            "posix_spawn",
            vec!["/usr/bin/echo", "echo", "hello from posix_spawn"],
        ),
        ("system", vec!["echo 'hello from system'"]),
        ("popen", vec!["echo 'hello from popen'; echo second line"]),
    ] {
        let outcome = Run::preloaded(probe(), &server.url()).arg(how).args(&args).run();
        assert_eq!(outcome.code, 0, "{how}\n{}", outcome.describe());
        let expected = if how == "popen" {
            "hello from popen\nsecond line\n".to_string()
        } else {
            format!("hello from {how}\n")
        };
        assert_eq!(outcome.stdout(), expected, "{how}\n{}", outcome.describe());
        assert!(outcome.stderr.is_empty(), "{how}\n{}", outcome.describe());
    }
    assert!(
        asked_about(&server, "hello from") >= 4,
        "every call must have been checked; the server saw {:?}",
        commands(&server)
    );
}

#[test]
fn system_reports_the_shells_exit_status() {
    // An allowed command's own failure must come back unchanged, not as a denial.
    let server = StubServer::start(Behavior::policy());
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["system", "exit 7"])
        .run();
    assert_eq!(outcome.code, 7, "{}", outcome.describe());
    assert!(outcome.blocked_lines().is_empty(), "{}", outcome.describe());
}

#[test]
fn a_missing_program_still_fails_with_enoent() {
    // The library must not turn "no such file" into an allow or a denial.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("enoent");
    let missing = dir.join("no-such-program");
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["execve", missing.to_str().unwrap(), "no-such-program"])
        .run();
    assert_eq!(outcome.code, 43, "{}", outcome.describe());
    assert!(
        outcome.stdout().contains("execve: failed errno=ENOENT"),
        "{}",
        outcome.describe()
    );
    assert!(outcome.blocked_lines().is_empty(), "{}", outcome.describe());
}

const FORK_ROUNDS: &str = "40";

#[test]
fn fork_then_execve_from_a_busy_multithreaded_process_is_allowed() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("fork-allowed");
    let marker = allow_marker(&dir, "fork-threads");
    let outcome = Run::preloaded(probe(), &server.url())
        .args([
            "fork_threads",
            FORK_ROUNDS,
            "/usr/bin/touch",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert!(
        outcome.stdout().contains(&format!("ok={FORK_ROUNDS} ")),
        "{}",
        outcome.describe()
    );
    assert_allowed(&outcome, &marker, &server);
    let asked = asked_about(&server, "allowed-fork-threads");
    assert_eq!(asked, 40, "every forked child's exec must be checked");
}

#[test]
fn fork_then_execve_from_a_busy_multithreaded_process_is_denied() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("fork-denied");
    let marker = deny_marker(&dir, "fork-threads");
    let outcome = Run::preloaded(probe(), &server.url())
        .args([
            "fork_threads",
            FORK_ROUNDS,
            "/usr/bin/touch",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert!(
        outcome.stdout().contains(&format!("eperm={FORK_ROUNDS} ")),
        "{}",
        outcome.describe()
    );
    assert!(!marker.exists(), "a denied command ran\n{}", outcome.describe());
    // One denial line per child, each exactly the stub's.
    let lines = outcome.blocked_lines();
    assert_eq!(lines.len(), 40, "{}", outcome.describe());
    assert!(
        lines.iter().all(|line| *line == blocked_line()),
        "{}",
        outcome.describe()
    );
}

#[test]
fn a_hook_called_before_the_library_constructor_still_checks() {
    // libearly.so is a DT_NEEDED library of early_main: its constructor runs before ours.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("early");
    for how in ["system", "popen", "posix_spawn"] {
        let allowed = allow_marker(&dir, &format!("early-{how}"));
        let outcome = Run::preloaded(early_program(), &server.url())
            .env("EARLY_HOW", how)
            .env("EARLY_COMMAND", format!("/usr/bin/touch '{}'", allowed.display()))
            .run();
        assert_eq!(
            outcome.code,
            0,
            "{how} before our constructor\n{}",
            outcome.describe()
        );
        assert_allowed(&outcome, &allowed, &server);

        let denied = deny_marker(&dir, &format!("early-{how}"));
        let outcome = Run::preloaded(early_program(), &server.url())
            .env("EARLY_HOW", how)
            .env("EARLY_COMMAND", format!("/usr/bin/touch '{}'", denied.display()))
            .run();
        assert_eq!(
            outcome.code,
            42,
            "{how} before our constructor\n{}",
            outcome.describe()
        );
        assert_denied(&outcome, &denied, &server);
    }
}

#[test]
fn execve_with_a_null_argv_is_checked() {
    let server = StubServer::start(Behavior::Policy {
        deny_markers: vec!["/usr/bin/touch".into()],
    });
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["execve_null_argv", "/usr/bin/touch"])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert_blocked_once(&outcome);
}

#[test]
fn execve_with_a_null_envp_is_checked_and_the_child_stays_protected() {
    // sh builds the marker from pieces ("$0" + suffix), so only the grandchild's exec names it in
    // full: the server hearing about it proves sh got the library despite the NULL envp.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("null-envp");
    let prefix = dir.join("rampart");
    let script = "exec /usr/bin/touch \"$0-deny-me-null-envp\"";
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["execve_null_envp", "/bin/sh", "sh", "-c", script])
        .arg(&prefix)
        .run();
    let marker = dir.join("rampart-deny-me-null-envp");
    assert_denied(&outcome, &marker, &server);

    let allowed_script = "exec /usr/bin/touch \"$0-ok\"";
    let allowed_prefix = dir.join("allowed-null-envp");
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["execve_null_envp", "/bin/sh", "sh", "-c", allowed_script])
        .arg(&allowed_prefix)
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_allowed(&outcome, &dir.join("allowed-null-envp-ok"), &server);
}

#[test]
fn the_library_exports_exactly_the_listed_symbols() {
    let nm = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(library_path())
        .output()
        .expect("nm");
    assert!(nm.status.success(), "{}", String::from_utf8_lossy(&nm.stderr));
    let mut exported: Vec<String> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .map(|name| name.split('@').next().unwrap().to_string())
        .collect();
    exported.sort();
    let mut expected: Vec<String> = ROWS
        .iter()
        .filter(|row| row.built)
        .map(|row| row.symbol.to_string())
        .collect();
    expected.sort();
    assert_eq!(
        exported, expected,
        "exported dynamic symbols vs the rows of exports.txt in this build"
    );
}

#[test]
fn system_null_still_reports_a_shell() {
    // system(NULL) asks whether a shell exists; it starts nothing to check and must not crash.
    let server = StubServer::start(Behavior::policy());
    let outcome = Run::preloaded(probe(), &server.url()).arg("system_null").run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_eq!(outcome.stdout(), "system_null: 1\n", "{}", outcome.describe());
    assert!(outcome.blocked_lines().is_empty(), "{}", outcome.describe());
}

#[test]
fn popen_for_writing_is_checked_and_works() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("popen-write");
    let allowed = allow_marker(&dir, "popen-write");
    let outcome = Run::preloaded(probe(), &server.url())
        .args([
            "popen_write",
            &format!("/usr/bin/tee '{}' >/dev/null", allowed.display()),
        ])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_allowed(&outcome, &allowed, &server);
    assert_eq!(
        std::fs::read_to_string(&allowed).unwrap(),
        "written through popen\n"
    );

    let denied = deny_marker(&dir, "popen-write");
    let outcome = Run::preloaded(probe(), &server.url())
        .args([
            "popen_write",
            &format!("/usr/bin/tee '{}' >/dev/null", denied.display()),
        ])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert_denied(&outcome, &denied, &server);
}

#[test]
fn posix_spawn_file_actions_are_kept() {
    // Python's posix_spawn path (close_fds=False, absolute path) redirects stdout with file
    // actions; Node's spawnSync pipes it after fork. The output must arrive unchanged.
    let server = StubServer::start(Behavior::policy());
    let outcome = Run::preloaded(tool("python3"), &server.url())
        .args([
            "-c",
            "import subprocess\nr = subprocess.run(['/usr/bin/echo', 'captured'], close_fds=False, capture_output=True)\nprint(repr(r.stdout), r.returncode)",
        ])
        .run();
    assert_eq!(outcome.stdout(), "b'captured\\n' 0\n", "{}", outcome.describe());
    let outcome = Run::preloaded(tool("node"), &server.url())
        .args(["-e", "const r = require('child_process').spawnSync('echo', ['captured']); console.log(JSON.stringify(r.stdout.toString()), r.status)"])
        .run();
    assert_eq!(outcome.stdout(), "\"captured\\n\" 0\n", "{}", outcome.describe());
    assert_eq!(asked_about(&server, "captured"), 2, "{:?}", commands(&server));
}

#[test]
fn popen_with_a_mode_libc_rejects_fails_with_einval_and_asks_nothing() {
    // glibc's popen fails with EINVAL before starting anything when the mode is not r or w (plus
    // e): there is no command to ask about, to block, or to audit.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("popen-mode");
    let marker = deny_marker(&dir, "popen-mode");
    let script = format!(
        "import ctypes, errno\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         libc.popen.restype = ctypes.c_void_p\n\
         for mode in [b'rw', b'x', b'', None]:\n\
         \x20   pipe = libc.popen(b\"/usr/bin/touch '{}'\", mode)\n\
         \x20   print(mode, pipe, errno.errorcode.get(ctypes.get_errno()))\n",
        marker.display()
    );
    let outcome = Run::preloaded(tool("python3"), &server.url())
        .args(["-c", &script])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_eq!(
        outcome.stdout(),
        "b'rw' None EINVAL\nb'x' None EINVAL\nb'' None EINVAL\nNone None EINVAL\n",
        "{}",
        outcome.describe()
    );
    assert!(!marker.exists());
    assert!(outcome.blocked_lines().is_empty(), "{}", outcome.describe());
    assert_eq!(server.request_count(), 0, "{:?}", commands(&server));
}
