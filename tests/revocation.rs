//! The published revocation list, natively: documents read with the gate's own keys
//! (`Gate::revocation_document`), an isolate's list (`Revocations`), and decisions against it —
//! revoked tokens refused like expired ones, others untouched, rollback, forged and oversized
//! lists refused, and what an outage does under `REVOCATION_FAIL=closed` and `open`.

mod common;

use common::{hs256, sign_raw, NOW, SECRET};
use edgegate::gate::{Action, Decision, DocumentStep, Facts, Gate, Outcome, RequestParts, Step};
use edgegate::low_level::keys::Key;
use edgegate::low_level::revocation::{
    Offered, RevocationError, RevocationList, Revocations, DOCUMENT_TYP, MAX_DOCUMENT_BYTES,
};
use edgegate::verify::{Answered, RustCrypto, SignatureInput};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

const NOW_MS: f64 = NOW as f64 * 1000.0;
const INTERVAL_MS: f64 = 5000.0;
const URL: &str = "http://127.0.0.1:9/revocations";

fn gate(extra: &[(&'static str, &str)]) -> Gate {
    let mut vars = vec![("REVOCATION_URL", URL)];
    vars.extend_from_slice(extra);
    common::gate(&vars)
}

/// A revocation document signed with the test secret.
fn doc(payload: &Value) -> String {
    doc_with(
        &json!({"alg": "HS256", "typ": DOCUMENT_TYP}),
        payload,
        SECRET,
    )
}

fn doc_with(header: &Value, payload: &Value, secret: &str) -> String {
    sign_raw(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
        secret.as_bytes(),
        Algorithm::HS256,
    )
}

/// A current list (issued now, valid for a minute) with `entries` merged in.
fn list_payload(seq: u64, entries: Value) -> Value {
    let mut p = json!({"iat": NOW, "exp": NOW + 60, "seq": seq});
    if let (Some(p), Some(e)) = (p.as_object_mut(), entries.as_object()) {
        p.extend(e.clone());
    }
    p
}

fn read(g: &Gate, body: &str) -> Result<RevocationList, RevocationError> {
    match g.revocation_document(body, NOW_MS, None, &RustCrypto) {
        DocumentStep::Verified(l) => Ok(l),
        DocumentStep::Refused(e) => Err(e),
        DocumentStep::NeedSignature(_) => panic!("HMAC documents are decided in Rust"),
    }
}

/// An isolate that holds the list `payload` describes.
fn holding(g: &Gate, payload: &Value) -> Revocations {
    let mut r = Revocations::default();
    r.begin_fetch(NOW_MS, INTERVAL_MS);
    let list = read(g, &doc(payload)).expect("a valid document");
    r.offer(NOW_MS, INTERVAL_MS, list).expect("the first list");
    r
}

fn api(cookie: &str) -> RequestParts<'_> {
    RequestParts {
        method: "GET",
        path: "/api/me",
        cookie: Some(cookie),
        ..Default::default()
    }
}

fn navigation(cookie: &str) -> RequestParts<'_> {
    RequestParts {
        accept: Some("text/html"),
        ..api(cookie)
    }
}

/// One step at `now` with the isolate's revocation state `r`.
fn step<'g, 'r>(
    g: &'g Gate,
    req: &RequestParts<'r>,
    r: &'g Revocations,
    now: i64,
    fetched: bool,
) -> Step<'g, 'r> {
    let facts = Facts {
        revocations: Some(r),
        revocations_fetched: fetched,
        ..Facts::at(now)
    };
    g.step(req, &facts, &RustCrypto)
}

fn decided(s: Step<'_, '_>) -> Outcome {
    match s {
        Step::Decided(o) => o,
        other => panic!("not decided: {other:?}"),
    }
}

fn cookie_for(sub: &str, extra: Value) -> String {
    let mut claims = json!({"sub": sub, "iat": NOW - 100, "exp": NOW + 500});
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    format!("access={}", hs256(&claims))
}

