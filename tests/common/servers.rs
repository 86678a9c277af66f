//! Real servers on 127.0.0.1 for the tests: Garage (S3) and Samba (`smbd`).
//!
//! Each test starts its own instance in a temporary folder on free ports, so a test can
//! stop or damage its server without disturbing the others. The binaries come from the
//! machine: `tests/run.sh` installs them (Debian's `samba`, `cargo install garage`) and
//! tells where Garage is through `BACKPROOF_TEST_GARAGE`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Ports this test process has handed out. Tests run in parallel threads: a port is
/// never handed out twice, so two servers of one test binary never race for it.
static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// A TCP port on 127.0.0.1 that was free when asked and that this process never handed
/// out before. Another process may still take it before the server binds it: servers
/// are started through [`on_free_ports`], which tries other ports then.
pub fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if HANDED_OUT.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// Starts a server on ports from [`free_port`]; `start` returns `Err` with the server's
/// log when it exited before it was ready. A server that failed because a port was taken
/// meanwhile is started again on other ports (up to 5 times); any other failure panics.
pub fn on_free_ports<T>(what: &str, mut start: impl FnMut() -> Result<T, String>) -> T {
    for _ in 0..5 {
        match start() {
            Ok(server) => return server,
            Err(log) if log.to_lowercase().contains("in use") => continue,
            Err(log) => panic!("{what} did not start: {log}"),
        }
    }
    panic!("{what} did not start: every port it was given was taken");
}

