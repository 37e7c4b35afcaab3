//! What crosses between the wasm core and the JS entry, in both directions: one JSON text per
//! step out (`Wire`), key references and WebCrypto answers in. Pure (compiled and tested
//! natively too); the wasm exports in `edge::exports` only move these texts across.
//!
//! A step's JSON is one of:
//!
//! ```text
//! {"step":"forward","url":…,"sub":…,"claims":…,"assertion":…,"strip":[…],"timing":…}
//! {"step":"respond","status":401,"body":…,"type":…,"location":…,"www":…,"timing":…}
//! {"step":"keys","unknown_kid":false}
//! {"step":"revocations"}
//! {"step":"signature","alg":"ES256","keys":["c0"],"message":"<header.payload>","signature":"<b64url>"}
//! ```
//!
//! Absent members are omitted. A decided step may be followed by `\n` and the request's log
//! line, verbatim (JSON text never holds a raw newline): the line is not escaped a second time
//! into the step, and the JS side logs it without parsing it.
//!
//! A key reference is `c<i>` (the i-th configured key) or
//! `r<generation>.<i>` (the i-th key of a remote set load): it names one key for as long as the
//! isolate lives, so the JS side can cache the imported `CryptoKey` under it.

use crate::gate::{Action, Gate, Outcome, Reply, SignatureQuestion};
use crate::low_level::headers::forwardable_header;
use crate::low_level::jwks::RemoteKeys;
use crate::low_level::keys::Key;
use crate::low_level::log;
use crate::verify::SignatureInput;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::DecodingKeyKind;
use serde::Serialize;

/// One step, as the JS entry reads it.
#[derive(Serialize)]
#[serde(tag = "step", rename_all = "lowercase")]
pub enum Wire<'a> {
    /// Forward to `url` with the identity; delete the `strip` headers first.
    Forward {
        /// The origin URL.
        url: &'a str,
        /// `x-auth-sub`, when authenticated.
        #[serde(skip_serializing_if = "Option::is_none")]
        sub: Option<&'a str>,
        /// `x-auth-claims`, when authenticated.
        #[serde(skip_serializing_if = "Option::is_none")]
        claims: Option<&'a str>,
        /// `x-auth-assertion`, with `ASSERTION_SECRET`.
        #[serde(skip_serializing_if = "Option::is_none")]
        assertion: Option<String>,
        /// Inbound header names that must not reach the origin.
        strip: Vec<&'a str>,
        /// `Server-Timing`, with `SERVER_TIMING`.
        #[serde(skip_serializing_if = "Option::is_none")]
        timing: Option<String>,
    },
    /// Answer at the edge.
    Respond {
        /// HTTP status.
        status: u16,
        /// The body.
        #[serde(skip_serializing_if = "Option::is_none")]
        body: Option<&'a str>,
        /// Its media type.
        #[serde(rename = "type")]
        content_type: &'a str,
        /// `Location`.
        #[serde(skip_serializing_if = "Option::is_none")]
        location: Option<&'a str>,
        /// `WWW-Authenticate`.
        #[serde(skip_serializing_if = "Option::is_none")]
        www: Option<&'a str>,
        /// `Server-Timing`.
        #[serde(skip_serializing_if = "Option::is_none")]
        timing: Option<String>,
    },
    /// Fetch the remote JWK Set, then step again.
    Keys {
        /// The token names a `kid` the set lacks.
        unknown_kid: bool,
    },
    /// Get the isolate's first revocation list (or wait for the fetch running), then step again.
    Revocations,
    /// Verify with WebCrypto, then step again with the answers.
    Signature {
        /// The algorithm.
        alg: &'static str,
        /// The keys to try.
        keys: Vec<String>,
        /// The signing input.
        message: &'a str,
        /// The signature, base64url.
        signature: String,
    },
}

/// A JSON string literal for `s`.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Serialising plain strings and numbers cannot fail.
pub fn to_json(w: &Wire<'_>) -> String {
    serde_json::to_string(w).unwrap_or_default()
}

impl<'a> Wire<'a> {
    /// The step answering with `r` at the edge.
    pub fn reply(r: &'a Reply, timing: Option<String>) -> Wire<'a> {
        Wire::Respond {
            status: r.status,
            body: r.body.as_deref(),
            content_type: r.content_type,
            location: r.location.as_deref(),
            www: r.www_authenticate.as_deref(),
            timing,
        }
    }
}

/// A decided step and, when there is one, its log line after a newline.
pub fn with_log(w: &Wire<'_>, log: Option<&str>) -> String {
    let mut out = to_json(w);
    if let Some(line) = log {
        out.push('\n');
        out.push_str(line);
    }
    out
}

/// What an outcome needs from the request to become a [`Wire`].
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method.
    pub method: &'a str,
    /// The path as received (for the log line).
    pub path: &'a str,
    /// The inbound header names, one per line.
    pub header_names: &'a str,
    /// `Connection`.
    pub connection: Option<&'a str>,
    /// Microseconds spent deciding.
    pub verify_us: u64,
    /// Now, Unix seconds (the assertion's time).
    pub now: i64,
}

