//! Before libsmbclient logs on, backproof reaches the server itself.
//!
//! Two reasons. libsmbclient reports a failed connection with whatever errno its last
//! step left (a name that does not resolve is "Invalid argument"), so the connection is
//! tried here first and its failure told in plain words. And libsmbclient 4.17, told to
//! require encryption, still reads in clear from a server that offers none: so for
//! `encryption = "required"` backproof sends its own SMB2 NEGOTIATE (no credentials) and
//! reads from the answer whether the server offers SMB3 encryption.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How the connection failed, in words for the message.
#[derive(Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// No answer within the timeout (name resolution or TCP).
    Timeout,
    /// Anything else, phrased: "connection refused", "no route to host"...
    Failed(String),
}

/// Opens a TCP connection to the server, resolving its name, all within `timeout`.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs = resolve(host, port, timeout)?;
    let mut last = ConnectError::Failed(format!("the name `{host}` has no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = phrase(&e),
        }
    }
    Err(last)
}

/// getaddrinfo has no deadline of its own: it runs on a helper thread, abandoned (and
/// finishing on its own) if it takes longer than `timeout`.
fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, ConnectError> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let name = host.to_string();
    std::thread::spawn(move || {
        let _ = tx.send((name.as_str(), port).to_socket_addrs().map(Vec::from_iter));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(ConnectError::Failed(format!(
            "the name `{host}` does not resolve ({e})"
        ))),
        Err(_) => Err(ConnectError::Timeout),
    }
}

fn phrase(e: &io::Error) -> ConnectError {
    match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock, _) => ConnectError::Timeout,
        (io::ErrorKind::ConnectionRefused, _) => {
            ConnectError::Failed("connection refused (is the server up, is the port right?)".into())
        }
        (_, Some(libc::EHOSTUNREACH | libc::EHOSTDOWN)) => {
            ConnectError::Failed("no route to host".into())
        }
        (_, Some(libc::ENETUNREACH | libc::ENETDOWN)) => {
            ConnectError::Failed("network unreachable".into())
        }
        _ => ConnectError::Failed(e.to_string()),
    }
}

/// What the server answered to an SMB2 NEGOTIATE offering every dialect and cipher.
#[derive(Debug, PartialEq, Eq)]
pub struct Offer {
    /// The dialect the server chose, e.g. 0x0311 for SMB 3.1.1.
    pub dialect: u16,
    /// Whether the server offers SMB3 encryption on this dialect.
    pub encrypts: bool,
}

impl Offer {
    /// "SMB 3.1.1", "SMB 2.1"...
    pub fn dialect_name(&self) -> String {
        let (major, minor) = (self.dialect >> 8, self.dialect & 0xff);
        match minor {
            0 => format!("SMB {major}.0"),
            m if m % 16 == 0 => format!("SMB {major}.{}", m >> 4),
            m => format!("SMB {major}.{}.{}", m >> 4, m & 0xf),
        }
    }
}

const DIALECTS: [u16; 5] = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311];
/// SMB2_GLOBAL_CAP_ENCRYPTION: how SMB 3.0 and 3.0.2 servers say they encrypt.
const CAP_ENCRYPTION: u32 = 0x40;
const PREAUTH_INTEGRITY: u16 = 1;
const ENCRYPTION_CAPABILITIES: u16 = 2;
/// AES-128-GCM, AES-128-CCM, AES-256-GCM, AES-256-CCM.
const CIPHERS: [u16; 4] = [2, 1, 4, 3];
/// A NEGOTIATE answer is a few hundred bytes; anything far larger is not one.
const MAX_ANSWER: usize = 64 << 10;

/// Sends an SMB2 NEGOTIATE on `stream` and reads what the server offers. Each read and
/// write has `timeout`.
pub fn negotiate(stream: &mut TcpStream, timeout: Duration) -> io::Result<Offer> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = negotiate_request();
    let mut framed = Vec::with_capacity(4 + request.len());
    framed.extend_from_slice(&(request.len() as u32).to_be_bytes());
    framed.extend_from_slice(&request);
    stream.write_all(&framed)?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if !(64..=MAX_ANSWER).contains(&len) {
        return Err(not_smb2("its answer has an impossible length"));
    }
    let mut answer = vec![0u8; len];
    stream.read_exact(&mut answer)?;
    parse_answer(&answer).map_err(not_smb2)
}

