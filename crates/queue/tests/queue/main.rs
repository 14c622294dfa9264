//! The queue against a real Redis (`REDIS_URL`, default 127.0.0.1:6379). Every test uses a
//! queue of its own, so they all run in parallel; tests that kill connections start a
//! `redis-server` of their own.

mod helpers;

mod cancel;
mod dependencies;
mod events;
mod fencing;
mod lifecycle;
mod ordering;
mod partitions;
mod resilience;
mod retention;
mod runner;
