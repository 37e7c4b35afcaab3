//! Native unit tests of the decode-only module.

use super::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn tok(header: &str, payload: &str, sig: &str) -> String {
    format!("{}.{}.{}", b64(header), b64(payload), sig)
}

const NOW: f64 = 1_700_000_000.0;
const HS: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn report(t: &str) -> Report {
    decode_report(t, NOW, &DecodeOptions::default()).unwrap()
}

fn err(t: &str) -> DecodeError {
    decode_report(t, NOW, &DecodeOptions::default()).unwrap_err()
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.warnings.iter().map(|w| w.code.code()).collect()
}

fn json(r: &Report) -> Value {
    serde_json::from_str(&r.to_json()).unwrap()
}

#[test]
fn decodes_a_plain_token_with_times_and_no_warnings() {
    let p = r#"{"sub":"alice","iat":1699999800,"nbf":1699999800,"exp":1700000300,"name":"Alice"}"#;
    let r = report(&tok(HS, p, "c2ln"));
    assert!(!r.verified);
    assert_eq!(r.issued_at, Some(1_699_999_800.0));
    assert_eq!(r.not_before, Some(1_699_999_800.0));
    assert_eq!(r.expires_at, Some(1_700_000_300.0));
    assert_eq!(r.expires_in, Some(300.0));
    assert_eq!(r.lifetime, Some(500.0));
    assert!(!r.expired && !r.not_yet_valid);
    assert_eq!(r.signature_bytes, 3);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let j = json(&r);
    assert_eq!(j["verified"], false);
    assert_eq!(j["header"]["alg"], "HS256");
    assert_eq!(j["claims"]["name"], "Alice");
    assert_eq!(j["expiresIn"], 300.0);
    assert_eq!(j["warnings"], serde_json::json!([]));
    // Key order is kept exactly as in the token.
    let text = r.to_json();
    assert!(
        text.contains(r#""claims":{"sub":"alice","iat":1699999800,"#),
        "{text}"
    );
}

#[test]
fn expired_and_not_yet_valid() {
    let r = report(&tok(
        HS,
        r#"{"exp":1699999999.5,"nbf":1700000000.2}"#,
        "c2ln",
    ));
    assert!(r.expired, "floor(exp) <= now");
    assert!(r.not_yet_valid, "ceil(nbf) > now");
    assert_eq!(r.expires_in, Some(-0.5));
    let r = report(&tok(HS, r#"{"exp":1700000001}"#, "c2ln"));
    assert!(!r.expired);
}

#[test]
fn is_expired_uses_the_gates_rule_with_leeway() {
    let t = tok(HS, r#"{"exp":1000.9}"#, "c2ln");
    assert_eq!(is_expired(&t, 0.0, 999.0), Ok(false));
    assert_eq!(is_expired(&t, 0.0, 1000.0), Ok(true));
    assert_eq!(is_expired(&t, 30.0, 1029.5), Ok(false));
    assert_eq!(is_expired(&t, 30.0, 1030.0), Ok(true));
    assert_eq!(is_expired(&t, -60.0, 940.0), Ok(true));
    assert_eq!(is_expired(&t, -60.0, 939.0), Ok(false));
    assert_eq!(is_expired(&t, f64::NAN, 999.0), Ok(false));
    assert_eq!(is_expired(&t, f64::INFINITY, 999.0), Ok(false));
    assert_eq!(
        is_expired(&t, 1e12, 1e6),
        Ok(true),
        "leeway clamped to a day"
    );
    let no_exp = tok(HS, r#"{"sub":"a"}"#, "c2ln");
    assert_eq!(is_expired(&no_exp, 0.0, 1e11), Ok(false));
    assert_eq!(is_expired("x", 0.0, 0.0).unwrap_err().code(), "malformed");
}

#[test]
fn errors_have_stable_codes_and_parts() {
    let h = b64(HS);
    let p = b64(r#"{"sub":"a"}"#);
    let cases: Vec<(String, &str, Option<Part>)> = vec![
        ("a".repeat(MAX_TOKEN_BYTES + 1), "token_too_large", None),
        (String::new(), "malformed", None),
        ("garbage".into(), "malformed", None),
        (format!("{h}.{p}"), "malformed", None),
        (format!("{h}.{p}.c2ln.x"), "malformed", None),
        (format!(".{p}.c2ln"), "malformed", None),
        (format!("{h}..c2ln"), "malformed", None),
        (format!("{h}.{p}.a.b.c"), "encrypted_token", None),
        (format!("{h}=.{p}.c2ln"), "bad_base64", Some(Part::Header)),
        (format!("{h}.{p} .c2ln"), "bad_base64", Some(Part::Payload)),
        (format!("{h}.{p}.c2l+"), "bad_base64", Some(Part::Signature)),
        (format!("{h}.{p}.e31"), "bad_base64", Some(Part::Signature)),
        (tok("not json", r#"{}"#, ""), "bad_json", Some(Part::Header)),
        (tok(HS, "[1]", ""), "bad_json", Some(Part::Payload)),
        (tok(HS, "\u{feff}{}", ""), "bad_json", Some(Part::Payload)),
        (
            format!("{h}.{}.", URL_SAFE_NO_PAD.encode(b"{\"a\":\"\xff\"}")),
            "bad_json",
            Some(Part::Payload),
        ),
        (
            tok(r#"{"alg":"HS256","alg":"none"}"#, "{}", ""),
            "duplicate_json_key",
            Some(Part::Header),
        ),
        (
            tok(HS, r#"{"role":"user","\u0072ole":"admin"}"#, ""),
            "duplicate_json_key",
            Some(Part::Payload),
        ),
    ];
    for (t, code, part) in cases {
        let e = err(&t);
        assert_eq!((e.code(), e.part), (code, part), "{t:?}");
        assert!(e.to_string().contains(code));
    }
    // The codes are the gate's own.
    assert_eq!(err("").kind, TokenError::Malformed);
    assert_eq!(TokenError::DuplicateKey.code(), "duplicate_json_key");
}

#[test]
fn alg_none_decodes_with_a_warning() {
    for none in ["none", "None", "NONE"] {
        let t = tok(
            &format!(r#"{{"alg":"{none}"}}"#),
            r#"{"sub":"a","exp":1700000060}"#,
            "",
        );
        let r = report(&t);
        assert_eq!(codes(&r), ["alg_none"], "{none}");
        assert_eq!(r.warnings[0].path.as_deref(), Some("header.alg"));
        assert_eq!(r.signature_bytes, 0);
    }
}

#[test]
fn header_warnings() {
    let p = r#"{"exp":1700000060}"#;
    assert_eq!(
        codes(&report(&tok(r#"{"typ":"JWT"}"#, p, "c2ln"))),
        ["missing_alg"]
    );
    assert_eq!(
        codes(&report(&tok(r#"{"alg":5}"#, p, "c2ln"))),
        ["missing_alg"]
    );
    assert_eq!(
        codes(&report(&tok(r#"{"alg":"hs256"}"#, p, "c2ln"))),
        ["unknown_alg"]
    );
    assert_eq!(codes(&report(&tok(HS, p, ""))), ["missing_signature"]);
    let r = report(&tok(
        r#"{"alg":"RS256","jku":"https://evil.example/k","x5u":"https://e/x","jwk":{"kty":"oct"},"x5c":["MII"]}"#,
        p,
        "c2ln",
    ));
    assert_eq!(codes(&r), ["untrusted_key_header"; 4]);
    let paths: Vec<_> = r
        .warnings
        .iter()
        .map(|w| w.path.as_deref().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["header.jku", "header.x5u", "header.jwk", "header.x5c"]
    );
}

#[test]
fn claim_shape_warnings_follow_the_gates_rules() {
    let r = report(&tok(
        HS,
        r#"{"sub":5,"exp":"1700000060","iat":-1,"aud":["a",1],"iss":"ok"}"#,
        "c2ln",
    ));
    let paths: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.code == WarningCode::InvalidClaim)
        .map(|w| w.path.clone().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["claims.iat", "claims.exp", "claims.sub", "claims.aud"]
    );
    assert_eq!(r.expires_at, None);
    assert_eq!(r.issued_at, None);
    // An invalid exp is invalid, not missing.
    assert!(!r.has_warning(WarningCode::MissingExp));
    assert_eq!(
        report(&tok(HS, r#"{"exp":253402300800}"#, "c2ln")).expires_at,
        None
    );
}

#[test]
fn claim_shapes_agree_with_the_gates_parser() {
    use crate::low_level::claims::Claims;
    let values = [
        "null",
        "0",
        "-0",
        "1",
        "1.5",
        "-1",
        "-0.5",
        "1e3",
        "1e300",
        "253402300799",
        "253402300799.5",
        "253402300800",
        "18446744073709551615",
        "-9223372036854775808",
        "\"1000\"",
        "\"a\"",
        "true",
        "[]",
        "[\"a\"]",
        "[\"a\",1]",
        "{}",
        "[[\"a\"]]",
    ];
    for name in ["exp", "nbf", "iat", "sub", "iss", "aud"] {
        for v in values {
            let payload = format!(r#"{{"{name}":{v}}}"#);
            let gate_ok = Claims::from_json(payload.as_bytes()).is_ok();
            let r = report(&tok(HS, &payload, "c2ln"));
            let ours_ok = !r.has_warning(WarningCode::InvalidClaim);
            assert_eq!(ours_ok, gate_ok, "{payload}");
        }
    }
}

#[test]
fn missing_exp() {
    for p in [r#"{"sub":"a"}"#, r#"{"sub":"a","exp":null}"#] {
        let r = report(&tok(HS, p, "c2ln"));
        assert_eq!(codes(&r), ["missing_exp"], "{p}");
        assert_eq!(r.expires_in, None);
        assert!(!r.expired);
    }
}

#[test]
fn long_lived_access_tokens() {
    let long = r#"{"iat":1700000000,"exp":1700000901}"#;
    let ok = r#"{"iat":1700000000,"exp":1700000900}"#;
    assert_eq!(codes(&report(&tok(HS, long, "c2ln"))), ["long_lifetime"]);
    assert!(codes(&report(&tok(HS, ok, "c2ln"))).is_empty());
    // Without iat, the remaining time counts.
    assert_eq!(
        codes(&report(&tok(HS, r#"{"exp":1700003600}"#, "c2ln"))),
        ["long_lifetime"]
    );
    // ID and refresh tokens are not access tokens; at+jwt always is.
    let id = r#"{"iat":1700000000,"exp":1700003600,"nonce":"n"}"#;
    assert!(codes(&report(&tok(HS, id, "c2ln"))).is_empty());
    let refresh = r#"{"iat":1700000000,"exp":1700086400,"token_use":"refresh"}"#;
    assert!(codes(&report(&tok(HS, refresh, "c2ln"))).is_empty());
    let at = r#"{"alg":"HS256","typ":"application/AT+JWT"}"#;
    assert_eq!(codes(&report(&tok(at, id, "c2ln"))), ["long_lifetime"]);
    // Options: a custom maximum, and forcing the kind either way.
    let t = tok(HS, long, "c2ln");
    let o = |max: f64, access: Option<bool>| DecodeOptions {
        max_access_lifetime: max,
        access_token: access,
        ..Default::default()
    };
    assert!(decode_report(&t, NOW, &o(1000.0, None))
        .unwrap()
        .warnings
        .is_empty());
    assert!(decode_report(&t, NOW, &o(f64::NAN, None))
        .unwrap()
        .has_warning(WarningCode::LongLifetime));
    assert!(decode_report(&t, NOW, &o(900.0, Some(false)))
        .unwrap()
        .warnings
        .is_empty());
    let idt = tok(HS, id, "c2ln");
    assert!(decode_report(&idt, NOW, &o(900.0, Some(true)))
        .unwrap()
        .has_warning(WarningCode::LongLifetime));
}

#[test]
fn sensitive_names() {
    for yes in [
        "password",
        "userPassword",
        "db_passwd",
        "client_secret",
        "SECRET",
        "pwd",
        "user_pwd",
        "ssn",
        "userSSN",
        "user-ssn",
        "cvv",
        "card",
        "cardId",
        "card_number",
        "creditCard",
        "private_key",
        "apiKey",
        "cvc",
    ] {
        assert!(sensitive_name(yes).is_some(), "{yes}");
    }
    for no in [
        "sub",
        "classname",
        "businessNumber",
        "discard",
        "scope",
        "session",
        "email",
        "name",
        "pwdx",
    ] {
        assert_eq!(sensitive_name(no), None, "{no}");
    }
}

#[test]
fn card_numbers_and_emails() {
    for yes in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "6011111111111117",
    ] {
        assert!(looks_like_card_number(yes), "{yes}");
    }
    for no in [
        "4111111111111112",
        "411111111111",
        "41111111111111111111",
        "0000000000000",
        "4111  1111 1111 1111",
        " 4111111111111111",
        "4111111111111111-",
        "a4111111111111111",
        "",
    ] {
        assert!(!looks_like_card_number(no), "{no}");
    }
    assert!(looks_like_email("alice@example.com"));
    for no in [
        "alice",
        "@example.com",
        "a@b",
        "a@.b",
        "a@b.",
        "a b@c.d",
        "a@b@c.d",
        "a@b..c",
    ] {
        assert!(!looks_like_email(no), "{no}");
    }
}

#[test]
fn sensitive_claims_are_found_at_any_depth() {
    let p = r#"{"sub":"a","exp":1700000060,"password":"hunter2","profile":{"cards":["4111 1111 1111 1111"],"n":4111111111111111,"we ird":"378282246310005"},"email":"a@example.com","jti":"4111111111111112"}"#;
    let r = report(&tok(HS, p, "c2ln"));
    let got: Vec<_> = r
        .warnings
        .iter()
        .map(|w| (w.code.code(), w.path.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        got,
        [
            ("sensitive_claim", "claims.password".to_string()),
            ("sensitive_claim", "claims.profile.cards[0]".to_string()),
            ("sensitive_claim", "claims.profile.n".to_string()),
            ("sensitive_claim", r#"claims.profile["we ird"]"#.to_string()),
        ],
        "a flagged name is reported once, not again for its value; emails only on request"
    );
    let with_emails = DecodeOptions {
        flag_emails: true,
        ..Default::default()
    };
    let r = decode_report(&tok(HS, p, "c2ln"), NOW, &with_emails).unwrap();
    assert!(r
        .warnings
        .iter()
        .any(|w| w.path.as_deref() == Some("claims.email") && w.message.contains("email")));
    // Time claims are never taken for card numbers.
    let t = tok(HS, r#"{"iat":4111111111111111}"#, "c2ln");
    assert!(!report(&t).has_warning(WarningCode::SensitiveClaim));
}

#[test]
fn array_values_get_indexed_paths() {
    let r = report(&tok(
        HS,
        r#"{"exp":1700000060,"list":["x","4111111111111111"]}"#,
        "c2ln",
    ));
    assert_eq!(r.warnings[0].path.as_deref(), Some("claims.list[1]"));
}

#[test]
fn oversize_tokens_warn_then_fail() {
    let pad = "x".repeat(3500);
    let t = tok(
        HS,
        &format!(r#"{{"exp":1700000060,"pad":"{pad}"}}"#),
        "c2ln",
    );
    assert!(t.len() > LARGE_TOKEN_BYTES && t.len() <= MAX_TOKEN_BYTES);
    assert_eq!(codes(&report(&t)), ["oversize_token"]);
    let pad = "x".repeat(6200);
    let t = tok(HS, &format!(r#"{{"pad":"{pad}"}}"#), "c2ln");
    assert_eq!(err(&t).code(), "token_too_large");
}

#[test]
fn never_panics_on_mangled_input() {
    // A deterministic xorshift fuzz over mutations of real tokens and random bytes.
    let seeds = [
        tok(
            HS,
            r#"{"sub":"a","exp":1700000060,"a":[{"b":null}],"card":"4111111111111111"}"#,
            "c2ln",
        ),
        tok(
            r#"{"alg":"none","jku":"x"}"#,
            r#"{"exp":1.5e3,"nbf":0}"#,
            "",
        ),
        tok(HS, r#"{"n":1e308,"m":-1,"s":"\u00e9\ud83d\ude00"}"#, "c2ln"),
    ];
    let alphabet =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \n\x00\xff{}\"";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut decoded = 0;
    for round in 0..6000 {
        let mut bytes = seeds[round % seeds.len()].clone().into_bytes();
        for _ in 0..(next() % 4 + 1) {
            let i = (next() as usize) % (bytes.len() + 1);
            let c = alphabet[(next() as usize) % alphabet.len()];
            match next() % 3 {
                0 if i < bytes.len() => bytes[i] = c,
                1 if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, c),
            }
        }
        let s = String::from_utf8_lossy(&bytes);
        if let Ok(r) = decode_report(&s, NOW, &DecodeOptions::default()) {
            decoded += 1;
            let _: Value = serde_json::from_str(&r.to_json()).unwrap();
        }
        let _ = is_expired(&s, -1e300, f64::NAN);
    }
    assert!(decoded > 0, "some mutations still decode");
}
