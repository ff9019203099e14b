//! The fault matrix: every fault fake-atlassian can inject × each source (admin; Confluence
//! basic) × where it strikes (the first call; a middle chunk of three or more; a pagination
//! step of the admin search), each case asserting the contract's answer:
//!
//! - a transient fault (one 5xx, a 429 with a short `Retry-After`, malformed or truncated JSON,
//!   a dropped connection, latency) → `200` with exactly the expected answer;
//! - a persistent fault (three in a row) → `502 upstream_error`, never a partial `200`;
//! - a hang, or latency past the deadline → `504 upstream_timeout` inside the deadline;
//! - a `Retry-After` past the deadline → `503 upstream_rate_limited` with `Retry-After`;
//! - an HTML or JSON 400 → `502 upstream_error`, not retried;
//! - 401/403/404, or wrong credentials → `502 upstream_auth_failed`, not retried.
//!
//! Cases are generated from the tables below and run concurrently, each with its own fake and
//! server; each ends with [`Env::finish`] (logs and error bodies scanned). Faults queue FIFO per
//! endpoint, so a fault meant for the 2nd call is queued behind a zero-latency no-op; those
//! positions run with `upstream_concurrency=1` so the 2nd call is the 2nd chunk (or 2nd page)
//! and a persistent fault hits the same chunk's three attempts.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{ensure, Context, Result};
use fake_atlassian::{Directory, Endpoint, Fault, RetryAfter};
use futures::stream::{self, StreamExt};
use serde_json::json;

use crate::support::*;

/// Cases in flight at once: most of a case's time is spent waiting (Retry-After, backoff,
/// deadlines), not computing.
const PARALLEL: usize = 12;
/// The deadline of cases that end in a timeout.
const SHORT_DEADLINE_MS: u64 = 2000;

/// Which source the case configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Admin,
    Basic,
}

impl Source {
    fn sources(self) -> Sources {
        match self {
            Source::Admin => Sources::Admin,
            Source::Basic => Sources::Basic,
        }
    }
    fn endpoint(self) -> Endpoint {
        match self {
            Source::Admin => Endpoint::AdminSearch,
            Source::Basic => Endpoint::UsersBulk,
        }
    }
    fn batch(self) -> usize {
        match self {
            // The published maxima: admin search `maxItems 10`, users-bulk 250.
            Source::Admin => 10,
            Source::Basic => 250,
        }
    }
}

/// Where the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The first call: every id in one chunk, default concurrency.
    First,
    /// The 2nd of at least three chunks.
    MiddleChunk,
    /// The 2nd page of a chunk the admin search answers in several pages.
    PaginationStep,
}

const POSITIONS: [(Source, Position); 5] = [
    (Source::Admin, Position::First),
    (Source::Admin, Position::MiddleChunk),
    (Source::Admin, Position::PaginationStep),
    (Source::Basic, Position::First),
    (Source::Basic, Position::MiddleChunk),
];

/// The admin page cap of the pagination position: a chunk of 10 ids, 9 or 10 of them known
/// (the search without `claimStatus` returns unmanaged accounts too) → 2 pages.
const PAGE_CAP: usize = 5;

/// What the contract says the connector gets.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// `200` with exactly the expected answer, after this many extra upstream calls.
    Full { retries: usize },
    /// This error code, after this many calls from the faulted one on.
    Error {
        status: u16,
        code: &'static str,
        calls: usize,
    },
    /// `503 upstream_rate_limited` with this `Retry-After` (seconds, a range), after `calls`.
    RateLimited {
        retry_after: (u64, u64),
        calls: usize,
    },
    /// `504 upstream_timeout`, answered inside the short deadline.
    Timeout,
}

/// One row of the fault table.
struct Row {
    name: &'static str,
    faults: fn() -> Vec<Fault>,
    outcome: Outcome,
}

fn status(status: u16) -> Fault {
    Fault::Status {
        status,
        retry_after: None,
    }
}

fn status_after(status: u16, seconds: u64) -> Fault {
    Fault::Status {
        status,
        retry_after: Some(RetryAfter::Seconds(seconds)),
    }
}

fn limited(seconds: u64) -> Fault {
    Fault::RateLimited {
        retry_after: Some(RetryAfter::Seconds(seconds)),
    }
}

fn thrice(fault: Fault) -> Vec<Fault> {
    vec![fault.clone(), fault.clone(), fault]
}

const UPSTREAM_ERROR: &str = "upstream_error";
const AUTH_FAILED: &str = "upstream_auth_failed";

fn persistent(calls: usize) -> Outcome {
    Outcome::Error {
        status: 502,
        code: UPSTREAM_ERROR,
        calls,
    }
}

