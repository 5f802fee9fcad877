//! One connection to Redis that is never given up: every call has a deadline, a failed or
//! timed-out connection is dropped and made again with backoff, for ever.
//!
//! Not the `redis` crate's `ConnectionManager`: it reconnects after I/O errors but keeps a
//! connection whose replies stopped coming (a half-open socket, a frozen proxy) until the
//! kernel notices, which can take hours; here a deadline that passes replaces the connection.

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError, RedisResult};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The first and the longest pause between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

/// A reconnecting connection. `deadline`: how long one call may take before the connection
/// is deemed dead (blocking reads add their `BLOCK` time).
pub(crate) struct Link {
    client: redis::Client,
    /// The URL without credentials, for logs.
    shown: String,
    deadline: Duration,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// A connection was made before (the next one is a reconnection).
    connected_once: AtomicBool,
    pub(crate) reconnects: AtomicU64,
    /// The last refusal said, and when (so that it is said once, not on every retry).
    refused: std::sync::Mutex<Option<(String, Instant)>>,
}

/// Why a call failed: Redis answered with an error (the connection is fine), Redis refuses
/// this client (a configuration error: waiting does not help, so it is said at once), or
/// the connection failed or points at the wrong server (it is made again on the next call).
#[derive(Debug)]
pub(crate) enum CallError {
    Server(RedisError),
    /// The text names the kind (credentials, permissions, protected mode, a missing
    /// command) and never holds a credential.
    Config(String),
    Connection(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Server(e) => write!(f, "{e}"),
            CallError::Config(e) => write!(f, "{e}"),
            CallError::Connection(e) => write!(f, "connection lost: {e}"),
        }
    }
}

impl CallError {
    /// Whether Redis said the consumer group or stream is missing (its data was lost).
    pub(crate) fn is_nogroup(&self) -> bool {
        matches!(self, CallError::Server(e)
            if e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP"))
    }

    /// The error `e` of a call or a connection attempt, in its kind.
    pub(crate) fn of(e: RedisError) -> CallError {
        if let Some(why) = refusal(&e) {
            CallError::Config(why)
        } else if is_transient(&e) {
            CallError::Connection(e.to_string())
        } else {
            CallError::Server(e)
        }
    }
}

/// What Redis's refusal `e` means, if it is one: an error of the configuration (the URL's
/// user or password, the user's ACL, protected mode, a renamed or missing command), which
/// no reconnect or retry mends. The text names the kind; Redis's own words follow (they
/// never hold the password).
pub(crate) fn refusal(e: &RedisError) -> Option<String> {
    // Redis's words without the command's arguments, which "unknown command … with args
    // beginning with" quotes (a `HELLO … AUTH user password`, say).
    let full = e.to_string();
    let text = full.split(" with args").next().unwrap_or_default();
    let kind = match code(e).as_deref() {
        Some("NOAUTH") => "authentication required: the cluster URL has no password",
        Some("WRONGPASS") => "authentication failed: wrong user or password in the cluster URL",
        Some("NOPERM") => "permission denied: the cluster's Redis user lacks a permission (see its ACL)",
        Some("DENIED") => "Redis is in protected mode: set a password or bind it for this network",
        _ if e.kind() == redis::ErrorKind::AuthenticationFailed => {
            "authentication failed: wrong user or password in the cluster URL"
        }
        _ if text.contains("unauthenticated") => {
            "authentication required: the cluster URL has no password"
        }
        _ if let Some(kind) = tls_refusal(text) => kind,
        // A command a script calls that the user's ACL does not allow (Redis says so
        // without `NOPERM`).
        _ if text.contains("can't run this command") => {
            "permission denied: the cluster's Redis user lacks a command one of atasker's scripts calls (see its ACL, and the README's ACL line)"
        }
        _ if text.contains("unknown command") => {
            "a command the cluster needs is missing or renamed on this Redis (7.0 or later is needed)"
        }
        _ => return None,
    };
    Some(format!("Redis refuses this client ({kind}): {text}"))
}

/// What a TLS failure's text (rustls's words for a certificate it will not trust, or the
/// server's alert about this client's) means, if it is one: the first entry of
/// [`TLS_REFUSALS`] whose words all occur in it.
fn tls_refusal(text: &str) -> Option<&'static str> {
    TLS_REFUSALS
        .iter()
        .find(|(words, _)| words.iter().all(|w| text.contains(w)))
        .map(|(_, kind)| *kind)
}

