//! End to end: the real api-gateway, queue-workers and events-broadcasters as processes,
//! against real Redis and a real database, driven only through HTTP and WebSocket.

mod access;
mod deploy;
mod flow;
mod mcp;
mod resilience;
mod stack;
mod tracing;
