//! Email: who gets what (`policy`), composing messages (`compose`), the durable
//! outbox in the catalog ([`outbox`]) and sending ([`transport`]). Addresses are checked
//! by [`crate::config::mailbox`], the same way at configuration load and when composing.

pub(crate) mod compose;
pub(crate) mod digest;
pub mod outbox;
pub(crate) mod policy;
pub mod thread;
pub mod transport;

pub use compose::Sender;
pub use transport::{Delivered, Mailer, SendError};
