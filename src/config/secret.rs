//! Secrets (S3 secret keys, SMB passwords): read from a file or an environment variable,
//! held in a type that never prints its value.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use toml::Spanned;

/// A secret value. `Debug` shows `<redacted>`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for handing to a client library. Never log or format it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Whether a configuration key (its last dotted part) holds a secret value, which
/// messages must never show.
pub fn is_secret_key(key: &str) -> bool {
    matches!(key, "password" | "secret_access_key")
        || ["_password", "_secret", "_token"]
            .iter()
            .any(|s| key.ends_with(s))
}

/// Where a secret was configured: `<name>_file`, `<name>_env` or `<name>` itself.
pub struct SecretKeys<'a> {
    /// The key's base name, e.g. `secret_access_key` or `password`.
    pub name: &'static str,
    /// The folder of the configuration file naming them: a relative `<name>_file` is
    /// relative to it.
    pub base: &'a Path,
    pub file: Option<&'a Spanned<String>>,
    pub env: Option<&'a Spanned<String>>,
    pub inline: Option<&'a Spanned<String>>,
}

/// A problem with a secret, at the key that configured it.
pub struct SecretProblem {
    pub key: String,
    pub span: Option<std::ops::Range<usize>>,
    pub message: String,
}

/// The secret, and a warning if it was written inline in a readable file.
pub fn resolve(keys: SecretKeys<'_>) -> Result<(Secret, Option<SecretProblem>), SecretProblem> {
    let name = keys.name;
    let given = [
        keys.file.is_some(),
        keys.env.is_some(),
        keys.inline.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(SecretProblem {
            key: name.to_string(),
            span: None,
            message: format!(
                "give exactly one of `{name}_file` (a file holding it), `{name}_env` (an environment variable) or `{name}`; {given} given"
            ),
        });
    }
    if let Some(given) = keys.file {
        let path = keys.base.join(given.get_ref());
        let problem = |message: String| SecretProblem {
            key: format!("{name}_file"),
            span: Some(given.span()),
            message,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
        let value = text.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(problem(format!("{} is empty", path.display())));
        }
        let warning = readable_by_everyone(&path).map(|mode| {
            problem(format!(
                "{p} can be read by every user of this machine (mode {mode:04o}); make it readable by backproof only: `chmod 600 {p}` with the file owned by the user backproof runs as, or `chown root:backproof {p} && chmod 640 {p}`",
                p = path.display()
            ))
        });
        return Ok((Secret::new(value), warning));
    }
    if let Some(var) = keys.env {
        return match std::env::var(var.get_ref()) {
            Ok(v) if !v.is_empty() => Ok((Secret::new(v), None)),
            _ => Err(SecretProblem {
                key: format!("{name}_env"),
                span: Some(var.span()),
                message: format!("environment variable {} is not set or empty", var.get_ref()),
            }),
        };
    }
    let inline = keys.inline.expect("exactly one is given");
    if inline.get_ref().is_empty() {
        return Err(SecretProblem {
            key: name.to_string(),
            span: Some(inline.span()),
            message: "is empty".into(),
        });
    }
    let warning = SecretProblem {
        key: name.to_string(),
        span: Some(inline.span()),
        message: format!(
            "the secret is written in the configuration file; move it to a file readable only by backproof (`{name}_file`) or to `{name}_env`"
        ),
    };
    Ok((Secret::new(inline.get_ref().clone()), Some(warning)))
}

/// The mode of `path` if every user of the machine can read it: the file is readable by
/// others and every folder above it can be entered by others.
pub fn readable_by_everyone(path: &Path) -> Option<u32> {
    let real: PathBuf = std::fs::canonicalize(path).ok()?;
    let mode = std::fs::metadata(&real).ok()?.permissions().mode() & 0o7777;
    if mode & 0o004 == 0 {
        return None;
    }
    let folders_open = real
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    folders_open.then_some(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "secret_access_key",
            "smtp_password",
            "api_token",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "password_file",
            "password_env",
            "secret_access_key_file",
            "username",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn world_readable_only_when_reachable() {
        let dir = tempfile::tempdir().unwrap();
        let set = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        set(dir.path(), 0o755);
        let file = dir.path().join("secret");
        std::fs::write(&file, "x").unwrap();
        set(&file, 0o644);
        // The temporary folder's parents (/tmp) let everyone in.
        assert_eq!(readable_by_everyone(&file), Some(0o644));
        set(&file, 0o640);
        assert_eq!(readable_by_everyone(&file), None);
        set(&file, 0o644);
        set(dir.path(), 0o750);
        assert_eq!(
            readable_by_everyone(&file),
            None,
            "a closed folder protects it"
        );
    }
}
