//! The faked Atlassian endpoints: routing, authentication and answers, as pure functions of the
//! request and the directory.
//!
//! Auth model (Atlassian's reference pages for the admin and Confluence REST APIs):
//! - admin search: only `Bearer <admin_api_key>`, else 401; then a wrong `{orgId}` is 404;
//! - users-bulk on the site path: only `Basic base64(site_email:site_api_token)` (a Bearer token
//!   on the site URL is 401, as for scoped tokens); under `/ex/confluence/{cloudId}`: only
//!   `Bearer <bearer_token>` (OAuth) or `Basic base64(site_email:scoped_api_token)` (a scoped API
//!   token, which the site path refuses);
//! - the privacy email API (both base paths): only `Bearer <app_token>`; the other valid
//!   Confluence credentials (site Basic, bearer token) get 400 "App is not approved to access
//!   email"; anything else is 401.
//!
//! Under `/ex/confluence/{cloudId}` a wrong cloud id is 404 before any auth check (the gateway
//! cannot route it). Anything that is not one of these endpoints (method and path) is 404.
//!
//! Published constraints enforced (Organizations REST API spec `searchDirectoryUsers`; Confluence
//! REST v2 spec `users-bulk`), each breach a `400`:
//! - admin search: `accountIds` 1 to 10 strings; `limit` an integer 1 to 100 (default 50);
//!   `searchTerm` together with `emails`; a `cursor` this server never handed out;
//!   `claimStatus` other than `managed`/`unmanaged`. Without `claimStatus`, managed *and*
//!   unmanaged accounts are returned (unmanaged ones without `email`). Admin errors use the
//!   published body `{"errors": [{"code", "detail", "id", "status", "title"}]}`;
//! - users-bulk: a missing or non-JSON body, `accountIds` absent, not 1 to 250 ids, or holding a
//!   non-string. With a results cap set ([`crate::FakeAtlassian::set_users_bulk_page_cap`]) an
//!   answer holds at most that many results and, while more asked ids are known, carries
//!   `_links.next` and a `Link: <...>; rel="next"` header.

use std::collections::HashSet;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use crate::directory::{Credentials, User};
use crate::endpoint::Endpoint;
use crate::reply::Reply;
use crate::state::State;

/// Default admin search page size (Organizations REST API spec, `searchDirectoryUsers`).
const ADMIN_DEFAULT_LIMIT: i64 = 50;
/// Smallest admin search `limit` accepted (same spec: integer, 1 to 100).
const ADMIN_MIN_LIMIT: i64 = 1;
/// Largest admin search `limit` accepted (same spec).
const ADMIN_MAX_LIMIT: i64 = 100;
/// Most admin search `accountIds` accepted (same spec: minItems 1, maxItems 10).
const ADMIN_MAX_ACCOUNT_IDS: usize = 10;
/// Largest number of ids users-bulk accepts (Confluence REST v2 spec: 1 to 250).
const USERS_BULK_MAX_IDS: usize = 250;
/// What the admin search cursor encodes before base64.
const CURSOR_PREFIX: &str = "fake-atlassian:offset=";

/// Where a Confluence path was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// The site URL (`https://SITE.atlassian.net`).
    Site,
    /// The API gateway, `/ex/confluence/{cloudId}` (the raw cloud id segment).
    Gateway(String),
}

/// A request's endpoint, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    AdminSearch { org_id: String },
    UsersBulk(Base),
    EmailBulk(Base),
    EmailSingle(Base),
    NotFound,
}

impl Route {
    /// Matches the method and the raw (not percent-decoded) path.
    pub fn parse(method: &Method, path: &str) -> Route {
        if let Some(rest) = path.strip_prefix("/admin/v2/orgs/") {
            return match rest.strip_suffix("/directories/-/users/search") {
                Some(org) if !org.is_empty() && !org.contains('/') && method == Method::POST => {
                    Route::AdminSearch {
                        org_id: org.to_owned(),
                    }
                }
                _ => Route::NotFound,
            };
        }
        let (base, rest) = match path.strip_prefix("/ex/confluence/") {
            Some(rest) => match rest.split_once('/') {
                Some((cloud, rest)) if !cloud.is_empty() => (
                    Base::Gateway(cloud.to_owned()),
                    &path[path.len() - rest.len() - 1..],
                ),
                _ => return Route::NotFound,
            },
            None => (Base::Site, path),
        };
        match (method, rest) {
            (&Method::POST, "/wiki/api/v2/users-bulk") => Route::UsersBulk(base),
            (&Method::GET, "/wiki/rest/api/user/email/bulk") => Route::EmailBulk(base),
            (&Method::GET, "/wiki/rest/api/user/email") => Route::EmailSingle(base),
            _ => Route::NotFound,
        }
    }

