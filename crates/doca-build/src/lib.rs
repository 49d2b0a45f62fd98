//! doca's Dockerfile front end and builder. `parser` turns a Dockerfile's text into
//! instructions with their line numbers, as Docker documents the language (Dockerfile reference:
//! "Format", "Parser directives", "Escape"); `expand` is docker's word expansion;
//! `instructions` gives each instruction its own rules; `ignore` is `.dockerignore` and the
//! wildcards of COPY; `copy` plans COPY/ADD and writes their layers; `builder` runs a build
//! over a [`builder::BuildHost`], which the engine implements (this crate never imports the
//! engine). Parsing is tested on its own against golden files (`testdata/<case>/`).

#![forbid(unsafe_code)]

pub mod builder;
pub mod copy;
pub mod expand;
pub mod ignore;
pub mod instructions;
pub mod parser;

pub use builder::{Base, BuildError, BuildHost, BuildRequest, Builder, Built, Event, Plain, Progress};
pub use expand::{expand, expand_words, ExpandError};
pub use parser::{parse, Args, Instruction, ParseError, Parsed};
