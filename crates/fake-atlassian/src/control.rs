//! The control API under `/__control/`, for the binary and non-Rust tools. Mirrors the
//! [`crate::FakeAtlassian`] handle methods; control requests are never recorded nor faulted.
//!
//! | request | body | effect |
//! |---|---|---|
//! | `POST /__control/faults` | `{"endpoint":"usersBulk","fault":{"kind":"rateLimited","retryAfterSeconds":2},"times":1}` | queue a fault (`times` defaults to 1; fault form in [`crate::Fault`]'s module docs) |
//! | `DELETE /__control/faults` | | clear queued faults |
//! | `GET /__control/requests` | | JSON list of [`crate::RecordedRequest`] |
//! | `DELETE /__control/requests` | | clear recorded requests |
//! | `GET /__control/connections` | | `{"accepted": N}`: TCP connections accepted so far |
//! | `PUT /__control/latency` | `{"ms": 50}` | base latency |
//! | `PUT /__control/admin-page-cap` | `{"cap": 20}` or `{"cap": null}` | admin page cap |
//! | `PUT /__control/users-bulk-page-cap` | `{"cap": 100}` or `{"cap": null}` | users-bulk results per answer, paged with `_links.next` |
//! | `PUT /__control/burst-limit` | `{"limit": {"calls": 100, "windowMs": 10000}}` or `{"limit": null}` | a burst limit per endpoint ([`crate::BurstLimit`]) |
//! | `PUT /__control/points-quota` | `{"quota": {"points": 65000, "scope": "global"}}` or `{"quota": null}` | the points quota of app traffic, points used reset ([`crate::PointsQuota`]) |
//! | `GET /__control/limits` | | `{"burstLimit": {...} or null, "pointsQuota": {...} or null, "pointsUsed": N}` |
//!
//! Success is 204 (or 200 with JSON for `GET`); a bad body is 400, anything else 404.

use std::time::Duration;

use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::endpoint::Endpoint;
use crate::fault::Fault;
use crate::limits::{BurstLimit, PointsQuota};
use crate::reply::Reply;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InjectBody {
    endpoint: Endpoint,
    fault: Fault,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageCapBody {
    cap: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BurstBody {
    limit: Option<BurstLimit>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotaBody {
    quota: Option<PointsQuota>,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body)
        .map_err(|e| Reply::error(StatusCode::BAD_REQUEST, &format!("bad control body: {e}")))
}

/// Answers a control request; `path` is what follows `/__control/`.
pub(crate) fn handle(state: &State, method: &Method, path: &str, body: &[u8]) -> Reply {
    let result = match (method, path) {
        (&Method::POST, "faults") => parse::<InjectBody>(body).map(|b| {
            state.inject(b.endpoint, b.fault, b.times);
            Reply::no_content()
        }),
        (&Method::DELETE, "faults") => {
            state.clear_faults();
            Ok(Reply::no_content())
        }
        (&Method::GET, "requests") => {
            let requests = serde_json::to_value(state.requests()).unwrap_or_default();
            Ok(Reply::json(StatusCode::OK, &requests))
        }
        (&Method::GET, "connections") => Ok(Reply::json(
            StatusCode::OK,
            &serde_json::json!({ "accepted": state.connections_accepted() }),
        )),
        (&Method::DELETE, "requests") => {
            state.clear_requests();
            Ok(Reply::no_content())
        }
        (&Method::PUT, "latency") => parse::<LatencyBody>(body).map(|b| {
            state.set_latency(Duration::from_millis(b.ms));
            Reply::no_content()
        }),
        (&Method::PUT, "admin-page-cap") => parse::<PageCapBody>(body).map(|b| {
            state.set_admin_page_cap(b.cap);
            Reply::no_content()
        }),
        (&Method::PUT, "users-bulk-page-cap") => parse::<PageCapBody>(body).map(|b| {
            state.set_users_bulk_page_cap(b.cap);
            Reply::no_content()
        }),
        (&Method::PUT, "burst-limit") => parse::<BurstBody>(body).map(|b| {
            state.set_burst_limit(b.limit);
            Reply::no_content()
        }),
        (&Method::PUT, "points-quota") => parse::<QuotaBody>(body).map(|b| {
            state.set_points_quota(b.quota);
            Reply::no_content()
        }),
        (&Method::GET, "limits") => Ok(Reply::json(
            StatusCode::OK,
            &serde_json::json!({
                "burstLimit": state.burst_limit(),
                "pointsQuota": state.points_quota(),
                "pointsUsed": state.points_used(),
            }),
        )),
        _ => Ok(Reply::error(
            StatusCode::NOT_FOUND,
            "Unknown control request",
        )),
    };
    result.unwrap_or_else(|reply| reply)
}
