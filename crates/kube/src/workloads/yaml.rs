//! Multi-document YAML into located trees whose scalars are already JSON values.
//!
//! Like the stack file's reader (`fedstack_core::stack`, whose tree is not public), this
//! is built from yaml-rust2's pull parser, never its recursive loader, with the same
//! limits: nesting is capped at [`MAX_DEPTH`] and alias expansion at a node budget
//! proportional to the input ("billion laughs" is refused). Scalars follow the YAML 1.2
//! core schema (`true`/`false`, `null`/`~`, integers, floats); quoted scalars and `!!str`
//! are strings. Merge keys (`<<: *base`) are applied.

use std::collections::HashMap;

use fedstack_core::stack::Span;
use serde_json::{Number, Value};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::Yaml;

/// Deepest nesting accepted (aliases included).
const MAX_DEPTH: usize = 128;

/// A located node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Scalar { value: Value, span: Span },
    Seq { items: Vec<Node>, span: Span },
    Map { entries: Vec<Entry>, span: Span },
}

/// A mapping entry: the key's text and place, and the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Scalar { span, .. } | Node::Seq { span, .. } | Node::Map { span, .. } => *span,
        }
    }

    /// The value of `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// The scalar's string, if it is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar {
                value: Value::String(s),
                ..
            } => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(
            self,
            Node::Scalar {
                value: Value::Null,
                ..
            }
        )
    }

    /// What the node is, for messages ("a list", "the number 3").
    pub fn found(&self) -> String {
        match self {
            Node::Seq { .. } => "a list".to_string(),
            Node::Map { .. } => "a mapping".to_string(),
            Node::Scalar { value, .. } => match value {
                Value::Null => "nothing".to_string(),
                Value::Bool(b) => format!("the boolean {b}"),
                Value::Number(n) => format!("the number {n}"),
                Value::String(s) => format!("the string `{}`", clip(s)),
                _ => "a value".to_string(),
            },
        }
    }

    /// The tree as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            Node::Scalar { value, .. } => value.clone(),
            Node::Seq { items, .. } => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Map { entries, .. } => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A text cut to 40 characters for a message.
pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(39).collect();
        c.push('…');
        c
    }
}

/// One document of the stream (empty documents are left out).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    pub root: Node,
}

/// A problem of the YAML itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

fn span_of(m: &Marker) -> Span {
    Span {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

struct Built {
    node: Node,
    size: usize,
    height: usize,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
        size: usize,
        height: usize,
    },
    Map {
        entries: Vec<Entry>,
        span: Span,
        anchor: usize,
        size: usize,
        height: usize,
        /// `Some(Some(key))`: a key waits for its value; `Some(None)`: skip the value
        /// (its key was unusable).
        pending: Option<Option<(String, Span)>>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Built>,
    root: Option<Node>,
    docs: Vec<Document>,
    problems: Vec<Problem>,
    budget: usize,
    used: usize,
}

/// Parses every document of `text`. Syntax errors stop the parse (what was read before
/// is returned with the problem); duplicate keys and non-scalar keys are reported and the
/// entry dropped.
pub(crate) fn parse_documents(text: &str) -> (Vec<Document>, Vec<Problem>) {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        docs: Vec::new(),
        problems: Vec::new(),
        budget: text.len().saturating_mul(4).saturating_add(10_000),
        used: 0,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                b.problems.push(Problem {
                    span: span_of(e.marker()),
                    message: format!("not YAML: {}", e.info()),
                    hint: Some("check the indentation and the quoting here".to_string()),
                });
                return (b.docs, b.problems);
            }
        };
        let span = span_of(&mark);
        let result = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart => Ok(()),
            Event::DocumentEnd => {
                b.end_document();
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => b.scalar(text, style, tag, anchor, span),
            Event::Alias(id) => b.alias(id, span),
            Event::SequenceStart(anchor, _) => b.open(
                Frame::Seq {
                    items: Vec::new(),
                    span,
                    anchor,
                    size: 1,
                    height: 0,
                },
                span,
            ),
            Event::MappingStart(anchor, _) => b.open(
                Frame::Map {
                    entries: Vec::new(),
                    span,
                    anchor,
                    size: 1,
                    height: 0,
                    pending: None,
                },
                span,
            ),
            Event::SequenceEnd | Event::MappingEnd => b.close(),
        };
        if let Err(p) = result {
            b.problems.push(p);
            return (b.docs, b.problems);
        }
    }
    b.end_document();
    (b.docs, b.problems)
}

