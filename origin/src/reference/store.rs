//! Refresh-token families in SQLite: rotation, reuse detection with a grace window, revocation.
//!
//! * A **family** is one login on one device (`sid` in the access token). It has an absolute
//!   expiry and can be revoked.
//! * A **refresh token** is 32 bytes from the OS CSPRNG, handed to the client base64url-encoded
//!   (43 characters). Only its SHA-256 is stored. Each token is single-use: presenting it
//!   **rotates** it (a successor is issued and the token is marked used).
//! * Presenting a **used** token again is a theft signal and revokes the whole family — unless it
//!   was used less than the grace window ago, in which case the client gets the *same* successor
//!   (two tabs refreshing at once, or a response lost in flight). To hand out the same successor
//!   without storing it in the clear, the row of the used token keeps the successor encrypted with
//!   a key derived from the used token itself (`SHA-256("edgegate-origin/grace/v1" || token)`, a
//!   one-time pad over 32 bytes): the database alone never yields a usable token.
//!
//! * Every session that ends (logout, logout-all, reuse detected, a password change) also
//!   records its cut-off in the **revocation list** the origin publishes
//!   ([`super::revocations`]), in the same transaction, and moves the list's `seq` forward.
//! * A password changed at the origin is kept here (argon2id PHC string) and replaces the
//!   configured one.
//!
//! All times are Unix milliseconds, passed in by the caller (so tests control the clock).

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::revocations::{session_cut_off, subject_cut_off, Entry, Kind};

/// Bytes of entropy in a refresh token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// Longest successor chain followed inside the grace window.
const MAX_GRACE_HOPS: usize = 16;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS families (
    id             TEXT PRIMARY KEY,
    sub            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS families_sub ON families(sub);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash       BLOB PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES families(id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    successor  BLOB
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
CREATE TABLE IF NOT EXISTS revocations (
    kind TEXT NOT NULL,
    id   TEXT NOT NULL,
    at   INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS revocation_seq (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS passwords (
    sub        TEXT PRIMARY KEY,
    phc        TEXT NOT NULL,
    changed_at INTEGER NOT NULL
);
";

/// The published list as stored: its `seq` and the entries still published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRows {
    /// Increases with every entry added or moved later (0: nothing recorded yet).
    pub seq: u64,
    /// The entries, in no particular order.
    pub entries: Vec<Entry>,
}

/// A store error (SQLite).
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(format!("sqlite: {e}"))
    }
}

/// A raw refresh token (32 secret bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct RawToken([u8; TOKEN_BYTES]);

impl std::fmt::Debug for RawToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawToken(..)")
    }
}

impl RawToken {
    /// A fresh token from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Parses the cookie form (43 characters of canonical base64url); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 43 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(s).ok()?;
        let arr: [u8; TOKEN_BYTES] = bytes.try_into().ok()?;
        Some(Self(arr))
    }

    /// The cookie form: base64url without padding.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// What the database stores: SHA-256 of the raw bytes.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0).into()
    }

    fn pad(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"edgegate-origin/grace/v1");
        h.update(self.0);
        h.finalize().into()
    }

    /// `successor` encrypted under a key only the holder of `self` can derive.
    fn seal(&self, successor: &RawToken) -> [u8; 32] {
        xor(self.pad(), successor.0)
    }

    /// Inverse of [`RawToken::seal`].
    fn open(&self, sealed: &[u8]) -> Option<RawToken> {
        let sealed: [u8; 32] = sealed.try_into().ok()?;
        Some(RawToken(xor(self.pad(), sealed)))
    }
}

fn xor(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
        *o = x ^ y;
    }
    out
}

/// A new random family id (the `sid` claim): 16 bytes, base64url.
pub fn new_family_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A refresh token handed to a client, with what the response needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The user.
    pub sub: String,
    /// The family (`sid`).
    pub family: String,
    /// The token to put in the refresh cookie.
    pub token: RawToken,
    /// When the token expires (Unix ms).
    pub expires_at: i64,
}

