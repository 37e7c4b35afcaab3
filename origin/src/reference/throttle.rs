//! Login throttling: failure counters per account and per client, with an exponential lock.
//!
//! Pure bookkeeping: the caller passes the time (`now_ms`, Unix milliseconds), so every rule is
//! tested without a clock. The rules, with the defaults of [`Policy::DEFAULT`]:
//!
//! - An **account** (the submitted user name, trimmed, compared exactly as the user table does)
//!   is locked after [`ACCOUNT_FAILURES`] failures, a **client** (IP address, IPv6 by `/64`) after
//!   [`CLIENT_FAILURES`]. The lock lasts [`FIRST_LOCK_MS`] after the failure that reached the
//!   threshold and doubles with every further failure, up to [`MAX_LOCK_MS`].
//! - While either lock holds, an attempt is refused before the password is looked at (no argon2
//!   work, and the right password is refused too). A refused attempt is not a failure: it neither
//!   counts nor extends the lock.
//! - An attempt is counted as a failure when it *starts* ([`Throttle::begin`]), so attempts in
//!   flight at the same time are throttled too; a success ([`Throttle::succeeded`]) then resets
//!   the account and takes back that one count from the client (other users behind the same
//!   address keep their failures).
//! - A counter whose last failure is [`FAILURE_WINDOW_MS`] old is forgotten.
//! - At most [`MAX_ACCOUNTS`] accounts and [`MAX_CLIENTS`] clients are tracked; a new one evicts
//!   a forgotten entry, else the one with the fewest failures (the oldest among equals), so a
//!   spray of new names cannot push out a locked account without failing as often on each name.
//!
//! Nothing here knows which user names exist: unknown names are throttled exactly like real
//! ones, so the answers do not reveal which accounts exist.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// Failures of one account (within [`FAILURE_WINDOW_MS`]) that lock it.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failures from one client, whatever the account, that lock the client.
pub const CLIENT_FAILURES: u32 = 20;
/// Lock after the failure that reaches a threshold; each further failure doubles it.
pub const FIRST_LOCK_MS: i64 = 1_000;
/// Longest lock (15 min).
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// A counter whose last failure is this old (1 h) is forgotten. Longer than [`MAX_LOCK_MS`], so
/// when a capped lock ends the counter is still there and the next failure locks for the cap.
pub const FAILURE_WINDOW_MS: i64 = 60 * 60 * 1000;
/// Accounts tracked at once (each entry is at most ~150 bytes: a ≤ 64-byte key and a counter).
pub const MAX_ACCOUNTS: usize = 10_000;
/// Clients tracked at once (each entry is under 100 bytes).
pub const MAX_CLIENTS: usize = 10_000;
/// Longest account key, in bytes: the login form's limit on user names. Longer names are cut at
/// a character boundary (they can never sign in, so sharing a counter costs nobody anything).
pub const MAX_ACCOUNT_KEY_BYTES: usize = 64;

/// The throttle's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// See [`ACCOUNT_FAILURES`].
    pub account_failures: u32,
    /// See [`CLIENT_FAILURES`].
    pub client_failures: u32,
    /// See [`FIRST_LOCK_MS`].
    pub first_lock_ms: i64,
    /// See [`MAX_LOCK_MS`].
    pub max_lock_ms: i64,
    /// See [`FAILURE_WINDOW_MS`].
    pub window_ms: i64,
    /// See [`MAX_ACCOUNTS`].
    pub max_accounts: usize,
    /// See [`MAX_CLIENTS`].
    pub max_clients: usize,
}

impl Policy {
    /// The documented constants.
    pub const DEFAULT: Policy = Policy {
        account_failures: ACCOUNT_FAILURES,
        client_failures: CLIENT_FAILURES,
        first_lock_ms: FIRST_LOCK_MS,
        max_lock_ms: MAX_LOCK_MS,
        window_ms: FAILURE_WINDOW_MS,
        max_accounts: MAX_ACCOUNTS,
        max_clients: MAX_CLIENTS,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which counter refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user name's.
    Account,
    /// The client address's.
    Client,
}

impl Scope {
    /// For the log.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Client => "client",
        }
    }
}

/// A refused attempt: which lock, and how long until both locks have ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// The lock that ends last.
    pub scope: Scope,
    /// Milliseconds until an attempt would be accepted (> 0).
    pub retry_after_ms: i64,
}

impl Locked {
    /// `Retry-After` in whole seconds, rounded up (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_after_ms.saturating_add(999) / 1000;
        u64::try_from(secs).unwrap_or(1).max(1)
    }
}

