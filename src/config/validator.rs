//! `[[targets.validate]]`: how restored files are validated beyond their hash.

use std::time::Duration;

/// What to validate a file with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    Zip,
    Gzip,
    Tar,
    TarGz,
    Sqlite,
    /// `argv` with `{file}` standing for the restored copy.
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
}

impl Validator {
    pub fn label(&self) -> String {
        match self {
            Validator::Zip => "zip".into(),
            Validator::Gzip => "gzip".into(),
            Validator::Tar => "tar".into(),
            Validator::TarGz => "tar.gz".into(),
            Validator::Sqlite => "sqlite".into(),
            Validator::Command { argv, .. } => format!("command {}", argv.join(" ")),
        }
    }
}

/// A validator for the files matching a glob.
#[derive(Debug, Clone)]
pub struct FileValidator {
    pub files: super::PathFilter,
    pub validator: Validator,
}