    /// The endpoint for faults and records; `None` for 404 routes.
    pub fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Route::AdminSearch { .. } => Some(Endpoint::AdminSearch),
            Route::UsersBulk(_) => Some(Endpoint::UsersBulk),
            Route::EmailBulk(_) => Some(Endpoint::EmailBulk),
            Route::EmailSingle(_) => Some(Endpoint::EmailSingle),
            Route::NotFound => None,
        }
    }
}

/// One API request, borrowed from the hyper request.
pub(crate) struct Call<'a> {
    pub route: Route,
    /// The raw `Authorization` header (never recorded or logged).
    pub authorization: Option<&'a str>,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

/// What the record keeps of a request's parameters.
pub(crate) struct Details {
    pub account_ids: Vec<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

impl Call<'_> {
    /// Account ids, `limit` and `cursor` exactly as sent, for the request record.
    pub fn details(&self) -> Details {
        match self.route {
            Route::AdminSearch { .. } | Route::UsersBulk(_) => {
                let body: Value = serde_json::from_slice(self.body).unwrap_or(Value::Null);
                let account_ids = match body.get("accountIds") {
                    Some(Value::Array(ids)) => ids
                        .iter()
                        .filter_map(|id| id.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                Details {
                    account_ids,
                    limit: body.get("limit").and_then(Value::as_u64),
                    cursor: body
                        .get("cursor")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }
            }
            _ => Details {
                account_ids: self.query_ids(),
                limit: None,
                cursor: None,
            },
        }
    }

    /// The decoded `accountId` query parameters, in order.
    fn query_ids(&self) -> Vec<String> {
        let query = self.query.unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| k == "accountId")
            .map(|(_, v)| v.into_owned())
            .collect()
    }
}

/// Which accepted credential a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    AdminKey,
    SiteBasic,
    ScopedBasic,
    ScopedBearer,
    App,
    Invalid,
}

fn classify(credentials: &Credentials, authorization: Option<&str>) -> Cred {
    let Some((scheme, token)) = authorization.and_then(|h| h.split_once(' ')) else {
        return Cred::Invalid;
    };
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let site = format!("{}:{}", credentials.site_email, credentials.site_api_token);
        let scoped = format!(
            "{}:{}",
            credentials.site_email, credentials.scoped_api_token
        );
        match STANDARD.decode(token) {
            Ok(decoded) if decoded == site.as_bytes() => Cred::SiteBasic,
            Ok(decoded) if decoded == scoped.as_bytes() => Cred::ScopedBasic,
            _ => Cred::Invalid,
        }
    } else if scheme.eq_ignore_ascii_case("bearer") {
        if token == credentials.admin_api_key {
            Cred::AdminKey
        } else if token == credentials.bearer_token {
            Cred::ScopedBearer
        } else if token == credentials.app_token {
            Cred::App
        } else {
            Cred::Invalid
        }
    } else {
        Cred::Invalid
    }
}

fn unauthorized() -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, "Unauthorized")
}

fn bad_request(message: &str) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, message)
}

/// The 404 for anything the fake does not serve.
pub(crate) fn not_found() -> Reply {
    Reply::error(StatusCode::NOT_FOUND, "Not Found")
}

