//! Claims that look sensitive: names (password, secret, card, …), payment card numbers (Luhn),
//! and, on request, email addresses. Used by [`super::decode_report`] for its warnings.

use super::{warning, DecodeOptions, Warning, WarningCode};
use serde_json::{Map, Value};

/// Key-name fragments that mark a claim as sensitive wherever they occur in the lowercased name
/// with `_`, `-` and `.` removed.
const SENSITIVE_FRAGMENTS: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "privatekey",
    "apikey",
    "creditcard",
    "cardnumber",
    "cvv",
];

/// Short names that mark a claim as sensitive only as a whole word of the name (`pwd`,
/// `user_ssn`, `cardId`; not `classname`).
const SENSITIVE_WORDS: [&str; 4] = ["pwd", "ssn", "card", "cvc"];

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a claim name looks like it holds something that must never sit in a token; returns
/// the fragment or word that matched. ASCII rules (a JWT's claim names are ASCII in practice).
pub fn sensitive_name(key: &str) -> Option<&'static str> {
    let flat: Vec<u8> = key
        .bytes()
        .filter(|c| !matches!(c, b'_' | b'-' | b'.'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if let Some(f) = SENSITIVE_FRAGMENTS
        .iter()
        .find(|f| contains_bytes(&flat, f.as_bytes()))
    {
        return Some(f);
    }
    // Words: split at non-alphanumerics and at lower→upper camelCase boundaries.
    let mut words: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut prev_lower = false;
    for c in key.bytes() {
        if !c.is_ascii_alphanumeric() {
            words.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    words.push(cur);
    SENSITIVE_WORDS
        .iter()
        .find(|s| words.iter().any(|w| w == s.as_bytes()))
        .copied()
}

/// Whether `s` looks like a payment card number: 13–19 digits, optionally grouped by single
/// spaces or dashes, Luhn-valid, not all zeros.
pub fn looks_like_card_number(s: &str) -> bool {
    let b = s.as_bytes();
    if !(b.first().is_some_and(u8::is_ascii_digit) && b.last().is_some_and(u8::is_ascii_digit)) {
        return false;
    }
    let mut digits = [0u8; 19];
    let mut n = 0;
    let mut prev_sep = false;
    for &c in b {
        if c.is_ascii_digit() {
            if n == digits.len() {
                return false;
            }
            digits[n] = c - b'0';
            n += 1;
            prev_sep = false;
        } else if (c == b' ' || c == b'-') && !prev_sep {
            prev_sep = true;
        } else {
            return false;
        }
    }
    let digits = &digits[..n];
    if n < 13 || digits.iter().all(|d| *d == 0) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `s` looks like an email address (`local@domain.tld`, no spaces, at most 254 bytes).
pub fn looks_like_email(s: &str) -> bool {
    if s.len() > 254
        || s.bytes()
            .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return false;
    }
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !contains_bytes(domain.as_bytes(), b"..")
        }
        None => false,
    }
}

/// Appends `key` to a path: `.key` for identifier-like keys, `["key"]` (JSON-escaped) otherwise.
fn push_key(path: &mut String, key: &str) {
    let ident = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        path.push('.');
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&serde_json::to_string(key).unwrap_or_default());
        path.push(']');
    }
}

pub(super) fn scan_object(
    obj: &Map<String, Value>,
    path: &mut String,
    top: bool,
    options: &DecodeOptions,
    w: &mut Vec<Warning>,
) {
    for (key, value) in obj {
        let len = path.len();
        push_key(path, key);
        let named = sensitive_name(key);
        if let Some(fragment) = named {
            w.push(warning(
                WarningCode::SensitiveClaim,
                format!("the claim name suggests sensitive data ({fragment}): tokens are readable by anyone who holds them"),
                Some(path.clone()),
            ));
        }
        // The registered times are numbers that may happen to pass the Luhn check.
        let is_time = top && matches!(key.as_str(), "exp" | "nbf" | "iat");
        if !is_time {
            scan_value(value, path, named.is_some(), options, w);
        }
        path.truncate(len);
    }
}

fn scan_value(
    value: &Value,
    path: &mut String,
    already_flagged: bool,
    options: &DecodeOptions,
    w: &mut Vec<Warning>,
) {
    let finding = match value {
        Value::Object(obj) => {
            scan_object(obj, path, false, options, w);
            None
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                scan_value(item, path, already_flagged, options, w);
                path.truncate(len);
            }
            None
        }
        Value::String(s) if looks_like_card_number(s) => Some("a payment card number"),
        Value::String(s) if options.flag_emails && looks_like_email(s) => Some("an email address"),
        Value::Number(n)
            if n.as_u64()
                .is_some_and(|u| looks_like_card_number(&u.to_string())) =>
        {
            Some("a payment card number")
        }
        _ => None,
    };
    if let (Some(what), false) = (finding, already_flagged) {
        w.push(warning(
            WarningCode::SensitiveClaim,
            format!("the value looks like {what}: tokens are readable by anyone who holds them"),
            Some(path.clone()),
        ));
    }
}
