//! Configuration: the global `backproof.toml` and one TOML file per client in `jobs.d/`.
//!
//! [`load`] reads everything, checks everything and reports all errors of all files
//! together, each naming its file, line and key. What comes out is validated: the rest of
//! the program never sees a raw value.
//!
//! - `model`: the validated types ([`Config`], [`Job`], [`TargetSpec`]);
//! - `load`: reading and checking the files;
//! - `raw` (private): the serde structs exactly as written, strict about unknown keys;
//! - `daemon`, `policy`, `location`, `smtp`, `schedule`, `secret`,
//!   `validator`, `options`: each part of the model with its own validation;
//! - `dirs`: whether this user may work in `data_dir` and `scratch_dir`.
//!
//! Config is the lowest layer: it imports nothing of the crate.

mod address;
mod alerts;
mod daemon;
mod dirs;
mod error;
mod load;
mod location;
mod model;
mod options;
mod policy;
mod raw;
mod restic;
mod schedule;
mod secret;
mod smtp;
mod suggest;
mod target;
mod validator;

pub use address::mailbox;
pub use alerts::{
    AlertPolicy, BySeverity, Heartbeat, Maintenance, Ping, PingFormat, PingUrl, Severity,
    WEBHOOK_EVENTS, Webhook, WebhookKind,
};
pub use daemon::{DaemonConfig, TlsFiles};
pub use dirs::{FolderProblem, check_folders};
pub use error::{ConfigError, ConfigErrors};
pub use load::{load, system_timezone};
pub use location::{Encryption, Location, S3Location, SmbLocation, TargetUrl};
pub use model::{
    Canary, Config, DEFAULT_CONFIG_PATH, DEFAULT_DATA_DIR, DEFAULT_DIGEST_SCHEDULE, Job, TargetSpec,
};
pub use options::{Budget, FollowSymlinks, Format, Notify, OnRansomware, RestoreMode};
pub use policy::{PathFilter, Policy};
pub use schedule::Schedule;
pub use secret::Secret;
pub use smtp::{Security, SmtpConfig};
pub use validator::{FileValidator, Validator};
