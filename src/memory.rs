//! Handing the memory the allocator keeps free back to the system once the service falls idle.
//!
//! glibc keeps freed heap memory for reuse and returns only the top of a heap on its own. What
//! start-up frees (the OpenAPI document has ~10 MiB live for a moment, each worker builds its
//! routes) and what a burst of requests frees stays resident, scattered between live blocks:
//! one second after start-up 7 MiB of the heaps' resident pages were free memory
//! (`malloc_info`), and a trim took the idle service from 30.9 to 24.5 MiB (BENCHMARKS.md,
//! 2026-12-07, fifth session). `malloc_trim` hands back every whole free page. It runs once per
//! idle spell: at the first look (one a second) that finds no request begun since the look
//! before, so 1–2 s after the last request. A service under load never pays for it; one polled
//! by health probes trims after each probe, a few hundred microseconds when little was freed.
//! A trim may land during a long request (an import, a feed's long poll), which then faults
//! back in the pages it frees: requests begun, not requests in flight, say idle, or a long
//! poll would keep it from ever trimming. Off glibc the trim does nothing, and the look costs
//! a timer wake-up a second.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

/// How long without a new request the service counts as idle.
pub const IDLE_AFTER: Duration = Duration::from_secs(1);

/// Trims the heaps once per idle spell, judged by `started`, the count of requests begun.
pub async fn trim_when_idle(started: Counter) {
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::now() + IDLE_AFTER, IDLE_AFTER);
    // After a stall, one look, not a burst of them: looks back to back would see no request
    // between them and trim under load.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut spell = IdleSpell::new(started.get());
    loop {
        interval.tick().await;
        if spell.should_trim(started.get()) {
            trim();
        }
    }
}

/// Tells a new idle spell from the count of requests begun, read once per `IDLE_AFTER`.
#[derive(Debug)]
struct IdleSpell {
    /// The count at the last look.
    last: u64,
    /// Whether this spell was trimmed already.
    trimmed: bool,
}

impl IdleSpell {
    fn new(count: u64) -> Self {
        Self {
            last: count,
            trimmed: false,
        }
    }

    /// Whether to trim now: no request began since the last look, and none since this spell's
    /// trim.
    fn should_trim(&mut self, count: u64) -> bool {
        if count != self.last {
            self.last = count;
            self.trimmed = false;
            return false;
        }
        !std::mem::replace(&mut self.trimmed, true)
    }
}

/// Returns the allocator's wholly free pages to the system.
#[allow(unsafe_code)] // one of the crate's two unsafe calls, beside main.rs's `mallopt`
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it takes each arena's lock
    // in turn, so other threads allocate on meanwhile.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::IdleSpell;

    #[test]
    fn a_spell_without_requests_trims_once_and_a_busy_one_never() {
        let mut spell = IdleSpell::new(0);
        // The first look after start-up saw a request (readiness): not idle yet.
        assert!(!spell.should_trim(1));
        // A second without one: trim, once for the spell, however long it lasts.
        assert!(spell.should_trim(1));
        assert!(!spell.should_trim(1));
        assert!(!spell.should_trim(1));
        // Under load the count moves at every look: no trim.
        assert!(!spell.should_trim(40));
        assert!(!spell.should_trim(90));
        // Idle again: one trim.
        assert!(spell.should_trim(90));
        assert!(!spell.should_trim(90));
    }

    #[test]
    fn a_service_idle_from_its_start_trims_at_the_first_look() {
        let mut spell = IdleSpell::new(0);
        assert!(spell.should_trim(0));
        assert!(!spell.should_trim(0));
    }
}
