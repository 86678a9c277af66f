//! Validating a restored file beyond its hash: archives read through to the end, SQLite's
//! own integrity check, or a command the MSP names (run without a shell, with a timeout).

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use crate::config::Validator;
use crate::evidence::{Validation, Verdict};

/// Lines of command output kept in the evidence.
const OUTPUT_LINES: usize = 20;

pub async fn validate(file: &Path, v: &Validator) -> Validation {
    let label = v.label();
    let done = |verdict, detail: String| Validation {
        validator: label.clone(),
        verdict,
        detail,
        exit_code: None,
        output: None,
    };
    match v {
        Validator::Command { argv, timeout } => command(file, argv, *timeout, label.clone()).await,
        other => {
            let (file, other) = (file.to_path_buf(), other.clone());
            match tokio::task::spawn_blocking(move || read_through(&file, &other)).await {
                Ok(Ok(detail)) => done(Verdict::Pass, detail),
                Ok(Err(detail)) => done(Verdict::Fail, detail),
                Err(e) => done(Verdict::Error, format!("validation task failed: {e}")),
            }
        }
    }
}

/// Reads an archive to its end (checking every CRC the format has) or runs SQLite's
/// integrity check. `Err` is the problem found.
fn read_through(file: &Path, v: &Validator) -> Result<String, String> {
    let open =
        || std::fs::File::open(file).map_err(|e| format!("cannot open the restored copy: {e}"));
    let drain = |r: &mut dyn Read, what: &str| -> Result<u64, String> {
        std::io::copy(r, &mut std::io::sink()).map_err(|e| format!("{what}: {e}"))
    };
    match v {
        Validator::Zip => {
            let mut z = zip::ZipArchive::new(open()?).map_err(zip_problem)?;
            let mut bytes = 0;
            for i in 0..z.len() {
                let mut entry = z
                    .by_index(i)
                    .map_err(|e| format!("entry {}: {}", i + 1, zip_problem(e)))?;
                let name = entry
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| format!("#{i}"));
                bytes += std::io::copy(&mut entry, &mut std::io::sink())
                    .map_err(|e| format!("entry {name}: {}", zip_read_problem(&e)))?;
            }
            Ok(format!(
                "zip archive read through: {} entries, {bytes} bytes, CRCs correct",
                z.len()
            ))
        }
        Validator::Gzip => {
            let mut d = flate2::read::MultiGzDecoder::new(open()?);
            let bytes = drain(&mut d, "gzip stream")?;
            Ok(format!(
                "gzip stream read through: {bytes} bytes, CRC correct"
            ))
        }
        Validator::Tar | Validator::TarGz => {
            let reader: Box<dyn Read> = match v {
                Validator::TarGz => Box::new(flate2::read::MultiGzDecoder::new(open()?)),
                _ => Box::new(open()?),
            };
            let mut archive = tar::Archive::new(reader);
            let mut entries = 0;
            for entry in archive
                .entries()
                .map_err(|e| format!("not a readable tar archive: {e}"))?
            {
                let mut entry = entry.map_err(|e| format!("entry {}: {e}", entries + 1))?;
                let name = entry
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                drain(&mut entry, &format!("entry {name}"))?;
                entries += 1;
            }
            if entries == 0 {
                return Err("the tar archive holds no entries".into());
            }
            Ok(format!("tar archive read through: {entries} entries"))
        }
        Validator::Sqlite => {
            let db = rusqlite::Connection::open_with_flags(
                file,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .map_err(|e| format!("not an SQLite database: {e}"))?;
            let mut stmt = db
                .prepare("PRAGMA integrity_check")
                .map_err(|e| format!("not an SQLite database: {e}"))?;
            let rows: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect())
                .map_err(|e| format!("integrity_check failed to run: {e}"))?;
            if rows == ["ok"] {
                Ok("SQLite integrity_check: ok".into())
            } else {
                Err(format!(
                    "SQLite integrity_check: {}",
                    rows.into_iter().take(5).collect::<Vec<_>>().join("; ")
                ))
            }
        }
        Validator::Command { .. } => unreachable!("commands run asynchronously"),
    }
}

/// A zip archive that cannot be opened, in a technician's words.
fn zip_problem(e: zip::result::ZipError) -> String {
    use zip::result::ZipError;
    match e {
        ZipError::InvalidArchive(m) if m == "Could not find EOCD" => {
            "zip archive is truncated or not a zip: its end-of-central-directory record is missing"
                .into()
        }
        ZipError::InvalidArchive(m) if m.contains("EOCD") || m.contains("CDFH") => format!(
            "zip archive is damaged: its central directory (the list of entries at its end) does not hold together ({m})"
        ),
        ZipError::InvalidArchive(m) => format!("zip archive is damaged: {m}"),
        ZipError::Io(e) => zip_read_problem(&e),
        ZipError::UnsupportedArchive(m) => {
            format!("zip archive of a kind this check cannot read: {m}")
        }
        other => format!("zip archive cannot be read: {other}"),
    }
}

/// An entry that cannot be read to its end, in a technician's words.
fn zip_read_problem(e: &std::io::Error) -> String {
    let text = e.to_string();
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the archive ends in the middle of this entry: truncated".into()
    } else if text.to_lowercase().contains("checksum") || text.contains("CRC") {
        "its content does not match its CRC-32 checksum: the archive is damaged".into()
    } else {
        text
    }
}

async fn command(file: &Path, argv: &[String], timeout: Duration, label: String) -> Validation {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.replace("{file}", &file.display().to_string()))
        .collect();
    let mut cmd = tokio::process::Command::new(&args[0]);
    cmd.args(&args[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let result = |verdict, detail: String, exit_code, output| Validation {
        validator: label.clone(),
        verdict,
        detail,
        exit_code,
        output,
    };
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return result(
                Verdict::Error,
                format!("cannot run {}: {e}; the file is not validated", args[0]),
                None,
                None,
            );
        }
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_) => result(
            Verdict::Error,
            format!(
                "did not finish within {} s and was stopped; the file is not validated",
                timeout.as_secs()
            ),
            None,
            None,
        ),
        Ok(Err(e)) => result(
            Verdict::Error,
            format!("failed while running: {e}"),
            None,
            None,
        ),
        Ok(Ok(out)) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(OUTPUT_LINES)..].join("\n");
            let code = out.status.code();
            if out.status.success() {
                result(
                    Verdict::Pass,
                    "the command accepted the file (exit code 0)".into(),
                    code,
                    Some(tail),
                )
            } else {
                result(
                    Verdict::Fail,
                    format!(
                        "the command rejected the file (exit code {})",
                        code.map_or("none: killed by a signal".into(), |c| c.to_string())
                    ),
                    code,
                    Some(tail),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_bytes() -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("letter.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(&[b'x'; 10_000]).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_truncated_zip_is_told_in_words_a_technician_knows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docs.zip");
        let whole = zip_bytes();
        std::fs::write(&file, &whole).unwrap();
        assert!(read_through(&file, &Validator::Zip).is_ok());
        std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
        assert_eq!(
            read_through(&file, &Validator::Zip).unwrap_err(),
            "zip archive is truncated or not a zip: its end-of-central-directory record is missing"
        );
    }
}
