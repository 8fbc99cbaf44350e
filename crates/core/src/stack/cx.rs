//! Typed reading of the located YAML tree: fields, types, "did you mean".
//!
//! Every reader reports what is wrong to [`Cx`] and returns `None`, so one pass
//! collects every problem; callers skip whatever depends on a missing value instead of
//! reporting it again.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map as JsonMap, Number, Value};

use super::yaml::{Node, Scalar};
use super::{Diagnostic, Span};

/// How many diagnostics a failed load reports at most.
pub const MAX_DIAGNOSTICS: usize = 50;

/// String comparisons "did you mean" may spend over a whole load; past it, hints fall
/// back to listing (keeps a file full of typos against 10,000 names fast).
const SUGGEST_BUDGET: usize = 2_000_000;

/// A fast, non-cryptographic hasher (FxHash) for the loader's maps: keys come from
/// the user's own stack file, so hash flooding is not a concern, and SipHash showed
/// up in profiles of large stacks.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxBuild;

impl std::hash::BuildHasher for FxBuild {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
pub(crate) type FxSet<K> = std::collections::HashSet<K, FxBuild>;

/// "`key` in what", formatted only when a message needs it.
#[derive(Clone, Copy)]
pub(crate) struct Field<'a>(pub &'a str, pub &'a str);

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` in {}", self.0, self.1)
    }
}

/// Any text, formatted only when a message needs it.
pub(crate) struct Fmt<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(pub F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Fmt<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// A value with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub v: T,
    pub span: Span,
}

/// The diagnostics collector.
pub struct Cx<'f> {
    pub file: &'f str,
    pub diags: Vec<Diagnostic>,
    suggest_budget: usize,
}

impl<'f> Cx<'f> {
    pub fn new(file: &'f str) -> Cx<'f> {
        Cx {
            file,
            diags: Vec::new(),
            suggest_budget: SUGGEST_BUDGET,
        }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        self.diags.push(Diagnostic {
            file: self.file.to_string(),
            span,
            message: message.into(),
            hint,
        });
    }

    /// The candidate closest to `word`, if any is close enough to be a likely typo.
    pub fn closest<'c, I>(&mut self, word: &str, candidates: I) -> Option<&'c str>
    where
        I: IntoIterator<Item = &'c str>,
    {
        let w = word.to_lowercase();
        let mut best: Option<(f64, &'c str)> = None;
        for c in candidates {
            if self.suggest_budget == 0 {
                return None;
            }
            self.suggest_budget -= 1;
            if c == word {
                continue;
            }
            let lc = c.to_lowercase();
            if lc == w {
                return Some(c);
            }
            let lev = strsim::normalized_damerau_levenshtein(&w, &lc);
            let jw = strsim::jaro_winkler(&w, &lc);
            if lev >= 0.6 || jw >= 0.9 {
                let score = lev + jw;
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, c));
                }
            }
        }
        best.map(|(_, c)| c)
    }

    /// "did you mean `x`?" or "`label` are: a, b, c".
    pub fn suggest<'c, I>(&mut self, word: &str, candidates: I, label: &str) -> Option<String>
    where
        I: IntoIterator<Item = &'c str> + Clone,
    {
        if let Some(c) = self.closest(word, candidates.clone()) {
            return Some(format!("did you mean `{}`?", clip(c)));
        }
        list_hint(label, candidates)
    }

    /// Sorted by position, capped at [`MAX_DIAGNOSTICS`]; several missing fields of
    /// one object become one message.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| d.span);
        self.diags.dedup();
        let mut diags = merge_missing_fields(self.diags);
        diags.truncate(MAX_DIAGNOSTICS);
        diags
    }
}

/// "missing field `a` in X" + "missing field `b` in X" at the same place ->
/// "missing fields `a` and `b` in X".
fn merge_missing_fields(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    fn split(message: &str) -> Option<(String, String)> {
        let rest = message.strip_prefix("missing field `")?;
        let (field, owner) = rest.split_once("` in ")?;
        Some((field.to_string(), owner.to_string()))
    }
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    // The owner and fields of the last diagnostic, when it is about missing fields.
    let mut group: Option<(String, Vec<String>)> = None;
    for d in diags {
        let parsed = split(&d.message);
        if let (Some((field, owner)), Some((group_owner, fields)), Some(last)) =
            (&parsed, &mut group, out.last_mut())
        {
            if *group_owner == *owner && last.span == d.span && last.hint == d.hint {
                fields.push(field.clone());
                let (init, tail) = fields.split_at(fields.len() - 1);
                let init: Vec<String> = init.iter().map(|f| format!("`{f}`")).collect();
                last.message = format!(
                    "missing fields {} and `{}` in {owner}",
                    init.join(", "),
                    tail.concat()
                );
                continue;
            }
        }
        group = parsed.map(|(field, owner)| (owner, vec![field]));
        out.push(d);
    }
    out
}

