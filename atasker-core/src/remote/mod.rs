//! Remote static tasks on a cluster of nodes sharing a Redis server (≥ 7.0), through Redis
//! Streams with one consumer group.
//!
//! - **Producer** (`producer.rs`): a remote task is an entry in the stream of its build and
//!   priority; the submitting process reads its answers from a reply stream of its own and
//!   resolves the caller's [`Task`]. Submissions are batched into pipelines.
//! - **Node** (the `node/` room above the supervisor): [`Supervisor::serve_cluster`] takes entries with `XREADGROUP`, as
//!   many as its process pool can start now (CRITICAL at once), runs them in that pool under
//!   the same ladder, and answers and acknowledges each in one script. A heartbeat key with a
//!   TTL, set from a thread of its own, says it is alive; any node puts the entries of a
//!   node whose heartbeat expired back in their queue (`reclaim`).
//! - **Zero set-up nodes** (`node/zero_setup.rs`): `ATASKER_NODE=redis://…` makes any binary
//!   a node before `main`.
//! - The engine is behind [`broker::Broker`]; `link.rs` keeps connections alive.
//!
//! [`Supervisor::serve_cluster`]: crate::Supervisor::serve_cluster

pub(crate) mod broker;
pub(crate) mod link;
mod producer;
pub(crate) mod wire;

use crate::error::{BuildError, TaskError};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub(crate) use producer::{encode_args, job, Outgoing, Producer};

