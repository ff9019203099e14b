//! A fake Atlassian Cloud on 127.0.0.1 for tests, benchmarks and demos: the organization admin
//! API (managed accounts' emails), the Confluence v2 `users-bulk` API (visible emails, `""` when
//! hidden) and the privacy email API (apps only), as Atlassian publishes them
//! (the Organizations REST API spec, `swagger.v3.json`; the Confluence REST v2 spec,
//! `openapi-v2.v3.json`; developer.atlassian.com's reference and "Rate limiting" pages).
//!
//! It follows the published API specs where the component relies on them (admin search:
//! `accountIds` 1–10, `limit` 1–100, `searchTerm` xor `emails`, only issued cursors, unmanaged
//! accounts without `claimStatus`, the `{"errors": [...]}` body; `users-bulk`: 1–250 string
//! ids), each breach a `400`.
//!
//! It is deterministic (no randomness), records every API request it receives (kind of
//! credential only, never the credential; whether the body came chunked), and can inject faults
//! per endpoint: latency, 429s (with `Retry-After`, with only `X-RateLimit-Reset`, blind, a spent
//! points quota with its `RateLimit-Reason`, or with only the beta `Beta-Retry-After`), 5xx (503
//! included) with `Retry-After`, hangs, malformed or truncated JSON, dropped connections and HTML
//! 400s. Knobs page the answers (the admin search below its `limit`, and `users-bulk` with
//! `_links.next`) and enforce Atlassian's rate limits: a burst limit per endpoint and the points
//! quota of app traffic, with the headers Atlassian documents ([`BurstLimit`], [`PointsQuota`]).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use fake_atlassian::{Credentials, Directory, Endpoint, FakeAtlassian, Fault};
//! let fake = FakeAtlassian::start(
//!     "127.0.0.1:0".parse()?,
//!     Directory::demo(),
//!     Credentials::default(),
//! )
//! .await?;
//! fake.inject(Endpoint::UsersBulk, Fault::RateLimited { retry_after: None }, 1);
//! // ... point the code under test at fake.url() ...
//! assert_eq!(fake.request_count(Endpoint::UsersBulk), 0);
//! fake.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod api;
mod control;
mod directory;
mod endpoint;
mod fault;
mod limits;
mod record;
mod reply;
mod server;
mod state;

pub use directory::{Credentials, Directory, User, Visibility};
pub use endpoint::Endpoint;
pub use fault::{Fault, RetryAfter, OVERSIZED_PADDING};
pub use limits::{points, BurstLimit, PointsQuota, QuotaScope};
pub use record::{AuthKind, RecordedRequest};
pub use server::FakeAtlassian;
