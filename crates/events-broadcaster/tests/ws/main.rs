//! The events-broadcaster binary, driven over real HTTP, WebSocket and Socket.IO.

mod delivery;
mod faults;
mod frames;
mod handshake;
mod helpers;
mod resume;
mod socketio;
