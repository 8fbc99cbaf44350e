//! A small YAML tree that remembers where every node came from.
//!
//! Built from yaml-rust2's pull parser (never its recursive `load`, so deeply nested
//! input cannot overflow the stack). Scalars keep their original text: `1.30` stays
//! `"1.30"`, and it is up to the typed extraction to decide what a scalar means.
//!
//! Safety limits: nesting is capped at [`MAX_DEPTH`] levels and alias expansion at a
//! node budget proportional to the input, so "billion laughs" documents are rejected
//! instead of exhausting memory.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::Span;

/// Deepest nesting of mappings and sequences accepted (aliases included).
pub(crate) const MAX_DEPTH: usize = 128;

/// Mappings up to this size are checked for duplicate keys by a linear search.
const SMALL_MAP: usize = 16;

/// A scalar: its original text, whether it was written plain, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scalar {
    pub text: String,
    /// Plain (unquoted, not a block scalar, not tagged `!!str`). Only plain scalars
    /// can be numbers, booleans or null.
    pub plain: bool,
    pub span: Span,
}

impl Scalar {
    /// `~`, `null` or nothing at all, written plain.
    pub fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// A located YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Scalar(Scalar),
    Seq { items: Vec<Node>, span: Span },
    Map { entries: Vec<(Scalar, Node)>, span: Span },
}

impl Node {
    pub fn span(&self) -> Span {
        match self {
            Node::Scalar(s) => s.span,
            Node::Seq { span, .. } | Node::Map { span, .. } => *span,
        }
    }

    /// A null scalar (an empty value, `~` or `null`).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(s) if s.is_null())
    }
}

/// A problem found while reading the YAML itself.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct YamlError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

/// The result of parsing: the document (if it could be read at all) and the problems
/// found. Duplicate keys and non-scalar keys are reported but do not stop parsing (the
/// offending entry is dropped); syntax errors do.
pub(crate) struct Parsed {
    pub root: Option<Node>,
    pub errors: Vec<YamlError>,
}

pub(crate) fn span_of(m: &Marker) -> Span {
    Span {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

enum Pending {
    None,
    Key(Scalar),
    /// The key was not usable (reported); drop the value.
    Skip,
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<(Scalar, Node)>,
        span: Span,
        anchor: usize,
        pending: Pending,
        /// Key text -> index in `entries`, built once the mapping is large (small
        /// ones are searched linearly).
        seen: Option<HashMap<String, usize>>,
    },
}

/// A finished node with the numbers the alias limits need.
struct Built {
    node: Node,
    /// Number of nodes in it.
    size: usize,
    /// Nesting levels in it (a scalar is 0, `[a]` is 1).
    height: usize,
}

struct Anchored {
    node: Node,
    size: usize,
    height: usize,
}

struct Builder {
    stack: Vec<Frame>,
    /// Per open frame: (nodes so far, max child height).
    stats: Vec<(usize, usize)>,
    anchors: HashMap<usize, Anchored>,
    root: Option<Node>,
    errors: Vec<YamlError>,
    nodes_budget: usize,
    nodes_used: usize,
}

fn is_str_tag(tag: &Option<Tag>) -> bool {
    match tag {
        Some(t) => t.suffix == "str" && (t.handle == "tag:yaml.org,2002:" || t.handle == "!!"),
        None => false,
    }
}

/// Parses one YAML document into a located tree.
pub(crate) fn parse(text: &str) -> Parsed {
    let mut b = Builder {
        stack: Vec::new(),
        stats: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        errors: Vec::new(),
        // Without aliases a document has fewer nodes than bytes; aliases may
        // legitimately repeat things, but not explode.
        nodes_budget: text.len().saturating_mul(4).saturating_add(10_000),
        nodes_used: 0,
    };
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0usize;
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(x) => x,
            Err(e) => {
                b.errors.push(YamlError {
                    span: span_of(e.marker()),
                    message: format!("invalid YAML: {}", e.info()),
                    hint: None,
                });
                return Parsed {
                    root: None,
                    errors: b.errors,
                };
            }
        };
        let span = span_of(&mark);
        let result = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => Ok(()),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    b.errors.push(YamlError {
                        span,
                        message: "a stack file holds one YAML document, found a second one"
                            .to_string(),
                        hint: Some("remove the `---` and what follows it".to_string()),
                    });
                    break;
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain && !is_str_tag(&tag);
                b.finish(
                    Built {
                        node: Node::Scalar(Scalar { text, plain, span }),
                        size: 1,
                        height: 0,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => b.alias(id, span),
            Event::SequenceStart(anchor, _) => b.open(
                Frame::Seq {
                    items: Vec::new(),
                    span,
                    anchor,
                },
                span,
            ),
            Event::MappingStart(anchor, _) => b.open(
                Frame::Map {
                    entries: Vec::new(),
                    span,
                    anchor,
                    pending: Pending::None,
                    seen: None,
                },
                span,
            ),
            Event::SequenceEnd | Event::MappingEnd => b.close(),
        };
        if let Err(e) = result {
            b.errors.push(e);
            return Parsed {
                root: None,
                errors: b.errors,
            };
        }
    }
    Parsed {
        root: b.root,
        errors: b.errors,
    }
}

