//! The published revocation list (`docs/origin.md`, "The revocation document"): the cut-offs the
//! origin records when sessions end, and the signed document every gate isolate pulls from
//! [`PATH`], so that logout, logout-all, a password change or a detected refresh-token theft
//! reach access tokens already issued within seconds.
//!
//! What is recorded (times in Unix seconds):
//!
//! - a session that is over (logout, a family revoked for reuse): `sessions[sid]` =
//!   [`session_cut_off`], `floor(now) + 1`: no token of that session is issued again, so the
//!   whole second of the revocation is covered;
//! - every session of a user (logout-all, password change): `subjects[sub]` =
//!   [`subject_cut_off`], `floor(now)`, plus a session entry for each family revoked (tokens
//!   minted earlier in the same second). A login in that same second gets a new `sid` and
//!   `iat >= floor(now)`, so it is valid at once.
//!
//! The store keeps one row per (kind, id) with the latest cut-off, and a `seq` that increases
//! with every row added or moved later (`max(previous + 1, now_ms)`, persisted). An entry is
//! published while a token it revokes can still be accepted somewhere: until its time + the
//! access-token lifetime + a margin for the gate's leeway and clock skew; then it is deleted.
//! Dropping such an entry does not change `seq`: every document with the same `seq` revokes the
//! same tokens that are still alive, so a gate may take any of them.

use edgegate::low_level::revocation::{
    DOCUMENT_TYP, MAX_DOCUMENT_BYTES, MAX_ENTRIES, MAX_ID_BYTES,
};
use serde_json::{Map, Value};

use super::keys::{KeyError, Keys};

/// Where the document is served (the gate's `REVOCATION_URL` is the origin's URL + this path).
pub const PATH: &str = "/.well-known/edgegate-revocations";
/// `exp` − `iat` of every document: a copy that stops being refreshed stops counting after this.
pub const DOCUMENT_LIFETIME_SECONDS: i64 = 300;
/// Default `--revocation-margin`: how long past its time + `ACCESS_TTL` an entry stays published.
pub const DEFAULT_MARGIN_SECONDS: i64 = 60;

/// What an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A `sub`: every token of the user issued before the time.
    Subject,
    /// A `sid`: every token of that session issued before the time.
    Session,
}

impl Kind {
    /// The stored form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Subject => "subject",
            Kind::Session => "session",
        }
    }

    /// The inverse of [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "subject" => Some(Kind::Subject),
            "session" => Some(Kind::Session),
            _ => None,
        }
    }
}

/// One cut-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Subject or session.
    pub kind: Kind,
    /// The `sub` or `sid`.
    pub id: String,
    /// Tokens with an `iat` before this (Unix seconds) are revoked.
    pub at: i64,
}

/// The cut-off for a session that is over, at `now_ms`: `floor(now) + 1`.
pub fn session_cut_off(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000).saturating_add(1)
}

/// The cut-off for every session of a user, at `now_ms`: `floor(now)`.
pub fn subject_cut_off(now_ms: i64) -> i64 {
    now_ms.div_euclid(1000)
}

/// Whether the gate can hold an entry for `id`: a document with one it cannot is refused whole.
pub fn publishable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES
}

/// A signed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The compact JWS, at most [`MAX_DOCUMENT_BYTES`].
    pub jws: String,
    /// Entries in it.
    pub published: usize,
    /// Entries left out to stay within the gate's limits (the oldest).
    pub dropped: usize,
}

/// Bytes `"id":at,` adds to the payload (the comma is counted for every entry, which
/// overestimates by at most two).
fn entry_bytes(e: &Entry) -> usize {
    let id = serde_json::to_string(&e.id).map_or(e.id.len() + 2, |s| s.len());
    id + 1 + e.at.to_string().len() + 1
}

fn payload(iss: Option<&str>, iat: i64, seq: u64, entries: &[Entry]) -> Result<Vec<u8>, KeyError> {
    let (mut subjects, mut sessions) = (Map::new(), Map::new());
    for e in entries {
        let map = match e.kind {
            Kind::Subject => &mut subjects,
            Kind::Session => &mut sessions,
        };
        map.insert(e.id.clone(), Value::from(e.at));
    }
    let mut p = Map::new();
    p.insert("iat".into(), Value::from(iat));
    p.insert(
        "exp".into(),
        Value::from(iat.saturating_add(DOCUMENT_LIFETIME_SECONDS)),
    );
    p.insert("seq".into(), Value::from(seq));
    if let Some(iss) = iss {
        p.insert("iss".into(), Value::from(iss));
    }
    p.insert("subjects".into(), Value::Object(subjects));
    p.insert("sessions".into(), Value::Object(sessions));
    serde_json::to_vec(&p).map_err(|e| KeyError(e.to_string()))
}

