//! docker's formatter: `--format` templates (`table ...`, `json`, raw), header rows rendered
//! from the same template, tab-aligned tables.

use crate::Failure;
use doca_template::{TabWriter, Template};
use serde_json::{Map, Value};

pub struct Format {
    table: bool,
    tmpl: Template,
}

impl Format {
    /// `format` as the user gave it (or the command's default).
    pub fn parse(format: &str) -> Result<Self, Failure> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => (true, rest),
            _ => (false, format),
        };
        let body = if body.trim() == "json" && !table { "{{json .}}" } else { body };
        // docker's preFormat: trim spaces, then the two escapes users type in shells.
        let body = body.trim_matches(' ').replace("\\t", "\t").replace("\\n", "\n");
        let tmpl = Template::parse(&body).map_err(|e| Failure::failed(e.to_string()))?;
        Ok(Format { table, tmpl })
    }

    /// Renders rows, with the header (the template over `headers`) first for tables.
    pub fn render(&self, headers: &Value, rows: &[Value]) -> Result<String, Failure> {
        let mut body = String::new();
        if self.table {
            body.push_str(&self.tmpl.render(headers).map_err(|e| Failure::failed(e.to_string()))?);
            body.push('\n');
        }
        for r in rows {
            body.push_str(&self.tmpl.render(r).map_err(|e| Failure::failed(e.to_string()))?);
            body.push('\n');
        }
        if self.table {
            let mut tw = TabWriter::default();
            tw.write(&body);
            Ok(tw.finish())
        } else {
            Ok(body)
        }
    }
}

/// An object with its keys in sorted order, as Go marshals the map docker's contexts build.
/// docker's formatter method `.Label "key"` for a row: a hidden lookup table the template
/// engine calls (doca_template's METHOD keys never print or show in `json`).
pub fn label_method(labels: &std::collections::BTreeMap<String, String>) -> (&'static str, Value) {
    ("\u{0}Label", serde_json::to_value(labels).expect("labels serialize"))
}

pub fn row(pairs: Vec<(&str, Value)>) -> Value {
    let mut pairs = pairs;
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

/// Prints JSON as `docker inspect` does: an array indented with four spaces.
pub fn pretty_json(v: &impl serde::Serialize) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    v.serialize(&mut ser).expect("json");
    String::from_utf8(buf).expect("utf8")
}

pub fn print(s: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`doca images | head -1`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::new(crate::exit::SUCCESS, "")),
        Err(e) => Err(e.into()),
    }
}

/// What a prune removed, as docker's CLI prints it: a title line, one line per item, then a
/// blank line (docker Fprintln's the block); nothing when nothing went.
pub fn deleted_section(title: &str, items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.is_empty() {
        return String::new();
    }
    let mut out = format!("{title}:\n");
    for i in items {
        out.push_str(&i);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_label_method_is_a_template_method() {
        assert!(super::label_method(&Default::default()).0.starts_with(doca_template::METHOD));
        let row = super::row(vec![("Labels", "a=1".into()), super::label_method(&[("a".to_string(), "1".to_string())].into())]);
        let t = doca_template::Template::parse("{{.Label \"a\"}} {{json .}}").unwrap();
        assert_eq!(t.render(&row).unwrap(), r#"1 {"Labels":"a=1"}"#);
    }
}
