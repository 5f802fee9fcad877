//! Collections of named functions run together: [`FunctionCollection`] (one after another,
//! on the caller's thread) and [`TaskCollection`] (all at once, as tasks of a supervisor).
//! Both go highest priority first and report every function's result by name; a failing or
//! panicking function never stops the others.

use crate::error::TaskError;
use crate::priority::Priority;
use crate::supervisor::Supervisor;
use crate::task::run_catching;
use crate::task::Task;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What [`FunctionCollection::run`] and [`TaskCollection::execute`] return: every
/// function's result by its name, and whether all of them are `Ok` (`true` for an empty
/// collection).
pub type CollectionResults<T, E> = (BTreeMap<&'static str, Result<T, E>>, bool);

/// One named function at its priority.
struct Entry<F> {
    name: &'static str,
    priority: Priority,
    f: F,
}

/// The functions of a collection, kept in the order they run: highest priority first, and
/// in the order they were added within a priority.
struct Entries<F>(Vec<Entry<F>>);

impl<F> Entries<F> {
    const fn new() -> Self {
        Entries(Vec::new())
    }

    /// Adds `f` under `name` (replacing a function of that name) after every function of
    /// `priority` or higher.
    fn add(&mut self, name: &'static str, priority: Priority, f: F) {
        self.remove(name);
        let at = self
            .0
            .iter()
            .position(|e| e.priority < priority)
            .unwrap_or(self.0.len());
        self.0.insert(at, Entry { name, priority, f });
    }

    fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|e| e.name != name);
        self.0.len() != before
    }

    /// `Kind {name: priority, …}`, in the order they run.
    fn debug(&self, kind: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{kind} ")?;
        let mut m = f.debug_map();
        for e in &self.0 {
            m.entry(&e.name, &e.priority);
        }
        m.finish()
    }
}

/// The results, and whether all are `Ok`.
fn with_all_ok<T, E>(results: BTreeMap<&'static str, Result<T, E>>) -> CollectionResults<T, E> {
    let all_ok = results.values().all(Result::is_ok);
    (results, all_ok)
}

/// A task's outcome as the function's result: a task error (a panic, a stopped
/// supervisor) becomes the collection's error type.
fn flatten<T, E: From<TaskError>>(r: Result<Result<T, E>, TaskError>) -> Result<T, E> {
    r.unwrap_or_else(|e| Err(E::from(e)))
}

type BoxedFn<T, E> = Box<dyn FnMut() -> Result<T, E> + Send>;

/// Named functions run one after another on the caller's thread, highest [`Priority`]
/// first (in the order they were added within a priority), by [`run`](Self::run).
///
/// Every function returns `Result<T, E>`. A function that fails or panics never stops the
/// rest: its `Err` is in the results, and a panic is reported as
/// `E::from(TaskError::Panicked { message })`, so `E` must be `From<TaskError>` (as
/// `Box<dyn std::error::Error + Send + Sync>` is; for your own error enum, add a variant).
///
/// ```
/// use atasker::{FunctionCollection, Priority, TaskError};
///
/// let mut checks = FunctionCollection::new();
/// checks
///     .add("disk", Priority::Normal, || Ok::<u32, TaskError>(70))
///     .add("config", Priority::Critical, || Ok(1)) // runs first
///     .add("cache", Priority::Low, || -> Result<u32, TaskError> { panic!("cold") });
/// let (results, all_ok) = checks.run(); // every one runs, whatever the others do
/// assert!(!all_ok);
/// assert_eq!(results["disk"], Ok(70));
/// assert_eq!(results["cache"], Err(TaskError::Panicked { message: "cold".into() }));
/// ```
pub struct FunctionCollection<T, E> {
    entries: Entries<BoxedFn<T, E>>,
}

/// `remove`, `len` and `is_empty` of a collection type `$ty` (whose functions are in
/// `self.entries`).
macro_rules! entries_methods {
    ($ty:ident) => {
        #[doc = concat!(
                    "Removes the function named `name`: `false` if there is none.\n\n```\n",
                    "use atasker::{Priority, ", stringify!($ty), ", TaskError};\n",
                    "let mut c = ", stringify!($ty), "::new();\n",
                    "c.add(\"x\", Priority::Low, || Ok::<(), TaskError>(()));\n",
                    "assert!(c.remove(\"x\"));\nassert!(!c.remove(\"x\"));\n```"
                )]
        pub fn remove(&mut self, name: &str) -> bool {
            self.entries.remove(name)
        }

        #[doc = concat!(
                    "How many functions the collection holds.\n\n```\n",
                    "let c = atasker::", stringify!($ty), "::<(), atasker::TaskError>::new();\n",
                    "assert_eq!(c.len(), 0);\n```"
                )]
        pub fn len(&self) -> usize {
            self.entries.0.len()
        }

        /// Whether the collection holds no function (`len() == 0`).
        pub fn is_empty(&self) -> bool {
            self.entries.0.is_empty()
        }
    };
}