/// The account key of a submitted user name: trimmed, case kept (the user table compares names
/// exactly), at most [`MAX_ACCOUNT_KEY_BYTES`].
pub fn account_key(name: &str) -> String {
    let name = name.trim();
    let mut end = name.len().min(MAX_ACCOUNT_KEY_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// The client key of an address: IPv4 as is (also when IPv4-mapped), IPv6 by its `/64`, the
/// block a single subscriber usually gets (one address each would let them rotate freely).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure_ms: i64,
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    threshold: u32,
    max: usize,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(threshold: u32, max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            threshold,
            max,
        }
    }

    /// The entry, unless absent or forgotten (last failure a window ago).
    fn live(&self, key: &K, now_ms: i64, p: &Policy) -> Option<Entry> {
        self.entries
            .get(key)
            .copied()
            .filter(|e| now_ms.saturating_sub(e.last_failure_ms) < p.window_ms)
    }

    /// Milliseconds until `key`'s lock ends, when it is locked at `now_ms`.
    fn locked_for(&self, key: &K, now_ms: i64, p: &Policy) -> Option<i64> {
        let e = self.live(key, now_ms, p)?;
        let doublings = e.failures.checked_sub(self.threshold)?;
        let lock = p
            .first_lock_ms
            .saturating_mul(1i64 << doublings.min(32))
            .min(p.max_lock_ms);
        let left = e
            .last_failure_ms
            .saturating_add(lock)
            .saturating_sub(now_ms);
        (left > 0).then_some(left)
    }

    fn count_failure(&mut self, key: K, now_ms: i64, p: &Policy) {
        let failures = self
            .live(&key, now_ms, p)
            .map_or(1, |e| e.failures.saturating_add(1));
        if !self.entries.contains_key(&key) && self.entries.len() >= self.max {
            self.evict_one(now_ms, p);
        }
        self.entries.insert(
            key,
            Entry {
                failures,
                last_failure_ms: now_ms,
            },
        );
    }

    /// Drops a forgotten entry if there is one, else the one with the fewest failures (the
    /// oldest among equals). One pass over at most `max` entries, only when a new key arrives
    /// at a full table: small next to the argon2 check every counted attempt costs.
    fn evict_one(&mut self, now_ms: i64, p: &Policy) {
        let victim = self
            .entries
            .iter()
            .min_by_key(|(_, e)| {
                let forgotten = now_ms.saturating_sub(e.last_failure_ms) >= p.window_ms;
                (!forgotten, e.failures, e.last_failure_ms)
            })
            .map(|(k, _)| k.clone());
        if let Some(victim) = victim {
            self.entries.remove(&victim);
        }
    }

    fn forget(&mut self, key: &K) {
        self.entries.remove(key);
    }

    fn take_back_one(&mut self, key: &K) {
        if let Some(e) = self.entries.get_mut(key) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures == 0 {
                self.entries.remove(key);
            }
        }
    }
}

/// The login throttle (see the module documentation).
#[derive(Debug)]
pub struct Throttle {
    policy: Policy,
    accounts: Table<String>,
    clients: Table<IpAddr>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(Policy::DEFAULT)
    }
}