/// The default namespace (the prefix of every key).
pub(crate) const DEFAULT_NAMESPACE: &str = "atasker";
/// The default node timeout.
pub(crate) const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest node timeout kept: a longer one (up to `Duration::MAX`) means a silent node
/// is never given up on, and is held as this (a century) so that every `PX` Redis is sent
/// stays in its range.
pub(crate) const MAX_NODE_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// The default payload limit: 16 MiB.
pub(crate) const DEFAULT_MAX_PAYLOAD: usize = 16 << 20;
/// `bytes` (an encoded argument tuple or result, `what`), or the error that it is larger than
/// the cluster's payload limit `limit` (`cluster_max_payload`).
pub(crate) fn within_payload(
    what: &str,
    bytes: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, TaskError> {
    if bytes.len() > limit {
        return Err(TaskError::Codec(format!(
            "{what} {} bytes, over the cluster's payload limit of {limit} bytes \
             (SupervisorBuilder::cluster_max_payload)",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The certificates of a `rediss://` cluster, in PEM: a private CA to verify the server
/// with (instead of the system roots), and a client certificate with its key.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    pub(crate) ca: Option<Vec<u8>>,
    pub(crate) client: Option<(Vec<u8>, Vec<u8>)>,
}

/// The default delivery limit.
pub(crate) const DEFAULT_MAX_DELIVERIES: u32 = 3;

/// A supervisor's cluster settings, checked by `build()` (which does not connect).
pub(crate) struct Settings {
    pub(crate) client: redis::Client,
    /// The URL without credentials.
    pub(crate) shown: String,
    pub(crate) namespace: String,
    pub(crate) node_timeout: Duration,
    pub(crate) max_deliveries: u32,
    /// The largest argument or result, in bytes, a remote task may carry through Redis.
    pub(crate) max_payload: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.shown)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// How long a reply stream lives after its last use: 10 × the node timeout. A live
    /// producer refreshes it every node timeout; one that stops deletes its stream; one
    /// whose process died leaves it to expire.
    pub(crate) fn reply_ttl(&self) -> Duration {
        self.node_timeout.saturating_mul(10)
    }

    pub(crate) fn new(
        url: &str,
        namespace: &str,
        node_timeout: Duration,
        max_deliveries: u32,
    ) -> Result<Self, BuildError> {
        let shown = redact(url);
        let invalid = |why: String| Err(BuildError::ClusterUrl(format!("{shown}: {why}")));
        if url.starts_with("rediss://") && !cfg!(feature = "cluster-tls") {
            return invalid("`rediss://` needs atasker's `cluster-tls` feature".into());
        }
        // Without `CLIENT SETINFO` at connect (sent with its replies ignored): a refusal at
        // accept (`-DENIED`, protected mode) is then the reply to the first real command,
        // which says it by name, instead of a reset connection retried for ever.
        let client = redis::Client::open(url).and_then(|c| {
            let info = c.get_connection_info().clone();
            let settings = info.redis_settings().clone().set_skip_set_lib_name();
            redis::Client::open(info.set_redis_settings(settings))
        });
        let client = match client {
            Ok(c) => c,
            // The crate's text may quote the URL: say only what kind of error it was.
            Err(e) => return invalid(format!("{} (expected redis://[user:password@]host[:port][/db], rediss://… or redis+unix:///path)", e.category())),
        };
        if namespace.is_empty() || namespace.contains(|c: char| c.is_whitespace() || c == ':') {
            return Err(BuildError::InvalidConfig(
                "cluster_namespace must be non-empty, without spaces or `:`",
            ));
        }
        if node_timeout < Duration::from_millis(300) {
            return Err(BuildError::InvalidConfig(
                "node_timeout must be at least 300 ms",
            ));
        }
        if max_deliveries == 0 {
            return Err(BuildError::InvalidConfig(
                "max_deliveries must be at least 1",
            ));
        }
        // Longer than Redis keeps a key's TTL (`PX` counts milliseconds in a signed 64-bit
        // number, added to now) is "never" for a cluster: a century.
        let node_timeout = node_timeout.min(MAX_NODE_TIMEOUT);
        Ok(Settings {
            client,
            shown,
            namespace: namespace.to_owned(),
            node_timeout,
            max_deliveries,
            max_payload: DEFAULT_MAX_PAYLOAD,
        })
    }

    /// The settings with `tls`'s certificates (none: the system roots, no client
    /// certificate); only for a `rediss://` URL.
    pub(crate) fn with_tls(self, tls: &Tls) -> Result<Self, BuildError> {
        if tls.ca.is_none() && tls.client.is_none() {
            return Ok(self);
        }
        if !self.shown.starts_with("rediss://") {
            return Err(BuildError::InvalidConfig(
                "cluster_tls_ca and cluster_tls_client need a rediss:// cluster URL",
            ));
        }
        self.tls_client(tls)
    }

    #[cfg(feature = "cluster-tls")]
    fn tls_client(mut self, tls: &Tls) -> Result<Self, BuildError> {
        let certs = redis::TlsCertificates {
            client_tls: (tls.client.clone()).map(|(client_cert, client_key)| {
                redis::ClientTlsConfig {
                    client_cert,
                    client_key,
                }
            }),
            root_cert: tls.ca.clone(),
        };
        let info = self.client.get_connection_info().clone();
        self.client = redis::Client::build_with_tls(info, certs).map_err(|e| {
            BuildError::ClusterUrl(format!(
                "{}: the TLS certificates are not usable ({}: {})",
                self.shown,
                e.category(),
                e.detail().unwrap_or("not PEM")
            ))
        })?;
        Ok(self)
    }

    #[cfg(not(feature = "cluster-tls"))]
    fn tls_client(self, _: &Tls) -> Result<Self, BuildError> {
        Err(BuildError::ClusterUrl(format!(
            "{}: `rediss://` needs atasker's `cluster-tls` feature",
            self.shown
        )))
    }

    /// How long one Redis call may take before its connection is deemed dead: a third of
    /// the node timeout, at least 1 s, at most 10 s.
    pub(crate) fn call_deadline(&self) -> Duration {
        (self.node_timeout / 3).clamp(Duration::from_secs(1), Duration::from_secs(10))
    }

    /// A new reconnecting connection to the cluster's Redis, with the call deadline.
    pub(crate) fn link(&self) -> link::Link {
        link::Link::new(
            self.client.clone(),
            self.shown.clone(),
            self.call_deadline(),
        )
    }
}

/// `url` without its password (and user): `redis://***@host:6379/0`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".into();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// This build's fingerprint: a hash of the executable file (or of `ATASKER_BUILD_ID` when
/// set), as 16 hex digits. Nodes take only tasks of their own fingerprint.
pub(crate) fn fingerprint() -> &'static str {
    static FP: OnceLock<String> = OnceLock::new();
    FP.get_or_init(|| {
        let mut h = Hasher::default();
        match std::env::var("ATASKER_BUILD_ID") {
            Ok(id) => h.write(id.as_bytes()),
            Err(_) => {
                if let Err(e) = hash_file(&mut h) {
                    tracing::error!(error = %e, "atasker: cannot read this executable to fingerprint the build; using the registry's names");
                    for e in crate::process_pool::registry::entries() {
                        h.write(e.name.as_bytes());
                    }
                }
            }
        }
        format!("{:016x}", h.finish())
    })
}

fn hash_file(h: &mut Hasher) -> std::io::Result<()> {
    use std::io::Read;
    let mut f = std::fs::File::open("/proc/self/exe")
        .or_else(|_| std::env::current_exe().and_then(std::fs::File::open))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        h.write(&buf[..n]);
    }
}

/// A fast 64-bit hash of a byte stream (8 bytes at a time, multiply-xorshift); not
/// cryptographic: it tells builds apart, it does not authenticate them.
#[derive(Default)]
struct Hasher {
    state: u64,
    len: u64,
}

impl Hasher {
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.state ^= self.state >> 29;
    }

    fn write(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        if !rest.is_empty() {
            tail[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(tail) ^ 0xFF);
        }
    }

    fn finish(&self) -> u64 {
        let mut x = self.state ^ self.len;
        x = (x ^ (x >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x ^ (x >> 33)
    }
}

/// A unique name for this process in the cluster: `host:pid:random`.
pub(crate) fn process_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let mut h = Hasher::default();
    h.write(&nanos.to_le_bytes());
    h.write(&std::process::id().to_le_bytes());
    h.write(&(&h as *const Hasher as usize).to_le_bytes());
    format!("{host}:{}:{:08x}", std::process::id(), h.finish() as u32)
}

/// The error of a task Redis refused or lost.
pub(crate) fn cluster_error(what: impl std::fmt::Display) -> TaskError {
    TaskError::Cluster(what.to_string())
}

/// The cluster side of a supervisor: its settings, the producer (started on the first
/// remote task) and the node (started by `serve_cluster`).
pub(crate) struct Remote {
    pub(crate) settings: Arc<Settings>,
    pub(crate) producer: OnceLock<Arc<Producer>>,
    /// The connection `fleet` cron workers take their leases through, made on first use.
    leases: OnceLock<link::Link>,
}

impl Remote {
    pub(crate) fn new(settings: Settings) -> Self {
        Remote {
            settings: Arc::new(settings),
            producer: OnceLock::new(),
            leases: OnceLock::new(),
        }
    }

    /// Takes `worker`'s tick at `tick_ms` (ms since the Unix epoch, UTC) for a `fleet` cron
    /// worker: its lease for `ttl` and the fleet's high-water mark, in one script
    /// ([`FLEET_TICK`]); `true` if this process runs the tick. One attempt within the call
    /// deadline.
    pub(crate) async fn lease(
        &self,
        worker: &str,
        tick_ms: i64,
        ttl: Duration,
    ) -> Result<bool, link::CallError> {
        static SCRIPT: OnceLock<redis::Script> = OnceLock::new();
        let s = &self.settings;
        let link = self.leases.get_or_init(|| s.link());
        let lease = format!("{}:lease:{worker}:{tick_ms}", s.namespace);
        let mark = format!("{}:lease:{worker}:last", s.namespace);
        let holder = process_name_once();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let (ttl, mark_ttl) = (ms(ttl), ms(MARK_TTL));
        let call = link.call(Duration::ZERO, |mut c| async move {
            SCRIPT
                .get_or_init(|| redis::Script::new(FLEET_TICK))
                .key(lease)
                .key(mark)
                .arg(tick_ms)
                .arg(holder)
                .arg(ttl)
                .arg(mark_ttl)
                .invoke_async::<i64>(&mut c)
                .await
        });
        // The link reconnects for ever: a tick waits for its lease only this long.
        match tokio::time::timeout(s.call_deadline() * 2, call).await {
            Ok(taken) => Ok(taken? == 1),
            Err(_) => Err(link::CallError::Connection("Redis unreachable".into())),
        }
    }
}

/// How long a `fleet` worker's high-water mark outlives the last tick the fleet fired.
const MARK_TTL: Duration = Duration::from_secs(30 * 86_400);

/// Takes a `fleet` worker's tick. KEYS[1]: the tick's lease; KEYS[2]: the worker's
/// high-water mark, the last tick the fleet fired. ARGV[1]: the tick (ms since the Unix
/// epoch); ARGV[2]: the holder; ARGV[3]: the lease's TTL (ms); ARGV[4]: the mark's TTL (ms).
/// A tick at or before the mark never runs again, whatever the hosts' clocks say (a lease
/// alone expires, so a host whose clock is further behind would take it again). 1: run it.
const FLEET_TICK: &str = r"
local last = tonumber(redis.call('GET', KEYS[2]))
if last and tonumber(ARGV[1]) <= last then return 0 end
if not redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
return 1
";

/// This process's name, made once.
fn process_name_once() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(process_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redact("redis://user:secret@10.0.0.5:6379/0"),
            "redis://***@10.0.0.5:6379/0"
        );
        assert_eq!(redact("redis://:secret@h/0?x=@"), "redis://***@h/0?x=@");
        assert_eq!(redact("redis://h:1/0"), "redis://h:1/0");
        assert_eq!(
            redact("redis+unix:///run/r.sock"),
            "redis+unix:///run/r.sock"
        );
        assert_eq!(redact("nonsense"), "<not a URL>");
    }

    #[test]
    fn bad_urls_are_build_errors_without_the_password() {
        let mut bad = vec!["http://u:pw@host", "redis://u:pw@host:notaport"];
        if !cfg!(feature = "cluster-tls") {
            bad.push("rediss://u:pw@h");
        }
        for url in bad {
            let e = Settings::new(url, "ns", DEFAULT_NODE_TIMEOUT, 3).unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, BuildError::ClusterUrl(_)), "{url}: {text}");
            assert!(!text.contains("pw"), "{text}");
        }
        assert!(Settings::new("redis://h/0", "a b", DEFAULT_NODE_TIMEOUT, 3).is_err());
        // "Never": held as the longest timeout every `PX` Redis is sent can carry.
        let forever = Settings::new("redis://h/0", "ns", Duration::MAX, 3).unwrap();
        assert_eq!(forever.node_timeout, MAX_NODE_TIMEOUT);
        assert!(Settings::new("redis://h/0", "ns", Duration::from_millis(10), 3).is_err());
        assert!(Settings::new("redis://h/0", "ns", DEFAULT_NODE_TIMEOUT, 0).is_err());
        assert!(Settings::new("redis+unix:///tmp/x.sock", "ns", DEFAULT_NODE_TIMEOUT, 3).is_ok());
    }

    #[test]
    fn the_fingerprint_is_stable_and_the_names_unique() {
        assert_eq!(fingerprint(), fingerprint());
        assert_eq!(fingerprint().len(), 16);
        assert_ne!(process_name(), process_name());
    }
}
