//! SMB shares through libsmbclient (the `pavao` crate).
//!
//! libsmbclient is blocking and pavao runs one call at a time in the whole process, so
//! every call here runs on the blocking pool, and a file is opened and read inside one
//! blocking task (the open file borrows the client) that hands chunks to the async side
//! through a small channel. Every SMB request has the target's timeout, so a silent
//! server gives an error, never a hang. Anonymous (guest) login is switched off, so a wrong
//! password fails instead of silently reading what a guest may see.
//!
//! Before libsmbclient connects, backproof reaches the server itself ([`probe`]): a
//! failed connection is told in plain words, and with `encryption = "required"` a server
//! that offers no SMB3 encryption is refused before logging on. libsmbclient's own output
//! goes to the log ([`chatter`]); a session it reports it could not encrypt is refused too.

mod chatter;
mod probe;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use pavao::{
    SmbClient, SmbCredentials, SmbDirentType, SmbEncryptionLevel, SmbError, SmbOpenOptions,
    SmbOptions,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio_stream::wrappers::ReceiverStream;

use self::probe::ConnectError;
use super::buffer::BufferPool;
use super::{ByteStream, Entry, ErrorKind, Target, TargetError, path_order};
use crate::config::{Encryption, SmbLocation};

/// Characters left as they are in the URL paths given to libsmbclient; everything else
/// (`%`, `#`, `?`, spaces, non-ASCII...) is percent-encoded, and libsmbclient decodes it.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Bytes asked of libsmbclient per read call; it splits them into pipelined SMB reads.
const READ_CHUNK: usize = 2 << 20;

/// The chunk buffers of every SMB read, shared so that a restore of many small files does
/// not allocate and zero a new buffer for each.
static SMB_BUFFERS: std::sync::LazyLock<Arc<BufferPool>> =
    std::sync::LazyLock::new(|| BufferPool::new(READ_CHUNK));

/// The end of both "not encrypted" errors.
const REFUSED: &str = "encryption = \"required\" refuses it: turn on SMB3 encryption on the server, or set encryption = \"preferred\" to accept reading in clear";

/// A folder on an SMB share.
pub struct SmbTarget {
    location: String,
    client: Arc<SmbClient>,
    /// The folder inside the share, encoded, with a leading `/` (or empty for the root).
    root: String,
    context: Arc<Context>,
}

/// What error messages name.
struct Context {
    host: String,
    port: u16,
    share: String,
    path: String,
    user: String,
    timeout: Duration,
    encryption: Encryption,
}

/// Connects to the share and checks that the folder exists: wrong credentials, a missing
/// share or folder, or a server that does not answer are errors here.
pub async fn open(loc: &SmbLocation) -> Result<SmbTarget, TargetError> {
    let loc = loc.clone();
    tokio::task::spawn_blocking(move || open_blocking(&loc))
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("SMB task failed: {e}")))?
}

fn open_blocking(loc: &SmbLocation) -> Result<SmbTarget, TargetError> {
    chatter::install();
    let context = Arc::new(Context {
        host: loc.host.clone(),
        port: loc.port,
        share: loc.share.clone(),
        path: loc.path.clone(),
        user: loc.username.clone(),
        timeout: loc.timeout,
        encryption: loc.encryption,
    });
    context.preflight()?;
    let refusals = chatter::encryption_refusals();
    let encryption = match loc.encryption {
        Encryption::Required => SmbEncryptionLevel::Require,
        Encryption::Preferred => SmbEncryptionLevel::Request,
        Encryption::Off => SmbEncryptionLevel::None,
    };
    let client = SmbClient::new(
        SmbCredentials::default()
            .server(format!("smb://{}:{}", loc.host, loc.port))
            .share(format!("/{}", encode(&loc.share)))
            .username(&loc.username)
            .password(loc.password.expose())
            .workgroup(&loc.domain),
        SmbOptions::default()
            .no_auto_anonymous_login(true)
            .encryption_level(encryption)
            .case_sensitive(true),
    )
    .map_err(|e| context.describe(e, Place::Share))?;
    client
        .set_timeout(loc.timeout)
        .map_err(|e| context.describe(e, Place::Share))?;

    // The share first: a logon failure or a missing share shows here.
    client
        .stat("/")
        .map_err(|e| context.describe(e, Place::Share))?;
    context.check_session(refusals)?;
    let root = if loc.path.is_empty() {
        String::new()
    } else {
        format!("/{}", encode_path(&loc.path))
    };
    if !root.is_empty() {
        let st = client
            .stat(&root)
            .map_err(|e| context.describe(e, Place::Folder))?;
        if !st.mode.is_dir() {
            return Err(TargetError::new(
                ErrorKind::NotFound,
                format!("SMB: {} is not a folder", context.unc()),
            ));
        }
    }
    let mut location = format!("smb://{}", loc.host);
    if loc.port != 445 {
        location.push_str(&format!(":{}", loc.port));
    }
    location.push_str(&format!("/{}", loc.share));
    if !loc.path.is_empty() {
        location.push_str(&format!("/{}", loc.path));
    }
    Ok(SmbTarget {
        location,
        client: Arc::new(client),
        root,
        context,
    })
}

