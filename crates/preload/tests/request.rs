//! What the library sends and prints: the request (method, path, token, agent, session, command
//! quoting, argv[0] spoofing, PATH candidates), its debug lines and redaction, and that it never
//! touches a program's stdout.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

fn only_request(server: &StubServer) -> Request {
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request, got {:?}",
        commands(server)
    );
    requests.into_iter().next().unwrap()
}

fn body_json(request: &Request) -> Json {
    let body = request.body_text();
    json::parse(&body).unwrap_or_else(|err| panic!("request body is not JSON ({err}): {body}"))
}

fn words(strings: &[&str]) -> Vec<Vec<u8>> {
    strings.iter().map(|s| s.as_bytes().to_vec()).collect()
}

#[test]
fn the_request_follows_the_contract() {
    let server = StubServer::start(Behavior::policy());
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["--print-pid", "execve", "/usr/bin/true", "/usr/bin/true"])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    let pid: u32 = outcome
        .stdout()
        .trim()
        .strip_prefix("pid=")
        .expect("pid line")
        .parse()
        .unwrap();

    let request = only_request(&server);
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/preflight/exec");
    assert_eq!(
        request.header("authorization"),
        None,
        "no token is set, so no Authorization header"
    );
    let body = body_json(&request);
    let mut keys = body.keys();
    keys.sort();
    assert_eq!(
        keys,
        ["agent", "cwd", "enforce", "params", "session"],
        "body: {}",
        request.body_text()
    );
    assert_eq!(
        body.get("agent"),
        Some(&Json::String("preload".into())),
        "default agent"
    );
    assert_eq!(
        body.get("session"),
        Some(&Json::String(format!("preload-{pid}"))),
        "default session"
    );
    assert_eq!(body.get("enforce"), Some(&Json::Bool(true)));
    let params = body.get("params").unwrap();
    assert_eq!(params.keys(), ["command"], "params: {}", request.body_text());
    assert_eq!(shell_words(&command_of(&request)), words(&["/usr/bin/true"]));
    assert_eq!(
        body.get("cwd"),
        Some(&Json::String(env!("CARGO_MANIFEST_DIR").into())),
        "the working directory the command's relative paths mean"
    );
}

#[test]
fn the_working_directory_goes_with_every_check_in_parent_and_child() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("cwd");
    let real = std::fs::canonicalize(dir.path()).unwrap();
    for via in ["posix_spawn", "vfork_execve", "system", "execvp"] {
        let args: Vec<&str> = if via == "system" {
            vec![via, "/usr/bin/true"]
        } else {
            vec![via, "/usr/bin/true", "true"]
        };
        let outcome = Run::preloaded(probe(), &server.url()).cwd(&real).args(args).run();
        assert_eq!(outcome.code, 0, "{via}\n{}", outcome.describe());
    }
    let requests = server.requests();
    assert!(requests.len() >= 4, "requests: {:?}", commands(&server));
    for request in requests {
        assert_eq!(
            body_json(&request).get("cwd"),
            Some(&Json::String(real.to_str().unwrap().into())),
            "for {}",
            command_of(&request)
        );
    }
}

#[test]
fn the_token_is_sent_as_a_bearer_header_in_parent_and_child() {
    let server = StubServer::start(Behavior::policy());
    for via in ["posix_spawn", "vfork_execve", "system"] {
        let args: Vec<&str> = if via == "system" {
            vec![via, "/usr/bin/true"]
        } else {
            vec![via, "/usr/bin/true", "true"]
        };
        let outcome = Run::preloaded(probe(), &server.url())
            .env("RAMPART_TOKEN", "tok-3f9a1c")
            .args(args)
            .run();
        assert_eq!(outcome.code, 0, "{via}\n{}", outcome.describe());
    }
    let requests = server.requests();
    assert!(requests.len() >= 3, "requests: {:?}", commands(&server));
    for request in requests {
        assert_eq!(
            request.header("authorization"),
            Some("Bearer tok-3f9a1c"),
            "for {}",
            command_of(&request)
        );
    }
}

#[test]
fn agent_and_session_come_from_the_environment() {
    let server = StubServer::start(Behavior::policy());
    for via in ["posix_spawn", "vfork_execve"] {
        let outcome = Run::preloaded(probe(), &server.url())
            .env("RAMPART_AGENT", "codex-under-test")
            .env("RAMPART_SESSION", "research-run-1")
            .args([via, "/usr/bin/true", "true"])
            .run();
        assert_eq!(outcome.code, 0, "{}", outcome.describe());
    }
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for request in requests {
        let body = body_json(&request);
        assert_eq!(body.get("agent"), Some(&Json::String("codex-under-test".into())));
        assert_eq!(body.get("session"), Some(&Json::String("research-run-1".into())));
    }
}

