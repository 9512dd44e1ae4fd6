//! Shared helpers for the librampart.so integration tests: find the built library, compile the
//! C probe, run real programs under LD_PRELOAD with a clean environment pointed at a stub server,
//! and check what happened (side effects, stderr lines, requests the server saw).
#![allow(dead_code)]

pub mod json;
pub mod stub_server;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub use json::Json;
pub use stub_server::{Behavior, DENY_MARKER, DENY_MESSAGE, Request, StubServer};

/// The PATH every preloaded program gets. /bin is a symlink to /usr/bin on current distributions,
/// so listing both would make PATH-searching callers try (and report) each program twice.
pub const TEST_PATH: &str = "/usr/bin";

/// A row of exports.txt.
pub struct Row {
    pub symbol: &'static str,
    /// exec, spawn, shell, variadic or data.
    pub kind: &'static str,
    /// False for an optional row this build's libc lacks (its hook is not built).
    pub built: bool,
    /// The row's comment (for an optional row: the libc version that added it).
    pub note: &'static str,
}

macro_rules! entry_point_table {
    ($($symbol:ident $kind:ident $built:tt $note:literal,)*) => {
        /// Every row of exports.txt, in file order.
        pub const ROWS: &[Row] = &[$(Row {
            symbol: stringify!($symbol),
            kind: stringify!($kind),
            built: $built,
            note: $note,
        }),*];
    };
}

// build.rs writes `entry_point_table! { symbol kind built "note", ... }` from exports.txt.
include!(concat!(env!("OUT_DIR"), "/entry_points.rs"));

/// The probe arguments that make entry point `how` run `/usr/bin/<program> <args>`: a command
/// line for the shell kind; a bare name for the calls named with a `p`, which search PATH
/// (execvp, execlp, posix_spawnp), as callers usually pass one; else the path.
pub fn probe_args(how: &str, kind: &str, program: &str, args: &[&str]) -> Vec<String> {
    if kind == "shell" {
        let quoted: String = args.iter().map(|arg| format!(" '{arg}'")).collect();
        return vec![how.into(), format!("/usr/bin/{program}{quoted}")];
    }
    let path = if how.ends_with('p') {
        program.to_string()
    } else {
        format!("/usr/bin/{program}")
    };
    [how, &path, program]
        .into_iter()
        .chain(args.iter().copied())
        .map(String::from)
        .collect()
}

/// librampart.so of the profile the tests were built with (target/<profile>/librampart.so, next
/// to the deps/ directory holding this test binary). RAMPART_TEST_LIBRARY overrides it.
pub fn library_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("RAMPART_TEST_LIBRARY") {
            return PathBuf::from(path);
        }
        // `cargo test` does not build a cdylib-only crate for its integration tests: build the
        // library here, so the tests never run against a stale or missing librampart.so.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let release = !cfg!(debug_assertions);
        let mut build = std::process::Command::new(cargo);
        build
            .args(["build", "-p", "rampart-preload"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p rampart-preload");
        assert!(status.success(), "cargo build -p rampart-preload failed");
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("test binary directory");
        let profile = deps.parent().expect("profile directory");
        for candidate in [profile.join("librampart.so"), deps.join("librampart.so")] {
            if candidate.is_file() {
                return candidate;
            }
        }
        panic!(
            "librampart.so not found next to {} (build it with `cargo build --release -p rampart-preload`)",
            deps.display()
        );
    })
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let path = std::env::temp_dir().join(format!(
            "rampart-preload-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory (not created).
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Where the C helpers are compiled: target/<profile>/rampart-test-c/<test binary>/, so nothing
/// is left in /tmp and two test binaries never write the same file.
fn build_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let name = exe.file_name().unwrap().to_owned();
        let dir = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("rampart-test-c")
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

fn c_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(name)
}

/// Runs gcc once per test binary for `output` (a file name in the build dir) with `args`.
fn gcc_once(output: &str, args: &[&OsStr]) -> PathBuf {
    static BUILT: OnceLock<std::sync::Mutex<Vec<PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap();
    let path = build_dir().join(output);
    if built.contains(&path) {
        return path;
    }
    let result = Command::new("gcc")
        .args(["-O2", "-Wall", "-pthread", "-o"])
        .arg(&path)
        .args(args)
        .output()
        .expect("gcc must be installed to build the C probes");
    assert!(
        result.status.success(),
        "gcc failed for {output}:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    built.push(path.clone());
    path
}

/// Compiles tests/c/<name>.c into a program.
pub fn c_program(name: &str) -> PathBuf {
    gcc_once(name, &[c_source(&format!("{name}.c")).as_os_str()])
}

/// early_main linked against libearly.so, whose constructor starts a program (see early_lib.c).
pub fn early_program() -> PathBuf {
    let library = gcc_once(
        "libearly.so",
        &[
            OsStr::new("-shared"),
            OsStr::new("-fPIC"),
            c_source("early_lib.c").as_os_str(),
        ],
    );
    let rpath = format!("-Wl,-rpath,{}", build_dir().display());
    gcc_once(
        "early_main",
        &[
            c_source("early_main.c").as_os_str(),
            library.as_os_str(),
            OsStr::new(&rpath),
        ],
    )
}

/// A preload library that does nothing (an empty C file).
pub fn do_nothing_library() -> PathBuf {
    gcc_once(
        "do-nothing.so",
        &[
            OsStr::new("-shared"),
            OsStr::new("-fPIC"),
            OsStr::new("-x"),
            OsStr::new("c"),
            OsStr::new("/dev/null"),
        ],
    )
}

/// The C probe (tests/c/probe.c).
pub fn probe() -> PathBuf {
    c_program("probe")
}

/// Finds an executable on the test runner's own PATH, resolving shims to the real binary for
/// Python (pyenv shims are shell scripts that would themselves exec under the library).
pub fn tool(name: &str) -> PathBuf {
    static FOUND: OnceLock<std::sync::Mutex<Vec<(String, PathBuf)>>> = OnceLock::new();
    let found = FOUND.get_or_init(Default::default);
    let mut found = found.lock().unwrap();
    if let Some((_, path)) = found.iter().find(|(n, _)| n == name) {
        return path.clone();
    }
    let path = if name == "python3" {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be installed for these tests");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    } else {
        let search = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&search)
            .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| panic!("{name} must be installed for these tests"))
    };
    found.push((name.to_string(), path.clone()));
    path
}

