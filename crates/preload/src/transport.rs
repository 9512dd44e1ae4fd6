//! The socket under ureq (a `unversioned::transport` Connector/Transport), shaped for one small
//! request and one small answer on loopback, where syscalls and page faults are the whole cost.
//!
//! ureq's own TCP transport is general: a non-blocking connect + poll (FIONBIO twice), a timeout
//! setsockopt before every send and receive, the header and the body in two sends, a
//! non-blocking peek (FIONBIO twice) before a connection may be reused, and 2 × 16 KiB of
//! buffers zeroed page by page. Here a check costs socket, setsockopt × 3, connect, send, recv,
//! close:
//!
//! * **connect**: blocking, bounded by SO_SNDTIMEO set before it (Linux returns EINPROGRESS when it
//!   expires). The same SO_SNDTIMEO then bounds each send, and SO_RCVTIMEO (set once, to the
//!   response budget) each receive. A timeout is set again only when ureq's remaining budget is
//!   clearly shorter (or longer) than the one on the socket, so the ~2 s worst case still holds.
//! * **one write**: the request header and body are collected in the output buffer and sent
//!   together when ureq first waits for the answer (or when the buffer fills up).
//! * **no peek for one-shot connections**: they are never reused, so `is_open` is false without
//!   asking. A reusable (pooled) connection is probed with one `recv(MSG_PEEK | MSG_DONTWAIT)`.
//! * **small buffers**: the output is sized to the request, the input starts at 2 KiB and grows
//!   only for a bigger answer; in a fork child every page the check touches is a page fault.
//! * nothing is registered with the agent's shutdown list (its pool lock): we never shut it down.

use std::fmt;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use ureq::Error;
use ureq::Timeout;
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// A timeout on the socket is changed only when it differs from ureq's remaining budget by more
/// than this: the common exchange (one send, one receive) then sets no timeout after connect.
/// A wait can exceed its phase by at most this much.
const SLACK: Duration = Duration::from_millis(20);

/// Opens a connection for one exchange (`reusable: false`, checks in fork/vfork children) or for a
/// pooled agent (`reusable: true`, checks in the process that owns the agent).
#[derive(Debug)]
pub struct SocketConnector {
    pub reusable: bool,
    /// SO_RCVTIMEO set at connect: the time allowed for the answer to start.
    pub receive_timeout: Duration,
    /// The time allowed to send the whole request once ureq waits for the answer.
    pub send_timeout: Duration,
    /// Output buffer: big enough for the whole request in the common case, so it goes out in one
    /// write (a longer body goes out in buffer-sized writes).
    pub output_bytes: usize,
    /// The input buffer starts at `INITIAL_INPUT` and grows to this (the largest response header
    /// accepted), so a small answer touches one page instead of four.
    pub input_limit: usize,
}

/// A policy answer (status line, headers, JSON) is a few hundred bytes.
const INITIAL_INPUT: usize = 2048;

impl Connector<()> for SocketConnector {
    type Out = SocketTransport;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<SocketTransport>, Error> {
        // Nothing is chained before this connector (it is the whole chain).
        let _ = chained;
        let budget = details
            .timeout
            .not_zero()
            .map(|d| *d)
            .unwrap_or(Duration::from_secs(1));
        let deadline = Instant::now() + budget;
        let mut last_error = None;
        for (index, addr) in details.addrs.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // Later addresses share what is left (usually there is exactly one: an IP literal).
            let tries_left = u32::try_from(details.addrs.len().saturating_sub(index))
                .unwrap_or(1)
                .max(1);
            let per_address = (left / tries_left).max(Duration::from_millis(10));
            match connect(addr, per_address) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(self.receive_timeout))?;
                    return Ok(Some(SocketTransport {
                        stream,
                        buffers: SocketBuffers::new(
                            INITIAL_INPUT.min(self.input_limit),
                            self.input_limit,
                            self.output_bytes,
                        ),
                        reusable: self.reusable,
                        send_timeout: self.send_timeout,
                        base_send_timeout: per_address,
                        socket_send_timeout: per_address,
                        socket_receive_timeout: Some(self.receive_timeout),
                    }));
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or(Error::Timeout(Timeout::Connect)))
    }
}

