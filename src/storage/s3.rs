//! S3 and S3-compatible buckets, through object_store's AWS backend.
//!
//! Retries are object_store's own (tuned here, no second loop): a failed request or a
//! broken response body is retried a few times with backoff, a body resumes with a range
//! request. There is no limit on a whole download, only on connecting and on silence
//! while reading, so large objects are never cut off by a timeout.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use super::store::{RangedReads, StoreTarget, error_kind, root_cause};
use super::{ErrorKind, TargetError};
use crate::config::S3Location;

/// Objects restored at once when the policy does not say.
const DEFAULT_CONCURRENCY: usize = 4;
/// Objects larger than one part are read as ranges of this size, this many at once.
/// 8 MiB in flight: 4 parts of 4 MiB took the peak memory of a 2 GiB restore from 36 to
/// 62 MiB (the goal is at most 64).
const RANGED: RangedReads = RangedReads {
    part: 2 << 20,
    in_flight: 4,
};

/// A target on the bucket (and prefix) `loc` describes. Nothing is contacted yet.
pub fn open(loc: &S3Location) -> Result<StoreTarget, TargetError> {
    let endpoint = loc.endpoint.clone();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&loc.bucket)
        .with_region(&loc.region)
        .with_access_key_id(&loc.access_key_id)
        .with_secret_access_key(loc.secret_access_key.expose())
        .with_virtual_hosted_style_request(!loc.path_style)
        .with_retry(RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: loc.timeout * 2,
        })
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(
                    endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://")),
                )
                .with_timeout_disabled()
                .with_connect_timeout(loc.timeout.min(Duration::from_secs(10)))
                .with_read_timeout(loc.timeout),
        );
    if let Some(e) = &endpoint {
        builder = builder.with_endpoint(e);
    }
    let store = builder.build().map_err(|e| {
        TargetError::new(
            ErrorKind::Other,
            format!(
                "S3: invalid settings for bucket `{}`: {}",
                loc.bucket,
                root_cause(&e)
            ),
        )
    })?;
    let prefix = (!loc.prefix.is_empty()).then(|| Path::from_iter(loc.prefix.split('/')));
    let shown = match &endpoint {
        Some(e) => format!("s3://{}/{} at {e}", loc.bucket, loc.prefix),
        None => format!("s3://{}/{}", loc.bucket, loc.prefix),
    };
    let context = Context {
        bucket: loc.bucket.clone(),
        endpoint: endpoint.unwrap_or_else(|| "AWS".into()),
        key_id: loc.access_key_id.clone(),
        timeout: loc.timeout,
    };
    Ok(
        StoreTarget::new(shown, Arc::new(store), prefix, DEFAULT_CONCURRENCY)
            .with_errors(Arc::new(move |e, what| context.describe(e, what)))
            .with_ranged_reads(RANGED),
    )
}

/// What an S3 error message names, so a technician knows what to fix.
struct Context {
    bucket: String,
    endpoint: String,
    key_id: String,
    timeout: Duration,
}

impl Context {
    fn describe(&self, err: object_store::Error, what: &str) -> TargetError {
        let cause = s3_cause(&root_cause(&err));
        let listing = what == "listing";
        // Listing errors reach us as generic errors: the S3 error code tells what they are.
        let kind = match error_kind(&err) {
            _ if listing && looks_like_auth(&cause) => ErrorKind::Auth,
            _ if cause.contains("NoSuchBucket") => ErrorKind::NotFound,
            k => k,
        };
        let (bucket, endpoint) = (&self.bucket, &self.endpoint);
        let message = match kind {
            ErrorKind::Auth | ErrorKind::PermissionDenied if listing || looks_like_auth(&cause) => {
                format!(
                    "S3: access to bucket `{bucket}` at {endpoint} refused for access key {}: check access_key_id and the secret ({cause})",
                    self.key_id
                )
            }
            ErrorKind::PermissionDenied => {
                format!("S3: permission denied reading `{what}` in bucket `{bucket}` ({cause})")
            }
            ErrorKind::NotFound if listing || cause.contains("NoSuchBucket") => {
                format!("S3: bucket `{bucket}` does not exist at {endpoint} ({cause})")
            }
            ErrorKind::NotFound => format!("S3: `{what}` does not exist in bucket `{bucket}`"),
            ErrorKind::Unreachable => format!("S3: cannot connect to {endpoint}: {cause}"),
            ErrorKind::Timeout => format!(
                "S3: {endpoint} did not answer within {} s: {cause}",
                self.timeout.as_secs()
            ),
            _ if listing => format!("S3: listing bucket `{bucket}` at {endpoint} failed: {cause}"),
            _ => format!("S3: reading `{what}` from bucket `{bucket}` failed: {cause}"),
        };
        // A missing bucket looks like "not found" to object_store; for the target as a
        // whole that means "could not verify", which NotFound on a listing already gives.
        TargetError::new(kind, message)
    }
}

/// An S3 XML error body shortened to `Code: Message`; other causes unchanged.
fn s3_cause(cause: &str) -> String {
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = cause.find(&open)? + open.len();
        let len = cause[start..].find(&format!("</{name}>"))?;
        Some(cause[start..start + len].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => cause.to_string(),
    }
}

fn looks_like_auth(cause: &str) -> bool {
    [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "Forbidden",
    ]
    .iter()
    .any(|w| cause.contains(w))
}