fn encode(component: &str) -> String {
    utf8_percent_encode(component, KEEP).to_string()
}

fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

fn to_utc(t: std::time::SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}

impl SmbTarget {
    /// The encoded URL path of a file given by its path relative to the target root.
    fn url_path(&self, path: &str) -> String {
        format!("{}/{}", self.root, encode_path(path))
    }

    /// Walks the folder tree depth-first, sending files as they are found.
    /// The entries of `folder` (relative path, whether it is a folder, the entry), in
    /// [`path_order`].
    fn folder(
        client: &SmbClient,
        root: &str,
        context: &Context,
        folder: &str,
    ) -> Result<Vec<(String, bool, Entry)>, TargetError> {
        let url = if folder.is_empty() {
            format!("{root}/")
        } else {
            format!("{root}/{}", encode_path(folder))
        };
        let refusals = chatter::encryption_refusals();
        let entries = client.list_dirplus(&url).map_err(|e| {
            // libsmbclient reports any failure to open a folder as a bad descriptor:
            // ask stat for the real reason.
            let e = match (e, client.stat(&url)) {
                (SmbError::BadFileDescriptor, Err(real)) => real,
                (e, _) => e,
            };
            context.describe(e, Place::Listing(folder))
        })?;
        context.check_session(refusals)?;
        let mut children: Vec<(String, bool, Entry)> = entries
            .into_iter()
            .map(|e| {
                let path = if folder.is_empty() {
                    e.name().to_string()
                } else {
                    format!("{folder}/{}", e.name())
                };
                let is_folder = matches!(e.get_type(), SmbDirentType::Dir);
                let entry = Entry {
                    path: path.clone(),
                    size: e.size,
                    modified: to_utc(e.mtime),
                };
                (path, is_folder, entry)
            })
            .collect();
        let name = |p: &str| p.rsplit('/').next().unwrap_or("").to_string();
        children.sort_by(|a, b| path_order(&name(&a.0), a.1, &name(&b.0), b.1));
        Ok(children)
    }