/// Every fault kind fake-atlassian has, in the shapes the contract distinguishes.
fn rows() -> Vec<Row> {
    let once = Outcome::Full { retries: 1 };
    vec![
        // Transient: survived, full answer.
        Row {
            name: "latency 300ms",
            faults: || vec![Fault::Latency(Duration::from_millis(300))],
            outcome: Outcome::Full { retries: 0 },
        },
        Row {
            name: "429 Retry-After 1s",
            faults: || vec![limited(1)],
            outcome: once.clone(),
        },
        Row {
            name: "429 without Retry-After",
            faults: || vec![Fault::RateLimited { retry_after: None }],
            outcome: once.clone(),
        },
        Row {
            name: "429 Retry-After as an HTTP date",
            faults: || {
                vec![Fault::RateLimited {
                    retry_after: Some(RetryAfter::Date(SystemTime::now() + Duration::from_secs(1))),
                }]
            },
            outcome: once.clone(),
        },
        Row {
            name: "one 500",
            faults: || vec![status(500)],
            outcome: once.clone(),
        },
        Row {
            name: "one 502",
            faults: || vec![status(502)],
            outcome: once.clone(),
        },
        Row {
            name: "one 503",
            faults: || vec![status(503)],
            outcome: once.clone(),
        },
        Row {
            name: "one 503 Retry-After 1s",
            faults: || vec![status_after(503, 1)],
            outcome: once.clone(),
        },
        Row {
            name: "one 504",
            faults: || vec![status(504)],
            outcome: once.clone(),
        },
        Row {
            name: "malformed JSON once",
            faults: || vec![Fault::MalformedJson],
            outcome: once.clone(),
        },
        Row {
            name: "truncated JSON once",
            faults: || vec![Fault::TruncatedJson],
            outcome: once.clone(),
        },
        Row {
            name: "dropped connection once",
            faults: || vec![Fault::DropConnection],
            outcome: once.clone(),
        },
        Row {
            name: "500 then dropped connection",
            faults: || vec![status(500), Fault::DropConnection],
            outcome: Outcome::Full { retries: 2 },
        },
        // Persistent: failed closed.
        Row {
            name: "500 three times",
            faults: || thrice(status(500)),
            outcome: persistent(3),
        },
        Row {
            name: "502 three times",
            faults: || thrice(status(502)),
            outcome: persistent(3),
        },
        Row {
            name: "503 three times",
            faults: || thrice(status(503)),
            outcome: persistent(3),
        },
        Row {
            name: "504 three times",
            faults: || thrice(status(504)),
            outcome: persistent(3),
        },
        Row {
            name: "malformed JSON three times",
            faults: || thrice(Fault::MalformedJson),
            outcome: persistent(3),
        },
        Row {
            name: "truncated JSON three times",
            faults: || thrice(Fault::TruncatedJson),
            outcome: persistent(3),
        },
        Row {
            name: "dropped connection three times",
            faults: || thrice(Fault::DropConnection),
            outcome: persistent(3),
        },
        Row {
            name: "500, malformed, dropped",
            faults: || vec![status(500), Fault::MalformedJson, Fault::DropConnection],
            outcome: persistent(3),
        },
        // Rate limited past what the request can wait.
        Row {
            name: "429 Retry-After 30s (past the deadline)",
            faults: || vec![limited(30)],
            outcome: Outcome::RateLimited {
                retry_after: (30, 30),
                calls: 1,
            },
        },
        Row {
            name: "429 Retry-After 9223372036854775807 (clamped)",
            faults: || {
                vec![Fault::RateLimited {
                    retry_after: Some(RetryAfter::Raw("9223372036854775807".into())),
                }]
            },
            outcome: Outcome::RateLimited {
                retry_after: (300, 300),
                calls: 1,
            },
        },
        Row {
            name: "503 Retry-After 60s (past the deadline)",
            faults: || vec![status_after(503, 60)],
            outcome: Outcome::RateLimited {
                retry_after: (60, 60),
                calls: 1,
            },
        },
        Row {
            name: "429 Retry-After 0 three times",
            faults: || thrice(limited(0)),
            outcome: Outcome::RateLimited {
                retry_after: (1, 1),
                calls: 3,
            },
        },
        // Past the deadline.
        Row {
            name: "hang",
            faults: || vec![Fault::Hang],
            outcome: Outcome::Timeout,
        },
        Row {
            name: "latency past the deadline",
            faults: || vec![Fault::Latency(Duration::from_millis(2 * SHORT_DEADLINE_MS))],
            outcome: Outcome::Timeout,
        },
        // Refused: not retried.
        Row {
            name: "oversized answer with its Content-Length",
            faults: || vec![Fault::Oversized],
            outcome: Outcome::Error {
                status: 502,
                code: UPSTREAM_ERROR,
                calls: 1,
            },
        },
        Row {
            name: "oversized answer, chunked",
            faults: || vec![Fault::OversizedChunked],
            outcome: Outcome::Error {
                status: 502,
                code: UPSTREAM_ERROR,
                calls: 1,
            },
        },
        Row {
            name: "HTML 400 from the edge",
            faults: || vec![Fault::HtmlBadRequest],
            outcome: Outcome::Error {
                status: 502,
                code: UPSTREAM_ERROR,
                calls: 1,
            },
        },
        Row {
            name: "JSON 400",
            faults: || vec![status(400)],
            outcome: Outcome::Error {
                status: 502,
                code: UPSTREAM_ERROR,
                calls: 1,
            },
        },
        Row {
            name: "401",
            faults: || vec![status(401)],
            outcome: Outcome::Error {
                status: 502,
                code: AUTH_FAILED,
                calls: 1,
            },
        },
        Row {
            name: "403",
            faults: || vec![status(403)],
            outcome: Outcome::Error {
                status: 502,
                code: AUTH_FAILED,
                calls: 1,
            },
        },
        Row {
            name: "404",
            faults: || vec![status(404)],
            outcome: Outcome::Error {
                status: 502,
                code: AUTH_FAILED,
                calls: 1,
            },
        },
    ]
}