/// "`label`: a, b, c" (at most 10 names), or `None` when there are none.
pub(crate) fn list_hint<'c, I>(label: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'c str>,
{
    let mut names = Vec::new();
    let mut more = 0usize;
    for c in candidates {
        if names.len() < 10 {
            names.push(c);
        } else {
            more += 1;
        }
    }
    if names.is_empty() {
        return Some(format!("there are no {label}"));
    }
    let names: Vec<Cow<'_, str>> = names.into_iter().map(clip).collect();
    let mut s = format!("{label} are: {}", names.join(", "));
    if more > 0 {
        s.push_str(&format!(" and {more} more"));
    }
    Some(s)
}

/// Shortens user text for a one-line message.
pub fn clip(s: &str) -> Cow<'_, str> {
    clip_to(s, 60)
}

/// Shortens user text to `max` characters, escaping control characters.
pub(crate) fn clip_to(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max && !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What a node is, for "found ..." in messages.
pub fn found(node: &Node) -> String {
    match node {
        Node::Scalar(s) if s.is_null() => "nothing".to_string(),
        Node::Scalar(s) if s.plain => format!("`{}`", clip(&s.text)),
        Node::Scalar(s) => format!("`\"{}\"`", clip(&s.text)),
        Node::Seq { .. } => "a list".to_string(),
        Node::Map { .. } => "a mapping".to_string(),
    }
}

/// A mapping being read as an object with known fields.
pub struct Obj<'n> {
    pub entries: &'n [(Scalar<'n>, Node<'n>)],
    /// Where "missing field" is reported: the key that introduced the object.
    pub at: Span,
    /// What it is, for messages: "cluster `gke-sydney`".
    pub what: String,
}

const EMPTY: &[(Scalar, Node)] = &[];

impl<'n> Obj<'n> {
    /// Reads `node` as an object. A null node is an empty object; anything else that
    /// is not a mapping is reported.
    pub fn new(cx: &mut Cx, node: &'n Node, what: String, at: Span) -> Option<Obj<'n>> {
        match node {
            Node::Map { entries, .. } => Some(Obj { entries, at, what }),
            n if n.is_null() => Some(Obj {
                entries: EMPTY,
                at,
                what,
            }),
            n => {
                cx.error(
                    n.span(),
                    format!("expected a mapping for {what}, found {}", found(n)),
                    None,
                );
                None
            }
        }
    }

    /// Reports every field not in `allowed`, with "did you mean".
    pub fn check_fields(&self, cx: &mut Cx, allowed: &[&str]) {
        self.check_fields_with(cx, allowed, |_| None);
    }

    /// Like [`Obj::check_fields`]; `other` gives a hint for fields that are not a
    /// typo of an allowed one (e.g. a setting of another provider).
    pub fn check_fields_with(
        &self,
        cx: &mut Cx,
        allowed: &[&str],
        other: impl Fn(&str) -> Option<String>,
    ) {
        for (k, _) in self.entries {
            if allowed.contains(&k.text.as_ref()) {
                continue;
            }
            let hint = match cx.closest(&k.text, allowed.iter().copied()) {
                Some(c) => Some(format!("did you mean `{c}`?")),
                None => other(&k.text).or_else(|| list_hint("fields", allowed.iter().copied())),
            };
            cx.error(
                k.span,
                format!("unknown field `{}` in {}", clip(&k.text), self.what),
                hint,
            );
        }
    }

    /// The entry for `key`, null values included.
    pub fn raw(&self, key: &str) -> Option<&'n (Scalar<'n>, Node<'n>)> {
        self.entries.iter().find(|(k, _)| k.text == key)
    }

