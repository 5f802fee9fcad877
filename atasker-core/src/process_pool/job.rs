//! What the process pool runs: a task's request (a static fn's index and its encoded
//! arguments) and its cell, finished with the decoded reply.

use super::protocol;
use crate::error::TaskError;
use crate::pool::{CellJob, JobTask};
use crate::task::{run_catching, Contained, TaskCell, RUNNING};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

pub(crate) struct RawJob {
    cell: Arc<TaskCell<Vec<u8>>>,
    index: u32,
    args: Vec<u8>,
}

impl RawJob {
    /// The job of a static fn's call whose arguments come encoded (a node forwards them).
    pub(crate) fn new(cell: Arc<TaskCell<Vec<u8>>>, index: u32, args: Vec<u8>) -> Self {
        RawJob { cell, index, args }
    }
}

impl CellJob for RawJob {
    type Output = Vec<u8>;

    fn cell(&self) -> &Arc<TaskCell<Vec<u8>>> {
        &self.cell
    }
}

impl ProcessJob for RawJob {
    fn request(&self, buf: &mut Vec<u8>) -> Result<(), String> {
        protocol::request(buf, self.index, |b| {
            b.extend_from_slice(&self.args);
            Ok(())
        })
    }

    fn complete(self: Box<Self>, payload: &[u8]) -> bool {
        self.cell.finish(RUNNING, Ok(payload.to_vec()));
        true
    }
}

/// A unit of work for the pool: a task's arguments and its cell, of any types.
pub(crate) trait ProcessJob: JobTask {
    /// Appends the request frame to `buf` (left as it was on an error).
    fn request(&self, buf: &mut Vec<u8>) -> Result<(), String>;
    /// Finishes the task with the reply's payload; `false` if it did not decode.
    fn complete(self: Box<Self>, payload: &[u8]) -> bool;
}

pub(crate) type Job = Box<dyn ProcessJob>;

pub(crate) struct StaticJob<A, R> {
    cell: Arc<TaskCell<R>>,
    index: u32,
    /// The user's arguments: their `Drop` (on a driver thread) is contained.
    args: Contained<A>,
}

impl<A, R> StaticJob<A, R> {
    /// The job of a call of the static fn at `index` with the argument tuple `args`.
    pub(crate) fn new(cell: Arc<TaskCell<R>>, index: u32, args: A) -> Self {
        StaticJob {
            cell,
            index,
            args: Contained::new(args),
        }
    }
}

impl<A, R> CellJob for StaticJob<A, R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    type Output = R;

    fn cell(&self) -> &Arc<TaskCell<R>> {
        &self.cell
    }
}

impl<A, R> ProcessJob for StaticJob<A, R>
where
    A: Serialize + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    fn request(&self, buf: &mut Vec<u8>) -> Result<(), String> {
        let args = self.args.get().ok_or("the arguments were taken")?;
        // `Serialize` is user code running on a driver thread: a panic in it is contained
        // (and what it appended is dropped).
        let start = buf.len();
        let r = run_catching(|| protocol::request(buf, self.index, |b| protocol::encode(args, b)))
            .map_err(|e| e.to_string());
        if !matches!(r, Ok(Ok(()))) {
            buf.truncate(start);
        }
        r?
    }

    fn complete(self: Box<Self>, payload: &[u8]) -> bool {
        let decoded =
            run_catching(|| protocol::decode::<R>(payload)).unwrap_or_else(|e| Err(e.to_string()));
        match decoded {
            Ok(v) => {
                self.cell.finish(RUNNING, Ok(v));
                true
            }
            Err(e) => {
                let e = TaskError::Codec(format!("the result did not cross: {e}"));
                self.cell.finish(RUNNING, Err(e));
                false
            }
        }
    }
}