/// The JSON for a decided outcome. `nonce` is called only when an assertion is minted.
pub fn outcome_json(
    gate: &Gate,
    outcome: &Outcome,
    req: &Request<'_>,
    nonce: &dyn Fn() -> [u8; 16],
) -> String {
    let (wire, log) = decided(gate, outcome, req, nonce);
    with_log(&wire, log.as_deref())
}

/// A decided outcome as the edge acts on it: the step (forward or respond) and the request's
/// log line, when `LOG_REQUESTS` wants one. `nonce` is called only when an assertion is minted.
pub fn decided<'a>(
    gate: &Gate,
    outcome: &'a Outcome,
    req: &Request<'a>,
    nonce: &dyn Fn() -> [u8; 16],
) -> (Wire<'a>, Option<String>) {
    let cfg = gate.config();
    let log = cfg
        .log_requests
        .wants(outcome.status())
        .then(|| log::decision_line(outcome, req.method, req.path, req.verify_us));
    let timing = cfg.server_timing.then(|| {
        format!(
            "edgegate;dur={}.{:03}",
            req.verify_us / 1000,
            req.verify_us % 1000
        )
    });
    let wire = match &outcome.action {
        Action::Forward {
            url,
            path,
            identity,
        } => Wire::Forward {
            url,
            sub: identity.as_ref().map(|i| i.sub.as_str()),
            claims: identity.as_ref().map(|i| i.claims_b64.as_str()),
            assertion: cfg
                .assertion
                .is_some()
                .then(|| gate.assertion(req.method, path, identity.as_ref(), req.now, nonce()))
                .flatten(),
            strip: req
                .header_names
                .split('\n')
                .filter(|n| !n.is_empty() && !forwardable_header(n, req.connection))
                .collect(),
            timing,
        },
        Action::Respond(r) => Wire::reply(r, timing),
    };
    (wire, log)
}

/// The JSON for a signature question.
pub fn question_json(q: &SignatureQuestion<'_, '_>, keys: &Keys<'_>) -> String {
    to_json(&Wire::Signature {
        alg: q.alg.name(),
        keys: q.keys.iter().filter_map(|k| keys.reference(k)).collect(),
        message: q.message,
        signature: URL_SAFE_NO_PAD.encode(&q.signature),
    })
}

/// The isolate's keys, for naming them across the boundary.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// The configured keys.
    pub gate: &'a Gate,
    /// The remote set.
    pub remote: &'a RemoteKeys,
}

impl Keys<'_> {
    /// The reference of `key` (one of the isolate's keys).
    pub fn reference(&self, key: &Key) -> Option<String> {
        if let Some(i) = self.gate.config().verifier.keys().position(key) {
            return Some(format!("c{i}"));
        }
        let i = self.remote.keys()?.position(key)?;
        Some(format!("r{}.{i}", self.remote.generation()))
    }

    /// The key `reference` names, if it still exists.
    pub fn get(&self, reference: &str) -> Option<&Key> {
        if let Some(i) = reference.strip_prefix('c') {
            return self.gate.config().verifier.keys().get(i.parse().ok()?);
        }
        let (generation, i) = reference.strip_prefix('r')?.split_once('.')?;
        if generation.parse::<u32>().ok()? != self.remote.generation() {
            return None;
        }
        self.remote.keys()?.get(i.parse().ok()?)
    }
}

/// The answers the JS side brought back, `ref=1,ref=0`: whether the signature verified under
/// each key it was asked about.
pub fn answer_for(answers: &str, reference: &str) -> Option<bool> {
    answers.split(',').find_map(|a| match a.split_once('=') {
        Some((r, v)) if r == reference => Some(v == "1"),
        _ => None,
    })
}

/// Public-key signatures WebCrypto verified in this isolate, by key reference, algorithm and the
/// exact signed bytes: a session sends the same access token on every request until it expires,
/// and its signature verifies the same every time (the claims are still checked on every
/// request). Only verified signatures are kept — a forged token can neither enter nor evict
/// anything — at most `cap`, oldest first out.
#[derive(Debug, Default)]
pub struct VerifiedSignatures {
    cap: usize,
    set: std::collections::HashSet<Vec<u8>>,
    order: std::collections::VecDeque<Vec<u8>>,
}

