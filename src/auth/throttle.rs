//! Login throttling against password guessing, without a lockout that an
//! attacker could use to keep a real officer out.
//!
//! Three counters, each with a few free failures and then an exponential
//! backoff (1 s, 2 s, 4 s … up to `max_backoff`):
//! - per account *and* address: 5 free failures;
//! - per address, any account: 20 free failures (offices share NAT addresses);
//! - per account, any address: 5 free failures, and at most 100 failures an
//!   hour (OWASP ASVS 2.2.1). Addresses the account has logged in from before
//!   ("known") skip this counter, so an attacker elsewhere cannot lock the
//!   officer out of their own desk; they still meet the other two.
//!
//! Attempts refused with 429 are not checked and do not count, so waiting out
//! `Retry-After` always gives the next attempt a real check.
//!
//! An attempt is reserved *before* the (slow) password check and settled
//! after it ([`Throttle::reserve`]): attempts in flight count as failures
//! until they are settled, so thirty parallel guesses get no more checks than
//! thirty guesses one after another.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per account per hour (OWASP ASVS 2.2.1 asks for ≤ 100).
pub const HOURLY_ACCOUNT_CAP: u32 = 100;
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
struct Counter {
    consecutive: u32,
    blocked_until: Option<Instant>,
    window_start: Instant,
    in_window: u32,
    last: Instant,
    /// Attempts reserved and not yet settled.
    pending: u32,
}

impl Counter {
    fn new(now: Instant) -> Counter {
        Counter { consecutive: 0, blocked_until: None, window_start: now, in_window: 0, last: now, pending: 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    AccountAddress,
    Address,
    Account,
}

/// The throttle's settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest backoff.
    pub max_backoff: Duration,
}

/// In-memory throttle state for one server process.
pub struct Throttle {
    limits: Limits,
    counters: Mutex<HashMap<(Kind, String), Counter>>,
}

fn free_failures(kind: Kind) -> u32 {
    match kind {
        Kind::AccountAddress | Kind::Account => 5,
        Kind::Address => 20,
    }
}

impl Throttle {
    /// A throttle with these limits.
    pub fn new(limits: Limits) -> Throttle {
        Throttle { limits, counters: Mutex::new(HashMap::new()) }
    }

    fn keys(account: &str, address: &str, known_address: bool) -> Vec<(Kind, String)> {
        let mut keys =
            vec![(Kind::AccountAddress, format!("{account}\u{0}{address}")), (Kind::Address, address.to_owned())];
        if !known_address {
            keys.push((Kind::Account, account.to_owned()));
        }
        keys
    }

    /// `Err(wait)` if an attempt for `account` from `address` must wait.
    pub fn check(&self, account: &str, address: &str, known_address: bool, now: Instant) -> Result<(), Duration> {
        let counters = self.counters.lock().expect("throttle lock");
        Self::wait(&counters, &Self::keys(account, address, known_address), now)
    }

