//! The password of a restic repository target, for keyed mode.
//!
//! `restic_password_file` / `restic_password_env` work on any `format = "restic"` target.
//! On file:// and s3:// targets, which have no password of their own, `password_file` /
//! `password_env` name the repository password too; on smb:// targets those are the
//! share's password.

use toml::Spanned;

use super::Format;
use super::error::ConfigError;
use super::raw::{RawConnection, RawTarget};
use super::secret::{Secret, SecretKeys};
use super::target::Checker;

/// The repository password of `t`, if one is given. Takes `password*` out of `conn` when
/// they are the repository's (so they are not read as a connection password). Problems
/// are recorded in `checker`.
pub fn password(checker: &mut Checker, t: &RawTarget, conn: &mut RawConnection) -> Option<Secret> {
    let own = [
        ("restic_password_file", &t.restic_password_file),
        ("restic_password_env", &t.restic_password_env),
        ("restic_password", &t.restic_password),
    ];
    let given: Vec<(&str, &Spanned<String>)> = own
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)))
        .collect();
    if t.format != Format::Restic {
        for (key, value) in given {
            error(
                checker,
                value,
                key,
                format!("`{key}` applies to `format = \"restic\"` targets only"),
            );
        }
        return None;
    }
    let plain = t.url.get_ref().scheme() != "smb"
        && (conn.password_file.is_some() || conn.password_env.is_some() || conn.password.is_some());
    if plain && let Some((key, value)) = given.first() {
        error(
            checker,
            value,
            key,
            "give the repository password once: either `password_file` / `password_env` or `restic_password_file` / `restic_password_env`",
        );
        return None;
    }
    if plain {
        let (file, env, inline) = (
            conn.password_file.take(),
            conn.password_env.take(),
            conn.password.take(),
        );
        return checker.secret(
            SecretKeys {
                name: "password",
                base: super::load::folder_of(checker.file),
                file: file.as_ref(),
                env: env.as_ref(),
                inline: inline.as_ref(),
            },
            &t.url,
        );
    }
    if given.is_empty() {
        return None;
    }
    checker.secret(
        SecretKeys {
            name: "restic_password",
            base: super::load::folder_of(checker.file),
            file: t.restic_password_file.as_ref(),
            env: t.restic_password_env.as_ref(),
            inline: t.restic_password.as_ref(),
        },
        &t.url,
    )
}

fn error(checker: &mut Checker, value: &Spanned<String>, key: &str, message: impl Into<String>) {
    let e = ConfigError::at_key(
        checker.file,
        checker.source,
        value.span(),
        format!("{}.{key}", checker.prefix),
        message,
    );
    checker.errors.push(e);
}
