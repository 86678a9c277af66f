//! Alert hooks beside email: dead-man's switch pings of each run ([`ping`]), the daemon's
//! heartbeat ([`heartbeat`]), signed webhooks and chat presets through a durable outbox
//! ([`webhook`], [`event`], [`render`], [`sign`]), over one small HTTP client with a
//! deadline ([`http`]).
//!
//! A hook never changes a verdict and never holds a run: every request has a deadline,
//! runs are recorded before their end ping is sent, and a failed ping is a logged
//! warning. URLs are never logged (they carry the monitor's secret).

pub mod event;
pub mod http;
pub mod ping;
pub mod render;
pub mod sign;
pub mod webhook;
