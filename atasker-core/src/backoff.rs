//! Backoff with full jitter ([`Retry`]): how long a failed run waits before the next, for
//! local retries (`supervisor/spawn/retry.rs`) and a node's retries of remote tasks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// How a failed run is run again: up to `retries` more runs, the `n`-th after a delay drawn
/// uniformly from `0..=min(backoff × 2^(n-1), backoff_max)` ("full jitter", as in AWS's
/// *Exponential Backoff And Jitter*). Made by `#[background_task(retries = N, backoff =
/// SECS, backoff_max = SECS)]` and [`TaskBuilder::retries`](crate::TaskBuilder::retries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// How many more runs after the first one fails, at most.
    pub retries: u32,
    /// The base of the backoff: the cap of the first retry's delay. Default
    /// [`Retry::BACKOFF`].
    pub backoff: Duration,
    /// The cap of every retry's delay. Default [`Retry::BACKOFF_MAX`].
    pub backoff_max: Duration,
}

impl Retry {
    /// The default base of the backoff: 1 s.
    pub const BACKOFF: Duration = Duration::from_secs(1);
    /// The default cap of the backoff: 10 min.
    pub const BACKOFF_MAX: Duration = Duration::from_secs(600);

    /// `retries` more runs at most, with the default backoff.
    pub const fn new(retries: u32) -> Self {
        Retry {
            retries,
            backoff: Retry::BACKOFF,
            backoff_max: Retry::BACKOFF_MAX,
        }
    }

    /// The cap of retry `n`'s delay (`n` from 1): `min(backoff × 2^(n-1), backoff_max)`.
    pub(crate) fn cap(&self, n: u32) -> Duration {
        let factor = 2u32.checked_pow(n.saturating_sub(1));
        let d = factor.and_then(|f| self.backoff.checked_mul(f));
        d.map_or(self.backoff_max, |d| d.min(self.backoff_max))
    }

    /// Retry `n`'s delay (`n` from 1), with `x` drawn from `[0, 1)`: `x × cap(n)`.
    pub(crate) fn delay(&self, n: u32, x: f64) -> Duration {
        let cap = self.cap(n);
        Duration::try_from_secs_f64(cap.as_secs_f64() * x.clamp(0.0, 1.0))
            .map_or(cap, |d| d.min(cap))
    }
}

/// A number drawn from `[0, 1)` for the jitter: splitmix64 over the clock and a counter.
pub(crate) fn unit_random() -> f64 {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = clock ^ SEQ.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
