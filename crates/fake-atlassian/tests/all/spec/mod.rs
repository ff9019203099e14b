//! The published API constraints the fake enforces, one rule per file (sources,
//! as Atlassian publishes them: the Organizations REST API spec for `searchDirectoryUsers`, the
//! Confluence REST v2 spec for `users-bulk`, Atlassian's "Rate limiting" pages for the
//! throttling answers, the burst limit and the points quota).

mod admin_account_ids;
mod admin_claim_status;
mod admin_cursor;
mod admin_errors;
mod admin_limit;
mod admin_search_term;
mod burst_limit;
mod chunked_bodies;
mod demo_directory;
mod points_quota;
mod rate_limit_headers;
mod rate_limit_reset;
mod users_bulk_body;
mod users_bulk_paging;

use reqwest::StatusCode;
use serde_json::Value;

/// Asserts a `400` with the admin API's published error body.
pub async fn assert_admin_400(response: reqwest::Response, what: &str) -> anyhow::Result<()> {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    let body: Value = response.json().await?;
    assert_admin_error(&body, 400, what);
    Ok(())
}

/// Asserts `{"errors": [{"code", "detail", "id", "status", "title"}]}`, all strings.
pub fn assert_admin_error(body: &Value, status: u16, what: &str) {
    let errors = body["errors"].as_array().expect("an errors array");
    assert_eq!(errors.len(), 1, "{what}: {body}");
    let error = errors[0].as_object().expect("an error object");
    let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "detail", "id", "status", "title"], "{what}");
    assert!(error.values().all(Value::is_string), "{what}: {body}");
    assert_eq!(error["status"], status.to_string(), "{what}");
}
