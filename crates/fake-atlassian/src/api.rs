//! The faked Atlassian endpoints: routing, authentication and answers, as pure functions of the
//! request and the directory.
//!
//! Auth model (see `/work/shared/ATLASSIAN.md`):
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

use std::collections::HashSet;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::directory::{Credentials, User};
use crate::fault::Endpoint;
use crate::reply::Reply;
use crate::server::State;

/// Default admin search page size.
const ADMIN_DEFAULT_LIMIT: i64 = 50;
/// Largest admin search `limit` accepted.
const ADMIN_MAX_LIMIT: i64 = 100;
/// Largest number of ids users-bulk accepts.
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
                return unauthorized();
            }
            if *org_id != credentials.org_id {
                return Reply::error(StatusCode::NOT_FOUND, "Organization not found");
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

fn check_cloud(credentials: &Credentials, base: &Base) -> Option<Reply> {
    match base {
        Base::Gateway(cloud) if *cloud != credentials.cloud_id => Some(not_found()),
        _ => None,
    }
}

/// The admin search body fields the fake reads (others are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdminSearchBody {
    account_ids: Option<Vec<String>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let decoded = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.strip_prefix(CURSOR_PREFIX)?.parse().ok()
}

fn admin_search(state: &State, body: &[u8]) -> Reply {
    let Ok(body) = serde_json::from_slice::<AdminSearchBody>(body) else {
        return bad_request("Request body is not valid");
    };
    let limit = body.limit.unwrap_or(ADMIN_DEFAULT_LIMIT);
    if !(1..=ADMIN_MAX_LIMIT).contains(&limit) {
        return bad_request("limit must be between 1 and 100");
    }
    let wanted: Option<HashSet<&str>> = body
        .account_ids
        .as_ref()
        .map(|ids| ids.iter().map(String::as_str).collect());
    let matching: Vec<&User> = state
        .directory
        .users
        .iter()
        .filter(|u| u.managed)
        .filter(|u| {
            wanted
                .as_ref()
                .is_none_or(|w| w.contains(u.account_id.as_str()))
        })
        .collect();
    let offset = match &body.cursor {
        None => 0,
        Some(cursor) => match decode_cursor(cursor) {
            Some(offset) if offset <= matching.len() => offset,
            _ => return bad_request("Invalid cursor"),
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
            json!({
                "accountId": u.account_id,
                "email": u.email,
                "emailVerified": true,
                "claimStatus": "managed",
                "accountStatus": u.account_status,
                "name": u.name(),
            })
        })
        .collect();
    let links = if end < matching.len() {
        json!({"next": encode_cursor(end)})
    } else {
        json!({})
    };
    Reply::json(StatusCode::OK, &json!({"data": data, "links": links}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsersBulkBody {
    account_ids: Vec<String>,
}

fn users_bulk(state: &State, body: &[u8]) -> Reply {
    let Ok(body) = serde_json::from_slice::<UsersBulkBody>(body) else {
        return bad_request("Request body is not valid");
    };
    if body.account_ids.is_empty() || body.account_ids.len() > USERS_BULK_MAX_IDS {
        return bad_request("accountIds must hold between 1 and 250 ids");
    }
    let wanted: HashSet<&str> = body.account_ids.iter().map(String::as_str).collect();
    let results: Vec<Value> = state
        .directory
        .users
        .iter()
        .filter(|u| wanted.contains(u.account_id.as_str()))
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
    Reply::json(StatusCode::OK, &json!({"results": results, "_links": {}}))
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
        assert_eq!(decode_cursor(&encode_cursor(37)), Some(37));
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