/// This process could not open a socket (no free descriptor, no memory, not permitted). A local
/// failure, not an unreachable server: the server was never tried, and an agent can cause it at
/// will (by using up its descriptors), so it must not follow fail-open.
#[derive(Debug)]
pub struct NoSocket(pub io::Error);

impl fmt::Display for NoSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot open a socket: {}", self.0)
    }
}

impl std::error::Error for NoSocket {}

/// One blocking connect bounded by SO_SNDTIMEO. A signal restarts the wait (the kernel keeps the
/// connection attempt); the loop stops at the deadline.
fn connect(addr: &SocketAddr, timeout: Duration) -> Result<TcpStream, Error> {
    let deadline = Instant::now() + timeout;
    let (storage, length) = socket_address(addr);
    let family = libc::c_int::from(storage.ss_family);
    // SAFETY: plain socket(2); the result is checked.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::Other(Box::new(NoSocket(io::Error::last_os_error()))));
    }
    // SAFETY: fd is a fresh socket that nothing else owns; OwnedFd closes it on every error path.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_timeout(fd, libc::SO_SNDTIMEO, Some(timeout))?;
    loop {
        // SAFETY: storage holds a sockaddr of `length` bytes for this family.
        let rc = unsafe { libc::connect(fd, (&raw const storage).cast(), length) };
        if rc == 0 {
            return Ok(TcpStream::from(owned));
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EISCONN) => return Ok(TcpStream::from(owned)),
            Some(libc::EINTR) if Instant::now() < deadline => continue,
            // SO_SNDTIMEO expired (EINPROGRESS; EALREADY when a restarted wait expired).
            Some(libc::EINPROGRESS | libc::EALREADY | libc::EAGAIN | libc::EINTR) => {
                return Err(Error::Timeout(Timeout::Connect));
            }
            _ => return Err(error.into()),
        }
    }
}

fn socket_address(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let length = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, length as libc::socklen_t)
}

/// setsockopt SO_SNDTIMEO / SO_RCVTIMEO (None: wait forever, never used here but total).
fn set_timeout(fd: libc::c_int, option: libc::c_int, timeout: Option<Duration>) -> io::Result<()> {
    let value = match timeout {
        // A zero timeval would mean "forever": keep at least 1 µs.
        Some(d) => libc::timeval {
            tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_usec: libc::suseconds_t::from(d.subsec_micros()).max(i64::from(d.as_secs() == 0)),
        },
        None => libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
    };
    // SAFETY: value is a timeval of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&raw const value).cast(),
            mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub struct SocketTransport {
    stream: TcpStream,
    buffers: SocketBuffers,
    reusable: bool,
    send_timeout: Duration,
    /// SO_SNDTIMEO as set for connect: it also bounds each send.
    base_send_timeout: Duration,
    /// What is set on the socket now, to avoid setting it again.
    socket_send_timeout: Duration,
    socket_receive_timeout: Option<Duration>,
}

impl fmt::Debug for SocketTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketTransport")
            .field("fd", &self.stream.as_raw_fd())
            .finish()
    }
}

/// Whether the socket's timeout must change to honour `wanted`: it would wait clearly longer (the
/// bound) or clearly shorter (a premature timeout) than the remaining budget.
fn needs_update(current: Option<Duration>, wanted: Duration) -> bool {
    match current {
        None => true,
        Some(current) => current > wanted + SLACK || current + SLACK < wanted,
    }
}

impl SocketTransport {
    /// Sends what ureq has written so far (header and body together), within `send_timeout`.
    fn flush(&mut self) -> Result<(), Error> {
        if self.buffers.pending == 0 {
            return Ok(());
        }
        let deadline = Instant::now() + self.send_timeout;
        let mut sent = 0;
        while sent < self.buffers.pending {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout(Timeout::SendBody));
            }
            let wanted = left.min(self.base_send_timeout);
            if needs_update(Some(self.socket_send_timeout), wanted) {
                set_timeout(self.stream.as_raw_fd(), libc::SO_SNDTIMEO, Some(wanted))?;
                self.socket_send_timeout = wanted;
            }
            let chunk = self
                .buffers
                .output
                .get(sent..self.buffers.pending)
                .unwrap_or_default();
            // std's TcpStream sends with MSG_NOSIGNAL: a closed peer is EPIPE, not SIGPIPE.
            match (&self.stream).write(chunk) {
                Ok(0) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(Error::Timeout(Timeout::SendBody));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.buffers.pending = 0;
        Ok(())
    }
}