    /// The entry for `key` unless it is absent or null.
    pub fn get(&self, key: &str) -> Option<&'n (Scalar<'n>, Node<'n>)> {
        self.raw(key).filter(|(_, v)| !v.is_null())
    }

    /// The entry for `key`, reporting it when absent or null.
    pub fn req(&self, cx: &mut Cx, key: &str) -> Option<&'n (Scalar<'n>, Node<'n>)> {
        match self.raw(key) {
            None => {
                cx.error(
                    self.at,
                    format!("missing field `{key}` in {}", self.what),
                    None,
                );
                None
            }
            Some((k, v)) if v.is_null() => {
                cx.error(
                    k.span,
                    format!("missing value for `{key}` in {}", self.what),
                    None,
                );
                None
            }
            Some(e) => Some(e),
        }
    }

    fn label<'k>(&'k self, key: &'k str) -> Field<'k> {
        Field(key, &self.what)
    }

    pub fn str_opt(&self, cx: &mut Cx, key: &str) -> Option<Sp<String>> {
        let (_, v) = self.get(key)?;
        as_str(cx, v, self.label(key))
    }

    pub fn str_req(&self, cx: &mut Cx, key: &str) -> Option<Sp<String>> {
        let (_, v) = self.req(cx, key)?;
        as_str(cx, v, self.label(key))
    }

    pub fn int_opt(&self, cx: &mut Cx, key: &str, lo: i64, hi: i64) -> Option<Sp<i64>> {
        let (_, v) = self.get(key)?;
        as_int(cx, v, self.label(key), lo, hi)
    }

    pub fn int_req(&self, cx: &mut Cx, key: &str, lo: i64, hi: i64) -> Option<Sp<i64>> {
        let (_, v) = self.req(cx, key)?;
        as_int(cx, v, self.label(key), lo, hi)
    }

    pub fn bool_opt(&self, cx: &mut Cx, key: &str) -> Option<Sp<bool>> {
        let (_, v) = self.get(key)?;
        as_bool(cx, v, self.label(key))
    }

    /// A string that must be one of `options` (exact spelling).
    pub fn enum_opt(
        &self,
        cx: &mut Cx,
        key: &str,
        options: &[&'static str],
    ) -> Option<Sp<&'static str>> {
        let s = self.str_opt(cx, key)?;
        one_of(cx, &s, self.label(key), options)
    }

    /// The entries of a mapping-valued field (null is empty).
    pub fn map_opt(&self, cx: &mut Cx, key: &str) -> Option<&'n [(Scalar<'n>, Node<'n>)]> {
        let (_, v) = self.raw(key)?;
        match v {
            Node::Map { entries, .. } => Some(entries),
            n if n.is_null() => Some(EMPTY),
            n => {
                cx.error(
                    n.span(),
                    format!(
                        "expected a mapping for {}, found {}",
                        self.label(key),
                        found(n)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// The items of a list-valued field (null is empty).
    pub fn list_opt(&self, cx: &mut Cx, key: &str) -> Option<&'n [Node<'n>]> {
        let (_, v) = self.raw(key)?;
        match v {
            Node::Seq { items, .. } => Some(items),
            n if n.is_null() => Some(&[]),
            n => {
                let hint = match n {
                    Node::Scalar(s) => Some(format!("write a list: {key}: [{}]", clip(&s.text))),
                    _ => None,
                };
                cx.error(
                    n.span(),
                    format!(
                        "expected a list for {}, found {}",
                        self.label(key),
                        found(n)
                    ),
                    hint,
                );
                None
            }
        }
    }
}

pub fn as_str(cx: &mut Cx, node: &Node, label: impl fmt::Display) -> Option<Sp<String>> {
    match node {
        Node::Scalar(s) => Some(Sp {
            v: s.text.to_string(),
            span: s.span,
        }),
        n => {
            cx.error(
                n.span(),
                format!("expected a string for {label}, found {}", found(n)),
                None,
            );
            None
        }
    }
}

/// A plain decimal integer: `42`, `-3`, `+7`.
pub(crate) fn parse_int(s: &Scalar) -> Option<i64> {
    if !s.plain {
        return None;
    }
    let t = s.text.strip_prefix('+').unwrap_or(&s.text);
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

pub fn as_int(
    cx: &mut Cx,
    node: &Node,
    label: impl fmt::Display,
    lo: i64,
    hi: i64,
) -> Option<Sp<i64>> {
    let parsed = match node {
        Node::Scalar(s) => parse_int(s).map(|v| (v, s.span)),
        _ => None,
    };
    let Some((v, span)) = parsed else {
        let hint = match node {
            Node::Scalar(s) if !s.plain && parse_int_text(&s.text) => {
                Some("remove the quotes".to_string())
            }
            _ => None,
        };
        cx.error(
            node.span(),
            format!("expected an integer for {label}, found {}", found(node)),
            hint,
        );
        return None;
    };
    if v < lo || v > hi {
        cx.error(
            span,
            format!("{label} must be between {lo} and {hi}, found {v}"),
            None,
        );
        return None;
    }
    Some(Sp { v, span })
}

fn parse_int_text(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn as_bool(cx: &mut Cx, node: &Node, label: impl fmt::Display) -> Option<Sp<bool>> {
    match node {
        Node::Scalar(s) if s.plain && s.text == "true" => Some(Sp {
            v: true,
            span: s.span,
        }),
        Node::Scalar(s) if s.plain && s.text == "false" => Some(Sp {
            v: false,
            span: s.span,
        }),
        n => {
            cx.error(
                n.span(),
                format!("expected true or false for {label}, found {}", found(n)),
                None,
            );
            None
        }
    }
}

/// Checks a string against a fixed set of spellings.
pub fn one_of(
    cx: &mut Cx,
    s: &Sp<String>,
    label: impl fmt::Display,
    options: &[&'static str],
) -> Option<Sp<&'static str>> {
    if let Some(o) = options.iter().find(|o| **o == s.v) {
        return Some(Sp { v: o, span: s.span });
    }
    let hint = cx
        .closest(&s.v, options.iter().copied())
        .map(|c| format!("did you mean `{c}`?"));
    cx.error(
        s.span,
        format!(
            "{label} must be one of {}; found `{}`",
            options.join(", "),
            clip(&s.v)
        ),
        hint,
    );
    None
}

/// A YAML node as JSON, with the YAML 1.2 core schema for plain scalars (null,
/// true/false, integers, floats); everything else is a string.
pub(crate) fn to_json(node: &Node) -> Value {
    match node {
        Node::Scalar(s) => scalar_to_json(s),
        Node::Seq { items, .. } => Value::Array(items.iter().map(to_json).collect()),
        Node::Map { entries, .. } => {
            let mut m = JsonMap::new();
            for (k, v) in entries {
                m.insert(k.text.to_string(), to_json(v));
            }
            Value::Object(m)
        }
    }
}

fn scalar_to_json(s: &Scalar) -> Value {
    if !s.plain {
        return Value::String(s.text.to_string());
    }
    let t = s.text.as_ref();
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(s) {
        return Value::Number(i.into());
    }
    if looks_like_float(t) {
        if let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(s.text.to_string())
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn looks_like_float(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(t: &str) -> Scalar<'_> {
        Scalar {
            text: t.into(),
            plain: true,
            span: Span::default(),
        }
    }

    #[test]
    fn core_schema_scalars() {
        assert_eq!(scalar_to_json(&plain("3")), Value::from(3));
        assert_eq!(scalar_to_json(&plain("1.5")), Value::from(1.5));
        assert_eq!(scalar_to_json(&plain("true")), Value::from(true));
        assert_eq!(scalar_to_json(&plain("~")), Value::Null);
        assert_eq!(scalar_to_json(&plain("1.2.3")), Value::from("1.2.3"));
        assert_eq!(scalar_to_json(&plain(".")), Value::from("."));
        assert_eq!(scalar_to_json(&plain("1e")), Value::from("1e"));
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let mut cx = Cx::new("f");
        let fields = ["cloud", "region", "kubernetes_version", "labels"];
        assert_eq!(cx.closest("regoin", fields), Some("region"));
        assert_eq!(
            cx.closest("kubernetes-version", fields),
            Some("kubernetes_version")
        );
        assert_eq!(cx.closest("zzz", fields), None);
    }
}
