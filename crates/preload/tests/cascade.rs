//! Cascade protection: a program that strips LD_PRELOAD from its child's environment, or changes
//! the RAMPART_* values, must not free the grandchild. Each case starts
//! `sh -c '/usr/bin/touch "$MARKER"'` through a launcher that tampers with the environment; only
//! the grandchild's exec mentions the marker (through $MARKER), so the server hearing about the
//! marker proves the grandchild carried the library with the load-time settings.

mod common;

use common::*;
use std::net::TcpListener;
use std::path::Path;

const GRANDCHILD: &str = "/usr/bin/touch \"$MARKER\"";

/// Runs the case with an allowed marker (it must run, and be asked about) and a denied one (it
/// must be blocked).
fn cascade(label: &str, build: impl Fn(&str, &Path) -> Run) {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new(label);

    let allowed = allow_marker(&dir, label);
    let outcome = build(&server.url(), &allowed).env("MARKER", &allowed).run();
    assert_allowed(&outcome, &allowed, &server);

    let denied = deny_marker(&dir, label);
    let outcome = build(&server.url(), &denied).env("MARKER", &denied).run();
    assert_denied(&outcome, &denied, &server);
}

/// A port on 127.0.0.1 where nothing listens (it was free a moment ago).
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn env_unset_ld_preload() {
    cascade("env-u", |url, _| {
        Run::preloaded(tool("env"), url).args(["-u", "LD_PRELOAD", "/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn env_empty_ld_preload() {
    cascade("env-empty", |url, _| {
        Run::preloaded(tool("env"), url).args(["LD_PRELOAD=", "/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn env_i_clears_everything() {
    cascade("env-i", |url, marker| {
        Run::preloaded(tool("env"), url)
            .arg("-i")
            .arg(format!("MARKER={}", marker.display()))
            .args(["/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn node_spawn_sync_with_a_fresh_env() {
    // libuv sets `environ` to the given env in the child before execvp.
    cascade("node-env", |url, _| {
        Run::preloaded(tool("node"), url).args([
            "-e",
            &format!(
                "const r = require('child_process').spawnSync('/bin/sh', ['-c', {GRANDCHILD:?}],
                   {{ env: {{ PATH: '/usr/bin', MARKER: process.env.MARKER }}, stdio: 'inherit' }});
                 process.exit(r.status === null ? 1 : r.status);"
            ),
        ])
    });
}

#[test]
fn python_subprocess_with_a_fresh_env() {
    cascade("py-env", |url, _| {
        Run::preloaded(tool("python3"), url).args([
            "-c",
            &format!(
                "import os, subprocess, sys\nsys.exit(subprocess.run(['/bin/sh', '-c', {GRANDCHILD:?}], env={{'MARKER': os.environ['MARKER']}}).returncode)"
            ),
        ])
    });
}

#[test]
fn c_unsetenv_then_execvp() {
    cascade("c-execvp", |url, _| {
        Run::preloaded(probe(), url).args([
            "--unsetenv",
            "LD_PRELOAD",
            "execvp",
            "sh",
            "sh",
            "-c",
            GRANDCHILD,
        ])
    });
}

#[test]
fn c_unsetenv_then_system() {
    cascade("c-system", |url, _| {
        Run::preloaded(probe(), url).args(["--unsetenv", "LD_PRELOAD", "system", GRANDCHILD])
    });
}

#[test]
fn c_unsetenv_then_popen() {
    cascade("c-popen", |url, _| {
        Run::preloaded(probe(), url).args(["--unsetenv", "LD_PRELOAD", "popen", GRANDCHILD])
    });
}

#[test]
fn c_unsetenv_then_posix_spawn() {
    cascade("c-posix-spawn", |url, _| {
        Run::preloaded(probe(), url).args([
            "--unsetenv",
            "LD_PRELOAD",
            "posix_spawn",
            "/bin/sh",
            "sh",
            "-c",
            GRANDCHILD,
        ])
    });
}

#[test]
fn c_execve_with_an_envp_lacking_the_library() {
    cascade("c-envp", |url, marker| {
        Run::preloaded(probe(), url)
            .arg("--envp")
            .arg(format!("MARKER={}", marker.display()))
            .args(["execve", "/bin/sh", "sh", "-c", GRANDCHILD])
    });
}

#[test]
fn c_execle_with_an_envp_lacking_the_library() {
    cascade("c-execle", |url, marker| {
        Run::preloaded(probe(), url)
            .arg("--envp")
            .arg(format!("MARKER={}", marker.display()))
            .args(["execle", "/bin/sh", "sh", "-c", GRANDCHILD])
    });
}

#[test]
fn rampart_mode_disabled_set_in_between() {
    cascade("mode-disabled", |url, _| {
        Run::preloaded(tool("env"), url).args(["RAMPART_MODE=disabled", "/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn rampart_mode_monitor_set_in_between() {
    cascade("mode-monitor", |url, _| {
        Run::preloaded(tool("env"), url).args(["RAMPART_MODE=monitor", "/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn c_setenv_mode_disabled_then_system() {
    cascade("c-setenv-disabled", |url, _| {
        Run::preloaded(probe(), url).args(["--setenv", "RAMPART_MODE=disabled", "system", GRANDCHILD])
    });
}

#[test]
fn dead_url_with_fail_open_set_in_between() {
    cascade("dead-url", |url, _| {
        Run::preloaded(tool("env"), url)
            .arg(format!("RAMPART_URL={}", dead_url()))
            .args(["RAMPART_FAIL_OPEN=1", "/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn a_deep_tree_stays_protected() {
    // agent -> bash -> env -u LD_PRELOAD -> python -> sh -> touch: every level is checked.
    cascade("deep", |url, _| {
        Run::preloaded(tool("bash"), url)
            .env("PYTHON", tool("python3"))
            .env(
                "PYCODE",
                format!("import subprocess, sys; sys.exit(subprocess.run(['/bin/sh', '-c', 'exec {GRANDCHILD}']).returncode)"),
            )
            .args(["-c", "env -u LD_PRELOAD RAMPART_MODE=disabled \"$PYTHON\" -c \"$PYCODE\""])
    });
}

#[test]
fn ld_preload_replaced_by_another_library() {
    cascade("other-preload", |url, _| {
        Run::preloaded(tool("env"), url)
            .arg(format!("LD_PRELOAD={}", do_nothing_library().display()))
            .args(["/bin/sh", "-c", GRANDCHILD])
    });
}

#[test]
fn rampart_url_pointed_at_a_permissive_server_in_between() {
    // An agent cannot start its own always-allow server and point its children at it.
    let permissive = StubServer::start(Behavior::ok_body(stub_server::allow_reply()));
    cascade("permissive-url", |url, _| {
        Run::preloaded(tool("env"), url)
            .arg(format!("RAMPART_URL={}", permissive.url()))
            .args(["RAMPART_MODE=monitor", "/bin/sh", "-c", GRANDCHILD])
    });
    assert_eq!(
        permissive.connection_count(),
        0,
        "a child asked the agent's own server"
    );
}

#[test]
fn a_changed_token_agent_and_session_are_restored() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("identity");
    let marker = allow_marker(&dir, "identity");
    let outcome = Run::preloaded(tool("env"), &server.url())
        .env("RAMPART_TOKEN", "load-time-token")
        .env("RAMPART_AGENT", "load-time-agent")
        .env("RAMPART_SESSION", "load-time-session")
        .env("MARKER", &marker)
        .args([
            "RAMPART_TOKEN=forged",
            "RAMPART_AGENT=forged",
            "RAMPART_SESSION=forged",
            "/bin/sh",
            "-c",
        ])
        .arg(GRANDCHILD)
        .run();
    assert_allowed(&outcome, &marker, &server);
    let request = server
        .requests()
        .into_iter()
        .find(|r| command_of(r).contains("allowed-identity"))
        .unwrap();
    assert_eq!(request.header("authorization"), Some("Bearer load-time-token"));
    let body = json::parse(&request.body_text()).unwrap();
    assert_eq!(body.get("agent").and_then(Json::as_str), Some("load-time-agent"));
    assert_eq!(
        body.get("session").and_then(Json::as_str),
        Some("load-time-session")
    );
}

#[test]
fn a_large_stripped_environment_is_passed_through_with_the_library_restored() {
    // 3000 variables (~300 KiB) and no LD_PRELOAD: the rebuilt environment keeps every one.
    cascade("big-env", |url, _| {
        Run::preloaded(tool("python3"), url).args([
            "-c",
            &format!(
                "import os, subprocess, sys
env = {{f'V{{i}}': 'x' * 100 for i in range(3000)}}
env['MARKER'] = os.environ['MARKER']
r = subprocess.run(['/bin/sh', '-c', 'test ${{#V2999}} = 100 || exit 3; {}'], env=env)
sys.exit(r.returncode)",
                GRANDCHILD.replace('"', "\\\"")
            ),
        ])
    });
}