/// The result of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now used and `Issued` is its successor.
    Rotated(Issued),
    /// The token was used less than the grace window ago: `Issued` is the family's current
    /// token (the same successor the first request received).
    Grace(Issued),
    /// The token had already been used outside the grace window: the whole family is now
    /// revoked (theft signal).
    Reused {
        /// The user.
        sub: String,
        /// The revoked family.
        family: String,
        /// How long ago the token was first used (ms).
        used_ms_ago: i64,
    },
    /// The family was revoked before (logout, logout-all, earlier reuse).
    Revoked {
        /// The user.
        sub: String,
        /// The family.
        family: String,
    },
    /// The token or its family has expired.
    Expired,
    /// Not a token this store issued (or one pruned long ago).
    Unknown,
}

/// The SQLite-backed store.
pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

struct TokenRow {
    family: String,
    sub: String,
    expires_at: i64,
    used_at: Option<i64>,
    successor: Option<Vec<u8>>,
    family_expires_at: i64,
    family_revoked: bool,
}

impl Store {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// An in-memory store (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL + NORMAL: a committed rotation survives a process crash; foreign keys for cascade.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn })
    }

    /// Starts a family for `sub` (a login) and issues its first refresh token.
    pub fn create_family(
        &mut self,
        sub: &str,
        now: i64,
        session_max_age_ms: i64,
        refresh_ttl_ms: i64,
    ) -> Result<Issued, StoreError> {
        let family = new_family_id();
        let token = RawToken::generate();
        let family_expires = now.saturating_add(session_max_age_ms);
        let expires_at = now.saturating_add(refresh_ttl_ms).min(family_expires);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO families (id, sub, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![family, sub, now, family_expires],
        )?;
        tx.execute(
            "INSERT INTO refresh_tokens (hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token.hash().as_slice(), family, now, expires_at],
        )?;
        tx.commit()?;
        Ok(Issued {
            sub: sub.to_owned(),
            family,
            token,
            expires_at,
        })
    }

    fn token_row(conn: &Connection, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        Ok(conn
            .query_row(
                "SELECT t.family_id, f.sub, t.expires_at, t.used_at, t.successor,
                        f.expires_at, f.revoked_at IS NOT NULL
                 FROM refresh_tokens t JOIN families f ON f.id = t.family_id
                 WHERE t.hash = ?1",
                params![hash.as_slice()],
                |r| {
                    Ok(TokenRow {
                        family: r.get(0)?,
                        sub: r.get(1)?,
                        expires_at: r.get(2)?,
                        used_at: r.get(3)?,
                        successor: r.get(4)?,
                        family_expires_at: r.get(5)?,
                        family_revoked: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Presents `token` at time `now`: rotates it, returns the grace successor, or detects reuse
    /// (revoking the family). `grace_ms` is the grace window; `refresh_ttl_ms` the lifetime of a
    /// new token (capped by the family's absolute expiry).
    pub fn rotate(
        &mut self,
        token: &RawToken,
        now: i64,
        grace_ms: i64,
        refresh_ttl_ms: i64,
    ) -> Result<Rotation, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(row) = Self::token_row(&tx, &token.hash())? else {
            return Ok(Rotation::Unknown);
        };
        if row.family_revoked {
            return Ok(Rotation::Revoked {
                sub: row.sub,
                family: row.family,
            });
        }
        if now >= row.family_expires_at {
            return Ok(Rotation::Expired);
        }
        if let Some(used_at) = row.used_at {
            let age = now.saturating_sub(used_at);
            if age < grace_ms {
                let outcome = Self::follow_grace(&tx, token, row.successor.as_deref(), now)?;
                tx.commit()?;
                return Ok(outcome);
            }
            tx.execute(
                "UPDATE families SET revoked_at = ?1, revoked_reason = 'reuse' WHERE id = ?2",
                params![now, row.family],
            )?;
            Self::record(
                &tx,
                &[(Kind::Session, &row.family, session_cut_off(now))],
                now,
            )?;
            tx.commit()?;
            return Ok(Rotation::Reused {
                sub: row.sub,
                family: row.family,
                used_ms_ago: age,
            });
        }
        if now >= row.expires_at {
            return Ok(Rotation::Expired);
        }
        let successor = RawToken::generate();
        let expires_at = now
            .saturating_add(refresh_ttl_ms)
            .min(row.family_expires_at);
        let changed = tx.execute(
            "UPDATE refresh_tokens SET used_at = ?1, successor = ?2 WHERE hash = ?3 AND used_at IS NULL",
            params![now, token.seal(&successor).as_slice(), token.hash().as_slice()],
        )?;
        if changed != 1 {
            // Cannot happen inside an IMMEDIATE transaction; refuse rather than fork the family.
            return Ok(Rotation::Unknown);
        }
        tx.execute(
            "INSERT INTO refresh_tokens (hash, family_id, issued_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![successor.hash().as_slice(), row.family, now, expires_at],
        )?;
        tx.commit()?;
        Ok(Rotation::Rotated(Issued {
            sub: row.sub,
            family: row.family,
            token: successor,
            expires_at,
        }))
    }

    /// Inside the grace window: decrypt the successor chain from `token` to the family's current
    /// token.
    fn follow_grace(
        conn: &Connection,
        token: &RawToken,
        sealed: Option<&[u8]>,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let mut current = token.clone();
        let mut sealed = sealed.map(<[u8]>::to_vec);
        for _ in 0..MAX_GRACE_HOPS {
            let Some(next) = sealed.as_deref().and_then(|s| current.open(s)) else {
                return Ok(Rotation::Unknown);
            };
            let Some(row) = Self::token_row(conn, &next.hash())? else {
                return Ok(Rotation::Unknown);
            };
            if row.used_at.is_none() {
                if now >= row.expires_at {
                    return Ok(Rotation::Expired);
                }
                return Ok(Rotation::Grace(Issued {
                    sub: row.sub,
                    family: row.family,
                    token: next,
                    expires_at: row.expires_at,
                }));
            }
            current = next;
            sealed = row.successor;
        }
        Ok(Rotation::Unknown)
    }

    /// Revokes one family (logout on this device) if it belongs to `sub`; true when it was active.
    /// The session's cut-off is recorded in the revocation list.
    pub fn revoke_family(
        &mut self,
        family: &str,
        sub: &str,
        now: i64,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "UPDATE families SET revoked_at = ?1, revoked_reason = ?2
             WHERE id = ?3 AND sub = ?4 AND revoked_at IS NULL",
            params![now, reason, family, sub],
        )?;
        if n > 0 {
            Self::record(&tx, &[(Kind::Session, family, session_cut_off(now))], now)?;
        }
        tx.commit()?;
        Ok(n > 0)
    }

    /// Revokes every active family of `sub` (logout everywhere, a password change); returns how
    /// many. The user's cut-off is recorded, and each family's own (tokens minted earlier in the
    /// same second).
    pub fn revoke_user(&mut self, sub: &str, now: i64, reason: &str) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = Self::revoke_user_in(&tx, sub, now, reason)?;
        tx.commit()?;
        Ok(n)
    }

    fn revoke_user_in(
        tx: &Connection,
        sub: &str,
        now: i64,
        reason: &str,
    ) -> Result<usize, StoreError> {
        let families: Vec<String> = tx
            .prepare("SELECT id FROM families WHERE sub = ?1 AND revoked_at IS NULL")?
            .query_map(params![sub], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        tx.execute(
            "UPDATE families SET revoked_at = ?1, revoked_reason = ?2
             WHERE sub = ?3 AND revoked_at IS NULL",
            params![now, reason, sub],
        )?;
        let mut entries = vec![(Kind::Subject, sub, subject_cut_off(now))];
        let cut = session_cut_off(now);
        entries.extend(families.iter().map(|f| (Kind::Session, f.as_str(), cut)));
        Self::record(tx, &entries, now)?;
        Ok(families.len())
    }

    /// Records `entries` (a later cut-off replaces an earlier one, never the reverse) and moves
    /// `seq` to `max(seq + 1, now)`: later than every document published before, even across a
    /// lost database (it starts at the clock).
    fn record(tx: &Connection, entries: &[(Kind, &str, i64)], now: i64) -> Result<(), StoreError> {
        for (kind, id, at) in entries {
            tx.execute(
                "INSERT INTO revocations (kind, id, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind, id) DO UPDATE SET at = max(at, excluded.at)",
                params![kind.as_str(), id, at],
            )?;
        }
        tx.execute(
            "INSERT INTO revocation_seq (one, seq) VALUES (1, ?1)
             ON CONFLICT (one) DO UPDATE SET seq = max(seq + 1, excluded.seq)",
            params![now.max(1)],
        )?;
        Ok(())
    }

    /// The revocation list at `now`: entries whose cut-off is more than `window_ms` old are
    /// deleted first (every token they could match has expired), which leaves `seq` as it is.
    pub fn revocations(&mut self, now: i64, window_ms: i64) -> Result<RevocationRows, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // `at` is in seconds: an entry is kept while at * 1000 + window > now.
        tx.execute(
            "DELETE FROM revocations WHERE at * 1000 + ?1 <= ?2",
            params![window_ms, now],
        )?;
        let seq: i64 = tx
            .query_row("SELECT seq FROM revocation_seq WHERE one = 1", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or(0);
        let entries = tx
            .prepare("SELECT kind, id, at FROM revocations")?
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })?
            .filter_map(|row| match row {
                Ok((kind, id, at)) => Kind::parse(&kind).map(|kind| Ok(Entry { kind, id, at })),
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(RevocationRows {
            seq: u64::try_from(seq).unwrap_or(0),
            entries,
        })
    }

    /// The password `sub` set at the origin, if any (argon2id PHC string).
    pub fn password(&self, sub: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT phc FROM passwords WHERE sub = ?1",
                params![sub],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Sets `sub`'s password to `phc` and ends every session of the user, in one transaction;
    /// returns how many sessions ended.
    pub fn change_password(&mut self, sub: &str, phc: &str, now: i64) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO passwords (sub, phc, changed_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (sub) DO UPDATE SET phc = excluded.phc, changed_at = excluded.changed_at",
            params![sub, phc, now],
        )?;
        let n = Self::revoke_user_in(&tx, sub, now, "password_change")?;
        tx.commit()?;
        Ok(n)
    }

    /// Number of active (not revoked, not expired) families of `sub`.
    pub fn active_families(&self, sub: &str, now: i64) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM families WHERE sub = ?1 AND revoked_at IS NULL AND expires_at > ?2",
            params![sub, now],
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Deletes expired families (with their tokens) and families revoked more than a day ago.
    /// Used tokens of live families are kept: they are what reuse detection looks for.
    pub fn prune(&mut self, now: i64) -> Result<usize, StoreError> {
        let day = 24 * 3600 * 1000;
        Ok(self.conn.execute(
            "DELETE FROM families WHERE expires_at <= ?1 OR revoked_at <= ?2",
            params![now, now.saturating_sub(day)],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: i64 = 3_600_000;
    const MAX: i64 = 7_200_000;
    const GRACE: i64 = 10_000;

    fn store() -> Store {
        Store::open_in_memory().unwrap()
    }

    fn issued(r: Rotation) -> Issued {
        match r {
            Rotation::Rotated(i) | Rotation::Grace(i) => i,
            other => panic!("expected a token, got {other:?}"),
        }
    }

    #[test]
    fn token_encoding_round_trips_and_rejects_junk() {
        let t = RawToken::generate();
        let s = t.encode();
        assert_eq!(s.len(), 43);
        assert_eq!(RawToken::parse(&s), Some(t.clone()));
        assert_ne!(RawToken::generate(), t);
        for bad in [
            "",
            "x",
            &"A".repeat(44),
            &format!("{}=", &s[..42]),
            &s.replace(|_| true, "!"),
        ] {
            assert_eq!(RawToken::parse(bad), None, "{bad}");
        }
        assert!(!format!("{t:?}").contains(&s));
    }

    #[test]
    fn only_hashes_are_stored() {
        let mut s = store();
        let first = s.create_family("alice", 0, MAX, TTL).unwrap();
        let next = issued(s.rotate(&first.token, 1, GRACE, TTL).unwrap());
        let blobs: Vec<Vec<u8>> = s
            .conn
            .prepare("SELECT hash FROM refresh_tokens UNION ALL SELECT successor FROM refresh_tokens WHERE successor IS NOT NULL")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(blobs.len(), 3);
        for raw in [&first.token.0, &next.token.0] {
            assert!(!blobs.iter().any(|b| b.as_slice() == raw.as_slice()));
        }
    }

    #[test]
    fn rotation_is_single_use_and_reuse_revokes_the_family() {
        let mut s = store();
        let t0 = s.create_family("alice", 0, MAX, TTL).unwrap();
        let t1 = issued(s.rotate(&t0.token, 1_000, GRACE, TTL).unwrap());
        assert_eq!(t1.family, t0.family);
        assert_ne!(t1.token, t0.token);
        let t2 = issued(s.rotate(&t1.token, 2_000, GRACE, TTL).unwrap());
        // t0 again, long after its use: theft.
        match s.rotate(&t0.token, 1_000 + GRACE, GRACE, TTL).unwrap() {
            Rotation::Reused {
                sub,
                family,
                used_ms_ago,
            } => {
                assert_eq!(
                    (sub.as_str(), family.as_str()),
                    ("alice", t0.family.as_str())
                );
                assert_eq!(used_ms_ago, GRACE);
            }
            other => panic!("{other:?}"),
        }
        // The victim's current token is dead too.
        assert!(matches!(
            s.rotate(&t2.token, 20_000, GRACE, TTL).unwrap(),
            Rotation::Revoked { .. }
        ));
        assert_eq!(s.active_families("alice", 20_000).unwrap(), 0);
    }

    #[test]
    fn grace_window_returns_the_same_successor() {
        let mut s = store();
        let t0 = s.create_family("alice", 0, MAX, TTL).unwrap();
        let t1 = issued(s.rotate(&t0.token, 1_000, GRACE, TTL).unwrap());
        let again = s.rotate(&t0.token, 1_000 + GRACE - 1, GRACE, TTL).unwrap();
        assert_eq!(again, Rotation::Grace(t1.clone()));
        // The chain is followed when the successor was rotated too.
        let t2 = issued(s.rotate(&t1.token, 2_000, GRACE, TTL).unwrap());
        assert_eq!(
            s.rotate(&t0.token, 3_000, GRACE, TTL).unwrap(),
            Rotation::Grace(t2.clone())
        );
        // The family is intact and t2 is still single-use.
        let t3 = issued(s.rotate(&t2.token, 4_000, GRACE, TTL).unwrap());
        assert_eq!(t3.family, t0.family);
        // Grace 0 disables it: any second use is reuse.
        let u0 = s.create_family("bob", 0, MAX, TTL).unwrap();
        issued(s.rotate(&u0.token, 1, 0, TTL).unwrap());
        assert!(matches!(
            s.rotate(&u0.token, 1, 0, TTL).unwrap(),
            Rotation::Reused { .. }
        ));
    }

    #[test]
    fn expiry_unknown_and_revocation() {
        let mut s = store();
        let t0 = s.create_family("alice", 0, MAX, TTL).unwrap();
        assert_eq!(t0.expires_at, TTL);
        assert_eq!(
            s.rotate(&t0.token, TTL, GRACE, TTL).unwrap(),
            Rotation::Expired
        );
        assert_eq!(
            s.rotate(&RawToken::generate(), 0, GRACE, TTL).unwrap(),
            Rotation::Unknown
        );
        // A successor never outlives the family.
        let short_max = TTL + TTL / 2;
        let f = s.create_family("dave", 0, short_max, TTL).unwrap();
        let n = issued(s.rotate(&f.token, TTL - 10, GRACE, TTL).unwrap());
        assert_eq!(n.expires_at, short_max);
        // Logout (one family) and logout-all (every family of the user, nobody else's).
        let a = s.create_family("alice", 0, MAX, TTL).unwrap();
        let b = s.create_family("alice", 0, MAX, TTL).unwrap();
        let c = s.create_family("carol", 0, MAX, TTL).unwrap();
        assert!(!s.revoke_family(&a.family, "carol", 1, "logout").unwrap());
        assert!(s.revoke_family(&a.family, "alice", 1, "logout").unwrap());
        assert!(matches!(
            s.rotate(&a.token, 2, GRACE, TTL).unwrap(),
            Rotation::Revoked { .. }
        ));
        assert!(matches!(
            s.rotate(&b.token, 2, GRACE, TTL).unwrap(),
            Rotation::Rotated(_)
        ));
        assert_eq!(s.revoke_user("alice", 3, "logout-all").unwrap(), 2);
        assert_eq!(s.active_families("alice", 3).unwrap(), 0);
        assert!(matches!(
            s.rotate(&c.token, 4, GRACE, TTL).unwrap(),
            Rotation::Rotated(_)
        ));
    }

    #[test]
    fn prune_drops_expired_and_old_revoked_families() {
        let mut s = store();
        let old = s.create_family("a", 0, 1_000, 1_000).unwrap();
        let live = s.create_family("a", 0, MAX, TTL).unwrap();
        assert_eq!(s.prune(2_000).unwrap(), 1);
        assert_eq!(
            s.rotate(&old.token, 2_000, GRACE, TTL).unwrap(),
            Rotation::Unknown
        );
        assert!(matches!(
            s.rotate(&live.token, 2_000, GRACE, TTL).unwrap(),
            Rotation::Rotated(_)
        ));
    }

    fn entry(kind: Kind, id: &str, at: i64) -> Entry {
        Entry {
            kind,
            id: id.into(),
            at,
        }
    }

    fn listed(s: &mut Store, now: i64) -> RevocationRows {
        let mut rows = s.revocations(now, TTL).unwrap();
        rows.entries
            .sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        rows
    }

    #[test]
    fn every_ended_session_is_listed_with_a_rising_seq() {
        let mut s = store();
        assert_eq!(
            listed(&mut s, 0),
            RevocationRows {
                seq: 0,
                entries: vec![]
            }
        );
        let t = 1_700_000_000_500;
        let a = s.create_family("alice", t, MAX, TTL).unwrap();
        let b = s.create_family("alice", t, MAX, TTL).unwrap();
        let c = s.create_family("carol", t, MAX, TTL).unwrap();
        // Logout: the session, from the next second on.
        assert!(s
            .revoke_family(&a.family, "alice", t + 100, "logout")
            .unwrap());
        let one = listed(&mut s, t + 100);
        assert_eq!(
            one.entries,
            [entry(Kind::Session, &a.family, 1_700_000_001)]
        );
        assert_eq!(one.seq, (t + 100) as u64);
        // Revoking it again records nothing and leaves seq alone.
        assert!(!s
            .revoke_family(&a.family, "alice", t + 200, "logout")
            .unwrap());
        assert_eq!(listed(&mut s, t + 200).seq, one.seq);
        // Logout-all: the user from this second, and each active family from the next.
        assert_eq!(s.revoke_user("alice", t + 300, "logout-all").unwrap(), 1);
        let all = listed(&mut s, t + 300);
        let mut want = vec![
            entry(Kind::Subject, "alice", 1_700_000_000),
            entry(Kind::Session, &a.family, 1_700_000_001),
            entry(Kind::Session, &b.family, 1_700_000_001),
        ];
        want.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        assert_eq!(all.entries, want);
        assert!(all.seq > one.seq);
        // Reuse detected: that family.
        let c1 = issued(s.rotate(&c.token, t + 1_000, GRACE, TTL).unwrap());
        assert_ne!(c1.token, c.token);
        assert!(matches!(
            s.rotate(&c.token, t + 1_000 + GRACE, GRACE, TTL),
            Ok(Rotation::Reused { .. })
        ));
        let reused = listed(&mut s, t + 1_000 + GRACE);
        assert!(reused
            .entries
            .contains(&entry(Kind::Session, &c.family, 1_700_000_012)));
        assert_eq!(reused.seq, (t + 1_000 + GRACE) as u64);
        // seq moves forward even when the clock went back; a later cut-off replaces an earlier
        // one, never the reverse.
        assert_eq!(s.revoke_user("alice", t + 5_000, "logout-all").unwrap(), 0);
        assert_eq!(listed(&mut s, t + 5_000).seq, reused.seq + 1);
        s.revoke_user("alice", t, "logout-all").unwrap();
        let later = listed(&mut s, t + 5_000);
        assert_eq!(later.seq, reused.seq + 2);
        assert!(later
            .entries
            .contains(&entry(Kind::Subject, "alice", 1_700_000_005)));
        // Entries leave the list once every token they match has expired; seq stays.
        let pruned = listed(&mut s, 1_700_000_012_000 + TTL);
        assert_eq!(pruned.entries, []);
        assert_eq!(pruned.seq, later.seq);
    }

    #[test]
    fn a_password_change_is_stored_and_ends_every_session() {
        let mut s = store();
        let a = s.create_family("alice", 0, MAX, TTL).unwrap();
        assert_eq!(s.password("alice").unwrap(), None);
        assert_eq!(s.change_password("alice", "$argon2id$x", 2_000).unwrap(), 1);
        assert_eq!(s.password("alice").unwrap().as_deref(), Some("$argon2id$x"));
        assert_eq!(s.password("bob").unwrap(), None);
        assert!(matches!(
            s.rotate(&a.token, 3_000, GRACE, TTL).unwrap(),
            Rotation::Revoked { .. }
        ));
        assert!(listed(&mut s, 2_000)
            .entries
            .contains(&entry(Kind::Subject, "alice", 2)));
        s.change_password("alice", "$argon2id$y", 4_000).unwrap();
        assert_eq!(s.password("alice").unwrap().as_deref(), Some("$argon2id$y"));
    }

    #[test]
    fn survives_reopen() {
        let dir = std::env::temp_dir().join(format!("ego-store-{}", new_family_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite3");
        let t0 = {
            let mut s = Store::open(&path).unwrap();
            s.create_family("alice", 0, MAX, TTL).unwrap()
        };
        let mut s = Store::open(&path).unwrap();
        let t1 = issued(s.rotate(&t0.token, 1, GRACE, TTL).unwrap());
        assert_eq!(t1.family, t0.family);
        s.revoke_user("alice", 5_000, "logout-all").unwrap();
        let before = s.revocations(5_000, TTL).unwrap();
        drop(s);
        // The list and its seq are persisted: a restarted origin never publishes an older seq.
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.revocations(5_000, TTL).unwrap(), before);
        s.revoke_user("bob", 1, "logout-all").unwrap();
        assert!(s.revocations(5_000, TTL).unwrap().seq > before.seq);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
