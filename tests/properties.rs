//! Property tests of the whole core path (`handler::handle`) against a fake Atlassian that
//! misbehaves at random.
//!
//! Each case draws a directory (managed / hidden / visible accounts), a request (up to ~600
//! ids with duplicates and unknown ids), the `email_sources` order, `upstream_concurrency`,
//! the admin page size, and a script of what each upstream call gets: a clean answer with
//! random *mutations* (shuffled order, ids not asked for with wrong emails, repeated ids with
//! different emails, empty emails, entries without an id) or a fault (5xx, 429/503 with or
//! without `Retry-After`, 400/401/403/404, malformed, truncated or wrongly shaped bodies,
//! transport errors, hangs). Then:
//!
//! - every answer is a `200` or one of the documented upstream 5xx codes;
//! - a `200` is exactly the expected answer: no email on the wrong id, no resolvable id
//!   dropped, no id that was not asked for, first-appearance order;
//! - a case whose faults are all transient and isolated (never two calls in a row) is a `200`;
//! - every upstream call asks only for requested ids, at most a batch at a time;
//! - no error body holds an email or an id.
//!
//! The fake's futures complete at once, so each chunk's attempts are consecutive calls.
//! Cases: `PROPTEST_CASES` (default 256 here).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::executor::block_on;
use futures::future::LocalBoxFuture;
use identity_accessor::handler::{handle, Body, BodyBuffer, BodyError, Request};
use identity_accessor::platform::{
    OutboundRequest, OutboundResponse, Platform, Runtime, Transport, TransportError, VariableError,
    Variables,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const KEY: &str = "property-test-key-0123456789abcdef0123";
/// The published maximum of `accountIds` per admin search (`maxItems 10`).
const ADMIN_BATCH: usize = 10;
const SITE_BATCH: usize = 250;

/// One account of the random directory.
#[derive(Debug, Clone, Copy)]
struct Account {
    managed: bool,
    visible: bool,
}

/// What one upstream call gets.
#[derive(Debug, Clone)]
enum Action {
    /// The real answer, with mutations (bit set) seeded by `seed`.
    Clean { mutations: u8, seed: u64 },
    /// This status, with this `Retry-After` in seconds.
    Status(u16, Option<u64>),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with the real body cut in half.
    Truncated,
    /// 200 with JSON of the wrong shape.
    WrongShape,
    /// The transport fails.
    Transport(TransportError),
    /// The call never answers: the transport times out after its timeout.
    Hang,
}

impl Action {
    /// A fault the policy retries, with a wait short enough never to matter.
    fn is_transient(&self) -> bool {
        match self {
            Action::Clean { .. } => false,
            Action::Status(500 | 502 | 504, _) => true,
            Action::Status(429 | 503, ra) => ra.is_none_or(|s| s <= 1),
            Action::Status(..) => false,
            Action::Malformed | Action::Truncated | Action::WrongShape => true,
            Action::Transport(e) => {
                matches!(e, TransportError::Connection | TransportError::Timeout)
            }
            Action::Hang => true,
        }
    }
}

const SHUFFLE: u8 = 1;
const FOREIGN: u8 = 2;
const REPEAT: u8 = 4;
const EMPTY: u8 = 8;
const ORPHAN: u8 = 16;

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        12 => (any::<u8>(), any::<u64>()).prop_map(|(m, seed)| Action::Clean { mutations: m, seed }),
        2 => prop::sample::select(vec![500u16, 502, 504]).prop_map(|s| Action::Status(s, None)),
        2 => (prop::sample::select(vec![429u16, 503]), prop::option::of(prop::sample::select(vec![0u64, 1, 60, 100_000])))
            .prop_map(|(s, ra)| Action::Status(s, ra)),
        1 => prop::sample::select(vec![400u16, 401, 403, 404, 418]).prop_map(|s| Action::Status(s, None)),
        1 => Just(Action::Malformed),
        1 => Just(Action::Truncated),
        1 => Just(Action::WrongShape),
        1 => prop::sample::select(vec![
            TransportError::Connection,
            TransportError::Timeout,
            TransportError::Denied,
            TransportError::TooLarge,
        ]).prop_map(Action::Transport),
        1 => Just(Action::Hang),
    ]
}

