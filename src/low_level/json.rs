//! Strict JSON checks that `serde_json` does not do on its own.
//!
//! `serde_json` accepts duplicate object keys ("last one wins" for maps, an error only for the
//! *known* fields of a derived struct). A token whose claims say `"role":"user","role":"admin"` is
//! read differently by different parsers, and edgegate forwards the verified claims to the origin,
//! so every object at every depth must have unique keys. [`check_unique_keys`] walks the document
//! once, without building a `Value`, and rejects duplicates, non-objects at the top level, invalid
//! UTF-8, a BOM and nesting deeper than `serde_json`'s recursion limit (128).

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Why a JSON document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON, not UTF-8, trailing data, or nested too deeply.
    Syntax,
    /// An object (at any depth) has the same key twice.
    DuplicateKey,
    /// The top-level value is not an object.
    NotAnObject,
}

/// Checks that `bytes` is one JSON object whose objects, at every depth, have unique keys.
///
/// ```
/// use edgegate::low_level::json::{check_unique_keys, JsonError};
/// assert_eq!(check_unique_keys(br#"{"a":1,"b":{"c":2}}"#), Ok(()));
/// assert_eq!(check_unique_keys(br#"{"a":1,"a":2}"#), Err(JsonError::DuplicateKey));
/// assert_eq!(check_unique_keys(br#"{"a":{"x":1,"x":1}}"#), Err(JsonError::DuplicateKey));
/// assert_eq!(check_unique_keys(b"[1]"), Err(JsonError::NotAnObject));
/// ```
pub fn check_unique_keys(bytes: &[u8]) -> Result<(), JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let top = TopLevel::deserialize(&mut de).map_err(classify)?;
    de.end().map_err(|_| JsonError::Syntax)?;
    match top {
        TopLevel::Object => Ok(()),
        TopLevel::Other => Err(JsonError::NotAnObject),
    }
}

const DUPLICATE: &str = "edgegate: duplicate key";

fn classify(e: serde_json::Error) -> JsonError {
    if e.is_data() && e.to_string().starts_with(DUPLICATE) {
        JsonError::DuplicateKey
    } else {
        JsonError::Syntax
    }
}

enum TopLevel {
    Object,
    Other,
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TopLevel, A::Error> {
                Unique.visit_map(map)?;
                Ok(TopLevel::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TopLevel, A::Error> {
                Unique.visit_seq(seq)?;
                Ok(TopLevel::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
            fn visit_unit<E>(self) -> Result<TopLevel, E> {
                Ok(TopLevel::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A visitor that accepts any JSON value and errors on duplicate keys in any object.
#[derive(Clone, Copy)]
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Unique)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Token objects are small; a linear scan beats hashing below a few dozen keys, and the
        // token size cap bounds the quadratic worst case (8 KiB => at most ~1,600 keys).
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<KeyString>()? {
            if seen.contains(&key.0) {
                return Err(de::Error::custom(DUPLICATE));
            }
            seen.push(key.0);
            map.next_value_seed(Unique)?;
        }
        Ok(())
    }
}

/// An object key, unescaped (so `"a"` and `"\u0061"` are the same key).
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(KeyString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_objects() {
        assert_eq!(check_unique_keys(br#"{}"#), Ok(()));
        assert_eq!(
            check_unique_keys(br#" {"a":[1,{"b":null}],"c":"d"} "#),
            Ok(())
        );
        // The same key in sibling objects is fine.
        assert_eq!(check_unique_keys(br#"{"a":{"x":1},"b":{"x":2}}"#), Ok(()));
    }

    #[test]
    fn rejects_duplicates_at_any_depth_and_after_unescaping() {
        assert_eq!(
            check_unique_keys(br#"{"exp":1,"exp":2}"#),
            Err(JsonError::DuplicateKey)
        );
        assert_eq!(
            check_unique_keys(br#"{"a":[{"k":1,"k":1}]}"#),
            Err(JsonError::DuplicateKey)
        );
        assert_eq!(
            check_unique_keys(br#"{"alg":"HS256","\u0061lg":"none"}"#),
            Err(JsonError::DuplicateKey)
        );
    }

    #[test]
    fn rejects_non_objects_bad_utf8_bom_trailing_and_deep_nesting() {
        assert_eq!(check_unique_keys(b"\"x\""), Err(JsonError::NotAnObject));
        assert_eq!(
            check_unique_keys(b"{\"a\":\"\xff\"}"),
            Err(JsonError::Syntax)
        );
        assert_eq!(check_unique_keys(b"\xef\xbb\xbf{}"), Err(JsonError::Syntax));
        assert_eq!(check_unique_keys(b"{} {}"), Err(JsonError::Syntax));
        assert_eq!(check_unique_keys(b"{\"a\":1,}"), Err(JsonError::Syntax));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(check_unique_keys(deep.as_bytes()), Err(JsonError::Syntax));
        // Numbers beyond f64 are a syntax error in serde_json, not infinity.
        assert_eq!(
            check_unique_keys(b"{\"exp\":1e400}"),
            Err(JsonError::Syntax)
        );
    }
}
