//! The clock of a live run a trainer can steer: paused, resumed, sped up or
//! slowed, or moved on to the next inject, while the hosts run on it.
//!
//! Run time advances at `speed` times tokio's (real) clock from an anchor;
//! every change re-anchors it at the current run time, so run time never
//! jumps back. Whoever sleeps until a run time waits on [`Controlled::changed`]
//! too, and recomputes after any change (a pause makes `instant_at` `None`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::events::{Clock, Timer};
use crate::host::lock;
use crate::model::Timestamp;

#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// The tokio instant at which run time was `at`.
    start: Instant,
    at: Timestamp,
    speed: f64,
    paused: bool,
}

impl Anchor {
    fn now(&self) -> Timestamp {
        if self.paused {
            return self.at;
        }
        let real = Instant::now().saturating_duration_since(self.start);
        self.at.after(if self.speed == 1.0 {
            real
        } else {
            real.mul_f64(self.speed)
        })
    }
}

/// A run clock that can be paused, resumed, re-speeded and moved forward.
#[derive(Clone)]
pub struct Controlled {
    anchor: Arc<Mutex<Anchor>>,
    /// The run's t=0.
    zero: Timestamp,
    changed: Arc<watch::Sender<u64>>,
}

/// The state of the clock, as a console shows it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ClockState {
    /// Run time now (Unix milliseconds of the simulated calendar).
    pub now: Timestamp,
    /// Milliseconds since the run's t=0.
    pub t: u64,
    pub speed: f64,
    pub paused: bool,
}

impl Controlled {
    /// A clock at `zero` now, running at `speed`.
    pub fn new(zero: Timestamp, speed: f64) -> Controlled {
        Controlled {
            anchor: Arc::new(Mutex::new(Anchor {
                start: Instant::now(),
                at: zero,
                speed,
                paused: false,
            })),
            zero,
            changed: Arc::new(watch::channel(0).0),
        }
    }

    fn change(&self, f: impl FnOnce(&mut Anchor)) {
        {
            let mut a = lock(&self.anchor);
            let now = a.now();
            a.at = now;
            a.start = Instant::now();
            f(&mut a);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Stops run time.
    pub fn pause(&self) {
        self.change(|a| a.paused = true);
    }

    /// Lets run time go on.
    pub fn resume(&self) {
        self.change(|a| a.paused = false);
    }

    /// Runs at `speed` times real time from now (`speed` > 0).
    pub fn set_speed(&self, speed: f64) {
        self.change(|a| a.speed = speed);
    }

    /// Moves run time forward to `t` (never back).
    pub fn advance_to(&self, t: Timestamp) {
        self.change(|a| a.at = a.at.max(t));
    }

    /// Resolves after the next change of the clock.
    pub fn changed(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// What the clock shows now.
    pub fn state(&self) -> ClockState {
        let a = *lock(&self.anchor);
        let now = a.now();
        ClockState {
            now,
            t: now.since(self.zero),
            speed: a.speed,
            paused: a.paused,
        }
    }

    /// How long `run_time` lasts in real time at the current speed.
    pub fn real(&self, run_time: Duration) -> Duration {
        let speed = lock(&self.anchor).speed;
        if speed == 1.0 {
            run_time
        } else {
            run_time.div_f64(speed)
        }
    }

    /// Sleeps until run time `t` (milliseconds since t=0), however the
    /// clock is steered meanwhile.
    pub async fn sleep_until_t(&self, t: Duration) {
        let target = self.zero.after(t);
        let mut changed = self.changed();
        loop {
            if self.now() >= target {
                return;
            }
            let until = Timer::instant_at(self, target);
            tokio::select! {
                biased;
                _ = changed.changed() => {}
                () = sleep_until_opt(until) => {}
            }
        }
    }
}

async fn sleep_until_opt(until: Option<Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Clock for Controlled {
    fn now(&self) -> Timestamp {
        lock(&self.anchor).now()
    }

    fn origin(&self) -> Timestamp {
        self.zero
    }
}

impl Timer for Controlled {
    fn instant_at(&self, t: Timestamp) -> Option<Instant> {
        let a = *lock(&self.anchor);
        if a.paused {
            return None;
        }
        let ahead = Duration::from_millis(t.since(a.at));
        Some(
            a.start
                + if a.speed == 1.0 {
                    ahead
                } else {
                    ahead.div_f64(a.speed)
                },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pause_stops_run_time_and_resume_goes_on_from_there() {
        let c = Controlled::new(Timestamp(0), 60.0);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(c.state().t, 60_000);
        c.pause();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(c.state().t, 60_000, "paused");
        assert_eq!(c.instant_at(Timestamp(120_000)), None);
        c.resume();
        c.set_speed(120.0);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(c.state().t, 120_000);
        c.advance_to(Timestamp(600_000));
        assert_eq!(c.state().t, 600_000);
        c.advance_to(Timestamp(1));
        assert_eq!(c.state().t, 600_000, "never back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_sleeper_wakes_at_its_run_time_whatever_the_steering() {
        let c = Controlled::new(Timestamp(0), 1.0);
        let sleeper = {
            let c = c.clone();
            tokio::spawn(async move { c.sleep_until_t(Duration::from_secs(100)).await })
        };
        tokio::time::advance(Duration::from_secs(10)).await;
        c.pause();
        tokio::time::advance(Duration::from_secs(1000)).await;
        assert!(!sleeper.is_finished(), "a paused clock wakes nobody");
        c.resume();
        c.set_speed(10.0);
        tokio::time::advance(Duration::from_secs(9)).await;
        tokio::task::yield_now().await;
        sleeper.await.unwrap();
        assert!(c.state().t >= 100_000);
    }
}
