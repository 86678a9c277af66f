//! Where a target's backups are: the `url` of a `[[targets]]` entry.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, de::Error as _};

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder or a mounted NAS/USB path: `file:///srv/backups/acme`.
    Local(PathBuf),
}

impl Location {
    pub fn parse(text: &str) -> Result<Location, String> {
        let text = text.trim();
        if text.starts_with('/') {
            return Ok(Location::Local(normalized(PathBuf::from(text))));
        }
        let Some((scheme, _)) = text.split_once("://") else {
            return Err(format!(
                "`{text}` is not a target URL; write file:///path/to/backups"
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                let url = url::Url::parse(text).map_err(|e| format!("`{text}`: {e}"))?;
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(format!(
                        "`{text}` names a remote host; a file:// URL takes a local path (file:///srv/backups)"
                    ));
                }
                let path = url
                    .to_file_path()
                    .map_err(|()| format!("`{text}` is not an absolute local path"))?;
                Ok(Location::Local(normalized(path)))
            }
            "s3" => {
                Err("S3 targets (s3://) are not supported yet by this version of backproof".into())
            }
            "smb" => Err(
                "SMB targets (smb://) are not supported yet by this version of backproof".into(),
            ),
            other => Err(format!(
                "unknown scheme `{other}://`; a target URL starts with file://"
            )),
        }
    }
}

/// Drops a trailing `/` and `.` components, so a location is shown one way.
fn normalized(path: PathBuf) -> PathBuf {
    path.components().collect()
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "file://{}", p.display()),
        }
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Location::parse(&s).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_urls() {
        assert_eq!(
            Location::parse("file:///srv/backups/acme").unwrap(),
            Location::Local("/srv/backups/acme".into())
        );
        assert_eq!(
            Location::parse("file:///srv/My%20Backups").unwrap(),
            Location::Local("/srv/My Backups".into())
        );
        assert_eq!(
            Location::parse("/mnt/usb").unwrap(),
            Location::Local("/mnt/usb".into())
        );
    }

    #[test]
    fn rejects_others_clearly() {
        assert!(
            Location::parse("s3://bucket/x")
                .unwrap_err()
                .contains("not supported yet")
        );
        assert!(
            Location::parse("smb://nas/share")
                .unwrap_err()
                .contains("not supported yet")
        );
        assert!(
            Location::parse("ftp://x/y")
                .unwrap_err()
                .contains("unknown scheme")
        );
        assert!(Location::parse("backups/acme").is_err());
        assert!(Location::parse("file://nas01/share").is_err());
    }
}
