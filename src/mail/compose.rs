//! Turning reports into messages: headers, a stable Message-ID, a text part, an HTML part
//! and (for run reports) the evidence document attached as JSON.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};

use crate::config::Config;
use crate::evidence::RunEvidence;
use crate::report::digest::{self, Digest};
use crate::report::email::{self, ReportContext};

/// Who messages come from.
#[derive(Debug, Clone)]
pub struct Sender {
    pub from: Mailbox,
    pub reply_to: Option<Mailbox>,
}

impl Sender {
    /// From `[smtp]`, else `backproof@localhost` (the file transport does not care).
    pub fn from_config(config: &Config) -> Sender {
        match &config.smtp {
            Some(s) => Sender {
                from: s.from.clone(),
                reply_to: s.reply_to.clone(),
            },
            None => Sender {
                from: "backproof <backproof@localhost>"
                    .parse()
                    .expect("a valid mailbox"),
                reply_to: None,
            },
        }
    }

    fn domain(&self) -> String {
        self.from.email.domain().to_string()
    }
}

/// A message could not be composed (no recipient left whose address lettre accepts).
#[derive(Debug, thiserror::Error)]
#[error("cannot compose the message \"{subject}\": {source}")]
pub struct ComposeError {
    pub subject: String,
    #[source]
    pub source: lettre::error::Error,
}

/// A message ready for the outbox.
#[derive(Debug, Clone)]
pub struct Composed {
    pub subject: String,
    pub message_id: String,
    pub to: Vec<String>,
    /// RFC 5322 text.
    pub message: String,
}

fn builder(
    sender: &Sender,
    to: &[String],
    subject: &str,
    message_id: &str,
) -> lettre::message::MessageBuilder {
    let mut b = Message::builder()
        .from(sender.from.clone())
        .subject(subject)
        .message_id(Some(message_id.to_string()))
        .date_now();
    if let Some(r) = &sender.reply_to {
        b = b.reply_to(r.clone());
    }
    for a in to {
        match crate::config::mailbox(a) {
            Ok(m) => b = b.to(m),
            // The configuration refuses such addresses; should one slip through, the
            // others still get the message.
            Err(e) => tracing::error!(subject, "recipient left out: {e}"),
        }
    }
    b
}

fn finish(
    subject: String,
    message_id: String,
    to: &[String],
    message: Result<Message, lettre::error::Error>,
) -> Result<Composed, ComposeError> {
    match message {
        Ok(message) => Ok(Composed {
            subject,
            message_id,
            to: to.to_vec(),
            message: String::from_utf8_lossy(&message.formatted()).into_owned(),
        }),
        Err(source) => Err(ComposeError { subject, source }),
    }
}

/// The per-run report. `document` is the evidence exactly as stored and `hash` its BLAKE3.
pub fn run_report(
    sender: &Sender,
    to: &[String],
    ev: &RunEvidence,
    document: &[u8],
    hash: &str,
    recovery: bool,
) -> Result<Composed, ComposeError> {
    let attachment = format!("backproof-{}-{}.json", ev.job, ev.run_id);
    let ctx = ReportContext {
        hash,
        attachment: &attachment,
        recovery,
    };
    // The problem's key leads the subject; a later report about it replies to the first.
    let thread = crate::mail::thread::of_run(ev);
    let subject = match &thread {
        Some(t) => format!("[{}] {}", t.key, email::subject(ev, recovery)),
        None => email::subject(ev, recovery),
    };
    let message_id = run_report_id(sender, &ev.job, &ev.run_id);
    let body = MultiPart::mixed()
        .multipart(
            MultiPart::alternative()
                .singlepart(SinglePart::plain(email::text(ev, &ctx)))
                .singlepart(SinglePart::html(email::html(ev, &ctx))),
        )
        .singlepart(Attachment::new(attachment.clone()).body(
            document.to_vec(),
            ContentType::parse("application/json").expect("valid"),
        ));
    let mut b = builder(sender, to, &subject, &message_id);
    if let Some(t) = thread.filter(|t| t.opened_run != ev.run_id) {
        let parent = run_report_id(sender, &ev.job, &t.opened_run);
        b = b.in_reply_to(parent.clone()).references(parent);
    }
    let message = b.multipart(body);
    finish(subject, message_id, to, message)
}

/// The weekly summary for owners. `key` makes the Message-ID stable for one week's digest.
pub fn digest(sender: &Sender, to: &[String], d: &Digest) -> Result<Composed, ComposeError> {
    let subject = d.subject();
    let message_id = format!(
        "<digest-{}.{}@{}>",
        d.to.format("%Y%m%d"),
        d.job,
        sender.domain()
    );
    let message = builder(sender, to, &subject, &message_id).multipart(
        MultiPart::alternative_plain_html(digest::text(d), digest::html(d)),
    );
    finish(subject, message_id, to, message)
}

/// A short notice to technicians about the daemon itself (not about a run's evidence).
/// `key` makes the Message-ID stable, so the same notice is never queued twice.
pub fn notice(
    sender: &Sender,
    to: &[String],
    subject: &str,
    text: &str,
    key: &str,
) -> Result<Composed, ComposeError> {
    let message_id = format!("<notice-{key}@{}>", sender.domain());
    let message =
        builder(sender, to, subject, &message_id).multipart(MultiPart::alternative_plain_html(
            format!("{text}\n"),
            format!("<p>{}</p>", crate::report::email_escape(text)),
        ));
    finish(subject.to_string(), message_id, to, message)
}

/// A follow-up about an open problem (reminder, escalation), threaded under the message
/// that opened it (`In-Reply-To` and `References`), so mail clients and PSA parsers
/// attach it to the same conversation or ticket.
pub fn threaded_notice(
    sender: &Sender,
    to: &[String],
    subject: &str,
    text: &str,
    message_id: &str,
    in_reply_to: Option<&str>,
) -> Result<Composed, ComposeError> {
    let mut b = builder(sender, to, subject, message_id);
    if let Some(parent) = in_reply_to {
        b = b
            .in_reply_to(parent.to_string())
            .references(parent.to_string());
    }
    let message = b.multipart(MultiPart::alternative_plain_html(
        format!("{text}\n"),
        format!("<p>{}</p>", crate::report::email_escape(text)),
    ));
    finish(subject.to_string(), message_id.to_string(), to, message)
}

/// The Message-ID of a notice: `key` makes it stable (queued once).
pub fn notice_id(sender: &Sender, key: &str) -> String {
    format!("<notice-{key}@{}>", sender.domain())
}

/// The Message-ID of the run report of `run_id` of `job` (as [`run_report`] makes it).
pub fn run_report_id(sender: &Sender, job: &str, run_id: &str) -> String {
    format!("<run-{run_id}.{job}@{}>", sender.domain())
}

/// `backproof send-test-email`.
pub fn test_message(sender: &Sender, to: &str, host: &str) -> Result<Composed, ComposeError> {
    let now = chrono::Utc::now();
    let subject = format!("backproof test message from {host}");
    let message_id = format!(
        "<test-{}@{}>",
        now.format("%Y%m%d%H%M%S%f"),
        sender.domain()
    );
    let to = vec![to.to_string()];
    let message = builder(sender, &to, &subject, &message_id)
        .multipart(MultiPart::alternative_plain_html(
            format!("This message shows that backproof on {host} can send email with its current settings.\n"),
            format!("<p>This message shows that backproof on {} can send email with its current settings.</p>", crate::report::email_escape(host)),
        ));
    finish(subject, message_id, &to, message)
}
