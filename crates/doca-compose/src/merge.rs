//! Several compose files into one (Compose Specification, "Merge and override"): mappings
//! merge key by key; sequences append, except the shell commands (`command`, `entrypoint`,
//! `healthcheck.test`), which the later file replaces, and the resources that are unique by
//! their target (`volumes`, `secrets`, `configs`) or by value (`ports`, `expose`, `dns`, ...),
//! where a later entry replaces the earlier one; `environment`, `labels` and the like, given as
//! lists or mappings, merge by key. `!reset` removes a value; `!override` replaces it whole.

use crate::node::{Node, Value};

/// Keys whose lists are `KEY=VALUE` (or `KEY:VALUE` for extra_hosts) entries merged by key.
const KEYED_LISTS: [&str; 6] = ["environment", "labels", "args", "sysctls", "extra_hosts", "annotations"];
/// Keys whose sequence the overriding file replaces whole.
const REPLACED: [&str; 3] = ["command", "entrypoint", "test"];
/// Keys whose entries are unique by their target path.
const BY_TARGET: [&str; 3] = ["volumes", "secrets", "configs"];
/// Keys whose entries are unique by value.
const UNIQUE: [&str; 11] =
    ["ports", "expose", "dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop", "devices", "profiles", "env_file"];

/// `base` with `over` applied; `key` is the key both stand under (it picks the sequence rule).
pub fn merge(base: Node, over: Node, key: &str) -> Option<Node> {
    match over.tag.as_deref() {
        Some("!reset") => return None,
        Some("!override") => return Some(Node { tag: None, ..over }),
        _ => {}
    }
    let (base, over) = if KEYED_LISTS.contains(&key) { (keyed(base, key), keyed(over, key)) } else { (base, over) };
    Some(match (base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => Node::new(Value::Map(merge_maps(b, o))),
        (Value::Seq(_), Value::Seq(o)) if REPLACED.contains(&key) => Node::new(Value::Seq(o)),
        (Value::Seq(b), Value::Seq(o)) => Node::new(Value::Seq(merge_seqs(b, o, key))),
        (_, o) => Node { tag: None, value: o },
    })
}

fn merge_maps(mut base: Vec<(String, Node)>, over: Vec<(String, Node)>) -> Vec<(String, Node)> {
    for (k, v) in over {
        match base.iter().position(|(bk, _)| *bk == k) {
            Some(i) => {
                let (_, old) = base.remove(i);
                if let Some(n) = merge(old, v, &k) {
                    base.insert(i, (k, n));
                }
            }
            // A key only the later file has: its tags still apply (`!reset` of nothing).
            None => {
                if v.tag.as_deref() != Some("!reset") {
                    base.push((k, Node { tag: None, ..v }));
                }
            }
        }
    }
    base
}

fn merge_seqs(mut base: Vec<Node>, over: Vec<Node>, key: &str) -> Vec<Node> {
    for o in over {
        let same = |b: &Node| {
            if BY_TARGET.contains(&key) {
                target(b).is_some() && target(b) == target(&o)
            } else {
                UNIQUE.contains(&key) && b.to_json() == o.to_json()
            }
        };
        match base.iter().position(same) {
            Some(i) => base[i] = o,
            None => base.push(o),
        }
    }
    base
}

/// Where a volume, secret or config entry lands in the container: the long syntax's
/// `target`, the short syntax's second field (a volume) or its name (a secret or config).
fn target(n: &Node) -> Option<String> {
    match &n.value {
        Value::Map(_) => n.get("target").or_else(|| n.get("source")).and_then(Node::as_str).map(String::from),
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(if parts.len() >= 2 { parts[1] } else { parts[0] }.to_string())
        }
        _ => None,
    }
}

/// A `KEY=VALUE` list as a mapping (null for a bare `KEY`), so that two files merge by key.
fn keyed(n: Node, key: &str) -> Node {
    let Value::Seq(items) = n.value else { return n };
    // extra_hosts entries are `HOST:IP` (or `HOST=IP`); the others `KEY=VALUE`.
    let seps: &[char] = if key == "extra_hosts" { &[':', '='] } else { &['='] };
    let map = items
        .into_iter()
        .map(|item| {
            let text = match item.value {
                Value::String(s) => s,
                other => Node::new(other).to_json().to_string(),
            };
            match text.split_once(seps) {
                Some((k, v)) => (k.to_string(), Node::new(Value::String(v.to_string()))),
                None => (text, Node::new(Value::Null)),
            }
        })
        .collect();
    Node { tag: n.tag, value: Value::Map(map) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parse;

    fn merged(a: &str, b: &str) -> serde_json::Value {
        let (a, b) = (parse(a, "a.yaml").unwrap(), parse(b, "b.yaml").unwrap());
        merge(a, b, "").unwrap().to_json()
    }

    #[test]
    fn mappings_merge_and_scalars_override() {
        let m = merged("services:\n  web:\n    image: a\n    tty: true\n", "services:\n  web:\n    image: b\n  db:\n    image: pg\n");
        assert_eq!(m, serde_json::json!({"services": {"web": {"image": "b", "tty": true}, "db": {"image": "pg"}}}));
    }

    #[test]
    fn commands_are_replaced_and_ports_appended_once() {
        let m = merged(
            "services:\n  web:\n    command: [a, b]\n    ports: ['80:80', '443:443']\n    healthcheck: {test: [CMD, x]}\n",
            "services:\n  web:\n    command: [c]\n    ports: ['443:443', '8080:80']\n    healthcheck: {test: [CMD, y]}\n",
        );
        let web = &m["services"]["web"];
        assert_eq!(web["command"], serde_json::json!(["c"]));
        assert_eq!(web["ports"], serde_json::json!(["80:80", "443:443", "8080:80"]));
        assert_eq!(web["healthcheck"]["test"], serde_json::json!(["CMD", "y"]));
    }

    #[test]
    fn volumes_are_unique_by_target_and_environment_by_key() {
        let m = merged(
            "services:\n  web:\n    volumes: ['data:/data', './src:/src']\n    environment: [A=1, B=2]\n",
            "services:\n  web:\n    volumes: [{type: volume, source: other, target: /data}]\n    environment: {B: '3', C: '4'}\n",
        );
        let web = &m["services"]["web"];
        assert_eq!(web["volumes"], serde_json::json!([{"type": "volume", "source": "other", "target": "/data"}, "./src:/src"]));
        assert_eq!(web["environment"], serde_json::json!({"A": "1", "B": "3", "C": "4"}));
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let m = merged(
            "services:\n  web:\n    ports: ['80:80']\n    environment: {A: '1'}\n    labels: {x: y}\n",
            "services:\n  web:\n    ports: !reset []\n    environment: !override {B: '2'}\n    new: !reset x\n",
        );
        let web = &m["services"]["web"];
        assert!(web.get("ports").is_none() && web.get("new").is_none(), "{web}");
        assert_eq!(web["environment"], serde_json::json!({"B": "2"}));
        assert_eq!(web["labels"], serde_json::json!({"x": "y"}));
    }
}
