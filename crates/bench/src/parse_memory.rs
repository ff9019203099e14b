//! `bench parse-memory`: the peak heap of parsing one upstream page of the largest size the
//! component reads (`MAX_RESPONSE_BYTES`, 2 MiB), natively, with a counting global allocator.
//!
//! Each page is parsed twice: by the component's parsers (`admin::parse_page`,
//! `confluence::parse_bulk`, which filter rows as they are read) and by a copy of the code
//! before that change (the whole row array collected into `(Option<String>, Option<String>)`
//! pairs, then filtered), so the table shows what the streaming filter saves. The peak is the
//! heap allocated above what was live when the parse began (the body itself is already held);
//! the component's wasm allocator asks the host for at least that much linear memory.
//! Writes `target/bench/parse-memory.json`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::{ensure, Result};
use identity_accessor::handler::MAX_RESPONSE_BYTES;
use identity_accessor::upstream::{admin, confluence};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::env;

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
    // Blocks allocated before counting began may be freed during it: never below zero.
    let _ = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
        Some(live.saturating_sub(bytes))
    });
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
    let head = format!("{{\"{rows_field}\":[");
    let tail: String = tail_rows.join(",");
    let end = "]}";
    let room = MAX_RESPONSE_BYTES - head.len() - tail.len() - end.len() - 1;
    let count = room / (row.len() + 1);
    let mut body = String::with_capacity(MAX_RESPONSE_BYTES);
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

/// Measures and prints; returns the JSON rows.
pub fn measure() -> Result<Value> {
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

/// `bench parse-memory`: measures, prints, writes `target/bench/parse-memory.json`.
pub fn run() -> Result<()> {
    let rows = measure()?;
    let path = env::out_dir()?.join("parse-memory.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)? + "\n")?;
    println!("wrote {}", path.display());
    Ok(())
}