#[test]
fn a_revoked_token_is_refused_like_an_expired_one_and_others_pass() {
    let g = gate(&[]);
    let r = holding(
        &g,
        &list_payload(
            1,
            json!({"subjects": {"alice": NOW - 50}, "sessions": {"s-9": NOW - 50}}),
        ),
    );
    // Issued before alice's cut-off: an API call gets the expired answer, a page the refresh.
    let old = cookie_for("alice", json!({}));
    let o = decided(step(&g, &api(&old), &r, NOW, false));
    assert_eq!(o.reason, "revoked");
    assert_eq!(o.status(), Some(401));
    let Action::Respond(reply) = &o.action else {
        panic!()
    };
    assert_eq!(
        reply.body.as_deref(),
        Some(r#"{"error":"token_expired","refresh":"/auth/refresh"}"#)
    );
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(r#"Bearer error="invalid_token", error_description="token expired""#)
    );
    let o = decided(step(&g, &navigation(&old), &r, NOW, false));
    assert_eq!((o.decision, o.status()), (Decision::Refresh, Some(302)));
    assert_eq!(o.reason, "revoked");
    // Issued at or after the cut-off, another subject, another session: untouched.
    for cookie in [
        cookie_for("alice", json!({"iat": NOW - 50})),
        cookie_for("bob", json!({})),
        cookie_for("bob", json!({"sid": "s-1"})),
    ] {
        let o = decided(step(&g, &api(&cookie), &r, NOW, false));
        assert_eq!(
            (o.decision, o.reason),
            (Decision::Forward, edgegate::Reason::Ok),
            "{cookie}"
        );
    }
    // A session entry revokes that session's tokens, whatever the subject; an integer `sid`
    // is read as its decimal text.
    let r = holding(
        &g,
        &list_payload(2, json!({"sessions": {"s-9": NOW - 50, "42": NOW}})),
    );
    for cookie in [
        cookie_for("bob", json!({"sid": "s-9"})),
        cookie_for("carol", json!({"sid": 42})),
    ] {
        assert_eq!(
            decided(step(&g, &api(&cookie), &r, NOW, false)).reason,
            "revoked"
        );
    }
    // Without `iat`, a token cannot show it is newer than an entry that names it.
    let no_iat = format!(
        "access={}",
        hs256(&json!({"sub": "bob", "sid": "s-9", "exp": NOW + 500}))
    );
    assert_eq!(
        decided(step(&g, &api(&no_iat), &r, NOW, false)).reason,
        "revoked"
    );
}

#[test]
fn expiry_and_invalidity_are_decided_before_revocation() {
    let g = gate(&[]);
    let r = holding(&g, &list_payload(1, json!({"subjects": {"alice": NOW}})));
    let expired = format!(
        "access={}",
        hs256(&json!({"sub": "alice", "iat": NOW - 900, "exp": NOW - 600}))
    );
    assert_eq!(
        decided(step(&g, &api(&expired), &r, NOW, false)).reason,
        "expired"
    );
    let forged = format!(
        "access={}",
        common::mint(
            Algorithm::HS256,
            &json!({"sub": "alice", "exp": NOW + 9}),
            b"another-secret-another-secret!!"
        )
    );
    assert_eq!(
        decided(step(&g, &api(&forged), &r, NOW, false)).reason,
        "bad_signature"
    );
    // Public paths and missing tokens never consult the list.
    let public = RequestParts {
        path: "/auth/login",
        ..api("")
    };
    let cold = Revocations::default();
    assert_eq!(
        decided(step(&g, &public, &cold, NOW, false)).decision,
        Decision::Public
    );
    let missing = RequestParts {
        cookie: None,
        ..api("")
    };
    assert_eq!(
        decided(step(&g, &missing, &cold, NOW, false)).reason,
        "missing_token"
    );
}

#[test]
fn a_cold_isolate_gets_its_first_list_then_fails_closed_without_one() {
    let g = gate(&[]);
    let cold = Revocations::default();
    let cookie = cookie_for("alice", json!({}));
    assert!(matches!(
        step(&g, &api(&cookie), &cold, NOW, false),
        Step::NeedRevocations
    ));
    // The fetch failed: no list to check against.
    let o = decided(step(&g, &api(&cookie), &cold, NOW, true));
    assert_eq!(
        (o.status(), o.reason),
        (Some(503), edgegate::Reason::RevocationUnavailable)
    );
    let Action::Respond(reply) = &o.action else {
        panic!()
    };
    assert_eq!(
        reply.body.as_deref(),
        Some(r#"{"error":"revocation_unavailable"}"#)
    );
    // The synchronous decision has no list either: it fails closed too.
    assert_eq!(g.decide(&api(&cookie), NOW).status(), Some(503));
}

#[test]
fn requests_wait_only_when_the_isolate_has_no_fresh_list() {
    let g = gate(&[]);
    let r = holding(&g, &list_payload(1, json!({})));
    let bob = cookie_for("bob", json!({}));
    // Within two refresh intervals (REVOCATION_REFRESH_SECONDS=5) of the last fetch: decided
    // with the list held (a refresh, when due, runs in the background).
    assert!(matches!(
        step(&g, &api(&bob), &r, NOW + 9, false),
        Step::Decided(_)
    ));
    // An isolate that went two intervals without a refresh (no requests): its next request
    // gets a list first, so it is not checked against an old one.
    assert!(matches!(
        step(&g, &api(&bob), &r, NOW + 10, false),
        Step::NeedRevocations
    ));
    assert!(matches!(
        step(&g, &api(&bob), &r, NOW + 10, true),
        Step::Decided(_)
    ));
}

#[test]
fn a_list_too_old_to_rely_on_fails_closed_or_open_as_configured() {
    let entries = json!({"subjects": {"alice": NOW - 50}});
    let old = cookie_for("alice", json!({}));
    let bob = cookie_for("bob", json!({}));
    // REVOCATION_MAX_AGE_SECONDS=60 (default), LEEWAY_SECONDS=30: relied on until NOW + 90.
    let closed = gate(&[]);
    let r = holding(&closed, &list_payload(1, entries.clone()));
    // Refetches failed (`fetched`: this request had its chance): the list serves while current.
    assert_eq!(
        decided(step(&closed, &api(&bob), &r, NOW + 90, true)).reason,
        "ok"
    );
    let o = decided(step(&closed, &api(&bob), &r, NOW + 91, true));
    assert_eq!(o.status(), Some(503));
    let open = gate(&[("REVOCATION_FAIL", "open")]);
    assert!(open
        .config()
        .warnings
        .iter()
        .any(|w| w.contains("REVOCATION_FAIL=open")));
    let r = holding(&open, &list_payload(1, entries));
    let o = decided(step(&open, &api(&bob), &r, NOW + 91, true));
    assert_eq!(
        (o.decision, o.revocation_unchecked),
        (Decision::Forward, true)
    );
    // The last list held still revokes what it names.
    assert_eq!(
        decided(step(&open, &api(&old), &r, NOW + 91, true)).reason,
        "revoked"
    );
    // A current list: checked, not marked.
    assert!(!decided(step(&open, &api(&bob), &r, NOW, false)).revocation_unchecked);
    // Open, and never a list: forwarded, marked.
    let cold = Revocations::default();
    let o = decided(step(&open, &api(&old), &cold, NOW, true));
    assert_eq!(
        (o.decision, o.revocation_unchecked),
        (Decision::Forward, true)
    );
}

#[test]
fn documents_are_read_with_the_gates_own_keys_strictly() {
    let g = gate(&[("ISSUER", "https://id.example")]);
    let good = list_payload(
        1,
        json!({"iss": "https://id.example", "subjects": {"a": NOW}}),
    );
    assert_eq!(read(&g, &doc(&good)).map(|l| l.seq), Ok(1));
    // A trailing newline (a text file) is not part of the JWS.
    assert!(read(&g, &format!("{}\n", doc(&good))).is_ok());
    let cases: Vec<(String, RevocationError)> = vec![
        // Forged: another secret.
        (
            doc_with(
                &json!({"alg": "HS256", "typ": DOCUMENT_TYP}),
                &good,
                "not-the-gate-secret-not-the-gate!",
            ),
            RevocationError::Signature,
        ),
        // A signature with the bytes of the payload changed.
        (
            {
                let d = doc(&good);
                let mut parts: Vec<&str> = d.split('.').collect();
                let other =
                    common::b64(list_payload(1, json!({"iss": "https://id.example"})).to_string());
                parts[1] = &other;
                parts.join(".")
            },
            RevocationError::Signature,
        ),
        // An access token is not a document, even signed with the same key.
        (
            hs256(&json!({"sub": "a", "exp": NOW + 60})),
            RevocationError::WrongTyp,
        ),
        (
            doc_with(&json!({"alg": "HS256"}), &good, SECRET),
            RevocationError::WrongTyp,
        ),
        // alg pinned: none, and an algorithm the gate does not accept.
        (
            format!(
                "{}.{}.",
                common::b64(json!({"alg": "none", "typ": DOCUMENT_TYP}).to_string()),
                common::b64(good.to_string())
            ),
            RevocationError::Jws("alg_none"),
        ),
        (
            doc_with(&json!({"alg": "HS384", "typ": DOCUMENT_TYP}), &good, SECRET),
            RevocationError::Jws("alg_not_allowed"),
        ),
        // A key the document names is never fetched or used; an unknown kid selects nothing.
        (
            doc_with(
                &json!({"alg": "HS256", "typ": DOCUMENT_TYP, "kid": "elsewhere"}),
                &good,
                SECRET,
            ),
            RevocationError::NoKey,
        ),
        (
            doc_with(
                &json!({"alg": "HS256", "typ": DOCUMENT_TYP, "crit": ["exp"]}),
                &good,
                SECRET,
            ),
            RevocationError::Jws("crit_unsupported"),
        ),
        // The payload.
        (
            doc(&json!({"iat": NOW, "exp": NOW + 60})),
            RevocationError::BadDocument,
        ),
        (
            doc(&list_payload(
                1,
                json!({"iss": "https://id.example", "subjects": {"a": "soon"}}),
            )),
            RevocationError::BadDocument,
        ),
        (
            doc(&list_payload(1, json!({"subjects": {}}))),
            RevocationError::WrongIssuer,
        ),
        (
            doc(&list_payload(1, json!({"iss": "https://other.example"}))),
            RevocationError::WrongIssuer,
        ),
        // Times: from the future (beyond leeway), past its exp, older than the gate's max age.
        (
            doc(&json!({"iss": "https://id.example", "iat": NOW + 31, "exp": NOW + 90, "seq": 1})),
            RevocationError::IssuedInFuture,
        ),
        (
            doc(&json!({"iss": "https://id.example", "iat": NOW - 100, "exp": NOW - 31, "seq": 1})),
            RevocationError::Stale,
        ),
        (
            doc(&json!({"iss": "https://id.example", "iat": NOW - 91, "exp": NOW + 900, "seq": 1})),
            RevocationError::Stale,
        ),
        ("".into(), RevocationError::Jws("malformed")),
    ];
    for (body, want) in cases {
        assert_eq!(read(&g, &body).map(|l| l.seq), Err(want), "{body}");
    }
}

#[test]
fn oversized_documents_are_refused_before_they_are_parsed() {
    let g = gate(&[]);
    let big = "a".repeat(MAX_DOCUMENT_BYTES + 1);
    assert_eq!(
        read(&g, &big).map(|l| l.seq),
        Err(RevocationError::TooLarge)
    );
    // A real document just over the cap, with a valid signature.
    let subjects: serde_json::Map<String, Value> = (0..9000)
        .map(|i| (format!("user-{i:08}"), json!(NOW)))
        .collect();
    let d = doc(&list_payload(1, json!({ "subjects": subjects })));
    assert!(d.len() > MAX_DOCUMENT_BYTES, "{}", d.len());
    assert_eq!(read(&g, &d).map(|l| l.seq), Err(RevocationError::TooLarge));
    // One within the cap is read.
    let subjects: serde_json::Map<String, Value> = (0..5000)
        .map(|i| (format!("user-{i:08}"), json!(NOW)))
        .collect();
    let d = doc(&list_payload(1, json!({ "subjects": subjects })));
    assert!(d.len() <= MAX_DOCUMENT_BYTES);
    assert_eq!(read(&g, &d).map(|l| l.len()), Ok(5000));
}

#[test]
fn an_older_list_never_replaces_the_one_held() {
    let g = gate(&[]);
    let mut r = holding(
        &g,
        &list_payload(7, json!({"subjects": {"alice": NOW - 50}})),
    );
    // An older version (a stale copy somewhere, or a replayed document) with fewer entries.
    let older = read(&g, &doc(&list_payload(6, json!({})))).expect("authentic");
    assert_eq!(
        r.offer(NOW_MS, INTERVAL_MS, older),
        Err(RevocationError::Rollback)
    );
    let old = cookie_for("alice", json!({}));
    assert_eq!(
        decided(step(&g, &api(&old), &r, NOW, false)).reason,
        "revoked"
    );
    // The same version signed again renews it; a newer one replaces it.
    let renewed = read(
        &g,
        &doc(&list_payload(7, json!({"subjects": {"alice": NOW - 50}}))),
    )
    .unwrap();
    assert_eq!(r.offer(NOW_MS, INTERVAL_MS, renewed), Ok(Offered::Renewed));
    let newer = read(&g, &doc(&list_payload(8, json!({})))).unwrap();
    assert_eq!(r.offer(NOW_MS, INTERVAL_MS, newer), Ok(Offered::Newer));
    assert_eq!(decided(step(&g, &api(&old), &r, NOW, false)).reason, "ok");
}

#[test]
fn a_public_key_document_asks_for_its_signature() {
    let jwks = serde_json::from_str::<Value>(include_str!("fixtures/jws.json")).unwrap()["jwks"]
        .to_string();
    let g = gate(&[("ALGORITHMS", "HS256,ES256"), ("JWKS", &jwks)]);
    let es_kid = serde_json::from_str::<Value>(&jwks).unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["crv"] == "P-256")
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .unwrap();
    let header =
        common::b64(json!({"alg": "ES256", "typ": DOCUMENT_TYP, "kid": es_kid}).to_string());
    let body = format!(
        "{header}.{}.{}",
        common::b64(list_payload(3, json!({})).to_string()),
        common::b64([7u8; 64])
    );
    let ask = Answered(|_: &Key, _: &SignatureInput<'_>| None);
    let DocumentStep::NeedSignature(q) = g.revocation_document(&body, NOW_MS, None, &ask) else {
        panic!("an ES256 document is a question for WebCrypto");
    };
    assert_eq!(q.keys.len(), 1);
    assert_eq!(q.signature, vec![7u8; 64]);
    let yes = Answered(|_: &Key, _: &SignatureInput<'_>| Some(true));
    assert!(
        matches!(g.revocation_document(&body, NOW_MS, None, &yes), DocumentStep::Verified(l) if l.seq == 3)
    );
    let no = Answered(|_: &Key, _: &SignatureInput<'_>| Some(false));
    assert!(matches!(
        g.revocation_document(&body, NOW_MS, None, &no),
        DocumentStep::Refused(RevocationError::Signature)
    ));
    // A signature of the wrong length never reaches WebCrypto.
    let short = format!(
        "{}.{}",
        &body[..body.rfind('.').unwrap()],
        common::b64([7u8; 63])
    );
    assert!(matches!(
        g.revocation_document(&short, NOW_MS, None, &ask),
        DocumentStep::Refused(RevocationError::Signature)
    ));
}

#[test]
fn a_document_is_never_an_access_token() {
    let g = common::gate(&[]);
    let d = doc(&json!({"sub": "alice", "iat": NOW, "exp": NOW + 60, "seq": 1}));
    let o = g.decide(&api(&format!("access={d}")), NOW);
    assert_eq!(o.reason, "typ_mismatch");
}

#[test]
fn revocation_configuration_names_its_keys() {
    let err = |extra: &[(&'static str, &str)]| {
        let mut vars = common::base_vars();
        for (k, v) in extra {
            vars.insert(k, (*v).to_owned());
        }
        common::load(&vars).map(|_| ()).unwrap_err().key
    };
    assert_eq!(
        err(&[("REVOCATION_URL", "ftp://x.example/r")]),
        "REVOCATION_URL"
    );
    assert_eq!(
        err(&[("REVOCATION_URL", "http://x.example/r")]),
        "REVOCATION_URL"
    );
    assert_eq!(
        err(&[("REVOCATION_URL", URL), ("REVOCATION_REFRESH_SECONDS", "0")]),
        "REVOCATION_REFRESH_SECONDS"
    );
    assert_eq!(
        err(&[
            ("REVOCATION_URL", URL),
            ("REVOCATION_REFRESH_SECONDS", "301")
        ]),
        "REVOCATION_REFRESH_SECONDS"
    );
    assert_eq!(
        err(&[
            ("REVOCATION_URL", URL),
            ("REVOCATION_REFRESH_SECONDS", "30"),
            ("REVOCATION_MAX_AGE_SECONDS", "20")
        ]),
        "REVOCATION_MAX_AGE_SECONDS"
    );
    assert_eq!(
        err(&[("REVOCATION_URL", URL), ("REVOCATION_FAIL", "maybe")]),
        "REVOCATION_FAIL"
    );
    assert_eq!(err(&[("REVOCATION_FAIL", "open")]), "REVOCATION_FAIL");
    assert_eq!(err(&[("REVOCATION_KV", "a-string")]), "REVOCATION_KV");
    assert_eq!(
        err(&[
            ("REVOCATION_URL", URL),
            ("REVOCATION_KV", edgegate::config::KV_BINDING)
        ]),
        "REVOCATION_KV"
    );
    assert_eq!(
        err(&[("REVOCATION_URL", URL), ("REVOCATION_KV_KEY", "k")]),
        "REVOCATION_KV_KEY"
    );
    let g = common::gate(&[("REVOCATION_KV", edgegate::config::KV_BINDING)]);
    let rc = g.config().revocation.clone().unwrap();
    assert_eq!(
        rc.source,
        edgegate::config::RevocationSource::Kv {
            key: "revocations".into()
        }
    );
    assert_eq!(
        (rc.refresh_seconds, rc.max_age_seconds, rc.fail_open),
        (5, 60, false)
    );
}
