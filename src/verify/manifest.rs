//! Checksum manifests written by `sha256sum`, `md5sum` and `b3sum` (`SHA256SUMS`,
//! `*.sha256`, `*.md5`, `*.b3`...): parsing, and the digests to check sampled files with.
//!
//! The algorithm comes from the manifest's name. A line is `HEX  NAME` or `HEX *NAME`
//! (binary mode); a line starting with `\` has its name escaped (`\\` and `\n`), as GNU
//! coreutils and b3sum write names with a backslash or newline. Names are relative to the
//! manifest's folder.

use sha2::Digest;

use crate::evidence::Algorithm;

/// The algorithm of a manifest file, from its name.
pub fn algorithm_of(path: &str) -> Option<Algorithm> {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let is = |exact: &[&str], ext: &[&str]| {
        exact.contains(&name.as_str()) || ext.iter().any(|e| name.ends_with(e))
    };
    if is(
        &["sha256sums", "sha256sum"],
        &[".sha256", ".sha256sum", ".sha256sums"],
    ) {
        Some(Algorithm::Sha256)
    } else if is(&["md5sums", "md5sum"], &[".md5", ".md5sum", ".md5sums"]) {
        Some(Algorithm::Md5)
    } else if is(
        &["b3sums", "b3sum", "blake3sums"],
        &[".b3", ".b3sum", ".b3sums", ".blake3"],
    ) {
        Some(Algorithm::Blake3)
    } else {
        None
    }
}

fn hex_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::Md5 => 32,
        Algorithm::Sha256 | Algorithm::Blake3 => 64,
    }
}

/// One entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub hex: String,
    /// The name as written, unescaped.
    pub name: String,
}

/// Parses one line; `Ok(None)` for an empty line or a `#` comment.
pub fn parse_line(text: &str, alg: Algorithm) -> Result<Option<Line>, String> {
    let text = text.strip_suffix('\r').unwrap_or(text);
    if text.trim().is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let (escaped, text) = match text.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let n = hex_len(alg);
    let hex = text
        .get(..n)
        .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()));
    let Some(hex) = hex else {
        return Err(format!(
            "expected {n} hexadecimal digits of {} at the start of the line",
            alg.label()
        ));
    };
    let rest = &text[n..];
    let name = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))
        .ok_or_else(|| {
            "expected two spaces (or ` *`) between the checksum and the name".to_string()
        })?;
    if name.is_empty() {
        return Err("the name is missing".into());
    }
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_string()
    };
    Ok(Some(Line {
        hex: hex.to_ascii_lowercase(),
        name,
    }))
}

fn unescape(name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => {
                return Err(format!(
                    "unknown escape `\\{}` in the name",
                    other.unwrap_or(' ')
                ));
            }
        }
    }
    Ok(out)
}

/// The path a manifest entry names, relative to the target root; `None` if it points
/// outside the target.
pub fn resolve(manifest: &str, name: &str) -> Option<String> {
    let mut parts: Vec<&str> = match manifest.rsplit_once('/') {
        Some((dir, _)) => dir.split('/').collect(),
        None => Vec::new(),
    };
    if name.starts_with('/') {
        return None;
    }
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// A running digest of one algorithm.
pub enum Digester {
    Sha256(sha2::Sha256),
    Md5(md5::Md5),
}

impl Digester {
    /// A digester for `alg`; `None` for BLAKE3, which every restore computes anyway.
    pub fn new(alg: Algorithm) -> Option<Digester> {
        match alg {
            Algorithm::Sha256 => Some(Digester::Sha256(sha2::Sha256::new())),
            Algorithm::Md5 => Some(Digester::Md5(md5::Md5::new())),
            Algorithm::Blake3 => None,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Digester::Sha256(d) => d.update(bytes),
            Digester::Md5(d) => d.update(bytes),
        }
    }

    pub fn finish_hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Digester::Sha256(d) => d.finalize().to_vec(),
            Digester::Md5(d) => d.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_from_the_name() {
        assert_eq!(algorithm_of("SHA256SUMS"), Some(Algorithm::Sha256));
        assert_eq!(algorithm_of("daily/x.tar.sha256"), Some(Algorithm::Sha256));
        assert_eq!(algorithm_of("MD5SUMS"), Some(Algorithm::Md5));
        assert_eq!(algorithm_of("a/b.b3"), Some(Algorithm::Blake3));
        assert_eq!(algorithm_of("notes.txt"), None);
    }

    #[test]
    fn parses_text_binary_and_escaped_lines() {
        let h = "a".repeat(64);
        assert_eq!(
            parse_line(&format!("{h}  daily/a b.tar"), Algorithm::Sha256).unwrap(),
            Some(Line {
                hex: h.clone(),
                name: "daily/a b.tar".into()
            })
        );
        assert_eq!(
            parse_line(&format!("{h} *bin.img"), Algorithm::Blake3)
                .unwrap()
                .unwrap()
                .name,
            "bin.img"
        );
        assert_eq!(
            parse_line(&format!("\\{h}  odd\\\\name\\nline"), Algorithm::Sha256)
                .unwrap()
                .unwrap()
                .name,
            "odd\\name\nline"
        );
        assert_eq!(parse_line("", Algorithm::Md5).unwrap(), None);
        assert_eq!(parse_line("# comment", Algorithm::Md5).unwrap(), None);
        assert!(parse_line(&format!("{h} x"), Algorithm::Sha256).is_err());
        assert!(parse_line("xyz  file", Algorithm::Md5).is_err());
        assert!(parse_line(&format!("{}  file", "a".repeat(64)), Algorithm::Md5).is_err());
    }

    #[test]
    fn resolves_relative_to_the_manifest_folder() {
        assert_eq!(
            resolve("daily/SHA256SUMS", "a.tar"),
            Some("daily/a.tar".into())
        );
        assert_eq!(
            resolve("daily/SHA256SUMS", "./a.tar"),
            Some("daily/a.tar".into())
        );
        assert_eq!(
            resolve("daily/SHA256SUMS", "../weekly/w.tar"),
            Some("weekly/w.tar".into())
        );
        assert_eq!(resolve("SHA256SUMS", "../escape"), None);
        assert_eq!(resolve("SHA256SUMS", "/etc/passwd"), None);
    }

    #[test]
    fn digests_match_the_tools() {
        let mut d = Digester::new(Algorithm::Sha256).unwrap();
        d.update(b"abc");
        assert_eq!(
            d.finish_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut d = Digester::new(Algorithm::Md5).unwrap();
        d.update(b"abc");
        assert_eq!(d.finish_hex(), "900150983cd24fb0d6963f7d28e17f72");
    }
}