impl Transport for SocketTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, _timeout: NextTimeout) -> Result<(), Error> {
        self.buffers.pending = (self.buffers.pending + amount).min(self.buffers.output.len());
        // Keep room for ureq's next write; the rest waits for the answer (one send in the common case).
        if self.buffers.output.len() - self.buffers.pending < self.buffers.output.len() / 2 {
            self.flush()?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush()?;
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        let budget = timeout.not_zero().map(|d| *d);
        let started = Instant::now();
        loop {
            if let Some(budget) = budget {
                let left = budget.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(Error::Timeout(timeout.reason));
                }
                if needs_update(self.socket_receive_timeout, left) {
                    self.stream.set_read_timeout(Some(left))?;
                    self.socket_receive_timeout = Some(left);
                }
            }
            let input = self.buffers.input_append_buf();
            let room = input.len();
            if room == 0 {
                // Full at its limit and ureq could use none of it (a response header longer than
                // it accepts): reading more cannot help, and a read of 0 bytes would look like the
                // server hanging up, which follows fail-open. This is bad HTTP: deny.
                let limit = self.buffers.input_limit;
                return Err(Error::LargeResponseHeader(limit, limit));
            }
            match (&self.stream).read(input) {
                Ok(amount) => {
                    self.buffers.input_appended(amount);
                    if amount == room {
                        // The answer may be bigger than the buffer: read more at a time.
                        self.buffers.grow_input();
                    }
                    return Ok(amount > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut => {
                    return Err(Error::Timeout(timeout.reason));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_open(&mut self) -> bool {
        if !self.reusable {
            return false;
        }
        // Open and idle: nothing to read yet (EAGAIN). EOF, an error or stray bytes: not reusable.
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        let rc = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&raw mut byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }
}

/// ureq's buffers: the output holds `pending` unsent bytes followed by the space ureq writes
/// into; the input is a consume buffer (`start..end` unconsumed).
pub struct SocketBuffers {
    input: Vec<u8>,
    input_limit: usize,
    start: usize,
    end: usize,
    /// Whether ureq consumed input last time; if not, it needs more bytes before it can go on.
    progress: bool,
    output: Vec<u8>,
    pending: usize,
}

impl SocketBuffers {
    pub fn new(input_bytes: usize, input_limit: usize, output_bytes: usize) -> Self {
        SocketBuffers {
            input: vec![0; input_bytes],
            input_limit,
            start: 0,
            end: 0,
            progress: false,
            output: vec![0; output_bytes.max(1)],
            pending: 0,
        }
    }

    /// Doubles the input buffer, up to its limit.
    fn grow_input(&mut self) {
        let size = (self.input.len() * 2).min(self.input_limit).max(self.input.len());
        self.input.resize(size, 0);
    }

    /// Moves unconsumed input to the front when that frees space (as ureq's own buffer does).
    fn shift(&mut self) {
        if self.start == 0 {
            return;
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end > self.input.len() / 2 {
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }
}

impl Buffers for SocketBuffers {
    fn output(&mut self) -> &mut [u8] {
        self.output.get_mut(self.pending..).unwrap_or_default()
    }

    fn input(&self) -> &[u8] {
        self.input.get(self.start..self.end).unwrap_or_default()
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.shift();
        if self.end == self.input.len() {
            // Full of unconsumed input (a header longer than the buffer so far).
            self.grow_input();
        }
        self.input.get_mut(self.end..).unwrap_or_default()
    }

    fn input_appended(&mut self, amount: usize) {
        self.end = (self.end + amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.start = (self.start + amount).min(self.end);
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        // The temporary space is only used for chunked request bodies; ours have a length.
        self.shift();
        let tmp = self.input.get_mut(self.end..).unwrap_or_default();
        let output = self.output.get_mut(self.pending..).unwrap_or_default();
        (tmp, output)
    }

    fn can_use_input(&self) -> bool {
        self.start < self.end && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_collects_header_and_body_before_sending() {
        let mut buffers = SocketBuffers::new(8, 8, 64);
        buffers
            .output()
            .get_mut(..10)
            .unwrap_or_default()
            .copy_from_slice(b"POST / 1.1");
        buffers.pending += 10;
        assert_eq!(buffers.output().len(), 54);
        buffers
            .output()
            .get_mut(..2)
            .unwrap_or_default()
            .copy_from_slice(b"{}");
        buffers.pending += 2;
        assert_eq!(buffers.output.get(..12), Some(&b"POST / 1.1{}"[..]));
    }

    #[test]
    fn input_is_consumed_and_shifted() {
        let mut buffers = SocketBuffers::new(8, 8, 64);
        buffers
            .input_append_buf()
            .get_mut(..6)
            .unwrap_or_default()
            .copy_from_slice(b"abcdef");
        buffers.input_appended(6);
        assert!(
            !buffers.can_use_input(),
            "no progress yet: ureq needs more bytes first"
        );
        buffers.input_consume(5);
        assert!(buffers.can_use_input());
        assert_eq!(buffers.input(), b"f");
        // More than half filled: the unconsumed byte moves to the front.
        assert_eq!(buffers.input_append_buf().len(), 7);
        assert_eq!(buffers.input(), b"f");
        buffers.input_consume(1);
        assert_eq!(buffers.input(), b"");
        assert!(!buffers.can_use_input());
        assert_eq!(buffers.input_append_buf().len(), 8);
    }

    #[test]
    fn consume_and_append_never_go_past_the_buffer() {
        let mut buffers = SocketBuffers::new(4, 4, 64);
        buffers.input_appended(100);
        assert_eq!(buffers.input().len(), 4);
        buffers.input_consume(100);
        assert_eq!(buffers.input(), b"");
    }

    #[test]
    fn a_timeout_changes_only_when_clearly_different() {
        let ms = Duration::from_millis;
        assert!(!needs_update(Some(ms(1300)), ms(1299)));
        assert!(needs_update(Some(ms(1300)), ms(250)));
        assert!(needs_update(Some(ms(250)), ms(1300)));
        assert!(needs_update(None, ms(1)));
    }

    #[test]
    fn socket_addresses_are_encoded_in_network_order() {
        let (storage, length) = socket_address(&SocketAddr::from(([127, 0, 0, 1], 9090)));
        assert_eq!(length as usize, mem::size_of::<libc::sockaddr_in>());
        // SAFETY: socket_address wrote a sockaddr_in for an IPv4 address.
        let sin = unsafe { (&raw const storage).cast::<libc::sockaddr_in>().read() };
        assert_eq!(sin.sin_port, 9090u16.to_be());
        assert_eq!(sin.sin_addr.s_addr.to_ne_bytes(), [127, 0, 0, 1]);
        let (storage, length) = socket_address(&SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 80)));
        assert_eq!(length as usize, mem::size_of::<libc::sockaddr_in6>());
        assert_eq!(libc::c_int::from(storage.ss_family), libc::AF_INET6);
    }
}

#[cfg(test)]
mod growth_tests {
    use super::*;

    #[test]
    fn the_input_grows_to_its_limit_when_full() {
        let mut buffers = SocketBuffers::new(4, 10, 64);
        buffers.input_append_buf().copy_from_slice(b"abcd");
        buffers.input_appended(4);
        // Nothing consumed yet (a header still incomplete): the buffer grows instead of reading 0 bytes.
        assert_eq!(buffers.input_append_buf().len(), 4);
        buffers.input_appended(4);
        assert_eq!(buffers.input_append_buf().len(), 2);
        buffers.input_appended(2);
        assert_eq!(buffers.input_append_buf().len(), 0, "never beyond the limit");
        assert_eq!(buffers.input().len(), 10);
    }
}