/// What a finished program did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code, or 128+signal when killed by a signal (as a shell reports it).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// stderr lines that the library's denial message starts.
    pub fn blocked_lines(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|line| line.starts_with("rampart: blocked"))
            .map(String::from)
            .collect()
    }

    /// The library's debug lines (`rampart_preload: ...`).
    pub fn debug_lines(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|line| line.starts_with("rampart_preload: "))
            .map(String::from)
            .collect()
    }

    /// A printable summary for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.elapsed,
            truncate(&self.stdout()),
            truncate(&self.stderr())
        )
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= 4000 {
        return text.to_string();
    }
    let mut end = 4000;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// A program to run with a clean environment (PATH=/usr/bin, HOME=a temp dir, LC_ALL=C) plus
/// what the test adds; `preloaded()` adds LD_PRELOAD and RAMPART_URL.
pub struct Run {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Vec<u8>,
    timeout: Duration,
    cwd: Option<PathBuf>,
    home: TempDir,
}

impl Run {
    /// Runs `program` WITHOUT the library (baselines, helpers).
    pub fn plain(program: impl AsRef<OsStr>) -> Run {
        let home = TempDir::new("home");
        let env = vec![
            (OsString::from("PATH"), OsString::from(TEST_PATH)),
            (OsString::from("HOME"), home.path().as_os_str().to_owned()),
            (OsString::from("LC_ALL"), OsString::from("C")),
        ];
        Run {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env,
            stdin: Vec::new(),
            timeout: Duration::from_secs(60),
            cwd: None,
            home,
        }
    }

