//! Tokens into a tree of nodes.

use crate::lex::Tok;
use crate::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Dot,
    Ident(String),
    Str(String),
    Num(f64),
    Bool(bool),
    Nil,
    Sub(Box<Pipeline>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub decl: Vec<String>,
    /// `=` (assign to an existing variable) rather than `:=`.
    pub assign: bool,
    pub cmds: Vec<Vec<Arg>>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If { cond: Pipeline, then: Vec<Node>, els: Vec<Node> },
    Range { pipe: Pipeline, body: Vec<Node>, els: Vec<Node> },
    With { pipe: Pipeline, body: Vec<Node>, els: Vec<Node> },
}

struct P {
    toks: Vec<(Tok, usize)>,
    i: usize,
}

enum Closer {
    Eof,
    End,
    /// `{{else}}` or `{{else if ...}}`: the keyword after else, if any.
    Else(Option<String>),
}

fn perr<T>(line: usize, msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError::Parse { line, msg: msg.into() })
}

pub fn parse(toks: Vec<(Tok, usize)>) -> Result<Vec<Node>, TemplateError> {
    let mut p = P { toks, i: 0 };
    let (nodes, end) = p.list()?;
    match end {
        Closer::Eof => Ok(nodes),
        Closer::End => perr(p.line(), "unexpected {{end}}"),
        Closer::Else(_) => perr(p.line(), "unexpected {{else}}"),
    }
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }
    fn line(&self) -> usize {
        self.toks.get(self.i.min(self.toks.len().saturating_sub(1))).map(|t| t.1).unwrap_or(1)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|t| t.0.clone());
        self.i += 1;
        t
    }

    fn list(&mut self) -> Result<(Vec<Node>, Closer), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(t) = self.next() {
            match t {
                Tok::Text(s) => nodes.push(Node::Text(s)),
                Tok::Open(line) => match self.peek() {
                    Some(Tok::Ident(k)) if k == "end" => {
                        self.i += 1;
                        self.expect_close()?;
                        return Ok((nodes, Closer::End));
                    }
                    Some(Tok::Ident(k)) if k == "else" => {
                        self.i += 1;
                        if let Some(Tok::Ident(k2)) = self.peek() {
                            if k2 == "if" || k2 == "with" {
                                let k2 = k2.clone();
                                self.i += 1;
                                return Ok((nodes, Closer::Else(Some(k2))));
                            }
                        }
                        self.expect_close()?;
                        return Ok((nodes, Closer::Else(None)));
                    }
                    Some(Tok::Ident(k)) if k == "if" || k == "range" || k == "with" => {
                        let k = k.clone();
                        self.i += 1;
                        nodes.push(self.control(&k, line)?);
                    }
                    Some(Tok::Ident(k)) if k == "define" || k == "template" || k == "block" || k == "break" || k == "continue" => {
                        return perr(line, format!("{{{{{k}}}}} is not supported"));
                    }
                    _ => {
                        let p = self.pipeline(line, true)?;
                        nodes.push(Node::Action(p));
                    }
                },
                other => return perr(self.line(), format!("unexpected {other:?}")),
            }
        }
        Ok((nodes, Closer::Eof))
    }

    /// After `if`/`range`/`with` (the keyword consumed): pipeline, body, optional else, end.
    fn control(&mut self, kw: &str, line: usize) -> Result<Node, TemplateError> {
        let pipe = self.pipeline(line, true)?;
        let (body, end) = self.list()?;
        let els = match end {
            Closer::Eof => return perr(line, format!("unexpected EOF in {kw}")),
            Closer::End => Vec::new(),
            Closer::Else(None) => {
                let (els, end) = self.list()?;
                if !matches!(end, Closer::End) {
                    return perr(line, format!("expected end after else in {kw}"));
                }
                els
            }
            // `else if` / `else with` chain: the nested control consumes the shared `end`.
            Closer::Else(Some(k2)) => vec![self.control(&k2, line)?],
        };
        Ok(match kw {
            "if" => Node::If { cond: pipe, then: body, els },
            "range" => Node::Range { pipe, body, els },
            _ => Node::With { pipe, body, els },
        })
    }

    fn expect_close(&mut self) -> Result<(), TemplateError> {
        match self.next() {
            Some(Tok::Close) => Ok(()),
            _ => perr(self.line(), "unexpected token, expected }}"),
        }
    }

    /// A pipeline up to `}}` (when `top`) or `)`.
    fn pipeline(&mut self, line: usize, top: bool) -> Result<Pipeline, TemplateError> {
        let mut decl = Vec::new();
        let mut assign = false;
        // Lookahead for `$x :=` / `$i, $v :=` / `$x =`.
        let save = self.i;
        let mut vars = Vec::new();
        while let Some(Tok::Var(name, f)) = self.peek().cloned() {
            if !f.is_empty() {
                break;
            }
            self.i += 1;
            vars.push(name);
            match self.peek() {
                Some(Tok::Comma) => {
                    self.i += 1;
                    continue;
                }
                Some(Tok::Declare) => {
                    self.i += 1;
                    decl = vars.clone();
                    break;
                }
                Some(Tok::Assign) => {
                    self.i += 1;
                    decl = vars.clone();
                    assign = true;
                    break;
                }
                _ => break,
            }
        }
        if decl.is_empty() {
            self.i = save;
        }
        let mut cmds = Vec::new();
        let mut cmd = Vec::new();
        loop {
            let t = self.next();
            match t {
                Some(Tok::Close) if top => break,
                Some(Tok::RParen) if !top => break,
                Some(Tok::Pipe) => {
                    if cmd.is_empty() {
                        return perr(line, "missing command before |");
                    }
                    cmds.push(std::mem::take(&mut cmd));
                }
                Some(Tok::LParen) => {
                    let sub = self.pipeline(line, false)?;
                    let chain = match self.peek() {
                        Some(Tok::Chain(f)) => {
                            let f = f.clone();
                            self.i += 1;
                            f
                        }
                        _ => Vec::new(),
                    };
                    cmd.push(Arg::Sub(Box::new(sub), chain));
                }
                Some(Tok::Field(f)) => cmd.push(Arg::Field(f)),
                Some(Tok::Var(n, f)) => cmd.push(Arg::Var(n, f)),
                Some(Tok::Dot) => cmd.push(Arg::Dot),
                Some(Tok::Str(s)) => cmd.push(Arg::Str(s)),
                Some(Tok::Num(n)) => cmd.push(Arg::Num(n)),
                Some(Tok::Ident(id)) => cmd.push(match id.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    _ => Arg::Ident(id),
                }),
                Some(other) => return perr(line, format!("unexpected {other:?} in operand")),
                None => return perr(line, "unclosed action"),
            }
        }
        if !cmd.is_empty() {
            cmds.push(cmd);
        }
        if cmds.is_empty() {
            return perr(line, "missing value for command");
        }
        Ok(Pipeline { decl, assign, cmds, line })
    }
}
