//! What third-party libraries may write to the log, whatever `BACKPROOF_LOG` asks.
//!
//! Some libraries log wire data at their finest levels: pavao (libsmbclient's wrapper)
//! logs the SMB password at trace, the HTTP, TLS and SMTP stacks log what they send. No
//! log level may print a secret, so these are capped here, on top of the user's filter.
//! The SMB libraries repeat, in their own words, errors that backproof already reports:
//! they are shown only with `-v`.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The caps, for `verbose` as counted by `-v`.
pub fn library_caps(verbose: u8) -> Targets {
    let smb = if verbose > 0 {
        LevelFilter::WARN
    } else {
        LevelFilter::OFF
    };
    // A target matches by prefix: `pavao` also covers `pavao::utils` and `pavao_sys`.
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("pavao", smb)
        .with_target("libsmbclient", smb)
        .with_target("hyper", LevelFilter::DEBUG)
        .with_target("h2", LevelFilter::DEBUG)
        .with_target("reqwest", LevelFilter::DEBUG)
        .with_target("rustls", LevelFilter::DEBUG)
        .with_target("lettre", LevelFilter::DEBUG)
        // The catalog database repeats in its words what backproof reports about it.
        .with_target("sled", smb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn smb_libraries_are_silent_without_v_and_never_trace() {
        assert!(!library_caps(0).would_enable("pavao::utils", &Level::ERROR));
        assert!(!library_caps(0).would_enable("libsmbclient", &Level::WARN));
        assert!(library_caps(1).would_enable("pavao::smb::client", &Level::ERROR));
        assert!(!library_caps(2).would_enable("pavao::utils", &Level::TRACE));
        assert!(!library_caps(2).would_enable("hyper::proto", &Level::TRACE));
        assert!(library_caps(0).would_enable("backproof::verify", &Level::TRACE));
    }
}
