//! `backproof user add|passwd|remove|list`: the accounts that sign in to the web pages.
//! Works on the catalog, or through the daemon's API when the daemon holds it. The
//! password is read from the terminal twice without echo, or from stdin with
//! `--password-stdin` (for scripts); it is never printed.

use std::io::BufRead;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};

use crate::app::users::Role;
use crate::app::users::{NewUser, check_name, check_password};
use crate::config::Config;

/// `backproof user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add an account: viewers read the pages, technicians also test and acknowledge,
    /// admins also manage the accounts.
    Add {
        /// The user name (letters, digits, `.`, `_`, `@`, `-`).
        name: String,
        /// What the account may do: viewer, technician or admin.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Read the password from the first line of stdin instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give an account a new password (its sessions end).
    Passwd {
        /// The account.
        name: String,
        /// Read the password from the first line of stdin instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove an account (its sessions end).
    Remove {
        /// The account.
        name: String,
    },
    /// List the accounts: name, role, when added, when the password last changed.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Reads every page.
    Viewer,
    /// Also starts runs (Test now) and acknowledges problems.
    Technician,
    /// Also manages the accounts.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Technician => Role::Technician,
            RoleArg::Admin => Role::Admin,
        }
    }
}

pub async fn user(config: &Config, command: UserCommand) -> Result<u8> {
    match &command {
        UserCommand::Add {
            name,
            password_stdin,
            ..
        }
        | UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            check_name(name)?;
            let password = read_password(name, *password_stdin).await?;
            let access = crate::app::connect(&Arc::new(config.clone()))?;
            let service = access.service();
            if let UserCommand::Add { role, .. } = command {
                let user = NewUser {
                    name: name.clone(),
                    role: role.into(),
                    password,
                };
                let added = service.add_user(&user).await?;
                println!("added user {} ({})", added.name, added.role);
            } else {
                service.set_password(name, &password).await?;
                println!("changed the password of {name}; its sessions have ended");
            }
        }
        UserCommand::Remove { name } => {
            check_name(name)?;
            let access = crate::app::connect(&Arc::new(config.clone()))?;
            access.service().remove_user(name).await?;
            println!("removed user {name}");
        }
        UserCommand::List => {
            let access = crate::app::connect(&Arc::new(config.clone()))?;
            let users = access.service().users().await?;
            if users.is_empty() {
                println!("no user accounts (add one: backproof user add NAME --role admin)");
            }
            for u in users {
                println!(
                    "{:<24} {:<10} added {}  password changed {}",
                    u.name,
                    u.role,
                    u.created.format("%Y-%m-%d %H:%M UTC"),
                    u.changed.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
    }
    Ok(0)
}

/// The new password: the first line of stdin, or typed twice on the terminal.
async fn read_password(name: &str, from_stdin: bool) -> Result<String> {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || {
        let password = if from_stdin {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        } else {
            let first = rpassword::prompt_password(format!("New password for {name}: ")).context(
                "reading the password from the terminal (without one, use --password-stdin)",
            )?;
            check_password(&name, &first)?;
            let again = rpassword::prompt_password("The same password again: ")
                .context("reading the password from the terminal")?;
            if again != first {
                bail!("the two passwords differ; nothing was changed");
            }
            first
        };
        check_password(&name, &password)?;
        Ok(password)
    })
    .await
    .context("reading the password")?
}