/// The normal answer to an API call (no fault).
pub(crate) fn answer(state: &State, call: &Call<'_>) -> Reply {
    let credentials = &state.credentials;
    let cred = classify(credentials, call.authorization);
    match &call.route {
        Route::NotFound => not_found(),
        Route::AdminSearch { org_id } => {
            if cred != Cred::AdminKey {
                return Reply::admin_error(
                    StatusCode::UNAUTHORIZED,
                    "The API key is missing or not valid.",
                );
            }
            if *org_id != credentials.org_id {
                return Reply::admin_error(
                    StatusCode::NOT_FOUND,
                    "We couldn't find the organization or directory.",
                );
            }
            admin_search(state, call.body)
        }
        Route::UsersBulk(base) => {
            if let Some(reply) = check_cloud(credentials, base) {
                return reply;
            }
            let allowed = match base {
                Base::Site => cred == Cred::SiteBasic,
                Base::Gateway(_) => matches!(cred, Cred::ScopedBearer | Cred::ScopedBasic),
            };
            if !allowed {
                return unauthorized();
            }
            users_bulk(state, call.body)
        }
        Route::EmailBulk(base) | Route::EmailSingle(base) => {
            if let Some(reply) = check_cloud(credentials, base) {
                return reply;
            }
            match cred {
                Cred::App => {}
                Cred::SiteBasic | Cred::ScopedBasic | Cred::ScopedBearer => {
                    return bad_request("App is not approved to access email")
                }
                Cred::AdminKey | Cred::Invalid => return unauthorized(),
            }
            let ids = call.query_ids();
            if ids.is_empty() {
                return bad_request("accountId is required");
            }
            if matches!(call.route, Route::EmailBulk(_)) {
                email_bulk(state, &ids)
            } else {
                email_single(state, &ids[0])
            }
        }
    }
}

/// Whether a call is metered by the points quota: a Confluence API called as an app (an OAuth
/// 2.0 bearer token or an app token). API tokens (basic auth) and the admin API are not.
pub(crate) fn metered(credentials: &Credentials, call: &Call<'_>) -> bool {
    matches!(
        call.route,
        Route::UsersBulk(_) | Route::EmailBulk(_) | Route::EmailSingle(_)
    ) && matches!(
        classify(credentials, call.authorization),
        Cred::ScopedBearer | Cred::App
    )
}

/// The user objects a successful answer returned (`users-bulk` results, privacy email
/// entries), for the points quota; 0 for any other answer.
pub(crate) fn user_objects(reply: &Reply) -> u64 {
    if !reply.status.is_success() {
        return 0;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        return 0;
    };
    match &body {
        Value::Array(entries) => entries.len() as u64,
        Value::Object(o) if o.contains_key("results") => {
            o["results"].as_array().map_or(0, |r| r.len() as u64)
        }
        Value::Object(o) if o.contains_key("accountId") => 1,
        _ => 0,
    }
}

fn check_cloud(credentials: &Credentials, base: &Base) -> Option<Reply> {
    match base {
        Base::Gateway(cloud) if *cloud != credentials.cloud_id => Some(not_found()),
        _ => None,
    }
}

/// Checks an admin search body against the published spec; the 400 detail when it breaks it.
fn check_admin_body(body: &Value) -> Result<(), &'static str> {
    let Some(body) = body.as_object() else {
        return Err("The request body must be a JSON object.");
    };
    if let Some(ids) = body.get("accountIds") {
        let ids = ids.as_array().ok_or("accountIds must be an array.")?;
        if !(1..=ADMIN_MAX_ACCOUNT_IDS).contains(&ids.len()) {
            return Err("accountIds must hold between 1 and 10 items.");
        }
        if !ids.iter().all(Value::is_string) {
            return Err("accountIds must hold strings.");
        }
    }
    if let Some(limit) = body.get("limit") {
        let limit = limit.as_i64().ok_or("limit must be an integer.")?;
        if !(ADMIN_MIN_LIMIT..=ADMIN_MAX_LIMIT).contains(&limit) {
            return Err("limit must be between 1 and 100.");
        }
    }
    if body.contains_key("searchTerm") && body.contains_key("emails") {
        return Err("searchTerm and emails cannot be used together.");
    }
    if let Some(term) = body.get("searchTerm") {
        if !term.is_string() {
            return Err("searchTerm must be a string.");
        }
    }
    if let Some(emails) = body.get("emails") {
        let emails = emails.as_array().ok_or("emails must be an array.")?;
        if emails.is_empty() || !emails.iter().all(Value::is_string) {
            return Err("emails must hold strings.");
        }
    }
    if let Some(claim) = body.get("claimStatus") {
        if !matches!(claim.as_str(), Some("managed" | "unmanaged")) {
            return Err("claimStatus must be managed or unmanaged.");
        }
    }
    if let Some(cursor) = body.get("cursor") {
        if !cursor.is_string() {
            return Err("cursor must be a string.");
        }
    }
    Ok(())
}

