//! The settings a supervisor is built with, and [`SupervisorBuilder`].

use super::*;

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The settings a supervisor was built with.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) name: String,
    pub(crate) thread_pool: usize,
    pub(crate) reserve_normal: usize,
    pub(crate) reserve_high: usize,
    pub(crate) process_pool: usize,
    pub(crate) process_reserve_normal: usize,
    pub(crate) process_reserve_high: usize,
    pub(crate) runtime_threads: usize,
    pub(crate) timeout_warning: Duration,
    pub(crate) timeout_critical: Duration,
    pub(crate) on_warning: Option<Hook>,
    pub(crate) on_critical: Option<Hook>,
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    /// The cluster's URL (checked by `build`).
    pub(crate) cluster: Option<String>,
    pub(crate) cluster_namespace: String,
    pub(crate) node_timeout: Duration,
    pub(crate) max_deliveries: u32,
    pub(crate) max_payload: usize,
    /// The certificates of a `rediss://` cluster.
    pub(crate) tls: crate::remote::Tls,
}

impl Config {
    /// The cluster side these settings ask for (`None` without a cluster URL).
    fn remote(&self) -> Result<Option<crate::remote::Remote>, BuildError> {
        let Some(url) = &self.cluster else {
            return Ok(None);
        };
        let mut settings = crate::remote::Settings::new(
            url,
            &self.cluster_namespace,
            self.node_timeout,
            self.max_deliveries,
        )?
        .with_tls(&self.tls)?;
        if self.max_payload == 0 {
            return Err(BuildError::InvalidConfig(
                "cluster_max_payload must be at least 1 byte",
            ));
        }
        settings.max_payload = self.max_payload;
        Ok(Some(crate::remote::Remote::new(settings)))
    }
}

impl Default for Config {
    fn default() -> Self {
        let cores = cores();
        Config {
            name: "default".into(),
            thread_pool: cores * 5,
            reserve_normal: 5,
            reserve_high: 5,
            process_pool: cores,
            process_reserve_normal: 0,
            process_reserve_high: 0,
            runtime_threads: cores,
            timeout_warning: Duration::from_secs(5),
            timeout_critical: Duration::from_secs(10),
            on_warning: None,
            on_critical: None,
            runtime: None,
            cluster: None,
            cluster_namespace: crate::remote::DEFAULT_NAMESPACE.into(),
            node_timeout: crate::remote::DEFAULT_NODE_TIMEOUT,
            max_deliveries: crate::remote::DEFAULT_MAX_DELIVERIES,
            max_payload: crate::remote::DEFAULT_MAX_PAYLOAD,
            tls: crate::remote::Tls::default(),
        }
    }
}

/// Builds a [`Supervisor`]. Made by [`Supervisor::builder`].
///
/// ```
/// use atasker::{Supervisor, TaskInfo};
/// use std::time::Duration;
/// let sup = Supervisor::builder()
///     .name("plant")
///     .thread_pool(20)          // LOW may use 20 threads
///     .reserve_normal(5)        // NORMAL may use 25
///     .reserve_high(5)          // HIGH may use 30; CRITICAL always starts at once
///     .process_pool(4)
///     .timeout_warning(Duration::from_secs(5))
///     .timeout_critical(Duration::from_secs(10))
///     .on_timeout_warning(|t: &TaskInfo| eprintln!("{} waits", t.name))
///     .build()
///     .unwrap();
/// # drop(sup);
/// ```
#[must_use = "a builder does nothing until `build` or `build_global` is called"]
pub struct SupervisorBuilder {
    pub(crate) config: Config,
}

impl SupervisorBuilder {
    /// The supervisor's name; its threads are named `atasker-<name>-…`. Default: `default`.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().name("plant").build().unwrap();
    /// let thread = sup.task().spawn(|| std::thread::current().name().map(str::to_owned));
    /// assert!(thread.wait().unwrap().unwrap().starts_with("atasker-plant-"));
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Threads for LOW tasks (the base of the ladder). Default: cores × 5. At least 1.
    ///
    /// Threads start lazily, one per busy slot, and are kept.
    ///
    /// ```
    /// use atasker::Supervisor;
    /// let sup = Supervisor::builder().thread_pool(2).build().unwrap();
    /// let tasks: Vec<_> = (0..4).map(|i| sup.task().spawn(move || i * 10)).collect();
    /// assert_eq!(atasker::wait_completed(tasks, None), Ok(vec![0, 10, 20, 30]));
    /// assert!(Supervisor::builder().thread_pool(0).build().is_err());
    /// ```
    pub fn thread_pool(mut self, n: usize) -> Self {
        self.config.thread_pool = n;
        self
    }

