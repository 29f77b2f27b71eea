//! Reading JSON objects field by field, over `serde_json::Value`.
//!
//! One generic parser with typed getters, rather than a derived deserializer
//! per shape: the component stays small (each derive costs kilobytes of
//! WebAssembly) and every error still names the field. The parser refuses an
//! object that names a key twice, which `serde_json` would resolve silently,
//! last wins: a repeated `claims` in a policy must not drop the first.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a JSON text is not what was expected. Its text names fields the
/// reader expects, never one the text brought: the text may be anyone's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not JSON, or a key given twice in one object (serde_json's words:
    /// what and where, never the text itself).
    Syntax(String),
    /// A value that must be an object is not (`what` says which).
    NotAnObject(&'static str),
    /// Fields other than the known ones: counted, not named.
    Unknown {
        /// How many.
        count: usize,
        /// The fields that are known.
        known: Vec<&'static str>,
    },
    /// A required field is absent (or `null`).
    Missing(String),
    /// A field that is not what it must be.
    Wrong {
        /// The field, as its parent names it.
        field: String,
        /// What it must be: `a string`, `an RFC 3339 time`, ...
        expected: &'static str,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Syntax(why) => f.write_str(why),
            Error::NotAnObject(what) => write!(f, "{what} is not a JSON object"),
            Error::Unknown { count, known } => {
                let fields = if *count == 1 { "field" } else { "fields" };
                write!(f, "{count} unknown {fields}, expected only {}", known.join(", "))
            }
            Error::Missing(field) => write!(f, "missing field `{field}`"),
            Error::Wrong { field, expected } => write!(f, "`{field}` is not {expected}"),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// [`Error::Wrong`] for `field`.
pub fn wrong(field: &str, expected: &'static str) -> Error {
    Error::Wrong { field: field.to_owned(), expected }
}

/// A JSON object being read.
pub struct Object(Map<String, Value>);

impl Object {
    /// Parses `bytes` as one JSON object; a key given twice anywhere in it
    /// is an error.
    pub fn parse(bytes: &[u8]) -> Result<Object> {
        match parse(bytes)? {
            Value::Object(map) => Ok(Object(map)),
            _ => Err(Error::NotAnObject("the text")),
        }
    }

    /// `value`, which must be an object (`what` says which, for the error).
    pub fn from_value(value: Value, what: &'static str) -> Result<Object> {
        match value {
            Value::Object(map) => Ok(Object(map)),
            _ => Err(Error::NotAnObject(what)),
        }
    }

    /// The fields.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// Fails on a field not in `known`. The unknown fields are counted, not
    /// named: they may come from anyone, and the error may reach a log.
    pub fn only(&self, known: &[&'static str]) -> Result<()> {
        match self.0.keys().filter(|key| !known.contains(&key.as_str())).count() {
            0 => Ok(()),
            count => Err(Error::Unknown { count, known: known.to_vec() }),
        }
    }

    /// Whether the field is there at all, `null` included.
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The field as it is (`null` counts as absent).
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// Takes the field out (`null` counts as absent).
    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key).filter(|v| !v.is_null())
    }

    /// An optional string field.
    pub fn str(&self, key: &str) -> Result<Option<&str>> {
        self.value(key).map(|v| v.as_str().ok_or_else(|| wrong(key, "a string"))).transpose()
    }

    /// A required string field.
    pub fn required_str(&self, key: &str) -> Result<&str> {
        self.str(key)?.ok_or_else(|| missing(key))
    }

    /// A required whole-number field.
    pub fn required_u64(&self, key: &str) -> Result<u64> {
        self.u64(key)?.ok_or_else(|| missing(key))
    }

    /// An optional whole-number field.
    pub fn u64(&self, key: &str) -> Result<Option<u64>> {
        self.value(key).map(|v| v.as_u64().ok_or_else(|| wrong(key, "a whole number"))).transpose()
    }

    /// A list of strings; absent: empty.
    pub fn strings(&self, key: &str) -> Result<Vec<String>> {
        let Some(value) = self.value(key) else { return Ok(Vec::new()) };
        let items = value.as_array().ok_or_else(|| wrong(key, "a list of strings"))?;
        items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| wrong(key, "a list of strings")))
            .collect()
    }

    /// An object of strings (e.g. `{"contents": "read"}`); absent: empty.
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>> {
        let Some(value) = self.value(key) else { return Ok(BTreeMap::new()) };
        let object = value.as_object().ok_or_else(|| wrong(key, "an object of strings"))?;
        object
            .iter()
            .map(|(k, v)| {
                Ok((k.clone(), v.as_str().ok_or_else(|| wrong(key, "an object of strings"))?.to_owned()))
            })
            .collect()
    }
}

/// Parses `bytes` as one JSON value, refusing a key given twice in an object.
pub fn parse(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice::<Strict>(bytes)
        .map(|Strict(value)| value)
        .map_err(|e| Error::Syntax(e.to_string()))
}

/// A JSON value whose objects name each key once.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Strict, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(v.into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            // Not quoted: the key may come from anyone, and the error may reach a log.
            if object.contains_key(&key) {
                return Err(A::Error::custom("a key is given twice in one object"));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

fn missing(key: &str) -> Error {
    Error::Missing(key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_names_what_is_wrong() {
        let o = Object::parse(br#"{"s":"x","n":7,"l":["a"],"m":{"k":"v"},"z":null,"bad":[1]}"#).unwrap();
        assert_eq!(o.required_str("s"), Ok("x"));
        assert_eq!(o.u64("n"), Ok(Some(7)));
        assert_eq!(o.strings("l"), Ok(vec!["a".to_owned()]));
        assert_eq!(o.string_map("m").unwrap()["k"], "v");
        assert_eq!((o.str("z"), o.str("absent"), o.strings("absent")), (Ok(None), Ok(None), Ok(vec![])));
        let says = |e: Error| e.to_string();
        assert_eq!(says(o.required_str("z").unwrap_err()), "missing field `z`");
        assert_eq!(says(o.u64("s").unwrap_err()), "`s` is not a whole number");
        assert_eq!(says(o.strings("bad").unwrap_err()), "`bad` is not a list of strings");
        assert_eq!(says(o.str("n").unwrap_err()), "`n` is not a string");
        let unknown = o.only(&["s", "n", "l", "m", "z"]).unwrap_err();
        assert_eq!(says(unknown), "1 unknown field, expected only s, n, l, m, z");
        assert!(says(o.only(&["s"]).unwrap_err()).starts_with("5 unknown fields"));
        assert_eq!(Object::parse(b"[]").err(), Some(Error::NotAnObject("the text")));
        assert!(Object::parse(b"{").is_err());
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        for twice in [
            &br#"{"a": 1, "a": 2}"#[..],
            br#"{"rules": [{"claims": {"sub": "x"}, "claims": {}}]}"#,
            br#"{"x": {"y": [{"k": null, "k": null}]}}"#,
        ] {
            let e = Object::parse(twice).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("is given twice"), "{}: {e}", String::from_utf8_lossy(twice));
        }
        let same = br#"{"a": [1, -2, 3.5, "s", true, null, {"a": {}}], "b": {"a": 1}}"#;
        assert_eq!(parse(same).unwrap(), serde_json::from_slice::<Value>(same).unwrap());
    }
}