impl VerifiedSignatures {
    /// A cache of at most `cap` signatures (`0`: none).
    pub fn new(cap: usize) -> VerifiedSignatures {
        VerifiedSignatures {
            cap,
            ..Default::default()
        }
    }

    fn entry(reference: &str, input: &SignatureInput<'_>) -> Vec<u8> {
        let alg = input.alg.name().as_bytes();
        let mut e = Vec::with_capacity(reference.len() + alg.len() + input.message.len() + 80);
        // Lengths first: no two different inputs give the same bytes.
        for part in [reference.as_bytes(), alg, input.message] {
            e.extend_from_slice(&(part.len() as u32).to_le_bytes());
            e.extend_from_slice(part);
        }
        e.extend_from_slice(input.signature);
        e
    }

    /// Whether this signature verified under the key `reference` names.
    pub fn contains(&self, reference: &str, input: &SignatureInput<'_>) -> bool {
        self.cap > 0 && self.set.contains(&Self::entry(reference, input))
    }

    /// Remembers a signature that verified.
    pub fn insert(&mut self, reference: &str, input: &SignatureInput<'_>) {
        if self.cap == 0 {
            return;
        }
        let e = Self::entry(reference, input);
        if self.set.contains(&e) {
            return;
        }
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(e.clone());
        self.set.insert(e);
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// How WebCrypto imports `key`, as JSON: `{"format":"jwk","key":{"kty":"RSA","n":…,"e":…}}` or
/// `{"format":"raw","key":"<b64url>"}` (an uncompressed EC point or an Ed25519 key), with
/// `"label"`, how log lines name the key (its quoted `kid`, or `(no kid)`). The algorithm
/// parameters come from the token's `alg`, on the JS side.
pub fn import_json(key: &Key) -> String {
    let label = key_label(key);
    let value = match key_import(key) {
        KeyImport::Rsa { n, e } => {
            serde_json::json!({"format": "jwk", "label": label, "key": {
                "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)
            }})
        }
        KeyImport::Raw(raw) => {
            serde_json::json!({"format": "raw", "label": label, "key": URL_SAFE_NO_PAD.encode(raw)})
        }
    };
    value.to_string()
}

/// The key material WebCrypto imports (see [`import_json`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyImport<'a> {
    /// An RSA public key as JWK members: `n` without leading zero octets (as WebCrypto wants
    /// it), and `e`.
    Rsa {
        /// The modulus.
        n: &'a [u8],
        /// The exponent.
        e: &'a [u8],
    },
    /// An uncompressed EC point or an Ed25519 key, imported in `raw` format.
    Raw(&'a [u8]),
}

/// How WebCrypto imports `key`.
pub fn key_import(key: &Key) -> KeyImport<'_> {
    match key.decoding.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
            KeyImport::Rsa { n: &n[start..], e }
        }
        DecodingKeyKind::SecretOrDer(raw) => KeyImport::Raw(raw),
    }
}

