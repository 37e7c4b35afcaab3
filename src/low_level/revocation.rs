//! Revocation at the edge without a per-request lookup: the origin **publishes** a small signed
//! list of cut-offs, every isolate **pulls** it in the background and checks tokens against it in
//! memory (the way certificate revocation lists work).
//!
//! The document (specified in `docs/origin.md`) is a compact JWS with header `typ`
//! [`DOCUMENT_TYP`], signed with a key the gate already trusts, whose payload is
//!
//! ```json
//! {"iss":"…","iat":1765080000,"exp":1765080300,"seq":1765079999123,
//!  "subjects":{"alice":1765079990},"sessions":{"f3b1…":1765079001}}
//! ```
//!
//! A token is revoked when its `sub` has an entry, or its `sid` has one, whose time is later than
//! the token's `iat` (a token without `iat` is revoked by any entry that names it). `seq` must
//! never decrease, so a held list is never replaced by an older one (no rollback to a shorter
//! list). This module is the pure part: the document's payload, the list, and an isolate's state
//! (which list it holds, when to fetch again, whether the held list may still be relied on). The
//! JWS layer and the signature are [`crate::gate::Gate::revocation_document`]'s.

use crate::low_level::claims::NumericDate;
use crate::low_level::json::check_unique_keys;
use crate::low_level::jwks::RefreshState;
use serde_json::Value;
use std::fmt;

/// Documents longer than this many bytes are refused before they are read further (the JS side
/// refuses them by `Content-Length`, or while streaming, first).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Entries (subjects plus sessions) a document may hold.
pub const MAX_ENTRIES: usize = 20_000;

/// The header `typ` a revocation document must carry, and that an access token must not.
pub const DOCUMENT_TYP: &str = "edgegate-revocations+jwt";

/// Longest subject or session id in an entry (the gate's `sub` limit).
pub const MAX_ID_BYTES: usize = 1024;

/// Why a revocation document was refused. [`code`](RevocationError::code) is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationError {
    /// Longer than [`MAX_DOCUMENT_BYTES`].
    TooLarge,
    /// Not a compact JWS the gate accepts (segments, base64url, header rules, pinned `alg`).
    Jws(&'static str),
    /// The header `typ` is not [`DOCUMENT_TYP`].
    WrongTyp,
    /// No trusted key applies (the document's `alg`/`kid`).
    NoKey,
    /// The signature does not verify under any candidate key.
    Signature,
    /// The payload is not the document: wrong types, unknown or duplicate members, too many
    /// entries, an id too long, `exp` before `iat`.
    BadDocument,
    /// `iss` differs from the gate's `ISSUER`.
    WrongIssuer,
    /// `iat` (minus leeway) is in the future.
    IssuedInFuture,
    /// Past its `exp`, or older than `REVOCATION_MAX_AGE_SECONDS` (plus leeway).
    Stale,
    /// Older than the list the isolate holds (`seq` lower, or the same `seq` signed earlier).
    Rollback,
}

impl RevocationError {
    /// A stable, machine-readable reason code.
    pub const fn code(self) -> &'static str {
        match self {
            RevocationError::TooLarge => "document_too_large",
            RevocationError::Jws(code) => code,
            RevocationError::WrongTyp => "typ_mismatch",
            RevocationError::NoKey => "no_key",
            RevocationError::Signature => "bad_signature",
            RevocationError::BadDocument => "bad_document",
            RevocationError::WrongIssuer => "wrong_issuer",
            RevocationError::IssuedInFuture => "issued_in_future",
            RevocationError::Stale => "stale_document",
            RevocationError::Rollback => "rollback",
        }
    }
}

impl fmt::Display for RevocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for RevocationError {}

/// A verified revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    /// Increases with every change of the entries.
    pub seq: u64,
    /// When it was signed (Unix seconds).
    pub iat: i64,
    /// When it stops counting (Unix seconds).
    pub exp: i64,
    /// `iss`, if any.
    pub iss: Option<String>,
    subjects: CutOffs,
    sessions: CutOffs,
}

/// Entries, id → cut-off, kept as the JSON map they were read into (its lookup is already in the
/// module; the values were checked to be NumericDates).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct CutOffs(serde_json::Map<String, Value>);

