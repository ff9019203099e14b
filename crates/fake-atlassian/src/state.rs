//! What the request handlers share: the directory and credentials the fake answers from, the
//! queued faults, the recorded requests, the knobs (latency, page caps, limits) and the admin
//! search cursors handed out. The API (`api`), the control API (`control`) and the server
//! (`server`) all work on one [`State`]; it names none of them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::directory::{Credentials, Directory, User};
use crate::endpoint::Endpoint;
use crate::fault::Fault;
use crate::limits::{BurstLimit, Limits, PointsQuota};
use crate::record::RecordedRequest;

/// Locks `mutex`, through poisoning: a panicked handler leaves the fake's state usable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything the request handlers share.
pub(crate) struct State {
    pub directory: Directory,
    pub credentials: Credentials,
    faults: Mutex<HashMap<Endpoint, VecDeque<Fault>>>,
    records: Mutex<Vec<(u64, RecordedRequest)>>,
    next_seq: AtomicU64,
    connections: AtomicU64,
    latency: Mutex<Duration>,
    admin_page_cap: Mutex<Option<usize>>,
    users_bulk_page_cap: Mutex<Option<usize>>,
    /// Every admin search cursor handed out; any other cursor is a 400.
    issued_cursors: Mutex<HashSet<String>>,
    /// The burst limit and points quota, when set.
    limits: Mutex<Limits>,
    /// Each account id's position in the directory, to find asked-for users without a scan.
    positions: HashMap<String, usize>,
}

impl State {
    pub fn new(directory: Directory, credentials: Credentials) -> State {
        let positions = directory
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.account_id.clone(), i))
            .collect();
        State {
            positions,
            directory,
            credentials,
            faults: Mutex::new(HashMap::new()),
            records: Mutex::new(Vec::new()),
            next_seq: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            latency: Mutex::new(Duration::ZERO),
            admin_page_cap: Mutex::new(None),
            users_bulk_page_cap: Mutex::new(None),
            issued_cursors: Mutex::new(HashSet::new()),
            limits: Mutex::new(Limits::default()),
        }
    }

    /// The users whose id is in `wanted`, in directory order; every user when `wanted` is
    /// `None`. A lookup per id, not a scan of the directory.
    pub fn candidates(&self, wanted: Option<&HashSet<String>>) -> Vec<&User> {
        let Some(wanted) = wanted else {
            return self.directory.users.iter().collect();
        };
        let mut at: Vec<usize> = wanted
            .iter()
            .filter_map(|id| self.positions.get(id).copied())
            .collect();
        at.sort_unstable();
        at.into_iter().map(|i| &self.directory.users[i]).collect()
    }

    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        let mut faults = lock(&self.faults);
        let queue = faults.entry(endpoint).or_default();
        queue.extend(std::iter::repeat_n(fault, times));
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// The next fault for a call of `endpoint`: its own queue first, then the `Any` queue.
    pub fn take_fault(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        [endpoint, Endpoint::Any]
            .into_iter()
            .find_map(|e| faults.get_mut(&e).and_then(VecDeque::pop_front))
    }

    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    /// The base latency added before every API call's answer.
    pub fn latency(&self) -> Duration {
        *lock(&self.latency)
    }

    pub fn set_admin_page_cap(&self, cap: Option<usize>) {
        *lock(&self.admin_page_cap) = cap;
    }

    pub fn admin_page_cap(&self) -> Option<usize> {
        *lock(&self.admin_page_cap)
    }

    pub fn set_users_bulk_page_cap(&self, cap: Option<usize>) {
        *lock(&self.users_bulk_page_cap) = cap;
    }

    pub fn users_bulk_page_cap(&self) -> Option<usize> {
        *lock(&self.users_bulk_page_cap)
    }

    pub fn set_burst_limit(&self, burst: Option<BurstLimit>) {
        lock(&self.limits).set_burst(burst);
    }

    pub fn burst_limit(&self) -> Option<BurstLimit> {
        lock(&self.limits).burst()
    }

    pub fn set_points_quota(&self, quota: Option<PointsQuota>) {
        lock(&self.limits).set_quota(quota);
    }

    pub fn points_quota(&self) -> Option<PointsQuota> {
        lock(&self.limits).quota()
    }

    pub fn points_used(&self) -> u64 {
        lock(&self.limits).used()
    }

    /// The burst limit and points quota, locked for one admission or charge.
    pub fn limits(&self) -> MutexGuard<'_, Limits> {
        lock(&self.limits)
    }

    /// A fresh number, to make each cursor handed out distinct.
    pub fn next_serial(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Remembers a cursor handed out in `links.next`.
    pub fn issue_cursor(&self, cursor: &str) {
        lock(&self.issued_cursors).insert(cursor.to_owned());
    }

    /// Whether `cursor` was handed out by this server.
    pub fn was_issued(&self, cursor: &str) -> bool {
        lock(&self.issued_cursors).contains(cursor)
    }

    /// Counts an accepted TCP connection.
    pub fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connections_accepted(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.records).iter().map(|(_, r)| r.clone()).collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.records).clear();
    }

    pub fn record(&self, request: RecordedRequest) -> u64 {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        lock(&self.records).push((seq, request));
        seq
    }

    pub fn update(&self, seq: u64, f: impl FnOnce(&mut RecordedRequest)) {
        let mut records = lock(&self.records);
        if let Some((_, r)) = records.iter_mut().rev().find(|(s, _)| *s == seq) {
            f(r);
        }
    }
}
