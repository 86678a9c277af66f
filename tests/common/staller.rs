//! Relays that stop talking, for the tests of delivery deadlines: a TCP listener on
//! 127.0.0.1 that accepts connections and never says a word, optionally only for the
//! first `n` connections, passing later ones through to a real server.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub struct Staller {
    pub port: u16,
    /// Connections accepted so far.
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Staller {
    /// Accepts every connection and stays silent on it.
    pub fn silent() -> Staller {
        Staller::start(usize::MAX, 0)
    }

    /// Stays silent on the first `n` connections, then passes connections through to the
    /// server on 127.0.0.1:`port`.
    pub fn first_then_forward(n: usize, port: u16) -> Staller {
        Staller::start(n, port)
    }

    fn start(silent: usize, forward_to: u16) -> Staller {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        if n < silent {
                            held.push(client); // open, and never answered
                        } else {
                            forward(client, forward_to);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Staller {
            port,
            accepted,
            stop,
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Copies bytes both ways between `client` and the server on `port`.
fn forward(client: TcpStream, port: u16) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    for (mut from, mut to) in [
        (client.try_clone().unwrap(), server.try_clone().unwrap()),
        (server, client),
    ] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    }
}

impl Drop for Staller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
