//! The events-broadcaster binary, driven over real HTTP and WebSocket.

mod delivery;
mod faults;
mod frames;
mod handshake;
mod helpers;
mod resume;
