//! Helpers shared by the cluster tests: a real `redis-server` each test starts for itself
//! ([`RedisServer`]), a tiny RESP client to look at it ([`Conn`], [`Reply`]), a fault-injecting
//! TCP proxy to put between atasker and the server ([`Proxy`]), and helpers to run this test
//! binary again as a separate process and signal it ([`spawn_self_as`], [`kill9`], [`sigterm`],
//! [`wait_exit`]).
//!
//! Everything is synchronous (std + libc): tests may use it from any thread, with or without a
//! runtime. A missing `redis-server` is a failing test, never a skip.
#![allow(dead_code)]

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Generous bound for anything that should happen "soon" (a server answering, a child exiting).
pub const SOON: Duration = Duration::from_secs(10);

/// The panic message when `redis-server` is not on `PATH`.
pub const REDIS_MISSING: &str = "redis-server not found on PATH: atasker's cluster tests start \
     their own Redis (≥ 7.0); on Debian/Ubuntu: apt-get install -y redis-server";

/// A free loopback TCP port: bound on port 0, read and released. Another process may take it
/// before the caller binds it, so callers retry on a bind failure.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("cannot bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A fresh, empty directory under the temp dir, unique per process, call and time.
fn fresh_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let dir =
        std::env::temp_dir().join(format!("atasker-{tag}-{}-{n}-{nanos}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The `redis-server` executable on `PATH`; panics with [`REDIS_MISSING`] if there is none.
fn redis_server_path() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| panic!("{REDIS_MISSING}"))
}

/// A real `redis-server` owned by one test.
///
/// It runs in a fresh directory of its own, listens on a free loopback port and on a unix
/// socket in that directory, and persists every write to an append-only file before replying
/// (`--appendonly yes --appendfsync always`), so [`kill`](Self::kill) followed by
/// [`restart`](Self::restart) loses nothing. Dropping it kills the server and removes the
/// directory.
///
/// ```ignore
/// let redis = RedisServer::start();
/// assert_eq!(redis.cmd(&["SET", "k", "v"]), "OK");
/// ```
pub struct RedisServer {
    exe: PathBuf,
    dir: PathBuf,
    port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server and waits (at most [`SOON`]) until it answers `PING`. Panics if
    /// `redis-server` is missing (see [`REDIS_MISSING`]), older than 7.0, or never answers.
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// Like [`start`](Self::start), with extra `redis-server` arguments appended, e.g.
    /// `&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]`. They are used again by
    /// [`restart`](Self::restart).
    pub fn start_with(extra_args: &[&str]) -> RedisServer {
        let exe = redis_server_path();
        let dir = fresh_dir("redis");
        let sock = dir.join("redis.sock");
        // sun_path holds 108 bytes including the terminating NUL.
        assert!(
            sock.as_os_str().len() < 100,
            "unix socket path too long ({}): set TMPDIR to a shorter directory",
            sock.display()
        );
        let mut server = RedisServer {
            exe,
            dir,
            port: 0,
            extra: extra_args.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        // The free port may be taken before redis binds it: then try another one.
        for _ in 0..5 {
            server.port = free_port();
            if server.launch(Instant::now() + SOON) {
                server.check_version();
                return server;
            }
        }
        panic!(
            "redis-server never started (5 ports tried); log:\n{}",
            server.log()
        );
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// `redis+unix:///path/to/redis.sock`.
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.socket_path().display())
    }

    /// The TCP port on 127.0.0.1 (kept across [`restart`](Self::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The unix socket the server listens on.
    pub fn socket_path(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The server's own directory (AOF, log, socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let out = std::fs::read_to_string(self.dir.join("stdout.log")).unwrap_or_default();
        format!("{log}{out}")
    }

