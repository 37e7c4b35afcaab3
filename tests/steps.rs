//! The gate as a state machine, driven the way the edge drives it: a signature the injected check
//! cannot tell comes back as a question (`NeedSignature`) and is answered by stepping again; a
//! remote JWK Set is fetched when a step asks for it (`NeedKeys`), under the refresh rules. The
//! answers here come from the reference check (`rust_crypto`), standing in for WebCrypto.

mod common;

use edgegate::gate::{Action, Decision, Facts, Gate, Outcome, RequestParts, Step};
use edgegate::low_level::jwks::{self, FetchFrom, RemoteKeys};
use edgegate::low_level::keys::{Key, KeySet};
use edgegate::verify::{signature_matches, Answered, SignatureInput};
use serde_json::Value;

/// The fixture tokens' clock (they expire at 4102444800).
const NOW: i64 = 1_800_000_000;
const NOW_MS: f64 = NOW as f64 * 1000.0;
const JWKS_URL: &str = "http://127.0.0.1:9/jwks";
/// `JWKS_MIN_REFRESH_SECONDS` in these gates.
const COOLDOWN_MS: f64 = 30_000.0;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("fixtures/jws.json")).expect("fixture JSON")
}

/// The fixture token for `alg`.
fn token(alg: &str) -> String {
    let f = fixtures();
    let t = f["tokens"].as_array().expect("tokens").iter();
    let found = t.clone().find(|t| t["alg"] == alg).expect("a token");
    found["token"].as_str().expect("text").to_owned()
}

/// The fixture JWK Set's public keys, as a remote set would load them.
fn public_keys() -> KeySet {
    let loaded = jwks::parse_jwks(&fixtures()["jwks"].to_string(), false).expect("JWK Set");
    KeySet::new(loaded.keys)
}

fn claims_vars() -> [(&'static str, &'static str); 3] {
    [
        ("ISSUER", "https://id.example"),
        ("AUDIENCE", "edge"),
        ("ALGORITHMS", "HS256,ES256,RS256,EdDSA"),
    ]
}

/// A gate with the fixture JWK Set configured inline (`JWKS`) besides the HMAC secret.
fn inline_gate() -> Gate {
    let jwks = fixtures()["jwks"].to_string();
    let mut extra = claims_vars().to_vec();
    extra.push(("JWKS", &jwks));
    common::gate(&extra)
}

/// A gate whose public keys come from `JWKS_URL` only.
fn remote_gate() -> Gate {
    let mut extra = claims_vars().to_vec();
    extra.extend([
        ("JWKS_URL", JWKS_URL),
        ("JWKS_MIN_REFRESH_SECONDS", "30"),
        ("JWKS_CACHE_SECONDS", "600"),
    ]);
    common::gate(&extra)
}

fn request(cookie: &str) -> RequestParts<'_> {
    RequestParts {
        method: "GET",
        path: "/api",
        cookie: Some(cookie),
        ..Default::default()
    }
}

/// What WebCrypto would answer for a key: the reference verdict.
fn truthful(
    alg: edgegate::low_level::alg::Alg,
    message: &str,
    signature: &[u8],
) -> impl Fn(&Key) -> bool {
    let (message, signature) = (message.to_owned(), common::b64(signature));
    move |key| signature_matches(alg, key, message.as_bytes(), &signature)
}

fn sub(o: &Outcome) -> Option<&str> {
    match &o.action {
        Action::Forward { identity, .. } => identity.as_ref().map(|i| i.sub.as_str()),
        Action::Respond(_) => None,
    }
}

fn decided(step: Step<'_, '_>) -> Outcome {
    match step {
        Step::Decided(o) => o,
        other => panic!("expected a decision, got {other:?}"),
    }
}

