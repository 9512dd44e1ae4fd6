//! Decision classes end to end: only an HTTP 200 holding one JSON object with exactly one
//! top-level boolean `allowed` decides. Transport failures and 5xx follow RAMPART_FAIL_OPEN;
//! every other odd reply denies in enforce mode whatever fail-open says; monitor never blocks but
//! still asks; disabled never asks.
//!
//! Every case tries an innocent command (`touch allowed-...`, which the normal stub would allow)
//! twice: through posix_spawn (the check runs in the long-lived parent) and through vfork+execve
//! (the check runs in the child), each with RAMPART_FAIL_OPEN=1 and =0.

mod common;

use common::*;
use std::net::TcpListener;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Allow,
    Deny,
    /// Allow with RAMPART_FAIL_OPEN=1, deny with =0.
    FollowFailOpen,
}

const VIAS: [&str; 2] = ["posix_spawn", "vfork_execve"];

/// Tries the innocent command against `url` in every way and checks the outcome.
fn check(label: &str, url: &str, env: &[(&str, &str)], expect: Expect) {
    let dir = TempDir::new(label);
    for via in VIAS {
        for fail_open in ["1", "0"] {
            let marker = allow_marker(&dir, &format!("{via}-{fail_open}"));
            let mut run = Run::preloaded(probe(), url)
                .env("RAMPART_FAIL_OPEN", fail_open)
                .timeout(Duration::from_secs(60))
                .args([via, "/usr/bin/touch", "touch", marker.to_str().unwrap()]);
            for (key, value) in env {
                run = run.env(key, value);
            }
            let outcome = run.run();
            let should_allow = match expect {
                Expect::Allow => true,
                Expect::Deny => false,
                Expect::FollowFailOpen => fail_open == "1",
            };
            let context = format!("{label}, via {via}, RAMPART_FAIL_OPEN={fail_open}, expected {expect:?}");
            // Generous: the contract bounds one check at ~2 s; this only catches a hang.
            assert!(
                outcome.elapsed < Duration::from_secs(10),
                "{context}: the exec was held for {:?}\n{}",
                outcome.elapsed,
                outcome.describe()
            );
            if should_allow {
                assert_eq!(outcome.code, 0, "{context}: must run\n{}", outcome.describe());
                assert!(marker.exists(), "{context}: must run\n{}", outcome.describe());
                assert!(
                    outcome.blocked_lines().is_empty(),
                    "{context}\n{}",
                    outcome.describe()
                );
            } else {
                assert_eq!(
                    outcome.code,
                    42,
                    "{context}: must fail with EPERM\n{}",
                    outcome.describe()
                );
                assert!(
                    !marker.exists(),
                    "{context}: must not run\n{}",
                    outcome.describe()
                );
                let lines = outcome.blocked_lines();
                assert!(
                    lines.len() == 1 && lines[0].starts_with("rampart: blocked — "),
                    "{context}: expected one `rampart: blocked — ...` line\n{}",
                    outcome.describe()
                );
            }
            assert!(
                !outcome.stdout().contains("rampart"),
                "{context}: library text on stdout\n{}",
                outcome.describe()
            );
        }
    }
}

/// A server answering every request with `behavior`; checks the outcome and that it was asked.
fn reply_case(label: &str, behavior: Behavior, expect: Expect) {
    let server = StubServer::start(behavior);
    check(label, &server.url(), &[], expect);
    assert!(
        server.request_count() >= 4,
        "{label}: the server was asked {} times",
        server.request_count()
    );
}

fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn control_a_well_formed_allow_runs() {
    reply_case(
        "allow",
        Behavior::ok_body(stub_server::allow_reply()),
        Expect::Allow,
    );
    reply_case(
        "allow-minimal",
        Behavior::ok_body(r#" { "allowed" : true } "#),
        Expect::Allow,
    );
}

#[test]
fn control_a_well_formed_deny_blocks() {
    reply_case("deny", Behavior::ok_body(stub_server::deny_reply()), Expect::Deny);
    reply_case(
        "deny-without-message",
        Behavior::ok_body(r#"{"allowed":false}"#),
        Expect::Deny,
    );
}

#[test]
fn unauthorized_denies() {
    reply_case(
        "401",
        Behavior::status(401, r#"{"allowed":true,"error":"missing authorization token"}"#),
        Expect::Deny,
    );
}

#[test]
fn forbidden_and_other_4xx_deny() {
    reply_case("403", Behavior::status(403, r#"{"allowed":true}"#), Expect::Deny);
    reply_case(
        "404",
        Behavior::status(404, r#"{"error":"not found"}"#),
        Expect::Deny,
    );
    reply_case("400", Behavior::status(400, r#"{"allowed":true}"#), Expect::Deny);
}

#[test]
fn a_redirect_denies_and_is_not_followed() {
    let elsewhere = StubServer::start(Behavior::ok_body(stub_server::allow_reply()));
    let location = format!("{}/v1/preflight/exec", elsewhere.url());
    let redirect = Behavior::Raw {
        status: 302,
        headers: vec![("Location".into(), location)],
        body: br#"{"allowed":true}"#.to_vec(),
    };
    reply_case("302", redirect, Expect::Deny);
    assert_eq!(elsewhere.request_count(), 0, "the library followed the redirect");
}

#[test]
fn malformed_json_denies() {
    reply_case("truncated", Behavior::ok_body(r#"{"allowed":true"#), Expect::Deny);
    reply_case(
        "trailing-garbage",
        Behavior::ok_body(r#"{"allowed":true} garbage"#),
        Expect::Deny,
    );
    reply_case(
        "two-objects",
        Behavior::ok_body(r#"{"allowed":true}{"allowed":true}"#),
        Expect::Deny,
    );
    reply_case("empty", Behavior::ok_body(""), Expect::Deny);
    reply_case(
        "html",
        Behavior::ok_body("<html><body>allowed: true</body></html>"),
        Expect::Deny,
    );
    reply_case("array", Behavior::ok_body(r#"[{"allowed":true}]"#), Expect::Deny);
    reply_case("bare-true", Behavior::ok_body("true"), Expect::Deny);
}

#[test]
fn duplicated_allowed_denies() {
    reply_case(
        "dup-false-true",
        Behavior::ok_body(r#"{"allowed":false,"allowed":true}"#),
        Expect::Deny,
    );
    reply_case(
        "dup-true-true",
        Behavior::ok_body(r#"{"allowed":true,"allowed":true}"#),
        Expect::Deny,
    );
}

#[test]
fn nested_or_missing_allowed_denies() {
    reply_case(
        "nested",
        Behavior::ok_body(r#"{"result":{"allowed":true}}"#),
        Expect::Deny,
    );
    reply_case(
        "missing",
        Behavior::ok_body(r#"{"decision":"allow"}"#),
        Expect::Deny,
    );
}

#[test]
fn non_boolean_allowed_denies() {
    reply_case("string", Behavior::ok_body(r#"{"allowed":"true"}"#), Expect::Deny);
    reply_case("number", Behavior::ok_body(r#"{"allowed":1}"#), Expect::Deny);
    reply_case("null", Behavior::ok_body(r#"{"allowed":null}"#), Expect::Deny);
}

#[test]
fn an_oversized_reply_denies() {
    let body = format!(r#"{{"allowed":true,"message":"{}"}}"#, "x".repeat(70 * 1024));
    reply_case("70KiB", Behavior::ok_body(body), Expect::Deny);
}

#[test]
fn an_oversized_response_header_denies() {
    // A header longer than the client accepts is bad HTTP, not a server that hung up: it must
    // deny whatever fail-open says.
    let huge_header = Behavior::Raw {
        status: 200,
        headers: vec![("X-Padding".into(), "p".repeat(20 * 1024))],
        body: br#"{"allowed":true}"#.to_vec(),
    };
    reply_case("huge-header", huge_header, Expect::Deny);
}

#[test]
fn server_errors_follow_fail_open() {
    reply_case(
        "500",
        Behavior::status(500, r#"{"allowed":true}"#),
        Expect::FollowFailOpen,
    );
    reply_case(
        "503",
        Behavior::status(503, r#"{"error":"audit write failed"}"#),
        Expect::FollowFailOpen,
    );
}

#[test]
fn a_server_that_never_answers_follows_fail_open_within_bounds() {
    let server = StubServer::start(Behavior::NeverAnswer);
    check("never-answers", &server.url(), &[], Expect::FollowFailOpen);
    assert!(
        server.request_count() >= 4,
        "the server was asked {} times",
        server.request_count()
    );
}

#[test]
fn a_server_that_closes_at_once_follows_fail_open() {
    let server = StubServer::start(Behavior::CloseImmediately);
    check("closes", &server.url(), &[], Expect::FollowFailOpen);
    assert!(server.connection_count() >= 4, "the library never connected");
}

#[test]
fn a_refused_connection_follows_fail_open() {
    check("refused", &dead_url(), &[], Expect::FollowFailOpen);
}

#[test]
fn credentials_in_the_url_deny() {
    let server = StubServer::start(Behavior::ok_body(stub_server::allow_reply()));
    let url = format!("http://user:secret@127.0.0.1:{}", server.port());
    check("userinfo", &url, &[], Expect::Deny);
    for request in server.requests() {
        let auth = request.header("authorization").unwrap_or("");
        assert!(
            !auth.starts_with("Basic"),
            "the URL's credentials were sent: {auth}"
        );
    }
}

#[test]
fn non_http_schemes_deny() {
    let server = StubServer::start(Behavior::ok_body(stub_server::allow_reply()));
    check(
        "ftp",
        &format!("ftp://127.0.0.1:{}", server.port()),
        &[],
        Expect::Deny,
    );
    check("file", "file:///etc/passwd", &[], Expect::Deny);
    check("unix", "unix:///tmp/rampart.sock", &[], Expect::Deny);
}

#[test]
fn an_unparsable_url_denies() {
    // A configuration mistake must not become a silent allow through fail-open.
    check("garbage-url", "not a url", &[], Expect::Deny);
}

#[test]
fn monitor_mode_runs_denied_commands_but_still_asks() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("monitor");
    for via in VIAS {
        let marker = deny_marker(&dir, via);
        let outcome = Run::preloaded(probe(), &server.url())
            .env("RAMPART_MODE", "monitor")
            .args([via, "/usr/bin/touch", "touch", marker.to_str().unwrap()])
            .run();
        assert_eq!(outcome.code, 0, "monitor via {via}\n{}", outcome.describe());
        assert!(
            marker.exists(),
            "monitor must not block ({via})\n{}",
            outcome.describe()
        );
        assert!(outcome.blocked_lines().is_empty(), "{}", outcome.describe());
        let name = marker.file_name().unwrap().to_string_lossy();
        assert_eq!(
            asked_about(&server, &name),
            1,
            "monitor must still ask ({via}): {:?}",
            commands(&server)
        );
    }
    // Asked with enforce:false, so the server's audit shows the deny as observed, not enforced.
    for request in server.requests() {
        let body = json::parse(&request.body_text()).expect("JSON body");
        assert_eq!(
            body.get("enforce"),
            Some(&Json::Bool(false)),
            "{}",
            request.body_text()
        );
    }
}

#[test]
fn monitor_mode_never_blocks_on_hostile_or_missing_servers() {
    let unauthorized = StubServer::start(Behavior::status(
        401,
        r#"{"error":"missing authorization token"}"#,
    ));
    let malformed = StubServer::start(Behavior::ok_body(r#"{"allowed":"#));
    check(
        "monitor-401",
        &unauthorized.url(),
        &[("RAMPART_MODE", "monitor")],
        Expect::Allow,
    );
    check(
        "monitor-malformed",
        &malformed.url(),
        &[("RAMPART_MODE", "monitor")],
        Expect::Allow,
    );
    check(
        "monitor-refused",
        &dead_url(),
        &[("RAMPART_MODE", "monitor")],
        Expect::Allow,
    );
    assert!(unauthorized.request_count() >= 4, "monitor must still ask");
}

#[test]
fn disabled_mode_never_asks() {
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("disabled");
    for via in VIAS {
        let marker = deny_marker(&dir, via);
        let outcome = Run::preloaded(probe(), &server.url())
            .env("RAMPART_MODE", "disabled")
            .args([via, "/usr/bin/touch", "touch", marker.to_str().unwrap()])
            .run();
        assert_eq!(outcome.code, 0, "{}", outcome.describe());
        assert!(marker.exists(), "{}", outcome.describe());
        assert!(outcome.stderr.is_empty(), "{}", outcome.describe());
    }
    assert_eq!(server.connection_count(), 0, "disabled mode contacted the server");
}

#[test]
fn an_unknown_mode_still_enforces() {
    // A typo in RAMPART_MODE must not switch protection off.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("bad-mode");
    for mode in ["enforc", "bogus", ""] {
        let marker = deny_marker(&dir, &format!("mode-{}", mode.trim()));
        let outcome = Run::preloaded(probe(), &server.url())
            .env("RAMPART_MODE", mode)
            .args(["posix_spawn", "/usr/bin/touch", "touch", marker.to_str().unwrap()])
            .run();
        assert_eq!(outcome.code, 42, "RAMPART_MODE={mode:?}\n{}", outcome.describe());
        assert!(!marker.exists(), "RAMPART_MODE={mode:?}\n{}", outcome.describe());
    }
}

#[test]
fn ambient_proxy_variables_are_ignored() {
    let server = StubServer::start(Behavior::policy());
    let proxy = StubServer::start(Behavior::ok_body(stub_server::allow_reply()));
    let dir = TempDir::new("proxy");
    for via in VIAS {
        let marker = deny_marker(&dir, via);
        let mut run = Run::preloaded(probe(), &server.url()).env("RAMPART_TOKEN", "proxy-must-not-see-this");
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            run = run.env(var, proxy.url());
        }
        let outcome = run
            .args([via, "/usr/bin/touch", "touch", marker.to_str().unwrap()])
            .run();
        assert_denied(&outcome, &marker, &server);
    }
    assert_eq!(
        proxy.connection_count(),
        0,
        "a request (and the token) went to the proxy"
    );
}

#[test]
fn the_servers_message_is_decoded_and_printed_verbatim() {
    let server = StubServer::start(Behavior::ok_body(
        r#"{"allowed":false,"message":"Blocked \u2014 \"quoted\" \\ caf\u00e9 \ud83d\udd12"}"#,
    ));
    let outcome = Run::preloaded(probe(), &server.url())
        .args(["posix_spawn", "/usr/bin/true", "true"])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert_eq!(
        outcome.blocked_lines(),
        vec!["rampart: blocked — Blocked — \"quoted\" \\ café 🔒".to_string()],
        "{}",
        outcome.describe()
    );
}

#[test]
fn a_hostile_message_cannot_add_lines() {
    // The denial is exactly one stderr line, whatever the message holds.
    let server = StubServer::start(Behavior::ok_body(
        r#"{"allowed":false,"message":"first\nrampart: blocked — forged\r\nthird\u0000fourth"}"#,
    ));
    for via in VIAS {
        let outcome = Run::preloaded(probe(), &server.url())
            .args([via, "/usr/bin/true", "true"])
            .run();
        assert_eq!(outcome.code, 42, "{}", outcome.describe());
        let stderr = outcome.stderr();
        assert_eq!(
            stderr.matches('\n').count(),
            1,
            "one line only\n{}",
            outcome.describe()
        );
        assert!(
            stderr.starts_with("rampart: blocked — first"),
            "{}",
            outcome.describe()
        );
        assert!(!stderr.contains('\0'), "{}", outcome.describe());
    }
}

#[test]
fn a_keep_alive_connection_closed_by_the_server_does_not_change_decisions() {
    // The server drops each connection after answering, without saying so: a long-lived process
    // reusing its pooled connection must notice and still get a real decision, neither a
    // fail-open allow nor a fail-closed deny.
    let server = StubServer::start(Behavior::PolicyThenClose {
        deny_markers: vec![DENY_MARKER.into()],
    });
    let dir = TempDir::new("stale");
    let denied = deny_marker(&dir, "stale");
    let outcome = Run::preloaded(probe(), &server.url())
        .env("RAMPART_FAIL_OPEN", "1")
        .args([
            "spawn_repeat",
            "5",
            "100",
            "/usr/bin/touch",
            "touch",
            denied.to_str().unwrap(),
        ])
        .run();
    assert_eq!(outcome.code, 42, "{}", outcome.describe());
    assert!(
        !denied.exists(),
        "a denied command ran through fail-open\n{}",
        outcome.describe()
    );
    assert_eq!(
        outcome.blocked_lines(),
        vec![blocked_line(); 5],
        "{}",
        outcome.describe()
    );

    let allowed = allow_marker(&dir, "stale");
    let outcome = Run::preloaded(probe(), &server.url())
        .env("RAMPART_FAIL_OPEN", "0")
        .args([
            "spawn_repeat",
            "5",
            "100",
            "/usr/bin/touch",
            "touch",
            allowed.to_str().unwrap(),
        ])
        .run();
    assert_eq!(
        outcome.code,
        0,
        "an allowed command was refused\n{}",
        outcome.describe()
    );
    assert!(outcome.stdout().contains("ok=5 "), "{}", outcome.describe());
    assert_eq!(asked_about(&server, "allowed-stale"), 5);
}

#[test]
fn a_process_out_of_descriptors_is_denied_not_failed_open() {
    // An agent that uses up its file descriptors (close-on-exec, so the program it then runs
    // loads fine) makes the check's socket() fail. That is not "server unreachable": with the
    // default RAMPART_FAIL_OPEN=1 it must still deny, and say why.
    let server = StubServer::start(Behavior::policy());
    let dir = TempDir::new("emfile");
    let marker = deny_marker(&dir, "emfile");
    let script = format!(
        "import os\n\
         fds = []\n\
         try:\n\
         \x20   while True: fds.append(os.open('/dev/null', os.O_RDONLY | os.O_CLOEXEC))\n\
         except OSError:\n\
         \x20   pass\n\
         try:\n\
         \x20   os.execv('/usr/bin/touch', ['touch', '{}'])\n\
         except OSError as e:\n\
         \x20   print('execv failed', e.errno)\n",
        marker.display()
    );
    let outcome = Run::preloaded(tool("python3"), &server.url())
        .env("RAMPART_FAIL_OPEN", "1")
        .args(["-c", &script])
        .run();
    assert!(
        !marker.exists(),
        "a command ran unchecked\n{}",
        outcome.describe()
    );
    assert_eq!(
        outcome.stdout(),
        format!("execv failed {}\n", libc::EPERM),
        "{}",
        outcome.describe()
    );
    let lines = outcome.blocked_lines();
    assert_eq!(lines.len(), 1, "{}", outcome.describe());
    assert!(
        lines[0].contains("cannot open a socket"),
        "{}",
        outcome.describe()
    );
}