    /// Kills the server with SIGKILL and reaps it; no-op if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory, so it reloads its append-only
    /// file, and waits until it answers `PING`; kills it first if it still runs. Retries
    /// while the port is briefly unavailable; panics after [`SOON`].
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + SOON;
        while !self.launch(deadline) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}; log:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A new connection to the server over TCP (authenticated when the server was started
    /// with `--requirepass`).
    pub fn conn(&self) -> Conn {
        let mut c = Conn::tcp(self.port)
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.url()));
        if let Some(pw) = self.password() {
            c.call(&["AUTH", pw.as_str()])
                .unwrap_or_else(|e| panic!("AUTH failed on {}: {e}", self.url()));
        }
        c
    }

    /// The `--requirepass` the server was started with.
    fn password(&self) -> Option<String> {
        let i = self.extra.iter().position(|a| a == "--requirepass")?;
        self.extra.get(i + 1).cloned()
    }

    /// The keys matching `pattern` (`KEYS`).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        match self.call(&["KEYS", pattern]) {
            Reply::Array(items) => items.iter().map(ToString::to_string).collect(),
            other => panic!("KEYS {pattern}: {other}"),
        }
    }

    /// Runs one command on a new connection and returns the reply; panics on an I/O error.
    pub fn call<A: AsRef<[u8]>>(&self, args: &[A]) -> Reply {
        self.conn()
            .call(args)
            .unwrap_or_else(|e| panic!("redis command failed on {}: {e}", self.url()))
    }

    /// Runs one command and returns the reply as text (see [`Reply`]'s `Display`): `"OK"`,
    /// `"v"`, `"(nil)"`, `"3"`, `"[a, b]"`, `"(error) ERR …"`.
    pub fn cmd<A: AsRef<[u8]>>(&self, args: &[A]) -> String {
        self.call(args).to_string()
    }

    /// Spawns `redis-server` on `self.port` and waits until it is ready. Returns `false` if
    /// the process exits first (typically: port taken); panics if the deadline passes.
    fn launch(&mut self, deadline: Instant) -> bool {
        let log = std::fs::File::create(self.dir.join("stdout.log")).unwrap();
        let child = Command::new(&self.exe)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(self.socket_path())
            .args(["--unixsocketperm", "700"])
            .args(["--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--daemonize", "no"])
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .args(&self.extra)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", self.exe.display()));
        self.child = Some(child);
        loop {
            if let Ok(Some(_)) = self.child.as_mut().unwrap().try_wait() {
                self.child = None;
                return false;
            }
            // The unix socket is ours alone and redis creates it after binding the TCP port,
            // so a reply there means this process (not a stranger) owns the port.
            if self.ready() {
                return true;
            }
            if Instant::now() >= deadline {
                let log = self.log();
                self.kill();
                panic!(
                    "redis-server on port {} did not answer PING within {SOON:?}; log:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers `PING` on both listeners and has finished loading.
    fn ready(&self) -> bool {
        let pw = self.password();
        let auth = |conn: io::Result<Conn>| {
            conn.and_then(|mut c| {
                if let Some(pw) = &pw {
                    c.call(&["AUTH", pw.as_str()])?;
                }
                Ok(c)
            })
        };
        let ping = |conn: io::Result<Conn>| {
            auth(conn)
                .and_then(|mut c| c.call(&["PING"]))
                .is_ok_and(|r| r == Reply::Status("PONG".into()))
        };
        ping(Conn::unix(&self.socket_path()))
            && ping(Conn::tcp(self.port))
            && auth(Conn::tcp(self.port))
                .and_then(|mut c| c.call(&["INFO", "persistence"]))
                .is_ok_and(|r| r.to_string().contains("loading:0"))
    }

    /// Panics unless the server is Redis 7.0 or newer.
    fn check_version(&self) {
        let info = self.cmd(&["INFO", "server"]);
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .unwrap_or("?")
            .trim()
            .to_string();
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        assert!(
            major >= 7,
            "{} is Redis {version}; atasker's cluster tests need Redis ≥ 7.0",
            self.exe.display()
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("pid", &self.pid())
            .finish()
    }
}

/// One RESP2 reply.
///
/// Its `Display` is meant for assertions: status and bulk strings as their text, integers as
/// digits, nil as `(nil)`, arrays as `[a, b]`, errors as `(error) ERR …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR …`
    Error(String),
    /// `:42`
    Int(i64),
    /// `$3 abc`
    Bulk(Vec<u8>),
    /// `*2 …`
    Array(Vec<Reply>),
    /// `$-1` or `*-1`
    Nil,
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => f.write_str(s),
            Reply::Error(e) => write!(f, "(error) {e}"),
            Reply::Int(n) => write!(f, "{n}"),
            Reply::Bulk(b) => f.write_str(&String::from_utf8_lossy(b)),
            Reply::Nil => f.write_str("(nil)"),
            Reply::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// A socket a [`Conn`] talks over.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// A second handle on the same socket.
    fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// Sets the read and write timeout of the socket.
    fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A minimal blocking RESP2 connection, for tests to look at a server (or through a
/// [`Proxy`]) independently of atasker. Reads and writes time out after [`SOON`] unless
/// [`set_timeout`](Self::set_timeout) says otherwise.
pub struct Conn {
    writer: Stream,
    reader: BufReader<Stream>,
}

impl Conn {
    /// Connects to `127.0.0.1:port`.
    pub fn tcp(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        Self::new(Stream::Tcp(stream))
    }

    /// Connects to the unix socket at `path`.
    pub fn unix(path: &Path) -> io::Result<Conn> {
        Self::new(Stream::Unix(UnixStream::connect(path)?))
    }

    /// Wraps a connected socket, with the default timeout.
    fn new(stream: Stream) -> io::Result<Conn> {
        stream.set_timeout(Some(SOON))?;
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    /// Sets the read and write timeout (`None`: block forever).
    pub fn set_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.writer.set_timeout(timeout)
    }

    /// Sends one command without waiting for its reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<()> {
        let mut frame = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            let arg = arg.as_ref();
            frame.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            frame.extend_from_slice(arg);
            frame.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&frame)
    }

    /// Reads one reply. End of stream is an `UnexpectedEof` error; a timeout is the
    /// socket's `WouldBlock`/`TimedOut` error.
    pub fn read_reply(&mut self) -> io::Result<Reply> {
        let line = read_line(&mut self.reader)?;
        let (kind, rest) = line.split_at(1);
        let text = || String::from_utf8_lossy(rest).into_owned();
        let number = || {
            text()
                .parse::<i64>()
                .map_err(|_| invalid(format!("bad number in reply: {}", text())))
        };
        Ok(match kind[0] {
            b'+' => Reply::Status(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Int(number()?),
            b'$' => match number()? {
                -1 => Reply::Nil,
                n => {
                    let mut data = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut data)?;
                    data.truncate(n as usize);
                    Reply::Bulk(data)
                }
            },
            b'*' => match number()? {
                -1 => Reply::Nil,
                n => (0..n)
                    .map(|_| self.read_reply())
                    .collect::<io::Result<_>>()
                    .map(Reply::Array)?,
            },
            _ => return Err(invalid(format!("bad reply line: {}", text()))),
        })
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> io::Result<Reply> {
        self.send(args)?;
        self.read_reply()
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

/// One `\r\n`-terminated line without its terminator; never empty.
fn read_line(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    if line.len() < 3 || !line.ends_with(b"\r\n") {
        return Err(invalid(format!(
            "truncated reply line: {:?}",
            String::from_utf8_lossy(&line)
        )));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

/// An `InvalidData` error: the server sent something that is not RESP2.
fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// What a [`Proxy`] does with the bytes it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forwards everything at once.
    Pass,
    /// Forwards each chunk read after this delay (in both directions).
    Delay(Duration),
    /// Forwards nothing in either direction; sockets stay open and new connections are
    /// accepted, like a network partition. Held bytes go through once the mode changes.
    Freeze,
}

/// A loopback TCP proxy in front of a server port, for injecting network faults.
///
/// Each accepted client gets its own upstream connection and two forwarding threads. The
/// [`Mode`] can be changed at any time and applies to open connections at once;
/// [`reset_all`](Self::reset_all) aborts every open connection. Dropping the proxy stops it
/// and resets its connections.
///
/// ```ignore
/// let redis = RedisServer::start();
/// let proxy = Proxy::start(redis.port());
/// proxy.set_mode(Mode::Freeze);
/// ```
pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// State shared by the proxy handle, its acceptor and the forwarding threads.
struct Shared {
    /// The server's port; [`Proxy::set_target`] moves it (a failover that moves a name).
    target: std::sync::atomic::AtomicU16,
    mode: Mutex<Mode>,
    /// Signalled when the mode changes, a link dies, or the proxy stops.
    changed: Condvar,
    stop: AtomicBool,
    links: Mutex<Vec<Weak<Link>>>,
}

/// One proxied connection: the client's socket and ours to the server. The sockets close
/// when the last forwarding thread lets go of the link.
struct Link {
    client: TcpStream,
    server: TcpStream,
    dead: AtomicBool,
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to `127.0.0.1:target_port`, in
    /// [`Mode::Pass`].
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("cannot bind the proxy port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            target: std::sync::atomic::AtomicU16::new(target_port),
            mode: Mutex::new(Mode::Pass),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            links: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("proxy-{port}"))
                .spawn(move || accept_loop(&listener, &shared))
                .unwrap()
        };
        Proxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The proxy's own port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PROXYPORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Points new connections at `127.0.0.1:port`; open ones stay where they are (as a DNS
    /// name moved to a new primary: old connections still reach the old server).
    pub fn set_target(&self, port: u16) {
        self.shared.target.store(port, Ordering::SeqCst);
    }

    /// Switches the mode for open and future connections.
    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
        self.shared.changed.notify_all();
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// Aborts every open connection with a TCP reset (`SO_LINGER` 0) on both sides; bytes
    /// held by [`Mode::Freeze`] or [`Mode::Delay`] are dropped. The proxy keeps accepting.
    pub fn reset_all(&self) {
        self.shared.reset_all();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.reset_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("port", &self.port)
            .field("target", &self.shared.target.load(Ordering::SeqCst))
            .field("mode", &self.mode())
            .finish()
    }
}

impl Shared {
    fn reset_all(&self) {
        let links: Vec<Arc<Link>> = std::mem::take(&mut *self.links.lock().unwrap())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for link in &links {
            link.dead.store(true, Ordering::SeqCst);
            for s in [&link.client, &link.server] {
                set_linger_zero(s);
                // Wakes a thread blocked reading without sending anything; the reset goes
                // out when the last thread drops the link and the socket closes.
                let _ = s.shutdown(Shutdown::Read);
            }
        }
        // Taking the lock orders this after any waiter's check of `dead`.
        drop(self.mode.lock().unwrap());
        self.changed.notify_all();
    }
}

/// Makes `close` send RST instead of FIN.
fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a pointer to a live `linger` and its size.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// Accepts clients until the proxy stops, pairing each with a new server connection.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let _ = client.set_nonblocking(false);
        let target = ([127, 0, 0, 1], shared.target.load(Ordering::SeqCst)).into();
        let server = match TcpStream::connect_timeout(&target, Duration::from_secs(1)) {
            Ok(server) => server,
            Err(_) => {
                // Nothing to talk to: refuse the client the way a dead server would.
                set_linger_zero(&client);
                continue;
            }
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let link = Arc::new(Link {
            client,
            server,
            dead: AtomicBool::new(false),
        });
        {
            let mut links = shared.links.lock().unwrap();
            links.retain(|l| l.strong_count() > 0);
            links.push(Arc::downgrade(&link));
        }
        for to_server in [true, false] {
            let (shared, link) = (shared.clone(), link.clone());
            std::thread::spawn(move || forward(&shared, &link, to_server));
        }
    }
}

/// Copies one direction of `link` until end of stream, an error, or a reset.
fn forward(shared: &Shared, link: &Link, to_server: bool) {
    let (mut from, mut to) = if to_server {
        (&link.client, &link.server)
    } else {
        (&link.server, &link.client)
    };
    let gone = || link.dead.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst);
    let mut buf = vec![0; 16 * 1024];
    loop {
        // An error (the peer reset) ends this direction like end of stream.
        let n = from.read(&mut buf).unwrap_or(0);
        if gone() {
            return;
        }
        if n == 0 {
            // Pass the half-close on; the other direction ends on its own.
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        let mode = {
            let mut mode = shared.mode.lock().unwrap();
            while *mode == Mode::Freeze && !gone() {
                mode = shared.changed.wait(mode).unwrap();
            }
            *mode
        };
        if let Mode::Delay(delay) = mode {
            std::thread::sleep(delay);
        }
        if gone() || to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Runs this test executable again as `<exe> <test_name> --exact --nocapture
/// --test-threads=1` with `env` added, stdout and stderr inherited, in a new process group
/// whose id is the child's pid (so the test can signal it, or the whole group).
pub fn spawn_self_as(env: &[(&str, &str)], test_name: &str) -> Child {
    spawn(self_command(test_name).envs(env.iter().copied()))
}

/// The command [`spawn_self_as`] runs, for callers that set more than the environment
/// (stderr to a file, a variable removed).
pub fn self_command(test_name: &str) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .process_group(0);
    cmd
}

/// Starts `cmd`, or panics saying which program could not start.
pub fn spawn(cmd: &mut Command) -> Child {
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?} again: {e}", cmd.get_program()))
}

/// Sends SIGKILL to the child (not its group) and reaps it.
pub fn kill9(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Sends SIGTERM to the child (not its group).
pub fn sigterm(child: &Child) {
    // SAFETY: a plain kill(2) on our own, not yet reaped, child.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(r, 0, "kill({}, SIGTERM) failed", child.id());
}

/// Waits at most `timeout` for the child to exit; `None` if it still runs.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A remote static task in the shape `#[background_task(static, remote)] fn f(..) -> T`
/// expands to, but with the options (and so the supervisor) as the first argument, so that
/// each test can have a Redis and a supervisor of its own.
#[allow(unused_macros)]
macro_rules! remote_task {
    ($(#[$attr:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        fn $name(
            __atasker_options: ::atasker::__private::TaskOptions,
            $($arg: $ty),*
        ) -> ::atasker::Task<$ret> {
            fn __atasker_body($($arg: $ty),*) -> $ret $body
            fn __atasker_call(
                input: &[u8],
                out: &mut ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<(), ::std::string::String> {
                ::atasker::__private::call_static(input, out, |($($arg,)*): ($($ty,)*)| {
                    __atasker_body($($arg),*)
                })
            }
            #[::atasker::__private::linkme::distributed_slice(
                ::atasker::__private::ATASKER_STATIC_TASKS_V0_1
            )]
            #[linkme(crate = ::atasker::__private::linkme)]
            static __ATASKER_ENTRY: ::atasker::__private::StaticEntry =
                ::atasker::__private::StaticEntry {
                    name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!($name)),
                    call: __atasker_call,
                };
            ::atasker::__private::spawn_remote(__atasker_options, &__ATASKER_ENTRY, ($($arg,)*))
        }
    };
}

/// A producer's supervisor on `url`, living for the whole test binary, with a short node
/// timeout (so that tests of silent nodes take seconds).
pub fn producer(url: &str, node_timeout: Duration) -> &'static atasker::Supervisor {
    Box::leak(Box::new(
        atasker::Supervisor::builder()
            .name("producer")
            .process_pool(1)
            .cluster(url)
            .node_timeout(node_timeout)
            .build()
            .unwrap(),
    ))
}

/// Options for a remote task on `sup` at `priority`, with an optional timeout.
pub fn on(
    sup: &'static atasker::Supervisor,
    priority: atasker::Priority,
    timeout: Option<Duration>,
) -> atasker::__private::TaskOptions {
    atasker::__private::TaskOptions {
        name: "remote",
        priority,
        timeout,
        delay: None,
        supervisor: Some(sup),
        limit: None,
        retry: None,
    }
}

/// A zero set-up node: this test binary started with `ATASKER_NODE=url` (it serves before
/// `main`, so the test name does not matter), `processes` worker processes and the node
/// timeout in seconds, plus `extra` environment.
pub fn node(url: &str, processes: usize, timeout_secs: f64, extra: &[(&str, &str)]) -> Child {
    let processes = processes.to_string();
    let timeout = timeout_secs.to_string();
    let mut env = vec![
        ("ATASKER_NODE", url),
        ("ATASKER_NODE_PROCESSES", processes.as_str()),
        ("ATASKER_NODE_TIMEOUT", timeout.as_str()),
    ];
    env.extend_from_slice(extra);
    spawn_self_as(&env, "zero_setup_node_never_runs_main")
}

/// Waits until `f` holds, up to `within`; panics with `what` otherwise.
pub fn eventually(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What [`node`] runs, should the node not take over before `main`: then the test harness
/// runs this, which fails loudly (a node must never run `main`).
#[test]
fn zero_setup_node_never_runs_main() {
    // An empty `ATASKER_NODE=` is no node: such a process runs its `main`.
    assert!(
        std::env::var_os("ATASKER_NODE").is_none_or(|v| v.is_empty()),
        "a process started with ATASKER_NODE ran the test harness's main"
    );
}
