//! End-to-end tests: the compiled `.wasm`, served by `devhost` (wasmtime, as Spin embeds it) or
//! by real Spin (`SPIN_BIN=/path/to/spin`, see `runtime.rs`), calling `fake-atlassian` over real
//! sockets on 127.0.0.1.
//!
//! On devhost the component is built once per run for `wasm32-wasip2` (release, into
//! `target/e2e-wasm`) unless `IDENTITY_ACCESSOR_WASM` names a prebuilt one; on Spin it is
//! `spin.toml`'s own `source`. Every test starts its own fake Atlassian
//! and its own server from the one compiled component, and every test ends by scanning the
//! component's captured logs for keys, tokens, emails and account ids.

mod admin;
mod audit;
mod browser;
mod contract;
mod cost;
mod deploy;
mod fault_matrix;
mod faults;
mod hostile;
mod manifest;
mod memory;
mod openapi;
mod pooling;
mod published;
mod rate_limits;
mod release;
mod runtime;
mod security;
mod sources;
mod support;
mod vault;
