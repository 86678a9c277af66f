//! `[[targets.validate]]`: how restored files are validated beyond their hash.

use std::path::Path;
use std::time::Duration;

use super::raw::RawTarget;
use super::{ConfigError, PathFilter};

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

/// The validators of target `t` (the `index`-th, from 0); errors name their keys.
pub(super) fn validators(
    t: &RawTarget,
    file: &Path,
    source: &str,
    index: usize,
    errors: &mut Vec<ConfigError>,
) -> Vec<FileValidator> {
    use super::raw::ValidateKind as K;
    let mut out = Vec::new();
    for (n, v) in t.validate.iter().enumerate() {
        let key = |k: &str| format!("targets[{}].validate[{}].{k}", index + 1, n + 1);
        let validator = match (*v.kind.get_ref(), &v.command) {
            (K::Command, None) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    v.kind.span(),
                    key("command"),
                    "kind = \"command\" needs command = [\"program\", \"arg\", \"{file}\"]",
                ));
                continue;
            }
            (K::Command, Some(c)) if c.get_ref().is_empty() || c.get_ref()[0].is_empty() => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    c.span(),
                    key("command"),
                    "names no program",
                ));
                continue;
            }
            (K::Command, Some(c)) => {
                let timeout = match &v.timeout {
                    None => std::time::Duration::from_secs(600),
                    Some(t) => match humantime::parse_duration(t.get_ref().trim()) {
                        Ok(d) if !d.is_zero() => d,
                        _ => {
                            errors.push(ConfigError::at_key(
                                file,
                                source,
                                t.span(),
                                key("timeout"),
                                format!("`{}` is not a duration such as \"5m\"", t.get_ref()),
                            ));
                            continue;
                        }
                    },
                };
                let mut argv = c.get_ref().clone();
                // `scripts/check.sh` is beside the job file; `pg_restore` is looked up in PATH.
                if argv[0].contains('/') {
                    argv[0] = super::load::folder_of(file)
                        .join(&argv[0])
                        .display()
                        .to_string();
                }
                Validator::Command { argv, timeout }
            }
            (_, Some(c)) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    c.span(),
                    key("command"),
                    "only kind = \"command\" takes a command",
                ));
                continue;
            }
            (K::Zip, None) => Validator::Zip,
            (K::Gzip, None) => Validator::Gzip,
            (K::Tar, None) => Validator::Tar,
            (K::TarGz, None) => Validator::TarGz,
            (K::Sqlite, None) => Validator::Sqlite,
        };
        // The glob was checked while parsing; building its matcher can still fail (a
        // pattern too large), which is the file's error too, not a panic.
        let files = match PathFilter::new(vec![v.files.clone()], Vec::new()) {
            Ok(f) => f,
            Err(e) => {
                errors.push(ConfigError::at_key(
                    file,
                    source,
                    v.kind.span(),
                    key("files"),
                    format!("`{}`: {e}", v.files),
                ));
                continue;
            }
        };
        out.push(FileValidator { files, validator });
    }
    out
}
