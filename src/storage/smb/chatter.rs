//! libsmbclient's own output goes to the log, never to stdout.
//!
//! libsmbclient writes its debug messages to stdout, and some notices with plain
//! `printf` (for instance "Encryption required and server doesn't support SMB3
//! encryption - failing connect"): in `run --json` they would land after the JSON
//! document. Here its debug messages are taken through its log callback, and the C
//! library's `stdout` stream (which Rust's own printing does not use) is pointed at a
//! writer that logs each line. Both are logged under the target `libsmbclient`.
//!
//! The notice that a session could not be encrypted is also counted, per thread (the
//! thread that made the libsmbclient call), so that a target requiring encryption can
//! refuse a session libsmbclient left in clear.

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::{Mutex, Once};

/// How libsmbclient starts the notice it prints when encryption could not be turned on
/// (server without SMB3 encryption, or encryption setup failed).
const NOT_ENCRYPTED: &str = "Encryption required and";

thread_local! {
    static REFUSALS: Cell<u64> = const { Cell::new(0) };
    static LAST_REFUSAL: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Routes libsmbclient's output into the log; idempotent. Must run before the first
/// libsmbclient context is created.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a fresh context, used only to reach libsmbclient's process-wide log
        // callback (the callback is global, not per context), then freed. No other
        // libsmbclient call can run yet: every context is created after `install`.
        unsafe {
            let ctx = pavao_sys::smbc_new_context();
            if !ctx.is_null() {
                pavao_sys::smbc_setLogCallback(ctx, std::ptr::null_mut(), Some(on_debug));
                pavao_sys::smbc_free_context(ctx, 0);
            }
        }
        redirect_c_stdout();
    });
}

/// How many times libsmbclient said, on this thread, that it could not encrypt.
pub fn encryption_refusals() -> u64 {
    REFUSALS.with(Cell::get)
}

/// What libsmbclient said the last time it could not encrypt, on this thread.
pub fn last_refusal() -> String {
    LAST_REFUSAL.with(|l| l.borrow().clone())
}

fn log_line(line: &str, debug_level: Option<c_int>) {
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    if line.starts_with(NOT_ENCRYPTED) {
        REFUSALS.with(|r| r.set(r.get() + 1));
        LAST_REFUSAL.with(|l| *l.borrow_mut() = line.to_string());
    }
    match debug_level {
        Some(level) if level > 1 => tracing::debug!(target: "libsmbclient", "{line}"),
        _ => tracing::warn!(target: "libsmbclient", "{line}"),
    }
}

extern "C" fn on_debug(_private: *mut c_void, level: c_int, msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: libsmbclient passes a NUL-terminated message valid for this call.
    let text = unsafe { CStr::from_ptr(msg) }.to_string_lossy();
    for line in text.lines() {
        log_line(line, Some(level));
    }
}

/// Bytes printed to C `stdout` not yet ending in a newline; bounded.
static PARTIAL: Mutex<Vec<u8>> = Mutex::new(Vec::new());
const MAX_LINE: usize = 4096;

fn on_stdout_bytes(bytes: &[u8]) {
    let mut partial = PARTIAL.lock().unwrap_or_else(|e| e.into_inner());
    partial.extend_from_slice(bytes);
    while let Some(end) = partial.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = partial.drain(..=end).collect();
        log_line(&String::from_utf8_lossy(&line), None);
    }
    if partial.len() > MAX_LINE {
        let line = std::mem::take(&mut *partial);
        log_line(&String::from_utf8_lossy(&line), None);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn redirect_c_stdout() {
    use libc::{FILE, off64_t, size_t, ssize_t};

    /// glibc's `cookie_io_functions_t`.
    #[repr(C)]
    struct CookieIoFunctions {
        read: Option<extern "C" fn(*mut c_void, *mut c_char, size_t) -> ssize_t>,
        write: Option<extern "C" fn(*mut c_void, *const c_char, size_t) -> ssize_t>,
        seek: Option<extern "C" fn(*mut c_void, *mut off64_t, c_int) -> c_int>,
        close: Option<extern "C" fn(*mut c_void) -> c_int>,
    }

    unsafe extern "C" {
        fn fopencookie(
            cookie: *mut c_void,
            mode: *const c_char,
            functions: CookieIoFunctions,
        ) -> *mut FILE;
        /// glibc's `stdout` is a writable variable.
        static mut stdout: *mut FILE;
    }

    extern "C" fn write(_cookie: *mut c_void, buf: *const c_char, size: size_t) -> ssize_t {
        if !buf.is_null() && size > 0 {
            // SAFETY: stdio hands over `size` readable bytes.
            on_stdout_bytes(unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), size) });
        }
        size as ssize_t
    }

    let functions = CookieIoFunctions {
        read: None,
        write: Some(write),
        seek: None,
        close: None,
    };
    // SAFETY: runs once, before any libsmbclient call; the new stream lives for the whole
    // process and replaces the C `stdout` pointer only, not file descriptor 1, which Rust
    // keeps writing to.
    unsafe {
        let file = fopencookie(std::ptr::null_mut(), c"w".as_ptr(), functions);
        if file.is_null() {
            return;
        }
        libc::setvbuf(file, std::ptr::null_mut(), libc::_IOLBF, 0);
        libc::fflush(stdout);
        stdout = file;
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn redirect_c_stdout() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_lines_are_logged_and_refusals_counted() {
        let before = encryption_refusals();
        on_stdout_bytes(b"Encryption required and server doesn't support");
        assert_eq!(encryption_refusals(), before, "not a line yet");
        on_stdout_bytes(b" SMB3 encryption - failing connect\nother\n");
        assert_eq!(encryption_refusals(), before + 1);
        assert_eq!(
            last_refusal(),
            "Encryption required and server doesn't support SMB3 encryption - failing connect"
        );
        assert!(PARTIAL.lock().unwrap().is_empty());
    }
}
