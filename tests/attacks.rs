//! Hostile input (issue #9): the RFC 8725 attack list, one test per bullet of the issue, each
//! through `Gate::decide` (the whole decision) and each asserting the **specific reason code**, so
//! removing the check it targets makes the test fail.
//!
//! Every token meant to be refused is otherwise valid — correctly HS256-signed with the gate's
//! secret, unexpired, with `sub` — unless the point of the case is the signature itself.
//!
//! The signature-malleability cases for ES256/ES384/RS256/PS256/EdDSA run through a gate whose
//! inline `JWKS` holds this file's test public keys (next to `JWT_SECRET`); at the HS256-only
//! gate the same tokens are `alg_not_allowed`.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::{b64, hmac as hmac_sig, NOW, ORIGIN, SECRET};
use edgegate::config::Config;
use edgegate::gate::{Action, Gate, Outcome, RequestParts};
use edgegate::low_level::alg::Alg;
use edgegate::low_level::claims::ClaimRules;
use edgegate::low_level::keys::KeySet;
use edgegate::verify::Verifier;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use std::collections::HashMap;

// ---------------------------------------------------------------------------------------------
// Test keys (generated for this file with openssl; never used anywhere else)
// ---------------------------------------------------------------------------------------------

/// RSA-2048 private key (PKCS#1 DER, base64), generated for these tests only.
const RSA_PKCS1_DER_B64: &str = concat!(
    "MIIEowIBAAKCAQEAzFpBYmi8G2SUshUMvG2C5DeYOjaYMjS5QINGatmokfuTh5wALLs1Z05dILMvyR2fj2jv5Yyu",
    "VtyyjvGURz3D/FCxAGwmVlIlcyFhlgDTv+g2AhSz4qpdoOech1vOl3UyttZnrcC9b/yUqcVID6qOJ+AYI/tbqezm",
    "iYA8RD0QTfRcOR3pWpmU0xX9rMBUCmeabR0/lokCBm5vV1PvfgNIhkK3CA9JqPWrEI+uUdTBDSZzJXNK0gBMo8mE",
    "9O6wz7vTRzCp+YIbw1vGME1tRsVdBQ+OU3aVnLxwei0HTu1ONOhbTFoMF+Rox8hJpRjIs3aRejoutb3Fi3rFCbyw",
    "AyRkiwIDAQABAoIBAEsHpnMZ7lsGanwaM3NpqAHgEbHqAqaIai4wJOYtZXG4E3pagkvqLpjwEkxjzhtDF6chiddX",
    "+FjnLl5Cf8VKfc+B1wNHMipGff6QFpLrWdPf0BiifkuubrMZ5wRh5nAAtW6hOS74EfXwoKrWxvcNkaU9Z8+qRgUV",
    "eK2qmjYZz4c3Fbq+KT0xVMesamLQzpYAeYDe4lNUJuQVuUuuJb0bqE4dgBXexGil31uV7JrO9KONLNUIlpAwBhcU",
    "zD0jVQ7c8I1wAmVs5c4SGb/whyinIFi1oQeTt273cnXhEnS+UYYgqHMYtT7meI2mkO6voFu58bIH4M5OPFhn9kL8",
    "3PbEXn0CgYEA6P1BvQPAEK9JRHc7D/wj7xrlfAQRGmQ/+94DRKO0SExv1EdHK0vZNgu9ba/NThKtEdK+IfH6qhsT",
    "ezrRBlbhAUvK3ACNTlWlHIuXoi+pNXY4krmYzS9xN8owdiXFV1as+K8vsazkmtpnFgwQsx5DgCw9IySlrhWCen3V",
    "5ZhjVhUCgYEA4Ij3kvQejtkQcfUdlbuprO9CvyDL8IvkQDt7aQg43hEL9NHDWBS7N4lmqfjdGJLickuaB39rWIHM",
    "BR77rXsYI4ftU0+v8HfkBLp61MZuhBuoRnW72uu6gBvP5q8bvMDbGg8PJU6fcUgqfsEIkAXaK1VH2tKKC0BITLpf",
    "BaifGB8CgYEAwG3rjaE7UIx1hway0VD+nM0qHHN/bLy/29ZR/K74h34aHsmADlJm5CxuF9nLR2BFcSMNxhuFXFlg",
    "jbbWTNYUoG1o7qvGCZzS8fCZHGsg5fbuYsDHYzB74ggsXmhzxN7hncOTMLwLU5pu6datNEManRHsrMnnzRAW4/Rq",
    "ZWanJMECgYAWfgH26ZdqDdp03+3/wtXDahBQnxNu3ESYHp1FLzqrHCALfTvJRgJfFNeA7VoQjR47/tDGMYBqVE5A",
    "sRLbFPqdDI+8ib4BI7Fmu9t0FxCZEUAxFrgjvPtou+B+pknsBZGtMZb90LtuGKGRIvsdmkh5kMhq5i5H5D+Z2A2O",
    "vo55VwKBgFrwOstEq7DnP+hmBDvsumTK+3xkRARI4GjJ8hP6U2hZ0qI9z9ZIj1SmRZqLNXHb7DTc/y7StvgNfeHf",
    "lvxjLl7SD8HJ33Be5UGqDatAUtgM3zL6bOcBc4HVugbfQoxi8v3JluKaRd/+72bW0qFCW+bFwnTZq0rz8QlHbFRP",
    "EU/7",
);

/// Its public key (SubjectPublicKeyInfo DER, base64).
const RSA_SPKI_B64: &str = concat!(
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzFpBYmi8G2SUshUMvG2C5DeYOjaYMjS5QINGatmokfuT",
    "h5wALLs1Z05dILMvyR2fj2jv5YyuVtyyjvGURz3D/FCxAGwmVlIlcyFhlgDTv+g2AhSz4qpdoOech1vOl3UyttZn",
    "rcC9b/yUqcVID6qOJ+AYI/tbqezmiYA8RD0QTfRcOR3pWpmU0xX9rMBUCmeabR0/lokCBm5vV1PvfgNIhkK3CA9J",
    "qPWrEI+uUdTBDSZzJXNK0gBMo8mE9O6wz7vTRzCp+YIbw1vGME1tRsVdBQ+OU3aVnLxwei0HTu1ONOhbTFoMF+Ro",
    "x8hJpRjIs3aRejoutb3Fi3rFCbywAyRkiwIDAQAB",
);

/// P-256 private key (PKCS#8 DER, base64), generated for these tests only.
const P256_PKCS8_B64: &str = concat!(
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgy+frh5B12q9vgDVLCkaDAKQbweJIE6mpb9hXrrEH",
    "kLahRANCAASjI22SQsCvCTeTGWCDzcxFjCU3/LChFEYwTVEKgL0avwUXrc2cri7DiY6pTjAwzPrvEicSKp71wF2u",
    "CIFVyb+U",
);

