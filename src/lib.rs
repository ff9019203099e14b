//! identity-accessor: the email address behind Confluence Cloud account ids.
//!
//! A connector (an enterprise search or AI indexer) `POST`s `{"accountIds": [...]}` with an
//! `X-Api-Key` header and receives `[{"accountId", "emailAddress"}]`. Emails come from Atlassian
//! on demand — from the Confluence user API (visible emails, 250 ids a call) and the organization
//! admin API (managed accounts, whatever their visibility, 10 ids a call), the cheaper first under
//! `email_sources=auto` — and are never stored or logged.
//!
//! The crate is split the way the house style asks:
//! - the core ([`handler`] and everything below it) has no Spin import, builds natively and is
//!   tested with `cargo test`; it reaches the outside world only through the small traits in
//!   [`platform`];
//! - one file, `entry.rs`, compiled only for WebAssembly, is the Spin edge: it turns the incoming
//!   request into core types, implements the traits over Spin variables and `wasi:http`, and
//!   writes the response.

#![deny(missing_docs)]

pub mod admin;
pub mod auth;
pub mod config;
pub mod error;
pub mod handler;
pub mod log;
pub mod platform;
pub mod request;
pub mod resolve;
pub mod strength;
pub mod upstream;

#[cfg(target_arch = "wasm32")]
mod entry;

/// The component's version, reported in logs and by the admin status.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod doc_names;
#[cfg(test)]
mod layering;
#[cfg(test)]
pub(crate) mod testing;