fn is_tag(tag: &Option<Tag>, suffix: &str) -> bool {
    tag.as_ref().is_some_and(|t| {
        t.suffix == suffix && (t.handle == "tag:yaml.org,2002:" || t.handle == "!!")
    })
}

impl Builder {
    fn end_document(&mut self) {
        self.stack.clear();
        if let Some(root) = self.root.take() {
            if !root.is_null() {
                self.docs.push(Document { root });
            }
        }
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), Problem> {
        self.used = self.used.saturating_add(n);
        if self.used > self.budget {
            return Err(Problem {
                span,
                message: "the YAML expands to too many nodes".to_string(),
                hint: Some("aliases (`*name`) are repeated too often".to_string()),
            });
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: String,
        style: TScalarStyle,
        tag: Option<Tag>,
        anchor: usize,
        span: Span,
    ) -> Result<(), Problem> {
        let value = if style != TScalarStyle::Plain || is_tag(&tag, "str") {
            Value::String(text)
        } else {
            match text.as_str() {
                "Null" | "NULL" => Value::Null,
                _ => match Yaml::from_str(&text) {
                    Yaml::Null => Value::Null,
                    Yaml::Boolean(b) => Value::Bool(b),
                    Yaml::Integer(i) => Value::Number(i.into()),
                    Yaml::Real(r) => {
                        let n = r
                            .parse::<f64>()
                            .ok()
                            .and_then(Number::from_f64)
                            .ok_or_else(|| Problem {
                                span,
                                message: format!("`{}` cannot be written in JSON", clip(&r)),
                                hint: Some("quote it to make it a string".to_string()),
                            })?;
                        Value::Number(n)
                    }
                    _ => Value::String(text),
                },
            }
        };
        self.count(1, span)?;
        self.attach(
            Built {
                node: Node::Scalar { value, span },
                size: 1,
                height: 0,
            },
            anchor,
        )
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), Problem> {
        let (node, size, height) = match self.anchors.get(&id) {
            Some(a) => (a.node.clone(), a.size, a.height),
            None => {
                return Err(Problem {
                    span,
                    message: "not YAML: unknown anchor".to_string(),
                    hint: None,
                })
            }
        };
        if self.stack.len() + height > MAX_DEPTH {
            return Err(Problem {
                span,
                message: format!("the YAML nests more than {MAX_DEPTH} levels deep"),
                hint: Some("an alias (`*name`) repeats a deeply nested node".to_string()),
            });
        }
        self.count(size, span)?;
        self.attach(Built { node, size, height }, 0)
    }

    fn open(&mut self, frame: Frame, span: Span) -> Result<(), Problem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Problem {
                span,
                message: format!("the YAML nests more than {MAX_DEPTH} levels deep"),
                hint: None,
            });
        }
        self.count(1, span)?;
        self.stack.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), Problem> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (built, anchor) = match frame {
            Frame::Seq {
                items,
                span,
                anchor,
                size,
                height,
            } => {
                let span = items.first().map_or(span, |i| span.min(i.span()));
                (
                    Built {
                        node: Node::Seq { items, span },
                        size,
                        height: height + 1,
                    },
                    anchor,
                )
            }
            Frame::Map {
                entries,
                span,
                anchor,
                size,
                height,
                ..
            } => {
                let span = entries.first().map_or(span, |e| span.min(e.key_span));
                let entries = self.merge_keys(entries);
                (
                    Built {
                        node: Node::Map { entries, span },
                        size,
                        height: height + 1,
                    },
                    anchor,
                )
            }
        };
        self.attach(built, anchor)
    }

    /// `<<: *base` (or a list of them) adds the merged mappings' entries the mapping does
    /// not set itself; earlier mappings in a list win.
    fn merge_keys(&mut self, entries: Vec<Entry>) -> Vec<Entry> {
        if !entries.iter().any(|e| e.key == "<<") {
            return entries;
        }
        let mut taken: std::collections::HashSet<String> = entries
            .iter()
            .filter(|e| e.key != "<<")
            .map(|e| e.key.clone())
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            if e.key != "<<" {
                out.push(e);
                continue;
            }
            let sources = match e.value {
                Node::Seq { items, .. } => items,
                other => vec![other],
            };
            for source in sources {
                match source {
                    Node::Map { entries, .. } => {
                        for m in entries {
                            if taken.insert(m.key.clone()) {
                                out.push(m);
                            }
                        }
                    }
                    other => self.problems.push(Problem {
                        span: other.span(),
                        message: format!("`<<` merges mappings, found {}", other.found()),
                        hint: Some("write `<<: *name` where `&name` marks a mapping".to_string()),
                    }),
                }
            }
        }
        out
    }

    fn attach(&mut self, built: Built, anchor: usize) -> Result<(), Problem> {
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Built {
                    node: built.node.clone(),
                    size: built.size,
                    height: built.height,
                },
            );
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(built.node);
                }
            }
            Some(Frame::Seq {
                items,
                size,
                height,
                ..
            }) => {
                *size = size.saturating_add(built.size);
                *height = (*height).max(built.height);
                items.push(built.node);
            }
            Some(Frame::Map {
                entries,
                size,
                height,
                pending,
                ..
            }) => {
                *size = size.saturating_add(built.size);
                *height = (*height).max(built.height);
                match pending.take() {
                    None => match built.node {
                        Node::Scalar { value, span } => {
                            let key = match value {
                                Value::String(s) => s,
                                Value::Null => String::new(),
                                other => other.to_string(),
                            };
                            *pending = Some(Some((key, span)));
                        }
                        other => {
                            self.problems.push(Problem {
                                span: other.span(),
                                message: format!(
                                    "a mapping key must be a scalar, found {}",
                                    other.found()
                                ),
                                hint: None,
                            });
                            *pending = Some(None);
                        }
                    },
                    Some(Some((key, key_span))) => {
                        if let Some(first) = entries.iter().find(|e| e.key == key) {
                            let first = first.key_span;
                            self.problems.push(Problem {
                                span: key_span,
                                message: format!("duplicate key `{}`", clip(&key)),
                                hint: Some(format!(
                                    "it is first set at line {}, column {}",
                                    first.line, first.column
                                )),
                            });
                        } else {
                            entries.push(Entry {
                                key,
                                key_span,
                                value: built.node,
                            });
                        }
                    }
                    Some(None) => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_scalars_and_places() {
        let (docs, problems) =
            parse_documents("a: 1\nb: '2'\nc: [true, ~, 1.5]\n---\n---\nx: &v {k: v}\ny: *v\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(docs.len(), 2);
        assert_eq!(
            docs[0].root.to_json(),
            json!({"a": 1, "b": "2", "c": [true, null, 1.5]})
        );
        assert_eq!(docs[0].root.span(), Span { line: 1, column: 1 });
        assert_eq!(
            docs[1].root.to_json(),
            json!({"x": {"k": "v"}, "y": {"k": "v"}})
        );
        assert_eq!(docs[1].root.span(), Span { line: 6, column: 1 });
    }

    #[test]
    fn merge_keys_and_duplicates() {
        let (docs, problems) = parse_documents("b: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n");
        assert!(problems.is_empty());
        assert_eq!(docs[0].root.to_json()["m"], json!({"y": 3, "x": 1}));
        let (_, problems) = parse_documents("a: 1\na: 2\n");
        assert_eq!(problems[0].message, "duplicate key `a`");
        assert_eq!(problems[0].span, Span { line: 2, column: 1 });
    }

    #[test]
    fn billion_laughs_and_deep_nesting_are_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (_, problems) = parse_documents(&s);
        assert!(problems[0].message.contains("too many nodes"));
        let (_, problems) = parse_documents(&"[".repeat(100_000));
        assert!(!problems.is_empty());
    }
}
