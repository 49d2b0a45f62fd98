//! Executes a parsed template over JSON values with Go's semantics for truth, printing and
//! comparison.

use crate::parse::{Arg, Node, Pipeline};
use crate::TemplateError;
use serde_json::Value;

pub struct Eval<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
}

fn xerr<T>(p: &Pipeline, at: &str, msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError::Exec { line: p.line, at: at.to_string(), msg: msg.into() })
}

/// Go's truth: false, 0, nil, and empty strings, arrays and maps are false.
pub fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn num_str(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        let f = n.as_f64().unwrap_or(0.0);
        if f.fract() == 0.0 && f.abs() < 1e21 {
            format!("{f:.0}")
        } else {
            f.to_string()
        }
    }
}

/// Keys that begin with this are the caller's, not data: they never print, never show in
/// `json`, `len` or `range`. A hidden object under `METHOD` + name makes `.Name "key"` a
/// method call that looks `key` up in it ("" when absent), as docker's formatter methods
/// (`.Label "com.example"`) do.
pub const METHOD: &str = "\u{0}";

fn visible(o: &serde_json::Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    o.iter().filter(|(k, _)| !k.starts_with(METHOD))
}

/// An object that stands for a Go struct rather than a map: every key an exported Go
/// identifier (docker's shapes are structs with such field names; labels, options and
/// networks are maps keyed by free text).
pub fn is_struct(o: &serde_json::Map<String, Value>) -> bool {
    let mut keys = visible(o).map(|(k, _)| k).peekable();
    keys.peek().is_some()
        && keys
            .all(|k| k.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Go's `%v` of the value an interface holds: a struct as `{v1 v2}` in field order, a map
/// as `map[k:v]` in key order.
pub fn print(v: &Value) -> String {
    fn inner(v: &Value, top: bool) -> String {
        match v {
            Value::Null if top => "<no value>".into(),
            Value::Null => "<nil>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => num_str(n),
            Value::String(s) => s.clone(),
            Value::Array(a) => format!("[{}]", a.iter().map(|x| inner(x, false)).collect::<Vec<_>>().join(" ")),
            Value::Object(o) if is_struct(o) => {
                format!("{{{}}}", visible(o).map(|(_, x)| inner(x, false)).collect::<Vec<_>>().join(" "))
            }
            Value::Object(o) => {
                let mut keys: Vec<&String> = visible(o).map(|(k, _)| k).collect();
                keys.sort();
                format!("map[{}]", keys.iter().map(|k| format!("{k}:{}", inner(&o[*k], false))).collect::<Vec<_>>().join(" "))
            }
        }
    }
    inner(v, true)
}

/// The value without the caller's hidden keys, at every depth (for `json`).
fn without_hidden(v: &Value) -> std::borrow::Cow<'_, Value> {
    fn has_hidden(v: &Value) -> bool {
        match v {
            Value::Object(o) => o.iter().any(|(k, x)| k.starts_with(METHOD) || has_hidden(x)),
            Value::Array(a) => a.iter().any(has_hidden),
            _ => false,
        }
    }
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(o) => Value::Object(visible(o).map(|(k, x)| (k.clone(), strip(x))).collect()),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    if has_hidden(v) {
        std::borrow::Cow::Owned(strip(v))
    } else {
        std::borrow::Cow::Borrowed(v)
    }
}

/// Follows `.A.B` from `v` by reference; only the value found is cloned by the caller.
fn field<'v>(p: &Pipeline, v: &'v Value, fields: &[String]) -> Result<&'v Value, TemplateError> {
    const NULL: &Value = &Value::Null;
    let mut v = v;
    for f in fields {
        v = match v {
            Value::Object(o) => o.get(f).unwrap_or(NULL),
            Value::Null => return xerr(p, &format!(".{f}"), format!("nil pointer evaluating interface {{}}.{f}")),
            other => return xerr(p, &format!(".{f}"), format!("can't evaluate field {f} in type {}", type_name(other))),
        };
    }
    Ok(v)
}