impl<T, E: From<TaskError>> FunctionCollection<T, E> {
    /// An empty collection.
    ///
    /// ```
    /// let c: atasker::FunctionCollection<(), atasker::TaskError> =
    ///     atasker::FunctionCollection::new();
    /// assert!(c.is_empty());
    /// ```
    pub const fn new() -> Self {
        FunctionCollection {
            entries: Entries::new(),
        }
    }

    /// Adds `f` under `name` at `priority`, behind the functions of the same priority added
    /// before. A name is a key: adding a name again replaces its function (and priority), and
    /// its place is then that of a new one. Returns the collection, for chaining.
    ///
    /// ```
    /// use atasker::{FunctionCollection, Priority, TaskError};
    /// let mut c = FunctionCollection::new();
    /// c.add("v", Priority::Normal, || Ok::<_, TaskError>("old"))
    ///     .add("v", Priority::Normal, || Ok("new"));
    /// assert_eq!(c.len(), 1);
    /// assert_eq!(c.run().0["v"], Ok("new"));
    /// ```
    pub fn add<F>(&mut self, name: &'static str, priority: Priority, f: F) -> &mut Self
    where
        F: FnMut() -> Result<T, E> + Send + 'static,
    {
        self.entries.add(name, priority, Box::new(f));
        self
    }

    entries_methods!(FunctionCollection);

    /// Runs every function once, one after another on this thread, highest priority first,
    /// and returns their results by name and whether all are `Ok` (`true` when empty). A
    /// panic is contained and reported as `E::from(TaskError::Panicked { .. })`; the
    /// function stays in the collection. May be called again.
    ///
    /// ```
    /// use atasker::{FunctionCollection, Priority, TaskError};
    /// let mut c = FunctionCollection::new();
    /// c.add("ok", Priority::Low, || Ok::<u8, TaskError>(1))
    ///     .add("bad", Priority::High, || Err(TaskError::Cancelled)); // runs first
    /// let (results, all_ok) = c.run();
    /// assert_eq!((results["ok"].clone(), all_ok), (Ok(1), false));
    /// ```
    pub fn run(&mut self) -> CollectionResults<T, E> {
        let mut results = BTreeMap::new();
        for e in &mut self.entries.0 {
            let f = &mut e.f;
            results.insert(e.name, flatten(run_catching(f)));
        }
        with_all_ok(results)
    }
}

impl<T, E: From<TaskError>> Default for FunctionCollection<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> fmt::Debug for FunctionCollection<T, E> {
    /// The names and priorities, in the order they run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entries.debug("FunctionCollection", f)
    }
}

type SharedFn<T, E> = Arc<dyn Fn() -> Result<T, E> + Send + Sync>;

/// Named functions run all at once, each a task on a supervisor's thread pool at its own
/// [`Priority`] (so a `Critical` one starts even in a full pool), by
/// [`execute`](Self::execute), which waits for all of them.
///
/// The supervisor is [`Supervisor::global`] unless [`supervisor`](Self::supervisor) gives
/// another. The tasks are submitted highest priority first and are named after their
/// functions (in logs, spans and [`Stats::tasks`](crate::Stats::tasks)). A function that
/// fails or panics never stops the others and never keeps `execute` waiting: its result is
/// its `Err`, or `E::from(TaskError)` for a task that did not complete (a panic, a stopped
/// supervisor), so `E` must be `From<TaskError>`.
///
/// ```
/// use atasker::{Priority, TaskCollection, TaskError};
///
/// let mut fetch = TaskCollection::new();
/// fetch
///     .add("prices", Priority::High, || Ok::<usize, TaskError>(3))
///     .add("news", Priority::Low, || Ok(5))
///     .add("alarms", Priority::Critical, || Err(TaskError::Cancelled));
/// let (results, all_ok) = fetch.execute(); // runs all three at once, waits for all
/// assert_eq!(results["prices"], Ok(3));
/// assert_eq!(results["alarms"], Err(TaskError::Cancelled));
/// assert!(!all_ok);
/// ```
pub struct TaskCollection<T, E> {
    entries: Entries<SharedFn<T, E>>,
    supervisor: Option<Supervisor>,
}