/// One random case.
#[derive(Debug, Clone)]
struct Scenario {
    accounts: Vec<Account>,
    /// Indexes into accounts, then unknown ids.
    request: Vec<usize>,
    sources: Vec<&'static str>,
    concurrency: u8,
    include_unresolved: bool,
    admin_page: usize,
    script: Vec<Action>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        prop::collection::vec(
            (any::<bool>(), any::<bool>())
                .prop_map(|(managed, visible)| Account { managed, visible }),
            0..400,
        ),
        0usize..60,
        prop::sample::select(vec![
            vec!["admin", "confluence"],
            vec!["confluence", "admin"],
            vec!["admin"],
            vec!["confluence"],
        ]),
        1u8..=32,
        any::<bool>(),
        3usize..=60,
        prop::collection::vec(action(), 0..40),
        0usize..=600,
    )
        .prop_flat_map(
            |(accounts, unknown, sources, concurrency, include, page, script, len)| {
                let pool = accounts.len() + unknown;
                let request = if pool == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    prop::collection::vec(0..pool, len.min(4 * pool + 1)).boxed()
                };
                request.prop_map(move |request| Scenario {
                    accounts: accounts.clone(),
                    request,
                    sources: sources.clone(),
                    concurrency,
                    include_unresolved: include,
                    admin_page: page,
                    script: script.clone(),
                })
            },
        )
}

impl Scenario {
    fn id(&self, index: usize) -> String {
        if index < self.accounts.len() {
            format!("557058:acct-{index:04}")
        } else {
            format!("unknown-{:04}", index - self.accounts.len())
        }
    }

    fn account(&self, id: &str) -> Option<(usize, Account)> {
        let n: usize = id.strip_prefix("557058:acct-")?.parse().ok()?;
        self.accounts.get(n).map(|a| (n, *a))
    }

    fn email(index: usize) -> String {
        format!("user{index}@corp.example")
    }

    /// The email the contract promises for `id`.
    fn expected_email(&self, id: &str) -> Option<String> {
        let (n, a) = self.account(id)?;
        let via_admin = self.sources.contains(&"admin") && a.managed;
        let via_site = self.sources.contains(&"confluence") && a.visible;
        (via_admin || via_site).then(|| Scenario::email(n))
    }

    fn ids(&self) -> Vec<String> {
        self.request.iter().map(|i| self.id(*i)).collect()
    }

    fn expected(&self) -> Value {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for id in self.ids() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let email = self.expected_email(&id);
            if email.is_some() || self.include_unresolved {
                out.push(json!({"accountId": id, "emailAddress": email}));
            }
        }
        Value::Array(out)
    }

    /// True when nothing in the script can fail the request.
    fn benign(&self) -> bool {
        let mut previous_fault = false;
        let mut waits = 0u64;
        for action in &self.script {
            if matches!(action, Action::Clean { .. }) {
                previous_fault = false;
                continue;
            }
            if !action.is_transient() || previous_fault {
                return false;
            }
            previous_fault = true;
            waits += match action {
                Action::Hang => 10,
                Action::Status(_, Some(s)) => *s,
                _ => 1,
            };
        }
        waits < 20
    }
}

/// A clock that moves only when something sleeps or a call hangs; seeded randomness.
struct Clock {
    now: Cell<Duration>,
    random: Cell<u64>,
}

impl Runtime for Clock {
    fn now(&self) -> Duration {
        self.now.get()
    }
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move { self.now.set(self.now.get() + duration) })
    }
    fn unix_time(&self) -> Duration {
        Duration::from_secs(1_800_000_000) + self.now.get()
    }
    fn random_u64(&self) -> u64 {
        // xorshift64
        let mut x = self.random.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.set(x);
        x
    }
}

struct Vars(HashMap<&'static str, String>);

impl Variables for Vars {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        Ok(self.0.get(name).cloned())
    }
}