/// The TLS failures that are refusals (waiting does not mend them), most specific first.
const TLS_REFUSALS: [(&[&str], &str); 5] = [
    (&["invalid peer certificate", "expired"], "TLS: the server's certificate has expired"),
    (
        &["invalid peer certificate", "UnknownIssuer"],
        "TLS: the server's certificate is not signed by a CA this client trusts (cluster_tls_ca, else the system roots)",
    ),
    (&["invalid peer certificate"], "TLS: the server's certificate is not valid for this host"),
    (&["CertificateRequired"], "TLS: the server asks for a client certificate (cluster_tls_client)"),
    (
        &["received fatal alert", "Certificate"],
        "TLS: the server refused this client's certificate (cluster_tls_client)",
    ),
];

/// The error code of `e`, also where the `redis` crate knows it under no kind (`NOAUTH`,
/// `WRONGPASS`, `DENIED`, `BUSY` in a pipeline's errors): the first code of ours in its text.
fn code(e: &RedisError) -> Option<String> {
    const KNOWN: [&str; 10] = [
        "NOAUTH",
        "WRONGPASS",
        "NOPERM",
        "DENIED",
        "READONLY",
        "MASTERDOWN",
        "LOADING",
        "BUSY",
        "TRYAGAIN",
        "CLUSTERDOWN",
    ];
    if let Some(c) = e.code().filter(|c| *c != "ERR") {
        return Some(c.to_owned());
    }
    let text = e.to_string();
    let found = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| KNOWN.contains(w));
    found
        .map(str::to_owned)
        .or_else(|| e.code().map(str::to_owned))
}

/// Whether refusal `why` leaves the connection unusable (not authenticated, refused at
/// accept): then it is made again; a missing permission or command leaves it healthy.
fn drops_connection(why: &str) -> bool {
    why.contains("authentication") || why.contains("protected mode")
}

/// Errors after which the connection cannot be trusted, or points at a server that cannot
/// serve (a replica after a failover, one still loading or busy): it is dropped and made
/// again, which resolves the host name again and so follows a DNS failover.
fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(
            code(e).as_deref(),
            Some("READONLY" | "MASTERDOWN" | "LOADING" | "BUSY" | "TRYAGAIN" | "CLUSTERDOWN")
        )
}

impl Link {
    pub(crate) fn new(client: redis::Client, shown: String, deadline: Duration) -> Self {
        Link {
            client,
            shown,
            deadline,
            conn: tokio::sync::Mutex::new(None),
            connected_once: AtomicBool::new(false),
            reconnects: AtomicU64::new(0),
            refused: std::sync::Mutex::new(None),
        }
    }

