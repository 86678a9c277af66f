//! Tree `users`: user name → [`UserRecord`], the accounts that sign in to the web pages
//! (see [`crate::app::users`]). The password is kept only as an argon2id hash (a PHC
//! string), never shown: `Debug` leaves it out.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Catalog, Result};

/// What an account may do on the pages. Ordered: each role may do what the ones before
/// it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page.
    Viewer,
    /// Also starts runs ("Test now") and acknowledges problems.
    Technician,
    /// Also manages the accounts.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Technician => "technician",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Role, String> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "technician" => Ok(Role::Technician),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "`{other}` is not a role (viewer, technician or admin)"
            )),
        }
    }
}

/// One account.
#[derive(Clone, Serialize, Deserialize)]
pub struct UserRecord {
    pub v: u32,
    pub name: String,
    pub role: Role,
    /// The argon2id hash of the password (PHC string).
    pub hash: String,
    /// Changes with each new password: sessions opened before it end.
    pub stamp: String,
    pub created: DateTime<Utc>,
    pub changed: DateTime<Utc>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    fn user_tree(&self) -> Result<sled::Tree> {
        self.db.open_tree("users").map_err(|e| self.db_err(e))
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRecord>> {
        let tree = self.user_tree()?;
        self.get(&tree, name.as_bytes())
    }

    /// Every account, by name.
    pub fn users(&self) -> Result<Vec<UserRecord>> {
        let tree = self.user_tree()?;
        let mut out = Vec::new();
        for kv in tree.iter() {
            let (k, v) = kv.map_err(|e| self.db_err(e))?;
            out.push(super::decode(&k, &v)?);
        }
        Ok(out)
    }

    pub fn put_user(&self, user: &UserRecord) -> Result<()> {
        let tree = self.user_tree()?;
        self.put(&tree, user.name.as_bytes().to_vec(), user)?;
        self.flush()
    }

    /// Removes the account; `false` if there was none.
    pub fn remove_user(&self, name: &str) -> Result<bool> {
        let tree = self.user_tree()?;
        let removed = tree.remove(name.as_bytes()).map_err(|e| self.db_err(e))?;
        self.flush()?;
        Ok(removed.is_some())
    }
}