    /// Runs `program` with librampart.so preloaded, asking the server at `url`.
    pub fn preloaded(program: impl AsRef<OsStr>, url: &str) -> Run {
        Run::plain(program)
            .env("LD_PRELOAD", library_path())
            .env("RAMPART_URL", url)
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets (or replaces) one environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Run {
        let key = key.as_ref().to_owned();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.as_ref().to_owned()));
        self
    }

    pub fn env_remove(mut self, key: &str) -> Run {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Run {
        self.stdin = input.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Run {
        self.timeout = timeout;
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Run {
        self.cwd = Some(dir.to_owned());
        self
    }

    /// Runs to completion. A program still running at the timeout is killed with its whole
    /// process group and the test fails: a hang is a bug.
    pub fn run(self) -> Outcome {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {:?}: {err}", self.program));
        let mut stdin = child.stdin.take().unwrap();
        let input = self.stdin.clone();
        let feeder = thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let err_reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let pgid = child.id() as i32;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > self.timeout {
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
                let _ = child.wait();
                let stdout = out_reader.join().unwrap_or_default();
                let stderr = err_reader.join().unwrap_or_default();
                panic!(
                    "{:?} {:?} hung: killed after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.program,
                    self.args,
                    self.timeout,
                    truncate(&String::from_utf8_lossy(&stdout)),
                    truncate(&String::from_utf8_lossy(&stderr))
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let elapsed = started.elapsed();
        // Leftover descendants (a test failure) must not keep the pipes open forever.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = feeder.join();
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        drop(self.home);
        Outcome {
            code,
            stdout,
            stderr,
            elapsed,
        }
    }
}

/// The `command` of a preflight request body, after checking the body is the contract's JSON:
/// {"agent":A,"session":S,"params":{"command":C},"enforce":true}.
pub fn command_of(request: &Request) -> String {
    let body = request.body_text();
    let json = json::parse(&body).unwrap_or_else(|err| panic!("request body is not JSON ({err}): {body}"));
    json.get("params")
        .and_then(|params| params.get("command"))
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("request body has no params.command string: {body}"))
        .to_string()
}

/// The commands of every preflight request the server received.
pub fn commands(server: &StubServer) -> Vec<String> {
    server.requests().iter().map(command_of).collect()
}

/// How many requests asked about a command containing `needle`.
pub fn asked_about(server: &StubServer, needle: &str) -> usize {
    commands(server)
        .iter()
        .filter(|command| command.contains(needle))
        .count()
}

/// The exact stderr line the library prints for the stub's denials.
pub fn blocked_line() -> String {
    format!("rampart: blocked — {DENY_MESSAGE}")
}

/// Asserts the outcome carries exactly one denial line, the stub's, and no library text on stdout.
pub fn assert_blocked_once(outcome: &Outcome) {
    assert_eq!(
        outcome.blocked_lines(),
        vec![blocked_line()],
        "expected exactly one `{}` line on stderr\n{}",
        blocked_line(),
        outcome.describe()
    );
    assert!(
        !outcome.stdout().contains("rampart"),
        "the library wrote to stdout\n{}",
        outcome.describe()
    );
}

/// Asserts a denied attempt: marker file absent, one denial line, and the server was asked.
pub fn assert_denied(outcome: &Outcome, marker: &Path, server: &StubServer) {
    assert!(
        !marker.exists(),
        "denied command ran anyway: {} exists\n{}",
        marker.display(),
        outcome.describe()
    );
    assert_blocked_once(outcome);
    let name = marker.file_name().unwrap().to_string_lossy();
    assert!(
        asked_about(server, &name) >= 1,
        "the server was never asked about {name}; it saw {:?}",
        commands(server)
    );
}

/// Asserts an allowed attempt: marker file created, no denial line, and the server was asked.
pub fn assert_allowed(outcome: &Outcome, marker: &Path, server: &StubServer) {
    assert!(
        marker.exists(),
        "allowed command did not run: {} missing\n{}",
        marker.display(),
        outcome.describe()
    );
    assert!(
        outcome.blocked_lines().is_empty(),
        "allowed command was reported blocked\n{}",
        outcome.describe()
    );
    let name = marker.file_name().unwrap().to_string_lossy();
    assert!(
        asked_about(server, &name) >= 1,
        "the server was never asked about {name}; it saw {:?}",
        commands(server)
    );
}

/// A marker path whose name makes the stub deny any command that mentions it.
pub fn deny_marker(dir: &TempDir, label: &str) -> PathBuf {
    dir.join(&format!("{DENY_MARKER}-{label}"))
}

/// A marker path the stub allows.
pub fn allow_marker(dir: &TempDir, label: &str) -> PathBuf {
    dir.join(&format!("allowed-{label}"))
}

/// Splits a POSIX-shell-quoted command back into words the way a real POSIX shell (dash) does.
pub fn shell_words(command: &str) -> Vec<Vec<u8>> {
    let out = Command::new(tool("dash"))
        .args([
            "-c",
            "eval \"set -- $1\" || exit 9; for a in \"$@\"; do printf '%s\\0' \"$a\"; done",
            "sh",
        ])
        .arg(command)
        .env_clear()
        .env("PATH", TEST_PATH)
        .output()
        .expect("dash");
    assert!(
        out.status.success(),
        "dash cannot parse the command {command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut words: Vec<Vec<u8>> = out.stdout.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    words.pop(); // after the last NUL
    words
}

pub fn os(bytes: &[u8]) -> OsString {
    OsStr::from_bytes(bytes).to_owned()
}
