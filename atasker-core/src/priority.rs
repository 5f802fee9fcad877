//! Task priorities.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How urgently a task or worker run must start.
///
/// The thread and process pools admit tasks by a ladder (see [`SupervisorBuilder`]):
/// `Low` runs while fewer than `pool` tasks are busy, `Normal` while fewer than
/// `pool + reserve_normal`, `High` while fewer than `pool + reserve_normal + reserve_high`;
/// `Critical` starts at once, even above every limit. Queued tasks start highest priority
/// first, first in first out within a priority.
///
/// Priorities order from `Low` (smallest) to `Critical` (largest):
///
/// ```
/// use atasker::Priority;
/// assert!(Priority::Low < Priority::Normal);
/// assert!(Priority::High < Priority::Critical);
/// assert_eq!(Priority::default(), Priority::Normal);
/// ```
///
/// [`SupervisorBuilder`]: crate::SupervisorBuilder
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Runs only while the pool has capacity below its base size.
    Low,
    /// The default: may also use the `reserve_normal` slots.
    #[default]
    Normal,
    /// May also use the `reserve_high` slots.
    High,
    /// Starts at once, even above every limit (it still counts as busy).
    Critical,
}

impl Priority {
    /// Every priority, lowest first.
    ///
    /// ```
    /// use atasker::Priority;
    /// let names: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    /// assert_eq!(names, ["low", "normal", "high", "critical"]);
    /// ```
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Critical,
    ];

    /// The priority's position in [`Priority::ALL`] (0 for `Low` … 3 for `Critical`).
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The lowercase name: `"low"`, `"normal"`, `"high"` or `"critical"` (also its `Display`
    /// and its serde form).
    ///
    /// ```
    /// use atasker::Priority;
    /// assert_eq!(Priority::High.as_str(), "high");
    /// assert_eq!(Priority::High.to_string(), "high");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