impl CutOffs {
    /// The cut-off for `id`, rounded up (a fractional cut-off revokes the whole second it falls
    /// in).
    fn get(&self, id: &str) -> Option<i64> {
        let t = self
            .0
            .get(id)?
            .as_f64()
            .and_then(NumericDate::from_seconds)?;
        Some(t.ceil())
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A NumericDate member of the document.
fn date(v: &Value) -> Result<NumericDate, RevocationError> {
    v.as_f64()
        .and_then(NumericDate::from_seconds)
        .ok_or(RevocationError::BadDocument)
}

/// `subjects` / `sessions`: an object of id → NumericDate.
fn cut_offs(v: Value) -> Result<CutOffs, RevocationError> {
    let Value::Object(map) = v else {
        return Err(RevocationError::BadDocument);
    };
    for (id, t) in &map {
        if id.is_empty() || id.len() > MAX_ID_BYTES {
            return Err(RevocationError::BadDocument);
        }
        date(t)?;
    }
    Ok(CutOffs(map))
}

impl RevocationList {
    /// The document's payload (the JWS layer already checked), strictly: one JSON object with
    /// unique keys at every depth and only the members above, of those types.
    ///
    /// ```
    /// use edgegate::low_level::revocation::RevocationList;
    /// let l = RevocationList::from_payload(br#"{"iat":100,"exp":160,"seq":7,"subjects":{"alice":90}}"#).unwrap();
    /// assert!(l.revokes("alice", None, Some(89)));
    /// assert!(!l.revokes("alice", None, Some(90)));
    /// assert!(!l.revokes("bob", None, Some(1)));
    /// assert!(RevocationList::from_payload(br#"{"iat":100,"exp":160,"seq":7,"jti":{}}"#).is_err());
    /// ```
    pub fn from_payload(json: &[u8]) -> Result<RevocationList, RevocationError> {
        const BAD: RevocationError = RevocationError::BadDocument;
        // Read as a tree (the JSON machinery policy rules already link), after the duplicate check
        // the tree itself could not make.
        check_unique_keys(json).map_err(|_| BAD)?;
        let Ok(Value::Object(doc)) = serde_json::from_slice(json) else {
            return Err(BAD);
        };
        let (mut iss, mut iat, mut exp, mut seq) = (None, None, None, None);
        let (mut subjects, mut sessions) = (CutOffs::default(), CutOffs::default());
        for (name, value) in doc {
            match name.as_str() {
                "iss" => iss = Some(value.as_str().ok_or(BAD)?.to_owned()),
                "iat" => iat = Some(date(&value)?.floor()),
                "exp" => exp = Some(date(&value)?.floor()),
                "seq" => seq = Some(value.as_u64().ok_or(BAD)?),
                "subjects" => subjects = cut_offs(value)?,
                "sessions" => sessions = cut_offs(value)?,
                // An unknown member could be a kind of entry this gate would not apply.
                _ => return Err(BAD),
            }
        }
        let (Some(iat), Some(exp), Some(seq)) = (iat, exp, seq) else {
            return Err(BAD);
        };
        if exp < iat || subjects.len().saturating_add(sessions.len()) > MAX_ENTRIES {
            return Err(BAD);
        }
        Ok(RevocationList {
            seq,
            iat,
            exp,
            iss,
            subjects,
            sessions,
        })
    }

    /// Whether a token of `sub` (and `sid`, if it has one) issued at `iat` (whole seconds,
    /// rounded down) is revoked: an entry for either names a later time. Without `iat`, any entry
    /// revokes (the token cannot show it was issued after the cut-off).
    pub fn revokes(&self, sub: &str, sid: Option<&str>, iat: Option<i64>) -> bool {
        let cut = |t: i64| iat.is_none_or(|i| i < t);
        self.subjects.get(sub).is_some_and(cut)
            || sid.and_then(|s| self.sessions.get(s)).is_some_and(cut)
    }

    /// Whether any entry names a session (only then is a token's `sid` read).
    pub fn has_sessions(&self) -> bool {
        !self.sessions.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.subjects.len() + self.sessions.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it may still be relied on at `now` (Unix seconds): not past its `exp`, and no
    /// older than `max_age` seconds, both plus `leeway`.
    pub fn current(&self, now: i64, max_age: i64, leeway: i64) -> bool {
        let until = self.exp.min(self.iat.saturating_add(max_age));
        now <= until.saturating_add(leeway)
    }
}

/// What became of a list offered to [`Revocations::offer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// It replaced the held list (or is the first).
    Newer,
    /// The same version as the held list, signed again: it refreshes its validity.
    Renewed,
}

/// Where a fetch of the list should look first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFrom {
    /// The location's shared copy (Workers Cache API), then the source.
    CacheThenSource,
    /// The source (`REVOCATION_URL` or the KV namespace).
    Source,
}

/// An isolate's revocation state: the list it holds, and when to fetch again. Pure: the
/// runtime fetches and reports back. Times are milliseconds unless said otherwise.
///
/// - a cold isolate fetches before the first token it must check (it has nothing to check
///   against), the location's copy first;
/// - after that, a request arriving once `interval` has passed starts a fetch in the background
///   and is decided with the list held; only an isolate that went without a refresh for two
///   intervals (it had no requests) makes its next request wait ([`lagging`](Self::lagging)),
///   so an idle isolate's first request is not checked against an old list;
/// - one fetch at a time; a failed fetch keeps the held list (stale-if-error) and is retried
///   after `interval`;
/// - a list is only replaced by a newer one ([`offer`](Self::offer)).
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    held: Option<RevocationList>,
    state: RefreshState,
    tried: bool,
    refreshed_at: Option<f64>,
}

