//! What the code `#[background_task(static)]` and `#[background_worker(static)]` generate
//! calls (through `__private`): the typed calls of a static fn and of a static worker's
//! executor, in the parent (spawn, remote spawn, a worker's run) and in the child (decode,
//! call, encode). Not a public API.

use crate::error::TaskError;
use crate::kind::PoolKind;
use crate::process_pool::registry::{call_static, StaticEntry};
use crate::supervisor::spawn::{self, Spec, TaskOptions};
use crate::task::Task;
use crate::worker::WorkerOutput;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;

/// The body of a static *worker*'s [`StaticEntry::call`]: like [`call_static`], but the
/// executor's return value is turned into its outcome in the child (`Ok(go on)` or
/// `Err(text)`), so that any `E: Display` crosses, serializable or not.
pub fn call_static_worker<A: DeserializeOwned, R: WorkerOutput>(
    input: &[u8],
    out: &mut Vec<u8>,
    f: impl FnOnce(A) -> R,
) -> Result<(), String> {
    call_static(input, out, |args| f(args).into_outcome())
}

/// One run of a static worker's executor: runs `entry` (made with [`call_static_worker`]) in
/// the process pool and waits for it without holding a thread. A task error (a panic, a lost
/// process) becomes the run's `Err` text.
pub async fn run_static_worker<A>(
    opts: TaskOptions,
    entry: &'static StaticEntry,
    args: A,
) -> Result<bool, String>
where
    A: Serialize + Send + 'static,
{
    let spec = Spec {
        for_worker: true,
        ..opts.spec()
    };
    spawn::spawn_static::<A, Result<bool, String>>(spec, entry, args)
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
}

/// Runs the registered static function `entry` with the argument tuple `args` in the
/// process pool.
pub fn spawn_static<A, R>(opts: TaskOptions, entry: &'static StaticEntry, args: A) -> Task<R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    spawn::spawn_static(opts.spec(), entry, args)
}

/// Runs the registered static function `entry` on a node of the supervisor's cluster, or in
/// its process pool when it has no cluster.
pub fn spawn_remote<A, R>(opts: TaskOptions, entry: &'static StaticEntry, args: A) -> Task<R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    spawn::spawn_remote(opts.spec(), entry, args)
}

/// Test support: the program children are started from, instead of `/proc/self/exe`
/// (`None`: back to the default). Affects every supervisor of the process.
pub fn set_child_program(path: Option<&std::path::Path>) {
    crate::process_pool::set_child_program(path);
}

// What `#[background_task(static)]` and `#[background_worker(static)]` call instead of
// `spawn_static`/`call_static` and `run_static_worker`/`call_static_worker`: `static_fn` and
// `static_worker` check every type that crosses to the child once, so that a type without
// `Serialize` or `Deserialize` is one error that names it and says what to derive (instead of
// one error per `serde` bound of each call behind), and hand out those calls.

/// An argument or the result of a `#[background_task(static)]` fn.
#[diagnostic::on_unimplemented(
    message = "`#[background_task(static)]` sends `{Self}` to another process, so `{Self}` must \
               implement `serde::Serialize` and `serde::Deserialize`",
    label = "`{Self}` cannot cross to another process",
    note = "if `{Self}` is a type of your own, add `#[derive(serde::Serialize, serde::Deserialize)]` \
            to it; for a type from another crate, look for its `serde` feature; a type with no serde \
            support (an `io::Error` or an `io::Result`, say) must be turned into one that has \
            it first, e.g. `.map_err(|e| e.to_string())`"
)]
pub trait StaticValue: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> StaticValue for T {}

/// The argument tuple of a `#[background_task(static)]` fn: a tuple of [`StaticValue`]s.
pub trait StaticArgs: Serialize + DeserializeOwned {}

// Through `StaticTuple`, so that rustc's error names the element that cannot cross instead of
// listing the tuple impls.
impl<T: StaticTuple> StaticArgs for T {}