/// The document at `now_s` (`iat`; `exp` = `iat` + [`DOCUMENT_LIFETIME_SECONDS`]) for `seq` and
/// `entries`, signed with the access-token key (header `typ` [`DOCUMENT_TYP`]). Entries the gate
/// could not hold are skipped; when the rest exceed the gate's limits ([`MAX_ENTRIES`],
/// [`MAX_DOCUMENT_BYTES`]) the newest are kept.
pub fn document(
    keys: &Keys,
    iss: Option<&str>,
    now_s: i64,
    seq: u64,
    mut entries: Vec<Entry>,
) -> Result<Document, KeyError> {
    entries.retain(|e| publishable(&e.id));
    // Newest first; among equal times subjects first (each covers a whole user), then by id so
    // the same entries always make the same document.
    entries.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.id.cmp(&b.id))
    });
    let sign = |kept: &[Entry]| -> Result<String, KeyError> {
        keys.sign_document(DOCUMENT_TYP, &payload(iss, now_s, seq, kept)?)
    };
    let total = entries.len();
    let mut n = total.min(MAX_ENTRIES);
    // Room left for entries once the header, the signature and the empty payload are counted:
    // base64url makes 4 bytes of every 3 (plus up to 2 for the last group).
    let empty = sign(&[])?.len();
    let budget = MAX_DOCUMENT_BYTES.saturating_sub(empty + 2) / 4 * 3;
    let mut used = 0usize;
    for (i, e) in entries.iter().take(n).enumerate() {
        used += entry_bytes(e);
        if used > budget {
            n = i;
            break;
        }
    }
    loop {
        let jws = sign(&entries[..n])?;
        if jws.len() <= MAX_DOCUMENT_BYTES {
            return Ok(Document {
                jws,
                published: n,
                dropped: total - n,
            });
        }
        // The estimate above makes this unreachable; should it be wrong, drop more, never
        // publish a document the gate refuses.
        if n == 0 {
            return Err(KeyError(
                "the revocation document exceeds the gate's limit without entries".into(),
            ));
        }
        n -= (n / 8).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint::HsAlgorithm;
    use crate::reference::config::SigningAlg;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use edgegate::gate::{DocumentStep, Gate};
    use edgegate::low_level::revocation::RevocationList;
    use edgegate::RustCrypto;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_700_000_000;

    fn keys() -> Keys {
        let dir = std::env::temp_dir().join(format!(
            "ego-rev-{}",
            crate::reference::store::new_family_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let k = Keys::load(
            &dir,
            SigningAlg::Hmac(HsAlgorithm::Hs256),
            Some(SECRET.into()),
        )
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        k
    }

    fn read(jws: &str) -> RevocationList {
        let vars = [
            ("ORIGIN_URL", "http://127.0.0.1:9"),
            ("ALGORITHMS", "HS256"),
            ("JWT_SECRET", SECRET),
            (
                "REVOCATION_URL",
                "http://127.0.0.1:9/.well-known/edgegate-revocations",
            ),
        ];
        let cfg = edgegate::Config::from_lookup(&|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap();
        let gate = Gate::new(cfg);
        match gate.revocation_document(jws, NOW as f64 * 1000.0, None, &RustCrypto) {
            DocumentStep::Verified(l) => l,
            other => panic!("{other:?}"),
        }
    }

    fn session(i: usize, at: i64) -> Entry {
        Entry {
            kind: Kind::Session,
            id: format!("{i:022}"),
            at,
        }
    }

    #[test]
    fn cut_offs_round_down_and_up() {
        assert_eq!(subject_cut_off(1_700_000_000_999), 1_700_000_000);
        assert_eq!(session_cut_off(1_700_000_000_999), 1_700_000_001);
        assert_eq!(session_cut_off(1_700_000_000_000), 1_700_000_001);
        assert!(publishable("a") && publishable(&"a".repeat(MAX_ID_BYTES)));
        assert!(!publishable("") && !publishable(&"a".repeat(MAX_ID_BYTES + 1)));
    }

    #[test]
    fn the_document_is_what_the_gate_reads() {
        let entries = vec![
            Entry {
                kind: Kind::Subject,
                id: "alice".into(),
                at: NOW - 10,
            },
            session(1, NOW - 5),
            // The gate would refuse the whole document for this one: it is left out.
            Entry {
                kind: Kind::Subject,
                id: String::new(),
                at: NOW,
            },
        ];
        let d = document(&keys(), None, NOW, 42, entries).unwrap();
        assert_eq!((d.published, d.dropped), (2, 0));
        let l = read(&d.jws);
        assert_eq!(
            (l.seq, l.iat, l.exp),
            (42, NOW, NOW + DOCUMENT_LIFETIME_SECONDS)
        );
        assert!(l.revokes("alice", None, Some(NOW - 11)));
        assert!(!l.revokes("alice", None, Some(NOW - 10)));
        assert!(l.revokes("bob", Some(&format!("{:022}", 1)), Some(NOW - 6)));
        let header = URL_SAFE_NO_PAD
            .decode(d.jws.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            header,
            br#"{"alg":"HS256","typ":"edgegate-revocations+jwt"}"#
        );
    }

    #[test]
    fn too_many_entries_keep_the_newest_within_the_gates_limits() {
        // Far more than fit: every entry a different time, the newest at the highest index.
        let entries: Vec<Entry> = (0..MAX_ENTRIES + 1)
            .map(|i| session(i, NOW - 30_000 + i as i64))
            .collect();
        let d = document(&keys(), Some("https://issuer.example"), NOW, 7, entries).unwrap();
        assert!(d.jws.len() <= MAX_DOCUMENT_BYTES, "{}", d.jws.len());
        assert!(d.dropped > 0);
        assert_eq!(d.published + d.dropped, MAX_ENTRIES + 1);
        let l = read(&d.jws);
        assert_eq!(l.len(), d.published);
        // The newest is in, the oldest out.
        let newest = format!("{:022}", MAX_ENTRIES);
        assert!(l.revokes("x", Some(&newest), Some(NOW - 30_000)));
        assert!(!l.revokes("x", Some(&format!("{:022}", 0)), Some(0)));
        // The budget is used, not wasted: at most a handful of entries more would have fit.
        assert!(MAX_DOCUMENT_BYTES - d.jws.len() < 200, "{}", d.jws.len());
    }
}
