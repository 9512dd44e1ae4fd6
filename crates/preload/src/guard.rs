//! The one pipeline from an intercepted command to a verdict, and the one place where every
//! failure is mapped to allow or deny.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::client::{self, Place, Reply, TransportError};
use crate::config::{Config, Mode, UrlProblem};
use crate::ffi;
use crate::output::{blocked_line, debug_line, redact, write_stderr_line};
use crate::wire::{self, Answer, Malformed};

/// Why the server's answer could not decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// RAMPART_URL is unusable (credentials, scheme, https, syntax).
    BadUrl(UrlProblem),
    /// Connection refused or connect timeout.
    Unreachable(String),
    /// Connected, but the server did not answer in time.
    TimedOut(String),
    /// Connection reset or closed early.
    Broken(String),
    /// HTTP 5xx.
    ServerError(u16),
    /// HTTP 401/403: the token is missing or wrong.
    Unauthorized(u16),
    /// Any other 4xx.
    Rejected(u16),
    /// HTTP 3xx (never followed: the token must not travel elsewhere).
    Redirect(u16),
    /// A status other than 200 that is none of the above (1xx, 2xx).
    UnexpectedStatus(u16),
    /// 200, but the body cannot decide (includes a body over 64 KiB).
    Malformed(Malformed),
    /// Not acceptable HTTP.
    Protocol(String),
    /// The request could not be built.
    Request(String),
    /// A bug in the library (a caught panic).
    Internal,
}

impl Failure {
    /// Short name of the failure class, for the debug line.
    pub fn class(&self) -> &'static str {
        match self {
            Failure::BadUrl(_) => "bad-url",
            Failure::Unreachable(_) => "unreachable",
            Failure::TimedOut(_) => "timeout",
            Failure::Broken(_) => "connection-error",
            Failure::ServerError(_) => "server-error",
            Failure::Unauthorized(_) => "unauthorized",
            Failure::Rejected(_) => "rejected",
            Failure::Redirect(_) => "redirect",
            Failure::UnexpectedStatus(_) => "unexpected-status",
            Failure::Malformed(_) => "malformed-answer",
            Failure::Protocol(_) => "protocol-error",
            Failure::Request(_) => "request-error",
            Failure::Internal => "internal-error",
        }
    }

    /// Whether this failure means "the server could not be asked" (the fail-open case) rather than
    /// "the server, or whatever answered, said something we must not trust".
    pub fn follows_fail_open(&self) -> bool {
        matches!(
            self,
            Failure::Unreachable(_) | Failure::TimedOut(_) | Failure::Broken(_) | Failure::ServerError(_)
        )
    }
}

