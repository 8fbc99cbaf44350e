//! A small YAML tree that remembers where every node came from.
//!
//! Built from yaml-rust2's pull parser (never its recursive `load`, so deeply nested
//! input cannot overflow the stack). Scalars keep their original text: `1.30` stays
//! `"1.30"`, and it is up to the typed extraction to decide what a scalar means.
//!
//! Safety limits: nesting is capped at [`MAX_DEPTH`] levels and alias expansion at a
//! node budget proportional to the input, so "billion laughs" documents are rejected
//! instead of exhausting memory.

use std::borrow::Cow;
use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::cx::{FxMap, FxSet};
use super::Span;

/// Deepest nesting of mappings and sequences accepted (aliases included).
pub(crate) const MAX_DEPTH: usize = 128;

/// Mappings up to this size are checked for duplicate keys by a linear search.
const SMALL_MAP: usize = 16;

/// A scalar: its original text, whether it was written plain, and where.
///
/// The text borrows from the source when it appears there verbatim (most scalars),
/// which keeps large documents cheap to build and to drop.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar<'a> {
    pub text: Cow<'a, str>,
    /// Plain (unquoted, not a block scalar, not tagged `!!str`). Only plain scalars
    /// can be numbers, booleans or null.
    pub plain: bool,
    pub span: Span,
}

impl Scalar<'_> {
    /// `~`, `null` or nothing at all, written plain.
    pub fn is_null(&self) -> bool {
        self.plain && matches!(self.text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
    }
}

/// A located YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    Scalar(Scalar<'a>),
    Seq {
        items: Vec<Node<'a>>,
        span: Span,
    },
    Map {
        entries: Vec<(Scalar<'a>, Node<'a>)>,
        span: Span,
    },
}

impl Node<'_> {
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
pub(crate) struct Parsed<'a> {
    pub root: Option<Node<'a>>,
    pub errors: Vec<YamlError>,
}

pub(crate) fn span_of(m: &Marker) -> Span {
    Span {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

enum Pending<'a> {
    None,
    Key(Scalar<'a>),
    /// The key was not usable (reported); drop the value.
    Skip,
}

/// An open collection. Its children are kept on the builder's shared scratch stacks
/// from `start` on, and moved into an exactly-sized vector when it closes.
enum Frame<'a> {
    Seq {
        start: usize,
        span: Span,
        anchor: usize,
    },
    Map {
        start: usize,
        span: Span,
        anchor: usize,
        pending: Pending<'a>,
        /// Key text -> index (from `start`), built once the mapping is large
        /// (small ones are searched linearly).
        seen: Option<FxMap<String, usize>>,
    },
}

/// A finished node with the numbers the alias limits need.
struct Built<'a> {
    node: Node<'a>,
    /// Number of nodes in it.
    size: usize,
    /// Nesting levels in it (a scalar is 0, `[a]` is 1).
    height: usize,
}

struct Anchored<'a> {
    node: Node<'a>,
    size: usize,
    height: usize,
}