/// Its public key (SPKI DER, base64).
const P256_SPKI_B64: &str = concat!(
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoyNtkkLArwk3kxlgg83MRYwlN/ywoRRGME1RCoC9Gr8FF63NnK4u",
    "w4mOqU4wMMz67xInEiqe9cBdrgiBVcm/lA==",
);

/// P-384 private key (PKCS#8 DER, base64), generated for these tests only.
const P384_PKCS8_B64: &str = concat!(
    "MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDCJIXqHsPM7ESIDpQaEdG9wha8dpkEkbCiLhYH+xY0i",
    "Si6NP3VM3La7dSkvQT4r3ZChZANiAARIqdmrzbGKVAT02b7S35RW7bxTSUtQjDsJKp+nopGaXKOVWH23RIJOPS9A",
    "hQIMCQeWgO5N73ux+EgJ/gAM67RD9sj2JCKHH3teZjGxxFPQgYcKFxj/kxPLy+h/uwjnd7E=",
);

/// Ed25519 private key (PKCS#8 DER, base64), generated for these tests only.
const ED25519_PKCS8_B64: &str = "MC4CAQAwBQYDK2VwBCIEIOA8tvYVHoLfbGoln53py7t7AKjZCpnw+GU0yVb0LXyY";

/// Its public key (SPKI DER, base64).
const ED25519_SPKI_B64: &str = "MCowBQYDK2VwAyEAfT5rqsHnxmPsNMEXTSS7TkCShvMfFutAfFkNa/DL4v0=";

/// The P-384 public key (SPKI DER, base64).
const P384_SPKI_B64: &str = concat!(
    "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAESKnZq82xilQE9Nm+0t+UVu28U0lLUIw7CSqfp6KRmlyjlVh9t0SCTj0v",
    "QIUCDAkHloDuTe97sfhICf4ADOu0Q/bI9iQihx97XmYxscRT0IGHChcY/5MTy8vof7sI53ex",
);
/// The RSA modulus (base64url) and exponent.
const RSA_N: &str = concat!(
    "zFpBYmi8G2SUshUMvG2C5DeYOjaYMjS5QINGatmokfuTh5wALLs1Z05dILMvyR2fj2jv5YyuVtyyjvGURz3D_FCx",
    "AGwmVlIlcyFhlgDTv-g2AhSz4qpdoOech1vOl3UyttZnrcC9b_yUqcVID6qOJ-AYI_tbqezmiYA8RD0QTfRcOR3p",
    "WpmU0xX9rMBUCmeabR0_lokCBm5vV1PvfgNIhkK3CA9JqPWrEI-uUdTBDSZzJXNK0gBMo8mE9O6wz7vTRzCp-YIb",
    "w1vGME1tRsVdBQ-OU3aVnLxwei0HTu1ONOhbTFoMF-Rox8hJpRjIs3aRejoutb3Fi3rFCbywAyRkiw",
);
const RSA_E: &str = "AQAB";

// ---------------------------------------------------------------------------------------------
// Gates, tokens, requests, assertions
// ---------------------------------------------------------------------------------------------

/// The shared base configuration with bearer tokens accepted, and `extra` on top.
fn gate_with(extra: &[(&'static str, &str)]) -> Gate {
    let mut vars = vec![("ACCEPT_BEARER", "true")];
    vars.extend_from_slice(extra);
    common::gate(&vars)
}

fn gate() -> Gate {
    gate_with(&[])
}

/// Raw header and payload bytes, HS256-signed with the gate's secret.
fn signed_bytes(header: &[u8], payload: &[u8]) -> String {
    common::sign_raw(header, payload, SECRET.as_bytes(), Algorithm::HS256)
}

/// Raw header and payload JSON text, HS256-signed with the gate's secret.
fn signed(header: &str, payload: &str) -> String {
    signed_bytes(header.as_bytes(), payload.as_bytes())
}

const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn payload() -> String {
    format!(
        r#"{{"sub":"alice","exp":{},"iat":{}}}"#,
        NOW + 600,
        NOW - 60
    )
}

fn good() -> String {
    signed(HS256, &payload())
}

/// An API request carrying `token` in the access cookie.
fn with_cookie(cookie: &str) -> RequestParts<'_> {
    RequestParts {
        method: "GET",
        path: "/api/data",
        cookie: Some(cookie),
        accept: Some("application/json"),
        ..Default::default()
    }
}

fn decide_cookie(g: &Gate, token: &str) -> Outcome {
    let c = format!("theme=dark; access={token}");
    g.decide(&with_cookie(&c), NOW)
}

fn decide_bearer(g: &Gate, token: &str) -> Outcome {
    let h = format!("Bearer {token}");
    let req = RequestParts {
        authorization: Some(&h),
        ..with_cookie("")
    };
    g.decide(&req, NOW)
}

#[track_caller]
fn assert_forwarded(o: &Outcome, ctx: &str) {
    match &o.action {
        Action::Forward {
            identity: Some(id), ..
        } => assert_eq!(id.sub, "alice", "{ctx}"),
        other => panic!(
            "{ctx}: expected a forward with identity, got {other:?} ({})",
            o.reason
        ),
    }
}

/// Refused with `status` and the log reason `reason`, whether the token came as a cookie or as a
/// bearer token.
#[track_caller]
fn assert_refused(g: &Gate, token: &str, status: u16, reason: &str, ctx: &str) {
    for (how, o) in [
        ("cookie", decide_cookie(g, token)),
        ("bearer", decide_bearer(g, token)),
    ] {
        assert_eq!(
            (o.status(), o.reason.code()),
            (Some(status), reason),
            "{ctx} ({how}): {o:?}"
        );
    }
}

#[track_caller]
fn assert_invalid(g: &Gate, token: &str, reason: &str, ctx: &str) {
    assert_refused(g, token, 401, reason, ctx);
}

// ---------------------------------------------------------------------------------------------
// 1. Token-level: alg, signature presence, confusion, allow-list, crit, b64, JWE, typ
// ---------------------------------------------------------------------------------------------

#[test]
fn control_a_well_formed_token_is_forwarded() {
    let g = gate();
    assert_forwarded(&decide_cookie(&g, &good()), "cookie");
    assert_forwarded(&decide_bearer(&g, &good()), "bearer");
}

#[test]
fn alg_none_in_every_spelling_with_or_without_a_signature() {
    let g = gate();
    let p = payload();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let unsigned = format!("{}.{}.", b64(&header), b64(&p));
        assert_invalid(
            &g,
            &unsigned,
            "alg_none",
            &format!("{alg}, empty signature"),
        );
        // Even with a perfectly good HMAC over the input, "none" is refused by name.
        assert_invalid(
            &g,
            &signed(&header, &p),
            "alg_none",
            &format!("{alg}, signed"),
        );
    }
}

