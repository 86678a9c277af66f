//! Email addresses, read exactly as the composer and the transport read them (the mail
//! side uses [`mailbox`] too).
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
    let refused =
        |why: String| format!("`{text}` is not an email address backproof can send to ({why})");
    let mailbox: Mailbox = text.trim().parse().map_err(|e| refused(format!("{e}")))?;
    mailbox
        .email
        .to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_can_be_sent_and_refuses_the_rest() {
        for good in [
            "noc@msp.example",
            "backproof <backproof@msp.example>",
            "first.last+tag@sub.msp.example",
        ] {
            assert!(mailbox(good).is_ok(), "{good}: {:?}", mailbox(good));
        }
        for bad in [
            r#""a b"@example.com"#,
            r#""a..b"@example.com"#,
            "a@[127.0.0.1]",
            "not an address",
            "a@",
        ] {
            let e = mailbox(bad).expect_err(bad);
            assert!(e.contains(bad), "{e}");
        }
    }
}