impl Revocations {
    /// The list held, if any (current or not).
    pub fn held(&self) -> Option<&RevocationList> {
        self.held.as_ref()
    }

    /// Whether an attempt to get a list has ended (successfully or not) in this isolate.
    pub fn tried(&self) -> bool {
        self.tried
    }

    /// Whether a request should wait for a fetch before it is decided: the isolate holds no
    /// list, or its last successful fetch is two `interval`s old or more.
    pub fn lagging(&self, now: f64, interval: f64) -> bool {
        self.held.is_none() || self.refreshed_at.is_none_or(|t| now - t >= 2.0 * interval)
    }

    /// Whether a fetch should start now (`interval`: `REVOCATION_REFRESH_SECONDS` in ms).
    pub fn due(&self, now: f64, interval: f64) -> bool {
        self.state
            .should_fetch(now, interval, self.held.is_some(), false)
    }

    /// Starts a fetch if one is due now; the caller then reports [`offer`](Self::offer) or
    /// [`failed`](Self::failed). `None`: no fetch (one is running, or it is not time yet).
    pub fn begin_fetch(&mut self, now: f64, interval: f64) -> Option<FetchFrom> {
        if !self.due(now, interval) {
            return None;
        }
        self.state.started(now);
        Some(if self.held.is_none() && !self.tried {
            FetchFrom::CacheThenSource
        } else {
            FetchFrom::Source
        })
    }

    /// A verified list arrived (from the source or the location's copy) at `now`; it is fresh
    /// for `interval`. Refused when older than the held one; the held list then stays.
    ///
    /// ```
    /// use edgegate::low_level::revocation::{Offered, RevocationError, RevocationList, Revocations};
    /// let doc = |seq: u64, iat: u64| RevocationList::from_payload(
    ///     format!(r#"{{"iat":{iat},"exp":{},"seq":{seq}}}"#, iat + 60).as_bytes()).unwrap();
    /// let mut r = Revocations::default();
    /// assert_eq!(r.offer(0.0, 5000.0, doc(2, 100)), Ok(Offered::Newer));
    /// assert_eq!(r.offer(0.0, 5000.0, doc(2, 105)), Ok(Offered::Renewed));
    /// assert_eq!(r.offer(0.0, 5000.0, doc(2, 101)), Err(RevocationError::Rollback));
    /// assert_eq!(r.offer(0.0, 5000.0, doc(1, 200)), Err(RevocationError::Rollback));
    /// assert_eq!(r.held().unwrap().iat, 105);
    /// ```
    pub fn offer(
        &mut self,
        now: f64,
        interval: f64,
        list: RevocationList,
    ) -> Result<Offered, RevocationError> {
        let offered = match &self.held {
            None => Offered::Newer,
            Some(held) if list.seq > held.seq => Offered::Newer,
            Some(held) if list.seq == held.seq && list.iat >= held.iat => Offered::Renewed,
            Some(_) => {
                self.failed();
                return Err(RevocationError::Rollback);
            }
        };
        self.held = Some(list);
        self.tried = true;
        self.refreshed_at = Some(now);
        self.state.succeeded(now, interval);
        Ok(offered)
    }

