//! Following up open problems after a run: one closing message per alerted problem
//! ([`close`]) and flapping problems told once ([`flapping`]). Reminders, escalation and
//! held alerts run in the daemon on its clock (`crate::daemon::remind`); the problem's key
//! in subjects and the threading of every message about one problem are in
//! `crate::mail::thread`.

pub mod close;
pub mod flapping;
