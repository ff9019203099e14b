//! `bench parse-memory`: the peak heap of the component's two parsers on their worst inputs,
//! natively, with a counting global allocator.
//!
//! - **Upstream pages** of the largest size the component reads (`MAX_RESPONSE_BYTES`, 2 MiB),
//!   parsed by the component's parsers (`admin::parse_page`, `confluence::parse_bulk`, which
//!   filter rows as they are read) and by a copy of the code before that change (the whole row
//!   array collected into `(Option<String>, Option<String>)` pairs, then filtered).
//! - **Request bodies**: each hostile body of [`crate::hostile`] (1 MiB), read in the 16 KiB
//!   chunks spin-sdk delivers and parsed, by the component's code (`BodyBuffer` and
//!   `request::parse_lookup`, which checks each id as it is parsed) and by a copy of the code
//!   before it (a growing `Vec` for the body; `accountIds` parsed into a `Vec` of
//!   `serde_json::Value` and a hash set sized to it, then checked).
//!
//! The peak is the heap allocated above what was live when the measurement began (for pages,
//! the body itself is already held; for requests, the body is read inside the measurement).
//! Native sizes are 64-bit: wasm32's pointers and `Value`s are half as large, so these are upper
//! bounds for the component's own allocations; the component's wasm allocator asks the host for
//! at least that much linear memory. Writes `target/bench/parse-memory.json`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{ensure, Result};
use identity_accessor::error::ApiError;
use identity_accessor::handler::{BodyBuffer, MAX_RESPONSE_BYTES};
use identity_accessor::request::{parse_lookup, MAX_BODY_BYTES, MAX_ID_CHARS};
use identity_accessor::upstream::{admin, confluence};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{env, hostile};

/// The system allocator, counting live and peak bytes while [`measure`] runs (a relaxed load
/// otherwise, so the rest of the bench is not slowed).
pub struct Counting;