#[test]
fn odd_argv_is_quoted_so_that_a_shell_reads_it_back() {
    let odd: Vec<&str> = vec![
        "/usr/bin/echo",
        "two words",
        "it's",
        "say \"hi\"",
        "line1\nline2",
        "",
        "$HOME `id` $(id)",
        "back\\slash",
        "*",
        "semi;colon&&and|pipe",
        "tab\there",
        "-n",
        "ünïcödé ✓",
        "'",
    ];
    let server = StubServer::start(Behavior::policy());
    for via in ["execve", "posix_spawn", "vfork_execve"] {
        let outcome = Run::preloaded(probe(), &server.url())
            .arg(via)
            .arg("/usr/bin/echo")
            .args(&odd)
            .run();
        assert_eq!(outcome.code, 0, "{via}\n{}", outcome.describe());
    }
    let commands = commands(&server);
    assert_eq!(commands.len(), 3, "{commands:?}");
    for command in commands {
        assert_eq!(shell_words(&command), words(&odd), "command as sent: {command:?}");
    }
}

#[test]
fn system_and_popen_send_the_shell_string() {
    let server = StubServer::start(Behavior::policy());
    let script = "echo 'a  b' \"$HOME\" | tr a-z A-Z";
    for via in ["system", "popen"] {
        let outcome = Run::preloaded(probe(), &server.url()).args([via, script]).run();
        assert_eq!(outcome.code, 0, "{via}\n{}", outcome.describe());
        assert!(outcome.stdout().contains("A  B"), "{via}\n{}", outcome.describe());
    }
    // The first request of each call is the parent's check of the sh -c string; the shell's own
    // children (echo, tr) are checked by the shell's copy of the library.
    let commands = commands(&server);
    let shell_checks: Vec<&String> = commands.iter().filter(|c| *c == script).collect();
    assert_eq!(
        shell_checks.len(),
        2,
        "expected the exact sh -c string twice; got {commands:?}"
    );
}

#[test]
fn non_utf8_arguments_are_still_checked() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("non-utf8");
    let allowed = dir.path().join(os(b"allowed-caf\xe9-\xff"));
    let denied = dir.path().join(os(b"rampart-deny-me-caf\xe9-\xff"));
    for via in ["posix_spawn", "vfork_execve"] {
        let outcome = Run::preloaded(probe(), &server.url())
            .args([via, "/usr/bin/touch", "touch"])
            .arg(&allowed)
            .run();
        assert_eq!(outcome.code, 0, "{}", outcome.describe());
        assert!(allowed.exists(), "{}", outcome.describe());
        let outcome = Run::preloaded(probe(), &server.url())
            .args([via, "/usr/bin/touch", "touch"])
            .arg(&denied)
            .run();
        assert_eq!(outcome.code, 42, "{}", outcome.describe());
        assert!(!denied.exists(), "{}", outcome.describe());
        assert_blocked_once(&outcome);
    }
    // Every body is valid JSON (command_of parses it) and carries the readable parts.
    let commands = commands(&server);
    assert_eq!(commands.len(), 4, "{commands:?}");
    assert!(commands.iter().all(|c| c.contains("caf")), "{commands:?}");
}

#[test]
fn a_spoofed_argv0_is_replaced_by_the_real_path() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("argv0");
    let real = std::fs::canonicalize("/usr/bin/touch").unwrap();
    let real = real.to_str().unwrap();
    for (via, program, argv0) in [
        ("execve", "/usr/bin/touch", "ls"),
        ("posix_spawn", "/usr/bin/touch", "/usr/bin/ls"),
        ("vfork_execve", "/usr/bin/touch", "harmless"),
        ("execve", "/usr/bin/touch", ""),
        ("execvp", "touch", "ls"),
        ("posix_spawnp", "touch", "/usr/bin/ls"),
    ] {
        let marker = allow_marker(&dir, &format!("{via}-{}", argv0.replace('/', "_")));
        let outcome = Run::preloaded(probe(), &server.url())
            .args([via, program, argv0, marker.to_str().unwrap()])
            .run();
        assert_eq!(outcome.code, 0, "{}", outcome.describe());
        let name = marker.file_name().unwrap().to_string_lossy();
        let command = commands(&server)
            .into_iter()
            .find(|c| c.contains(&*name))
            .expect("asked");
        let first = String::from_utf8(shell_words(&command)[0].clone()).unwrap();
        assert!(
            first == "/usr/bin/touch" || first == real,
            "argv[0] {argv0:?} must not name the program; the server saw {command:?}"
        );
    }
}

