//! JSON that refuses an object with the same key twice. serde_json keeps the last one, so
//! `{"amount":"10.00","amount":"0.01"}` would be 0.01 to orderguard and may be 10.00 to a proxy,
//! a log reader or the shop's own checks before it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// What the error message starts with when a key is repeated.
pub const DUPLICATE_KEY: &str = "duplicate key";

/// Parses `bytes` as JSON, refusing repeated keys at any depth.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|strict| strict.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(A::Error::custom(format!("{DUPLICATE_KEY} `{key}`")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":"ü\n","d":18446744073709551615}"#;
        assert_eq!(from_slice(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    /// Random JSON objects written as text, with keys from a small set so that some repeat: the
    /// strict reading refuses exactly those with a repeated key in one object, and reads the
    /// others as serde_json does.
    #[test]
    fn refuses_exactly_the_objects_that_repeat_a_key() {
        let mut state = 7_u64;
        let mut next = |n: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        fn object(next: &mut dyn FnMut(u64) -> u64, depth: u32) -> (String, bool) {
            let keys = ["a", "b", "c", "\\u0061"];
            let mut seen = Vec::new();
            let (mut parts, mut repeated) = (Vec::new(), false);
            for _ in 0..next(4) {
                let key = keys[usize::try_from(next(4)).unwrap_or(0)];
                // `\u0061` is `a` once unescaped.
                let name = if key == "\\u0061" { "a" } else { key };
                repeated |= seen.contains(&name);
                seen.push(name);
                let value = if depth < 3 && next(3) == 0 {
                    let (inner, inner_repeated) = object(next, depth + 1);
                    repeated |= inner_repeated;
                    inner
                } else {
                    ["1", "\"x\"", "[1,{}]", "null", "2.5"][usize::try_from(next(5)).unwrap_or(0)].to_owned()
                };
                parts.push(format!("\"{key}\":{value}"));
            }
            (format!("{{{}}}", parts.join(",")), repeated)
        }
        let (mut refused, mut read) = (0, 0);
        for _ in 0..5_000 {
            let (text, repeated) = object(&mut next, 0);
            match from_slice(text.as_bytes()) {
                Ok(value) => {
                    assert!(!repeated, "{text} was read");
                    assert_eq!(value, serde_json::from_str::<Value>(&text).unwrap(), "{text}");
                    read += 1;
                }
                Err(e) => {
                    assert!(repeated && e.to_string().starts_with(DUPLICATE_KEY), "{text}: {e}");
                    refused += 1;
                }
            }
        }
        assert!(refused > 500 && read > 500, "{refused} refused, {read} read");
    }

    #[test]
    fn refuses_a_key_twice_at_any_depth() {
        for text in [r#"{"amount":"10.00","amount":"0.01"}"#, r#"{"order":{"items":[{"sku":"a","sku":"b"}]}}"#] {
            let error = from_slice(text.as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with(DUPLICATE_KEY), "{error}");
        }
        assert!(from_slice(br#"{"a":{"x":1},"b":{"x":1}}"#).is_ok(), "the same key in two objects");
    }
}
