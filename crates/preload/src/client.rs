//! The HTTP call to the policy server, with ureq: no proxy (the token never goes to one), every
//! phase bounded, small buffers, no DNS for the default IP-literal URL, no threads.
//!
//! Connection reuse is only safe in the process that opened the connections: a fork child shares
//! the parent's sockets and pool lock, a vfork child even its memory. So a pooled agent serves the
//! checks made by its owner process (system, popen, posix_spawn run in the parent), and every
//! other check — exec* in a fork or vfork child — uses a one-shot agent that keeps no connection
//! and never touches the parent's.

use std::io;
use std::time::{Duration, Instant};

use ureq::config::Config as AgentConfig;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::{Agent, Error};

use crate::publish::Published;
use crate::transport::{NoSocket, SocketConnector};
use crate::wire::MAX_ANSWER_BYTES;

/// Per-phase limits. They add up to about 2 s: a server that accepts and never answers cannot hold
/// an exec for longer. Only these phase timeouts are used: a global or per-call timeout makes
/// ureq's resolver start a thread per request.
const CONNECT: Duration = Duration::from_millis(250);
const SEND_REQUEST: Duration = Duration::from_millis(150);
const SEND_BODY: Duration = Duration::from_millis(150);
const RECV_RESPONSE: Duration = Duration::from_millis(1300);
const RECV_BODY: Duration = Duration::from_millis(250);
/// A pooled connection the server closed while idle fails at once; only a failure this quick is
/// retried on a fresh connection, so a server that closes after a long wait cannot double the bound.
const STALE_RETRY_WINDOW: Duration = Duration::from_millis(100);
/// Idle connections close before a Node server's 5 s keep-alive would close them under us.
const MAX_IDLE_AGE: Duration = Duration::from_secs(2);
const BUFFER_BYTES: usize = 16 * 1024;

/// Where a check runs, which decides whether connections may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In the process that will spawn the child (system, popen, posix_spawn*).
    Spawner,
    /// In the process image about to be replaced (exec*), typically a fork or vfork child.
    Exec,
}

/// A raw answer: status and (for 200) body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Why no reply could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Connection refused, connect timeout, unknown host.
    Unreachable(String),
    /// Connected, but a phase took too long.
    TimedOut(String),
    /// Reset, broken pipe, closed early.
    Broken(String),
    /// The server spoke something that is not acceptable HTTP (or the body was too big).
    Protocol(String),
    BodyTooLarge,
    /// The request could not be built (e.g. a token with characters not allowed in a header) or
    /// sent at all (no socket could be opened here).
    Request(String),
}

/// Agent configurations, each built on first use (not at load: most processes never check; a
/// fork child builds only the one-shot one). Building one reads the proxy variables through std's
/// env lock, which could only be stuck in a fork child if another thread had been *writing* the
/// environment through this library's own std at fork time; nothing here writes it through std
/// (the cascade uses libc setenv), readers do not block readers, and `.proxy(None)` discards what
/// was read.
static POOLED_CONFIG: Published<AgentConfig> = Published::new();
static ONE_SHOT_CONFIG: Published<AgentConfig> = Published::new();

struct Pooled {
    owner: libc::pid_t,
    agent: Agent,
}

static POOLED: Published<Pooled> = Published::new();

fn agent_config(pool: bool) -> AgentConfig {
    Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(CONNECT))
        .timeout_send_request(Some(SEND_REQUEST))
        .timeout_send_body(Some(SEND_BODY))
        .timeout_recv_response(Some(RECV_RESPONSE))
        .timeout_recv_body(Some(RECV_BODY))
        .input_buffer_size(BUFFER_BYTES)
        .output_buffer_size(BUFFER_BYTES)
        .max_response_header_size(BUFFER_BYTES)
        .max_idle_connections(if pool { 2 } else { 0 })
        .max_idle_connections_per_host(if pool { 2 } else { 0 })
        .max_idle_age(MAX_IDLE_AGE)
        .build()
}

