//! Message rates: a token bucket per connection (`rate` messages a second,
//! bursts of twice that), and a budget per client address shared by all of
//! its connections.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Instant;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Addresses remembered before idle ones are forgotten.
const ADDRESSES_KEPT: usize = 10_000;

/// A message budget per client address (GCRA, from `governor`); many
/// connections from one address draw on one budget.
pub struct PerAddress(Option<DefaultKeyedRateLimiter<IpAddr>>);

impl PerAddress {
    /// `rate` messages a second per address, bursts of twice that; `0` allows everything.
    pub fn new(rate: u32) -> Self {
        let quota = NonZeroU32::new(rate).map(|rate| {
            const TWICE: NonZeroU32 = NonZeroU32::new(2).unwrap();
            Quota::per_second(rate).allow_burst(rate.saturating_mul(TWICE))
        });
        Self(quota.map(RateLimiter::keyed))
    }

    /// Takes one message from `addr`'s budget; `false` when it is spent.
    pub fn try_take(&self, addr: IpAddr) -> bool {
        let Some(limiter) = &self.0 else { return true };
        if limiter.len() > ADDRESSES_KEPT {
            limiter.retain_recent();
        }
        limiter.check_key(&addr).is_ok()
    }
}

/// Tokens refill continuously; each accepted message takes one.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` messages per second; `0` accepts everything.
    pub fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        Self { rate, capacity: rate * 2.0, tokens: rate * 2.0, last: Instant::now() }
    }

    /// Takes a token if one is there; `false` means the sender is over its limit.
    pub fn try_take(&mut self) -> bool {
        self.try_take_at(Instant::now())
    }

    fn try_take_at(&mut self, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_of_twice_the_rate_then_refills() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10);
        bucket.last = start;
        let taken = (0..100).filter(|_| bucket.try_take_at(start)).count();
        assert_eq!(taken, 20);
        assert!(!bucket.try_take_at(start));
        // A tenth of a second later one more token is there, and only one.
        let later = start + Duration::from_millis(100);
        assert!(bucket.try_take_at(later));
        assert!(!bucket.try_take_at(later));
    }

    #[test]
    fn each_address_has_its_own_budget_of_twice_the_rate() {
        let budget = PerAddress::new(5);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        assert_eq!((0..100).filter(|_| budget.try_take(a)).count(), 10);
        assert!(budget.try_take(b), "another address is not affected");
        assert!((0..10_000).all(|_| PerAddress::new(0).try_take(a)), "0 turns it off");
    }

    #[test]
    fn zero_rate_never_limits() {
        let mut bucket = TokenBucket::new(0);
        assert!((0..10_000).all(|_| bucket.try_take()));
    }
}
