//! doca's Dockerfile front end. `parser` turns a Dockerfile's text into instructions with their
//! line numbers, as Docker documents the language (Dockerfile reference: "Format", "Parser
//! directives", "Escape"); it does no I/O, so it is tested on its own against golden files
//! (`testdata/<case>/{Dockerfile,parsed.json}`).

pub mod expand;
pub mod parser;

pub use expand::{expand, expand_words, ExpandError};
pub use parser::{parse, Args, Instruction, ParseError, Parsed};