    /// [`Throttle::check`] under the lock already held.
    fn wait(
        counters: &HashMap<(Kind, String), Counter>,
        keys: &[(Kind, String)],
        now: Instant,
    ) -> Result<(), Duration> {
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(c) = counters.get(key) {
                if let Some(until) = c.blocked_until {
                    wait = wait.max(until.saturating_duration_since(now));
                }
                if key.0 == Kind::Account && c.in_window >= HOURLY_ACCOUNT_CAP && now < c.window_start + HOUR {
                    wait = wait.max(c.window_start + HOUR - now);
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Reserves an attempt for `account` from `address`, counted as a failure
    /// in flight until it is settled: `Err(wait)` if it must wait (blocked,
    /// or as many attempts already in flight as would be allowed to fail).
    /// An attempt dropped unsettled is released uncounted.
    pub fn reserve<'a>(
        &'a self,
        account: &str,
        address: &str,
        known_address: bool,
        now: Instant,
    ) -> Result<Attempt<'a>, Duration> {
        // One lock for the check and the reservation: between two, a
        // failure settled by another thread could slip this attempt past
        // the backoff it just started.
        let mut counters = self.counters.lock().expect("throttle lock");
        let keys = Self::keys(account, address, known_address);
        Self::wait(&counters, &keys, now)?;
        for key in &keys {
            if let Some(c) = counters.get(key)
                && c.pending > 0
                && c.consecutive + c.pending >= free_failures(key.0)
            {
                // The attempts in flight may all fail: this one waits for them.
                return Err(Duration::from_secs(1));
            }
        }
        for key in &keys {
            counters.entry(key.clone()).or_insert_with(|| Counter::new(now)).pending += 1;
        }
        Ok(Attempt {
            throttle: self,
            account: account.to_owned(),
            address: address.to_owned(),
            known_address,
            settled: false,
        })
    }

    /// Takes back an attempt's reservation, under the lock already held.
    fn release(counters: &mut HashMap<(Kind, String), Counter>, keys: &[(Kind, String)]) {
        for key in keys {
            if let Some(c) = counters.get_mut(key) {
                c.pending = c.pending.saturating_sub(1);
            }
        }
    }

    /// Records a failed attempt.
    pub fn failure(&self, account: &str, address: &str, known_address: bool, now: Instant) {
        let mut counters = self.counters.lock().expect("throttle lock");
        self.count_failure(&mut counters, Self::keys(account, address, known_address), now);
    }

    /// [`Throttle::failure`] under the lock already held.
    fn count_failure(&self, counters: &mut HashMap<(Kind, String), Counter>, keys: Vec<(Kind, String)>, now: Instant) {
        if counters.len() > 100_000 {
            counters.retain(|_, c| now.saturating_duration_since(c.last) < HOUR);
        }
        for key in keys {
            let kind = key.0;
            let c = counters.entry(key).or_insert_with(|| Counter::new(now));
            // An hour of quiet forgives old failures, not the attempts in flight.
            if now.saturating_duration_since(c.last) >= HOUR {
                *c = Counter { pending: c.pending, ..Counter::new(now) };
            }
            if now.saturating_duration_since(c.window_start) >= HOUR {
                c.window_start = now;
                c.in_window = 0;
            }
            c.consecutive += 1;
            c.in_window += 1;
            c.last = now;
            let free = free_failures(kind);
            if c.consecutive >= free {
                let exp = (c.consecutive - free).min(20);
                let backoff = Duration::from_secs(1u64 << exp).min(self.limits.max_backoff);
                c.blocked_until = Some(now + backoff);
            }
        }
    }

    /// Records a successful login: the account and address start afresh, but
    /// the hourly count of failures stands.
    pub fn success(&self, account: &str, address: &str) {
        let mut counters = self.counters.lock().expect("throttle lock");
        Self::start_afresh(&mut counters, account, address);
    }

    /// [`Throttle::success`] under the lock already held.
    fn start_afresh(counters: &mut HashMap<(Kind, String), Counter>, account: &str, address: &str) {
        for key in [(Kind::AccountAddress, format!("{account}\u{0}{address}")), (Kind::Account, account.to_owned())] {
            if let Some(c) = counters.get_mut(&key) {
                c.consecutive = 0;
                c.blocked_until = None;
            }
        }
    }
}

/// A reserved attempt: settle it with [`Attempt::failed`] or
/// [`Attempt::succeeded`] once the secret has been checked.
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    account: String,
    address: String,
    known_address: bool,
    settled: bool,
}

impl Attempt<'_> {
    /// The secret was wrong: counted as a failure. The reservation becomes
    /// the failure under one lock, so that no attempt in between sees
    /// neither.
    pub fn failed(mut self, now: Instant) {
        self.settled = true;
        let t = self.throttle;
        let mut counters = t.counters.lock().expect("throttle lock");
        let keys = Throttle::keys(&self.account, &self.address, self.known_address);
        Throttle::release(&mut counters, &keys);
        t.count_failure(&mut counters, keys, now);
    }

    /// The secret was right: the account and address start afresh.
    pub fn succeeded(mut self) {
        self.settled = true;
        let mut counters = self.throttle.counters.lock().expect("throttle lock");
        Throttle::release(&mut counters, &Throttle::keys(&self.account, &self.address, self.known_address));
        Throttle::start_afresh(&mut counters, &self.account, &self.address);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let mut counters = self.throttle.counters.lock().expect("throttle lock");
            Throttle::release(&mut counters, &Throttle::keys(&self.account, &self.address, self.known_address));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max: u64) -> Throttle {
        Throttle::new(Limits { max_backoff: Duration::from_secs(max) })
    }

    #[test]
    fn attempts_in_flight_still_count_when_an_hour_of_quiet_is_forgiven() {
        let t = throttle(60);
        let then = Instant::now();
        t.failure("so", "1.1.1.1", false, then);
        // An hour and more later, guesses at once: the old failure still
        // stands when they are reserved, so four are checked at once.
        let now = then + Duration::from_secs(7200);
        let mut held = Vec::new();
        while let Ok(a) = t.reserve("so", "1.1.1.1", false, now) {
            held.push(a);
        }
        assert_eq!(held.len(), 4);
        // The first to fail forgives the old failure, so one more check is
        // due (five free in all); the three still being checked keep
        // counting, so no more than that one.
        held.pop().unwrap().failed(now);
        while let Ok(a) = t.reserve("so", "1.1.1.1", false, now) {
            held.push(a);
        }
        assert_eq!(held.len(), 4, "three in flight and one more");
    }

