//! End-to-end tests: the compiled `.wasm`, served by `devhost` (wasmtime, as Spin embeds it),
//! calling `fake-atlassian` over real sockets on 127.0.0.1.
//!
//! The component is built once per run for `wasm32-wasip2` (release, into `target/e2e-wasm`)
//! unless `IDENTITY_ACCESSOR_WASM` names a prebuilt one. Every test starts its own fake Atlassian
//! and its own server from the one compiled component, and every test ends by scanning the
//! component's captured logs for keys, tokens, emails and account ids.

mod admin;
mod audit;
mod browser;
mod contract;
mod deploy;
mod fault_matrix;
mod faults;
mod hostile;
mod manifest;
mod openapi;
mod pooling;
mod published;
mod release;
mod security;
mod sources;
mod support;
