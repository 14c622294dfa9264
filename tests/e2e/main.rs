//! End to end: the real api-gateway, queue-workers and events-broadcasters as processes,
//! against real Redis and a real database, driven only through HTTP, WebSocket and Socket.IO.

mod access;
mod approvals;
mod browser;
mod dashboard;
mod dependencies;
mod deploy;
mod fairness;
mod flow;
mod mcp;
mod resilience;
mod socketio;
mod stack;
mod tracing;
mod usage;