fn strings(value: Option<&Value>) -> Option<HashSet<String>> {
    value.and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    })
}

fn encode_cursor(serial: u64, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{serial}:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let decoded = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, offset) = text.strip_prefix(CURSOR_PREFIX)?.split_once(':')?;
    offset.parse().ok()
}

fn admin_search(state: &State, body: &[u8]) -> Reply {
    let bad = |detail: &str| Reply::admin_error(StatusCode::BAD_REQUEST, detail);
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return bad("The request body is not valid JSON.");
    };
    if let Err(detail) = check_admin_body(&body) {
        return bad(detail);
    }
    let limit = body
        .get("limit")
        .and_then(Value::as_i64)
        .unwrap_or(ADMIN_DEFAULT_LIMIT);
    let wanted = strings(body.get("accountIds"));
    let emails = strings(body.get("emails"));
    let term = body
        .get("searchTerm")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let claim = body.get("claimStatus").and_then(Value::as_str);
    // Without claimStatus, managed and unmanaged accounts are both returned.
    let matching: Vec<&User> = state
        .candidates(wanted.as_ref())
        .into_iter()
        .filter(|u| match claim {
            Some("managed") => u.managed,
            Some(_) => !u.managed,
            None => true,
        })
        .filter(|u| {
            emails
                .as_ref()
                .is_none_or(|e| u.managed && e.contains(&u.email))
        })
        .filter(|u| {
            term.as_ref().is_none_or(|t| {
                u.name().to_lowercase().contains(t) || (u.managed && u.email.contains(t.as_str()))
            })
        })
        .collect();
    let offset = match body.get("cursor").and_then(Value::as_str) {
        None => 0,
        Some(cursor) => match decode_cursor(cursor) {
            Some(offset) if state.was_issued(cursor) && offset <= matching.len() => offset,
            _ => return bad("The cursor is not valid."),
        },
    };
    let page = match state.admin_page_cap() {
        Some(cap) => (limit as usize).min(cap.max(1)),
        None => limit as usize,
    };
    let end = (offset + page).min(matching.len());
    let data: Vec<Value> = matching[offset..end]
        .iter()
        .map(|u| {
            if u.managed {
                json!({
                    "accountId": u.account_id,
                    "email": u.email,
                    "emailVerified": true,
                    "claimStatus": "managed",
                    "accountStatus": u.account_status,
                    "accountType": "atlassian",
                    "name": u.name(),
                })
            } else {
                // An account the organization does not manage: no email.
                json!({
                    "accountId": u.account_id,
                    "claimStatus": "unmanaged",
                    "accountStatus": u.account_status,
                    "accountType": "atlassian",
                    "name": u.name(),
                })
            }
        })
        .collect();
    let links = if end < matching.len() {
        let cursor = encode_cursor(state.next_serial(), end);
        state.issue_cursor(&cursor);
        json!({"next": cursor})
    } else {
        json!({})
    };
    Reply::json(StatusCode::OK, &json!({"data": data, "links": links}))
}

/// `users-bulk` reads `accountIds` only: 1 to 250 strings.
fn users_bulk_ids(body: &[u8]) -> Result<Vec<String>, &'static str> {
    let body: Value = serde_json::from_slice(body).map_err(|_| "Request body is not valid")?;
    let ids = body
        .get("accountIds")
        .and_then(Value::as_array)
        .ok_or("accountIds is required")?;
    if !(1..=USERS_BULK_MAX_IDS).contains(&ids.len()) {
        return Err("accountIds must hold between 1 and 250 ids");
    }
    ids.iter()
        .map(|id| {
            id.as_str()
                .map(str::to_owned)
                .ok_or("accountIds must hold strings")
        })
        .collect()
}

/// The relative next link of a paged `users-bulk` answer (opaque to clients).
const USERS_BULK_NEXT: &str = "/wiki/api/v2/users-bulk?cursor=fake-atlassian-next";