/// A field the data itself (a docker shape, a listing's row: Go structs) does not have is an
/// error, as Go reports it for a struct: `{{.Nonexistent}}` must not print nothing and
/// succeed. Deeper down a missing key is no value: an omitted nil field (`.State.Health`)
/// and a map's missing key read alike as JSON, and Go gives both without an error.
fn root_field(p: &Pipeline, root: &Value, fields: &[String]) -> Result<(), TemplateError> {
    match (root, fields.first()) {
        (Value::Object(o), Some(f)) if !o.contains_key(f) && is_struct(o) => {
            xerr(p, &format!(".{f}"), format!("can't evaluate field {f} in type struct"))
        }
        _ => Ok(()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn as_int(p: &Pipeline, f: &str, v: &Value) -> Result<i64, TemplateError> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).ok_or(()).or_else(|_| xerr(p, f, "bad number")),
        Value::String(s) => s.parse().or_else(|_| xerr(p, f, format!("expected integer; found {s:?}"))),
        other => xerr(p, f, format!("expected integer; found {}", type_name(other))),
    }
}

fn cmp(p: &Pipeline, name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, TemplateError> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Ok(x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0))),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if name == "eq" || name == "ne" => Ok(x.cmp(y)),
        (Value::Null, Value::Null) if name == "eq" || name == "ne" => Ok(std::cmp::Ordering::Equal),
        _ => xerr(p, name, "incompatible types for comparison"),
    }
}

/// A subset of Go's fmt verbs: %s %v %d %q %t %f %x with `-` and a width, and %%.
fn sprintf(p: &Pipeline, fmt: &str, args: &[Value]) -> Result<String, TemplateError> {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut ai = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut width = String::new();
        while let Some(&f) = it.peek() {
            if f == '-' {
                left = true;
                it.next();
            } else if f.is_ascii_digit() || f == '.' {
                width.push(f);
                it.next();
            } else {
                break;
            }
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let (w, prec) = match width.split_once('.') {
            Some((w, pr)) => (w.parse::<usize>().unwrap_or(0), pr.parse::<usize>().ok()),
            None => (width.parse::<usize>().unwrap_or(0), None),
        };
        let s = match verb {
            's' | 'v' => print(arg),
            'd' => as_int(p, "printf", arg)?.to_string(),
            'q' => serde_json::to_string(&print(arg)).expect("json"),
            't' => truth(arg).to_string(),
            'f' => format!("{:.*}", prec.unwrap_or(6), arg.as_f64().unwrap_or(0.0)),
            'x' => match arg {
                Value::String(s) => s.bytes().map(|b| format!("{b:02x}")).collect(),
                other => format!("{:x}", as_int(p, "printf", other)?),
            },
            other => format!("%!{other}({})", print(arg)),
        };
        let s = match (verb, prec) {
            ('s' | 'v', Some(pr)) => s.chars().take(pr).collect(),
            _ => s,
        };
        let pad = w.saturating_sub(s.chars().count());
        if left {
            out.push_str(&s);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&s);
        }
    }
    Ok(out)
}

/// docker/cli templates: "json" encodes without HTML escaping and without the trailing newline.
pub fn to_json(v: &Value) -> String {
    serde_json::to_string(&without_hidden(v)).expect("json")
}

impl<'a> Eval<'a> {
    pub fn new(root: &'a Value) -> Self {
        Eval { root, vars: vec![("".into(), root.clone())] }
    }