/// Waits until `ready`, while `child` runs: `Err` with the log at `log` if it exits first
/// (a server on the port that is not ours must not pass for ours).
fn wait_ready(
    what: &str,
    child: &mut Child,
    log: &Path,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{what} exited with {status}: {log}"));
        }
        if ready() {
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not become ready in {timeout:?}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn find_binary(env: &str, name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return p.into();
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let tools = std::env::var("BACKPROOF_TOOLS")
        .unwrap_or_else(|_| format!("{home}/.cache/backproof-tools"));
    for p in [
        format!("{tools}/bin/{name}"),
        format!("{home}/.cargo/bin/{name}"),
    ] {
        if Path::new(&p).is_file() {
            return p.into();
        }
    }
    panic!("{name} not found: run the tests with tests/run.sh, which installs it (or set {env})");
}

/// A single-node Garage S3 server with one bucket and one key.
pub struct Garage {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub bucket: String,
    pub key_id: String,
    pub secret: String,
}

impl Garage {
    pub fn start() -> Garage {
        on_free_ports("garage", Garage::try_start)
    }

    fn try_start() -> Result<Garage, String> {
        let bin = find_binary("BACKPROOF_TEST_GARAGE", "garage");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let rpc = free_port();
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                r#"metadata_dir = "{d}/meta"
data_dir = "{d}/data"
db_engine = "sqlite"
replication_factor = 1
# Stored blocks stay plain, so a test can damage them on disk.
compression_level = "none"
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:{port}"
"#,
                d = dir.path().display()
            ),
        )
        .unwrap();
        let key_id = format!("GK{:024x}", rand_u64() as u128);
        let secret = format!("{:032x}{:032x}", rand_u64() as u128, rand_u64() as u128);
        let bucket = "backups".to_string();
        let log_path = dir.path().join("garage.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(bin)
            .args([
                "-c",
                config.to_str().unwrap(),
                "server",
                "--single-node",
                "--default-bucket",
            ])
            .env("GARAGE_RPC_SECRET", format!("{:064x}", rand_u64() as u128))
            .env("GARAGE_DEFAULT_ACCESS_KEY", &key_id)
            .env("GARAGE_DEFAULT_SECRET_KEY", &secret)
            .env("GARAGE_DEFAULT_BUCKET", &bucket)
            .env("RUST_LOG", "garage=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start garage");
        let mut g = Garage {
            child: Some(child),
            dir,
            port,
            bucket,
            key_id,
            secret,
        };
        // Ready when the S3 API answers, and the default bucket accepts a signed request.
        let store = g.store();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        wait_ready(
            "garage",
            g.child.as_mut().unwrap(),
            &log_path,
            Duration::from_secs(60),
            || {
                rt.block_on(async {
                    use futures::TryStreamExt;
                    store.list(None).try_collect::<Vec<_>>().await.is_ok()
                })
            },
        )?;
        Ok(g)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An S3 client on the bucket, for putting test objects.
    pub fn store(&self) -> Arc<dyn object_store::ObjectStore> {
        Arc::new(
            object_store::aws::AmazonS3Builder::new()
                .with_endpoint(self.endpoint())
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name(&self.bucket)
                .with_access_key_id(&self.key_id)
                .with_secret_access_key(&self.secret)
                .with_virtual_hosted_style_request(false)
                .with_retry(object_store::RetryConfig {
                    max_retries: 0,
                    ..Default::default()
                })
                .build()
                .unwrap(),
        )
    }

    /// Where Garage keeps object data blocks.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Unix and Samba user the tests log on as.
pub const SMB_USER: &str = "bptest";

/// An `smbd` with three shares: `backups`, `secure` (SMB3 encryption required) and
/// `plain` (files read as the test user, so permissions apply).
pub struct Samba {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub password: String,
}

impl Samba {
    pub fn start() -> Samba {
        Samba::start_with("")
    }

    /// A server whose `[global]` section also has `global` (e.g. `server smb encrypt = off`).
    pub fn start_with(global: &str) -> Samba {
        on_free_ports("smbd", || Samba::try_start(global))
    }

    fn try_start(global: &str) -> Result<Samba, String> {
        let smbd = find_binary("BACKPROOF_TEST_SMBD", "smbd");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        for sub in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "backups", "secure",
        ] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let port = free_port();
        let conf = dir.path().join("smb.conf");
        std::fs::write(
            &conf,
            format!(
                r#"[global]
server role = standalone server
smb ports = {port}
interfaces = lo
bind interfaces only = yes
disable netbios = yes
server min protocol = SMB2_10
load printers = no
printcap name = /dev/null
disable spoolss = yes
private dir = {d}/private
lock directory = {d}/lock
state directory = {d}/state
cache directory = {d}/cache
pid directory = {d}/pid
ncalrpc dir = {d}/ncalrpc
log file = {d}/log.%m
passdb backend = tdbsam:{d}/private/passdb.tdb
map to guest = never
{global}

[backups]
path = {d}/backups
read only = no
valid users = {SMB_USER}
force user = root

[secure]
path = {d}/secure
read only = no
valid users = {SMB_USER}
force user = root
server smb encrypt = required

# Files are read as the logged-on user: Unix permissions apply.
[plain]
path = {d}/plain
read only = yes
valid users = {SMB_USER}
"#
            ),
        )
        .unwrap();
        // The Unix user must exist for Samba to accept it.
        let _ = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/usr/sbin/nologin", SMB_USER])
            .stderr(Stdio::null())
            .status();
        let password = format!("pw-{:x}", rand_u64());
        let mut add = Command::new("smbpasswd")
            .args(["-c", conf.to_str().unwrap(), "-s", "-a", SMB_USER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("smbpasswd");
        {
            use std::io::Write;
            let stdin = add.stdin.as_mut().unwrap();
            writeln!(stdin, "{password}\n{password}").unwrap();
        }
        assert!(add.wait().unwrap().success(), "smbpasswd failed");
        let log_path = dir.path().join("smbd.out");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(smbd)
            .args([
                "--foreground",
                "--no-process-group",
                "-s",
                conf.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start smbd");
        let mut s = Samba {
            child: Some(child),
            dir,
            port,
            password,
        };
        // smbd logs a port it cannot bind to its log file and carries on without it.
        let log_file = s.dir.path().join("log.smbd");
        let taken = || {
            std::fs::read_to_string(&log_file)
                .unwrap_or_default()
                .contains("Address already in use")
        };
        let result = wait_ready(
            "smbd",
            s.child.as_mut().unwrap(),
            &log_path,
            Duration::from_secs(30),
            || taken() || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        match result {
            Ok(()) if !taken() => Ok(s),
            Ok(()) => Err(format!("smbd: port {port} in use")),
            Err(e) => Err(format!(
                "{e}\n{}",
                std::fs::read_to_string(&log_file).unwrap_or_default()
            )),
        }
    }

    /// The folder a share serves.
    pub fn share_dir(&self, share: &str) -> PathBuf {
        self.dir.path().join(share)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // smbd forks a child per connection; they serve on until their client leaves.
        let _ = Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                &self.dir.path().join("smb.conf").display().to_string(),
            ])
            .status();
    }

    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("pkill")
            .args([
                sig,
                "-f",
                &self.dir.path().join("smb.conf").display().to_string(),
            ])
            .status();
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.resume();
        self.stop();
    }
}

fn rand_u64() -> u64 {
    rand::random()
}

/// The test user and password of the SMTP server.
pub const SMTP_USER: &str = "backproof";
pub const SMTP_PASSWORD: &str = "smtp-test-password";

/// aiosmtpd on 127.0.0.1 with STARTTLS and AUTH required, keeping a Maildir.
pub struct Smtp {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// Seconds the server waits after a message's data before keeping it and answering.
    data_delay: f64,
}

impl Smtp {
    pub fn start() -> Smtp {
        Smtp::start_with_data_delay(Duration::ZERO)
    }

    /// A slow relay: it answers each message's data only after `delay`.
    pub fn start_with_data_delay(delay: Duration) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        // An internal CA, as an MSP's relay would have, and a server certificate from it.
        let d = dir.path();
        std::fs::write(
            d.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        for args in [
            "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Test-MSP-CA -keyout ca.key -out ca.pem",
            "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out server.csr",
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cert.pem -extfile ext.cnf",
        ] {
            let ok = Command::new("openssl")
                .args(args.split(' '))
                .current_dir(d)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("openssl");
            assert!(ok.success(), "openssl {args} failed");
        }
        let mut s = Smtp {
            child: None,
            dir,
            port: 0,
            data_delay: delay.as_secs_f64(),
        };
        on_free_ports("the SMTP server", || {
            s.port = free_port();
            s.try_resume()
        });
        s
    }

    /// Starts (again) on the same port with the same mailbox.
    pub fn resume(&mut self) {
        if let Err(log) = self.try_resume() {
            panic!("SMTP server did not start: {log}");
        }
    }

    fn try_resume(&mut self) -> Result<(), String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/smtp_server.py");
        let d = self.dir.path();
        let log = std::fs::File::create(d.join("smtp.log")).unwrap();
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .args([
                "--port",
                &self.port.to_string(),
                "--user",
                SMTP_USER,
                "--password",
                SMTP_PASSWORD,
            ])
            .arg("--mbox")
            .arg(self.mbox())
            .arg("--cert")
            .arg(d.join("cert.pem"))
            .arg("--key")
            .arg(d.join("key.pem"))
            .args(["--data-delay", &self.data_delay.to_string()])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start the SMTP server (python3-aiosmtpd)");
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::fs::read_to_string(d.join("smtp.log")).unwrap_or_default());
        }
        self.child = Some(child);
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The CA certificate that signed the server's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn mbox(&self) -> PathBuf {
        self.dir.path().join("mbox")
    }

    /// The raw messages received so far, oldest first (aiosmtpd keeps a Maildir).
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(dir) = std::fs::read_dir(self.mbox().join(sub)) {
                for e in dir.flatten() {
                    let t = e.metadata().and_then(|m| m.modified()).unwrap();
                    files.push((t, e.path()));
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .map(|(_, p)| std::fs::read(p).unwrap())
            .collect()
    }

    /// The `[smtp]` section for a configuration using this server.
    pub fn config(&self, password_file: &Path) -> String {
        format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"starttls\"\nusername = \"{SMTP_USER}\"\npassword_file = \"{}\"\nca_file = \"{}\"\nfrom = \"backproof <backproof@msp.example>\"\nreply_to = \"noc@msp.example\"\ntimeout = \"5s\"\n",
            self.port,
            password_file.display(),
            self.ca().display()
        )
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}