/// An agent over our own socket transport (see transport.rs): one write per request, timeouts set
/// once, no peek for a connection that is never reused. The resolver is ureq's: an IP literal is
/// parsed, not looked up, and no resolve timeout is set, so it starts no thread.
///
/// `request_bytes` sizes the output buffer (0: the full buffer, for a pooled agent whose requests
/// vary).
fn new_agent(pool: bool, request_bytes: usize) -> Agent {
    let config = if pool {
        POOLED_CONFIG.get_or_publish(|| agent_config(true))
    } else {
        ONE_SHOT_CONFIG.get_or_publish(|| agent_config(false))
    };
    let connector = SocketConnector {
        reusable: pool,
        receive_timeout: RECV_RESPONSE,
        send_timeout: SEND_REQUEST + SEND_BODY,
        output_bytes: if request_bytes == 0 {
            BUFFER_BYTES
        } else {
            request_bytes.clamp(1024, BUFFER_BYTES)
        },
        input_limit: BUFFER_BYTES,
    };
    Agent::with_parts(config.clone(), connector, DefaultResolver::default())
}

fn current_pid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions (and is a real syscall in glibc >= 2.25, right in children).
    unsafe { libc::getpid() }
}

/// POSTs `body` to `url` and returns the status and, for a 200, the body (at most 64 KiB).
pub fn post(url: &str, token: Option<&str>, body: &str, place: Place) -> Result<Reply, TransportError> {
    let pid = current_pid();
    if place == Place::Spawner {
        let pooled = POOLED.get_or_publish(|| Pooled {
            owner: pid,
            agent: new_agent(true, 0),
        });
        if pooled.owner == pid {
            let started = Instant::now();
            match send(&pooled.agent, url, token, body) {
                // A kept-alive connection the server closed meanwhile: try once on a fresh one.
                Err(TransportError::Broken(_)) if started.elapsed() < STALE_RETRY_WINDOW => {}
                result => return result,
            }
        }
    }
    // Request line and headers (the longest being Authorization) fit in 512 bytes plus the URL
    // and the token.
    let request_bytes = 512 + url.len() + token.map_or(0, str::len) + body.len();
    send(&new_agent(false, request_bytes), url, token, body)
}

fn send(agent: &Agent, url: &str, token: Option<&str>, body: &str) -> Result<Reply, TransportError> {
    let mut request = agent.post(url).header("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let mut response = request.send(body).map_err(classify)?;
    let status = response.status().as_u16();
    let body = if status == 200 {
        response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES as u64)
            .read_to_vec()
            .map_err(classify)?
    } else {
        Vec::new()
    };
    Ok(Reply { status, body })
}

fn classify(error: Error) -> TransportError {
    match error {
        Error::Timeout(ureq::Timeout::Connect) => TransportError::Unreachable("connect timed out".into()),
        Error::Timeout(phase) => TransportError::TimedOut(phase.to_string()),
        Error::HostNotFound => TransportError::Unreachable("host not found".into()),
        Error::ConnectionFailed => TransportError::Unreachable("connection failed".into()),
        Error::BodyExceedsLimit(_) => TransportError::BodyTooLarge,
        Error::Io(io_error) => match io_error.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::AddrNotAvailable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable => TransportError::Unreachable(io_error.to_string()),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                TransportError::TimedOut(io_error.to_string())
            }
            _ => TransportError::Broken(io_error.to_string()),
        },
        Error::Http(e) => TransportError::Request(e.to_string()),
        Error::Other(e) if e.is::<NoSocket>() => TransportError::Request(e.to_string()),
        Error::BadUri(e) => TransportError::Request(e),
        other => TransportError::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_this_process_cannot_open_is_not_an_unreachable_server() {
        // EMFILE is something an agent can cause at will: it must not pass as "server down"
        // (fail-open), while a refused connection must.
        let no_socket = Error::Other(Box::new(NoSocket(io::Error::from_raw_os_error(libc::EMFILE))));
        match classify(no_socket) {
            TransportError::Request(detail) => {
                assert!(detail.starts_with("cannot open a socket: "), "{detail}")
            }
            other => unreachable!("classified as {other:?}"),
        }
        assert!(matches!(
            classify(Error::Io(io::ErrorKind::ConnectionRefused.into())),
            TransportError::Unreachable(_)
        ));
    }
}