/// How log lines name `key`: its quoted `kid`, or `(no kid)`.
pub fn key_label(key: &Key) -> String {
    key.kid
        .as_deref()
        .map_or_else(|| "(no kid)".to_owned(), |k| format!("{k:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(message: &'a [u8], signature: &'a [u8]) -> SignatureInput<'a> {
        SignatureInput {
            alg: crate::Alg::ES256,
            message,
            signature,
            signature_b64: "",
        }
    }

    #[test]
    fn verified_signatures_match_exactly_and_stay_bounded() {
        let mut c = VerifiedSignatures::new(2);
        c.insert("c0", &input(b"h.p", b"sig"));
        assert!(c.contains("c0", &input(b"h.p", b"sig")));
        // Another key, message, signature or algorithm is another entry.
        assert!(!c.contains("c1", &input(b"h.p", b"sig")));
        assert!(!c.contains("c0", &input(b"h.q", b"sig")));
        assert!(!c.contains("c0", &input(b"h.p", b"sih")));
        assert!(!c.contains("c0", &input(b"h.p", b"si")));
        let mut es384 = input(b"h.p", b"sig");
        es384.alg = crate::Alg::ES384;
        assert!(!c.contains("c0", &es384));
        // Boundaries between the parts cannot be shifted.
        assert!(!c.contains("c", &input(b"0h.p", b"sig")));
        c.insert("c0", &input(b"h.p", b"sig"));
        assert_eq!(c.len(), 1);
        c.insert("c0", &input(b"h.2", b"sig"));
        c.insert("c0", &input(b"h.3", b"sig"));
        assert_eq!(c.len(), 2);
        assert!(
            !c.contains("c0", &input(b"h.p", b"sig")),
            "the oldest left first"
        );
        assert!(c.contains("c0", &input(b"h.3", b"sig")));
        let mut off = VerifiedSignatures::new(0);
        off.insert("c0", &input(b"h.p", b"sig"));
        assert!(off.is_empty() && !off.contains("c0", &input(b"h.p", b"sig")));
    }

    fn gate(extra: &[(&str, &str)]) -> Gate {
        let vars = |k: &str| -> Option<String> {
            let base = [
                ("ORIGIN_URL", "http://127.0.0.1:9000"),
                ("ALGORITHMS", "HS256"),
                ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ];
            base.iter()
                .chain(extra)
                .rev()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        };
        Gate::new(crate::Config::from_lookup(&vars).expect("valid"))
    }

    fn request<'a>(names: &'a str, connection: Option<&'a str>) -> Request<'a> {
        Request {
            method: "GET",
            path: "/health",
            header_names: names,
            connection,
            verify_us: 1500,
            now: 1_700_000_000,
        }
    }

    #[test]
    fn a_forward_names_the_headers_to_strip_and_carries_its_log_line_after_a_newline() {
        let g = gate(&[
            ("PUBLIC_PATHS", "/health"),
            ("SERVER_TIMING", "true"),
            ("ASSERTION_SECRET", "assertion-secret-0123456789abcdef"),
        ]);
        let parts = crate::RequestParts {
            method: "GET",
            path: "/health",
            ..Default::default()
        };
        let outcome = g.decide(&parts, 1_700_000_000);
        let names = "host\nx-auth-sub\nX_Auth_Claims\nconnection\nx-keep\nx-trace\nx-http-method-override\n";
        let out = outcome_json(&g, &outcome, &request(names, Some("x-trace")), &|| [7; 16]);
        let (step, line) = out.split_once('\n').expect("a log line");
        let step: serde_json::Value = serde_json::from_str(step).expect("JSON");
        assert_eq!(step["step"], "forward");
        assert_eq!(
            step["strip"],
            serde_json::json!([
                "x-auth-sub",
                "X_Auth_Claims",
                "connection",
                "x-trace",
                "x-http-method-override"
            ])
        );
        assert!(
            step.get("sub").is_none(),
            "a public path carries no identity"
        );
        assert!(step["assertion"].as_str().is_some_and(|a| !a.is_empty()));
        assert_eq!(step["timing"], "edgegate;dur=1.500");
        let line: serde_json::Value = serde_json::from_str(line).expect("the line is JSON");
        assert_eq!(
            (line["decision"].as_str(), line["verify_us"].as_u64()),
            (Some("public"), Some(1500))
        );
    }

    #[test]
    fn an_edge_answer_has_no_log_line_when_logging_is_off() {
        let g = gate(&[("LOG_REQUESTS", "off")]);
        let parts = crate::RequestParts {
            method: "GET",
            path: "/api",
            ..Default::default()
        };
        let outcome = g.decide(&parts, 1_700_000_000);
        let out = outcome_json(&g, &outcome, &request("host\n", None), &|| [0; 16]);
        assert!(!out.contains('\n'));
        let step: serde_json::Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(
            (step["step"].as_str(), step["status"].as_u64()),
            (Some("respond"), Some(401))
        );
        assert_eq!(step["www"], "Bearer");
    }

    #[test]
    fn answers_are_read_per_reference() {
        let a = "c0=1,r3.1=0";
        assert_eq!(answer_for(a, "c0"), Some(true));
        assert_eq!(answer_for(a, "r3.1"), Some(false));
        assert_eq!(answer_for(a, "r3.10"), None);
        assert_eq!(answer_for(a, "c"), None);
        assert_eq!(answer_for("", "c0"), None);
    }

    #[test]
    fn steps_serialise_without_absent_members() {
        let w = Wire::Keys { unknown_kid: true };
        assert_eq!(to_json(&w), r#"{"step":"keys","unknown_kid":true}"#);
        let w = Wire::Respond {
            status: 302,
            body: None,
            content_type: "application/json",
            location: Some("/auth/login"),
            www: None,
            timing: None,
        };
        assert_eq!(
            to_json(&w),
            r#"{"step":"respond","status":302,"type":"application/json","location":"/auth/login"}"#
        );
    }
}
