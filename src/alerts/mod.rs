//! Following up open problems: a reminder every `remind_every` while a problem stays open
//! and unacknowledged, escalation to `escalate_to` after `escalate_after`, each threaded
//! under the report that opened the problem. Driven by the daemon on its clock
//! ([`crate::daemon::clock`]), so tests can run days in milliseconds ([`remind`]); the
//! problem's key in report subjects and the threading of every message about one problem
//! ([`thread`]); one closing message per alerted problem ([`close`]).

pub mod close;
pub mod flapping;
pub mod remind;
pub mod thread;
