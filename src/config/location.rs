//! Where a target's backups are: its `url` and the connection settings beside it.
//!
//! [`TargetUrl`] is the URL alone, parsed while reading the file. [`Location`] is the
//! validated whole: URL, endpoint, credentials (resolved from files or the environment),
//! encryption and timeouts. Its `Display` never shows a secret.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de::Error as _};

use super::secret::Secret;

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// `file:///srv/backups/acme` or `/srv/backups/acme`.
    Local(PathBuf),
    /// `s3://bucket/optional/prefix/`.
    S3 { bucket: String, prefix: String },
    /// `smb://server[:port]/share/optional/path`.
    Smb {
        host: String,
        port: u16,
        share: String,
        path: String,
    },
}

impl TargetUrl {
    /// Parses a target URL. Error messages never show credentials written in it.
    pub fn parse(text: &str) -> Result<TargetUrl, String> {
        let raw = text.trim();
        if raw.starts_with('/') {
            return Ok(TargetUrl::Local(normalized(PathBuf::from(raw))));
        }
        if has_userinfo(raw) {
            return Err(format!(
                "`{}`: put no credentials in the URL; use the target's username / access_key_id and a secret file",
                redact_userinfo(raw)
            ));
        }
        // From here on, `text` is what messages show.
        let shown = redact_userinfo(raw);
        let text = shown.as_str();
        let Some((scheme, _)) = text.split_once("://") else {
            return Err(format!(
                "`{text}` is not a target URL; write file:///path, s3://bucket/prefix or smb://server/share/path"
            ));
        };
        if text.split('/').any(|s| s == "." || s == "..") {
            return Err(format!(
                "`{text}`: `.` and `..` are not allowed in a target path"
            ));
        }
        let url = url::Url::parse(raw).map_err(|e| format!("`{text}`: {e}"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(
                "put no credentials in the URL; use the target's username / access_key_id and a secret file"
                    .into(),
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{text}` has a `?` or `#` part; write those characters in a name as %3F and %23"
            ));
        }
        let segments: Vec<String> = url
            .path()
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        if segments.iter().any(|s| s == "." || s == "..") {
            return Err(format!(
                "`{text}`: `.` and `..` are not allowed in a target path"
            ));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(format!(
                        "`{text}` names a remote host; a file:// URL takes a local path (file:///srv/backups), use smb:// for a share"
                    ));
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| format!("`{text}` is not an absolute local path"))?;
                Ok(TargetUrl::Local(normalized(path)))
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_string();
                if bucket.is_empty() {
                    return Err(format!(
                        "`{text}` names no bucket; write s3://bucket/prefix"
                    ));
                }
                if url.port().is_some() {
                    return Err(format!(
                        "`{text}`: an s3:// URL names a bucket, not a server; put the server in `endpoint`"
                    ));
                }
                Ok(TargetUrl::S3 {
                    bucket,
                    prefix: segments.join("/"),
                })
            }
            "smb" => {
                let host = url.host_str().unwrap_or_default().to_string();
                if host.is_empty() {
                    return Err(format!(
                        "`{text}` names no server; write smb://server/share/path"
                    ));
                }
                let Some((share, path)) = segments.split_first() else {
                    return Err(format!(
                        "`{text}` names no share; write smb://server/share/path"
                    ));
                };
                Ok(TargetUrl::Smb {
                    host,
                    port: url.port().unwrap_or(445),
                    share: share.clone(),
                    path: path.join("/"),
                })
            }
            other => Err(format!(
                "unknown scheme `{other}://`; a target URL starts with file://, s3:// or smb://"
            )),
        }
    }

    pub fn scheme(&self) -> &'static str {
        match self {
            TargetUrl::Local(_) => "file",
            TargetUrl::S3 { .. } => "s3",
            TargetUrl::Smb { .. } => "smb",
        }
    }
}

/// Whether `text` (`scheme://user:password@host/...`) carries credentials.
pub fn has_userinfo(text: &str) -> bool {
    text.contains("://") && authority(text).1.contains('@')
}

/// `text` with the `user:password@` part of its authority replaced by `***@`, so that an
/// error message can quote a URL without showing a password.
pub fn redact_userinfo(text: &str) -> String {
    let (start, a) = authority(text);
    match a.rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]),
        None => text.to_string(),
    }
}

/// `message` with the credentials of every `scheme://user:password@host` in it replaced
/// by `***`.
pub fn redact_userinfo_in(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        let tail = &rest[i + 3..];
        let end = tail
            .find(|c: char| "/?#`'\"".contains(c) || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Where the authority of `scheme://authority/path` starts, and the authority; without
/// a scheme, the text up to the first `/`.
fn authority(text: &str) -> (usize, &str) {
    let start = text.find("://").map_or(0, |i| i + 3);
    let rest = &text[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (start, &rest[..end])
}

/// Drops a trailing `/` and `.` components, so a location is shown one way.
fn normalized(path: PathBuf) -> PathBuf {
    path.components().collect()
}

impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetUrl::Local(p) => write!(f, "file://{}", p.display()),
            TargetUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            TargetUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            TargetUrl::Smb {
                host,
                port,
                share,
                path,
            } => {
                write!(f, "smb://{host}")?;
                if *port != 445 {
                    write!(f, ":{port}")?;
                }
                write!(f, "/{share}")?;
                if !path.is_empty() {
                    write!(f, "/{path}")?;
                }
                Ok(())
            }
        }
    }
}

