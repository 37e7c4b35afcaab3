//! Unit tests of the verification pipeline.
use super::*;
use crate::low_level::alg::Alg;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header as JHeader};
use serde_json::json;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const NOW: i64 = 1_700_000_000;

fn verifier(algs: &[Alg]) -> Verifier {
    Verifier::new(
        algs.iter().copied().collect(),
        KeySet::new(vec![Key::hmac(None, SECRET)]),
        ClaimRules {
            leeway: 30,
            issuer: Some("iss".into()),
            audience: Some("aud".into()),
            max_lifetime: None,
        },
        None,
    )
}

fn sign(alg: Algorithm, claims: serde_json::Value, secret: &[u8]) -> String {
    encode(
        &JHeader::new(alg),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn good() -> serde_json::Value {
    json!({"sub":"alice","exp":NOW + 600,"iss":"iss","aud":"aud"})
}

#[test]
fn accepts_every_hmac_alg_it_pins() {
    let v = verifier(&[Alg::HS256, Alg::HS384, Alg::HS512]);
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let t = sign(alg, good(), SECRET);
        let ok = v.verify(&t, NOW).unwrap();
        assert_eq!(ok.sub, "alice");
        assert_eq!(ok.payload_b64, t.split('.').nth(1).unwrap());
    }
}

#[test]
fn refuses_unpinned_alg_even_with_the_right_key() {
    let v = verifier(&[Alg::HS256]);
    let t = sign(Algorithm::HS512, good(), SECRET);
    assert_eq!(
        v.verify(&t, NOW).unwrap_err(),
        VerifyError::Token(TokenError::AlgNotAllowed)
    );
}

#[test]
fn refuses_wrong_secret_and_tampering() {
    let v = verifier(&[Alg::HS256]);
    let t = sign(
        Algorithm::HS256,
        good(),
        b"another-secret-another-secret-00",
    );
    assert_eq!(v.verify(&t, NOW).unwrap_err(), VerifyError::Signature);
    // Swap in a different payload under the original signature.
    let t = sign(Algorithm::HS256, good(), SECRET);
    let mut parts: Vec<&str> = t.split('.').collect();
    let evil = token::tests::b64(r#"{"sub":"admin","exp":2000000000,"iss":"iss","aud":"aud"}"#);
    parts[1] = &evil;
    assert_eq!(
        v.verify(&parts.join("."), NOW).unwrap_err(),
        VerifyError::Signature
    );
    // Flip one signature bit.
    let (head, sig) = t.rsplit_once('.').unwrap();
    let mut bytes = token::b64url_decode(sig).unwrap();
    bytes[0] ^= 1;
    let flipped = format!("{head}.{}", token::tests::b64_bytes(&bytes));
    assert_eq!(v.verify(&flipped, NOW).unwrap_err(), VerifyError::Signature);
    // Truncated signature.
    let short = format!("{head}.{}", token::tests::b64_bytes(&bytes[..16]));
    assert_eq!(v.verify(&short, NOW).unwrap_err(), VerifyError::Signature);
}

#[test]
fn expiry_is_reported_only_for_genuine_tokens() {
    let v = verifier(&[Alg::HS256]);
    let expired = json!({"sub":"alice","exp":NOW - 3600,"iss":"iss","aud":"aud"});
    let genuine = sign(Algorithm::HS256, expired.clone(), SECRET);
    assert!(v.verify(&genuine, NOW).unwrap_err().is_expired());
    let forged = sign(
        Algorithm::HS256,
        expired,
        b"attacker-secret-attacker-secret!",
    );
    let e = v.verify(&forged, NOW).unwrap_err();
    assert_eq!(e, VerifyError::Signature);
    assert!(!e.is_expired());
}

#[test]
fn claims_are_checked_after_the_signature() {
    let v = verifier(&[Alg::HS256]);
    let wrong_aud = sign(
        Algorithm::HS256,
        json!({"sub":"a","exp":NOW+60,"iss":"iss","aud":"other"}),
        SECRET,
    );
    assert_eq!(
        v.verify(&wrong_aud, NOW).unwrap_err().code(),
        "wrong_audience"
    );
    let no_exp = sign(
        Algorithm::HS256,
        json!({"sub":"a","iss":"iss","aud":"aud"}),
        SECRET,
    );
    assert_eq!(v.verify(&no_exp, NOW).unwrap_err().code(), "missing_exp");
}

#[test]
fn signature_shape_is_exact_per_family() {
    use jsonwebtoken::DecodingKey;
    let key = |family, decoding| Key {
        kid: None,
        family,
        alg: None,
        decoding,
    };
    let p256 = key(Family::P256, DecodingKey::from_ec_der(&[4; 65]));
    let p384 = key(Family::P384, DecodingKey::from_ec_der(&[4; 97]));
    let ed = key(Family::Ed25519, DecodingKey::from_ed_der(&[1; 32]));
    // A 2048-bit modulus written with a leading zero octet: the length is still 256.
    let mut n = vec![0u8];
    n.extend([0xc5; 256]);
    let rsa = key(
        Family::Rsa,
        DecodingKey::from_rsa_raw_components(&n, &[1, 0, 1]),
    );
    for (alg, k, len) in [
        (Alg::ES256, &p256, 64),
        (Alg::ES384, &p384, 96),
        (Alg::EdDSA, &ed, 64),
        (Alg::RS256, &rsa, 256),
        (Alg::PS512, &rsa, 256),
    ] {
        assert!(signature_shape_ok(alg, k, &vec![1; len]), "{alg}");
        for wrong in [0, 1, len - 1, len + 1, 2 * len] {
            assert!(
                !signature_shape_ok(alg, k, &vec![1; wrong]),
                "{alg} {wrong}"
            );
        }
    }
    // Family mismatch (ES384 with a P-256 key, RS256 with an EC key) is never a shape match.
    assert!(!signature_shape_ok(Alg::ES384, &p256, &[1; 96]));
    assert!(!signature_shape_ok(Alg::RS256, &p256, &[1; 256]));
}

#[test]
fn hmac_matches_the_reference_and_refuses_other_families() {
    let key = Key::hmac(None, SECRET);
    for (alg, jalg) in [
        (Alg::HS256, Algorithm::HS256),
        (Alg::HS384, Algorithm::HS384),
        (Alg::HS512, Algorithm::HS512),
    ] {
        let t = sign(jalg, good(), SECRET);
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut tag = token::b64url_decode(sig).unwrap();
        assert!(hmac_matches(alg, &key, input.as_bytes(), &tag));
        assert!(signature_matches(alg, &key, input.as_bytes(), sig));
        assert!(!hmac_matches(
            alg,
            &key,
            input.as_bytes(),
            &tag[..tag.len() - 1]
        ));
        tag[3] ^= 0x40;
        assert!(!hmac_matches(alg, &key, input.as_bytes(), &tag));
    }
    let t = sign(Algorithm::HS256, good(), SECRET);
    let (input, sig) = t.rsplit_once('.').unwrap();
    let tag = token::b64url_decode(sig).unwrap();
    // The right tag under another algorithm name, or with a key of another family: no.
    assert!(!hmac_matches(Alg::HS384, &key, input.as_bytes(), &tag));
    assert!(!hmac_matches(Alg::RS256, &key, input.as_bytes(), &tag));
    let mut not_hmac = Key::hmac(None, SECRET);
    not_hmac.family = Family::Rsa;
    assert!(!hmac_matches(Alg::HS256, &not_hmac, input.as_bytes(), &tag));
}

#[test]
fn asymmetric_algs_never_reach_the_hmac_key() {
    // Even if an operator pinned RS256, the HMAC key cannot serve it: no key, refused.
    let v = verifier(&[Alg::HS256, Alg::RS256]);
    let header = r#"{"alg":"RS256"}"#;
    let t = token::tests::tok(header, &good().to_string(), "c2ln");
    assert_eq!(
        v.verify(&t, NOW).unwrap_err(),
        VerifyError::Key(KeyError::NoKey)
    );
}
