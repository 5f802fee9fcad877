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
use std::time::Duration;

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
}

/// Why a call failed: Redis answered with an error (the connection is fine), or the
/// connection failed (it is made again on the next call).
#[derive(Debug)]
pub(crate) enum CallError {
    Server(RedisError),
    Connection(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Server(e) => write!(f, "{e}"),
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
        }
    }

    /// A connection, made (again) if there is none; waits with backoff for as long as it
    /// takes (callers that must not wait so long put a deadline around their call).
    async fn connection(&self) -> MultiplexedConnection {
        let mut conn = self.conn.lock().await;
        if let Some(c) = &*conn {
            return c.clone();
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
            let error = match attempt {
                Ok(Ok(c)) => {
                    if self.connected_once.swap(true, SeqCst) {
                        self.reconnects.fetch_add(1, SeqCst);
                        tracing::info!(redis = %self.shown, "atasker: reconnected to Redis");
                    }
                    *conn = Some(c.clone());
                    return c;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer to the connection attempt".to_owned(),
            };
            if failures.is_multiple_of(30) {
                tracing::warn!(redis = %self.shown, error = %error, failures, "atasker: cannot connect to Redis; retrying with backoff");
            }
            failures += 1;
            backoff.wait().await;
        }
    }

    /// Drops the connection `c` came from (the next call makes a new one).
    async fn drop_connection(&self) {
        *self.conn.lock().await = None;
    }

    /// One call: `f` with a connection, under the deadline (plus `extra`, a blocking read's
    /// `BLOCK`). A connection error or a passed deadline drops the connection.
    pub(crate) async fn call<T, F, Fut>(&self, extra: Duration, f: F) -> Result<T, CallError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.connection().await;
        self.finish(tokio::time::timeout(self.deadline + extra, f(conn)).await)
            .await
    }

    async fn finish<T>(
        &self,
        r: Result<RedisResult<T>, tokio::time::error::Elapsed>,
    ) -> Result<T, CallError> {
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if is_connection_error(&e) => {
                self.drop_connection().await;
                Err(CallError::Connection(e.to_string()))
            }
            Ok(Err(e)) => Err(CallError::Server(e)),
            Err(_) => {
                self.drop_connection().await;
                Err(CallError::Connection("Redis did not answer in time".into()))
            }
        }
    }
}

/// Errors after which the connection cannot be trusted.
fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || matches!(e.code(), Some("LOADING" | "MASTERDOWN" | "BUSY"))
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
