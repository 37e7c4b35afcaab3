//! Every JWS algorithm with keys from a JWK Set, against tokens signed by an independent
//! implementation (Node's crypto / OpenSSL, `scripts/gen-fixtures.mjs` → `tests/fixtures/jws.json`).

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edgegate::gate::{Action, Gate, Outcome, RequestParts};
use serde_json::Value;

/// Later than the shared clock: the fixture tokens were minted for it.
const NOW: i64 = 1_800_000_000;
const ALL: &str = "HS256,HS384,HS512,RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA";

fn fixtures() -> Value {
    let text = include_str!("fixtures/jws.json");
    serde_json::from_str(text).expect("fixture JSON")
}

fn gate_with(algorithms: &str, jwks: &str) -> Gate {
    common::gate(&[
        ("ALGORITHMS", algorithms),
        ("JWKS", jwks),
        ("ISSUER", "https://id.example"),
        ("AUDIENCE", "edge"),
    ])
}

fn decide(g: &Gate, token: &str) -> Outcome {
    let cookie = format!("access={token}");
    let req = RequestParts {
        method: "GET",
        path: "/api",
        cookie: Some(&cookie),
        ..Default::default()
    };
    g.decide(&req, NOW)
}

fn tokens(f: &Value) -> Vec<(String, String, String, String)> {
    f["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().expect("string").to_owned();
            (s("alg"), s("kid"), s("sub"), s("token"))
        })
        .collect()
}

#[test]
fn every_algorithm_verifies_independently_signed_tokens() {
    let f = fixtures();
    let g = gate_with(ALL, &f["jwks"].to_string());
    for (alg, _, sub, token) in tokens(&f) {
        let o = decide(&g, &token);
        match &o.action {
            Action::Forward {
                identity: Some(id), ..
            } => assert_eq!(id.sub, sub, "{alg}"),
            _ => panic!("{alg}: {o:?}"),
        }
        assert_eq!(o.alg.map(|a| a.name()), Some(alg.as_str()));
    }
}

#[test]
fn tampered_tokens_fail_for_every_algorithm() {
    let f = fixtures();
    let g = gate_with(ALL, &f["jwks"].to_string());
    for (alg, _, _, token) in tokens(&f) {
        let (input, sig) = token.rsplit_once('.').expect("three segments");
        // One flipped signature bit.
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).expect("b64");
        let last = bytes.len() - 1;
        bytes[last / 2] ^= 0x01;
        let flipped = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            decide(&g, &flipped).reason,
            "bad_signature",
            "{alg} flipped"
        );
        // Another payload under the original signature.
        let (h, _) = input.split_once('.').expect("two segments");
        let evil = URL_SAFE_NO_PAD
            .encode(r#"{"sub":"admin","exp":4102444800,"iss":"https://id.example","aud":"edge"}"#);
        assert_eq!(
            decide(&g, &format!("{h}.{evil}.{sig}")).reason,
            "bad_signature",
            "{alg} payload"
        );
        // Truncated signature.
        let short = format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
        );
        assert_eq!(
            decide(&g, &short).reason,
            "bad_signature",
            "{alg} truncated"
        );
    }
}

#[test]
fn a_key_is_never_used_for_another_algorithm_family() {
    let f = fixtures();
    let g = gate_with(ALL, &f["jwks"].to_string());
    let toks = tokens(&f);
    let rs = toks.iter().find(|t| t.0 == "RS256").expect("RS256 fixture");
    let es = toks.iter().find(|t| t.0 == "ES256").expect("ES256 fixture");
    // An ES256 token naming the RSA key's kid: the P-256 family has no such kid.
    let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","kid":"{}"}}"#, rs.1));
    let mut parts: Vec<&str> = es.3.split('.').collect();
    parts[0] = &header;
    assert_eq!(decide(&g, &parts.join(".")).reason, "unknown_kid");
    // The classic confusion: HS256 "signed" with the RSA public key as the HMAC secret.
    let jwk = f["jwks"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == rs.1.as_str())
        .expect("rsa jwk");
    let payload = URL_SAFE_NO_PAD
        .encode(r#"{"sub":"admin","exp":4102444800,"iss":"https://id.example","aud":"edge"}"#);
    for (secret, kid) in [
        (jwk.to_string(), Some(rs.1.clone())),
        (jwk["n"].as_str().expect("n").to_owned(), None),
        (
            String::from_utf8(
                URL_SAFE_NO_PAD
                    .decode(jwk["n"].as_str().expect("n"))
                    .unwrap_or_default(),
            )
            .unwrap_or_default(),
            None,
        ),
    ] {
        let header = match &kid {
            Some(k) => format!(r#"{{"alg":"HS256","kid":"{k}"}}"#),
            None => r#"{"alg":"HS256"}"#.to_owned(),
        };
        let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header));
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("hmac");
        let o = decide(&g, &format!("{input}.{sig}"));
        assert!(
            matches!(o.reason.code(), "unknown_kid" | "bad_signature"),
            "{kid:?}: {o:?}"
        );
        assert_eq!(o.status(), Some(401));
    }
}

#[test]
fn unlisted_algorithms_are_refused_even_with_a_key() {
    let f = fixtures();
    let g = gate_with("HS256,ES256", &f["jwks"].to_string());
    for (alg, _, _, token) in tokens(&f) {
        let o = decide(&g, &token);
        if alg == "ES256" || alg == "HS256" {
            assert_eq!(o.reason, "ok");
        } else {
            assert_eq!(o.reason, "alg_not_allowed", "{alg}");
        }
    }
}

#[test]
fn rotating_hmac_secrets_select_by_kid() {
    let g = common::gate(&[
        ("JWT_SECRET", ""),
        (
            "JWT_SECRETS",
            r#"{"old":"old-secret-old-secret-0000","new":"new-secret-new-secret-1111"}"#,
        ),
    ]);
    let mint = |kid: &str, secret: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some(kid.to_owned());
        let claims = serde_json::json!({"sub": "a", "exp": NOW + 60});
        jsonwebtoken::encode(
            &h,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("encode")
    };
    assert_eq!(
        decide(&g, &mint("old", "old-secret-old-secret-0000")).reason,
        "ok"
    );
    assert_eq!(
        decide(&g, &mint("new", "new-secret-new-secret-1111")).reason,
        "ok"
    );
    assert_eq!(
        decide(&g, &mint("new", "old-secret-old-secret-0000")).reason,
        "bad_signature"
    );
    assert_eq!(
        decide(&g, &mint("gone", "old-secret-old-secret-0000")).reason,
        "unknown_kid"
    );
    // Two named keys and a token without kid: no unique choice, refused.
    let no_kid = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &serde_json::json!({"sub": "a", "exp": NOW + 60}),
        &jsonwebtoken::EncodingKey::from_secret(b"old-secret-old-secret-0000"),
    )
    .expect("encode");
    assert_eq!(decide(&g, &no_kid).reason, "no_key");
}
