//! The HTTP call to the policy server, with ureq: no proxy (the token never goes to one), every
//! phase bounded, small buffers, no DNS for the default IP-literal URL, no threads.
//!
//! Connection reuse is only safe in the process that opened the connections: a fork child shares
//! the parent's sockets and pool lock, a vfork child even its memory. So a pooled agent serves the
//! checks made by its owner process (system, popen, posix_spawn run in the parent), and every
//! other check — exec* in a fork or vfork child — uses a one-shot agent that keeps no connection
//! and never touches the parent's.

use std::io;
use std::time::Duration;

use ureq::config::Config as AgentConfig;
use ureq::{Agent, Error};

use crate::publish::Published;
use crate::wire::MAX_ANSWER_BYTES;

/// Per-phase limits. They add up to about 2 s: a server that accepts and never answers cannot hold
/// an exec for longer. Only these phase timeouts are used: a global or per-call timeout makes
/// ureq's resolver start a thread per request.
const CONNECT: Duration = Duration::from_millis(250);
const SEND_REQUEST: Duration = Duration::from_millis(150);
const SEND_BODY: Duration = Duration::from_millis(150);
const RECV_RESPONSE: Duration = Duration::from_millis(1300);
const RECV_BODY: Duration = Duration::from_millis(250);
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
    /// The request could not be built (e.g. a token with characters not allowed in a header).
    Request(String),
}

struct Agents {
    pooled: AgentConfig,
    one_shot: AgentConfig,
}

/// Agent configurations, built on first use (not at load: most processes never check). Building
/// one reads the proxy variables through std's env lock, which could only be stuck in a fork child
/// if another thread had been *writing* the environment through this library's own std at fork
/// time; nothing here writes it through std (the cascade uses libc setenv), readers do not block
/// readers, and `.proxy(None)` discards what was read.
static CONFIGS: Published<Agents> = Published::new();

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

fn configs() -> &'static Agents {
    CONFIGS.get_or_publish(|| Agents {
        pooled: agent_config(true),
        one_shot: agent_config(false),
    })
}

fn current_pid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions (and is a real syscall in glibc >= 2.25, right in children).
    unsafe { libc::getpid() }
}

/// POSTs `body` to `url` and returns the status and, for a 200, the body (at most 64 KiB).
pub fn post(url: &str, token: Option<&str>, body: &str, place: Place) -> Result<Reply, TransportError> {
    let configs = configs();
    let pid = current_pid();
    if place == Place::Spawner {
        let pooled = POOLED.get_or_publish(|| Pooled {
            owner: pid,
            agent: configs.pooled.new_agent(),
        });
        if pooled.owner == pid {
            match send(&pooled.agent, url, token, body) {
                // A kept-alive connection the server closed meanwhile: try once on a fresh one.
                Err(TransportError::Broken(_)) => {}
                result => return result,
            }
        }
    }
    send(&configs.one_shot.new_agent(), url, token, body)
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
        Error::BadUri(e) => TransportError::Request(e),
        other => TransportError::Protocol(other.to_string()),
    }
}