    /// Extra threads NORMAL tasks may use. Default: 5.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .thread_pool(2)     // LOW tasks may use 2 threads
    ///     .reserve_normal(1)  // NORMAL tasks 3
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn reserve_normal(mut self, n: usize) -> Self {
        self.config.reserve_normal = n;
        self
    }

    /// Extra threads HIGH tasks may use above NORMAL's. Default: 5.
    ///
    /// ```
    /// use atasker::{Priority, Supervisor};
    /// let sup = Supervisor::builder()
    ///     .thread_pool(2)     // LOW tasks may use 2 threads
    ///     .reserve_normal(1)  // NORMAL tasks 3
    ///     .reserve_high(1)    // HIGH tasks 4; CRITICAL ones start at once, always
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().priority(Priority::High).spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn reserve_high(mut self, n: usize) -> Self {
        self.config.reserve_high = n;
        self
    }

    /// Worker processes for LOW static tasks (`#[background_task(static)]`, and the runs of
    /// `static` workers). Default: cores. At least 1.
    ///
    /// The process pool runs on **Linux only** for now: elsewhere a static task fails with
    /// [`TaskError::Unavailable`]. Worker processes are copies of the running executable,
    /// started lazily (one per busy slot) and kept; each runs one task at a time, in a
    /// process group of its own (a Ctrl-C in the terminal does not reach it: the parent's
    /// [`Supervisor::stop`] lets it finish, [`Supervisor::stop_timeout`] kills it at the
    /// deadline), and dies with the parent. A static task's arguments (together) and its
    /// result each cross in a frame of at most **64 MiB**; a larger one fails the task with
    /// [`TaskError::Codec`], saying so.
    ///
    /// ```
    /// use atasker::prelude::*;
    ///
    /// let sup = Supervisor::builder().process_pool(2).build_global().unwrap();
    ///
    /// #[background_task(static)] // runs on the global supervisor's process pool
    /// fn double(n: u64) -> u64 {
    ///     n * 2
    /// }
    ///
    /// match double(21).wait() {
    ///     Ok(n) => assert_eq!(n, 42),
    ///     Err(TaskError::Unavailable(_)) => {} // not on Linux
    ///     Err(e) => panic!("{e}"),
    /// }
    /// sup.stop();
    /// ```
    pub fn process_pool(mut self, n: usize) -> Self {
        self.config.process_pool = n;
        self
    }

    /// Extra processes NORMAL static tasks may use. Default: 0.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .process_pool(2)            // LOW static tasks may use 2 processes
    ///     .process_reserve_normal(1)  // NORMAL ones 3
    ///     .build()
    ///     .unwrap();
    /// assert!(!sup.is_stopped());
    /// ```
    pub fn process_reserve_normal(mut self, n: usize) -> Self {
        self.config.process_reserve_normal = n;
        self
    }

    /// Extra processes HIGH static tasks may use above NORMAL's. Default: 0.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .process_pool(2)            // LOW static tasks may use 2 processes
    ///     .process_reserve_normal(1)  // NORMAL ones 3
    ///     .process_reserve_high(1)    // HIGH ones 4; CRITICAL ones start at once, always
    ///     .build()
    ///     .unwrap();
    /// assert!(!sup.is_stopped());
    /// ```
    pub fn process_reserve_high(mut self, n: usize) -> Self {
        self.config.process_reserve_high = n;
        self
    }

    /// Worker threads of the supervisor's own tokio runtime. Default: cores.
    ///
    /// The runtime is multi-thread, built on first use with every driver enabled (I/O, time,
    /// signals), and its threads are named `atasker-<name>-rt`. Not used with
    /// [`runtime`](SupervisorBuilder::runtime).
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().runtime_threads(1).build().unwrap();
    /// let t = sup.task().spawn_async(async { std::thread::current().name().map(str::to_owned) });
    /// assert_eq!(t.wait().unwrap().as_deref(), Some("atasker-default-rt"));
    /// ```
    pub fn runtime_threads(mut self, n: usize) -> Self {
        self.config.runtime_threads = n;
        self
    }