/// A tuple of [`StaticValue`]s (up to 16, as `serde`).
pub trait StaticTuple: Serialize + DeserializeOwned {}

macro_rules! static_tuple {
    ($($name:ident)*) => {
        impl<$($name: StaticValue),*> StaticTuple for ($($name,)*) {}
    };
}

static_tuple!();
static_tuple!(A);
static_tuple!(A B);
static_tuple!(A B C);
static_tuple!(A B C D);
static_tuple!(A B C D E);
static_tuple!(A B C D E F);
static_tuple!(A B C D E F G);
static_tuple!(A B C D E F G H);
static_tuple!(A B C D E F G H I);
static_tuple!(A B C D E F G H I J);
static_tuple!(A B C D E F G H I J K);
static_tuple!(A B C D E F G H I J K L);
static_tuple!(A B C D E F G H I J K L M);
static_tuple!(A B C D E F G H I J K L M N);
static_tuple!(A B C D E F G H I J K L M N O);
static_tuple!(A B C D E F G H I J K L M N O P);

/// The calls of a `#[background_task(static)]` fn with argument tuple `A` and result `R`, made
/// by [`static_fn`] (which checks the types); they need no bounds of their own.
pub struct StaticFn<A, R> {
    spawn: fn(TaskOptions, &'static StaticEntry, A) -> Task<R>,
    spawn_remote: fn(TaskOptions, &'static StaticEntry, A) -> Task<R>,
    call: StaticCall<A, R>,
    encode: fn(&A, &mut Vec<u8>) -> Result<(), String>,
    decode: fn(&[u8]) -> Result<R, String>,
}

/// The child's side of a static fn: decodes `A`, calls the fn, encodes its result.
type StaticCall<A, R> = fn(&[u8], &mut Vec<u8>, fn(A) -> R) -> Result<(), String>;

/// Checks the argument and result types of a `#[background_task(static)]` fn and gives its calls.
pub fn static_fn<A, R>() -> StaticFn<A, R>
where
    A: StaticArgs + Send + 'static,
    R: StaticValue + Send + 'static,
{
    fn call<A: DeserializeOwned, R: Serialize>(
        input: &[u8],
        out: &mut Vec<u8>,
        f: fn(A) -> R,
    ) -> Result<(), String> {
        call_static(input, out, f)
    }
    StaticFn {
        spawn: spawn_static::<A, R>,
        spawn_remote: spawn_remote::<A, R>,
        call: call::<A, R>,
        encode: crate::process_pool::protocol::encode::<A>,
        decode: crate::process_pool::protocol::decode::<R>,
    }
}

impl<A, R> StaticFn<A, R> {
    /// [`spawn_static`].
    pub fn spawn(&self, opts: TaskOptions, entry: &'static StaticEntry, args: A) -> Task<R> {
        (self.spawn)(opts, entry, args)
    }

    /// [`spawn_static`], again after a failed run: `#[background_task(static, retries = N)]`
    /// (the arguments are encoded once, each run gets the same bytes).
    /// `is_failure` comes from [`retryable`](crate::__private::retryable).
    pub fn spawn_retried(
        &self,
        opts: TaskOptions,
        entry: &'static StaticEntry,
        args: A,
        is_failure: fn(&R) -> bool,
    ) -> Task<R>
    where
        R: Send + 'static,
    {
        let spec = opts.spec();
        let mut bytes = Vec::new();
        // `Serialize` is user code: a panic in it is this call's error.
        match crate::task::run_catching(|| (self.encode)(&args, &mut bytes)) {
            Ok(Ok(())) => {
                spawn::spawn_static_retried(spec, entry, bytes, (self.decode, is_failure))
            }
            Ok(Err(e)) => refused(
                spec,
                TaskError::Codec(format!("the arguments did not cross: {e}")),
            ),
            Err(e) => refused(spec, e),
        }
    }

    /// [`spawn_remote`] with retries: `#[background_task(static, remote, retries = N)]`. On
    /// a cluster the retries wait in Redis and run on whichever node sees them due (a node
    /// tells an `Err` from the result's first byte); without one, as
    /// [`spawn_retried`](StaticFn::spawn_retried).
    pub fn spawn_remote_retried(
        &self,
        opts: TaskOptions,
        entry: &'static StaticEntry,
        args: A,
        is_failure: fn(&R) -> bool,
    ) -> Task<R>
    where
        R: Send + 'static,
    {
        if spawn::has_cluster(&opts.spec()) {
            (self.spawn_remote)(opts, entry, args)
        } else {
            self.spawn_retried(opts, entry, args, is_failure)
        }
    }

    /// [`spawn_remote`]: `#[background_task(static, remote)]`.
    pub fn spawn_remote(&self, opts: TaskOptions, entry: &'static StaticEntry, args: A) -> Task<R> {
        (self.spawn_remote)(opts, entry, args)
    }

    /// [`call_static`].
    pub fn call(&self, input: &[u8], out: &mut Vec<u8>, f: fn(A) -> R) -> Result<(), String> {
        (self.call)(input, out, f)
    }
}

/// A static task that fails before it is sent (its arguments did not encode).
fn refused<R: Send + 'static>(spec: Spec<'_>, e: TaskError) -> Task<R> {
    let inner = spec.sup.inner.clone();
    Task::failed(inner, spec.name, spec.priority, PoolKind::Processes, e)
}

/// The queue item of a `#[background_worker(static)]` fn.
#[diagnostic::on_unimplemented(
    message = "`#[background_worker(static)]` sends `{Self}` to another process, so `{Self}` \
               must implement `serde::Serialize` and `serde::Deserialize`",
    label = "`{Self}` cannot cross to another process",
    note = "if `{Self}` is a type of your own, add `#[derive(serde::Serialize, serde::Deserialize)]` \
            to it; for a type from another crate, look for its `serde` feature; a type with no serde \
            support (an `io::Error` or an `io::Result`, say) must be turned into one that has \
            it first, e.g. `.map_err(|e| e.to_string())`"
)]
pub trait StaticItem: Serialize + DeserializeOwned {}