/// A failure described for a person, naming the server URL where it helps.
struct Described<'a>(&'a Failure, &'a str);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Described(failure, url) = self;
        match failure {
            Failure::BadUrl(problem) => write!(f, "{problem}"),
            Failure::Unreachable(detail) => write!(f, "policy server unreachable at {url} ({detail})"),
            Failure::TimedOut(phase) => write!(f, "policy server at {url} did not answer in time ({phase})"),
            Failure::Broken(detail) => write!(f, "connection to policy server at {url} failed ({detail})"),
            Failure::ServerError(status) => write!(f, "policy server at {url} failed (HTTP {status})"),
            Failure::Unauthorized(status) => {
                write!(
                    f,
                    "policy server at {url} refused the token (HTTP {status}); check RAMPART_TOKEN"
                )
            }
            Failure::Rejected(status) => {
                write!(f, "policy server at {url} rejected the check (HTTP {status})")
            }
            Failure::Redirect(status) => write!(
                f,
                "policy server at {url} answered with a redirect (HTTP {status})"
            ),
            Failure::UnexpectedStatus(status) => write!(f, "policy server at {url} answered HTTP {status}"),
            Failure::Malformed(why) => write!(f, "invalid answer from policy server at {url}: {why}"),
            Failure::Protocol(detail) => write!(f, "invalid HTTP from policy server at {url}: {detail}"),
            Failure::Request(detail) => write!(f, "cannot send the check to {url}: {detail}"),
            Failure::Internal => write!(f, "internal error in librampart.so"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ruling {
    Allow,
    Deny,
}

/// THE decision table. Enforce: the answer decides; a failure follows RAMPART_FAIL_OPEN when the
/// server could not be asked (refused, timeout, reset, 5xx) and denies otherwise. Monitor never
/// blocks and disabled never asks.
pub fn decide(mode: Mode, fail_open: bool, outcome: &Result<Answer, Failure>) -> Ruling {
    match (mode, outcome) {
        (Mode::Monitor | Mode::Disabled, _) => Ruling::Allow,
        (Mode::Enforce, Ok(answer)) => {
            if answer.allowed {
                Ruling::Allow
            } else {
                Ruling::Deny
            }
        }
        (Mode::Enforce, Err(failure)) => {
            if failure.follows_fail_open() && fail_open {
                Ruling::Allow
            } else {
                Ruling::Deny
            }
        }
    }
}

/// Turns an HTTP reply into an answer, or the failure it is.
pub fn interpret(reply: &Reply) -> Result<Answer, Failure> {
    match reply.status {
        200 => wire::parse_answer(&reply.body).map_err(Failure::Malformed),
        401 | 403 => Err(Failure::Unauthorized(reply.status)),
        300..=399 => Err(Failure::Redirect(reply.status)),
        400..=499 => Err(Failure::Rejected(reply.status)),
        500..=599 => Err(Failure::ServerError(reply.status)),
        other => Err(Failure::UnexpectedStatus(other)),
    }
}

fn from_transport(error: TransportError) -> Failure {
    match error {
        TransportError::Unreachable(detail) => Failure::Unreachable(detail),
        TransportError::TimedOut(detail) => Failure::TimedOut(detail),
        TransportError::Broken(detail) => Failure::Broken(detail),
        TransportError::Protocol(detail) => Failure::Protocol(detail),
        TransportError::BodyTooLarge => Failure::Malformed(Malformed::TooLarge),
        TransportError::Request(detail) => Failure::Request(detail),
    }
}

/// The message of the blocked line: the server's message, or the failure named.
pub fn denial_message(config: &Config, outcome: &Result<Answer, Failure>) -> String {
    let url = config.settings.url.trim_end_matches('/');
    match outcome {
        Ok(answer) => match answer.message.as_deref().map(str::trim) {
            Some(message) if !message.is_empty() => message.to_string(),
            _ => "command denied by policy".to_string(),
        },
        Err(failure) if failure.follows_fail_open() => {
            format!(
                "{} (fail-open={})",
                Described(failure, url),
                u8::from(config.settings.fail_open)
            )
        }
        Err(failure) => Described(failure, url).to_string(),
    }
}

/// The decision line of the debug output.
fn decision_line(config: &Config, ruling: Ruling, outcome: &Result<Answer, Failure>) -> String {
    let word = match ruling {
        Ruling::Allow => "allow",
        Ruling::Deny => "deny",
    };
    let url = config.settings.url.trim_end_matches('/');
    let detail = match (config.settings.mode, outcome) {
        (Mode::Disabled, _) => Some("mode=disabled, not asked".to_string()),
        (Mode::Monitor, Ok(answer)) if !answer.allowed => {
            Some("monitor mode: server denied, not blocking".to_string())
        }
        (Mode::Monitor, Err(failure)) => Some(format!(
            "monitor mode: {}: {}",
            failure.class(),
            Described(failure, url)
        )),
        (_, Err(failure)) => Some(format!(
            "{}: {} (fail-open={})",
            failure.class(),
            Described(failure, url),
            u8::from(config.settings.fail_open)
        )),
        _ => None,
    };
    match detail {
        Some(detail) => format!("decision: {word} ({detail})"),
        None => format!("decision: {word}"),
    }
}

/// Prints a debug line; the text is only built when RAMPART_DEBUG is on (formatting and redaction
/// would otherwise cost every check time and, in a fork child, page faults).
fn debug(config: &Config, text: impl FnOnce() -> String) {
    if config.settings.debug {
        write_stderr_line(&debug_line(&text()));
    }
}

/// Room for the working directory sent with a check (PATH_MAX); a longer one is left out.
const CWD_BYTES: usize = 4096;

/// Asks the server about `command` (intercepted in `hook`) and returns the ruling, printing the
/// debug lines and, on a denial, the blocked line.
pub fn check(config: &Config, hook: &str, command: &str, place: Place) -> Ruling {
    let settings = &config.settings;
    debug(config, || format!("intercepted {hook}: {}", redact(command)));
    let outcome = if settings.mode == Mode::Disabled {
        Ok(Answer {
            allowed: true,
            message: None,
        })
    } else {
        match &settings.endpoint {
            Err(problem) => Err(Failure::BadUrl(problem.clone())),
            Ok(url) => {
                debug(config, || format!("sending to {url}"));
                let enforce = settings.mode == Mode::Enforce;
                let mut cwd = [0u8; CWD_BYTES];
                let cwd = ffi::cwd_into(&mut cwd).map(String::from_utf8_lossy);
                let body = wire::preflight_body(
                    &settings.agent,
                    &settings.session,
                    command,
                    cwd.as_deref(),
                    enforce,
                );
                client::post(url, settings.token.as_deref(), &body, place)
                    .map_err(from_transport)
                    .and_then(|reply| interpret(&reply))
            }
        }
    };
    conclude(config, &outcome)
}

/// Prints the decision (and the blocked line on a denial) and returns the ruling.
fn conclude(config: &Config, outcome: &Result<Answer, Failure>) -> Ruling {
    let ruling = decide(config.settings.mode, config.settings.fail_open, outcome);
    debug(config, || decision_line(config, ruling, outcome));
    match ruling {
        Ruling::Allow => debug(config, || "proceeding with syscall".to_string()),
        Ruling::Deny => write_stderr_line(&blocked_line(&denial_message(config, outcome))),
    }
    ruling
}

/// The configuration itself could not be parsed (a bug: parsing panicked). The mode is unknown,
/// so this is the enforce ruling for an internal failure: deny, and say why.
pub fn internal_failure_without_config() {
    write_stderr_line(&blocked_line(&Described(&Failure::Internal, "").to_string()));
}

/// Runs `work`; a panic inside it becomes the ruling for an internal failure (deny in enforce)
/// instead of unwinding into redhook, whose fallback would run the real function: a silent allow.
pub fn protect<T>(config: &Config, work: impl FnOnce() -> T, on_ruling: impl FnOnce(Ruling) -> T) -> T {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(value) => value,
        Err(_) => {
            let ruling = catch_unwind(AssertUnwindSafe(|| conclude(config, &Err(Failure::Internal))))
                .unwrap_or(if config.settings.mode == Mode::Enforce {
                    Ruling::Deny
                } else {
                    Ruling::Allow
                });
            on_ruling(ruling)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome_allowed(allowed: bool) -> Result<Answer, Failure> {
        Ok(Answer {
            allowed,
            message: None,
        })
    }

    const FAIL_OPEN_CLASSES: [fn() -> Failure; 4] = [
        || Failure::Unreachable("refused".into()),
        || Failure::TimedOut("receive response".into()),
        || Failure::Broken("reset".into()),
        || Failure::ServerError(503),
    ];

    const ALWAYS_DENY_CLASSES: [fn() -> Failure; 12] = [
        || Failure::BadUrl(UrlProblem::Credentials),
        || Failure::BadUrl(UrlProblem::Scheme("ftp".into())),
        || Failure::Unauthorized(401),
        || Failure::Unauthorized(403),
        || Failure::Rejected(400),
        || Failure::Redirect(302),
        || Failure::UnexpectedStatus(204),
        || Failure::Malformed(Malformed::DuplicateAllowed),
        || Failure::Malformed(Malformed::TooLarge),
        || Failure::Protocol("bad status line".into()),
        || Failure::Request("bad header".into()),
        || Failure::Internal,
    ];

    #[test]
    fn enforce_follows_the_answer() {
        assert_eq!(decide(Mode::Enforce, true, &outcome_allowed(true)), Ruling::Allow);
        assert_eq!(decide(Mode::Enforce, true, &outcome_allowed(false)), Ruling::Deny);
        assert_eq!(
            decide(Mode::Enforce, false, &outcome_allowed(true)),
            Ruling::Allow
        );
    }

    #[test]
    fn transport_failures_and_5xx_follow_fail_open() {
        for failure in FAIL_OPEN_CLASSES {
            assert_eq!(
                decide(Mode::Enforce, true, &Err(failure())),
                Ruling::Allow,
                "{:?}",
                failure()
            );
            assert_eq!(
                decide(Mode::Enforce, false, &Err(failure())),
                Ruling::Deny,
                "{:?}",
                failure()
            );
        }
    }

    #[test]
    fn untrustworthy_answers_deny_in_enforce_whatever_fail_open_says() {
        for failure in ALWAYS_DENY_CLASSES {
            assert_eq!(
                decide(Mode::Enforce, true, &Err(failure())),
                Ruling::Deny,
                "{:?}",
                failure()
            );
            assert_eq!(
                decide(Mode::Enforce, false, &Err(failure())),
                Ruling::Deny,
                "{:?}",
                failure()
            );
        }
    }

    #[test]
    fn monitor_and_disabled_never_block() {
        for mode in [Mode::Monitor, Mode::Disabled] {
            assert_eq!(decide(mode, false, &outcome_allowed(false)), Ruling::Allow);
            for failure in FAIL_OPEN_CLASSES.iter().chain(ALWAYS_DENY_CLASSES.iter()) {
                assert_eq!(decide(mode, false, &Err(failure())), Ruling::Allow);
            }
        }
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(
            interpret(&reply(200, r#"{"allowed":true}"#)),
            Ok(Answer {
                allowed: true,
                message: None
            })
        );
        assert_eq!(
            interpret(&reply(200, "oops")),
            Err(Failure::Malformed(Malformed::Syntax("unexpected character", 0)))
        );
        assert_eq!(interpret(&reply(401, "")), Err(Failure::Unauthorized(401)));
        assert_eq!(interpret(&reply(403, "")), Err(Failure::Unauthorized(403)));
        assert_eq!(interpret(&reply(404, "")), Err(Failure::Rejected(404)));
        assert_eq!(interpret(&reply(413, "")), Err(Failure::Rejected(413)));
        assert_eq!(interpret(&reply(301, "")), Err(Failure::Redirect(301)));
        assert_eq!(interpret(&reply(307, "")), Err(Failure::Redirect(307)));
        assert_eq!(interpret(&reply(500, "")), Err(Failure::ServerError(500)));
        assert_eq!(interpret(&reply(503, "")), Err(Failure::ServerError(503)));
        assert_eq!(
            interpret(&reply(201, r#"{"allowed":true}"#)),
            Err(Failure::UnexpectedStatus(201))
        );
        assert_eq!(interpret(&reply(204, "")), Err(Failure::UnexpectedStatus(204)));
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        assert_eq!(
            from_transport(TransportError::BodyTooLarge),
            Failure::Malformed(Malformed::TooLarge)
        );
        assert!(!from_transport(TransportError::BodyTooLarge).follows_fail_open());
        assert!(from_transport(TransportError::Broken("reset".into())).follows_fail_open());
        assert!(!from_transport(TransportError::Protocol("garbage".into())).follows_fail_open());
    }

    fn config(fail_open: bool) -> Config {
        let entries: Vec<&[u8]> = if fail_open {
            vec![]
        } else {
            vec![b"RAMPART_FAIL_OPEN=0"]
        };
        Config::from_env(&entries, 1, b"/lib/librampart.so")
    }

    #[test]
    fn denial_messages() {
        let c = config(false);
        let server = Ok(Answer {
            allowed: false,
            message: Some("Destructive command blocked".into()),
        });
        assert_eq!(denial_message(&c, &server), "Destructive command blocked");
        assert_eq!(
            denial_message(&c, &outcome_allowed(false)),
            "command denied by policy"
        );
        assert_eq!(
            denial_message(
                &c,
                &Err(Failure::Unreachable("Connection refused (os error 111)".into()))
            ),
            "policy server unreachable at http://127.0.0.1:9090 (Connection refused (os error 111)) (fail-open=0)"
        );
        assert_eq!(
            denial_message(&c, &Err(Failure::Unauthorized(401))),
            "policy server at http://127.0.0.1:9090 refused the token (HTTP 401); check RAMPART_TOKEN"
        );
        assert!(
            denial_message(&c, &Err(Failure::Malformed(Malformed::DuplicateAllowed)))
                .contains("more than once")
        );
    }

    #[test]
    fn decision_lines_name_the_failure_class() {
        let c = config(true);
        assert_eq!(
            decision_line(&c, Ruling::Allow, &outcome_allowed(true)),
            "decision: allow"
        );
        assert_eq!(
            decision_line(&c, Ruling::Deny, &outcome_allowed(false)),
            "decision: deny"
        );
        let line = decision_line(&c, Ruling::Allow, &Err(Failure::Unreachable("refused".into())));
        assert!(
            line.starts_with("decision: allow (unreachable: policy server unreachable"),
            "{line}"
        );
        assert!(line.contains("(fail-open=1)"), "{line}");
    }

    #[test]
    fn a_panic_becomes_an_internal_failure_ruling() {
        let enforce = config(true);
        let ruling = protect(
            &enforce,
            || -> Ruling {
                #[allow(clippy::panic)]
                {
                    panic!("bug")
                }
            },
            |r| r,
        );
        assert_eq!(
            ruling,
            Ruling::Deny,
            "a panic must never be a silent allow in enforce"
        );
        let mut monitor = config(true);
        monitor.settings.mode = Mode::Monitor;
        let ruling = protect(
            &monitor,
            || -> Ruling {
                #[allow(clippy::panic)]
                {
                    panic!("bug")
                }
            },
            |r| r,
        );
        assert_eq!(ruling, Ruling::Allow);
        assert_eq!(protect(&enforce, || Ruling::Allow, |r| r), Ruling::Allow);
    }

    #[test]
    fn disabled_mode_never_asks() {
        // An unusable URL would deny if it were used: disabled must not even look at it.
        let entries: Vec<&[u8]> = vec![b"RAMPART_MODE=disabled", b"RAMPART_URL=ftp://x"];
        let c = Config::from_env(&entries, 1, b"/lib/librampart.so");
        assert_eq!(check(&c, "execve", "rm -rf /", Place::Exec), Ruling::Allow);
    }

    #[test]
    fn bad_url_denies_in_enforce_without_a_request() {
        let entries: Vec<&[u8]> = vec![b"RAMPART_URL=http://user:pw@127.0.0.1:1"];
        let c = Config::from_env(&entries, 1, b"/lib/librampart.so");
        assert_eq!(check(&c, "execve", "true", Place::Exec), Ruling::Deny);
    }
}