fn not_smb2(why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server did not answer as an SMB2/3 server: {why}"),
    )
}

/// SMB2 header, NEGOTIATE body, and the SMB 3.1.1 negotiate contexts (preauth integrity,
/// which 3.1.1 requires, and the ciphers).
fn negotiate_request() -> Vec<u8> {
    let mut m = Vec::with_capacity(256);
    // Header: protocol id, structure size 64, credit charge, status, command 0 (NEGOTIATE),
    // credits requested, flags, next command, message id, process id, tree id, session id,
    // signature.
    m.extend_from_slice(b"\xfeSMB");
    m.extend_from_slice(&64u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&[0u8; 4 + 4 + 8 + 4 + 4 + 8 + 16]);
    debug_assert_eq!(m.len(), 64);
    // Body: structure size 36, dialect count, security mode (signing enabled), reserved,
    // capabilities, client GUID, then where the negotiate contexts are.
    let body_end = 64 + 36 + 2 * DIALECTS.len();
    let contexts_at = body_end.next_multiple_of(8);
    m.extend_from_slice(&36u16.to_le_bytes());
    m.extend_from_slice(&(DIALECTS.len() as u16).to_le_bytes());
    m.extend_from_slice(&1u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    m.extend_from_slice(&CAP_ENCRYPTION.to_le_bytes());
    m.extend_from_slice(&rand::random::<[u8; 16]>());
    m.extend_from_slice(&(contexts_at as u32).to_le_bytes());
    m.extend_from_slice(&2u16.to_le_bytes());
    m.extend_from_slice(&0u16.to_le_bytes());
    for d in DIALECTS {
        m.extend_from_slice(&d.to_le_bytes());
    }
    m.resize(contexts_at, 0);
    // Preauth integrity: one hash (SHA-512), a 32-byte salt.
    let mut preauth = Vec::with_capacity(38);
    preauth.extend_from_slice(&1u16.to_le_bytes());
    preauth.extend_from_slice(&32u16.to_le_bytes());
    preauth.extend_from_slice(&1u16.to_le_bytes());
    preauth.extend_from_slice(&rand::random::<[u8; 32]>());
    push_context(&mut m, PREAUTH_INTEGRITY, &preauth);
    m.resize(m.len().next_multiple_of(8), 0);
    let mut ciphers = Vec::with_capacity(2 + 2 * CIPHERS.len());
    ciphers.extend_from_slice(&(CIPHERS.len() as u16).to_le_bytes());
    for c in CIPHERS {
        ciphers.extend_from_slice(&c.to_le_bytes());
    }
    push_context(&mut m, ENCRYPTION_CAPABILITIES, &ciphers);
    m
}

fn push_context(m: &mut Vec<u8>, kind: u16, data: &[u8]) {
    m.extend_from_slice(&kind.to_le_bytes());
    m.extend_from_slice(&(data.len() as u16).to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.extend_from_slice(data);
}

/// Reads the dialect and the encryption offer from a NEGOTIATE answer (SMB2 header
/// included, transport length excluded). Never trusts an offset or a length.
fn parse_answer(a: &[u8]) -> Result<Offer, &'static str> {
    let u16_at = |at: usize| a.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| {
        a.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if a.get(..4) != Some(b"\xfeSMB".as_slice()) {
        return Err("no SMB2 header");
    }
    if u16_at(12) != Some(0) {
        return Err("not an answer to NEGOTIATE");
    }
    if u32_at(8) != Some(0) {
        return Err("the negotiation was refused");
    }
    let body = 64;
    let dialect = u16_at(body + 4).ok_or("answer too short")?;
    let capabilities = u32_at(body + 24).ok_or("answer too short")?;
    let encrypts = match dialect {
        0x0300 | 0x0302 => capabilities & CAP_ENCRYPTION != 0,
        0x0311 => {
            let count = u16_at(body + 6).ok_or("answer too short")?;
            let mut at = u32_at(body + 60).ok_or("answer too short")? as usize;
            let mut ciphers = false;
            for _ in 0..count {
                let kind = u16_at(at).ok_or("negotiate context out of bounds")?;
                let len = u16_at(at + 2).ok_or("negotiate context out of bounds")? as usize;
                let data = a
                    .get(at + 8..at + 8 + len)
                    .ok_or("negotiate context out of bounds")?;
                if kind == ENCRYPTION_CAPABILITIES {
                    // Cipher count, then the chosen cipher; 0 means none.
                    ciphers = data.len() >= 4
                        && u16::from_le_bytes([data[0], data[1]]) >= 1
                        && u16::from_le_bytes([data[2], data[3]]) != 0;
                }
                at = (at + 8 + len).next_multiple_of(8);
            }
            ciphers
        }
        _ => false,
    };
    Ok(Offer { dialect, encrypts })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NEGOTIATE answer: header, body with `dialect` and `caps`, then `contexts`.
    fn answer(dialect: u16, caps: u32, contexts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut a = vec![0u8; 64 + 64];
        a[..4].copy_from_slice(b"\xfeSMB");
        a[64..66].copy_from_slice(&65u16.to_le_bytes());
        a[68..70].copy_from_slice(&dialect.to_le_bytes());
        a[70..72].copy_from_slice(&(contexts.len() as u16).to_le_bytes());
        a[88..92].copy_from_slice(&caps.to_le_bytes());
        a[124..128].copy_from_slice(&128u32.to_le_bytes());
        for (kind, data) in contexts {
            a.resize(a.len().next_multiple_of(8), 0);
            push_context(&mut a, *kind, data);
        }
        a
    }

    #[test]
    fn smb311_encrypts_only_with_a_chosen_cipher() {
        let preauth: &[u8] = &[1, 0, 0, 0, 1, 0];
        let gcm: &[u8] = &[1, 0, 2, 0];
        let offer = parse_answer(&answer(0x0311, 7, &[(1, preauth), (2, gcm)])).unwrap();
        assert_eq!(
            offer,
            Offer {
                dialect: 0x0311,
                encrypts: true
            }
        );
        assert_eq!(offer.dialect_name(), "SMB 3.1.1");
        let none: &[u8] = &[1, 0, 0, 0];
        assert!(
            !parse_answer(&answer(0x0311, 7, &[(1, preauth), (2, none)]))
                .unwrap()
                .encrypts
        );
        assert!(
            !parse_answer(&answer(0x0311, 0x47, &[(1, preauth)]))
                .unwrap()
                .encrypts
        );
    }

    #[test]
    fn smb30_encrypts_with_the_capability_and_smb2_never() {
        assert!(parse_answer(&answer(0x0302, 0x47, &[])).unwrap().encrypts);
        assert!(!parse_answer(&answer(0x0302, 0x07, &[])).unwrap().encrypts);
        let smb21 = parse_answer(&answer(0x0210, 0x47, &[])).unwrap();
        assert!(!smb21.encrypts);
        assert_eq!(smb21.dialect_name(), "SMB 2.1");
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert!(parse_answer(b"\xffSMBxxxx").is_err());
        assert!(parse_answer(&[0xfe, b'S', b'M', b'B']).is_err());
        let mut lying = answer(0x0311, 0, &[(2, &[1, 0, 2, 0])]);
        lying[124..128].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_answer(&lying).is_err());
        let mut refused = answer(0x0311, 0, &[]);
        refused[8..12].copy_from_slice(&0xC000_0022u32.to_le_bytes());
        assert!(parse_answer(&refused).is_err());
    }

    #[test]
    fn the_request_is_well_formed() {
        let r = negotiate_request();
        assert_eq!(&r[..4], b"\xfeSMB");
        let contexts_at = u32::from_le_bytes(r[92..96].try_into().unwrap()) as usize;
        assert_eq!(contexts_at % 8, 0);
        assert_eq!(u16::from_le_bytes([r[contexts_at], r[contexts_at + 1]]), 1);
    }
}
