//! Sending a formatted message: over SMTP with lettre, or as `.eml` files when no
//! `[smtp]` is configured (lettre's file transport).
//!
//! Every message has a deadline for its whole delivery (`smtp.send_timeout`): lettre's own
//! `timeout` only bounds connecting, and a relay that accepts the connection and then stays
//! silent would otherwise hold the delivery for ever.

use std::path::PathBuf;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Config, Security};

/// Where messages go.
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        shown: String,
        /// Limit on one message's whole delivery.
        deadline: Duration,
    },
    Files {
        dir: PathBuf,
        transport: AsyncFileTransport<Tokio1Executor>,
    },
}

/// Limit on writing one message to a file.
const FILE_DEADLINE: Duration = Duration::from_secs(60);

/// Where a message went.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivered {
    /// Accepted by the relay (shown as `smtp://host:port (security)`).
    Sent { via: String },
    /// Written to a file; nobody was emailed.
    Written { file: String },
}

/// A message could not be sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// The server refused the message for good (not: credentials, connection, 4xx).
    pub permanent: bool,
    /// No answer from the relay at all (connection refused, TLS failure, silence until
    /// the deadline): other messages would fare no better right now.
    pub unreachable: bool,
    pub message: String,
}

impl SendError {
    fn transient(message: String) -> SendError {
        SendError {
            permanent: false,
            unreachable: false,
            message,
        }
    }
}

/// SMTP reply codes that mean "your credentials or setup", not "this message": the
/// message stays queued until the settings are fixed.
const SETUP_CODES: &[&str] = &["530", "534", "535", "538"];

impl Mailer {
    pub fn new(config: &Config) -> Result<Mailer, SendError> {
        let Some(smtp) = &config.smtp else {
            let dir = config.data_dir.join("mail");
            std::fs::create_dir_all(&dir).map_err(|e| {
                SendError::transient(format!("cannot create {}: {e}", dir.display()))
            })?;
            return Ok(Mailer::Files {
                transport: AsyncFileTransport::new(&dir),
                dir,
            });
        };
        let setup = |e: lettre::transport::smtp::Error| {
            SendError::transient(format!("SMTP settings for {}: {e}", smtp.host))
        };
        let tls_params = || -> Result<TlsParameters, SendError> {
            let mut b = TlsParameters::builder(smtp.host.clone());
            if let Some(pem) = &smtp.ca_pem {
                b = b.add_root_certificate(Certificate::from_pem(pem).map_err(setup)?);
            }
            b.build().map_err(setup)
        };
        let tls = match smtp.security {
            Security::None => Tls::None,
            Security::Starttls => Tls::Required(tls_params()?),
            Security::Tls => Tls::Wrapper(tls_params()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            .port(smtp.port)
            .tls(tls)
            .timeout(Some(smtp.timeout));
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        let security = match smtp.security {
            Security::None => "plain",
            Security::Starttls => "STARTTLS",
            Security::Tls => "TLS",
        };
        Ok(Mailer::Smtp {
            transport: builder.build(),
            shown: format!("smtp://{}:{} ({security})", smtp.host, smtp.port),
            deadline: smtp.send_timeout,
        })
    }

    /// Where messages go, for people.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp { shown, .. } => shown.clone(),
            Mailer::Files { dir, .. } => {
                format!("files in {} (nothing is emailed)", dir.display())
            }
        }
    }

    /// Whether messages really leave by email (not: written to files).
    pub fn emails(&self) -> bool {
        matches!(self, Mailer::Smtp { .. })
    }

    /// The longest one [`Mailer::send`] takes.
    pub fn deadline(&self) -> Duration {
        match self {
            Mailer::Smtp { deadline, .. } => *deadline,
            Mailer::Files { .. } => FILE_DEADLINE,
        }
    }

    /// Sends `message` (formatted RFC 5322) from `from` to `to`, giving up after
    /// [`Mailer::deadline`] (the message is then not known to be sent: it stays queued).
    pub async fn send(
        &self,
        from: &str,
        to: &[String],
        message: &[u8],
    ) -> Result<Delivered, SendError> {
        let address = |a: &str| {
            a.parse::<Address>().map_err(|e| SendError {
                permanent: true,
                unreachable: false,
                message: format!("`{a}` is not an address: {e}"),
            })
        };
        let to = to
            .iter()
            .map(|a| address(a))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope = Envelope::new(Some(address(from)?), to).map_err(|e| SendError {
            permanent: true,
            unreachable: false,
            message: format!("no recipients: {e}"),
        })?;
        let deadline = self.deadline();
        match tokio::time::timeout(deadline, self.send_envelope(&envelope, message)).await {
            Ok(result) => result,
            Err(_) => Err(SendError {
                permanent: false,
                unreachable: true,
                message: format!(
                    "{} did not finish the delivery within {} (smtp.send_timeout); the message stays queued",
                    self.describe(),
                    humantime::format_duration(deadline)
                ),
            }),
        }
    }

    async fn send_envelope(
        &self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Delivered, SendError> {
        match self {
            Mailer::Smtp {
                transport, shown, ..
            } => match transport.send_raw(envelope, message).await {
                Ok(_) => Ok(Delivered::Sent { via: shown.clone() }),
                Err(e) => {
                    let code = e.status().map(|c| c.to_string());
                    let setup = code.as_deref().is_some_and(|c| SETUP_CODES.contains(&c));
                    let message = match code.as_deref() {
                        Some(c) if SETUP_CODES.contains(&c) => format!(
                            "{shown} refused the login ({c}): check smtp.username and the password: {e}"
                        ),
                        _ if e.is_timeout() => format!("{shown} did not answer in time: {e}"),
                        _ => format!("{shown}: {e}"),
                    };
                    Err(SendError {
                        permanent: e.is_permanent() && !setup,
                        // No reply code at all: the relay was not reached or did not talk.
                        unreachable: code.is_none(),
                        message,
                    })
                }
            },
            Mailer::Files { dir, transport } => transport
                .send_raw(envelope, message)
                .await
                .map(|id| Delivered::Written {
                    file: dir.join(format!("{id}.eml")).display().to_string(),
                })
                .map_err(|e| SendError::transient(format!("writing to {}: {e}", dir.display()))),
        }
    }
}
