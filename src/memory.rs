//! Handing the memory the allocator keeps free back to the system once the service falls idle.
//!
//! glibc keeps freed heap memory for reuse and returns only the top of a heap on its own. What
//! start-up frees (the OpenAPI document has ~10 MiB live for a moment, each worker builds its
//! routes) and what a burst of requests frees stays resident, scattered between live blocks:
//! one second after start-up 7 MiB of the heaps' resident pages were free memory
//! (`malloc_info`), a fifth of the idle service (BENCHMARKS.md). `malloc_trim` hands back every
//! whole free page. It runs once per idle spell — a second without a new request — so a
//! service under load never pays for it, and an idle one holds what it uses.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

/// How long without a new request the service counts as idle.
pub const IDLE_AFTER: Duration = Duration::from_secs(1);

/// Trims the heaps once per idle spell, judged by `started`, the count of requests begun.
pub async fn trim_when_idle(started: Counter) {
    let mut interval =
        tokio::time::interval_at(tokio::time::Instant::now() + IDLE_AFTER, IDLE_AFTER);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut spell = IdleSpell::new(started.get());
    loop {
        interval.tick().await;
        if spell.is_new(started.get()) {
            trim();
        }
    }
}

/// Tells a new idle spell from the requests begun, read once per `IDLE_AFTER`.
#[derive(Debug)]
struct IdleSpell {
    /// The count at the last look.
    last: u64,
    /// The count when the heaps were last trimmed.
    trimmed_at: Option<u64>,
}

impl IdleSpell {
    fn new(count: u64) -> Self {
        Self {
            last: count,
            trimmed_at: None,
        }
    }

    /// Whether no request began since the last look, and the heaps were not trimmed since the
    /// last request.
    fn is_new(&mut self, count: u64) -> bool {
        let idle = count == self.last && self.trimmed_at != Some(count);
        self.last = count;
        if idle {
            self.trimmed_at = Some(count);
        }
        idle
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
        assert!(!spell.is_new(1));
        // A second without one: trim, once for the spell, however long it lasts.
        assert!(spell.is_new(1));
        assert!(!spell.is_new(1));
        assert!(!spell.is_new(1));
        // Under load the count moves at every look: no trim.
        assert!(!spell.is_new(40));
        assert!(!spell.is_new(90));
        // Idle again: one trim.
        assert!(spell.is_new(90));
        assert!(!spell.is_new(90));
    }

    #[test]
    fn a_service_idle_from_its_start_trims_at_the_first_look() {
        let mut spell = IdleSpell::new(0);
        assert!(spell.is_new(0));
        assert!(!spell.is_new(0));
    }
}