/// A body given whole.
struct Whole(Vec<u8>);

impl Body for Whole {
    fn read(self, mut into: BodyBuffer) -> LocalBoxFuture<'static, Result<Vec<u8>, BodyError>> {
        let result = into.push(&self.0).map(|()| into.into_bytes());
        Box::pin(async move { result })
    }
}

/// The fake Atlassian: the scenario's directory, the script's faults and mutations.
struct Upstream<'a> {
    scenario: &'a Scenario,
    clock: &'a Clock,
    calls: RefCell<usize>,
    /// Faults and mutated answers actually served.
    served: Cell<(usize, usize)>,
    /// Violations seen in the requests (ids not requested, oversized chunks).
    problems: RefCell<Vec<String>>,
}

impl Upstream<'_> {
    fn record_request(&self, admin: bool, ids: &[String]) {
        let requested: HashSet<String> = self.scenario.ids().into_iter().collect();
        let batch = if admin { ADMIN_BATCH } else { SITE_BATCH };
        if ids.is_empty() || ids.len() > batch {
            self.problems
                .borrow_mut()
                .push(format!("a chunk of {} ids", ids.len()));
        }
        if let Some(id) = ids.iter().find(|id| !requested.contains(*id)) {
            self.problems
                .borrow_mut()
                .push(format!("asked upstream for {id}, not requested"));
        }
    }

    /// The real answer: `(id, email)` entries and, for admin, the next cursor.
    fn real(&self, admin: bool, ids: &[String], cursor: usize) -> (Vec<Value>, Option<usize>) {
        let s = self.scenario;
        let mut entries = Vec::new();
        let mut next = None;
        if admin {
            let managed: Vec<&String> = ids
                .iter()
                .filter(|id| s.account(id).is_some_and(|(_, a)| a.managed))
                .collect();
            let end = (cursor + s.admin_page).min(managed.len());
            for id in &managed[cursor.min(end)..end] {
                let (n, _) = s.account(id).unwrap();
                entries.push(
                    json!({"accountId": id, "email": Scenario::email(n), "claimStatus": "managed"}),
                );
            }
            if end < managed.len() {
                next = Some(end);
            }
        } else {
            for id in ids {
                if let Some((n, a)) = s.account(id) {
                    let email = if a.visible {
                        Scenario::email(n)
                    } else {
                        String::new()
                    };
                    entries
                        .push(json!({"accountId": id, "email": email, "accountType": "atlassian"}));
                }
            }
        }
        (entries, next)
    }

    fn mutate(&self, entries: &mut Vec<Value>, ids: &[String], mutations: u8, seed: u64) {
        let s = self.scenario;
        let mut rng = seed | 1;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        if mutations & EMPTY != 0 && !ids.is_empty() {
            let id = &ids[next() as usize % ids.len()];
            entries.insert(0, json!({"accountId": id, "email": ""}));
            entries.push(json!({"accountId": id, "email": "   "}));
        }
        if mutations & SHUFFLE != 0 {
            for i in (1..entries.len()).rev() {
                let j = next() as usize % (i + 1);
                entries.swap(i, j);
            }
        }
        if mutations & FOREIGN != 0 {
            // Ids of the directory outside this call (maybe in another chunk), with wrong
            // emails, and ids nobody asked for.
            let chunk: HashSet<&String> = ids.iter().collect();
            for _ in 0..3 {
                if !s.accounts.is_empty() {
                    let id = s.id(next() as usize % s.accounts.len());
                    if !chunk.contains(&id) {
                        entries.push(json!({"accountId": id, "email": "intruder@evil.example"}));
                    }
                }
            }
            entries
                .push(json!({"accountId": "never-asked-0001", "email": "stranger@evil.example"}));
        }
        if mutations & REPEAT != 0 {
            // Only after an id's real, non-empty email: Atlassian's first word on an id is
            // the one that counts.
            let repeated: Vec<Value> = entries
                .iter()
                .filter(|e| e["accountId"].is_string())
                .filter(|e| e["email"].as_str().is_some_and(|m| !m.trim().is_empty()))
                .take(3)
                .map(|e| json!({"accountId": e["accountId"], "email": "second@evil.example"}))
                .collect();
            entries.extend(repeated);
        }
        if mutations & ORPHAN != 0 {
            entries.push(json!({"email": "orphan@evil.example"}));
            if let Some(id) = ids.first() {
                entries.push(json!({"accountId": id, "email": null}));
            }
        }
    }
}

