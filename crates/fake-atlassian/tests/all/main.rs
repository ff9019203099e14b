//! Integration tests: the fake over real HTTP with a plain client (one test binary).

mod admin;
mod auth;
mod control;
mod email;
mod faults;
mod recording;
mod spec;
mod support;
mod users_bulk;