#[test]
fn a_truthful_argv0_is_kept() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("argv0-true");
    let marker = allow_marker(&dir, "truthful");
    let outcome = Run::preloaded(probe(), &server.url())
        .args([
            "execve",
            "/usr/bin/touch",
            "/usr/bin/touch",
            marker.to_str().unwrap(),
        ])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_eq!(
        shell_words(&command_of(&only_request(&server))),
        words(&["/usr/bin/touch", marker.to_str().unwrap()])
    );
}

#[test]
fn an_empty_argv_cannot_hide_the_program() {
    let server = StubServer::start(Behavior::Policy {
        deny_markers: vec!["/usr/bin/touch".into()],
    });
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["execve_empty_argv", "/usr/bin/touch"])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert_blocked_once(&outcome);
}

#[test]
fn path_candidates_that_cannot_run_are_not_asked_about() {
    // Python's subprocess tries execv on every PATH entry; the library must ask only about the
    // one that can run, not about missing files, non-executable files or directories.
    let dir = TempDir::new("path-candidates");
    let noexec = dir.join("noexec");
    let subdir = dir.join("dir");
    std::fs::create_dir_all(&noexec).unwrap();
    std::fs::create_dir_all(subdir.join("true")).unwrap();
    std::fs::write(noexec.join("true"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(noexec.join("true"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut path = Vec::new();
    for i in 0..6 {
        path.push(dir.join(&format!("missing{i}")).display().to_string());
    }
    path.push(noexec.display().to_string());
    path.push(subdir.display().to_string());
    path.push("/usr/bin".into());
    let path = path.join(":");

    let cases: Vec<(&str, Run)> = vec![
        (
            "python subprocess.run(['true'])",
            Run::plain(tool("python3")).args([
                "-c",
                "import subprocess, sys; sys.exit(subprocess.run(['true']).returncode)",
            ]),
        ),
        (
            "python os.execvp",
            Run::plain(tool("python3")).args(["-c", "import os; os.execvp('true', ['true'])"]),
        ),
        (
            "node spawnSync('true')",
            Run::plain(tool("node")).args([
                "-e",
                "process.exit(require('child_process').spawnSync('true').status)",
            ]),
        ),
        ("C execvp", Run::plain(probe()).args(["execvp", "true", "true"])),
        (
            "C posix_spawnp",
            Run::plain(probe()).args(["posix_spawnp", "true", "true"]),
        ),
    ];
    for (label, run) in cases {
        let server = StubServer::start(Behavior::policy());
        let outcome = run
            .env("LD_PRELOAD", library_path())
            .env("RAMPART_URL", server.url())
            .env("PATH", &path)
            .run();
        assert_eq!(outcome.code, 0, "{label}\n{}", outcome.describe());
        let commands = commands(&server);
        assert_eq!(commands.len(), 1, "{label}: expected one check, got {commands:?}");
        let first = shell_words(&commands[0])[0].clone();
        assert!(
            first == b"true" || first == b"/usr/bin/true",
            "{label}: {commands:?}"
        );
    }
}

#[test]
fn debug_lines_follow_the_product_page() {
    let server = StubServer::start(Behavior::policy());
    let outcome = Run::preloaded(probe(), &server.url())
        .env("RAMPART_DEBUG", "1")
        .args(["execve", "/usr/bin/echo", "/usr/bin/echo", "hello"])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    assert_eq!(
        outcome.stdout(),
        "hello\n",
        "debug output must never reach stdout"
    );
    let lines = outcome.debug_lines();
    let expected_prefixes = [
        "rampart_preload: intercepted execve: ".to_string(),
        format!("rampart_preload: sending to {}/v1/preflight/exec", server.url()),
        "rampart_preload: decision: allow".to_string(),
        "rampart_preload: proceeding with syscall".to_string(),
    ];
    let mut position = 0;
    for prefix in &expected_prefixes {
        let found = lines[position..]
            .iter()
            .position(|line| line.starts_with(prefix.as_str()));
        let Some(offset) = found else {
            panic!("missing debug line {prefix:?} (in order)\n{}", outcome.describe());
        };
        position += offset + 1;
    }
    let intercepted = lines
        .iter()
        .find(|l| l.starts_with(&expected_prefixes[0]))
        .unwrap();
    let shown = &intercepted[expected_prefixes[0].len()..];
    assert_eq!(
        shell_words(shown),
        words(&["/usr/bin/echo", "hello"]),
        "{intercepted}"
    );
    assert!(
        lines.contains(&expected_prefixes[1]),
        "the sending line is exactly the URL\n{}",
        outcome.describe()
    );
    let stderr = outcome.stderr();
    let other: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("rampart_preload: "))
        .collect();
    assert!(
        other.is_empty(),
        "stderr holds non-debug lines\n{}",
        outcome.describe()
    );
}

#[test]
fn debug_shows_a_denial_and_one_blocked_line() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("debug-deny");
    let marker = deny_marker(&dir, "debug");
    let outcome = Run::preloaded(probe(), &server.url())
        .env("RAMPART_DEBUG", "1")
        .args(["posix_spawn", "/usr/bin/touch", "touch", marker.to_str().unwrap()])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert_denied(&outcome, &marker, &server);
    let lines = outcome.debug_lines();
    assert!(
        lines.iter().any(|l| l == "rampart_preload: decision: deny"),
        "{}",
        outcome.describe()
    );
    assert!(
        !lines.iter().any(|l| l.contains("proceeding with syscall")),
        "{}",
        outcome.describe()
    );
}

#[test]
fn debug_names_each_intercepted_function() {
    let server = StubServer::start(Behavior::policy());
    for row in ROWS.iter().filter(|row| row.built && row.kind != "data") {
        let how = row.symbol;
        let args = probe_args(how, row.kind, "true", &[]);
        let outcome = Run::preloaded(probe(), &server.url())
            .env("RAMPART_DEBUG", "1")
            .args(args)
            .run();
        assert_eq!(outcome.code, 0, "{how}\n{}", outcome.describe());
        let first = outcome.debug_lines().into_iter().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("rampart_preload: intercepted {how}: ")),
            "{how}: first debug line is {first:?}\n{}",
            outcome.describe()
        );
    }
}

