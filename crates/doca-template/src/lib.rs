//! Go's text/template as docker's `--format` uses it, evaluated over `serde_json::Value`s:
//! text and `{{ }}` actions with `{{-`/`-}}` trimming, fields (`.A.B`), variables (`$x := ...`,
//! `$`), pipelines, parenthesized pipelines, string/number/bool literals, `if`/`else if`/`else`,
//! `range` (with `$i, $v :=`), `with`, and the functions docker adds (json, join, split, lower,
//! upper, title, pad, truncate) beside Go's builtins (and, or, not, len, index, print, printf,
//! println, eq, ne, lt, le, gt, ge). `table` and the tab-aligned output live in `table`.
//!
//! No crate implements Go templates over serde values well enough (gtmpl is unmaintained and
//! has its own value type), so doca carries this one; see ARCHITECTURE.md.

#![forbid(unsafe_code)]

mod eval;
mod lex;
mod parse;
pub mod table;

pub use eval::METHOD;
pub use table::TabWriter;

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template parsing error: template: :{line}: {msg}")]
    Parse { line: usize, msg: String },
    #[error("template: :{line}: executing \"\" at <{at}>: {msg}")]
    Exec { line: usize, at: String, msg: String },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        let toks = lex::lex(src)?;
        Ok(Template { nodes: parse::parse(toks)? })
    }

    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        eval::Eval::new(data).nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
