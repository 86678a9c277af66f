//! Secrets (S3 secret keys, SMB passwords): read from a file or an environment variable,
//! held in a type that never prints its value.

use std::fmt;

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

/// Where a secret was configured: `<name>_file`, `<name>_env` or `<name>` itself.
pub struct SecretKeys<'a> {
    /// The key's base name, e.g. `secret_access_key` or `password`.
    pub name: &'static str,
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
    if let Some(path) = keys.file {
        let problem = |message: String| SecretProblem {
            key: format!("{name}_file"),
            span: Some(path.span()),
            message,
        };
        let text = std::fs::read_to_string(path.get_ref())
            .map_err(|e| problem(format!("cannot read {}: {e}", path.get_ref())))?;
        let value = text.trim_end_matches(['\n', '\r']);
        if value.is_empty() {
            return Err(problem(format!("{} is empty", path.get_ref())));
        }
        return Ok((Secret::new(value), None));
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