#[test]
fn a_check_that_cannot_tell_asks_and_the_answer_decides() {
    let g = inline_gate();
    for alg in ["ES256", "RS256", "EdDSA"] {
        let cookie = format!("access={}", token(alg));
        let req = request(&cookie);
        let ask = Answered(|_: &Key, _: &SignatureInput<'_>| None);
        let Step::NeedSignature(q) = g.step(&req, &Facts::at(NOW), &ask) else {
            panic!("{alg}: a public-key signature must be asked for");
        };
        assert_eq!(q.alg.name(), alg);
        assert_eq!(q.keys.len(), 1, "{alg}: the kid names one key");
        assert!(token(alg).starts_with(&format!("{}.", q.message)));
        let answer = truthful(q.alg, q.message, &q.signature);
        let verdict = answer(q.keys[0]);
        assert!(verdict, "{alg}: the fixture token is genuine");

        // Stepping again with the answer decides; the same request with "no" is refused.
        let yes = Answered(|k: &Key, _: &SignatureInput<'_>| Some(answer(k)));
        let o = decided(g.step(&req, &Facts::at(NOW), &yes));
        assert_eq!(
            (o.decision, sub(&o)),
            (Decision::Forward, Some(&*format!("user-{alg}")))
        );
        let no = Answered(|_: &Key, _: &SignatureInput<'_>| Some(false));
        let o = decided(g.step(&req, &Facts::at(NOW), &no));
        assert_eq!((o.status(), o.reason.code()), (Some(401), "bad_signature"));
    }
}

#[test]
fn hmac_and_malformed_signatures_are_decided_without_asking() {
    let g = inline_gate();
    let ask = Answered(|_: &Key, _: &SignatureInput<'_>| None);
    let hs = format!("access={}", token("HS256"));
    let o = decided(g.step(&request(&hs), &Facts::at(NOW), &ask));
    assert_eq!(o.decision, Decision::Forward);
    // A public-key signature of the wrong length never reaches WebCrypto.
    let es = token("ES256");
    let (head, sig) = es.rsplit_once('.').expect("three segments");
    let short = format!("access={head}.{}", &sig[..sig.len() - 4]);
    let o = decided(g.step(&request(&short), &Facts::at(NOW), &ask));
    assert_eq!(o.reason, "bad_signature");
}

#[test]
fn expiry_is_only_read_after_a_valid_signature() {
    let g = inline_gate();
    let later = Facts::at(4_102_444_800 + 3600);
    let cookie = format!("access={}", token("ES256"));
    let req = request(&cookie);
    let no = Answered(|_: &Key, _: &SignatureInput<'_>| Some(false));
    assert_eq!(decided(g.step(&req, &later, &no)).reason, "bad_signature");
    let yes = Answered(|_: &Key, _: &SignatureInput<'_>| Some(true));
    let o = decided(g.step(&req, &later, &yes));
    assert_eq!((o.status(), o.reason.code()), (Some(401), "expired"));
}

#[test]
fn undecided_signatures_are_refused_by_decide_with() {
    let g = inline_gate();
    let cookie = format!("access={}", token("ES256"));
    let o = g.decide_with(
        &request(&cookie),
        &Facts::at(NOW),
        &Answered(|_: &Key, _: &SignatureInput<'_>| None),
    );
    assert_eq!((o.status(), o.reason.code()), (Some(401), "bad_signature"));
}

/// Steps `req` the way the edge does: fetch when asked (with `fetch` standing in for the IdP),
/// then step again; signatures answered truthfully.
fn drive(
    g: &Gate,
    remote: &mut RemoteKeys,
    req: &RequestParts<'_>,
    now_ms: f64,
    fetch: &mut dyn FnMut(FetchFrom) -> Option<KeySet>,
) -> Outcome {
    let mut keys_fetched = false;
    let mut answers: Vec<(Key, bool)> = Vec::new();
    loop {
        let check = Answered(|k: &Key, _: &SignatureInput<'_>| {
            answers
                .iter()
                .find(|(a, _)| a.kid == k.kid && a.family == k.family)
                .map(|(_, v)| *v)
        });
        let facts = Facts {
            now_ms,
            remote: Some(remote),
            keys_fetched,
            ..Facts::at(0)
        };
        match g.step(req, &facts, &check) {
            Step::Decided(o) => return o,
            Step::NeedKeys { unknown_kid } => {
                keys_fetched = true;
                if let Some(from) = remote.begin_fetch(now_ms, COOLDOWN_MS, unknown_kid) {
                    match fetch(from) {
                        Some(set) => remote.loaded(now_ms, set, 600_000.0),
                        None => remote.failed(),
                    }
                }
            }
            Step::NeedSignature(q) => {
                let answer = truthful(q.alg, q.message, &q.signature);
                let new: Vec<(Key, bool)> =
                    q.keys.iter().map(|k| ((*k).clone(), answer(k))).collect();
                answers.extend(new);
            }
            Step::NeedRevocations => unreachable!("no revocation list configured"),
        }
    }
}

#[test]
fn a_cold_isolate_fetches_once_from_the_cache_then_serves_from_memory() {
    let g = remote_gate();
    let mut remote = RemoteKeys::default();
    let mut fetches = Vec::new();
    let cookie = format!("access={}", token("ES256"));
    let req = request(&cookie);
    let mut fetch = |from| {
        fetches.push(from);
        Some(public_keys())
    };
    let o = drive(&g, &mut remote, &req, NOW_MS, &mut fetch);
    assert_eq!(sub(&o), Some("user-ES256"));
    let o = drive(&g, &mut remote, &req, NOW_MS + 1000.0, &mut fetch);
    assert_eq!(sub(&o), Some("user-ES256"));
    assert_eq!(fetches, vec![FetchFrom::CacheThenIdp]);
    assert_eq!(remote.generation(), 1);
}

#[test]
fn tokens_the_configured_keys_serve_and_unparsable_tokens_never_fetch() {
    let g = remote_gate();
    let mut remote = RemoteKeys::default();
    let mut fetched = 0;
    let mut fetch = |_| {
        fetched += 1;
        None
    };
    let hs = format!(
        "access={}",
        common::hs256(&serde_json::json!({
            "sub": "alice", "exp": NOW + 60, "iss": "https://id.example", "aud": "edge"
        }))
    );
    assert_eq!(
        drive(&g, &mut remote, &request(&hs), NOW_MS, &mut fetch).decision,
        Decision::Forward
    );
    let garbage = "access=not.a.token";
    let o = drive(&g, &mut remote, &request(garbage), NOW_MS, &mut fetch);
    assert_eq!(o.status(), Some(401));
    assert_eq!(fetched, 0);
}

#[test]
fn an_unknown_kid_refetches_after_the_cooldown_and_a_failure_keeps_the_old_keys() {
    let g = remote_gate();
    let mut remote = RemoteKeys::default();
    let mut log = Vec::new();
    let known = format!("access={}", token("ES256"));
    // A genuine-looking token naming a kid the set lacks (its signature is never reached).
    let es = token("ES256");
    let (_, rest) = es.split_once('.').expect("segments");
    let header = common::b64(br#"{"alg":"ES256","typ":"JWT","kid":"rotated-in"}"#);
    let unknown = format!("access={header}.{rest}");

    let mut ok = |from| {
        log.push(("ok", from));
        Some(public_keys())
    };
    drive(&g, &mut remote, &request(&known), NOW_MS, &mut ok);
    // Within the cooldown: no fetch, refused as unknown_kid.
    let o = drive(
        &g,
        &mut remote,
        &request(&unknown),
        NOW_MS + 1000.0,
        &mut ok,
    );
    assert_eq!(o.reason, "unknown_kid");
    assert_eq!(log.len(), 1);
    // After it: one fetch from the IdP (not the cache); the IdP fails.
    let later = NOW_MS + COOLDOWN_MS + 1.0;
    let mut failing = |from| {
        log.push(("failed", from));
        None
    };
    let o = drive(&g, &mut remote, &request(&unknown), later, &mut failing);
    assert_eq!(o.reason, "unknown_kid");
    // Stale-if-error: the keys held keep serving, and the cooldown holds again.
    let o = drive(&g, &mut remote, &request(&known), later + 1.0, &mut failing);
    assert_eq!(sub(&o), Some("user-ES256"));
    let o = drive(
        &g,
        &mut remote,
        &request(&unknown),
        later + 2.0,
        &mut failing,
    );
    assert_eq!(o.reason, "unknown_kid");
    assert_eq!(
        log,
        vec![("ok", FetchFrom::CacheThenIdp), ("failed", FetchFrom::Idp)]
    );
}

#[test]
fn a_stale_set_is_refetched_by_one_request_while_others_use_it() {
    let g = remote_gate();
    let mut remote = RemoteKeys::default();
    let cookie = format!("access={}", token("ES256"));
    let req = request(&cookie);
    drive(&g, &mut remote, &req, NOW_MS, &mut |_| Some(public_keys()));
    let stale = NOW_MS + 600_000.0 + 1.0;
    // The first request after the TTL asks for keys and starts a fetch...
    let ask = Answered(|_: &Key, _: &SignatureInput<'_>| None);
    let facts = Facts {
        now_ms: stale,
        remote: Some(&remote),
        keys_fetched: false,
        ..Facts::at(0)
    };
    assert!(matches!(
        g.step(&req, &facts, &ask),
        Step::NeedKeys { unknown_kid: false }
    ));
    assert_eq!(
        remote.begin_fetch(stale, COOLDOWN_MS, false),
        Some(FetchFrom::Idp)
    );
    // ...and a request arriving meanwhile is not asked: it verifies with the stale set.
    let facts = Facts {
        now_ms: stale + 1.0,
        remote: Some(&remote),
        keys_fetched: false,
        ..Facts::at(0)
    };
    assert!(matches!(g.step(&req, &facts, &ask), Step::NeedSignature(_)));
}
