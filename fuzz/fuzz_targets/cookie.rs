//! Cookie and bearer parsing (`edgegate::low_level::cookie`) on arbitrary headers.
//!
//! Invariants besides "no panic": an over-long header is always `HeaderTooLarge`; a found value
//! is a slice of the header itself; a single exact-name pair is found, never "ambiguous".
#![no_main]

use edgegate::low_level::cookie::{access_cookie, bearer_token, CookieError, MAX_COOKIE_HEADER_BYTES};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 4] = ["access", "__Host-access", "a", "Access"];

fn within(outer: &str, inner: &str) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    i >= o && i + inner.len() <= o + outer.len()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(header) = std::str::from_utf8(rest) else {
        return;
    };
    let name = NAMES[usize::from(selector) % NAMES.len()];
    match access_cookie(header, name) {
        Ok(Some(v)) => {
            assert!(header.len() <= MAX_COOKIE_HEADER_BYTES);
            assert!(within(header, v), "value outside the header");
        }
        Ok(None) => assert!(header.len() <= MAX_COOKIE_HEADER_BYTES),
        Err(CookieError::HeaderTooLarge) => assert!(header.len() > MAX_COOKIE_HEADER_BYTES),
        Err(CookieError::Ambiguous) => {
            assert!(header
                .to_ascii_lowercase()
                .contains(&name.to_ascii_lowercase()))
        }
        Err(CookieError::BadAuthorization) => panic!("cookie parsing never reports Authorization"),
    }
    // The same header with one more, exact-name pair appended is never "not found".
    if header.len() < 1024 && !header.contains(';') {
        let extended = format!("{header}; {name}=x");
        assert_ne!(access_cookie(&extended, name), Ok(None), "{extended:?}");
    }
    if let Ok(Some(t)) = bearer_token(header) {
        assert!(!t.is_empty() && within(header, t));
        assert!(!t.contains([' ', '\t', ',']));
    }
});