    #[test]
    fn a_few_mistakes_are_free_then_backoff_grows() {
        let t = throttle(60);
        let now = Instant::now();
        for _ in 0..4 {
            assert!(t.check("so", "1.1.1.1", false, now).is_ok());
            t.failure("so", "1.1.1.1", false, now);
        }
        assert!(t.check("so", "1.1.1.1", false, now).is_ok());
        t.failure("so", "1.1.1.1", false, now);
        assert_eq!(t.check("so", "1.1.1.1", false, now), Err(Duration::from_secs(1)));
        let later = now + Duration::from_secs(1);
        assert!(t.check("so", "1.1.1.1", false, later).is_ok());
        t.failure("so", "1.1.1.1", false, later);
        assert_eq!(t.check("so", "1.1.1.1", false, later), Err(Duration::from_secs(2)));
    }

    /// An attacker trying as fast as allowed for an hour gets fewer than 100
    /// guesses at one account, from one address or from many.
    #[test]
    fn at_most_100_failures_an_hour() {
        for addresses in [1usize, 1000] {
            let t = throttle(60);
            let start = Instant::now();
            let mut tried = 0;
            let mut now = start;
            let mut i = 0;
            while now < start + HOUR {
                let addr = format!("10.0.{}.{}", (i % addresses) / 256, (i % addresses) % 256);
                i += 1;
                if t.check("js.moitt", &addr, false, now).is_ok() {
                    t.failure("js.moitt", &addr, false, now);
                    tried += 1;
                }
                now += Duration::from_millis(100);
            }
            assert!(tried <= HOURLY_ACCOUNT_CAP, "{tried} guesses from {addresses} addresses");
            assert!(tried >= 20, "the backoff is not a lockout: {tried}");
        }
    }

    #[test]
    fn the_officer_is_not_locked_out_beyond_the_window() {
        let t = throttle(60);
        // Ten minutes of guessing from one address, as fast as it is allowed.
        let mut now = Instant::now();
        for _ in 0..6000 {
            if t.check("so", "6.6.6.6", false, now).is_ok() {
                t.failure("so", "6.6.6.6", false, now);
            }
            now += Duration::from_millis(100);
        }
        // From a new address the account's backoff applies, but only for its window.
        let wait = t.check("so", "10.1.1.1", false, now).unwrap_err();
        assert!(wait <= Duration::from_secs(60));
        assert!(t.check("so", "10.1.1.1", false, now + wait).is_ok());
        // From the officer's known address it does not apply at all.
        assert!(t.check("so", "10.1.1.1", true, now).is_ok());
    }

    #[test]
    fn one_address_trying_many_accounts_is_throttled() {
        let t = throttle(60);
        let now = Instant::now();
        for i in 0..20 {
            let account = format!("user{i}");
            assert!(t.check(&account, "6.6.6.6", false, now).is_ok());
            t.failure(&account, "6.6.6.6", false, now);
        }
        assert!(t.check("fresh.account", "6.6.6.6", false, now).is_err());
        assert!(t.check("fresh.account", "10.0.0.1", false, now).is_ok());
    }

    #[test]
    fn success_resets_the_backoff() {
        let t = throttle(60);
        let now = Instant::now();
        for _ in 0..6 {
            t.failure("so", "1.1.1.1", false, now);
        }
        assert!(t.check("so", "1.1.1.1", false, now).is_err());
        t.success("so", "1.1.1.1");
        // The address counter (20 free) is not yet tripped.
        assert!(t.check("so", "1.1.1.1", false, now).is_ok());
    }

    #[test]
    fn attempts_in_flight_count_as_failures() {
        let t = Throttle::new(Limits { max_backoff: Duration::from_secs(60) });
        let now = Instant::now();
        // Five parallel guesses are allowed in flight, the sixth waits.
        let held: Vec<Attempt> = (0..5).map(|_| t.reserve("so", "10.0.0.1", false, now).unwrap()).collect();
        assert!(t.reserve("so", "10.0.0.1", false, now).is_err());
        // All five fail: now blocked, as after five failures one by one.
        for a in held {
            a.failed(now);
        }
        assert!(t.reserve("so", "10.0.0.1", false, now).is_err());
        // A dropped reservation is released, not counted.
        let t = Throttle::new(Limits { max_backoff: Duration::from_secs(60) });
        for _ in 0..10 {
            drop(t.reserve("ds", "10.0.0.2", false, now).unwrap());
        }
        t.reserve("ds", "10.0.0.2", false, now).unwrap().succeeded();
    }
}
