//! A compose file as a tree, before it is typed: interpolation and merging work on this
//! (the specification applies both before the model's types), and tags (`!reset`,
//! `!override`) travel with the node they mark. YAML is read as YAML 1.2 (`yes` and `no` are
//! strings), with anchors, aliases and merge keys; a key given twice is an error.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Tagged;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub tag: Option<String>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn new(value: Value) -> Node {
        Node { tag: None, value }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(m) => m.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// As JSON, for the model's types and `config --format json` (tags are left behind).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Seq(v) => serde_json::Value::Array(v.iter().map(Node::to_json).collect()),
            Value::Map(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let Tagged(value, tag) = Tagged::<Value>::deserialize(d)?;
        Ok(Node { tag, value })
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(n).map(Value::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            v.push(n);
        }
        Ok(Value::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m: Vec<(String, Node)> = Vec::new();
        while let Some(k) = map.next_key::<Key>()? {
            let v = map.next_value::<Node>()?;
            m.push((k.0, v));
        }
        Ok(Value::Map(m))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A mapping key: compose's keys are strings; numbers and booleans are read as their text
/// (`8080: ...` under `ports`-like maps, as compose-go reads them).
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(Key(s.to_string()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Key, E> {
                Ok(Key(n.to_string()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Key, E> {
                Ok(Key(n.to_string()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Key, E> {
                Ok(Key(n.to_string()))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Key, E> {
                Ok(Key(b.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key("null".into()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct LoadError {
    pub file: String,
    pub message: String,
}

/// Parses one compose file. `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Node, LoadError> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    // `mode: 0440` is octal, as compose-go's yaml.v3 reads it.
    options.legacy_octal_numbers = true;
    let node: Node =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| LoadError { file: file.to_string(), message: e.to_string() })?;
    match node.value {
        Value::Map(_) => Ok(node),
        Value::Null => Ok(Node::new(Value::Map(Vec::new()))),
        _ => Err(LoadError { file: file.to_string(), message: "Top-level object must be a mapping".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_merge_keys_tags_and_yaml_1_2_scalars() {
        let n = parse(
            "x-base: &base\n  image: busybox\n  restart: no\nservices:\n  web:\n    <<: *base\n    ports: !reset []\n    tty: true\n    replicas: 2\n    8080: key\n    mode: 0440\n",
            "compose.yaml",
        )
        .unwrap();
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().as_str(), Some("busybox"));
        // YAML 1.2: `no` is a string (compose's restart policy), `true` a boolean.
        assert_eq!(web.get("restart").unwrap().as_str(), Some("no"));
        assert_eq!(web.get("tty").unwrap().value, Value::Bool(true));
        assert_eq!(web.get("ports").unwrap().tag.as_deref(), Some("!reset"));
        assert_eq!(web.get("replicas").unwrap().value, Value::Number(2.into()));
        assert_eq!(web.get("8080").unwrap().as_str(), Some("key"));
        assert_eq!(web.get("mode").unwrap().value, Value::Number(0o440.into()));
    }

    #[test]
    fn bad_files_are_named() {
        let e = parse("services:\n  web: {}\n  web: {}\n", "dup.yaml").unwrap_err();
        assert!(e.to_string().starts_with("dup.yaml: "), "{e}");
        assert!(parse("- a list\n", "list.yaml").unwrap_err().message.contains("mapping"));
        assert!(parse("services: [\n", "broken.yaml").is_err());
        assert_eq!(parse("", "empty.yaml").unwrap(), Node::new(Value::Map(Vec::new())));
    }
}