#[test]
fn debug_output_redacts_credentials() {
    let server = StubServer::start(Behavior::policy());
    let secrets = [
        "hunter2-pw",
        "abc123xyz-tok",
        "bearer-secret-999",
        "ghp_0123456789abcdefghijABCDEFGHIJklmnop",
        "sekrit-token-value",
    ];
    let outcome = Run::preloaded(probe(), &server.url())
        .env("RAMPART_DEBUG", "1")
        .env("RAMPART_TOKEN", secrets[4])
        .args([
            "execve",
            "/usr/bin/echo",
            "/usr/bin/echo",
            "--password",
            secrets[0],
        ])
        .arg(format!("token={}", secrets[1]))
        .arg(format!("Authorization: Bearer {}", secrets[2]))
        .arg(secrets[3])
        .run();
    assert_eq!(outcome.code, 0, "{}", outcome.describe());
    // The program itself runs unchanged.
    assert!(outcome.stdout().contains(secrets[0]), "{}", outcome.describe());
    let stderr = outcome.stderr();
    assert!(stderr.contains("[REDACTED]"), "{}", outcome.describe());
    for secret in secrets {
        assert!(
            !stderr.contains(secret),
            "debug output leaks {secret:?}\n{}",
            outcome.describe()
        );
    }
}

#[test]
fn stdout_is_byte_identical_with_and_without_the_library() {
    let server = StubServer::start(Behavior::policy());
    let script = "printf 'bin\\000\\001\\377ary\\n'; /usr/bin/echo child; /usr/bin/seq 1 2000 | /usr/bin/tail -n 3; printf 'no newline'";
    let plain = Run::plain("/bin/sh").args(["-c", script]).run();
    assert_eq!(plain.code, 0, "{}", plain.describe());
    for debug in ["0", "1"] {
        let preloaded = Run::preloaded("/bin/sh", &server.url())
            .env("RAMPART_DEBUG", debug)
            .args(["-c", script])
            .run();
        assert_eq!(preloaded.code, 0, "{}", preloaded.describe());
        assert_eq!(
            preloaded.stdout, plain.stdout,
            "stdout differs with RAMPART_DEBUG={debug}"
        );
    }
    assert!(
        server.request_count() >= 6,
        "the shell's children were not checked: {:?}",
        commands(&server)
    );
}

#[test]
fn a_long_command_is_checked_whole() {
    // A marker after 200 KiB of arguments must still be seen: truncating would allow it silently.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("long");
    let filler = "a".repeat(2048);
    // sh touches its last argument, after 100 arguments of 2 KiB each.
    let script = "for m; do :; done; exec /usr/bin/touch \"$m\"";
    for (marker, denied) in [
        (allow_marker(&dir, "long"), false),
        (deny_marker(&dir, "long"), true),
    ] {
        let mut run =
            Run::preloaded(probe(), &server.url()).args(["posix_spawn", "/bin/sh", "sh", "-c", script, "sh"]);
        for i in 0..100 {
            run = run.arg(format!("{i}-{filler}"));
        }
        let outcome = run.arg(&marker).run();
        if denied {
            assert_eq!(outcome.code, 42, "{}", outcome.describe());
            assert!(!marker.exists());
            assert_blocked_once(&outcome);
        } else {
            assert_eq!(outcome.code, 0, "{}", outcome.describe());
            assert!(marker.exists());
        }
    }
}
