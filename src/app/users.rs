//! The accounts that sign in to the web pages: `backproof user add|passwd|remove|list`,
//! the same through the daemon's API, and the pages' sign-in.
//!
//! Passwords are kept only as argon2id hashes (PHC strings, random salt) in the catalog's
//! `users` tree; no password or hash is ever logged, printed or sent back. A new password
//! changes the account's stamp, which ends the sessions opened with the old one.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::catalog::Role;
use crate::catalog::{Catalog, UserRecord};

use super::AppError;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
const MAX_NAME: usize = 64;

/// An account as listed (no hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub created: DateTime<Utc>,
    pub changed: DateTime<Utc>,
    /// Changes with each new password (not sent over the API).
    #[serde(skip)]
    pub stamp: String,
}

impl From<UserRecord> for UserInfo {
    fn from(r: UserRecord) -> UserInfo {
        UserInfo {
            name: r.name,
            role: r.role,
            created: r.created,
            changed: r.changed,
            stamp: r.stamp,
        }
    }
}

/// `POST /v1/users`: a new account (no `Debug`: it holds a password).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub role: Role,
    pub password: String,
}

/// `POST /v1/users/{user}/password` (no `Debug`: it holds a password).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

/// Letters, digits and `. _ @ -`, at most 64: a name that prints and logs safely.
pub fn check_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::Invalid(format!(
            "`{}` is not a user name: use 1 to {MAX_NAME} letters, digits, `.`, `_`, `@` or `-`",
            crate::format::shown(name)
        )))
    }
}

/// At least [`MIN_PASSWORD`] characters, not only spaces, not the user name.
pub fn check_password(name: &str, password: &str) -> Result<(), AppError> {
    if password.trim().is_empty() {
        return Err(AppError::Invalid("the password is empty".into()));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(AppError::Invalid(format!(
            "the password is too short: use at least {MIN_PASSWORD} characters"
        )));
    }
    if password.eq_ignore_ascii_case(name) {
        return Err(AppError::Invalid(
            "the password must not be the user name".into(),
        ));
    }
    Ok(())
}

fn hash(password: &str) -> Result<String, AppError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| AppError::Failed(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Failed(format!("hashing the password failed: {e}")))
}

fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

fn new_stamp() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Every account, by name.
pub fn list(catalog: &Catalog) -> Result<Vec<UserInfo>, AppError> {
    Ok(catalog.users()?.into_iter().map(UserInfo::from).collect())
}

/// One account, if there is one by that name.
pub fn account(catalog: &Catalog, name: &str) -> Result<Option<UserInfo>, AppError> {
    Ok(catalog.user(name)?.map(UserInfo::from))
}

pub fn add(catalog: &Catalog, user: &NewUser) -> Result<UserInfo, AppError> {
    check_name(&user.name)?;
    check_password(&user.name, &user.password)?;
    if catalog.user(&user.name)?.is_some() {
        return Err(AppError::Conflict(format!(
            "there is already a user `{}` (change the password with `backproof user passwd {}`)",
            user.name, user.name
        )));
    }
    let now = Utc::now();
    let record = UserRecord {
        v: 1,
        name: user.name.clone(),
        role: user.role,
        hash: hash(&user.password)?,
        stamp: new_stamp(),
        created: now,
        changed: now,
    };
    catalog.put_user(&record)?;
    tracing::info!(user = %user.name, role = %user.role, "user added");
    Ok(record.into())
}

fn unknown(name: &str) -> AppError {
    AppError::NotFound(format!(
        "no user `{}` (`backproof user list` lists them)",
        crate::format::shown(name)
    ))
}

/// A new password: the sessions opened with the old one end.
pub fn passwd(catalog: &Catalog, name: &str, password: &str) -> Result<(), AppError> {
    let mut record = catalog.user(name)?.ok_or_else(|| unknown(name))?;
    check_password(name, password)?;
    record.hash = hash(password)?;
    record.stamp = new_stamp();
    record.changed = Utc::now();
    catalog.put_user(&record)?;
    tracing::info!(user = %name, "user password changed");
    Ok(())
}

