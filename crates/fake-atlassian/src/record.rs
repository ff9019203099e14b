//! What the fake records about each API request, so tests can assert the exact upstream traffic.
//!
//! Every non-control request is recorded on arrival (in arrival order), including 401s and 404s,
//! and its `status` filled in when answered (0 while pending, and for hang and dropped
//! connections). Only the *kind* of credential is kept, never the credential itself.

use serde::{Deserialize, Serialize};

use crate::endpoint::Endpoint;

/// The kind of `Authorization` header a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthKind {
    /// No `Authorization` header.
    None,
    /// `Basic ...`.
    Basic,
    /// `Bearer ...`.
    Bearer,
    /// Any other scheme, or an unreadable header.
    Other,
}

impl AuthKind {
    /// The kind of this `Authorization` header value (scheme compared case-insensitively).
    pub fn of(header: Option<&str>) -> AuthKind {
        let Some(header) = header else {
            return AuthKind::None;
        };
        let scheme = header.split(' ').next().unwrap_or_default();
        if scheme.eq_ignore_ascii_case("basic") {
            AuthKind::Basic
        } else if scheme.eq_ignore_ascii_case("bearer") {
            AuthKind::Bearer
        } else {
            AuthKind::Other
        }
    }
}

/// One request as the fake saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    /// The endpoint (method and path shape), or `None` for anything the fake does not serve.
    pub endpoint: Option<Endpoint>,
    /// The HTTP method.
    pub method: String,
    /// The path, as received (not percent-decoded), without the query.
    pub path: String,
    /// The account ids exactly as received: from the JSON body's `accountIds` (string elements)
    /// or from the query's `accountId` parameters (decoded), in order, duplicates kept.
    pub account_ids: Vec<String>,
    /// The kind of credential.
    pub auth: AuthKind,
    /// The admin search body's `limit`, when a non-negative integer.
    pub limit: Option<u64>,
    /// The admin search body's `cursor`, when a string.
    pub cursor: Option<String>,
    /// The status answered; 0 while pending and for hang / dropped connections.
    pub status: u16,
    /// The injected fault's kind ([`crate::Fault::name`]), if one was applied; or the limit
    /// that refused the call: `burstLimit` or `pointsQuota` ([`crate::BurstLimit`],
    /// [`crate::PointsQuota`]).
    pub fault: Option<String>,
    /// Whether the request body came with `Transfer-Encoding: chunked` (rather than a
    /// `Content-Length`).
    #[serde(default)]
    pub chunked: bool,
}
