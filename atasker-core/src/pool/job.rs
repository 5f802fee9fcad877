//! The jobs a pool holds: any task, boxed, whatever its result type.

use crate::error::TaskError;
use crate::task::{Control, Header, TaskCell, RUNNING};
use std::sync::Arc;

/// A job a pool holds: a task of any result type, boxed.
pub(crate) trait PoolJob: Send + 'static {
    fn header(&self) -> &Header;
    /// The task, to cancel it or nudge its waiters.
    fn control(&self) -> Arc<dyn Control>;
    /// Finishes the queued task as cancelled.
    fn cancel(self);
    /// Finishes the admitted task with `err` without running it.
    fn fail(self, err: TaskError);
}

/// What a pool kind's job type shares, boxed behind its own trait object.
pub(crate) trait JobTask: Send + 'static {
    fn header(&self) -> &Header;
    fn control(&self) -> Arc<dyn Control>;
    fn cancel(self: Box<Self>);
    fn fail(self: Box<Self>, err: TaskError);
}

/// A job that holds its task's cell: [`JobTask`] comes with it.
pub(crate) trait CellJob: Send + 'static {
    type Output: Send + 'static;
    fn cell(&self) -> &Arc<TaskCell<Self::Output>>;
}

impl<J: CellJob> JobTask for J {
    fn header(&self) -> &Header {
        Control::header(&**self.cell())
    }

    fn control(&self) -> Arc<dyn Control> {
        self.cell().clone()
    }

    fn cancel(self: Box<Self>) {
        Control::cancel(&**self.cell());
    }

    fn fail(self: Box<Self>, err: TaskError) {
        self.cell().finish(RUNNING, Err(err));
    }
}

impl<J: JobTask + ?Sized> PoolJob for Box<J> {
    fn header(&self) -> &Header {
        (**self).header()
    }

    fn control(&self) -> Arc<dyn Control> {
        (**self).control()
    }

    fn cancel(self) {
        JobTask::cancel(self);
    }

    fn fail(self, err: TaskError) {
        JobTask::fail(self, err);
    }
}
