//! Configuration errors that name the file, the line and the key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// Dotted key, e.g. `targets[2].url` or `policy.max_age`.
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    /// A problem with the file as a whole (missing, unreadable).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    /// A problem at a byte range of the file's text; line and key are read off the text.
    pub fn at(file: &Path, source: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let place = locate(source, span.start);
        ConfigError {
            file: file.to_path_buf(),
            line: Some(place.line),
            key: place.dotted(),
            message: message.into(),
        }
    }

    /// A problem at a known key whose place in the text is `span`.
    pub fn at_key(
        file: &Path,
        source: &str,
        span: Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let mut err = Self::at(file, source, span, message);
        err.key = Some(key.into());
        err
    }

    /// Turns a TOML parse or type error into one that names line and key.
    pub fn from_toml(file: &Path, source: &str, err: &toml::de::Error) -> Self {
        let message = err.message().trim().to_string();
        let Some(span) = err.span() else {
            return Self::file(file, message);
        };
        let mut out = Self::at(file, source, span.clone(), message.clone());
        // serde names a missing key only in its message; the span covers the whole table.
        if let Some(missing) = between(&message, "missing field `", "`") {
            out.key = Some(match locate(source, span.start).header {
                Some(table) => format!("{table}.{missing}"),
                None => missing.to_string(),
            });
        }
        // A type error quotes the value (`invalid type: integer `73105597``): never a
        // secret's, nor a URL's credentials.
        let secret = out
            .key
            .as_deref()
            .is_some_and(|k| super::secret::is_secret_key(k.rsplit('.').next().unwrap_or(k)));
        out.message = if secret {
            hide_quoted(&out.message)
        } else {
            super::location::redact_userinfo_in(&out.message)
        };
        out
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the problems found in all configuration files, reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} configuration error{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

struct Place {
    line: usize,
    /// The `[table]` or `[[array]]` header above the place, with its array index.
    header: Option<String>,
    /// The key written on that line (or on the line that opened a multi-line value).
    key: Option<String>,
}

impl Place {
    fn dotted(&self) -> Option<String> {
        match (&self.header, &self.key) {
            (Some(h), Some(k)) => Some(format!("{h}.{k}")),
            (Some(h), None) => Some(h.clone()),
            (None, k) => k.clone(),
        }
    }
}

/// `message` with every `quoted` value replaced by `(not shown)`.
fn hide_quoted(message: &str) -> String {
    let mut out = String::new();
    let mut parts = message.split('`');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    // Pairs of backquotes enclose a value; an unpaired one is kept as text.
    let mut i = 0;
    while i < rest.len() {
        if i + 1 < rest.len() {
            out.push_str("(not shown: a secret)");
            out.push_str(rest[i + 1]);
            i += 2;
        } else {
            out.push('`');
            out.push_str(rest[i]);
            i += 1;
        }
    }
    out
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    let len = s[from..].find(end)?;
    Some(&s[from..from + len])
}

/// Finds the line of byte `offset` and the dotted key that is written there: the key on
/// that line (or on the line that opened a multi-line value) under its `[table]` or
/// `[[array]]` header, with the array index counted from 1.
fn locate(source: &str, offset: usize) -> Place {
    let offset = offset.min(source.len());
    let line = source[..offset].matches('\n').count() + 1;
    let lines: Vec<&str> = source.lines().collect();

    let mut key_here: Option<String> = None;
    let mut header: Option<String> = None;
    for idx in (0..line.min(lines.len())).rev() {
        let text = strip_comment(lines[idx]).trim();
        if let Some(name) = header_name(text) {
            header = Some(indexed_header(
                &lines[..=idx],
                &name,
                text.starts_with("[["),
            ));
            break;
        }
        if key_here.is_none()
            && let Some((k, _)) = text.split_once('=')
        {
            key_here = Some(unquote_key(k.trim()));
        }
    }
    Place {
        line,
        header,
        key: key_here,
    }
}

fn strip_comment(line: &str) -> &str {
    // Good enough for locating keys: a '#' inside a quoted value only shortens the
    // value part, never the key before '='.
    match line.find('#') {
        Some(i) if !line[..i].contains('"') && !line[..i].contains('\'') => &line[..i],
        _ => line,
    }
}

fn header_name(text: &str) -> Option<String> {
    let inner = text
        .strip_prefix("[[")
        .and_then(|t| t.strip_suffix("]]"))
        .or_else(|| text.strip_prefix('[').and_then(|t| t.strip_suffix(']')))?;
    Some(inner.trim().to_string())
}

/// `targets.policy` under the second `[[targets]]` becomes `targets[2].policy`.
fn indexed_header(lines: &[&str], name: &str, is_array: bool) -> String {
    let (array, rest) = if is_array {
        (name, "")
    } else {
        match name.rsplit_once('.') {
            Some((parent, _)) => (parent, &name[parent.len()..]),
            None => return name.to_string(),
        }
    };
    let marker = format!("[[{array}]]");
    let count = lines
        .iter()
        .filter(|l| strip_comment(l).trim() == marker)
        .count();
    if count == 0 {
        return name.to_string();
    }
    format!("{array}[{count}]{rest}")
}

fn unquote_key(k: &str) -> String {
    k.trim_matches(|c| c == '"' || c == '\'').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_key_under_array_of_tables() {
        let src = "client = \"x\"\n[[targets]]\nname = \"a\"\n[[targets]]\nname = \"b\"\nurl = 3\n";
        let off = src.find("url").unwrap();
        let p = locate(src, off);
        assert_eq!(p.line, 6);
        assert_eq!(p.dotted().as_deref(), Some("targets[2].url"));
    }

    #[test]
    fn locates_nested_table_of_array_element() {
        let src = "[[targets]]\nname = \"a\"\n[targets.policy]\nmax_age = 5\n";
        let p = locate(src, src.find("5").unwrap());
        assert_eq!(p.dotted().as_deref(), Some("targets[1].policy.max_age"));
    }

    #[test]
    fn locates_multiline_value() {
        let src = "owners = [\n  \"a@b.c\",\n  \"bad\",\n]\n";
        let p = locate(src, src.find("\"bad\"").unwrap());
        assert_eq!(p.line, 3);
        assert_eq!(p.dotted().as_deref(), Some("owners"));
    }

    #[test]
    fn top_level_key() {
        let src = "# comment\nschedule = \"x\"\n";
        let p = locate(src, src.find("\"x\"").unwrap());
        assert_eq!((p.line, p.dotted().as_deref()), (2, Some("schedule")));
    }
}
