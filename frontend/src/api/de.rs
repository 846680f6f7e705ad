//! Reads an answer's `data` (a `serde_json::Value`) into an operation's types.
//!
//! `serde_json::from_value` would do, but its deserializer hands a struct to the derived
//! visitor as an object *or* an array, and its errors carry formatted text: every response type
//! (≈ 160 of them) then carries a sequence reader and message formatting that a GraphQL answer
//! never needs. This one reads structs from objects only and has one error without text (the
//! app says BAD_RESPONSE either way). Measured on the release wasm: see docs/BENCHMARKS.md.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

/// The answer does not have the shape the operation expects.
#[derive(Debug)]
pub struct Invalid;

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unexpected answer")
    }
}

impl std::error::Error for Invalid {}

/// Every constructor overridden: the defaults format their arguments (floats included) into
/// a message nobody reads.
impl de::Error for Invalid {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Invalid
    }

    fn invalid_type(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Self {
        Invalid
    }

    fn invalid_value(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Self {
        Invalid
    }

    fn invalid_length(_: usize, _: &dyn de::Expected) -> Self {
        Invalid
    }

    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Invalid
    }

    fn unknown_field(_: &str, _: &'static [&'static str]) -> Self {
        Invalid
    }

    fn missing_field(_: &'static str) -> Self {
        Invalid
    }

    fn duplicate_field(_: &'static str) -> Self {
        Invalid
    }
}

/// Decodes `value` into `T` (owned: strings move, nothing is copied).
///
/// The reader's entry points are `#[inline(never)]`: each is then one function per value
/// type, called from every field of that type, instead of a copy inlined into every field of
/// every response type (measured in docs/BENCHMARKS.md).
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Invalid> {
    T::deserialize(Reader(value))
}

/// Parses `text` as JSON, then decodes it like [`from_value`] (parsing into a struct directly
/// would bring serde_json's error text, float formatting included, back into the wasm).
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Invalid> {
    from_value(serde_json::from_str::<Value>(text).map_err(|_| Invalid)?)
}

struct Reader(Value);

impl<'de> de::Deserializer<'de> for Reader {
    type Error = Invalid;

    #[inline(never)]
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(Items(items.into_iter())),
            Value::Object(map) => visitor.visit_map(Fields::new(map)),
        }
    }

    #[inline(never)]
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(Reader(other)),
        }
    }

    #[inline(never)]
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        match self.0 {
            Value::String(s) => visitor.visit_string(s),
            _ => Err(Invalid),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        self.deserialize_string(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        self.deserialize_string(visitor)
    }

    #[inline(never)]
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        visitor.visit_seq(items(self.0)?)
    }

    /// Objects only: what makes the derived `visit_seq` of every struct dead code.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        self.deserialize_map(visitor)
    }

    #[inline(never)]
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        visitor.visit_map(fields(self.0)?)
    }

    /// GraphQL enums arrive as their names: unit variants only.
    #[inline(never)]
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        // serde's string deserializer reads a unit variant by name.
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.into_deserializer()),
            _ => Err(Invalid),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit
        unit_struct tuple tuple_struct
    }
}

/// An array's items (the same for every element type: once in the wasm).
#[inline(never)]
fn items(value: Value) -> Result<Items, Invalid> {
    match value {
        Value::Array(items) => Ok(Items(items.into_iter())),
        _ => Err(Invalid),
    }
}

/// An object's fields (the same for every struct: once in the wasm).
#[inline(never)]
fn fields(value: Value) -> Result<Fields, Invalid> {
    match value {
        Value::Object(map) => Ok(Fields::new(map)),
        _ => Err(Invalid),
    }
}

struct Items(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for Items {
    type Error = Invalid;

    #[inline(never)]
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Invalid> {
        self.0
            .next()
            .map(|item| seed.deserialize(Reader(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Fields {
    entries: <Map<String, Value> as IntoIterator>::IntoIter,
    value: Option<Value>,
}

impl Fields {
    fn new(map: Map<String, Value>) -> Self {
        Fields {
            entries: map.into_iter(),
            value: None,
        }
    }
}

impl Fields {
    /// The next entry's key (its value kept for `next_value_seed`): the part of reading a key
    /// that is the same for every struct, once in the wasm.
    #[inline(never)]
    fn next_key(&mut self) -> Option<String> {
        let (key, value) = self.entries.next()?;
        self.value = Some(value);
        Some(key)
    }
}

/// A field name: handed to the derived field visitor as is (no `Value` to match on).
struct Key(String);

impl<'de> de::Deserializer<'de> for Key {
    type Error = Invalid;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        visitor.visit_string(self.0)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Invalid;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Invalid> {
        match self.next_key() {
            Some(key) => seed.deserialize(Key(key)).map(Some),
            None => Ok(None),
        }
    }

    #[inline(never)]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Invalid> {
        seed.deserialize(Reader(self.value.take().unwrap_or(Value::Null)))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::from_value;
    use crate::api::enums::Severity;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Row {
        id: String,
        open_ports: i64,
        ratio: f64,
        up: bool,
        note: Option<String>,
        severity: Severity,
        tags: Vec<String>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        n: u16,
    }

    #[test]
    fn structs_options_lists_enums_and_numbers_decode() {
        let rows: Vec<Row> = from_value(json!([
            {"id": "7", "openPorts": 3, "ratio": 2, "up": true, "note": null,
             "severity": "HIGH", "tags": ["a", "b"], "inner": {"n": 443}, "extra": [1]},
            {"id": "8", "openPorts": -1, "ratio": 0.5, "up": false, "note": "x",
             "severity": "INFO", "tags": [], "inner": null}
        ]))
        .expect("decodes");
        assert_eq!(rows[0].open_ports, 3);
        assert_eq!(rows[0].ratio, 2.0);
        assert_eq!(rows[0].severity, Severity::High);
        assert_eq!(rows[0].tags, ["a", "b"]);
        assert_eq!(rows[0].inner, Some(Inner { n: 443 }));
        assert_eq!(rows[1].open_ports, -1);
        assert_eq!(rows[1].note.as_deref(), Some("x"));
        assert_eq!(rows[1].inner, None);
    }

    /// A derived enum (not one of `api::enums`, which read a string themselves).
    #[derive(Debug, Deserialize, PartialEq)]
    enum Plain {
        #[serde(rename = "A_B")]
        AB,
        C,
    }

    #[test]
    fn derived_unit_enums_decode_by_name() {
        assert_eq!(from_value::<Plain>(json!("A_B")).ok(), Some(Plain::AB));
        assert_eq!(
            from_value::<Vec<Plain>>(json!(["C", "A_B"])).ok(),
            Some(vec![Plain::C, Plain::AB])
        );
        assert!(from_value::<Plain>(json!("D")).is_err());
        assert!(from_value::<Plain>(json!({"C": null})).is_err());
    }

    #[test]
    fn wrong_shapes_are_refused() {
        // A struct given as an array, an unknown enum name, a missing field, a number too big.
        assert!(from_value::<Inner>(json!([443])).is_err());
        assert!(from_value::<Severity>(json!("SEVERE")).is_err());
        assert!(from_value::<Inner>(json!({})).is_err());
        assert!(from_value::<Inner>(json!({"n": 70000})).is_err());
        assert!(from_value::<Vec<Inner>>(json!({"n": 1})).is_err());
    }
}