/// Removes the account (its sessions end). The last admin stays while other accounts
/// remain: someone must be able to manage them.
pub fn remove(catalog: &Catalog, name: &str) -> Result<(), AppError> {
    let record = catalog.user(name)?.ok_or_else(|| unknown(name))?;
    let users = catalog.users()?;
    let admins = users.iter().filter(|u| u.role == Role::Admin).count();
    if record.role == Role::Admin && admins == 1 && users.len() > 1 {
        return Err(AppError::Conflict(format!(
            "`{name}` is the last admin: add another admin first (backproof user add NAME --role admin), or remove the other users"
        )));
    }
    catalog.remove_user(name)?;
    tracing::info!(user = %name, "user removed");
    Ok(())
}

/// The account, if `password` is its password. An unknown name costs the same time as a
/// wrong password (no telling which names exist).
pub fn sign_in(
    catalog: &Catalog,
    name: &str,
    password: &str,
) -> Result<Option<UserInfo>, AppError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    match catalog.user(name)? {
        Some(record) if verify(&record.hash, password) => Ok(Some(record.into())),
        Some(_) => Ok(None),
        None => {
            let dummy = DUMMY.get_or_init(|| hash(&new_stamp()).unwrap_or_default());
            let _ = verify(dummy, password);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_stored_as_an_argon2id_hash_and_only_it_signs_in() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let user = NewUser {
            name: "alice".into(),
            role: Role::Technician,
            password: "correct horse battery".into(),
        };
        add(&catalog, &user).unwrap();
        let record = catalog.user("alice").unwrap().unwrap();
        assert!(record.hash.starts_with("$argon2id$"), "{}", record.hash);
        assert!(!record.hash.contains("correct horse"));
        assert!(!format!("{record:?}").contains(&record.hash));
        assert!(
            sign_in(&catalog, "alice", "correct horse battery")
                .unwrap()
                .is_some()
        );
        assert!(
            sign_in(&catalog, "alice", "correct horse batterY")
                .unwrap()
                .is_none()
        );
        assert!(
            sign_in(&catalog, "bob", "correct horse battery")
                .unwrap()
                .is_none()
        );
        // A new password: a new stamp, the old password no longer signs in.
        passwd(&catalog, "alice", "a much better password").unwrap();
        let changed = catalog.user("alice").unwrap().unwrap();
        assert_ne!(changed.stamp, record.stamp);
        assert!(
            sign_in(&catalog, "alice", "correct horse battery")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_names_short_passwords_duplicates_and_the_last_admin_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(dir.path()).unwrap();
        let new = |name: &str, role, password: &str| NewUser {
            name: name.into(),
            role,
            password: password.into(),
        };
        let invalid = |r: Result<UserInfo, AppError>| matches!(r, Err(AppError::Invalid(_)));
        assert!(invalid(add(
            &catalog,
            &new("", Role::Admin, "long enough password")
        )));
        assert!(invalid(add(
            &catalog,
            &new("a b", Role::Admin, "long enough password")
        )));
        assert!(invalid(add(&catalog, &new("root", Role::Admin, ""))));
        assert!(invalid(add(&catalog, &new("root", Role::Admin, "short"))));
        assert!(invalid(add(
            &catalog,
            &new("rootrootroot", Role::Admin, "ROOTROOTROOT")
        )));
        add(&catalog, &new("root", Role::Admin, "long enough password")).unwrap();
        assert!(matches!(
            add(&catalog, &new("root", Role::Viewer, "another password")),
            Err(AppError::Conflict(_))
        ));
        add(&catalog, &new("eve", Role::Viewer, "long enough password")).unwrap();
        assert!(matches!(
            remove(&catalog, "root"),
            Err(AppError::Conflict(_))
        ));
        assert!(matches!(
            remove(&catalog, "nobody"),
            Err(AppError::NotFound(_))
        ));
        remove(&catalog, "eve").unwrap();
        remove(&catalog, "root").unwrap();
        assert!(list(&catalog).unwrap().is_empty());
    }
}
