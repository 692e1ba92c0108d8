//! Requests as sent: bodies and query strings read into `#[derive(Deserialize)]` wire structs, whose
//! `JsonSchema` is what the OpenAPI document shows of them, and checked into domain values by
//! `TryFrom`.
//!
//! A wire struct's fields are loose (`Option<Value>` for a body field, `Option<String>` for a query
//! parameter) and `#[schemars(with = …)]` names the documented shape: reading one never fails on a
//! field, so one 400 lists every problem the checks find (`Checks`), as API.md asks. Unknown fields
//! are ignored; a field that is `null` is absent.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::input::{whole_number, MAX_BODY_BYTES};
use crate::error::{ApiError, Result};

/// A JSON body as its wire struct: an empty body reads as `{}` (endpoints whose fields are all
/// optional can be called bare); anything but a JSON object is a 400.
///
/// The object is parsed once into a map (a name given twice: the last value wins), then the struct is
/// read from the map's entries by serde's small `MapDeserializer`, which the queries use too: letting
/// serde_json read each struct from the bytes cost 3 KB of wasm per struct (its map-parsing loop
/// inlined into each), from a `Value` tree 19 KB in all.
pub fn body<B: DeserializeOwned>(bytes: &[u8]) -> Result<B> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large());
    }
    let map = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ApiError::bad_request("request body must be a JSON object")),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "request body is not valid JSON: {e}"
                )))
            }
        }
    };
    let entries = map.into_iter().map(|(name, value)| (name, Json(value)));
    let entries = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(entries);
    B::deserialize(entries)
        .map_err(|e| ApiError::bad_request(format!("request body does not fit: {e}")))
}

/// A query string's decoded pairs as its wire struct (a name given twice: the last value wins, as
/// in most frameworks).
pub fn query<Q: DeserializeOwned>(pairs: Vec<(String, String)>) -> Result<Q> {
    let mut latest: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        match latest.iter_mut().find(|(n, _)| *n == name) {
            Some(pair) => pair.1 = value,
            None => latest.push((name, value)),
        }
    }
    let pairs = latest.into_iter().map(|(name, value)| (name, Text(value)));
    let pairs = serde::de::value::MapDeserializer::<_, serde::de::value::Error>::new(pairs);
    Q::deserialize(pairs)
        .map_err(|e| ApiError::bad_request(format!("query string does not fit: {e}")))
}