#[test]
fn empty_or_stripped_signatures() {
    let g = gate();
    let t = good();
    let (input, _) = t.rsplit_once('.').unwrap();
    assert_invalid(&g, &format!("{input}."), "missing_signature", "a.b.");
    assert_invalid(&g, input, "malformed", "a.b (signature and dot stripped)");
    assert_invalid(
        &g,
        &format!("{input}.."),
        "malformed",
        "a.b.. (extra empty segment)",
    );
    // Valid base64url but a zero-length-after-decoding impossibility: one char is never canonical.
    assert_invalid(
        &g,
        &format!("{input}.A"),
        "bad_base64",
        "one-character signature",
    );
    assert_invalid(
        &g,
        &format!("{input}.AA"),
        "bad_signature",
        "one-byte signature",
    );
}

/// The public key texts an attacker can find: SPKI DER bytes, PEM text and JWK JSON text.
fn public_key_texts() -> Vec<(&'static str, Vec<u8>)> {
    let pem = |der_b64: &str| {
        let lines: Vec<String> = der_b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
        .into_bytes()
    };
    let der = |der_b64: &str| STANDARD.decode(der_b64).unwrap();
    let p256 = der(P256_SPKI_B64);
    let (x, y) = p256[p256.len() - 64..].split_at(32);
    let ed = der(ED25519_SPKI_B64);
    vec![
        ("RSA SPKI DER", der(RSA_SPKI_B64)),
        ("RSA PEM", pem(RSA_SPKI_B64)),
        (
            "RSA JWK",
            json!({"kty":"RSA","n":RSA_N,"e":RSA_E})
                .to_string()
                .into_bytes(),
        ),
        ("P-256 SPKI DER", p256.clone()),
        ("P-256 PEM", pem(P256_SPKI_B64)),
        (
            "P-256 JWK",
            json!({"kty":"EC","crv":"P-256","x":b64(x),"y":b64(y)})
                .to_string()
                .into_bytes(),
        ),
        ("P-384 PEM", pem(P384_SPKI_B64)),
        ("Ed25519 raw", ed[ed.len() - 32..].to_vec()),
        ("Ed25519 PEM", pem(ED25519_SPKI_B64)),
    ]
}

#[test]
fn algorithm_confusion_public_keys_as_hmac_secrets() {
    let g = gate();
    let p = payload();
    for (what, key) in public_key_texts() {
        // Header says HS256, "secret" is a public key: just a wrong secret.
        let input = format!("{}.{}", b64(HS256), b64(&p));
        let t = format!("{input}.{}", hmac_sig(&input, &key, Algorithm::HS256));
        assert_invalid(&g, &t, "bad_signature", &format!("HS256 over {what}"));
        // Header names the asymmetric algorithm, signature is HMAC over the public key: the token's
        // alg never chooses the key type, and none of these is pinned.
        for alg in ["RS256", "PS256", "ES256", "ES384", "EdDSA"] {
            let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
            let input = format!("{}.{}", b64(&header), b64(&p));
            let t = format!("{input}.{}", hmac_sig(&input, &key, Algorithm::HS256));
            assert_invalid(
                &g,
                &t,
                "alg_not_allowed",
                &format!("{alg} header, HMAC over {what}"),
            );
        }
    }
}

#[test]
fn algorithm_confusion_is_impossible_even_when_both_families_are_configured() {
    // A gate that pins HS256 *and* RS256/PS256/ES256/ES384/EdDSA, with a secret and public keys.
    let g = asymmetric_gate();
    let p = payload();
    assert_forwarded(
        &decide_cookie(&g, &good()),
        "control: HS256 with the secret",
    );
    for (what, key) in public_key_texts() {
        let input = format!("{}.{}", b64(HS256), b64(&p));
        let t = format!("{input}.{}", hmac_sig(&input, &key, Algorithm::HS256));
        assert_invalid(&g, &t, "bad_signature", &format!("HS256 over {what}"));
    }
    // HS256 pinned but no HMAC key at all: no key (the public keys are never candidates).
    let v = public_keys_only_verifier();
    let input = format!("{}.{}", b64(HS256), b64(&p));
    for (what, key) in public_key_texts() {
        let t = format!("{input}.{}", hmac_sig(&input, &key, Algorithm::HS256));
        assert_eq!(v.verify(&t, NOW).unwrap_err().code(), "no_key", "{what}");
    }
    // ...which configuration refuses up front.
    let jwks = test_jwks();
    let vars: HashMap<&str, String> = HashMap::from([
        ("ORIGIN_URL", ORIGIN.to_string()),
        ("ALGORITHMS", "HS256,ES256".to_string()),
        ("JWKS", jwks),
    ]);
    assert!(Config::from_lookup(&|k| vars.get(k).cloned()).is_err());
}