    /// A connection, made (again) if there is none; waits with backoff across transient
    /// failures for as long as it takes (callers that must not wait so long put a deadline
    /// around their call). A refusal ([`CallError::Config`]) returns at once.
    async fn connection(&self) -> Result<MultiplexedConnection, CallError> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = &*conn {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let mut backoff = Backoff::new();
        // The first failure is logged, then one in 30 (about a minute apart at full backoff).
        let mut failures = 0u32;
        loop {
            let attempt = tokio::time::timeout(
                CONNECT_TIMEOUT * 2,
                self.client
                    .get_multiplexed_async_connection_with_config(&config),
            )
            .await;
            let attempt = match attempt {
                // Over TLS 1.3 the server checks the client's certificate after the client
                // has finished its handshake: its refusal comes with the first reply.
                Ok(Ok(c)) if self.shown.starts_with("rediss://") => {
                    let (mut first, ping) = (c.clone(), redis::cmd("PING"));
                    let ping = ping.query_async::<()>(&mut first);
                    match tokio::time::timeout(CONNECT_TIMEOUT, ping).await {
                        Ok(Ok(())) => Ok(Ok(c)),
                        Ok(Err(e)) => Ok(Err(e)),
                        Err(elapsed) => Err(elapsed),
                    }
                }
                other => other,
            };
            let error = match attempt {
                Ok(Ok(c)) => {
                    if self.connected_once.swap(true, SeqCst) {
                        self.reconnects.fetch_add(1, SeqCst);
                        tracing::info!(redis = %self.shown, "atasker: reconnected to Redis");
                    }
                    *conn = Some(c.clone());
                    return Ok(c);
                }
                Ok(Err(e)) => match CallError::of(e) {
                    CallError::Config(why) => return Err(self.refuse(why)),
                    other => other.to_string(),
                },
                Err(_) => "no answer to the connection attempt".to_owned(),
            };
            failures += 1;
            if failures % 30 == 1 {
                tracing::warn!(redis = %self.shown, error = %error, failures, "atasker: cannot connect to Redis; retrying with backoff");
            }
            backoff.wait().await;
        }
    }

    /// Says a refusal (at once the first time, and again when it changes or a minute
    /// later), and returns it as a [`CallError::Config`].
    fn refuse(&self, why: String) -> CallError {
        let mut last = crate::sync::lock(&self.refused);
        let again = last
            .as_ref()
            .is_none_or(|(w, at)| *w != why || at.elapsed() >= Duration::from_secs(60));
        if again {
            tracing::error!(redis = %self.shown, error = %why, "atasker: Redis refuses the cluster's connection; fix the configuration");
            *last = Some((why.clone(), Instant::now()));
        }
        CallError::Config(why)
    }

    /// `f` with a connection, under the deadline, for an optional look (a setting Redis may
    /// not let this user read): a refusal is returned as the server's error, not said.
    pub(crate) async fn probe<T, F, Fut>(&self, f: F) -> Result<T, CallError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(self.deadline, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if refusal(&e).is_some() => Err(CallError::Server(e)),
            r => self.finish(r).await,
        }
    }

    /// Drops the connection (the next call makes a new one): for a caller that found, in
    /// what a call returned, that the server cannot serve it.
    pub(crate) async fn invalidate(&self) {
        self.drop_connection().await;
    }

    /// Drops the connection `c` came from (the next call makes a new one).
    async fn drop_connection(&self) {
        *self.conn.lock().await = None;
    }

    /// One call: `f` with a connection, under the deadline (plus `extra`, a blocking read's
    /// `BLOCK`). A connection error, a wrong server, a refusal or a passed deadline drops
    /// the connection.
    pub(crate) async fn call<T, F, Fut>(&self, extra: Duration, f: F) -> Result<T, CallError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.connection().await?;
        let deadline = self.deadline.saturating_add(extra);
        self.finish(tokio::time::timeout(deadline, f(conn)).await)
            .await
    }

    async fn finish<T>(
        &self,
        r: Result<RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        let e = match r {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => CallError::of(e),
            Err(_) => CallError::Connection("Redis did not answer in time".into()),
        };
        match e {
            CallError::Server(e) => Err(CallError::Server(e)),
            CallError::Config(why) => {
                if drops_connection(&why) {
                    self.drop_connection().await;
                }
                Err(self.refuse(why))
            }
            e @ CallError::Connection(_) => {
                self.drop_connection().await;
                Err(e)
            }
        }
    }
}

/// A pause that grows from 50 ms to 2 s, for loops that retry a call.
pub(crate) struct Backoff(Duration);

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff(BACKOFF.0)
    }

    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(BACKOFF.1);
    }

    pub(crate) fn reset(&mut self) {
        self.0 = BACKOFF.0;
    }
}
