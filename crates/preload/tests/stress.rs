//! Stress: thousands of checked starts from busy multithreaded parents. Every start must be
//! checked (the server counts them), none may hang (generous timeouts) or crash, and every
//! denial must hold. Asserts outcomes and counts only, never speed.

mod common;

use common::*;
use std::time::Duration;

const STRESS_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn python_2000_subprocess_runs_from_threads_while_others_allocate() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("stress-python");
    let denied = deny_marker(&dir, "python");
    // Two threads run 1000 commands each (every tenth one denied) while four threads churn
    // memory; subprocess uses vfork + execv, so every check runs in a vfork child.
    let script = r#"
import os, subprocess, sys, threading
denied = os.environ['MARKER']
stop = False
def churn():
    while not stop:
        blocks = [bytearray(4096) for _ in range(64)]
        del blocks
def runner(results):
    for i in range(1000):
        try:
            cmd = ['touch', denied] if i % 10 == 0 else ['true']
            results.append('ok' if subprocess.run(cmd).returncode == 0 else 'fail')
        except PermissionError:
            results.append('eperm')
churners = [threading.Thread(target=churn) for _ in range(4)]
for t in churners: t.start()
results = [[], []]
runners = [threading.Thread(target=runner, args=(r,)) for r in results]
for t in runners: t.start()
for t in runners: t.join()
stop = True
for t in churners: t.join()
flat = results[0] + results[1]
print('ok', flat.count('ok'), 'eperm', flat.count('eperm'), 'fail', flat.count('fail'))
"#;
    let outcome = Run::preloaded(tool("python3"), &server.url())
        .env("MARKER", &denied)
        .timeout(STRESS_TIMEOUT)
        .args(["-c", script])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_eq!(
        outcome.stdout().trim(),
        "ok 1800 eperm 200 fail 0",
        "{}",
        outcome.describe()
    );
    assert!(!denied.exists(), "a denied command ran");
    let lines = outcome.blocked_lines();
    assert_eq!(
        lines.len(),
        200,
        "one denial line per denied start\n{}",
        outcome.describe()
    );
    assert!(
        lines.iter().all(|l| *l == blocked_line()),
        "{}",
        outcome.describe()
    );
    assert_eq!(
        server.request_count(),
        2000,
        "every start must be checked exactly once"
    );
}

#[test]
fn node_2000_spawn_syncs() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("stress-node");
    let denied = deny_marker(&dir, "node");
    // libuv forks a multithreaded process and runs execvp in the child.
    let script = r#"
const cp = require('child_process');
const counts = { ok: 0, eperm: 0, other: 0 };
for (let i = 0; i < 2000; i++) {
  const r = i % 10 === 0 ? cp.spawnSync('touch', [process.env.MARKER], { stdio: ['ignore', 'ignore', 'inherit'] })
                         : cp.spawnSync('true', [], { stdio: 'ignore' });
  if (r.error && r.error.code === 'EPERM') counts.eperm++;
  else if (r.status === 0) counts.ok++;
  else counts.other++;
}
console.log(`ok ${counts.ok} eperm ${counts.eperm} other ${counts.other}`);
"#;
    let outcome = Run::preloaded(tool("node"), &server.url())
        .env("MARKER", &denied)
        .timeout(STRESS_TIMEOUT)
        .args(["-e", script])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_eq!(
        outcome.stdout().trim(),
        "ok 1800 eperm 200 other 0",
        "{}",
        outcome.describe()
    );
    assert!(!denied.exists(), "a denied command ran");
    assert_eq!(outcome.blocked_lines().len(), 200, "{}", outcome.describe());
    assert_eq!(
        server.request_count(),
        2000,
        "every start must be checked exactly once"
    );
}

#[test]
fn c_500_forks_from_a_process_whose_threads_spawn_and_allocate() {
    // The busy threads' posix_spawn checks hold the library's parent-side state while the main
    // thread forks: a child that touched that state would deadlock.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("stress-fork");
    let marker = allow_marker(&dir, "fork");
    let outcome = Run::preloaded(probe(), &server.url())
        .timeout(STRESS_TIMEOUT)
        .args([
            "fork_threads",
            "500",
            "/usr/bin/touch",
            "touch",
            marker.to_str().unwrap(),
        ])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert!(
        outcome.stdout().contains("ok=500 eperm=0 other=0"),
        "{}",
        outcome.describe()
    );
    assert_eq!(
        asked_about(&server, "allowed-fork"),
        500,
        "every forked child's exec must be checked"
    );
}

#[test]
fn c_8_threads_checking_at_once_each_get_their_own_decision() {
    // Concurrent checks from one process share its connection state: a reply given to the wrong
    // thread would show as an allowed command refused or a denied one run.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("stress-threads");
    let outcome = Run::preloaded(probe(), &server.url())
        .timeout(STRESS_TIMEOUT)
        .args(["threads_mixed", "8", "50"])
        .arg(dir.path())
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert!(
        outcome.stdout().contains("mismatches=0"),
        "{}",
        outcome.describe()
    );
    let lines = outcome.blocked_lines();
    assert_eq!(lines.len(), 200, "{}", outcome.describe());
    assert!(
        lines.iter().all(|l| *l == blocked_line()),
        "{}",
        outcome.describe()
    );
    let ran_denied = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(DENY_MARKER)
        })
        .count();
    assert_eq!(ran_denied, 0, "denied commands ran");
    assert_eq!(
        server.request_count(),
        400,
        "every start must be checked exactly once"
    );
}