    fn walk(
        client: &SmbClient,
        root: &str,
        context: &Context,
        tx: &tokio::sync::mpsc::Sender<Result<Entry, TargetError>>,
    ) -> Result<(), TargetError> {
        // Depth-first, each folder's entries in path order, so that paths come out in
        // byte order; one folder's entries per level are held.
        let mut stack = vec![Self::folder(client, root, context, "")?.into_iter()];
        while let Some(top) = stack.last_mut() {
            let Some((path, folder, entry)) = top.next() else {
                stack.pop();
                continue;
            };
            if folder {
                stack.push(Self::folder(client, root, context, &path)?.into_iter());
            } else if tx.blocking_send(Ok(entry)).is_err() {
                return Ok(()); // the listing is no longer wanted
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Target for SmbTarget {
    fn location(&self) -> &str {
        &self.location
    }

    fn list(&self) -> BoxStream<'static, Result<Entry, TargetError>> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let client = self.client.clone();
        let root = self.root.clone();
        let context = self.context.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = Self::walk(&client, &root, &context, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        ReceiverStream::new(rx).boxed()
    }

    async fn stat(&self, path: &str) -> Result<Entry, TargetError> {
        let client = self.client.clone();
        let url = self.url_path(path);
        let context = self.context.clone();
        let path = path.to_string();
        tokio::task::spawn_blocking(move || {
            let st = client
                .stat(&url)
                .map_err(|e| context.describe(e, Place::File(&path)))?;
            if st.mode.is_dir() {
                return Err(TargetError::new(
                    ErrorKind::NotFound,
                    format!("SMB: `{path}` is a folder, not a file"),
                ));
            }
            Ok(Entry {
                path,
                size: st.size,
                modified: to_utc(st.modified),
            })
        })
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("SMB task failed: {e}")))?
    }

    async fn read(&self, path: &str) -> Result<ByteStream, TargetError> {
        let client = self.client.clone();
        let url = self.url_path(path);
        let context = self.context.clone();
        let path = path.to_string();
        let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            let refusals = chatter::encryption_refusals();
            let opened = client
                .open_with(&url, SmbOpenOptions::default().read(true))
                .map_err(|e| context.describe(e, Place::File(&path)))
                .and_then(|f| context.check_session(refusals).map(|()| f));
            let mut file = match opened {
                Ok(f) => f,
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            if opened_tx.send(Ok(())).is_err() {
                return;
            }
            loop {
                let item = match SMB_BUFFERS.read_chunk(&mut file) {
                    Ok(None) => return,
                    Ok(Some(chunk)) => Ok(chunk),
                    Err(e) => Err(context.describe(SmbError::Io(e), Place::File(&path))),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    return;
                }
            }
        });
        match opened_rx.await {
            Ok(Ok(())) => Ok(ReceiverStream::new(rx).boxed()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(TargetError::new(
                ErrorKind::Other,
                "SMB read task ended early",
            )),
        }
    }

    /// The piece read with one seek, not from the start of the file (a restic pack's
    /// blobs are read this way).
    async fn read_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, TargetError> {
        use std::io::{Read, Seek, SeekFrom};
        let client = self.client.clone();
        let url = self.url_path(path);
        let context = self.context.clone();
        let path = path.to_string();
        let want = super::check_range(&path, len)?;
        tokio::task::spawn_blocking(move || {
            let refusals = chatter::encryption_refusals();
            let mut file = client
                .open_with(&url, SmbOpenOptions::default().read(true))
                .map_err(|e| context.describe(e, Place::File(&path)))?;
            context.check_session(refusals)?;
            let failed = |e| context.describe(SmbError::Io(e), Place::File(&path));
            file.seek(SeekFrom::Start(offset)).map_err(failed)?;
            super::read_piece(&path, offset, want, |buf, _| file.read(buf), failed)
        })
        .await
        .map_err(|e| TargetError::new(ErrorKind::Other, format!("SMB read task failed: {e}")))?
    }
}

/// Where an error happened, to phrase it.
#[derive(Clone, Copy)]
enum Place<'a> {
    /// Connecting and logging on to the share.
    Share,
    /// The target's folder inside the share.
    Folder,
    /// Listing a folder (relative to the target root).
    Listing(&'a str),
    File(&'a str),
}

impl Context {
    fn server(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Reaches the server before libsmbclient does: connection failures in plain words,
    /// and with encryption required, a server that offers no SMB3 encryption refused
    /// before any logon.
    fn preflight(&self) -> Result<(), TargetError> {
        let server = self.server();
        let secs = self.timeout.as_secs();
        let mut stream =
            probe::connect(&self.host, self.port, self.timeout).map_err(|e| match e {
                ConnectError::Timeout => TargetError::new(
                    ErrorKind::Timeout,
                    format!("SMB: cannot connect to {server}: no answer within {secs} s"),
                ),
                ConnectError::Failed(why) => TargetError::new(
                    ErrorKind::Unreachable,
                    format!("SMB: cannot connect to {server}: {why}"),
                ),
            })?;
        if self.encryption != Encryption::Required {
            return Ok(());
        }
        let offer = probe::negotiate(&mut stream, self.timeout).map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => TargetError::new(
                ErrorKind::Timeout,
                format!("SMB: {server} did not answer within {secs} s (negotiating the protocol)"),
            ),
            _ => TargetError::new(
                ErrorKind::Unreachable,
                format!("SMB: negotiating the protocol with {server} failed: {e}"),
            ),
        })?;
        tracing::debug!(%server, dialect = %offer.dialect_name(), encrypts = offer.encrypts, "SMB negotiation");
        if !offer.encrypts {
            return Err(self.not_encrypted(&format!(
                "it offers no SMB3 encryption ({} negotiated)",
                offer.dialect_name()
            )));
        }
        Ok(())
    }

    /// With encryption required, an error if libsmbclient said (on this thread, since it
    /// had said it `before` times) that it could not encrypt the session it just opened:
    /// libsmbclient 4.17 goes on in clear after saying so.
    fn check_session(&self, before: u64) -> Result<(), TargetError> {
        if self.encryption == Encryption::Required && chatter::encryption_refusals() > before {
            return Err(TargetError::new(
                ErrorKind::Other,
                format!(
                    "SMB: the session with {} is not encrypted (libsmbclient: \"{}\"). {REFUSED} (and check `client max protocol` in smb.conf: SMB3 is needed)",
                    self.server(),
                    chatter::last_refusal()
                ),
            ));
        }
        Ok(())
    }

    fn not_encrypted(&self, why: &str) -> TargetError {
        TargetError::new(
            ErrorKind::Other,
            format!("SMB: {} does not encrypt: {why}. {REFUSED}", self.server()),
        )
    }

    /// `//host:port/share/path`, as a technician would type it.
    fn unc(&self) -> String {
        let port = if self.port == 445 {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        let path = if self.path.is_empty() {
            String::new()
        } else {
            format!("/{}", self.path)
        };
        format!("//{}{port}/{}{path}", self.host, self.share)
    }

    fn describe(&self, err: SmbError, place: Place<'_>) -> TargetError {
        let errno = match &err {
            SmbError::Io(e) => e.raw_os_error(),
            _ => None,
        };
        let server = format!("{}:{}", self.host, self.port);
        let what = match place {
            Place::Share | Place::Folder => self.unc(),
            Place::Listing("") => self.unc(),
            Place::Listing(f) => format!("folder `{f}` in {}", self.unc()),
            Place::File(p) => format!("`{p}`"),
        };
        let doing = match place {
            Place::Share => format!("connecting to {what}"),
            Place::Folder => format!("opening {what}"),
            Place::Listing(_) => format!("listing {what}"),
            Place::File(_) => format!("reading {what}"),
        };
        let (kind, message) = match (errno, place) {
            (Some(libc::EACCES | libc::EPERM), Place::Share) => (
                ErrorKind::Auth,
                format!(
                    "SMB: logon failure for user {} on {}: check the password file (or password_env) and the user's rights on the share",
                    self.user,
                    self.unc()
                ),
            ),
            (Some(libc::EACCES | libc::EPERM), _) => (
                ErrorKind::PermissionDenied,
                format!("SMB: permission denied on {what} for user {}", self.user),
            ),
            (Some(libc::ENOENT | libc::ENODEV | libc::ENXIO), Place::Share) => (
                ErrorKind::NotFound,
                format!("SMB: share `{}` not found on {server}", self.share),
            ),
            (Some(libc::ENOENT | libc::ENOTDIR), _) => {
                (ErrorKind::NotFound, format!("SMB: {what} does not exist"))
            }
            (Some(libc::ECONNREFUSED), _) => (
                ErrorKind::Unreachable,
                format!(
                    "SMB: cannot connect to {server}: connection refused (is the server up, is the port right?)"
                ),
            ),
            (Some(libc::ETIMEDOUT | libc::EAGAIN), _) => (
                ErrorKind::Timeout,
                format!(
                    "SMB: {server} did not answer within {} s ({doing})",
                    self.timeout.as_secs()
                ),
            ),
            (
                Some(
                    libc::EHOSTUNREACH
                    | libc::ENETUNREACH
                    | libc::ECONNRESET
                    | libc::ENETRESET
                    | libc::ENETDOWN
                    | libc::EHOSTDOWN
                    | libc::ESHUTDOWN
                    | libc::ECONNABORTED
                    | libc::ENOTCONN
                    | libc::EPIPE,
                ),
                _,
            ) => (
                ErrorKind::Unreachable,
                format!(
                    "SMB: lost the connection to {server} ({doing}): {}",
                    connection_lost(errno.unwrap_or_default())
                ),
            ),
            (_, Place::Share) => (
                ErrorKind::Unreachable,
                format!("SMB: cannot open {}: {err}", self.unc()),
            ),
            _ => (ErrorKind::Read, format!("SMB: {doing} failed: {err}")),
        };
        TargetError::new(kind, message)
    }
}

/// Why a connection was lost, in plain words (not `IO Error: ... (os error 102)`).
fn connection_lost(errno: i32) -> &'static str {
    match errno {
        libc::ECONNRESET | libc::ENETRESET => "the connection was reset",
        libc::EHOSTUNREACH => "no route to host",
        libc::ENETUNREACH => "the network is unreachable",
        libc::ENETDOWN => "the network is down",
        libc::EHOSTDOWN => "the host is down",
        libc::ECONNABORTED => "the connection was aborted",
        _ => "the connection was closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_is_said_in_plain_words() {
        assert_eq!(connection_lost(libc::ENETRESET), "the connection was reset");
        assert_eq!(connection_lost(libc::EHOSTUNREACH), "no route to host");
        assert_eq!(connection_lost(libc::EPIPE), "the connection was closed");
    }

    #[test]
    fn names_are_encoded_for_libsmbclient_urls() {
        assert_eq!(encode_path("a b/100%/#1?.bin"), "a%20b/100%25/%231%3F.bin");
        assert_eq!(encode("ünï"), "%C3%BCn%C3%AF");
        assert_eq!(encode("plain-name_1.tar~"), "plain-name_1.tar~");
    }
}
