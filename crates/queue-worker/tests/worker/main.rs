//! The worker with real parts: Redis (a queue of the test's own), SQLite (a file of the
//! test's own), and real agent processes.

mod helpers;

mod agents;
mod containment;
mod faults;
mod http;
mod observe;
mod reconciler;
mod recorder;
mod retention;