    /// Run coroutines on the user's runtime instead of one the supervisor owns: a program that
    /// runs `#[tokio::main]` keeps one runtime. Coroutines then run only while that runtime
    /// does, and a stop deadline cancels them one by one instead of shutting the runtime down.
    ///
    /// In async code `.await` tasks: on a current-thread runtime
    /// (`#[tokio::main(flavor = "current_thread")]`) a blocking [`Task::wait`] panics, as it
    /// would hang the runtime; on a multi-thread one it works through `block_in_place`.
    ///
    /// ```
    /// # let rt = tokio::runtime::Runtime::new().unwrap();
    /// # rt.block_on(async {
    /// // inside the user's `#[tokio::main]`:
    /// let sup = atasker::Supervisor::builder()
    ///     .runtime(tokio::runtime::Handle::current())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().spawn_async(async { 1 }).await, Ok(1));
    /// # });
    /// ```
    pub fn runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.config.runtime = Some(handle);
        self
    }

    /// A task queued this long gets a `tracing` warning and the warning hook. Default: 5 s.
    /// Not longer than [`timeout_critical`](SupervisorBuilder::timeout_critical).
    ///
    /// The warning goes to `tracing`: without a subscriber it is not shown (see
    /// [`on_timeout_warning`](SupervisorBuilder::on_timeout_warning) for a hook).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sup = atasker::Supervisor::builder()
    ///     .timeout_warning(Duration::from_secs(1))
    ///     .build();
    /// assert!(sup.is_ok());
    /// // longer than the default `timeout_critical` (10 s):
    /// let err = atasker::Supervisor::builder()
    ///     .timeout_warning(Duration::from_secs(30))
    ///     .build();
    /// assert!(err.is_err());
    /// ```
    pub fn timeout_warning(mut self, d: Duration) -> Self {
        self.config.timeout_warning = d;
        self
    }

    /// A task queued this long gets a `tracing` error and the critical hook. Default: 10 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sup = atasker::Supervisor::builder()
    ///     .timeout_warning(Duration::from_secs(1))
    ///     .timeout_critical(Duration::from_secs(3))
    ///     .build()
    ///     .unwrap();
    /// assert!(!sup.is_stopped());
    /// ```
    pub fn timeout_critical(mut self, d: Duration) -> Self {
        self.config.timeout_critical = d;
        self
    }

    /// Called once for each task still queued at `timeout_warning`, on the supervisor's
    /// watchdog thread (a panic in it is contained).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let warned = Arc::new(AtomicUsize::new(0));
    /// let counter = warned.clone();
    /// let sup = atasker::Supervisor::builder()
    ///     .thread_pool(1)
    ///     .reserve_normal(0)
    ///     .reserve_high(0)
    ///     .timeout_warning(Duration::from_millis(20))
    ///     .on_timeout_warning(move |_| {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// let seen = warned.clone();
    /// // Holds the only thread until the hook has fired (or 10 s have passed).
    /// let busy = sup.task().spawn(move || {
    ///     let deadline = std::time::Instant::now() + Duration::from_secs(10);
    ///     while seen.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    /// });
    /// let queued = sup.task().spawn(|| ()); // waits for the only thread
    /// queued.wait().unwrap();
    /// busy.wait().unwrap();
    /// assert_eq!(warned.load(Ordering::SeqCst), 1);
    /// ```
    pub fn on_timeout_warning(mut self, f: impl Fn(&TaskInfo) + Send + Sync + 'static) -> Self {
        self.config.on_warning = Some(Arc::new(f));
        self
    }

    /// Called once for each task still queued at `timeout_critical`, on the supervisor's
    /// watchdog thread (a panic in it is contained).
    ///
    /// ```
    /// use atasker::TaskInfo;
    /// let sup = atasker::Supervisor::builder()
    ///     .on_timeout_critical(|t: &TaskInfo| {
    ///         eprintln!("task {} ({}, {}) queued for {:?}", t.id, t.name, t.priority, t.waited)
    ///     })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// ```
    pub fn on_timeout_critical(mut self, f: impl Fn(&TaskInfo) + Send + Sync + 'static) -> Self {
        self.config.on_critical = Some(Arc::new(f));
        self
    }

    /// Builds a private supervisor. Give it to the macros with `supervisor = EXPR` (a
    /// `&'static Supervisor`) or to the worker builders with `.supervisor(&sup)`.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidConfig`] for a setting out of range,
    /// [`BuildError::ClusterUrl`] for a cluster URL that does not parse.
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder().name("private").build()?;
    /// assert_eq!(sup.task().spawn(|| 1).wait(), Ok(1));
    /// sup.stop();
    /// # Ok::<(), atasker::BuildError>(())
    /// ```
    pub fn build(self) -> Result<Supervisor, BuildError> {
        let c = self.config;
        let remote = c.remote()?;
        if c.thread_pool == 0 {
            return Err(BuildError::InvalidConfig("thread_pool must be at least 1"));
        }
        if c.process_pool == 0 {
            return Err(BuildError::InvalidConfig("process_pool must be at least 1"));
        }
        if c.runtime.is_none() && c.runtime_threads == 0 {
            return Err(BuildError::InvalidConfig(
                "runtime_threads must be at least 1",
            ));
        }
        if c.timeout_warning > c.timeout_critical {
            return Err(BuildError::InvalidConfig(
                "timeout_warning must not be longer than timeout_critical",
            ));
        }
        let threads = crate::thread_pool::new(
            &c.name,
            Limits::new(c.thread_pool, c.reserve_normal, c.reserve_high),
        );
        let processes = ProcessPool::new(
            &c.name,
            Limits::new(
                c.process_pool,
                c.process_reserve_normal,
                c.process_reserve_high,
            ),
        );
        Ok(Supervisor {
            inner: Arc::new(Inner {
                stats: StatsCells::new(&c.name),
                threads,
                processes,
                remote,
                node: OnceLock::new(),
                runtime: Mutex::new(None),
                rt_handle: OnceLock::new(),
                phase: AtomicU8::new(OPEN),
                stop_ended: Default::default(),
                pending: Arc::default(),
                live: Default::default(),
                workers: Mutex::new(Vec::new()),
                watchdog: Arc::default(),
                config: c,
            }),
        })
    }

    /// Sends `#[background_task(static, remote)]` tasks to a cluster: the nodes sharing the
    /// Redis server (7.0 or later) at `url` — `redis://[user:password@]host[:port][/db]`,
    /// `redis+unix:///path/to.sock`, or `rediss://…` with the `cluster-tls` feature. Without
    /// a cluster, remote tasks run in the local process pool. `build()` checks the URL
    /// ([`BuildError::ClusterUrl`]) but does not connect: the first remote task (or
    /// [`Supervisor::serve_cluster`]) does, and the connection is made again after every
    /// failure, for ever.
    ///
    /// Delivery is at least once (a task whose node dies runs again elsewhere): remote
    /// tasks should be idempotent. A node takes only tasks of its own build (the same
    /// executable file, or the same `ATASKER_BUILD_ID` in the environment).
    ///
    /// ```
    /// let sup = atasker::Supervisor::builder()
    ///     .cluster("redis://127.0.0.1:6379/0")
    ///     .cluster_namespace("plant")
    ///     .build()?;
    /// # drop(sup);
    /// # Ok::<(), atasker::BuildError>(())
    /// ```
    pub fn cluster(mut self, url: impl Into<String>) -> Self {
        self.config.cluster = Some(url.into());
        self
    }

    /// The prefix of every Redis key of the cluster, so that several applications share
    /// one Redis. Default: `atasker`. Non-empty, without spaces or `:`.
    ///
    /// ```
    /// let b = atasker::Supervisor::builder().cluster("redis://h/0").cluster_namespace("a b");
    /// assert!(b.build().is_err());
    /// ```
    pub fn cluster_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.config.cluster_namespace = namespace.into();
        self
    }

    /// How long a node may stay silent before the tasks it holds are delivered to another
    /// node. This is a node's own setting (a zero set-up node's `ATASKER_NODE_TIMEOUT`): it
    /// sends a heartbeat every third of it, from a thread of its own, with this TTL; silence
    /// is judged by Redis's clock (the heartbeat key's expiry). Each node looks for silent
    /// ones every third of *its* timeout, so a silent node's tasks move between 1 and about
    /// 1⅓ of the silent node's timeout after its last heartbeat. On a submitting process it
    /// sets how soon a task that Redis no longer holds (a failover lost it) fails: after one
    /// to two of its timeouts. Default: 30 s; at least 300 ms; up to `Duration::MAX`, which
    /// means a silent node is never given up on (held as a century). A live node's task
    /// never moves, however long it runs.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = atasker::Supervisor::builder().cluster("redis://h/0");
    /// assert!(b.node_timeout(Duration::from_secs(5)).build().is_ok());
    /// ```
    pub fn node_timeout(mut self, d: Duration) -> Self {
        self.config.node_timeout = d;
        self
    }

    /// How many deliveries a remote task gets: a task whose node died (or went silent) this
    /// many times fails with [`TaskError::Cluster`] instead of being delivered again (a task
    /// that kills its node would otherwise kill every node in turn). Default: 3; at least 1.
    ///
    /// ```
    /// let b = atasker::Supervisor::builder().cluster("redis://h/0");
    /// assert!(b.max_deliveries(0).build().is_err());
    /// ```
    pub fn max_deliveries(mut self, n: u32) -> Self {
        self.config.max_deliveries = n;
        self
    }

    /// The largest argument tuple or result, in encoded bytes, a remote task may carry
    /// through Redis. A larger argument fails its task at submission and a larger result
    /// fails it on the node, both with [`TaskError::Codec`](crate::TaskError::Codec) naming
    /// the size and the limit. Default: 16 MiB; at least 1. Keep it under the Redis server's
    /// `client-output-buffer-limit normal` hard limit (unlimited by default), or an answer
    /// Redis will not send fails its task with [`TaskError::Cluster`](crate::TaskError::Cluster).
    ///
    /// ```
    /// let b = atasker::Supervisor::builder().cluster("redis://h/0");
    /// assert!(b.cluster_max_payload(1 << 20).build().is_ok());
    /// ```
    pub fn cluster_max_payload(mut self, bytes: usize) -> Self {
        self.config.max_payload = bytes;
        self
    }

    /// Verifies a `rediss://` cluster's server against this CA (PEM; one or more
    /// certificates) instead of the system roots. A server whose certificate the CA did not
    /// sign, or that has expired, is refused at once: submissions fail with
    /// [`TaskError::Cluster`](crate::TaskError::Cluster) and `serve_cluster` with
    /// [`ClusterError::Refused`](crate::ClusterError::Refused), each naming the certificate
    /// problem. A zero set-up node reads it from the file `ATASKER_NODE_TLS_CA`. A PEM that
    /// does not parse fails `build` ([`BuildError::ClusterUrl`]). Needs the `cluster-tls`
    /// feature.
    ///
    /// ```
    /// let ca = b"-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n";
    /// let b = atasker::Supervisor::builder().cluster("redis://h/0").cluster_tls_ca(&ca[..]);
    /// assert!(b.build().is_err()); // a CA is for `rediss://`
    /// ```
    #[cfg(feature = "cluster-tls")]
    pub fn cluster_tls_ca(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.config.tls.ca = Some(pem.into());
        self
    }

    /// A client certificate and its private key (both PEM), for a `rediss://` server that
    /// asks for one (`tls-auth-clients yes`). A zero set-up node reads them from the files
    /// `ATASKER_NODE_TLS_CERT` and `ATASKER_NODE_TLS_KEY`. Needs the `cluster-tls` feature.
    #[cfg(feature = "cluster-tls")]
    pub fn cluster_tls_client(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.config.tls.client = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Builds the global supervisor that [`Supervisor::global`] returns.
    ///
    /// Fails with [`BuildError::GlobalExists`] once the global supervisor exists (built here
    /// or by a first call of `Supervisor::global()`, which the first task or worker on the
    /// global supervisor makes): call it first thing in `main`.
    ///
    /// ```
    /// use atasker::{BuildError, Supervisor};
    /// let sup = Supervisor::builder().name("app").build_global()?;
    /// assert!(std::ptr::eq(sup, Supervisor::global()));
    /// assert!(matches!(Supervisor::builder().build_global(), Err(BuildError::GlobalExists)));
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn build_global(self) -> Result<&'static Supervisor, BuildError> {
        let sup = self.build()?;
        let mut fresh = false;
        let global = GLOBAL.get_or_init(|| {
            fresh = true;
            sup
        });
        if fresh {
            Ok(global)
        } else {
            Err(BuildError::GlobalExists)
        }
    }
}

impl fmt::Debug for SupervisorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SupervisorBuilder")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}
