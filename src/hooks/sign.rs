//! Standard Webhooks signatures (https://www.standardwebhooks.com/): `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
//! "<id>.<timestamp>.<body>">`, keyed with the secret's decoded bytes.

use base64::Engine as _;
use hmac::{Hmac, Mac};

use crate::config::Secret;

/// The three headers for one attempt at `timestamp` (Unix seconds).
pub fn headers(secret: &Secret, msg_id: &str, timestamp: i64, body: &str) -> [(String, String); 3] {
    let b64 = base64::engine::general_purpose::STANDARD;
    // The key was checked when the configuration was loaded.
    let key = b64.decode(secret.expose()).unwrap_or_default();
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(&key) {
        Ok(m) => m,
        // HMAC takes keys of any length.
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    let signature = b64.encode(mac.finalize().into_bytes());
    [
        ("webhook-id".into(), msg_id.to_string()),
        ("webhook-timestamp".into(), timestamp.to_string()),
        ("webhook-signature".into(), format!("v1,{signature}")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_of_the_specification() {
        // The test vector of the Standard Webhooks reference libraries.
        let secret = Secret::new("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = r#"{"test": 2432232314}"#;
        let h = headers(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(h[2].1, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