/// A body field's value, handed to its `Option<Value>` field as it is (`null`: `None`).
struct Json(Value);

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for Json {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Json {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.0
            .deserialize_any(visitor)
            .map_err(serde::de::Error::custom)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// A query parameter's value: a string that an `Option<String>` field takes as `Some`.
struct Text(String);

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for Text {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Text {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// For a body field where `null` means something (it clears a value) and absent means "unchanged":
/// `Some(Value::Null)` for a `null`, `None` when absent (with `#[serde(default)]`).
pub fn keep_null<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The problems found in one request, each naming the field and the rule it broke.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<String>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    pub fn count(&self) -> usize {
        self.errors.len()
    }

    /// The value of a fallible constructor, or its error recorded like the others.
    pub fn check<T>(&mut self, parsed: Result<T>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.errors.push(e.errors.join("; "));
                None
            }
        }
    }

    /// An optional string of `min..=max` characters (Unicode scalar values).
    pub fn string(
        &mut self,
        field: &str,
        value: Option<&Value>,
        min: usize,
        max: usize,
    ) -> Option<String> {
        match value {
            None => None,
            Some(Value::String(s)) => {
                let chars = s.chars().count();
                if chars < min || chars > max {
                    let rule = if min == max {
                        format!("exactly {min}")
                    } else if min == 0 {
                        format!("at most {max}")
                    } else {
                        format!("{min} to {max}")
                    };
                    self.errors
                        .push(format!("{field} must be a string of {rule} characters"));
                    None
                } else {
                    Some(s.clone())
                }
            }
            Some(_) => {
                self.errors.push(format!("{field} must be a string"));
                None
            }
        }
    }

    /// A string that must be there.
    pub fn required_string(
        &mut self,
        field: &str,
        value: Option<&Value>,
        min: usize,
        max: usize,
    ) -> Option<String> {
        if value.is_none() {
            self.errors.push(format!("{field} is required"));
        }
        self.string(field, value, min, max)
    }

    /// A required string turned into a value by `parse` (an id constructor, say).
    pub fn required_parsed<T>(
        &mut self,
        field: &str,
        value: Option<&Value>,
        parse: impl Fn(&str) -> Result<T>,
    ) -> Option<T> {
        let raw = self.required_string(field, value, 1, 64)?;
        self.check(parse(&raw))
    }

    /// An optional integer in `min..=max`: a JSON number without a fractional part, as JSON Schema's
    /// `integer` (so `5`, `5.0` and `5e0` are the same integer); `1.5` and `"10"` are refused.
    pub fn integer(
        &mut self,
        field: &str,
        value: Option<&Value>,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let value = value?;
        match value.as_number().and_then(whole_number) {
            Some(i) if (min..=max).contains(&i) => Some(i),
            _ => {
                self.errors.push(format!(
                    "{field} must be an integer between {min} and {max}"
                ));
                None
            }
        }
    }

    pub fn object(&mut self, field: &str, value: Option<&Value>) -> Option<Map<String, Value>> {
        match value {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => {
                self.errors.push(format!("{field} must be a JSON object"));
                None
            }
        }
    }

    pub fn string_array(&mut self, field: &str, value: Option<&Value>) -> Option<Vec<String>> {
        let strings = match value? {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>(),
            _ => None,
        };
        if strings.is_none() {
            self.errors
                .push(format!("{field} must be an array of strings"));
        }
        strings
    }

    /// A query parameter that is a strict decimal integer in `min..=max`, else `default` when absent.
    /// "1.5", "abc", "+1" and "" are errors.
    pub fn query_integer(
        &mut self,
        name: &str,
        raw: Option<&str>,
        min: i64,
        max: i64,
        default: Option<i64>,
    ) -> Option<i64> {
        let Some(raw) = raw else {
            return default;
        };
        let parsed =
            if !raw.is_empty() && raw.len() <= 16 && raw.bytes().all(|b| b.is_ascii_digit()) {
                raw.parse::<i64>().ok()
            } else {
                None
            };
        match parsed {
            Some(i) if (min..=max).contains(&i) => Some(i),
            _ => {
                self.errors
                    .push(format!("{name} must be an integer between {min} and {max}"));
                None
            }
        }
    }

    /// An optional cursor, decoded by `decode`; one the server did not hand out for `list` (a text
    /// such as "this list") is an error.
    pub fn cursor<P>(
        &mut self,
        raw: Option<&str>,
        list: &str,
        decode: impl FnOnce(&str) -> Option<P>,
    ) -> Option<P> {
        let position = decode(raw?);
        if position.is_none() {
            self.errors
                .push(format!("cursor is not a nextCursor of {list}"));
        }
        position
    }

    /// Ends the checks: a 400 listing every problem, or Ok.
    pub fn finish(self) -> Result<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

/// A PATCH body's schema: at least one of `fields` must be there, and none shows a default (a field
/// left out leaves its value as it is). For `#[schemars(transform = …)]`.
pub fn at_least_one_of(schema: &mut schemars::Schema, fields: &[&str]) {
    let required: Vec<Value> = fields
        .iter()
        .map(|field| serde_json::json!({ "required": [field] }))
        .collect();
    schema.insert("anyOf".into(), Value::Array(required));
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in properties.values_mut().filter_map(Value::as_object_mut) {
            property.remove("default");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        a: Option<Value>,
        #[serde(default, deserialize_with = "keep_null")]
        b: Option<Value>,
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(body::<Sample>(b"[1]").err().unwrap().status, 400);
        assert_eq!(body::<Sample>(b"{nope").err().unwrap().status, 400);
        let too_big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(body::<Sample>(&too_big).err().unwrap().status, 413);
        let empty: Sample = body(b"  ").unwrap();
        assert!(empty.a.is_none() && empty.b.is_none());
    }

    #[test]
    fn null_is_absent_unless_kept() {
        let s: Sample = body(br#"{"a": null, "b": null, "c": 1}"#).unwrap();
        assert!(s.a.is_none());
        assert_eq!(s.b, Some(Value::Null));
    }

    #[test]
    fn integers_are_json_schema_integers() {
        let mut checks = Checks::new();
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(checks.integer("a", Some(&v("1.5")), 1, 10), None);
        assert_eq!(checks.integer("b", Some(&v("\"10\"")), 1, 10), None);
        assert_eq!(checks.integer("c", Some(&v("7")), 1, 10), Some(7));
        assert_eq!(checks.integer("d", Some(&v("1e3")), 1, 10_000), Some(1000));
        assert_eq!(checks.integer("e", Some(&v("2.0")), 1, 10), Some(2));
        assert_eq!(checks.integer("f", Some(&v("1e300")), 1, 10), None);
        assert_eq!(checks.integer("g", Some(&v("-0.0")), 0, 10), Some(0));
        let err = checks.finish().unwrap_err();
        assert_eq!(err.errors.len(), 3);
        assert!(err.errors[0].starts_with("a must be an integer"));
    }

    #[test]
    fn strings_count_characters_not_bytes() {
        let mut checks = Checks::new();
        let s = Value::String("ééé".into());
        assert_eq!(checks.string("s", Some(&s), 1, 3).as_deref(), Some("ééé"));
        assert_eq!(checks.string("s", Some(&s), 1, 2), None);
        assert_eq!(checks.required_string("t", None, 1, 2), None);
        assert_eq!(checks.count(), 2);
    }

    #[test]
    fn query_integers_reject_junk() {
        for bad in [
            "0",
            "101",
            "abc",
            "1.5",
            "",
            "+5",
            "-1",
            "99999999999999999999",
        ] {
            let mut checks = Checks::new();
            assert_eq!(
                checks.query_integer("limit", Some(bad), 1, 100, Some(20)),
                None,
                "{bad}"
            );
            assert!(checks.finish().is_err(), "{bad}");
        }
        let mut checks = Checks::new();
        assert_eq!(
            checks.query_integer("limit", Some("100"), 1, 100, Some(20)),
            Some(100)
        );
        assert_eq!(
            checks.query_integer("limit", None, 1, 100, Some(20)),
            Some(20)
        );
    }

    #[test]
    fn a_query_takes_the_last_value_of_a_name() {
        #[derive(Deserialize)]
        struct Q {
            limit: Option<String>,
            #[serde(rename = "updated_at.gt")]
            gt: Option<String>,
        }
        let q: Q = query(vec![
            ("limit".into(), "5".into()),
            ("limit".into(), "7".into()),
            ("updated_at.gt".into(), "1".into()),
            ("other".into(), "x".into()),
        ])
        .unwrap();
        assert_eq!(
            (q.limit.as_deref(), q.gt.as_deref()),
            (Some("7"), Some("1"))
        );
    }
}
