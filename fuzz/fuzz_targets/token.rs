//! Token splitting and decoding (`edgegate::low_level::token`, `json`, `claims`) on arbitrary text, plus the
//! claim checks at an arbitrary clock.
//!
//! Invariants besides "no panic": oversize tokens are refused before decoding; an accepted parse
//! has exactly three segments, its signing input is a prefix of the token, and its payload is
//! duplicate-free JSON; claim validation at any `now` never wraps into acceptance of an
//! `exp` in the past.
#![no_main]

use edgegate::low_level::alg::{Alg, AlgSet};
use edgegate::low_level::claims::ClaimRules;
use edgegate::low_level::json::check_unique_keys;
use edgegate::low_level::token::{parse, parse_jws, ParseRules, TokenError, MAX_TOKEN_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The JSON layer on raw bytes (invalid UTF-8 included).
    let _ = check_unique_keys(data);
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(token) = std::str::from_utf8(rest) else {
        return;
    };
    let algorithms: AlgSet = if selector & 1 == 0 {
        Alg::ALL.into_iter().collect()
    } else {
        [Alg::HS256].into_iter().collect()
    };
    let rules = ParseRules {
        algorithms,
        typ: (selector & 2 != 0).then_some("at+jwt"),
    };
    let jws = parse_jws(token, &rules);
    match parse(token, &rules) {
        Ok(p) => {
            assert!(token.len() <= MAX_TOKEN_BYTES);
            assert_eq!(token.matches('.').count(), 2);
            assert!(token.starts_with(p.jws.signing_input));
            assert_eq!(check_unique_keys(&p.jws.payload), Ok(()));
            assert!(rules.algorithms.contains(p.jws.header.alg));
            assert!(jws.is_ok());
            let now = i64::from_le_bytes(
                rest.iter()
                    .copied()
                    .chain(std::iter::repeat(0))
                    .take(8)
                    .collect::<Vec<u8>>()
                    .try_into()
                    .unwrap(),
            );
            let claim_rules = ClaimRules {
                issuer: Some("https://id.example".into()),
                audience: Some("api".into()),
                leeway: i64::from(selector),
                max_lifetime: (selector & 4 != 0).then_some(3600),
            };
            if p.claims.validate(&claim_rules, now).is_ok() {
                let exp = p.claims.exp.expect("accepted without exp").floor();
                assert!(
                    exp.saturating_add(i64::from(selector)) > now,
                    "expired token accepted"
                );
                assert!(p.claims.sub.is_some());
            }
        }
        Err(TokenError::TooLarge) => assert!(token.len() > MAX_TOKEN_BYTES),
        Err(_) => {}
    }
});