impl<'de> Deserialize<'de> for TargetUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TargetUrl::parse(&s).map_err(D::Error::custom)
    }
}

/// A validated target: where it is and how to reach it.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    Local(PathBuf),
    S3(S3Location),
    Smb(SmbLocation),
}

/// An S3 or S3-compatible bucket (AWS, Wasabi, Backblaze B2, MinIO, Garage).
#[derive(Debug, Clone, PartialEq)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix without leading or trailing `/`; empty for the whole bucket.
    pub prefix: String,
    /// Server URL for S3-compatible services; `None` means AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual-hosted style.
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Limit for one request (connecting, or a pause in a transfer).
    pub timeout: Duration,
}

/// A folder on an SMB share.
#[derive(Debug, Clone, PartialEq)]
pub struct SmbLocation {
    pub host: String,
    pub port: u16,
    pub share: String,
    /// Folder inside the share, `/`-separated, without leading `/`; empty for the root.
    pub path: String,
    pub username: String,
    /// Domain or workgroup.
    pub domain: String,
    pub password: Secret,
    pub encryption: Encryption,
    /// Limit for one SMB operation.
    pub timeout: Duration,
}

/// SMB3 encryption of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encryption {
    /// Refuse to talk to a server that does not encrypt.
    Required,
    /// Encrypt when the server supports it.
    Preferred,
    Off,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", TargetUrl::Local(p.clone())),
            Location::S3(s) => {
                write!(
                    f,
                    "{}",
                    TargetUrl::S3 {
                        bucket: s.bucket.clone(),
                        prefix: s.prefix.clone()
                    }
                )?;
                if let Some(e) = &s.endpoint {
                    write!(f, " at {e}")?;
                }
                Ok(())
            }
            Location::Smb(s) => write!(
                f,
                "{} as {}",
                TargetUrl::Smb {
                    host: s.host.clone(),
                    port: s.port,
                    share: s.share.clone(),
                    path: s.path.clone()
                },
                s.username
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_urls() {
        assert_eq!(
            TargetUrl::parse("file:///srv/backups/acme").unwrap(),
            TargetUrl::Local("/srv/backups/acme".into())
        );
        assert_eq!(
            TargetUrl::parse("file:///srv/My%20Backups/").unwrap(),
            TargetUrl::Local("/srv/My Backups".into())
        );
        assert_eq!(
            TargetUrl::parse("/mnt/usb").unwrap(),
            TargetUrl::Local("/mnt/usb".into())
        );
    }

    #[test]
    fn parses_s3_and_smb() {
        assert_eq!(
            TargetUrl::parse("s3://acme-backups/veeam/daily/").unwrap(),
            TargetUrl::S3 {
                bucket: "acme-backups".into(),
                prefix: "veeam/daily".into()
            }
        );
        assert_eq!(
            TargetUrl::parse("s3://acme-backups").unwrap(),
            TargetUrl::S3 {
                bucket: "acme-backups".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            TargetUrl::parse("smb://nas01:4455/backups/Client Files/acme").unwrap(),
            TargetUrl::Smb {
                host: "nas01".into(),
                port: 4455,
                share: "backups".into(),
                path: "Client Files/acme".into()
            }
        );
        let u = TargetUrl::parse("smb://nas01/backups").unwrap();
        assert_eq!(u.to_string(), "smb://nas01/backups");
    }

    #[test]
    fn errors_never_show_credentials() {
        for bad in [
            "smb://u:S3cret@host:99999/share",
            "s3://u:S3cret@bad_bucket!/x",
            "file://u:S3cret@localhost/x",
            "smb://S3cret@host/share",
            "ftp://u:S3cret@x/y",
            "smb://u:S3cret@host/share/../x",
            "u:S3cret@host/share",
        ] {
            let err = TargetUrl::parse(bad).unwrap_err();
            assert!(!err.contains("S3cret"), "{bad}: {err}");
            assert!(err.contains("***@"), "{bad}: {err}");
        }
        assert_eq!(
            redact_userinfo("smb://u:p@w@host/share"),
            "smb://***@host/share"
        );
        assert_eq!(redact_userinfo("https://host/a@b"), "https://host/a@b");
        assert_eq!(
            redact_userinfo_in("bad `smb://u:pw@h:1/s` and s3://k:x@b/p, https://h/a@b"),
            "bad `smb://***@h:1/s` and s3://***@b/p, https://h/a@b"
        );
    }

    #[test]
    fn rejects_bad_urls_clearly() {
        for (bad, words) in [
            ("ftp://x/y", "unknown scheme"),
            ("backups/acme", "not a target URL"),
            ("file://nas01/share", "remote host"),
            ("smb://nas01", "no share"),
            ("smb://user:pw@nas01/share", "no credentials"),
            ("file://u:pw@localhost/x", "no credentials"),
            ("s3://", "no bucket"),
            ("s3://bucket:9000/x", "endpoint"),
            ("smb://nas/share/../x", "not allowed"),
            ("smb://nas/share/a?b", "%3F"),
        ] {
            let err = TargetUrl::parse(bad).unwrap_err();
            assert!(err.contains(words), "{bad}: {err}");
        }
    }
}