static ENABLED: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    // Blocks allocated before counting began may be freed during it: never below zero. The
    // loop `fetch_update` runs, written out: Rust 1.99 deprecates that name for `try_update`,
    // which 1.95 lacks, and the bench builds warning-free on both.
    let mut live = LIVE.load(Ordering::Relaxed);
    while let Err(now) = LIVE.compare_exchange_weak(
        live,
        live.saturating_sub(bytes),
        Ordering::Relaxed,
        Ordering::Relaxed,
    ) {
        live = now;
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters have no effect on it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ENABLED.load(Ordering::Relaxed) {
            grew(layout.size());
        }
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if ENABLED.load(Ordering::Relaxed) {
            grew(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ENABLED.load(Ordering::Relaxed) {
            shrank(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ENABLED.load(Ordering::Relaxed) {
            // A move may hold both blocks at once: count the new one before freeing the old.
            grew(new_size);
            shrank(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Peak heap bytes allocated above the start while `f` runs, and its result.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    ENABLED.store(true, Ordering::SeqCst);
    let out = std::hint::black_box(f());
    ENABLED.store(false, Ordering::SeqCst);
    (PEAK.load(Ordering::Relaxed), out)
}

/// The row and page shapes the parsers used before filtering as rows arrive.
#[derive(Deserialize)]
struct OldRow {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Deserialize)]
struct OldAdminPage {
    data: Vec<OldRow>,
    #[serde(default)]
    #[allow(dead_code)]
    links: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct OldBulk {
    results: Vec<OldRow>,
    #[serde(rename = "_links", default)]
    #[allow(dead_code)]
    links: Option<serde::de::IgnoredAny>,
}

/// The old code: collect every row's pair, then keep the requested ones.
fn old_filter(rows: Vec<OldRow>, chunk: &[String]) -> Vec<(String, String)> {
    let pairs: Vec<(Option<String>, Option<String>)> =
        rows.into_iter().map(|r| (r.account_id, r.email)).collect();
    let mut out: Vec<(String, String)> = Vec::new();
    for (id, email) in pairs {
        let (Some(id), Some(email)) = (id, email) else {
            continue;
        };
        if email.trim().is_empty() || !chunk.contains(&id) || out.iter().any(|(s, _)| *s == id) {
            continue;
        }
        out.push((id, email));
    }
    out
}

/// A page body of at most `MAX_RESPONSE_BYTES`: `rows_field` holding as many copies of `row`
/// as fit, then `tail` rows (the requested ones) at the end.
fn page(rows_field: &str, row: &str, tail_rows: &[String]) -> (Vec<u8>, usize) {
    page_of(MAX_RESPONSE_BYTES, rows_field, row, tail_rows)
}

/// As [`page`], at most `size` bytes.
fn page_of(size: usize, rows_field: &str, row: &str, tail_rows: &[String]) -> (Vec<u8>, usize) {
    let head = format!("{{\"{rows_field}\":[");
    let tail: String = tail_rows.join(",");
    let end = "]}";
    let room = size - head.len() - tail.len() - end.len() - 1;
    let count = room / (row.len() + 1);
    let mut body = String::with_capacity(size);
    body.push_str(&head);
    for _ in 0..count {
        body.push_str(row);
        body.push(',');
    }
    body.push_str(&tail);
    body.push_str(end);
    (body.into_bytes(), count + tail_rows.len())
}

/// A realistic user row (an admin search record), about 400 bytes.
fn realistic_row(i: usize) -> String {
    json!({
        "accountId": format!("712020:{:08x}-0000-4000-8000-{:012x}", i, i),
        "accountType": "atlassian", "accountStatus": "active", "status": "active",
        "name": format!("Generated User {i}"), "nickname": format!("user{i}"),
        "email": format!("user{i}@example.com"), "claimStatus": "managed",
        "membershipStatus": "member", "addedToOrg": "2024-01-01T00:00:00Z",
        "lastActive": "2026-11-01T00:00:00Z", "product_access": [],
    })
    .to_string()
}

/// Measures the page parsers and prints; returns the JSON rows.
fn measure_pages() -> Result<Value> {
    let realistic = realistic_row(1);
    let cases = [
        ("admin", "{}", "empty `{}` rows"),
        ("admin", realistic.as_str(), "realistic rows"),
        ("confluence", "{}", "empty `{}` rows"),
        ("confluence", realistic.as_str(), "realistic rows"),
    ];
    let mut rows = Vec::new();
    println!(
        "{:<11} {:<16} {:>9} {:>9} {:>16} {:>16}",
        "source", "page", "bytes", "rows", "before (peak)", "now (peak)"
    );
    for (source, row, what) in cases {
        // A chunk of the source's published batch size, every id of it on the page.
        let (field, batch) = if source == "admin" {
            ("data", admin::MAX_ACCOUNT_IDS)
        } else {
            ("results", confluence::MAX_ACCOUNT_IDS)
        };
        let chunk: Vec<String> = (0..batch).map(|i| format!("wanted-{i}")).collect();
        let wanted_rows: Vec<String> = chunk
            .iter()
            .map(|id| json!({"accountId": id, "email": format!("{id}@example.com")}).to_string())
            .collect();
        let (body, count) = page(field, row, &wanted_rows);
        let (before, old) = peak_of(|| {
            if source == "admin" {
                serde_json::from_slice::<OldAdminPage>(&body)
                    .map(|p| old_filter(p.data, &chunk))
                    .ok()
            } else {
                serde_json::from_slice::<OldBulk>(&body)
                    .map(|p| old_filter(p.results, &chunk))
                    .ok()
            }
        });
        let (now, new) = peak_of(|| {
            if source == "admin" {
                admin::parse_page(&body, &chunk).map(|(kept, _)| kept.found)
            } else {
                confluence::parse_bulk(&body, &chunk).map(|(kept, _)| kept.found)
            }
        });
        ensure!(
            old.as_ref().is_some_and(|found| found.len() == chunk.len()) && old == new,
            "{source} {what}: the two parsers disagree"
        );
        let mib = |b: usize| format!("{:.1} KiB", b as f64 / 1024.0);
        println!(
            "{:<11} {:<16} {:>9} {:>9} {:>16} {:>16}",
            source,
            what,
            body.len(),
            count,
            mib(before),
            mib(now)
        );
        rows.push(json!({
            "source": source, "page": what, "body_bytes": body.len(), "rows": count,
            "chunk": chunk.len(),
            "peak_heap_bytes_collect_then_filter": before,
            "peak_heap_bytes_filter_while_parsing": now,
        }));
    }
    Ok(Value::Array(rows))
}

/// The size of the chunks spin-sdk reads a request body in.
const CHUNK: usize = 16 * 1024;

/// `sent` as the component reads it: one fresh chunk at a time (spin-sdk allocates each).
fn chunks(sent: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    sent.chunks(CHUNK).map(<[u8]>::to_vec)
}

/// The size of the reads the component asks the host for an upstream answer (`entry.rs`).
const UPSTREAM_READ: usize = 64 * 1024;

/// Measures reading an upstream answer (in the component's 64 KiB reads) and parsing it, for the
/// largest legitimate Confluence page (250 rows of ~400 bytes, about 100 KiB; pages of 400 KiB
/// exist with every field at its longest) and a page at `MAX_RESPONSE_BYTES`: before (a plain
/// `Vec`), now with `Content-Length` and now without it. Prints; returns the rows.
fn measure_upstream_reads() -> Result<Value> {
    let chunk: Vec<String> = (0..confluence::MAX_ACCOUNT_IDS)
        .map(|i| format!("wanted-{i}"))
        .collect();
    let wanted_rows: Vec<String> = chunk
        .iter()
        .map(|id| json!({"accountId": id, "email": format!("{id}@example.com")}).to_string())
        .collect();
    let row = realistic_row(1);
    let mut rows = Vec::new();
    println!();
    println!(
        "{:<22} {:>9} {:>16} {:>20} {:>16}",
        "upstream answer", "bytes", "before (peak)", "now, Content-Length", "now, chunked"
    );
    for (what, size) in [
        ("400 KiB page", 400 * 1024),
        ("2 MiB page", MAX_RESPONSE_BYTES),
    ] {
        let (body, _) = page_of(size, "results", &row, &wanted_rows);
        let read_parse = |declared: Option<Option<u64>>| {
            let body = &body;
            let chunk = &chunk;
            peak_of(move || {
                let bytes = match declared {
                    None => {
                        let mut plain = Vec::new();
                        for piece in body.chunks(UPSTREAM_READ).map(<[u8]>::to_vec) {
                            plain.extend_from_slice(&piece);
                        }
                        plain
                    }
                    Some(declared) => {
                        let mut buffer = BodyBuffer::new(MAX_RESPONSE_BYTES, declared);
                        for piece in body.chunks(UPSTREAM_READ).map(<[u8]>::to_vec) {
                            buffer.push(&piece).expect("within the limit");
                        }
                        buffer.into_bytes()
                    }
                };
                confluence::parse_bulk(&bytes, chunk).map(|(kept, _)| kept.found.len())
            })
        };
        let (before, old) = read_parse(None);
        let (with_length, a) = read_parse(Some(Some(body.len() as u64)));
        let (chunked, b) = read_parse(Some(None));
        ensure!(
            old.is_some() && old == a && a == b,
            "{what}: the reads disagree"
        );
        let kib = |b: usize| format!("{:.0} KiB", b as f64 / 1024.0);
        println!(
            "{:<22} {:>9} {:>16} {:>20} {:>16}",
            what,
            body.len(),
            kib(before),
            kib(with_length),
            kib(chunked)
        );
        rows.push(json!({
            "answer": what, "body_bytes": body.len(),
            "peak_heap_bytes_before": before,
            "peak_heap_bytes_now_content_length": with_length,
            "peak_heap_bytes_now_chunked": chunked,
        }));
    }
    println!(
        "(read in 64 KiB pieces, then parsed; the peak counts the copy a growing buffer makes)"
    );
    Ok(Value::Array(rows))
}

/// The request body as the component read it before: one `Vec` grown by `extend_from_slice`.
fn old_read(sent: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in chunks(sent) {
        body.extend_from_slice(&chunk);
    }
    body
}

/// The request body as the component reads it now.
fn new_read(sent: &[u8], declared: Option<u64>) -> Vec<u8> {
    let mut body = BodyBuffer::new(MAX_BODY_BYTES, declared);
    for chunk in chunks(sent) {
        if body.push(&chunk).is_err() {
            break;
        }
    }
    body.into_bytes()
}

/// The request parser before it checked ids as they are parsed: `accountIds` kept as a
/// `serde_json::Value`, then every element checked, de-duplicated through a hash set sized to
/// the array, and counted against the limit at the end. Returns what `parse_lookup` returns
/// for the bodies measured here.
mod old_request {
    use std::collections::HashSet;

    use identity_accessor::error::ApiError;
    use identity_accessor::request::MAX_ID_CHARS;
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    use serde::Deserialize;

    #[derive(Default)]
    struct RawBody {
        account_ids: Option<serde_json::Value>,
        include_unresolved: Option<serde_json::Value>,
        repeated: bool,
    }

    impl<'de> Deserialize<'de> for RawBody {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct RawVisitor;
            impl<'de> Visitor<'de> for RawVisitor {
                type Value = RawBody;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawBody, A::Error> {
                    let mut raw = RawBody::default();
                    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                        let slot = match key.as_ref() {
                            "accountIds" => &mut raw.account_ids,
                            "includeUnresolved" => &mut raw.include_unresolved,
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                                continue;
                            }
                        };
                        if slot.is_some() {
                            raw.repeated = true;
                            map.next_value::<IgnoredAny>()?;
                        } else {
                            *slot = Some(map.next_value()?);
                        }
                    }
                    Ok(raw)
                }
            }
            deserializer.deserialize_map(RawVisitor)
        }
    }

    const NOT_JSON: &str = "The request body is not valid JSON.";
    const NOT_OBJECT: &str = "The request body must be a JSON object with an accountIds array.";
    const NOT_ARRAY: &str = "accountIds must be an array of strings.";
    const REPEATED: &str = "The request body names accountIds or includeUnresolved more than once.";
    const NOT_BOOL: &str = "includeUnresolved must be true or false.";

    pub fn parse_lookup(body: &[u8], max_account_ids: usize) -> Result<Vec<String>, ApiError> {
        let body = std::str::from_utf8(body).map_err(|_| ApiError::InvalidJson(NOT_JSON))?;
        let raw: RawBody = serde_json::from_str(body)
            .map_err(|e| ApiError::InvalidJson(if e.is_data() { NOT_OBJECT } else { NOT_JSON }))?;
        if raw.repeated {
            return Err(ApiError::InvalidJson(REPEATED));
        }
        match raw.include_unresolved {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(_)) => {}
            Some(_) => return Err(ApiError::InvalidJson(NOT_BOOL)),
        }
        let items = match raw.account_ids {
            Some(serde_json::Value::Array(items)) => items,
            _ => return Err(ApiError::InvalidJson(NOT_ARRAY)),
        };
        let mut seen = HashSet::with_capacity(items.len());
        let mut ids = Vec::new();
        for (index, item) in items.into_iter().enumerate() {
            let serde_json::Value::String(id) = item else {
                return Err(ApiError::InvalidJson(NOT_ARRAY));
            };
            check_id(&id).map_err(|reason| ApiError::InvalidAccountId { index, reason })?;
            if seen.insert(id.clone()) {
                ids.push(id);
            }
        }
        if ids.len() > max_account_ids {
            return Err(ApiError::TooManyAccountIds {
                max: max_account_ids,
            });
        }
        Ok(ids)
    }

    fn check_id(id: &str) -> Result<(), &'static str> {
        if id.is_empty() {
            return Err("is empty");
        }
        if id.chars().count() > MAX_ID_CHARS {
            return Err("is longer than 128 characters");
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("holds whitespace or control characters");
        }
        Ok(())
    }
}

/// The answer's status and code for a parse result.
fn outcome<T>(result: &Result<T, ApiError>) -> (u16, &'static str) {
    match result {
        Ok(_) => (200, ""),
        Err(e) => (e.status(), e.code()),
    }
}

/// Measures the request body, read and parsed, for each hostile body; prints; returns the rows.
fn measure_requests() -> Result<Value> {
    let max_ids = identity_accessor::config::DEFAULT_MAX_ACCOUNT_IDS;
    let mut rows = Vec::new();
    println!();
    println!(
        "{:<18} {:>9} {:>8} {:>16} {:>20} {:>20}",
        "request body", "bytes", "answer", "before (peak)", "now, Content-Length", "now, chunked"
    );
    for h in hostile::bodies(max_ids) {
        ensure!(h.body.len() <= MAX_BODY_BYTES && MAX_ID_CHARS == 128);
        let declared = Some(h.body.len() as u64);
        let (before, old) = peak_of(|| {
            let body = old_read(&h.body);
            old_request::parse_lookup(&body, max_ids).map(|ids| ids.len())
        });
        let mut now = [0; 2];
        let mut new = Vec::new();
        for (slot, declared) in now.iter_mut().zip([declared, None]) {
            let (peak, result) = peak_of(|| {
                let body = new_read(&h.body, declared);
                parse_lookup(&body, max_ids).map(|r| r.ids.len())
            });
            *slot = peak;
            new.push(result);
        }
        let answer = outcome(&new[0]);
        ensure!(
            answer == outcome(&new[1])
                && (answer.0, Some(answer.1).filter(|c| !c.is_empty())) == (h.status, h.code),
            "{}: answered {answer:?}, expected {} {:?}",
            h.name,
            h.status,
            h.code
        );
        ensure!(
            outcome(&old) == answer && old.as_ref().ok() == new[0].as_ref().ok(),
            "{}: the two parsers disagree",
            h.name
        );
        let kib = |b: usize| format!("{:.0} KiB", b as f64 / 1024.0);
        println!(
            "{:<18} {:>9} {:>8} {:>16} {:>20} {:>20}",
            h.name,
            h.body.len(),
            answer.0,
            kib(before),
            kib(now[0]),
            kib(now[1])
        );
        rows.push(json!({
            "body": h.name, "body_bytes": h.body.len(), "status": answer.0, "code": answer.1,
            "peak_heap_bytes_before": before,
            "peak_heap_bytes_now_content_length": now[0],
            "peak_heap_bytes_now_chunked": now[1],
        }));
    }
    println!("(read in 16 KiB chunks, then parsed; the chunk copies are counted too)");
    Ok(Value::Array(rows))
}

/// Measures both parsers and prints; returns the JSON report.
pub fn measure() -> Result<Value> {
    let pages = measure_pages()?;
    let upstream_reads = measure_upstream_reads()?;
    let requests = measure_requests()?;
    Ok(json!({ "pages": pages, "upstream_reads": upstream_reads, "requests": requests }))
}

/// `bench parse-memory`: measures, prints, writes `target/bench/parse-memory.json`.
pub fn run() -> Result<()> {
    let rows = measure()?;
    let path = env::out_dir()?.join("parse-memory.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)? + "\n")?;
    println!("wrote {}", path.display());
    Ok(())
}
