//! Email addresses, read exactly as the composer and the transport read them.
//!
//! The configuration checks every address with [`mailbox`] when it is loaded, so an
//! address that passes `backproof check-config` is one a report can be composed for and
//! sent to: the header parser (lettre's [`Mailbox`]), the envelope parser (lettre's
//! [`Address`]) and the message builder all accept it.

use lettre::message::Mailbox;
use lettre::{Address, Message};

/// Reads `text` (`name@example.com` or `Name <name@example.com>`) as a mailbox that
/// messages can be composed for and sent to; the error says why not.
pub fn mailbox(text: &str) -> Result<Mailbox, String> {
    let refused = |why: String| format!("`{text}` is not an email address backproof can send to ({why})");
    let mailbox: Mailbox = text.trim().parse().map_err(|e| refused(format!("{e}")))?;
    mailbox
        .email
        .as_ref()
        .parse::<Address>()
        .map_err(|e| refused(format!("as an envelope address: {e}")))?;
    Message::builder()
        .from(mailbox.clone())
        .to(mailbox.clone())
        .subject("check")
        .body(String::new())
        .map_err(|e| refused(format!("a message to it cannot be built: {e}")))?;
    Ok(mailbox)
}
