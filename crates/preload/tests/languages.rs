//! Real interpreters and launchers under librampart.so: Python, Node, Perl, bash, dash, env,
//! xargs, find. Each starts `touch $MARKER`; the proof is the file: an allowed command creates it,
//! a denied one never does, and stderr carries exactly one denial line.

mod common;

use common::*;
use std::path::Path;

/// What a script does when its start attempt is refused: exit 42 after printing why.
const DENIED_EXIT: i32 = 42;

/// Runs the same program twice, once with an allowed marker and once with a denied one.
/// `expected_denied_exit`: the exit code the program must end with when denied (`None`: any
/// non-zero code, for launchers that pick their own).
fn allowed_and_denied(label: &str, expected_denied_exit: Option<i32>, build: impl Fn(&str, &Path) -> Run) {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new(label);

    let allowed = allow_marker(&dir, label);
    let outcome = build(&server.url(), &allowed).env("MARKER", &allowed).run();
    assert_eq!(
        outcome.code,
        0,
        "{label}: allowed command failed\n{}",
        outcome.describe()
    );
    assert_allowed(&outcome, &allowed, &server);

    let denied = deny_marker(&dir, label);
    let outcome = build(&server.url(), &denied).env("MARKER", &denied).run();
    match expected_denied_exit {
        Some(code) => assert_eq!(
            outcome.code,
            code,
            "{label}: denied exit code\n{}",
            outcome.describe()
        ),
        None => assert_ne!(
            outcome.code,
            0,
            "{label}: denied command reported success\n{}",
            outcome.describe()
        ),
    }
    assert_denied(&outcome, &denied, &server);
}