impl<T, E> TaskCollection<T, E>
where
    T: Send + 'static,
    E: From<TaskError> + Send + 'static,
{
    /// An empty collection, on the global supervisor.
    ///
    /// ```
    /// let c = atasker::TaskCollection::<(), atasker::TaskError>::new();
    /// assert!(c.is_empty());
    /// ```
    pub const fn new() -> Self {
        TaskCollection {
            entries: Entries::new(),
            supervisor: None,
        }
    }

    /// Runs the tasks on `sup` instead of the global supervisor.
    ///
    /// ```
    /// use atasker::{Priority, Supervisor, TaskCollection, TaskError};
    /// let sup = Supervisor::builder().name("batch").thread_pool(2).build().unwrap();
    /// let mut c = TaskCollection::new().supervisor(&sup);
    /// c.add("where", Priority::Normal, || {
    ///     Ok::<_, TaskError>(std::thread::current().name().map(str::to_owned))
    /// });
    /// let name = c.execute().0["where"].clone().unwrap().unwrap();
    /// assert!(name.starts_with("atasker-batch-"));
    /// ```
    pub fn supervisor(mut self, sup: &Supervisor) -> Self {
        self.supervisor = Some(sup.clone());
        self
    }

    /// Adds `f` under `name` at `priority`; as [`FunctionCollection::add`] (a name added
    /// again replaces its function). Returns the collection, for chaining.
    ///
    /// ```
    /// use atasker::{Priority, TaskCollection, TaskError};
    /// let mut c = TaskCollection::new();
    /// c.add("a", Priority::High, || Ok::<u8, TaskError>(1)).add("b", Priority::Low, || Ok(2));
    /// assert_eq!(c.len(), 2);
    /// ```
    pub fn add<F>(&mut self, name: &'static str, priority: Priority, f: F) -> &mut Self
    where
        F: Fn() -> Result<T, E> + Send + Sync + 'static,
    {
        self.entries.add(name, priority, Arc::new(f));
        self
    }

    entries_methods!(TaskCollection);

    /// Starts every function as a task (highest priority first), waits for all of them,
    /// and returns their results by name and whether all are `Ok` (`true` when empty).
    /// Blocking, for sync code; may be called again (each call runs every function once).
    ///
    /// In async code use [`execute_async`](Self::execute_async): like [`Task::wait`], this
    /// panics on a thread that drives a current-thread runtime, where blocking would hang it.
    ///
    /// ```
    /// use atasker::{Priority, TaskCollection, TaskError};
    /// let mut c = TaskCollection::new();
    /// c.add("boom", Priority::Normal, || -> Result<(), TaskError> { panic!("boom") });
    /// let (results, all_ok) = c.execute(); // returns: a panic does not hang it
    /// assert!(matches!(results["boom"], Err(TaskError::Panicked { .. })));
    /// assert!(!all_ok);
    /// ```
    pub fn execute(&self) -> CollectionResults<T, E> {
        let results = self
            .spawn_all()
            .into_iter()
            .map(|(name, task)| (name, flatten(task.wait())))
            .collect();
        with_all_ok(results)
    }

    /// [`execute`](Self::execute) for async code: awaits the tasks instead of blocking.
    ///
    /// ```
    /// use atasker::{Priority, TaskCollection, TaskError};
    /// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// # rt.block_on(async {
    /// let mut c = TaskCollection::new();
    /// c.add("one", Priority::Normal, || Ok::<u8, TaskError>(1));
    /// let (results, all_ok) = c.execute_async().await;
    /// assert_eq!((results["one"].clone(), all_ok), (Ok(1), true));
    /// # });
    /// ```
    pub async fn execute_async(&self) -> CollectionResults<T, E> {
        let mut results = BTreeMap::new();
        for (name, task) in self.spawn_all() {
            results.insert(name, flatten(task.await));
        }
        with_all_ok(results)
    }

    /// Submits every function as a named task at its priority, highest first.
    fn spawn_all(&self) -> Vec<(&'static str, Task<Result<T, E>>)> {
        let sup: &Supervisor = match &self.supervisor {
            Some(s) => s,
            None => Supervisor::global(),
        };
        self.entries
            .0
            .iter()
            .map(|e| {
                let f = Arc::clone(&e.f);
                let task = sup
                    .task()
                    .name(e.name)
                    .priority(e.priority)
                    .spawn(move || f());
                (e.name, task)
            })
            .collect()
    }
}

impl<T, E> Default for TaskCollection<T, E>
where
    T: Send + 'static,
    E: From<TaskError> + Send + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> fmt::Debug for TaskCollection<T, E> {
    /// The names and priorities, in the order the tasks are submitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.entries.debug("TaskCollection", f)
    }
}
