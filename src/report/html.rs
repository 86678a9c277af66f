//! Small helpers for HTML meant for email clients.

use crate::evidence::Verdict;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coloured verdict label that survives clients without CSS support (text stays).
pub fn verdict_badge(v: Verdict) -> String {
    let (bg, fg) = match v {
        Verdict::Pass => ("#dcfce7", "#166534"),
        Verdict::Warn => ("#fef3c7", "#92400e"),
        Verdict::Error => ("#e0e7ff", "#3730a3"),
        Verdict::Fail => ("#fee2e2", "#991b1b"),
    };
    format!(
        r#"<span style="display:inline-block;padding:1px 6px;border-radius:3px;background:{bg};color:{fg};font-weight:bold;font-size:12px;font-family:Arial,Helvetica,sans-serif;">{}</span>"#,
        v.label()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