    pub fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
        for n in nodes {
            match n {
                Node::Text(s) => out.push_str(s),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.decl.is_empty() {
                        out.push_str(&print(&v));
                    }
                }
                Node::If { cond, then, els } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(cond, dot)?;
                    let r = if truth(&v) { self.nodes(then, dot, out) } else { self.nodes(els, dot, out) };
                    self.vars.truncate(mark);
                    r?;
                }
                Node::With { pipe, body, els } => {
                    let mark = self.vars.len();
                    let v = self.pipeline(pipe, dot)?;
                    let r = if truth(&v) { self.nodes(body, &v, out) } else { self.nodes(els, dot, out) };
                    self.vars.truncate(mark);
                    r?;
                }
                Node::Range { pipe, body, els } => {
                    let mark = self.vars.len();
                    let decl = pipe.decl.clone();
                    let bare = Pipeline { decl: Vec::new(), ..pipe.clone() };
                    let v = self.pipeline(&bare, dot)?;
                    let items: Vec<(Value, Value)> = match v {
                        Value::Array(a) => a.into_iter().enumerate().map(|(i, x)| (Value::from(i), x)).collect(),
                        Value::Object(o) => {
                            let mut kv: Vec<(String, Value)> = o.into_iter().filter(|(k, _)| !k.starts_with(METHOD)).collect();
                            kv.sort_by(|a, b| a.0.cmp(&b.0));
                            kv.into_iter().map(|(k, x)| (Value::String(k), x)).collect()
                        }
                        Value::Null => Vec::new(),
                        Value::Number(n) => (0..n.as_i64().unwrap_or(0)).map(|i| (Value::from(i), Value::from(i))).collect(),
                        other => return xerr(pipe, "range", format!("range can't iterate over {}", print(&other))),
                    };
                    if items.is_empty() {
                        self.nodes(els, dot, out)?;
                    }
                    for (k, x) in items {
                        let inner = self.vars.len();
                        match decl.as_slice() {
                            [] => {}
                            [v] => self.vars.push((v.clone(), x.clone())),
                            [i, v, ..] => {
                                self.vars.push((i.clone(), k));
                                self.vars.push((v.clone(), x.clone()));
                            }
                        }
                        self.nodes(body, &x, out)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn var(&self, p: &Pipeline, name: &str) -> Result<Value, TemplateError> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(TemplateError::Parse { line: p.line, msg: format!("undefined variable \"${name}\"") }),
        }
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for cmd in &p.cmds {
            piped = Some(self.command(p, cmd, dot, piped)?);
        }
        let v = piped.unwrap_or(Value::Null);
        if !p.decl.is_empty() {
            let name = p.decl.last().expect("decl").clone();
            if p.assign {
                match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return Err(TemplateError::Parse { line: p.line, msg: format!("undefined variable \"${name}\"") }),
                }
            } else {
                self.vars.push((name, v.clone()));
            }
        }
        Ok(v)
    }

    fn arg(&mut self, p: &Pipeline, a: &Arg, dot: &Value) -> Result<Value, TemplateError> {
        Ok(match a {
            Arg::Dot => dot.clone(),
            Arg::Field(f) => {
                if std::ptr::eq(dot, self.root) {
                    root_field(p, dot, f)?;
                }
                field(p, dot, f)?.clone()
            }
            Arg::Var(n, f) => {
                if n.is_empty() {
                    root_field(p, self.root, f)?;
                    field(p, self.root, f)?.clone()
                } else {
                    field(p, &self.var(p, n)?, f)?.clone()
                }
            }
            Arg::Str(s) => Value::String(s.clone()),
            Arg::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 9e15 {
                    Value::from(*n as i64)
                } else {
                    Value::from(*n)
                }
            }
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Nil => Value::Null,
            Arg::Sub(sub, chain) => {
                let v = self.pipeline(sub, dot)?;
                field(p, &v, chain)?.clone()
            }
            Arg::Ident(name) => self.call(p, name, Vec::new())?,
        })
    }

    fn command(&mut self, p: &Pipeline, cmd: &[Arg], dot: &Value, piped: Option<Value>) -> Result<Value, TemplateError> {
        if let Some(Arg::Ident(name)) = cmd.first() {
            let mut args = Vec::with_capacity(cmd.len());
            for a in &cmd[1..] {
                args.push(self.arg(p, a, dot)?);
            }
            args.extend(piped);
            return self.call(p, name, args);
        }
        // `.Label "key"`: a method the caller provided as a hidden lookup table.
        if let (Some(Arg::Field(path)), 2) = (cmd.first(), cmd.len() + usize::from(piped.is_some())) {
            if let Some((name, recv)) = path.split_last() {
                let receiver = field(p, dot, recv)?;
                if let Some(Value::Object(table)) = receiver.as_object().and_then(|o| o.get(&format!("{METHOD}{name}"))) {
                    let key = match (cmd.get(1), piped) {
                        (Some(a), _) => self.arg(p, a, dot)?,
                        (None, Some(v)) => v,
                        (None, None) => unreachable!("two operands"),
                    };
                    return Ok(table.get(&print(&key)).cloned().unwrap_or_else(|| Value::String(String::new())));
                }
            }
        }
        if cmd.len() > 1 || piped.is_some() {
            let at = match &cmd[0] {
                Arg::Field(f) => format!(".{}", f.join(".")),
                _ => "operand".into(),
            };
            return xerr(p, &at, "can't give argument to non-function");
        }
        self.arg(p, &cmd[0], dot)
    }

    fn call(&mut self, p: &Pipeline, name: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
        let want = |n: usize| -> Result<(), TemplateError> {
            if args.len() != n {
                xerr(p, name, format!("wrong number of args for {name}: want {n} got {}", args.len()))
            } else {
                Ok(())
            }
        };
        let s = |v: &Value| print(v);
        Ok(match name {
            "json" => {
                want(1)?;
                Value::String(to_json(&args[0]))
            }
            "join" => {
                want(2)?;
                let parts: Vec<String> = match &args[0] {
                    Value::Array(a) => a.iter().map(s).collect(),
                    Value::Null => Vec::new(),
                    other => return xerr(p, name, format!("wrong type for value; expected []string; got {}", type_name(other))),
                };
                Value::String(parts.join(&s(&args[1])))
            }
            "split" => {
                want(2)?;
                Value::Array(s(&args[0]).split(&s(&args[1])).map(|x| Value::String(x.to_string())).collect())
            }
            "lower" => {
                want(1)?;
                Value::String(s(&args[0]).to_lowercase())
            }
            "upper" => {
                want(1)?;
                Value::String(s(&args[0]).to_uppercase())
            }
            "title" => {
                want(1)?;
                let mut out = String::new();
                let mut start = true;
                for c in s(&args[0]).chars() {
                    if start && c.is_alphabetic() {
                        out.extend(c.to_uppercase());
                    } else {
                        out.push(c);
                    }
                    start = !c.is_alphanumeric() && c != '_' && c != '\'';
                }
                Value::String(out)
            }
            "pad" => {
                want(3)?;
                let (b, a) = (as_int(p, name, &args[1])?.max(0) as usize, as_int(p, name, &args[2])?.max(0) as usize);
                Value::String(format!("{}{}{}", " ".repeat(b), s(&args[0]), " ".repeat(a)))
            }
            "truncate" => {
                want(2)?;
                let n = as_int(p, name, &args[1])?.max(0) as usize;
                let text = s(&args[0]);
                Value::String(if text.len() < n { text } else { text.chars().take(n).collect() })
            }
            "len" => {
                want(1)?;
                Value::from(match &args[0] {
                    Value::String(x) => x.len(),
                    Value::Array(a) => a.len(),
                    Value::Object(o) => visible(o).count(),
                    Value::Null => 0,
                    other => return xerr(p, name, format!("len of type {}", type_name(other))),
                })
            }
            "index" => {
                if args.is_empty() {
                    return xerr(p, name, "wrong number of args for index: want at least 1 got 0");
                }
                let mut v = args[0].clone();
                for k in &args[1..] {
                    v = match (v, k) {
                        (Value::Array(a), k) => {
                            let i = as_int(p, name, k)?;
                            a.get(i as usize).cloned().ok_or(()).or_else(|_| xerr(p, name, format!("index out of range: {i}")))?
                        }
                        (Value::Object(mut o), k) => o.remove(&s(k)).unwrap_or(Value::Null),
                        (Value::Null, _) => Value::Null,
                        (other, _) => return xerr(p, name, format!("can't index item of type {}", type_name(&other))),
                    };
                }
                v
            }
            "not" => {
                want(1)?;
                Value::Bool(!truth(&args[0]))
            }
            "and" => args.iter().find(|a| !truth(a)).or(args.last()).cloned().unwrap_or(Value::Null),
            "or" => args.iter().find(|a| truth(a)).or(args.last()).cloned().unwrap_or(Value::Null),
            "print" | "println" => {
                // Go's Sprint adds spaces between operands when neither is a string.
                let mut out = String::new();
                for (i, a) in args.iter().enumerate() {
                    if i > 0 && (name == "println" || (!a.is_string() && !args[i - 1].is_string())) {
                        out.push(' ');
                    }
                    out.push_str(&s(a));
                }
                if name == "println" {
                    out.push('\n');
                }
                Value::String(out)
            }
            "printf" => {
                if args.is_empty() {
                    return xerr(p, name, "wrong number of args for printf: want at least 1 got 0");
                }
                Value::String(sprintf(p, &s(&args[0]), &args[1..])?)
            }
            "eq" | "ne" => {
                if args.len() < 2 {
                    return xerr(p, name, format!("wrong number of args for {name}: want at least 2"));
                }
                let mut any = false;
                for b in &args[1..] {
                    any |= cmp(p, "eq", &args[0], b)? == std::cmp::Ordering::Equal;
                }
                Value::Bool(if name == "eq" { any } else { !any })
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let o = cmp(p, name, &args[0], &args[1])?;
                use std::cmp::Ordering::*;
                Value::Bool(match name {
                    "lt" => o == Less,
                    "le" => o != Greater,
                    "gt" => o == Greater,
                    _ => o != Less,
                })
            }
            _ => return Err(TemplateError::Parse { line: p.line, msg: format!("function \"{name}\" not defined") }),
        })
    }
}
