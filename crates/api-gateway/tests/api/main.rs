//! The gateway as a client sees it: the real server on port 0, a real SQLite database of the
//! test's own, the real Redis (a queue of the test's own), and a real HTTP client.

mod helpers;

mod accounts;
mod auth;
mod backends;
mod dashboard;
mod edges;
mod failures;
mod fuzz;
mod jobs;
mod openapi;
mod security;
mod subcommands;