fn users_bulk(state: &State, body: &[u8]) -> Reply {
    let ids = match users_bulk_ids(body) {
        Ok(ids) => ids,
        Err(message) => return bad_request(message),
    };
    let wanted: HashSet<String> = ids.iter().cloned().collect();
    let known: Vec<&User> = state.candidates(Some(&wanted));
    let cap = state.users_bulk_page_cap().map(|c| c.max(1));
    let shown = cap.map_or(known.len(), |c| c.min(known.len()));
    let results: Vec<Value> = known[..shown]
        .iter()
        .map(|u| {
            let name = u.name();
            json!({
                "accountId": u.account_id,
                "accountType": "atlassian",
                "accountStatus": u.account_status,
                "email": if u.is_hidden() { "" } else { u.email.as_str() },
                "displayName": name,
                "publicName": name,
                "timeZone": "Etc/UTC",
                "isExternalCollaborator": false,
            })
        })
        .collect();
    if shown < known.len() {
        Reply::json(
            StatusCode::OK,
            &json!({"results": results, "_links": {"next": USERS_BULK_NEXT}}),
        )
        .with_header(
            hyper::header::LINK,
            &format!("<{USERS_BULK_NEXT}>; rel=\"next\""),
        )
    } else {
        Reply::json(StatusCode::OK, &json!({"results": results, "_links": {}}))
    }
}

fn email_bulk(state: &State, ids: &[String]) -> Reply {
    let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let found: Vec<Value> = state
        .directory
        .users
        .iter()
        .filter(|u| wanted.contains(u.account_id.as_str()))
        .map(|u| json!({"accountId": u.account_id, "email": u.email}))
        .collect();
    Reply::json(StatusCode::OK, &Value::Array(found))
}

fn email_single(state: &State, id: &str) -> Reply {
    match state.directory.get(id) {
        Some(u) => Reply::json(
            StatusCode::OK,
            &json!({"accountId": u.account_id, "email": u.email}),
        ),
        None => Reply::error(StatusCode::NOT_FOUND, "User not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_both_base_paths() {
        assert_eq!(
            Route::parse(&Method::POST, "/wiki/api/v2/users-bulk"),
            Route::UsersBulk(Base::Site)
        );
        assert_eq!(
            Route::parse(&Method::GET, "/ex/confluence/abc/wiki/rest/api/user/email"),
            Route::EmailSingle(Base::Gateway("abc".into()))
        );
        assert_eq!(
            Route::parse(&Method::POST, "/admin/v2/orgs/o/directories/-/users/search"),
            Route::AdminSearch { org_id: "o".into() }
        );
    }

    #[test]
    fn rejects_wrong_method_and_unknown_paths() {
        for (m, p) in [
            (Method::GET, "/wiki/api/v2/users-bulk"),
            (Method::POST, "/wiki/rest/api/user/email"),
            (Method::POST, "/admin/v2/orgs//directories/-/users/search"),
            (Method::POST, "/ex/confluence//wiki/api/v2/users-bulk"),
            (Method::POST, "/ex/confluence/abc"),
            (Method::GET, "/"),
        ] {
            assert_eq!(Route::parse(&m, p), Route::NotFound, "{m} {p}");
        }
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(4, 37)), Some(37));
        assert_eq!(decode_cursor("cursor-1"), None);
        assert_eq!(decode_cursor(""), None);
    }

    #[test]
    fn classifies_each_credential() {
        let c = Credentials::default();
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", c.site_email, c.site_api_token))
        );
        assert_eq!(classify(&c, Some(&basic)), Cred::SiteBasic);
        assert_eq!(
            classify(&c, Some(&format!("Bearer {}", c.app_token))),
            Cred::App
        );
        assert_eq!(
            classify(&c, Some(&format!("bearer {}", c.bearer_token))),
            Cred::ScopedBearer
        );
        assert_eq!(
            classify(&c, Some(&format!("Bearer {}", c.admin_api_key))),
            Cred::AdminKey
        );
        assert_eq!(classify(&c, Some("Bearer nope")), Cred::Invalid);
        assert_eq!(classify(&c, Some("Basic !!!")), Cred::Invalid);
        assert_eq!(classify(&c, None), Cred::Invalid);
    }
}