impl Throttle {
    /// An empty throttle with `policy`.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            accounts: Table::new(policy.account_failures, policy.max_accounts),
            clients: Table::new(policy.client_failures, policy.max_clients),
        }
    }

    /// Starts a login attempt for the submitted user `name` from `client` (`None`: unknown, only
    /// the account is throttled). `Err` refuses it: do not check the password. `Ok` has counted
    /// it as a failure of both; call [`Throttle::succeeded`] if the password is right.
    pub fn begin(&mut self, name: &str, client: Option<IpAddr>, now_ms: i64) -> Result<(), Locked> {
        let p = self.policy;
        let account = account_key(name);
        let client = client.map(client_key);
        let account_lock = self.accounts.locked_for(&account, now_ms, &p);
        let client_lock = client.and_then(|c| self.clients.locked_for(&c, now_ms, &p));
        let locked = match (account_lock, client_lock) {
            (Some(a), Some(c)) if c > a => Some((Scope::Client, c)),
            (Some(a), _) => Some((Scope::Account, a)),
            (None, Some(c)) => Some((Scope::Client, c)),
            (None, None) => None,
        };
        if let Some((scope, retry_after_ms)) = locked {
            return Err(Locked {
                scope,
                retry_after_ms,
            });
        }
        self.accounts.count_failure(account, now_ms, &p);
        if let Some(c) = client {
            self.clients.count_failure(c, now_ms, &p);
        }
        Ok(())
    }

    /// The attempt [`Throttle::begin`] let through had the right password: the account starts
    /// over, and the client gets back the failure that attempt was counted as.
    pub fn succeeded(&mut self, name: &str, client: Option<IpAddr>) {
        self.accounts.forget(&account_key(name));
        if let Some(c) = client {
            self.clients.take_back_one(&client_key(c));
        }
    }

    /// How many accounts and clients are tracked (forgotten entries included until evicted).
    pub fn tracked(&self) -> (usize, usize) {
        (self.accounts.entries.len(), self.clients.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const T0: i64 = 1_700_000_000_000;
    const A: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));

    fn ip(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
    }

    fn locked(scope: Scope, retry_after_ms: i64) -> Result<(), Locked> {
        Err(Locked {
            scope,
            retry_after_ms,
        })
    }

    /// `n` attempts at `now` that all fail.
    fn fail(t: &mut Throttle, name: &str, client: Option<IpAddr>, n: u32, now: i64) {
        for i in 0..n {
            assert_eq!(t.begin(name, client, now), Ok(()), "{name} attempt {i}");
        }
    }

    #[test]
    fn an_account_locks_at_the_threshold_then_doubles_up_to_the_cap() {
        let mut t = Throttle::default();
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, T0);
        assert_eq!(t.begin("alice", A, T0), locked(Scope::Account, 1_000));
        assert_eq!(t.begin("alice", B, T0 + 999), locked(Scope::Account, 1));
        // Another account from the same client is not affected.
        assert_eq!(t.begin("bob", A, T0), Ok(()));
        // Each further failure doubles the lock: 2 s, 4 s, … until the cap.
        let mut now = T0 + 1_000;
        let mut want = 2_000;
        while want < MAX_LOCK_MS {
            assert_eq!(t.begin("alice", A, now), Ok(()));
            assert_eq!(t.begin("alice", A, now), locked(Scope::Account, want));
            now += want;
            want *= 2;
        }
        for _ in 0..3 {
            assert_eq!(t.begin("alice", A, now), Ok(()));
            assert_eq!(
                t.begin("alice", A, now),
                locked(Scope::Account, MAX_LOCK_MS)
            );
            now += MAX_LOCK_MS;
        }
    }

    #[test]
    fn refused_attempts_neither_count_nor_extend_the_lock() {
        let mut t = Throttle::default();
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, T0);
        for ms in 0..100 {
            assert!(t.begin("alice", A, T0 + ms).is_err());
        }
        // Still the first lock (1 s), and the next failure only doubles it once.
        assert_eq!(t.begin("alice", A, T0 + 1_000), Ok(()));
        assert_eq!(
            t.begin("alice", A, T0 + 1_000),
            locked(Scope::Account, 2_000)
        );
    }

    #[test]
    fn attempts_in_flight_count_before_their_outcome() {
        // Five concurrent attempts have begun; none has finished: the sixth is refused.
        let mut t = Throttle::default();
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, T0);
        assert!(t.begin("alice", B, T0).is_err());
    }

    #[test]
    fn a_success_after_the_lock_resets_the_account() {
        let mut t = Throttle::default();
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, T0);
        // Locked: the handler never gets to check the (right) password.
        assert!(t.begin("alice", A, T0 + 500).is_err());
        assert_eq!(t.begin("alice", A, T0 + 1_000), Ok(()));
        t.succeeded("alice", A);
        // Starting over: four failures and a fifth attempt pass, then the first lock again.
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, T0 + 2_000);
        assert_eq!(
            t.begin("alice", A, T0 + 2_000),
            locked(Scope::Account, 1_000)
        );
    }

    #[test]
    fn a_client_locks_across_accounts_and_successes_do_not_launder_it() {
        let mut t = Throttle::default();
        for n in 0..CLIENT_FAILURES - 1 {
            fail(&mut t, &format!("user{n}"), A, 1, T0);
        }
        // A success from the client takes back only its own count.
        assert_eq!(t.begin("carol", A, T0), Ok(()));
        t.succeeded("carol", A);
        fail(&mut t, "user-last", A, 1, T0);
        assert_eq!(t.begin("fresh", A, T0), locked(Scope::Client, 1_000));
        // Another client, same or another name, is unaffected.
        assert_eq!(t.begin("fresh", B, T0), Ok(()));
    }

    #[test]
    fn when_both_are_locked_the_answer_is_the_later_end() {
        // alice locked until T0 + 1 s; client A until T0 + 1.5 s.
        let mut t = Throttle::default();
        fail(&mut t, "alice", B, ACCOUNT_FAILURES, T0);
        for n in 0..CLIENT_FAILURES {
            fail(&mut t, &format!("user{n}"), A, 1, T0 + 500);
        }
        assert_eq!(t.begin("alice", A, T0 + 500), locked(Scope::Client, 1_000));
        // alice locked until T0 + 1.8 s; client A until T0 + 1 s.
        let mut t = Throttle::default();
        for n in 0..CLIENT_FAILURES {
            fail(&mut t, &format!("user{n}"), A, 1, T0);
        }
        fail(&mut t, "alice", B, ACCOUNT_FAILURES, T0 + 800);
        assert_eq!(t.begin("alice", A, T0 + 800), locked(Scope::Account, 1_000));
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let mut t = Throttle::default();
        fail(&mut t, "alice", A, ACCOUNT_FAILURES - 1, T0);
        // Just inside the window the count goes on: this fifth failure locks.
        fail(&mut t, "alice", A, 1, T0 + FAILURE_WINDOW_MS - 1);
        assert!(t.begin("alice", A, T0 + FAILURE_WINDOW_MS).is_err());
        // A window after the last failure it is forgotten: five more before the next lock.
        let later = T0 + 2 * FAILURE_WINDOW_MS - 1;
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, later);
        assert_eq!(t.begin("alice", A, later), locked(Scope::Account, 1_000));
        // A capped lock ends before the window: the counter is still there, and the next
        // failure locks for the cap again rather than starting over.
        let mut t = Throttle::default();
        let mut now = T0;
        fail(&mut t, "bob", B, ACCOUNT_FAILURES, now);
        for _ in 0..12 {
            let Err(lock) = t.begin("bob", B, now) else {
                panic!("bob is not locked at {now}");
            };
            now += lock.retry_after_ms;
            assert_eq!(t.begin("bob", B, now), Ok(()));
        }
        assert_eq!(t.begin("bob", B, now), locked(Scope::Account, MAX_LOCK_MS));
    }

    #[test]
    fn unknown_and_known_names_are_treated_alike() {
        // The throttle has no user list; the same history gives the same answers.
        let run = |name: &str| {
            let mut t = Throttle::default();
            (0..ACCOUNT_FAILURES + 3)
                .map(|i| t.begin(name, A, T0 + i64::from(i) * 400))
                .collect::<Vec<_>>()
        };
        assert_eq!(run("alice"), run("no-such-user"));
        assert!(run("alice").iter().any(Result::is_err));
    }

    #[test]
    fn memory_is_bounded_and_a_spray_does_not_evict_a_locked_account() {
        let mut t = Throttle::default();
        fail(&mut t, "alice", None, ACCOUNT_FAILURES, T0);
        for n in 0..MAX_ACCOUNTS + 500 {
            fail(&mut t, &format!("spray{n}"), ip(n as u32), 1, T0);
        }
        assert_eq!(t.tracked(), (MAX_ACCOUNTS, MAX_CLIENTS));
        assert_eq!(t.begin("alice", None, T0), locked(Scope::Account, 1_000));
    }

    #[test]
    fn eviction_drops_the_fewest_failures_then_the_oldest() {
        let p = Policy {
            max_accounts: 3,
            ..Policy::DEFAULT
        };
        let mut t = Throttle::new(p);
        fail(&mut t, "three", None, 3, T0);
        fail(&mut t, "old-one", None, 1, T0);
        fail(&mut t, "new-one", None, 1, T0 + 10);
        fail(&mut t, "x", None, 1, T0 + 20);
        let keys = |t: &Throttle| {
            let mut k: Vec<String> = t.accounts.entries.keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&t), ["new-one", "three", "x"]);
        // A forgotten entry goes before any live one, however many failures it had.
        fail(&mut t, "y", None, 1, T0 + FAILURE_WINDOW_MS);
        assert_eq!(keys(&t), ["new-one", "x", "y"]);
    }

    #[test]
    fn keys() {
        assert_eq!(account_key("  alice \t"), "alice");
        assert_eq!(account_key("Alice"), "Alice");
        let long = "é".repeat(40); // 80 bytes
        assert_eq!(account_key(&long), "é".repeat(32));
        assert_eq!(
            account_key(&format!("a{long}")),
            format!("a{}", "é".repeat(31))
        );

        let v6: IpAddr = "2001:db8:1:2:aaaa:bbbb:cccc:dddd".parse().unwrap();
        assert_eq!(client_key(v6), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped());
        assert_eq!(client_key(mapped), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)));
        assert_eq!(
            client_key(IpAddr::V6(Ipv6Addr::LOCALHOST)).to_string(),
            "::"
        );
        // Names that differ only in outer whitespace share a counter; case does not.
        let mut t = Throttle::default();
        fail(&mut t, "alice", A, ACCOUNT_FAILURES, T0);
        assert!(t.begin(" alice ", A, T0).is_err());
        assert_eq!(t.begin("ALICE", A, T0), Ok(()));
        // Addresses in one IPv6 /64 share a client counter.
        let mut t = Throttle::default();
        for n in 0..CLIENT_FAILURES {
            let addr: IpAddr = format!("2001:db8::{n:x}").parse().unwrap();
            fail(&mut t, &format!("u{n}"), Some(addr), 1, T0);
        }
        let other: IpAddr = "2001:db8::ffff".parse().unwrap();
        assert!(t.begin("v", Some(other), T0).is_err());
    }
}
