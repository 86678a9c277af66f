//! Printers: evidence turned into words for people. Nothing here decides a verdict.

pub mod digest;
pub mod email;
mod html;
mod text;

pub use html::esc as email_escape;
pub use text::{history_table, run_summary, status_table};