impl Transport for Upstream<'_> {
    fn send(
        &self,
        request: OutboundRequest,
        timeout: Duration,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, TransportError>> {
        let call = {
            let mut calls = self.calls.borrow_mut();
            *calls += 1;
            *calls - 1
        };
        let admin = request.url.contains("/admin/");
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let ids: Vec<String> =
            serde_json::from_value(body["accountIds"].clone()).unwrap_or_default();
        let cursor: usize = body["cursor"]
            .as_str()
            .and_then(|c| c.strip_prefix("page-"))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        self.record_request(admin, &ids);

        let action = self
            .scenario
            .script
            .get(call)
            .cloned()
            .unwrap_or(Action::Clean {
                mutations: 0,
                seed: 0,
            });
        let real_body = |mutations: u8, seed: u64| {
            let (mut entries, next) = self.real(admin, &ids, cursor);
            self.mutate(&mut entries, &ids, mutations, seed);
            let value = if admin {
                let links = match next {
                    Some(n) => json!({"next": format!("page-{n}")}),
                    None => json!({}),
                };
                json!({"data": entries, "links": links})
            } else {
                json!({"results": entries, "_links": {}})
            };
            serde_json::to_vec(&value).unwrap()
        };
        let respond = |status: u16, headers: Vec<(String, String)>, body: Vec<u8>| {
            Ok(OutboundResponse {
                status,
                headers,
                body,
            })
        };
        let (faults, mutated) = self.served.get();
        self.served.set(match action {
            Action::Clean { mutations: 0, .. } => (faults, mutated),
            Action::Clean { .. } => (faults, mutated + 1),
            _ => (faults + 1, mutated),
        });
        let result = match action {
            Action::Clean { mutations, seed } => respond(200, vec![], real_body(mutations, seed)),
            Action::Status(status, retry_after) => respond(
                status,
                retry_after
                    .map(|s| vec![("retry-after".to_string(), s.to_string())])
                    .unwrap_or_default(),
                br#"{"message": "injected"}"#.to_vec(),
            ),
            Action::Malformed => respond(200, vec![], b"{\"results\": [{\"accountId\": <".to_vec()),
            Action::Truncated => {
                let mut body = real_body(0, 0);
                body.truncate(body.len() / 2);
                respond(200, vec![], body)
            }
            Action::WrongShape => respond(200, vec![], br#"{"users": [], "items": null}"#.to_vec()),
            Action::Transport(e) => Err(e),
            Action::Hang => {
                self.clock.now.set(self.clock.now.get() + timeout);
                Err(TransportError::Timeout)
            }
        };
        Box::pin(async move { result })
    }
}

/// What one scenario produced.
struct Outcome {
    status: u16,
    retry_after: Option<String>,
    body: Vec<u8>,
    /// Violations seen in the upstream requests.
    problems: Vec<String>,
    /// Faults and mutated answers served.
    served: (usize, usize),
}

/// Runs one scenario through `handle`.
fn run(s: &Scenario) -> Outcome {
    let mut vars = HashMap::new();
    vars.insert("api_key", KEY.to_string());
    vars.insert("atlassian_org_id", "org-1".to_string());
    vars.insert(
        "atlassian_admin_api_key",
        "admin-secret-value-0001".to_string(),
    );
    vars.insert("confluence_url", "https://acme.atlassian.net".to_string());
    vars.insert("confluence_email", "bot@acme.example".to_string());
    vars.insert("confluence_api_token", "site-token-value-0001".to_string());
    vars.insert("email_sources", s.sources.join(","));
    vars.insert("upstream_concurrency", s.concurrency.to_string());
    let vars = Vars(vars);
    let clock = Clock {
        now: Cell::new(Duration::from_secs(1000)),
        random: Cell::new(0x9e37_79b9_7f4a_7c15),
    };
    let upstream = Upstream {
        scenario: s,
        clock: &clock,
        calls: RefCell::new(0),
        served: Cell::new((0, 0)),
        problems: RefCell::new(Vec::new()),
    };
    let body = json!({"accountIds": s.ids(), "includeUnresolved": s.include_unresolved});
    let request = Request {
        method: "POST".to_string(),
        path_with_query: "/".to_string(),
        headers: vec![
            ("X-Api-Key".to_string(), KEY.as_bytes().to_vec()),
            ("Content-Type".to_string(), b"application/json".to_vec()),
        ],
        body: Whole(serde_json::to_vec(&body).unwrap()),
    };
    let platform = Platform {
        variables: &vars,
        transport: &upstream,
        runtime: &clock,
    };
    let (response, _log) = block_on(handle(request, &platform));
    let retry_after = response.header("retry-after").map(str::to_string);
    let problems = upstream.problems.borrow().clone();
    Outcome {
        status: response.status,
        retry_after,
        body: response.body,
        problems,
        served: upstream.served.get(),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_lookup_answers_exactly_or_fails_closed(s in scenario()) {
        let Outcome { status, retry_after, body, problems, .. } = run(&s);
        prop_assert!(problems.is_empty(), "upstream requests: {problems:?}");
        let value: Value = serde_json::from_slice(&body).expect("every answer is JSON");
        match status {
            200 => prop_assert_eq!(&value, &s.expected(), "a 200 is exactly the expected answer"),
            502..=504 => {
                let code = value["error"].as_str().unwrap_or("");
                let documented = match status {
                    502 => ["upstream_error", "upstream_auth_failed"].contains(&code),
                    503 => code == "upstream_rate_limited",
                    _ => code == "upstream_timeout",
                };
                prop_assert!(documented, "{status} {value}");
                if status == 503 {
                    let secs: u64 = retry_after.as_deref().unwrap_or("").parse().unwrap_or(0);
                    prop_assert!((1..=300).contains(&secs), "Retry-After {retry_after:?}");
                }
                let text = String::from_utf8_lossy(&body);
                prop_assert!(!text.contains('@') && !text.contains("557058:") && !text.contains("unknown-"));
                prop_assert!(!s.benign(), "transient, isolated faults must not fail: {status} {value}");
            }
            other => prop_assert!(false, "undocumented status {other}: {value}"),
        }
    }
}

/// The generator reaches every outcome: exact 200s through faults and mutations, and each
/// documented failure. Prints the mix.
#[test]
fn the_generated_mix_reaches_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut tally: HashMap<String, usize> = HashMap::new();
    let (mut survived_faults, mut mutated, mut ids) = (0, 0, 0);
    let n = cases();
    for _ in 0..n {
        let s = scenario().new_tree(&mut runner).unwrap().current();
        let outcome = run(&s);
        let value: Value = serde_json::from_slice(&outcome.body).unwrap();
        let key = match outcome.status {
            200 => "200".to_string(),
            status => format!("{status} {}", value["error"].as_str().unwrap_or("")),
        };
        *tally.entry(key).or_default() += 1;
        ids += s.request.len();
        if outcome.status == 200 {
            survived_faults += outcome.served.0;
            mutated += outcome.served.1;
        }
    }
    for outcome in [
        "200",
        "502 upstream_error",
        "502 upstream_auth_failed",
        "503 upstream_rate_limited",
        "504 upstream_timeout",
    ] {
        assert!(
            tally.get(outcome).copied().unwrap_or(0) > 0,
            "{outcome} never reached: {tally:?}"
        );
    }
    let mut mix: Vec<_> = tally.into_iter().collect();
    mix.sort();
    println!(
        "properties: {n} scenarios, {ids} ids requested; outcomes {mix:?}; the 200s survived \
         {survived_faults} faults and {mutated} mutated answers"
    );
}
