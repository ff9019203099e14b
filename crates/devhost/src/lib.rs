//! devhost: a small Spin-like dev and test host for this project's Spin component.
//!
//! **A dev and test host, not a production runtime; production is Spin.** It runs a
//! `wasm32-wasip2` component that exports `wasi:http/incoming-handler@0.2.0` on wasmtime,
//! providing what Spin provides where it matters to this project:
//!
//! - the manifest (`spin.toml`, version 2): `[variables]`, `[[trigger.http]]`,
//!   `[component.NAME]` with `source`, `allowed_outbound_hosts`, `variables` and `build`;
//! - variables in Spin's order: `--variable` (also `NAME=@file`) > `SPIN_VARIABLE_<NAME>` >
//!   manifest default; a component `get`s only the names it lists;
//! - routing (`/...` wildcard prefix, otherwise exact; unmatched is a 404) and the `spin-*`
//!   request headers;
//! - `allowed_outbound_hosts`, resolved from templates per server and enforced on every
//!   outgoing request (`ErrorCode::HttpRequestDenied` inside the guest);
//! - outbound connections kept alive and pooled per host, as Spin's default
//!   `[outbound_http] connection_pooling = true`;
//! - a fresh store and instance per request from a component compiled once and
//!   pre-instantiated, with the pooling allocator;
//! - Spin's instance memory cap, `--max-instance-memory` / `SPIN_MAX_INSTANCE_MEMORY` (bytes):
//!   a linear memory grows to at most that, past it `memory.grow` returns -1 in the guest;
//! - component stdout/stderr appended to `<log_dir>/<component>_stdout.txt` / `_stderr.txt`.
//!
//! One [`App`] (one engine, one compiled component) can serve many [`Server`]s at once, each
//! with its own variables, so tests can run in parallel.
//!
//! [`real_spin`] starts real Spin (`spin up`) on the same manifest, for the end-to-end suite
//! and the benchmarks to run the component on the runtime users deploy as well.

#![deny(missing_docs)]

pub mod allowed_hosts;
mod build_cmd;
pub mod expressions;
mod host;
pub mod manifest;
mod outbound;
pub mod real_spin;
pub mod routes;
mod toolchain;

pub use build_cmd::build;
pub use host::{App, Server, UpOptions};
pub use toolchain::ensure_target;
