#![deny(clippy::all)]
use napi_derive::napi;

/// Version of the addon (the package version).
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
