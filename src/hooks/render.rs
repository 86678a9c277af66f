//! An event as each kind of webhook expects it: the signed JSON payload (generic), or a
//! short message in the shape the service documents (Slack, Teams, ntfy).

use serde_json::json;

use crate::config::WebhookKind;

use super::event::{Event, Severity};

/// A request body and its headers.
pub struct Rendered {
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub fn render(event: &Event, kind: WebhookKind) -> Rendered {
    let json_body = |v: serde_json::Value| Rendered {
        content_type: "application/json".into(),
        headers: Vec::new(),
        body: v.to_string(),
    };
    match kind {
        WebhookKind::Generic => json_body(event.payload()),
        // https://api.slack.com/messaging/webhooks: `text` (mrkdwn).
        WebhookKind::Slack => {
            let emoji = match event.severity {
                Severity::Critical => ":rotating_light:",
                Severity::Warning => ":warning:",
                Severity::Info => ":information_source:",
                Severity::Resolved => ":white_check_mark:",
            };
            json_body(json!({
                "text": format!("{emoji} *{}*\n{}", slack_escape(&event.title), slack_escape(&event.text)),
            }))
        }
        // Teams workflows ("When a Teams webhook request is received"): a message with an
        // Adaptive Card attachment.
        WebhookKind::Teams => {
            let color = match event.severity {
                Severity::Critical => "Attention",
                Severity::Warning => "Warning",
                Severity::Info => "Default",
                Severity::Resolved => "Good",
            };
            json_body(json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": event.title, "weight": "Bolder",
                             "size": "Medium", "color": color, "wrap": true},
                            {"type": "TextBlock", "text": event.text, "wrap": true},
                        ],
                    },
                }],
            }))
        }
        // https://docs.ntfy.sh/publish/: the message as the body, Title/Priority/Tags.
        WebhookKind::Ntfy => {
            let (priority, tags) = match event.severity {
                Severity::Critical => ("high", "rotating_light"),
                Severity::Warning => ("default", "warning"),
                Severity::Info => ("low", "information_source"),
                Severity::Resolved => ("default", "white_check_mark"),
            };
            Rendered {
                content_type: "text/plain; charset=utf-8".into(),
                headers: vec![
                    ("Title".into(), header_safe(&event.title)),
                    ("Priority".into(), priority.into()),
                    ("Tags".into(), format!("{tags},backproof")),
                ],
                body: event.text.clone(),
            }
        }
    }
}

/// Slack's three control characters.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A header value: printable ASCII only (ntfy also reads RFC 2047, but keep it simple).
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}