struct Builder<'a> {
    source: &'a str,
    /// Whether `source` is ASCII (then character and byte offsets agree).
    ascii: bool,
    /// A known (character offset, byte offset) pair in `source`, moved forward as
    /// scalars are found (their offsets only grow).
    cursor: (usize, usize),
    stack: Vec<Frame<'a>>,
    /// Children of the open sequences, innermost last.
    seq_items: Vec<Node<'a>>,
    /// Entries of the open mappings, innermost last.
    map_entries: Vec<(Scalar<'a>, Node<'a>)>,
    /// Per open frame: (nodes so far, max child height).
    stats: Vec<(usize, usize)>,
    anchors: HashMap<usize, Anchored<'a>>,
    root: Option<Node<'a>>,
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
pub(crate) fn parse(text: &str) -> Parsed<'_> {
    let mut b = Builder {
        source: text,
        ascii: text.is_ascii(),
        cursor: (0, 0),
        stack: Vec::new(),
        seq_items: Vec::new(),
        map_entries: Vec::new(),
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
                let text = b.borrow(text, style, mark.index());
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
                    start: b.seq_items.len(),
                    span,
                    anchor,
                },
                span,
            ),
            Event::MappingStart(anchor, _) => b.open(
                Frame::Map {
                    start: b.map_entries.len(),
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

impl<'a> Builder<'a> {
    /// The scalar's text as a slice of the source when it is written there verbatim
    /// (plain, or quoted without escapes), else the parser's string.
    fn borrow(&mut self, text: String, style: TScalarStyle, char_index: usize) -> Cow<'a, str> {
        let skip = match style {
            TScalarStyle::Plain => 0,
            TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => 1,
            TScalarStyle::Literal | TScalarStyle::Folded => return Cow::Owned(text),
        };
        let Some(start) = self.byte_offset(char_index.saturating_add(skip)) else {
            return Cow::Owned(text);
        };
        match self.source.get(start..start.saturating_add(text.len())) {
            Some(slice) if slice == text => Cow::Borrowed(slice),
            _ => Cow::Owned(text),
        }
    }

    /// The byte offset of a character offset, walking forward from the cursor.
    fn byte_offset(&mut self, char_index: usize) -> Option<usize> {
        if self.ascii {
            return Some(char_index);
        }
        let (mut ci, mut bi) = self.cursor;
        if char_index < ci {
            return None;
        }
        let mut chars = self.source.get(bi..)?.chars();
        while ci < char_index {
            bi += chars.next()?.len_utf8();
            ci += 1;
        }
        self.cursor = (ci, bi);
        Some(bi)
    }

    fn open(&mut self, frame: Frame<'a>, span: Span) -> Result<(), YamlError> {
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
        // The parser marks a block collection where its first entry's indicator is
        // (`:` of the first key); report it where the first entry starts instead.
        let (node, anchor) = match frame {
            Frame::Seq {
                start,
                span,
                anchor,
            } => {
                let items: Vec<Node<'a>> = self
                    .seq_items
                    .drain(start.min(self.seq_items.len())..)
                    .collect();
                let span = items.first().map_or(span, |i| span.min(i.span()));
                (Node::Seq { items, span }, anchor)
            }
            Frame::Map {
                start,
                span,
                anchor,
                ..
            } => {
                let entries: Vec<(Scalar<'a>, Node<'a>)> = self
                    .map_entries
                    .drain(start.min(self.map_entries.len())..)
                    .collect();
                let span = entries.first().map_or(span, |(k, _)| span.min(k.span));
                let entries = self.merge_keys(entries);
                (Node::Map { entries, span }, anchor)
            }
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

    fn finish(&mut self, built: Built<'a>, anchor: usize) -> Result<(), YamlError> {
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

    /// Applies YAML merge keys: `<<: *base` (or `<<: [*a, *b]`) adds the entries of
    /// the merged mappings that the mapping does not set itself, where `<<` is.
    /// Earlier mappings in a list win over later ones.
    fn merge_keys(&mut self, entries: Vec<(Scalar<'a>, Node<'a>)>) -> Vec<(Scalar<'a>, Node<'a>)> {
        let is_merge = |k: &Scalar| k.plain && k.text == "<<";
        if !entries.iter().any(|(k, _)| is_merge(k)) {
            return entries;
        }
        let mut taken: FxSet<String> = entries
            .iter()
            .filter(|(k, _)| !is_merge(k))
            .map(|(k, _)| k.text.to_string())
            .collect();
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            if !is_merge(&k) {
                out.push((k, v));
                continue;
            }
            let sources = match v {
                Node::Seq { items, .. } => items,
                other => vec![other],
            };
            for source in sources {
                match source {
                    Node::Map { entries, .. } => {
                        for (mk, mv) in entries {
                            if taken.insert(mk.text.to_string()) {
                                out.push((mk, mv));
                            }
                        }
                    }
                    other => self.errors.push(YamlError {
                        span: other.span(),
                        message: format!(
                            "`<<` merges mappings, found {}",
                            super::cx::found(&other)
                        ),
                        hint: Some("write `<<: *name` where `&name` marks a mapping".to_string()),
                    }),
                }
            }
        }
        out
    }

    /// Records an anchor and hands the node to its parent (or makes it the root).
    fn attach(&mut self, built: Built<'a>, anchor: usize) -> Result<(), YamlError> {
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
            Some(Frame::Seq { .. }) => self.seq_items.push(built.node),
            Some(Frame::Map {
                start,
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
                    let entries = self.map_entries.get(*start..).unwrap_or(&[]);
                    let first = match seen {
                        Some(seen) => seen.get(key.text.as_ref()).copied(),
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
                            seen.insert(key.text.to_string(), entries.len());
                        } else if entries.len() >= SMALL_MAP {
                            let mut m: FxMap<String, usize> = entries
                                .iter()
                                .enumerate()
                                .map(|(i, (k, _))| (k.text.to_string(), i))
                                .collect();
                            m.insert(key.text.to_string(), entries.len());
                            *seen = Some(m);
                        }
                        self.map_entries.push((key, built.node));
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

    fn root(text: &str) -> Node<'_> {
        let p = parse(text);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        p.root.expect("a document")
    }

    #[test]
    fn keeps_original_scalar_text_and_locations() {
        let n = root("a: 1.30\nb:\n  - 'x'\n");
        let n_span = n.span();
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
        assert_eq!(n_span, Span { line: 1, column: 1 });
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
    fn scalars_borrow_from_the_source() {
        for text in ["a: x\nb: 'y'\nc: \"z\"\n", "é: ü\nb: 'y'\nc: \"z\\n\"\n"] {
            let Node::Map { entries, .. } = root(text) else {
                panic!("map")
            };
            for (k, v) in &entries {
                assert!(matches!(k.text, Cow::Borrowed(_)), "{k:?}");
                let Node::Scalar(v) = v else { panic!("scalar") };
                // An escape sequence can't be borrowed.
                let escaped = v.text.contains('\n');
                assert_eq!(matches!(v.text, Cow::Borrowed(_)), !escaped, "{v:?}");
            }
        }
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
    fn merge_keys_fill_in_unset_entries() {
        let n = root("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n");
        let Node::Map { entries, .. } = n else {
            panic!("map")
        };
        let Node::Map { entries: m, .. } = &entries[1].1 else {
            panic!("map")
        };
        let got: Vec<(&str, &str)> = m
            .iter()
            .map(|(k, v)| match v {
                Node::Scalar(s) => (k.text.as_ref(), s.text.as_ref()),
                _ => (k.text.as_ref(), "?"),
            })
            .collect();
        assert_eq!(got, [("x", "1"), ("y", "3")]);
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
