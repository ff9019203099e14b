//! The admin page: `GET /admin` (and its script and stylesheet) and `GET /admin/status`.
//!
//! The page is four static files embedded in the component (`src/admin/`): one HTML page, its
//! script, its stylesheet and its icon, served with `Content-Security-Policy: default-src 'self'` — no
//! inline script or style, no external asset. The page asks for an API key in a masked text
//! field outside any form (not a password field, which browsers offer to save),
//! keeps it in one JavaScript variable only (no storage, no cookie, no URL) and sends it as
//! `X-Api-Key` to `/admin/status` and, for a test lookup, to `POST /`. Its **Generate key**
//! makes a key in the browser (`crypto.getRandomValues`: 32 characters of `A-Z a-z 0-9 -_.+=:`,
//! which pass [`crate::auth::check_strength`] and need no quoting in the commands shown), its
//! `sha256:` form (`crypto.subtle`, where the page is a secure context) and the commands that
//! set it; none of it is sent anywhere.
//!
//! `/admin/status` is authenticated exactly like `POST /` and reports, for a person:
//! - the component version and whether the configuration loads;
//! - the active sources, in the order they are asked;
//! - each variable the component reads, by name, with whether it is set (never its value);
//! - what is missing or invalid (names and fixed reasons);
//! - how many keys `api_key` accepts, and which of them the caller presented: its position in
//!   `api_key` and the first 8 hex digits of its SHA-256 (only the presented key's: showing
//!   every key's fingerprint to any key holder helps guess a weak key offline);
//! - a live check per source: one minimal call, one attempt, at most [`CHECK_TIMEOUT`] (and
//!   never longer than `request_timeout_ms`), classified as `ok` (2xx), `credentials_refused`
//!   (401/403/404), `rate_limited` (429) or `unreachable` (anything else, with a reason), with
//!   the upstream status code when there was one and what to fix.
//!
//! It answers even when a source is misconfigured — that is the point of the page — as long as
//! `api_key` itself is valid: without a valid key nobody can authenticate, so that case is
//! `503 not_configured`, as for `POST /`. Nothing in the answer comes from an upstream body, a
//! variable's value, a key, a token or an email.

//!
//! It is split by what it does: [`assets`] serves the static files, [`check`] builds the status
//! answer and runs the live checks, [`shapes`] holds that answer's JSON shapes.

pub mod assets;
pub mod check;
pub mod shapes;

pub use assets::{icon, page, script, stylesheet, PAGE_CSP};
pub use check::{classify_check, status, CHECK_TIMEOUT};
pub use shapes::{Check, CheckStatus, Invalid, Keys, Status, VariableState};
