//! Atlassian, the upstream: the email sources and how they are called.
//!
//! - [`admin`]: the organization admin API — managed accounts, whatever their visibility.
//! - [`confluence`]: the Confluence user API — emails the users let others see.
//! - [`retry`]: the written retry policy every call goes through.
//! - [`cost`]: the most calls (and Atlassian rate-limit points) one lookup can cost.
//!
//! An email is only ever attached to the id Atlassian returned it for: sources match by
//! `accountId`, never by position, and drop ids they were not asked for and empty emails,
//! row by row as a page is read (`page.rs`): a page costs memory for the chunk, not its rows.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use crate::platform::{OutboundResponse, Runtime, Transport, TransportError};

pub mod admin;
pub mod confluence;
pub mod cost;
mod page;
pub mod retry;

pub use admin::AdminSource;
pub use confluence::{ConfluenceAuth, ConfluenceSource};
pub use page::Kept;

/// Which email source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// The organization admin API.
    Admin,
    /// The Confluence user API.
    Confluence,
}

impl SourceKind {
    /// The name used in `email_sources` and logs.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Admin => "admin",
            SourceKind::Confluence => "confluence",
        }
    }

    /// A phrase for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            SourceKind::Admin => "Atlassian organization admin API",
            SourceKind::Confluence => "Confluence user API",
        }
    }

    /// The variables holding this source's credentials, for error messages.
    pub fn credential_variables(self) -> &'static str {
        match self {
            SourceKind::Admin => "atlassian_org_id and atlassian_admin_api_key",
            SourceKind::Confluence => {
                "confluence_email and confluence_api_token, or confluence_bearer_token and confluence_cloud_id"
            }
        }
    }
}

/// A configured email source.
#[derive(Debug, Clone)]
pub enum Source {
    /// The organization admin API.
    Admin(AdminSource),
    /// The Confluence user API.
    Confluence(ConfluenceSource),
}

impl Source {
    /// Which source this is.
    pub fn kind(&self) -> SourceKind {
        match self {
            Source::Admin(_) => SourceKind::Admin,
            Source::Confluence(_) => SourceKind::Confluence,
        }
    }

    /// The most ids one call (one chunk) carries: the published maximum of its API.
    pub fn batch_size(&self) -> usize {
        match self {
            Source::Admin(_) => admin::MAX_ACCOUNT_IDS,
            Source::Confluence(_) => confluence::MAX_ACCOUNT_IDS,
        }
    }

    /// Looks up one chunk: `(accountId, email)` pairs for ids of `chunk` that have a non-empty
    /// email, each id at most once.
    pub async fn lookup(
        &self,
        ctx: &CallContext<'_>,
        chunk: &[String],
    ) -> Result<Vec<(String, String)>, UpstreamError> {
        match self {
            Source::Admin(s) => s.lookup(ctx, chunk).await,
            Source::Confluence(s) => s.lookup(ctx, chunk).await,
        }
    }
}

impl Source {
    /// The admin page's live check: one minimal call, one attempt, the raw answer (see
    /// [`AdminSource::check`] and [`ConfluenceSource::check`]).
    pub async fn check(&self, ctx: &CallContext<'_>) -> Result<OutboundResponse, TransportError> {
        match self {
            Source::Admin(s) => s.check(ctx).await,
            Source::Confluence(s) => s.check(ctx).await,
        }
    }
}

/// Why a lookup failed. Every variant means: some ids' result is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Atlassian refused our credentials (401, 403, or 404 — which Atlassian uses for "no
    /// permission" on these endpoints). Not retried.
    #[error("credentials refused")]
    AuthFailed {
        /// The source.
        origin: SourceKind,
    },
    /// Atlassian kept asking us to wait, or asked us to wait past the deadline.
    #[error("rate limited")]
    RateLimited {
        /// How long Atlassian asked us to wait.
        retry_after: Duration,
    },
    /// The request deadline passed.
    #[error("deadline passed")]
    Timeout,
    /// Atlassian failed, after retries where the policy retries.
    #[error("upstream failed")]
    Failed {
        /// The source.
        origin: SourceKind,
        /// A fixed description, completing "The <source> ...".
        detail: &'static str,
    },
}

/// Counters and rate-limit signals for the request log.
#[derive(Debug, Default)]
pub struct Stats {
    /// Upstream calls made.
    pub calls: Cell<u32>,
    /// Of those, retries.
    pub retries: Cell<u32>,
    /// The `RateLimit-Reason` of the latest throttled answer (429/503) that carried one, as
    /// [`crate::log::rate_limit_reason`] makes it safe to log.
    pub rate_limit_reason: RefCell<Option<String>>,
    /// Whether any answer said `X-RateLimit-NearLimit: true` (under 20% of a quota left).
    pub near_limit: Cell<bool>,
}

/// What every upstream call needs: the platform, the request deadline, the counters.
pub struct CallContext<'a> {
    /// Sends HTTP.
    pub transport: &'a dyn Transport,
    /// Time and randomness.
    pub runtime: &'a dyn Runtime,
    /// The request deadline, on the runtime's monotonic clock.
    pub deadline: Duration,
    /// Counters.
    pub stats: &'a Stats,
}

impl CallContext<'_> {
    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_sub(self.runtime.now())
    }
}

/// Common headers of every upstream call.
pub(crate) fn json_headers(authorization: String) -> Vec<(String, String)> {
    vec![
        ("authorization".into(), authorization),
        ("content-type".into(), "application/json".into()),
        ("accept".into(), "application/json".into()),
        (
            "user-agent".into(),
            format!("identity-accessor/{}", crate::VERSION),
        ),
    ]
}
