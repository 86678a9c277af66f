//! The application layer: what the command line and the daemon do, written once.
//!
//! - [`runs`]: the run service: verify a job, queue its report, record both in one
//!   transaction, write the evidence file;
//! - [`evidence_files`]: where evidence documents are written as files.

pub mod evidence_files;
pub mod runs;
