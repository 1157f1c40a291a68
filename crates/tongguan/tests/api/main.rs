#![allow(clippy::unwrap_used, clippy::expect_used)]
//! API integration tests: one test binary, a real server on a random port and a fresh database for
//! every test, on SQLite always and on PostgreSQL when `CI` or `TONGGUAN_TEST_PG` is set.

mod harness;

mod audit_trail;
mod auth;
mod authz_matrix;
mod bad_input;
mod cli;
mod crash_safety;
mod import;
mod ind;
mod inv;
mod map;
mod ops;
mod security;
mod users_and_scope;
mod workflow;