fn python(script: &str) -> impl Fn(&str, &Path) -> Run + '_ {
    move |url, _| {
        let full = format!(
            "import os, subprocess, sys\nm = os.environ['MARKER']\ntry:\n{}\nexcept PermissionError as e:\n    print('PermissionError', e.errno)\n    sys.exit({DENIED_EXIT})\n",
            script
                .lines()
                .map(|line| format!("    {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        Run::preloaded(tool("python3"), url).arg("-c").arg(full)
    }
}

#[test]
fn python_os_system() {
    allowed_and_denied(
        "py-os-system",
        Some(DENIED_EXIT),
        python(
            "rc = os.system(\"/usr/bin/touch '%s'\" % m)\nprint('os.system returned', rc)\nsys.exit(0 if rc == 0 else 42)",
        ),
    );
}

#[test]
fn python_os_popen() {
    allowed_and_denied(
        "py-os-popen",
        Some(DENIED_EXIT),
        python(
            "p = os.popen(\"/usr/bin/touch '%s'\" % m)\np.read()\nsys.exit(0 if p.close() is None else 1)",
        ),
    );
}

#[test]
fn python_subprocess_run_list() {
    allowed_and_denied(
        "py-run-list",
        Some(DENIED_EXIT),
        python("sys.exit(subprocess.run(['touch', m]).returncode)"),
    );
}

#[test]
fn python_subprocess_run_shell() {
    allowed_and_denied(
        "py-run-shell",
        Some(DENIED_EXIT),
        python("sys.exit(subprocess.run(\"touch '%s'\" % m, shell=True).returncode)"),
    );
}

#[test]
fn python_subprocess_run_with_env_and_posix_spawn_path() {
    // env= makes the child use execve; close_fds=False with an absolute path uses posix_spawn.
    allowed_and_denied(
        "py-run-env",
        Some(DENIED_EXIT),
        python("sys.exit(subprocess.run(['/usr/bin/touch', m], env={'PATH': '/usr/bin'}).returncode)"),
    );
    allowed_and_denied(
        "py-run-posix-spawn",
        Some(DENIED_EXIT),
        python("sys.exit(subprocess.run(['/usr/bin/touch', m], close_fds=False).returncode)"),
    );
}

#[test]
fn python_os_execv() {
    allowed_and_denied(
        "py-os-execv",
        Some(DENIED_EXIT),
        python("os.execv('/usr/bin/touch', ['touch', m])"),
    );
}

#[test]
fn python_os_spawnv() {
    // os.spawnv forks and execs in the child; a failed exec there exits 127.
    allowed_and_denied(
        "py-os-spawnv",
        Some(127),
        python("sys.exit(os.spawnv(os.P_WAIT, '/usr/bin/touch', ['touch', m]))"),
    );
}

#[test]
fn python_os_posix_spawn() {
    allowed_and_denied(
        "py-os-posix-spawn",
        Some(DENIED_EXIT),
        python(
            "pid = os.posix_spawn('/usr/bin/touch', ['touch', m], os.environ)\nsys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))",
        ),
    );
}

fn node(script: &'static str) -> impl Fn(&str, &Path) -> Run {
    move |url, _| {
        let full = format!("const cp = require('child_process');\nconst m = process.env.MARKER;\n{script}");
        Run::preloaded(tool("node"), url).arg("-e").arg(full)
    }
}

#[test]
fn node_exec_sync() {
    allowed_and_denied(
        "node-execsync",
        Some(DENIED_EXIT),
        node(
            "try { cp.execSync(`/usr/bin/touch '${m}'`, { stdio: 'inherit' }); }
             catch (e) { console.log('execSync failed', e.code, e.status); process.exit(42); }",
        ),
    );
}

#[test]
fn node_spawn_sync() {
    allowed_and_denied(
        "node-spawnsync",
        Some(DENIED_EXIT),
        node(
            "const r = cp.spawnSync('touch', [m], { stdio: 'inherit' });
             if (r.error) { console.log('spawnSync error', r.error.code); process.exit(42); }
             process.exit(r.status);",
        ),
    );
}

#[test]
fn node_async_spawn() {
    allowed_and_denied(
        "node-spawn",
        Some(DENIED_EXIT),
        node(
            // Node throws EPERM from spawn() itself (it emits 'error' only for ENOENT-like codes).
            "const fail = (e) => { console.log('spawn error', e.code); process.exit(42); };
             try {
               const c = cp.spawn('touch', [m], { stdio: 'inherit' });
               c.on('error', fail);
               c.on('exit', (code) => process.exit(code));
             } catch (e) { fail(e); }",
        ),
    );
}

fn perl(script: &'static str) -> impl Fn(&str, &Path) -> Run {
    move |url, _| {
        Run::preloaded(tool("perl"), url)
            .arg("-e")
            .arg(format!("my $m = $ENV{{MARKER}};\n{script}"))
    }
}

#[test]
fn perl_system() {
    allowed_and_denied(
        "perl-system",
        Some(DENIED_EXIT),
        perl("my $rc = system('/usr/bin/touch', $m); print \"system: $rc $!\\n\"; exit($rc == 0 ? 0 : 42);"),
    );
}

#[test]
fn perl_exec() {
    allowed_and_denied(
        "perl-exec",
        Some(DENIED_EXIT),
        perl("exec('/usr/bin/touch', $m) or do { print \"exec failed: $!\\n\"; exit 42 };"),
    );
}

#[test]
fn perl_backticks() {
    allowed_and_denied(
        "perl-backticks",
        None,
        perl("my $out = `/usr/bin/touch $m`; print \"backticks: $?\\n\"; exit($? == 0 ? 0 : 42);"),
    );
}

#[test]
fn bash_c() {
    allowed_and_denied("bash-c", None, |url, _| {
        Run::preloaded(tool("bash"), url).args(["-c", "/usr/bin/touch \"$MARKER\"; exit $?"])
    });
}

#[test]
fn dash_c() {
    allowed_and_denied("dash-c", None, |url, _| {
        Run::preloaded(tool("dash"), url).args(["-c", "/usr/bin/touch \"$MARKER\"; exit $?"])
    });
}

#[test]
fn coreutils_env() {
    allowed_and_denied("env", None, |url, marker| {
        Run::preloaded(tool("env"), url).arg("/usr/bin/touch").arg(marker)
    });
}

#[test]
fn xargs() {
    // The marker path comes on stdin, so only xargs' own exec of touch mentions it.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("xargs");
    for (marker, denied) in [
        (allow_marker(&dir, "xargs"), false),
        (deny_marker(&dir, "xargs"), true),
    ] {
        let outcome = Run::preloaded(tool("xargs"), &server.url())
            .arg("/usr/bin/touch")
            .stdin(format!("{}\n", marker.display()))
            .run();
        if denied {
            assert_ne!(outcome.code, 0, "{}", outcome.describe());
            assert_denied(&outcome, &marker, &server);
        } else {
            assert_eq!(outcome.code, 0, "{}", outcome.describe());
            assert_allowed(&outcome, &marker, &server);
        }
    }
}

#[test]
fn find_exec() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("find");
    for (marker, denied) in [
        (allow_marker(&dir, "find"), false),
        (deny_marker(&dir, "find"), true),
    ] {
        let outcome = Run::preloaded(tool("find"), &server.url())
            .arg(dir.path())
            .args(["-maxdepth", "0", "-exec", "/usr/bin/touch"])
            .arg(&marker)
            .arg(";")
            .run();
        if denied {
            assert_denied(&outcome, &marker, &server);
        } else {
            assert_eq!(outcome.code, 0, "{}", outcome.describe());
            assert_allowed(&outcome, &marker, &server);
        }
    }
}

#[test]
fn python_blocked_exec_surfaces_as_errno_eperm() {
    // The product page: "Python sees: OSError: [Errno 1] Operation not permitted".
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("py-errno");
    let marker = deny_marker(&dir, "py-errno");
    let outcome = python("subprocess.run(['/usr/bin/touch', m])")(&server.url(), &marker)
        .env("MARKER", &marker)
        .run();
    assert_eq!(outcome.code, DENIED_EXIT, "{}", outcome.describe());
    assert!(
        outcome.stdout().contains("PermissionError 1"),
        "{}",
        outcome.describe()
    );
    assert_denied(&outcome, &marker, &server);
}
