//! The one time source of a run. Hosts ask it what time it is (for the state
//! machines), the [`Log`](super::Log) stamps every event with it, and the log
//! lines of `tracing` read it too.
//!
//! **Invariant:** nothing here reads the wall clock. A live driver anchors a
//! [`TokioClock`] at the wall-clock time it read itself; the simulation
//! anchors it at the scenario's start, on tokio's paused (virtual) clock.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::Timestamp;

/// Where hosts and the event log get the time from.
///
/// A driver that does not run on tokio (a discrete-event network model, say)
/// implements this over its own notion of now.
pub trait Clock: Send + Sync + 'static {
    /// Now, as the state machines see it.
    fn now(&self) -> Timestamp;
    /// The run's t=0: events carry milliseconds since it.
    fn origin(&self) -> Timestamp;
    /// Milliseconds since the run's t=0: the `t` of an event recorded now.
    fn t(&self) -> u64 {
        self.now().since(self.origin())
    }
}

/// A clock a tokio driver can sleep on.
pub trait Timer: Clock + Clone {
    /// The tokio instant at which run time `t` falls, to sleep until it;
    /// `None` while the clock is paused (sleep until woken instead).
    fn instant_at(&self, t: Timestamp) -> Option<Instant>;
}

impl Timer for TokioClock {
    fn instant_at(&self, t: Timestamp) -> Option<Instant> {
        Some(TokioClock::instant_at(self, t))
    }
}

/// A clock that follows tokio's clock from an anchor: virtual time when the
/// runtime's clock is paused (the simulation), real time otherwise (the live
/// processes). A live run that can be sped up or paused runs on
/// `live::clock::Controlled` instead.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    /// The tokio instant of the anchor.
    start: Instant,
    /// The timestamp at `start`.
    at: Timestamp,
    /// The run's t=0 (`at` unless the clock continues an earlier run).
    origin: Timestamp,
}

impl TokioClock {
    /// A clock on which `start` (a tokio instant) is `origin`.
    pub fn new(start: Instant, origin: Timestamp) -> TokioClock {
        TokioClock {
            start,
            at: origin,
            origin,
        }
    }

    /// The same clock, with its t=0 at `zero` (a process continuing a log
    /// an earlier process began).
    pub fn with_zero(self, zero: Timestamp) -> TokioClock {
        TokioClock {
            origin: zero,
            ..self
        }
    }

    /// The tokio instant at which `t` falls, to sleep until it.
    pub fn instant_at(&self, t: Timestamp) -> Instant {
        self.start + Duration::from_millis(t.since(self.at))
    }

    /// The tokio instant of the anchor (t=0 unless [`TokioClock::with_zero`]
    /// moved it).
    pub fn start(&self) -> Instant {
        self.start
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.at
            .after(Instant::now().saturating_duration_since(self.start))
    }

    fn origin(&self) -> Timestamp {
        self.origin
    }
}

thread_local! {
    /// The clock of the run on this thread, for log-line timestamps.
    static CURRENT: RefCell<Option<Arc<dyn Clock>>> = const { RefCell::new(None) };
}

/// Makes `clock` this thread's run clock until the guard is dropped, so log
/// lines written on this thread carry the run's time ([`elapsed`]).
pub fn enter(clock: Arc<dyn Clock>) -> Entered {
    let previous = CURRENT.with(|c| c.replace(Some(clock)));
    Entered { previous }
}

/// Restores the previous run clock of the thread when dropped.
pub struct Entered {
    previous: Option<Arc<dyn Clock>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Time since t=0 of the run on this thread, if one is running.
pub fn elapsed() -> Option<Duration> {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|clock| Duration::from_millis(clock.t()))
    })
}
