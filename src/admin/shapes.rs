//! The JSON shapes of `GET /admin/status`: names and fixed text only, never a value.

use serde::Serialize;

/// The answer of `GET /admin/status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The component version.
    pub version: &'static str,
    /// Whether the configuration is complete and every live check is `ok`.
    pub ok: bool,
    /// Whether the configuration loads (else `missing`/`invalid` say why and no source is
    /// checked).
    pub configured: bool,
    /// The active sources, in the order they are asked.
    pub sources: Vec<&'static str>,
    /// How that order was decided: `auto` (the cheapest source first) or `explicit` (as
    /// `email_sources` names them); `null` when the configuration does not load.
    pub order: Option<&'static str>,
    /// Why the sources run in that order, one sentence; `null` when not configured.
    pub order_reason: Option<&'static str>,
    /// Every variable the component reads, in the README's order.
    pub variables: Vec<VariableState>,
    /// Variables that must be set and are not.
    pub missing: Vec<&'static str>,
    /// Variables whose value is unusable, with why.
    pub invalid: Vec<Invalid>,
    /// The accepted caller keys.
    pub keys: Keys,
    /// One live check per active source, in source order.
    pub checks: Vec<Check>,
}

/// Whether a variable is set; never its value.
#[derive(Debug, Serialize)]
pub struct VariableState {
    /// The variable's name.
    pub name: &'static str,
    /// Whether it holds a non-blank value.
    pub set: bool,
    /// Whether its value is a secret.
    pub secret: bool,
}

/// An invalid variable and the rule it breaks.
#[derive(Debug, Serialize)]
pub struct Invalid {
    /// The variable's name.
    pub name: &'static str,
    /// A fixed reason, completing "`<name>` ...".
    pub reason: &'static str,
}

/// The accepted keys: how many, and which one the caller presented.
#[derive(Debug, Serialize)]
pub struct Keys {
    /// How many keys `api_key` holds.
    pub count: usize,
    /// The presented key's 1-based position in `api_key`.
    pub position: usize,
    /// The first 8 hex digits of the presented key's SHA-256 (never another key's).
    pub fingerprint: String,
}

/// What a live check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// 2xx: the credentials work.
    Ok,
    /// 401, 403 or 404: Atlassian refused the credentials (or the org/site id).
    CredentialsRefused,
    /// 429: Atlassian is rate limiting these credentials.
    RateLimited,
    /// No usable answer: a transport failure, a 5xx or an unexpected status.
    Unreachable,
}

/// One source's live check.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The source's name.
    pub source: &'static str,
    /// The endpoint called, as a fixed template (no ids, no values).
    pub endpoint: &'static str,
    /// The outcome.
    pub status: CheckStatus,
    /// Atlassian's HTTP status, when it answered.
    pub upstream_status: Option<u16>,
    /// For `unreachable`: why, as a fixed code.
    pub reason: Option<&'static str>,
    /// What happened and what to fix, for a person.
    pub message: String,
    /// The variables to look at.
    pub variables: Vec<&'static str>,
    /// How long the check took.
    pub duration_ms: u64,
}
