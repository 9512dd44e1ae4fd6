//! A loopback stand-in for `rampart serve`, for the librampart.so tests and benchmark.
//!
//! Std only (no crates), so `benchmark/preload.sh` can build it with plain `rustc` through
//! `benchmark/preload/stub_main.rs`. It listens on 127.0.0.1 (never another address), serves
//! each connection on its own thread with HTTP/1.1 keep-alive, records every request before it
//! answers (so a finished client means a complete record), and answers by a `Behavior`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The command marker the default policy denies: any request body that contains it.
pub const DENY_MARKER: &str = "rampart-deny-me";
/// The `message` of the stub's deny replies; the library must print it verbatim.
pub const DENY_MESSAGE: &str = "Destructive command blocked by the stub policy";

/// One HTTP request as the server received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of a header (case-insensitive name); `None` when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// How the server answers.
#[derive(Clone, Debug)]
pub enum Behavior {
    /// Deny (HTTP 200, `allowed:false`, `DENY_MESSAGE`) when the body contains one of the
    /// markers, allow otherwise, in the shape `rampart serve` answers preflight requests.
    Policy { deny_markers: Vec<String> },
    /// Like `Policy`, but closes each connection right after its reply without announcing it
    /// (no `Connection: close`), as servers do when a keep-alive connection idles out.
    PolicyThenClose { deny_markers: Vec<String> },
    /// The same raw reply to every request, whatever it asks (hostile servers).
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Read and record the request, then keep the connection open and never answer.
    NeverAnswer,
    /// Close each connection right after accepting it, before reading anything.
    CloseImmediately,
}

impl Behavior {
    /// The default policy: deny commands containing `DENY_MARKER`.
    pub fn policy() -> Behavior {
        Behavior::Policy {
            deny_markers: vec![DENY_MARKER.to_string()],
        }
    }

    /// An HTTP 200 reply with this body text.
    pub fn ok_body(body: impl Into<Vec<u8>>) -> Behavior {
        Behavior::Raw {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// A reply with this status and body text.
    pub fn status(status: u16, body: impl Into<Vec<u8>>) -> Behavior {
        Behavior::Raw {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// The JSON `rampart serve` sends for an allowed preflight.
pub fn allow_reply() -> String {
    r#"{"allowed":true,"decision":"allow","message":"allowed by the stub policy","matched_policies":null,"eval_duration_us":1,"enforced":true,"enforcement_requested":true}"#.to_string()
}

/// The JSON `rampart serve` sends for a denied preflight.
pub fn deny_reply() -> String {
    format!(
        r#"{{"allowed":false,"decision":"deny","message":"{DENY_MESSAGE}","matched_policies":["stub-policy"],"eval_duration_us":1,"enforced":true,"enforcement_requested":true,"suggestions":["rampart allow \"x\""]}}"#
    )
}

struct Shared {
    behavior: Behavior,
    requests: Mutex<Vec<Request>>,
    connections: AtomicUsize,
    stopping: AtomicBool,
}

/// A running stub server; stops (and releases hanging connections) when dropped.
pub struct StubServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl StubServer {
    /// Starts a server on 127.0.0.1 with a free port.
    pub fn start(behavior: Behavior) -> StubServer {
        StubServer::start_on(0, behavior).expect("stub server: cannot listen on 127.0.0.1")
    }

    /// Starts a server on 127.0.0.1:`port` (0 = any free port).
    pub fn start_on(port: u16, behavior: Behavior) -> std::io::Result<StubServer> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            behavior,
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        });
        let accept_shared = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                accept_shared.connections.fetch_add(1, Ordering::SeqCst);
                let conn_shared = Arc::clone(&accept_shared);
                thread::spawn(move || serve_connection(stream, &conn_shared));
            }
        });
        Ok(StubServer { addr, shared })
    }

    /// `http://127.0.0.1:<port>`, the value for RAMPART_URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.requests.lock().unwrap().len()
    }

    /// How many TCP connections were accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` requests arrived or `timeout` passed; returns the count.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.request_count();
            if count >= n || Instant::now() >= deadline {
                return count;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    if matches!(shared.behavior, Behavior::CloseImmediately) || shared.stopping.load(Ordering::SeqCst) {
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    // A read timeout lets idle keep-alive threads notice that the server stopped.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(writer) => writer,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, shared) {
            Some(request) => request,
            None => return,
        };
        let wants_close = request
            .header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let reply = match &shared.behavior {
            Behavior::Policy { deny_markers } | Behavior::PolicyThenClose { deny_markers } => {
                let body = request.body_text();
                if deny_markers.iter().any(|marker| body.contains(marker.as_str())) {
                    http_reply(200, &[], deny_reply().as_bytes())
                } else {
                    http_reply(200, &[], allow_reply().as_bytes())
                }
            }
            Behavior::Raw {
                status,
                headers,
                body,
            } => http_reply(*status, headers, body),
            Behavior::NeverAnswer => Vec::new(),
            Behavior::CloseImmediately => unreachable!(),
        };
        shared.requests.lock().unwrap().push(request);
        if matches!(shared.behavior, Behavior::NeverAnswer) {
            while !shared.stopping.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        let closes = wants_close || matches!(shared.behavior, Behavior::PolicyThenClose { .. });
        if writer.write_all(&reply).is_err() || closes {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Reads one request; `None` on EOF, error, or a stopped server.
fn read_request(reader: &mut BufReader<TcpStream>, shared: &Shared) -> Option<Request> {
    let request_line = read_line(reader, shared)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, shared)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"));
    if chunked {
        loop {
            let size_line = read_line(reader, shared)?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                read_line(reader, shared)?;
                break;
            }
            let mut chunk = vec![0u8; size];
            read_exact(reader, &mut chunk, shared)?;
            request.body.extend_from_slice(&chunk);
            read_line(reader, shared)?;
        }
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().ok()?;
        let mut body = vec![0u8; length];
        read_exact(reader, &mut body, shared)?;
        request.body = body;
    }
    Some(request)
}

fn is_timeout(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn read_line(reader: &mut BufReader<TcpStream>, shared: &Shared) -> Option<String> {
    let mut line = Vec::new();
    loop {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return None,
            Ok(_) if line.ends_with(b"\n") => break,
            Ok(_) => continue,
            Err(err) if is_timeout(&err) && !shared.stopping.load(Ordering::SeqCst) => continue,
            Err(_) => return None,
        }
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Some(String::from_utf8_lossy(&line).into_owned())
}

fn read_exact(reader: &mut BufReader<TcpStream>, buf: &mut [u8], shared: &Shared) -> Option<()> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return None,
            Ok(n) => filled += n,
            Err(err) if is_timeout(&err) && !shared.stopping.load(Ordering::SeqCst) => continue,
            Err(_) => return None,
        }
    }
    Some(())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn http_reply(status: u16, headers: &[(String, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut reply = head.into_bytes();
    reply.extend_from_slice(body);
    reply
}
