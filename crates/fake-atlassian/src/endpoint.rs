//! The fake's API endpoints, by name: what faults are queued for, limits are counted per, and
//! recorded requests are tagged with. Which request is which endpoint is the API's routing
//! (`api::Route`).

use serde::{Deserialize, Serialize};

/// An API endpoint of the fake, for fault injection and request counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Endpoint {
    /// `POST /admin/v2/orgs/{orgId}/directories/-/users/search`.
    AdminSearch,
    /// `POST [/ex/confluence/{cloudId}]/wiki/api/v2/users-bulk`.
    UsersBulk,
    /// `GET [/ex/confluence/{cloudId}]/wiki/rest/api/user/email/bulk`.
    EmailBulk,
    /// `GET [/ex/confluence/{cloudId}]/wiki/rest/api/user/email`.
    EmailSingle,
    /// Any of the above (fault injection only; never recorded as a request's endpoint).
    Any,
}