    /// The fetch failed, or brought nothing usable: the held list keeps serving.
    pub fn failed(&mut self) {
        self.tried = true;
        self.state.failed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(json: &str) -> Result<RevocationList, RevocationError> {
        RevocationList::from_payload(json.as_bytes())
    }

    #[test]
    fn a_cut_off_revokes_tokens_issued_before_it_and_no_others() {
        let l =
            list(r#"{"iat":100,"exp":160,"seq":1,"subjects":{"alice":90},"sessions":{"s1":95}}"#)
                .unwrap();
        // Subject entry.
        assert!(l.revokes("alice", None, Some(89)));
        assert!(!l.revokes("alice", None, Some(90)));
        assert!(!l.revokes("alice", None, Some(91)));
        // No `iat`: cannot be shown to be newer.
        assert!(l.revokes("alice", None, None));
        // Session entry, whatever the subject.
        assert!(l.revokes("bob", Some("s1"), Some(94)));
        assert!(!l.revokes("bob", Some("s1"), Some(95)));
        assert!(l.revokes("bob", Some("s1"), None));
        // Unnamed subjects and sessions are untouched.
        assert!(!l.revokes("bob", None, None));
        assert!(!l.revokes("bob", Some("s2"), Some(1)));
        // Names are exact.
        assert!(!l.revokes("Alice", None, Some(1)));
        assert!(!l.revokes("alice ", None, Some(1)));
        assert!(l.has_sessions());
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn a_fractional_cut_off_revokes_its_whole_second() {
        let l = list(r#"{"iat":100,"exp":160,"seq":1,"subjects":{"alice":90.2}}"#).unwrap();
        assert!(l.revokes("alice", None, Some(90)));
        assert!(!l.revokes("alice", None, Some(91)));
    }

    #[test]
    fn the_payload_is_read_strictly() {
        let ok = r#"{"iat":100,"exp":160,"seq":1}"#;
        assert!(list(ok).unwrap().is_empty());
        for bad in [
            // Members missing or of the wrong type.
            r#"{"exp":160,"seq":1}"#,
            r#"{"iat":100,"seq":1}"#,
            r#"{"iat":100,"exp":160}"#,
            r#"{"iat":100,"exp":160,"seq":-1}"#,
            r#"{"iat":100,"exp":160,"seq":1.5}"#,
            r#"{"iat":"100","exp":160,"seq":1}"#,
            r#"{"iat":100,"exp":160,"seq":1,"subjects":[]}"#,
            r#"{"iat":100,"exp":160,"seq":1,"subjects":{"a":"90"}}"#,
            r#"{"iat":100,"exp":160,"seq":1,"subjects":{"a":-1}}"#,
            r#"{"iat":100,"exp":160,"seq":1,"sessions":{"s":null}}"#,
            r#"{"iat":100,"exp":160,"seq":1,"iss":5}"#,
            // An unknown member could be a kind of entry this gate would not apply.
            r#"{"iat":100,"exp":160,"seq":1,"tokens":{"j":1}}"#,
            // Duplicates, at the top and inside a map.
            r#"{"iat":100,"exp":160,"seq":1,"seq":2}"#,
            r#"{"iat":100,"exp":160,"seq":1,"subjects":{"a":1,"a":2}}"#,
            // Empty and oversized ids.
            r#"{"iat":100,"exp":160,"seq":1,"subjects":{"":1}}"#,
            // `exp` before `iat`.
            r#"{"iat":100,"exp":99,"seq":1}"#,
            // Not an object.
            r#"[]"#,
            "",
        ] {
            assert_eq!(list(bad), Err(RevocationError::BadDocument), "{bad}");
        }
        let long = format!(
            r#"{{"iat":100,"exp":160,"seq":1,"subjects":{{"{}":1}}}}"#,
            "a".repeat(MAX_ID_BYTES + 1)
        );
        assert_eq!(list(&long), Err(RevocationError::BadDocument));
        let longest = format!(
            r#"{{"iat":100,"exp":160,"seq":1,"subjects":{{"{}":1}}}}"#,
            "a".repeat(MAX_ID_BYTES)
        );
        assert!(list(&longest).is_ok());
    }

    #[test]
    fn entries_are_capped() {
        let entries = |n: usize| {
            let subs: Vec<String> = (0..n).map(|i| format!(r#""u{i}":1"#)).collect();
            format!(
                r#"{{"iat":100,"exp":160,"seq":1,"subjects":{{{}}},"sessions":{{"s":1}}}}"#,
                subs.join(",")
            )
        };
        assert!(list(&entries(MAX_ENTRIES - 1)).is_ok());
        assert_eq!(
            list(&entries(MAX_ENTRIES)),
            Err(RevocationError::BadDocument)
        );
    }

    #[test]
    fn a_list_counts_until_its_exp_or_max_age_plus_leeway() {
        let l = list(r#"{"iat":100,"exp":160,"seq":1}"#).unwrap();
        assert!(l.current(160, 600, 0));
        assert!(!l.current(161, 600, 0));
        assert!(l.current(190, 600, 30));
        assert!(!l.current(191, 600, 30));
        // The gate's own bound, when shorter than the publisher's.
        assert!(l.current(120, 20, 0));
        assert!(!l.current(121, 20, 0));
    }

    fn doc(seq: u64, iat: i64) -> RevocationList {
        list(&format!(
            r#"{{"iat":{iat},"exp":{},"seq":{seq}}}"#,
            iat + 60
        ))
        .unwrap()
    }

    #[test]
    fn a_held_list_is_never_replaced_by_an_older_one() {
        let mut r = Revocations::default();
        assert_eq!(r.offer(0.0, 5000.0, doc(5, 100)), Ok(Offered::Newer));
        assert_eq!(
            r.offer(0.0, 5000.0, doc(4, 500)),
            Err(RevocationError::Rollback)
        );
        assert_eq!(
            r.offer(0.0, 5000.0, doc(5, 99)),
            Err(RevocationError::Rollback)
        );
        assert_eq!(r.held().map(|l| (l.seq, l.iat)), Some((5, 100)));
        assert_eq!(r.offer(0.0, 5000.0, doc(5, 100)), Ok(Offered::Renewed));
        assert_eq!(r.offer(0.0, 5000.0, doc(6, 100)), Ok(Offered::Newer));
        assert_eq!(r.held().map(|l| l.seq), Some(6));
    }

    #[test]
    fn fetches_run_one_at_a_time_every_interval() {
        let mut r = Revocations::default();
        assert!(!r.tried());
        // Cold: the location's copy first.
        assert_eq!(r.begin_fetch(0.0, 5000.0), Some(FetchFrom::CacheThenSource));
        assert_eq!(r.begin_fetch(1.0, 5000.0), None); // one at a time
        assert!(r.lagging(1.0, 5000.0));
        r.offer(10.0, 5000.0, doc(1, 0)).unwrap();
        assert!(r.tried());
        // Requests wait again only after two intervals without a successful fetch.
        assert!(!r.lagging(10_009.0, 5000.0));
        assert!(r.lagging(10_010.0, 5000.0));
        assert_eq!(r.begin_fetch(4999.0, 5000.0), None); // fresh
        assert_eq!(r.begin_fetch(5010.0, 5000.0), Some(FetchFrom::Source));
        r.failed();
        assert!(r.held().is_some(), "stale-if-error");
        // A failure is retried one interval after the attempt began.
        assert_eq!(r.begin_fetch(6000.0, 5000.0), None);
        assert_eq!(r.begin_fetch(10_010.0, 5000.0), Some(FetchFrom::Source));
        // A cold isolate whose first fetch failed goes to the source next time.
        let mut cold = Revocations::default();
        cold.begin_fetch(0.0, 5000.0);
        cold.failed();
        assert!(cold.tried() && cold.held().is_none());
        assert_eq!(cold.begin_fetch(5000.0, 5000.0), Some(FetchFrom::Source));
    }
}