/// One generated case.
struct Case {
    label: String,
    source: Source,
    position: Position,
    faults: Vec<Fault>,
    /// Variables beyond the source's (wrong credentials, deadline, concurrency).
    extra: Vec<(&'static str, String)>,
    outcome: Outcome,
}

/// The directory and the ids asked for at `position`: unknown ids and duplicates included.
fn data(source: Source, position: Position) -> (Directory, Vec<String>) {
    let directory = match position {
        // Every id in one chunk: for admin (10 ids a call), 8 users and the 2 unknown ids.
        Position::First if source == Source::Admin => {
            let mut d = Directory::demo();
            d.users.truncate(8);
            d
        }
        Position::First | Position::PaginationStep => Directory::demo(),
        // Enough ids for at least three chunks of the source.
        Position::MiddleChunk => Directory::generated(2 * source.batch() + source.batch() / 2),
    };
    let mut ids: Vec<String> = directory
        .users
        .iter()
        .map(|u| u.account_id.clone())
        .collect();
    ids.reverse();
    ids.insert(1, "557058:00000000-dead-beef-0000-000000000000".into());
    ids.push(ids[0].clone());
    ids.push(ids[7].clone());
    ids.push("unknown-account-id-fault-matrix".into());
    (directory, ids)
}

/// Upstream calls of the case's source when nothing fails, for the distinct ids in
/// first-appearance order.
fn normal_calls(
    source: Source,
    position: Position,
    directory: &Directory,
    distinct: &[String],
) -> usize {
    match position {
        Position::First | Position::MiddleChunk => distinct.len().div_ceil(source.batch()),
        // Each chunk: its known accounts (managed or not) in pages of PAGE_CAP, at least one.
        Position::PaginationStep => distinct
            .chunks(source.batch())
            .map(|chunk| {
                let known = chunk
                    .iter()
                    .filter(|id| directory.get(id).is_some())
                    .count();
                known.div_ceil(PAGE_CAP).max(1)
            })
            .sum(),
    }
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (source, position) in POSITIONS {
        for row in rows() {
            let mut extra = Vec::new();
            if position != Position::First {
                extra.push(("upstream_concurrency", "1".to_string()));
            }
            if row.outcome == Outcome::Timeout {
                extra.push(("request_timeout_ms", SHORT_DEADLINE_MS.to_string()));
            }
            cases.push(Case {
                label: format!("{source:?} / {position:?} / {}", row.name),
                source,
                position,
                faults: (row.faults)(),
                extra,
                outcome: row.outcome,
            });
        }
    }
    // Wrong credentials: every call is refused, so only the first call is a position.
    let auth = |calls| Outcome::Error {
        status: 502,
        code: AUTH_FAILED,
        calls,
    };
    for (source, name, value) in [
        (
            Source::Admin,
            "atlassian_admin_api_key",
            "revoked-admin-key-0001",
        ),
        (Source::Admin, "atlassian_org_id", "someone-elses-org"),
        (
            Source::Basic,
            "confluence_api_token",
            "revoked-site-token-0001",
        ),
        (Source::Basic, "confluence_email", "nobody-in-particular"),
    ] {
        cases.push(Case {
            label: format!("{source:?} / First / wrong {name}"),
            source,
            position: Position::First,
            faults: Vec::new(),
            extra: vec![(name, value.to_string())],
            outcome: auth(1),
        });
    }
    cases
}

/// What one case proved, for the summary line.
struct Report {
    faults_injected: usize,
    survived: bool,
}

async fn run(case: Case) -> Result<Report> {
    let label = &case.label;
    let (directory, ids) = data(case.source, case.position);
    let extra: Vec<(&str, &str)> = case.extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut env = Env::with_directory(directory, case.source.sources(), &extra)
        .await
        .with_context(|| label.clone())?;
    for (name, value) in &case.extra {
        if name.contains("key") || name.contains("token") {
            env.never_logged.push(value.clone());
        }
    }
    let endpoint = case.source.endpoint();
    if case.position == Position::PaginationStep {
        env.fake.set_admin_page_cap(Some(PAGE_CAP));
    }
    // The calls before the faulted one.
    let before = match case.position {
        Position::First => 0,
        Position::MiddleChunk | Position::PaginationStep => 1,
    };
    if before == 1 && !case.faults.is_empty() {
        env.fake.inject(endpoint, Fault::Latency(Duration::ZERO), 1);
    }
    for fault in &case.faults {
        env.fake.inject(endpoint, fault.clone(), 1);
    }

    let started = Instant::now();
    let (status, headers, body) = env.lookup(json!({ "accountIds": ids })).await?;
    let elapsed = started.elapsed();
    let calls = env.fake.request_count(Endpoint::Any);
    let mut distinct: Vec<String> = Vec::new();
    for id in &ids {
        if !distinct.contains(id) {
            distinct.push(id.clone());
        }
    }
    let normal = normal_calls(case.source, case.position, &env.directory, &distinct);
    ensure!(
        normal >= before + 2 || case.position == Position::First,
        "{label}: the faulted call is not in the middle ({normal} calls)"
    );
    let code = body["error"].as_str().unwrap_or("");

    match case.outcome {
        Outcome::Full { retries } => {
            ensure!(status == 200, "{label}: {status} {body}");
            let expected = expected_answer(&env.directory, &ids, case.source.sources(), false);
            ensure!(
                body == expected,
                "{label}: the answer is not exactly the expected one"
            );
            ensure!(
                calls == normal + retries,
                "{label}: {calls} upstream calls, expected {}",
                normal + retries
            );
        }
        Outcome::Error {
            status: want,
            code: want_code,
            calls: from_fault,
        } => {
            ensure!(
                (status, code) == (want, want_code),
                "{label}: {status} {body}, expected {want} {want_code}"
            );
            ensure!(
                calls == before + from_fault,
                "{label}: {calls} upstream calls, expected {}",
                before + from_fault
            );
        }
        Outcome::RateLimited {
            retry_after: (low, high),
            calls: from_fault,
        } => {
            ensure!(
                (status, code) == (503, "upstream_rate_limited"),
                "{label}: {status} {body}"
            );
            let retry_after: u64 = headers
                .get("retry-after")
                .with_context(|| format!("{label}: no Retry-After"))?
                .to_str()?
                .parse()?;
            ensure!(
                (low..=high).contains(&retry_after),
                "{label}: Retry-After {retry_after}, expected {low}..={high}"
            );
            ensure!(
                calls == before + from_fault,
                "{label}: {calls} upstream calls, expected {}",
                before + from_fault
            );
        }
        Outcome::Timeout => {
            ensure!(
                (status, code) == (504, "upstream_timeout"),
                "{label}: {status} {body}"
            );
            let deadline = Duration::from_millis(SHORT_DEADLINE_MS);
            ensure!(
                elapsed >= deadline - Duration::from_millis(100),
                "{label}: answered before the deadline: {elapsed:?}"
            );
            ensure!(
                elapsed < deadline + Duration::from_millis(1500),
                "{label}: not answered inside the deadline: {elapsed:?}"
            );
            ensure!(
                calls == before + 1,
                "{label}: {calls} upstream calls, expected {}",
                before + 1
            );
        }
    }
    if status != 200 {
        ensure!(
            !body.to_string().contains('@'),
            "{label}: an email in an error"
        );
    }
    let survived = status == 200;
    env.finish().await.with_context(|| label.clone())?;
    Ok(Report {
        faults_injected: case.faults.len(),
        survived,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_every_position_gets_the_contract_answer() -> Result<()> {
    let _alone = CPU_HEAVY.lock().await;
    let cases = cases();
    let total = cases.len();
    let started = Instant::now();
    let results: Vec<Result<Report>> = stream::iter(cases)
        .map(run)
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut failures = Vec::new();
    let (mut survived_cases, mut survived_faults, mut failed_closed) = (0, 0, 0);
    for result in results {
        match result {
            Ok(r) if r.survived => {
                survived_cases += 1;
                survived_faults += r.faults_injected;
            }
            Ok(_) => failed_closed += 1,
            Err(e) => failures.push(format!("{e:#}")),
        }
    }
    ensure!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!(
        "fault matrix: {total} cases run ({} faults × {} positions + 4 credential cases) in \
         {:.1}s; {survived_cases} answered a full 200 after surviving {survived_faults} faults; \
         {failed_closed} failed closed with the documented error",
        rows().len(),
        POSITIONS.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