impl Builder {
    fn open(&mut self, frame: Frame, span: Span) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                span,
                message: format!("the YAML nests more than {MAX_DEPTH} levels deep"),
                hint: None,
            });
        }
        self.count(1, span)?;
        self.stack.push(frame);
        self.stats.push((1, 0));
        Ok(())
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), YamlError> {
        self.nodes_used = self.nodes_used.saturating_add(n);
        if self.nodes_used > self.nodes_budget {
            return Err(YamlError {
                span,
                message: "the YAML expands to too many nodes".to_string(),
                hint: Some("aliases (`*name`) are repeated too often".to_string()),
            });
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let (Some(frame), Some((size, child_height))) = (self.stack.pop(), self.stats.pop()) else {
            return Ok(());
        };
        let (node, anchor) = match frame {
            Frame::Seq {
                items,
                span,
                anchor,
            } => (Node::Seq { items, span }, anchor),
            Frame::Map {
                entries,
                span,
                anchor,
                ..
            } => (Node::Map { entries, span }, anchor),
        };
        self.attach(
            Built {
                node,
                size,
                height: child_height + 1,
            },
            anchor,
        )
    }

    fn finish(&mut self, built: Built, anchor: usize) -> Result<(), YamlError> {
        let span = built.node.span();
        self.count(built.size, span)?;
        self.attach(built, anchor)
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<(), YamlError> {
        let Some(a) = self.anchors.get(&id) else {
            // The parser rejects unknown anchors itself; be defensive anyway.
            return Err(YamlError {
                span,
                message: "invalid YAML: unknown anchor".to_string(),
                hint: None,
            });
        };
        if self.stack.len() + a.height > MAX_DEPTH {
            return Err(YamlError {
                span,
                message: format!("the YAML nests more than {MAX_DEPTH} levels deep"),
                hint: Some("an alias (`*name`) repeats a deeply nested node".to_string()),
            });
        }
        let (size, height) = (a.size, a.height);
        self.count(size, span)?;
        let Some(a) = self.anchors.get(&id) else {
            return Ok(());
        };
        let node = a.node.clone();
        self.attach(Built { node, size, height }, 0)
    }

    /// Records an anchor and hands the node to its parent (or makes it the root).
    fn attach(&mut self, built: Built, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(
                anchor,
                Anchored {
                    node: built.node.clone(),
                    size: built.size,
                    height: built.height,
                },
            );
        }
        if let Some(stat) = self.stats.last_mut() {
            stat.0 = stat.0.saturating_add(built.size);
            stat.1 = stat.1.max(built.height);
        }
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(built.node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(built.node),
            Some(Frame::Map {
                entries,
                pending,
                seen,
                ..
            }) => match std::mem::replace(pending, Pending::None) {
                Pending::None => match built.node {
                    Node::Scalar(key) => *pending = Pending::Key(key),
                    other => {
                        let found = match other {
                            Node::Seq { .. } => "a list",
                            _ => "a mapping",
                        };
                        self.errors.push(YamlError {
                            span: other.span(),
                            message: format!("a mapping key must be a scalar, found {found}"),
                            hint: None,
                        });
                        *pending = Pending::Skip;
                    }
                },
                Pending::Key(key) => {
                    let first = match seen {
                        Some(seen) => seen.get(&key.text).copied(),
                        None => entries.iter().position(|(k, _)| k.text == key.text),
                    };
                    if let Some(first) = first.and_then(|i| entries.get(i)) {
                        let first = first.0.span;
                        self.errors.push(YamlError {
                            span: key.span,
                            message: format!("duplicate key `{}`", super::cx::clip(&key.text)),
                            hint: Some(format!(
                                "it is first set at line {}, column {}",
                                first.line, first.column
                            )),
                        });
                    } else {
                        if let Some(seen) = seen {
                            seen.insert(key.text.clone(), entries.len());
                        } else if entries.len() >= SMALL_MAP {
                            let mut m: HashMap<String, usize> = entries
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.text.clone(), i))
                                .collect();
                            m.insert(key.text.clone(), entries.len());
                            *seen = Some(m);
                        }
                        entries.push((key, built.node));
                    }
                }
                Pending::Skip => {}
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let p = parse(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        p.root.expect("a document")
    }

    #[test]
    fn keeps_original_scalar_text_and_locations() {
        let n = root("a: 1.30\nb:\n  - 'x'\n");
        let Node::Map { entries, .. } = n else {
            panic!("map")
        };
        assert_eq!(entries[0].0.text, "a");
        assert_eq!(entries[0].0.span, Span { line: 1, column: 1 });
        let Node::Scalar(v) = &entries[0].1 else {
            panic!("scalar")
        };
        assert_eq!(v.text, "1.30");
        assert!(v.plain);
        assert_eq!(v.span, Span { line: 1, column: 4 });
        let Node::Seq { items, .. } = &entries[1].1 else {
            panic!("seq")
        };
        let Node::Scalar(x) = &items[0] else {
            panic!("scalar")
        };
        assert!(!x.plain);
        assert_eq!(x.span, Span { line: 3, column: 5 });
    }

    #[test]
    fn aliases_clone_the_anchored_node() {
        let n = root("a: &x {k: v}\nb: *x\n");
        let Node::Map { entries, .. } = n else {
            panic!("map")
        };
        let (Node::Map { entries: a, .. }, Node::Map { entries: b, .. }) =
            (&entries[0].1, &entries[1].1)
        else {
            panic!("maps")
        };
        assert_eq!(a[0].0.text, b[0].0.text);
    }

    #[test]
    fn billion_laughs_is_rejected() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let p = parse(&s);
        assert!(p.root.is_none());
        assert!(p.errors[0].message.contains("too many nodes"));
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let s = "[".repeat(100_000);
        let p = parse(&s);
        assert!(p.root.is_none());
        assert!(!p.errors.is_empty());
    }
}
