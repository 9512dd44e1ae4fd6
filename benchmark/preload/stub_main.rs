//! The tests' stub policy server as a program, for benchmark/preload.sh (built with plain rustc:
//! `rustc -O --edition 2021 benchmark/preload/stub_main.rs`). Denies commands containing
//! `rampart-deny-me`, allows the rest; prints its URL on the first line of stdout, then serves
//! until killed.

#[allow(dead_code)]
#[path = "../../crates/preload/tests/common/stub_server.rs"]
mod stub_server;

use std::io::Write;

fn main() {
    let server = stub_server::StubServer::start(stub_server::Behavior::policy());
    println!("{}", server.url());
    std::io::stdout().flush().unwrap();
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