#[test]
fn algorithms_outside_the_allow_list() {
    let g = gate();
    let p = payload();
    let mint = |alg: Algorithm, name: &str| {
        let input = format!("{}.{}", b64(format!(r#"{{"alg":"{name}"}}"#)), b64(&p));
        format!("{input}.{}", hmac_sig(&input, SECRET.as_bytes(), alg))
    };
    assert_invalid(
        &g,
        &mint(Algorithm::HS384, "HS384"),
        "alg_not_allowed",
        "HS384, right key",
    );
    assert_invalid(
        &g,
        &mint(Algorithm::HS512, "HS512"),
        "alg_not_allowed",
        "HS512, right key",
    );
    for name in [
        "hs256", "HS256 ", " HS256", "HS-256", "RS1", "ES512", "Ed25519", "dir", "",
    ] {
        assert_invalid(
            &g,
            &signed(&format!(r#"{{"alg":"{name}"}}"#), &p),
            "alg_not_allowed",
            name,
        );
    }
    // alg missing or not a string.
    assert_invalid(&g, &signed(r#"{"typ":"JWT"}"#, &p), "bad_header", "no alg");
    assert_invalid(
        &g,
        &signed(r#"{"alg":["HS256"]}"#, &p),
        "bad_header",
        "alg array",
    );
    assert_invalid(&g, &signed(r#"{"alg":null}"#, &p), "bad_header", "alg null");
}

#[test]
fn crit_with_any_member_is_refused() {
    let g = gate();
    let p = payload();
    for header in [
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","crit":["x-unknown"],"x-unknown":true}"#,
        r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":"exp"}"#,
        r#"{"alg":"HS256","crit":null}"#,
    ] {
        assert_invalid(&g, &signed(header, &p), "crit_unsupported", header);
    }
}

#[test]
fn unencoded_payload_b64_false_is_refused() {
    let g = gate();
    let p = payload();
    for header in [
        r#"{"alg":"HS256","b64":false}"#,
        r#"{"alg":"HS256","b64":true}"#,
    ] {
        assert_invalid(&g, &signed(header, &p), "b64_unsupported", header);
    }
}

#[test]
fn nested_and_encrypted_tokens_are_refused() {
    let g = gate();
    let p = payload();
    let jwe = format!(
        "{}.{}.{}.{}.{}",
        b64(r#"{"alg":"dir","enc":"A256GCM"}"#),
        "",
        b64("0123456789ab"),
        b64("ciphertext"),
        b64("0123456789abcdef")
    );
    assert_invalid(&g, &jwe, "encrypted_token", "5-part JWE");
    let jwe_with_key = jwe.replacen("..", &format!(".{}.", b64("wrapped-key")), 1);
    assert_invalid(
        &g,
        &jwe_with_key,
        "encrypted_token",
        "5-part JWE with a key",
    );
    for header in [
        r#"{"alg":"HS256","enc":"A128GCM"}"#,
        r#"{"alg":"HS256","zip":"DEF"}"#,
    ] {
        assert_invalid(&g, &signed(header, &p), "encrypted_token", header);
    }
    for header in [
        r#"{"alg":"HS256","cty":"JWT"}"#,
        r#"{"alg":"HS256","cty":"jwt"}"#,
        r#"{"alg":"HS256","cty":"application/JWT"}"#,
    ] {
        assert_invalid(&g, &signed(header, &p), "nested_token", header);
    }
    // 4 segments: neither a JWS nor a JWE.
    assert_invalid(&g, &format!("{}.x", good()), "malformed", "4 segments");
}

#[test]
fn typ_must_match_when_configured() {
    let g = gate_with(&[("TYP", "at+jwt")]);
    let p = payload();
    for ok in [
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","typ":"AT+JWT"}"#,
        r#"{"alg":"HS256","typ":"application/at+jwt"}"#,
    ] {
        assert_forwarded(&decide_cookie(&g, &signed(ok, &p)), ok);
    }
    for bad in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":"at+jwt "}"#,
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
        r#"{"alg":"HS256","typ":"dpop+jwt"}"#,
    ] {
        assert_invalid(&g, &signed(bad, &p), "typ_mismatch", bad);
    }
    assert_invalid(
        &g,
        &signed(r#"{"alg":"HS256","typ":7}"#, &p),
        "bad_header",
        "typ number",
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Header key injection: jwk / jku / x5u / x5c never used, kid only a map key
// ---------------------------------------------------------------------------------------------

#[test]
fn embedded_and_remote_keys_are_never_used() {
    let g = gate();
    let p = payload();
    let attacker = b"attacker-secret-attacker-secret!";
    let headers = [
        format!(
            r#"{{"alg":"HS256","jwk":{{"kty":"oct","k":"{}"}}}}"#,
            b64(attacker)
        ),
        r#"{"alg":"HS256","jku":"https://attacker.example/jwks.json"}"#.to_string(),
        r#"{"alg":"HS256","x5u":"https://attacker.example/cert.pem"}"#.to_string(),
        r#"{"alg":"HS256","x5c":["MIIBszCCAVmgAwIBAgIUY29uZnVzZWQ="]}"#.to_string(),
        r#"{"alg":"HS256","jku":"http://169.254.169.254/latest/meta-data/"}"#.to_string(),
    ];
    for h in &headers {
        // Signed with the attacker's key the header points at: refused on the signature.
        let input = format!("{}.{}", b64(h), b64(&p));
        let forged = format!("{input}.{}", hmac_sig(&input, attacker, Algorithm::HS256));
        assert_invalid(&g, &forged, "bad_signature", h);
        // Signed with the real secret: accepted, the parameter is ignored (and `decide` is pure:
        // it has no way to fetch a URL).
        assert_forwarded(&decide_cookie(&g, &signed(h, &p)), h);
    }
}

#[test]
fn kid_is_only_ever_a_map_key() {
    // The configured JWT_SECRET has no kid, so any kid names a key that does not exist.
    let g = gate();
    let p = payload();
    let long = "k".repeat(edgegate::low_level::token::MAX_KID_BYTES);
    for kid in [
        "../../../../../../dev/null",
        "/dev/null",
        "..\\..\\windows\\win.ini",
        "file:///etc/passwd",
        "' OR '1'='1' --",
        "x'; DROP TABLE keys; --",
        "$(curl attacker.example)",
        "%00",
        "\u{0000}",
        long.as_str(),
    ] {
        let header = json!({"alg":"HS256","kid":kid}).to_string();
        assert_invalid(&g, &signed(&header, &p), "unknown_kid", kid);
        // The /dev/null classic: an empty HMAC key. Refused before any signature check.
        let input = format!("{}.{}", b64(&header), b64(&p));
        let t = format!("{input}.{}", hmac_sig(&input, b"", Algorithm::HS256));
        assert_invalid(
            &g,
            &t,
            "unknown_kid",
            &format!("{kid}, empty-key signature"),
        );
    }
    let too_long =
        json!({"alg":"HS256","kid":"k".repeat(edgegate::low_level::token::MAX_KID_BYTES + 1)});
    assert_invalid(
        &g,
        &signed(&too_long.to_string(), &p),
        "bad_kid",
        "kid > 256 bytes",
    );
    assert_invalid(
        &g,
        &signed(r#"{"alg":"HS256","kid":""}"#, &p),
        "bad_kid",
        "empty kid",
    );
    assert_invalid(
        &g,
        &signed(r#"{"alg":"HS256","kid":{"path":"/"}}"#, &p),
        "bad_header",
        "kid object",
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Signature malleability: ECDSA, RSA, Ed25519 (a gate with an inline JWKS)
// ---------------------------------------------------------------------------------------------

fn der(b64_text: &str) -> Vec<u8> {
    STANDARD.decode(b64_text).unwrap()
}

/// The test public keys as an inline JWK Set (what the `JWKS` setting holds).
fn test_jwks() -> String {
    let p256 = der(P256_SPKI_B64);
    let (x, y) = p256[p256.len() - 64..].split_at(32);
    let p384 = der(P384_SPKI_B64);
    let (x4, y4) = p384[p384.len() - 96..].split_at(48);
    let ed = der(ED25519_SPKI_B64);
    json!({"keys": [
        {"kty": "RSA", "n": RSA_N, "e": RSA_E},
        {"kty": "EC", "crv": "P-256", "alg": "ES256", "x": b64(x), "y": b64(y)},
        {"kty": "EC", "crv": "P-384", "x": b64(x4), "y": b64(y4)},
        {"kty": "OKP", "crv": "Ed25519", "x": b64(&ed[ed.len() - 32..])},
    ]})
    .to_string()
}

/// A gate pinning HS256, RS256, PS256, ES256, ES384 and EdDSA: `JWT_SECRET` plus [`test_jwks`].
fn asymmetric_gate() -> Gate {
    let jwks = test_jwks();
    gate_with(&[
        ("ALGORITHMS", "HS256,RS256,PS256,ES256,ES384,EdDSA"),
        ("JWKS", jwks.as_str()),
    ])
}

/// The verifier of a gate that pins HS256 but has no HMAC key at all (configuration refuses
/// that combination, so it is built directly): only the public keys of [`test_jwks`].
fn public_keys_only_verifier() -> Verifier {
    let keys = edgegate::low_level::jwks::parse_jwks(&test_jwks(), false)
        .unwrap()
        .keys;
    assert_eq!(keys.len(), 4);
    Verifier::new(
        [Alg::HS256, Alg::RS256, Alg::ES256, Alg::ES384, Alg::EdDSA]
            .into_iter()
            .collect(),
        KeySet::new(keys),
        ClaimRules {
            leeway: 30,
            ..Default::default()
        },
        None,
    )
}

/// A token for `alg` signed with the matching test private key; returns (signing input, sig).
fn asym_token(alg: Algorithm, name: &str) -> (String, Vec<u8>) {
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_der(&der(P256_PKCS8_B64)),
        Algorithm::ES384 => EncodingKey::from_ec_der(&der(P384_PKCS8_B64)),
        Algorithm::EdDSA => EncodingKey::from_ed_der(&der(ED25519_PKCS8_B64)),
        _ => EncodingKey::from_rsa_der(&der(RSA_PKCS1_DER_B64)),
    };
    let input = format!(
        "{}.{}",
        b64(format!(r#"{{"alg":"{name}"}}"#)),
        b64(payload())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, alg).unwrap();
    (input, URL_SAFE_NO_PAD.decode(sig).unwrap())
}

fn with_sig(input: &str, sig: &[u8]) -> String {
    format!("{input}.{}", b64(sig))
}

/// Big-endian `a - b` for equal-length byte strings (a >= b).
fn be_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        out[i] = d.rem_euclid(256) as u8;
        borrow = i16::from(d < 0);
    }
    out
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of a raw `r || s` signature.
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x = &x[x.iter().position(|b| *b != 0).unwrap_or(x.len() - 1)..];
        let mut v = vec![0x02];
        let pad = x[0] & 0x80 != 0;
        v.push((x.len() + usize::from(pad)) as u8);
        if pad {
            v.push(0);
        }
        v.extend_from_slice(x);
        v
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30];
    if body.len() > 127 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn ecdsa_psychic_signatures_high_s_wrong_length_and_der() {
    let g = asymmetric_gate();
    for (alg, name, n) in [
        (Algorithm::ES256, "ES256", hex(P256_N)),
        (Algorithm::ES384, "ES384", hex(P384_N)),
    ] {
        let (input, sig) = asym_token(alg, name);
        let len = n.len();
        assert_eq!(sig.len(), 2 * len);
        assert_forwarded(&decide_cookie(&g, &with_sig(&input, &sig)), name);
        let refuse = |bad: &[u8], what: &str| {
            let ctx = format!("{name}: {what}");
            assert_invalid(&g, &with_sig(&input, bad), "bad_signature", &ctx);
        };
        // CVE-2022-21449 ("psychic signatures"): r = s = 0, and the other out-of-range scalars.
        refuse(&vec![0; 2 * len], "r = s = 0");
        refuse(&[n.clone(), n.clone()].concat(), "r = s = n");
        refuse(&[vec![0; len], sig[len..].to_vec()].concat(), "r = 0");
        refuse(&[sig[..len].to_vec(), vec![0; len]].concat(), "s = 0");
        refuse(&[sig[..len].to_vec(), n.clone()].concat(), "s = n");
        // Wrong lengths: truncated, extended, doubled, empty-ish.
        refuse(&sig[..2 * len - 1], "one byte short");
        refuse(&[sig.clone(), vec![0]].concat(), "one trailing zero byte");
        refuse(&[vec![0], sig.clone()].concat(), "one leading zero byte");
        refuse(&[sig.clone(), sig.clone()].concat(), "twice");
        refuse(&sig[..len], "r only");
        // DER (ASN.1) instead of the raw r || s JWS uses (RFC 7518 §3.4).
        let der_sig = raw_to_der(&sig);
        assert_ne!(der_sig.len(), sig.len());
        refuse(&der_sig, "DER-encoded");
        // High S: (r, n - s) is the same signature's mirror image. ECDSA (FIPS 186, and Wycheproof's
        // P1363 vectors) calls it valid; it is malleability, not forgery: the claims are the very
        // ones signed, and edgegate keys nothing on the signature bytes.
        let high = [sig[..len].to_vec(), be_sub(&n, &sig[len..])].concat();
        assert_forwarded(
            &decide_cookie(&g, &with_sig(&input, &high)),
            &format!("{name}: (r, n - s)"),
        );
    }
}

#[test]
fn rsa_signatures_of_the_wrong_length() {
    let g = asymmetric_gate();
    for (alg, name) in [(Algorithm::RS256, "RS256"), (Algorithm::PS256, "PS256")] {
        let (input, sig) = asym_token(alg, name);
        assert_eq!(sig.len(), 256);
        assert_forwarded(&decide_cookie(&g, &with_sig(&input, &sig)), name);
        for (what, bad) in [
            // Same integer, one byte longer: must still be refused (length == modulus length).
            ("leading zero byte", [vec![0], sig.clone()].concat()),
            ("trailing zero byte", [sig.clone(), vec![0]].concat()),
            ("one byte short", sig[1..].to_vec()),
            ("all zero", vec![0; 256]),
            ("all 0xff (> n)", vec![0xff; 256]),
            ("512 bytes", [sig.clone(), sig.clone()].concat()),
        ] {
            assert_invalid(
                &g,
                &with_sig(&input, &bad),
                "bad_signature",
                &format!("{name}: {what}"),
            );
        }
    }
}

/// The Ed25519 group order L, little-endian.
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

#[test]
fn ed25519_non_canonical_s_and_wrong_lengths() {
    let g = asymmetric_gate();
    let (input, sig) = asym_token(Algorithm::EdDSA, "EdDSA");
    assert_forwarded(&decide_cookie(&g, &with_sig(&input, &sig)), "EdDSA control");
    // S + L: the same scalar mod L, but not canonical (RFC 8032 §5.1.7 requires S < L).
    let mut s_plus_l = sig.clone();
    let mut carry = 0u16;
    for i in 0..32 {
        let t = u16::from(sig[32 + i]) + u16::from(ED25519_L[i]) + carry;
        s_plus_l[32 + i] = t as u8;
        carry = t >> 8;
    }
    assert_eq!(carry, 0);
    for (what, bad) in [
        ("S + L (non-canonical S)", s_plus_l),
        ("all zero", vec![0; 64]),
        ("one byte short", sig[..63].to_vec()),
        ("one trailing byte", [sig.clone(), vec![0]].concat()),
    ] {
        assert_invalid(&g, &with_sig(&input, &bad), "bad_signature", what);
    }
}

#[test]
fn asymmetric_tokens_at_the_hmac_only_gate() {
    let g = gate();
    for (alg, name) in [
        (Algorithm::ES256, "ES256"),
        (Algorithm::ES384, "ES384"),
        (Algorithm::RS256, "RS256"),
        (Algorithm::PS256, "PS256"),
        (Algorithm::EdDSA, "EdDSA"),
    ] {
        let (input, sig) = asym_token(alg, name);
        assert_invalid(&g, &with_sig(&input, &sig), "alg_not_allowed", name);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Lifetime: absurd exp, MAX_TOKEN_LIFETIME, overflow in leeway arithmetic
// ---------------------------------------------------------------------------------------------

#[test]
fn absurd_exp_values_are_refused() {
    let g = gate();
    for exp in [
        "1e300",
        "1.7976931348623157e308",
        "253402300800",
        "99999999999999999999999",
    ] {
        let p = format!(r#"{{"sub":"alice","exp":{exp}}}"#);
        assert_invalid(&g, &signed(HS256, &p), "bad_claims", exp);
    }
    // Beyond f64: serde_json refuses the number itself.
    let p = r#"{"sub":"alice","exp":1e400}"#;
    assert_invalid(&g, &signed(HS256, p), "bad_json", "1e400");
    // The last second of year 9999 is a NumericDate edgegate reads; without a lifetime cap it is
    // accepted (a deployment that wants a bound sets MAX_TOKEN_LIFETIME, below).
    let p = r#"{"sub":"alice","exp":253402300799}"#;
    assert_forwarded(&decide_cookie(&g, &signed(HS256, p)), "exp = 9999-12-31");
}

#[test]
fn max_token_lifetime_bounds_exp_from_iat_or_now() {
    let g = gate_with(&[("MAX_TOKEN_LIFETIME", "3600")]);
    let tok = |iat: Option<i64>, exp: i64| {
        let mut c = json!({"sub":"alice","exp":exp});
        if let Some(i) = iat {
            c["iat"] = json!(i);
        }
        signed(HS256, &c.to_string())
    };
    assert_forwarded(
        &decide_cookie(&g, &tok(Some(NOW), NOW + 3600)),
        "exactly the cap",
    );
    assert_forwarded(
        &decide_cookie(&g, &tok(None, NOW + 3600)),
        "no iat, cap from now",
    );
    for (ctx, t) in [
        ("iat + cap + 1", tok(Some(NOW), NOW + 3601)),
        ("no iat: now + cap + 1", tok(None, NOW + 3601)),
        ("exp year 9999", tok(Some(NOW), 253_402_300_799)),
        // An iat far in the past cannot stretch the window: the lifetime is exp - iat.
        ("iat = 0, exp soon", tok(Some(0), NOW + 60)),
        (
            "iat an hour ago, exp in an hour",
            tok(Some(NOW - 3600), NOW + 3600),
        ),
    ] {
        assert_invalid(&g, &t, "lifetime_too_long", ctx);
    }
}

#[test]
fn leeway_arithmetic_cannot_wrap_into_acceptance() {
    let g = gate_with(&[("LEEWAY_SECONDS", "600")]);
    let far = signed(HS256, r#"{"sub":"alice","exp":253402300799}"#);
    let c = format!("access={far}");
    for now in [i64::MAX, i64::MAX - 599, 253_402_300_799 + 600] {
        let o = g.decide(&with_cookie(&c), now);
        assert_eq!(o.reason, "expired", "now = {now}");
        assert_eq!(o.status(), Some(401));
    }
    // A clock far in the past: nbf/iat in the "future" must not wrap around either.
    let t = signed(
        HS256,
        &format!(r#"{{"sub":"alice","exp":{},"iat":0}}"#, NOW),
    );
    let c = format!("access={t}");
    assert_eq!(
        g.decide(&with_cookie(&c), i64::MIN).reason,
        "issued_in_future"
    );
    let t = signed(
        HS256,
        &format!(r#"{{"sub":"alice","exp":{},"nbf":0}}"#, NOW),
    );
    let c = format!("access={t}");
    assert_eq!(g.decide(&with_cookie(&c), i64::MIN).reason, "not_yet_valid");
}

// ---------------------------------------------------------------------------------------------
// 5. Encoding
// ---------------------------------------------------------------------------------------------

/// Replaces segment `i` of a good token with `seg`, re-signing when the signature is intact.
fn with_segment(i: usize, seg: &str) -> String {
    let t = good();
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    parts[i] = seg.to_owned();
    if i < 2 {
        let input = format!("{}.{}", parts[0], parts[1]);
        parts[2] = hmac_sig(&input, SECRET.as_bytes(), Algorithm::HS256);
    }
    parts.join(".")
}

#[test]
fn non_canonical_base64url_in_every_segment() {
    let g = gate();
    let t = good();
    let segs: Vec<&str> = t.split('.').collect();
    for (i, seg) in segs.iter().enumerate() {
        let mut cases: Vec<(String, String)> = Vec::new();
        for bad in ['+', '/', '*', '?', '%', '"', '\\', '\u{e9}', '.'] {
            if bad == '.' && i == 2 {
                continue; // a '.' in the last segment is a 4th segment: covered as malformed
            }
            let mut s = seg.to_string();
            s.insert(seg.len() / 2, bad);
            cases.push((format!("{bad:?} inserted"), s));
        }
        cases.push(("padding =".into(), format!("{seg}=")));
        cases.push(("padding ==".into(), format!("{seg}==")));
        cases.push(("inner space".into(), format!("{} {}", &seg[..4], &seg[4..])));
        cases.push(("inner tab".into(), format!("{}\t{}", &seg[..4], &seg[4..])));
        cases.push((
            "inner newline".into(),
            format!("{}\n{}", &seg[..4], &seg[4..]),
        ));
        cases.push(("leading BOM".into(), format!("\u{feff}{seg}")));
        cases.push((
            "standard alphabet".into(),
            seg.replace('-', "+").replace('_', "/"),
        ));
        for (what, s) in cases {
            if s == *seg {
                continue; // (no - or _ to replace)
            }
            let token = with_segment(i, &s);
            let o = decide_cookie(&g, &token);
            let expected = if what == "'.' inserted" {
                "malformed"
            } else {
                "bad_base64"
            };
            assert_eq!(
                (o.status(), o.reason.code()),
                (Some(401), expected),
                "segment {i}: {what}: {token:?}"
            );
        }
    }
}

#[test]
fn non_canonical_trailing_bits_are_refused() {
    let g = gate();
    // Payload whose length leaves 2 or 4 unused bits in the last character, correctly signed
    // over the *non-canonical* text.
    for pad in ["", "x", "xx"] {
        let p = format!(r#"{{"sub":"alice","exp":{},"p":"{pad}"}}"#, NOW + 600);
        let canonical = b64(&p);
        let last = canonical.chars().last().unwrap();
        let unused_bits = match canonical.len() % 4 {
            2 => 4,
            3 => 2,
            _ => continue,
        };
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = ALPHABET.find(last).unwrap();
        let tweaked = ALPHABET.as_bytes()[idx | ((1 << unused_bits) - 1)] as char;
        assert_ne!(tweaked, last);
        let seg = format!("{}{tweaked}", &canonical[..canonical.len() - 1]);
        // Same bytes under a lenient decoder, different text: the signature covers the text.
        let token = with_segment(1, &seg);
        assert_invalid(
            &g,
            &token,
            "bad_base64",
            &format!("trailing bits ({pad:?})"),
        );
        // The signature segment too (32 bytes => 43 chars, 2 unused bits).
        let t = good();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let last = sig.chars().last().unwrap();
        let idx = ALPHABET.find(last).unwrap();
        let bumped = ALPHABET.as_bytes()[idx | 0b11] as char;
        if bumped != last {
            let token = format!("{input}.{}{bumped}", &sig[..sig.len() - 1]);
            assert_invalid(&g, &token, "bad_base64", "signature trailing bits");
        }
    }
}

#[test]
fn bom_and_invalid_utf8_in_the_json() {
    let g = gate();
    let p = payload();
    assert_invalid(
        &g,
        &signed(&format!("\u{feff}{HS256}"), &p),
        "bad_json",
        "BOM before header JSON",
    );
    assert_invalid(
        &g,
        &signed(HS256, &format!("\u{feff}{p}")),
        "bad_json",
        "BOM before payload JSON",
    );
    for bytes in [
        &b"{\"sub\":\"al\xffice\",\"exp\":1700000600}"[..],
        &b"{\"sub\":\"alice\",\"exp\":1700000600,\"n\":\"\xc3\x28\"}"[..],
        &b"{\"sub\":\"alice\",\"exp\":1700000600,\"n\":\"\xed\xa0\x80\"}"[..], // UTF-16 surrogate
        &b"{\"sub\":\"alice\",\"exp\":1700000600,\"n\":\"\xc0\xaf\"}"[..],     // overlong '/'
    ] {
        assert_invalid(
            &g,
            &signed_bytes(HS256.as_bytes(), bytes),
            "bad_json",
            &String::from_utf8_lossy(bytes),
        );
    }
    assert_invalid(
        &g,
        &signed_bytes(b"{\"alg\":\"HS256\",\"x\":\"\xff\"}", p.as_bytes()),
        "bad_json",
        "invalid UTF-8 in header",
    );
    // Lone surrogate escapes are not valid Unicode either.
    let p2 = format!(r#"{{"sub":"alice","exp":{},"n":"\ud800"}}"#, NOW + 600);
    assert_invalid(&g, &signed(HS256, &p2), "bad_json", "lone surrogate escape");
}

#[test]
fn duplicate_keys_are_refused_wherever_they_are() {
    let g = gate();
    let exp = NOW + 600;
    for (ctx, h, p) in [
        (
            "two exp",
            HS256.to_string(),
            format!(r#"{{"sub":"alice","exp":1,"exp":{exp}}}"#),
        ),
        (
            "two exp, valid last",
            HS256.to_string(),
            format!(r#"{{"sub":"alice","exp":{exp},"exp":1}}"#),
        ),
        (
            "two sub",
            HS256.to_string(),
            format!(r#"{{"sub":"alice","sub":"admin","exp":{exp}}}"#),
        ),
        (
            "escaped duplicate",
            HS256.to_string(),
            format!(r#"{{"sub":"alice","s\u0075b":"admin","exp":{exp}}}"#),
        ),
        (
            "nested duplicate",
            HS256.to_string(),
            format!(r#"{{"sub":"alice","exp":{exp},"r":[{{"a":1,"a":2}}]}}"#),
        ),
        (
            "two alg",
            r#"{"alg":"HS256","alg":"none"}"#.to_string(),
            payload(),
        ),
        (
            "two alg, none first",
            r#"{"alg":"none","alg":"HS256"}"#.to_string(),
            payload(),
        ),
        (
            "two crit",
            r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#.to_string(),
            payload(),
        ),
    ] {
        assert_invalid(&g, &signed(&h, &p), "duplicate_json_key", ctx);
    }
}

#[test]
fn deeply_nested_and_huge_json() {
    let g = gate();
    let exp = NOW + 600;
    let deep = format!(
        r#"{{"sub":"alice","exp":{exp},"x":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_invalid(
        &g,
        &signed(HS256, &deep),
        "bad_json",
        "200 levels of arrays",
    );
    let deep_obj = format!(
        r#"{{"sub":"alice","exp":{exp},"x":{}1{}}}"#,
        r#"{"a":"#.repeat(200),
        "}".repeat(200)
    );
    assert_invalid(
        &g,
        &signed(HS256, &deep_obj),
        "bad_json",
        "200 levels of objects",
    );
    let deep_header = format!(
        r#"{{"alg":"HS256","x":{}0{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_invalid(
        &g,
        &signed(&deep_header, &payload()),
        "bad_json",
        "deep header",
    );
    // Huge numbers elsewhere in the claims are just numbers; in a registered claim they are
    // out of range.
    let big = format!(r#"{{"sub":"alice","exp":{exp},"n":123456789012345678901234567890}}"#);
    assert_forwarded(
        &decide_cookie(&g, &signed(HS256, &big)),
        "huge unregistered number",
    );
    let big_exp = r#"{"sub":"alice","exp":123456789012345678901234567890}"#;
    assert_invalid(&g, &signed(HS256, big_exp), "bad_claims", "huge exp");
    assert_invalid(
        &g,
        &signed(
            HS256,
            &format!(r#"{{"sub":"alice","exp":{exp},"n":1e999}}"#),
        ),
        "bad_json",
        "1e999 anywhere",
    );
    // Trailing data after the object.
    assert_invalid(
        &g,
        &signed(HS256, &format!("{} {{}}", payload())),
        "bad_json",
        "two objects",
    );
    assert_invalid(&g, &signed(HS256, "[]"), "bad_json", "array payload");
    assert_invalid(
        &g,
        &signed(HS256, "\"alice\""),
        "bad_json",
        "string payload",
    );
}

#[test]
fn registered_claims_must_have_their_registered_types() {
    let g = gate_with(&[("AUDIENCE", "api"), ("ISSUER", "https://id.example")]);
    let exp = NOW + 600;
    let base = |extra: &str| {
        format!(r#"{{"sub":"alice","iss":"https://id.example","aud":"api","exp":{exp}{extra}}}"#)
    };
    let ok = |p: &str| signed(HS256, p);
    assert_forwarded(&decide_cookie(&g, &ok(&base(""))), "control");
    // Times as strings, booleans, negatives, objects; floats are NumericDates.
    for (ctx, p) in [
        (
            "exp string",
            format!(r#"{{"sub":"alice","iss":"https://id.example","aud":"api","exp":"{exp}"}}"#),
        ),
        (
            "exp negative",
            r#"{"sub":"alice","iss":"https://id.example","aud":"api","exp":-1}"#.to_string(),
        ),
        (
            "exp bool",
            r#"{"sub":"alice","iss":"https://id.example","aud":"api","exp":true}"#.to_string(),
        ),
        (
            "exp array",
            format!(r#"{{"sub":"alice","iss":"https://id.example","aud":"api","exp":[{exp}]}}"#),
        ),
        ("nbf string", base(r#","nbf":"0""#)),
        ("iat string", base(r#","iat":"0""#)),
        ("iat negative float", base(r#","iat":-0.5"#)),
        (
            "aud number",
            format!(r#"{{"sub":"alice","iss":"https://id.example","aud":7,"exp":{exp}}}"#),
        ),
        (
            "aud array with number",
            format!(r#"{{"sub":"alice","iss":"https://id.example","aud":["api",7],"exp":{exp}}}"#),
        ),
        (
            "aud object",
            format!(
                r#"{{"sub":"alice","iss":"https://id.example","aud":{{"api":true}},"exp":{exp}}}"#
            ),
        ),
        (
            "iss array",
            format!(r#"{{"sub":"alice","iss":["https://id.example"],"aud":"api","exp":{exp}}}"#),
        ),
        (
            "sub number",
            format!(r#"{{"sub":42,"iss":"https://id.example","aud":"api","exp":{exp}}}"#),
        ),
        (
            "sub array",
            format!(r#"{{"sub":["alice"],"iss":"https://id.example","aud":"api","exp":{exp}}}"#),
        ),
    ] {
        assert_invalid(&g, &ok(&p), "bad_claims", ctx);
    }
    let float =
        format!(r#"{{"sub":"alice","iss":"https://id.example","aud":"api","exp":{exp}.5}}"#);
    assert_forwarded(&decide_cookie(&g, &ok(&float)), "float exp");
    let arr =
        format!(r#"{{"sub":"alice","iss":"https://id.example","aud":["x","api"],"exp":{exp}}}"#);
    assert_forwarded(&decide_cookie(&g, &ok(&arr)), "aud array");
    // aud as a string vs array must match exactly, not as a substring or case-insensitively.
    for aud in [r#""apis""#, r#""API""#, r#"["ap","i"]"#, r#"[]"#, r#""""#] {
        let p = format!(r#"{{"sub":"alice","iss":"https://id.example","aud":{aud},"exp":{exp}}}"#);
        assert_invalid(&g, &ok(&p), "wrong_audience", aud);
    }
    // sub missing, null, empty, or unsafe for a header.
    let no_sub = format!(r#"{{"iss":"https://id.example","aud":"api","exp":{exp}}}"#);
    assert_invalid(&g, &ok(&no_sub), "missing_sub", "no sub");
    let null_sub = format!(r#"{{"sub":null,"iss":"https://id.example","aud":"api","exp":{exp}}}"#);
    assert_invalid(&g, &ok(&null_sub), "missing_sub", "sub null");
    for sub in ["", "alice\r\nx-auth-admin: true", "caf\u{e9}", "tab\there"] {
        let p = json!({"sub":sub,"iss":"https://id.example","aud":"api","exp":exp}).to_string();
        assert_invalid(&g, &ok(&p), "bad_sub", sub);
    }
    let no_exp = r#"{"sub":"alice","iss":"https://id.example","aud":"api"}"#;
    assert_invalid(&g, &ok(no_exp), "missing_exp", "no exp");
}

// ---------------------------------------------------------------------------------------------
// 6. Size
// ---------------------------------------------------------------------------------------------

#[test]
fn oversize_tokens_are_refused_before_decoding() {
    let g = gate();
    let max = edgegate::low_level::token::MAX_TOKEN_BYTES;
    // Not even base64url: the size check answers first.
    for len in [max + 1, 64 * 1024, 1024 * 1024] {
        let junk = "!".repeat(len);
        let o = decide_bearer(&g, &junk);
        assert_eq!(
            (o.status(), o.reason.code()),
            (Some(401), "token_too_large"),
            "{len} bytes"
        );
    }
    // A correctly signed token just over the limit.
    let p = format!(
        r#"{{"sub":"alice","exp":{},"pad":"{}"}}"#,
        NOW + 600,
        "x".repeat(6200)
    );
    let t = signed(HS256, &p);
    assert!(t.len() > max && t.len() < 12 * 1024, "{}", t.len());
    assert_invalid(&g, &t, "token_too_large", "signed, over 8 KiB");
}

#[test]
fn oversize_cookie_headers_and_many_cookies() {
    let g = gate();
    let max = edgegate::low_level::cookie::MAX_COOKIE_HEADER_BYTES;
    for len in [max + 1, 1024 * 1024] {
        let cookie = format!("access={}; {}", good(), "z".repeat(len));
        let o = g.decide(&with_cookie(&cookie), NOW);
        assert_eq!(
            (o.status(), o.reason.code()),
            (Some(431), "header_too_large"),
            "{len}"
        );
    }
    // 200 cookies: found among them, or missing, or ambiguous — never slow, never a panic.
    let many: Vec<String> = (0..200).map(|i| format!("c{i}=v{i}")).collect();
    let c = format!("{}; access={}", many.join("; "), good());
    assert_forwarded(&g.decide(&with_cookie(&c), NOW), "200 cookies + access");
    let c = many.join("; ");
    assert_eq!(g.decide(&with_cookie(&c), NOW).reason, "missing_token");
    let dup: Vec<String> = (0..200).map(|i| format!("access=v{i}")).collect();
    let o = g.decide(&with_cookie(&dup.join("; ")), NOW);
    assert_eq!(
        (o.status(), o.reason.code()),
        (Some(401), "ambiguous_token")
    );
    // 2,000 empty pairs (";;;;…") fit under 16 KiB and are harmless.
    let semis = format!("{}access={}", ";".repeat(2000), good());
    assert_forwarded(&g.decide(&with_cookie(&semis), NOW), "2000 empty pairs");
}