#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned> StaticItem for T {}

/// One run of a static worker, as [`run_static_worker`] (boxed, so that [`StaticWorker`] can
/// hold it).
pub type StaticRun = std::pin::Pin<Box<dyn Future<Output = Result<bool, String>> + Send>>;

/// The calls of a `#[background_worker(static)]` fn with queue item `I` (`()` for the other
/// kinds) and return type `R`, made by [`static_worker`] (which checks the types).
pub struct StaticWorker<I, R> {
    run: fn(TaskOptions, &'static StaticEntry, I) -> StaticRun,
    call: StaticCall<I, R>,
}

/// Checks the item and return types of a `#[background_worker(static)]` fn and gives its calls.
pub fn static_worker<I, R>() -> StaticWorker<I, R>
where
    I: StaticItem + Send + 'static,
    R: WorkerOutput,
{
    fn run<I: Serialize + Send + 'static>(
        opts: TaskOptions,
        entry: &'static StaticEntry,
        item: I,
    ) -> StaticRun {
        Box::pin(run_static_worker(opts, entry, item))
    }
    fn call<I: DeserializeOwned, R: WorkerOutput>(
        input: &[u8],
        out: &mut Vec<u8>,
        f: fn(I) -> R,
    ) -> Result<(), String> {
        call_static_worker(input, out, f)
    }
    StaticWorker {
        run: run::<I>,
        call: call::<I, R>,
    }
}

impl<I, R> StaticWorker<I, R> {
    /// [`run_static_worker`].
    pub fn run(&self, opts: TaskOptions, entry: &'static StaticEntry, item: I) -> StaticRun {
        (self.run)(opts, entry, item)
    }

    /// [`call_static_worker`].
    pub fn call(&self, input: &[u8], out: &mut Vec<u8>, f: fn(I) -> R) -> Result<(), String> {
        (self.call)(input, out, f)
    }
}
