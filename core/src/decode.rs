//! Decoding: JSON text to any contract type, strictly, with the JSON path
//! and the value of every problem. The one way every artifact reads input.
//!
//! How: the text is read once into a `serde_json::Value` (noting repeated
//! keys, which a `Value` would otherwise drop), then the type's [`Decode`]
//! walks it through [`Node`], which knows the path of every node.
//! `#[derive(Decode)]` (portplan-derive) writes each record's and enum's
//! decoding from the type's own serde attributes (serde's derive reads the
//! same ones for output and the native fast path: field names, defaults and
//! variants are stated once); leaves (text, numbers, flags, a port range)
//! are serde's own `Deserialize` run over `Node`, a `Deserializer` of our
//! own. A record hands its members to one shared walk ([`Node::record`]), an
//! enum its variant to another ([`Node::variant`]), a list its elements to a
//! third: the WebAssembly plugins carry one copy of the protocol and a few
//! calls per field, where serde's derived visitors were a copy of it per
//! type (~70 KB of the plugins, issue 16), and serde_path_to_error's tracked
//! copy of serde_json's before them (~115 KB). No crate walks a `Value` with
//! paths and every problem, which is why this is hand-written.
//!
//! Every problem, not the first: a record stops at its first failed member
//! (as serde's derived visitors do, whose messages the walk keeps), so the
//! walker runs again with each failed node left out (a list
//! element dropped, a field treated as absent) until a pass finds nothing
//! new. A parent that fails only because a left-out child was required
//! (`missing field`) is not reported again; serde names only the first
//! missing member of a record, so when that is a left-out one, a later
//! missing member of the same record goes unnamed until the first is fixed.
//! Unknown fields and repeated keys are all noted in the first pass.
//! Problems come out in document order.
//!
//! Also the one way input is echoed back: [`quote`] escapes and caps every
//! plan value a problem quotes, and [`escape`] makes text safe for a terminal.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};

use crate::list::List;
use crate::model::{PlanError, Problem};

/// Most characters of a plan value a problem quotes; longer ones are cut and
/// end in `...`. An escape such as `\u{1b}` counts as its written length and
/// is never cut in half.
pub(crate) const VALUE_LIMIT: usize = 200;

/// Most characters of a decoder's message (which may quote several values).
const MESSAGE_LIMIT: usize = 4 * VALUE_LIMIT;

/// Most problems one input is rejected with: past it, the last problem says
/// that more were left out. It also bounds the walker's passes (each pass
/// leaves out at least one more failed node), so hostile input with a
/// problem in every element costs a bounded number of walks.
pub(crate) const PROBLEM_LIMIT: usize = 100;

/// Parse any contract type from JSON text, strictly, with the path and value
/// of every problem: the one way every artifact reads its input.
pub fn parse_json<T: DeserializeOwned + Decode>(text: &str) -> Result<T, PlanError> {
    // Native builds decode valid input straight from the text first (a
    // fifth of the walk's time on a 5,000-host plan); anything it refuses
    // is walked for its problems.
    if let Some(value) = parse_valid(text) {
        return Ok(value);
    }
    walk(text)
}

/// `text` decoded when it is valid, by the native fast path
/// ([`crate::strict`]); `None` when it is not, or in the plugins, which
/// always walk.
pub(crate) fn parse_valid<T: DeserializeOwned>(text: &str) -> Option<T> {
    #[cfg(not(target_family = "wasm"))]
    return crate::strict::parse(text);
    #[cfg(target_family = "wasm")]
    {
        let _ = text;
        None
    }
}

/// [`parse_json`] by the path-tracking walk alone: what the plugins run, and
/// what finds the problems of input the native fast path refuses.
pub(crate) fn walk<T: Decode>(text: &str) -> Result<T, PlanError> {
    kept(|pass| walk_text(text, pass))
}

/// The document read, then the passes of `pass` over it: what [`walk`]
/// does alike for every type, out of line and not generic (the value is
/// kept by `pass`).
#[inline(never)]
fn walk_text(
    text: &str,
    pass: &mut dyn FnMut(Node<'_>) -> Result<(), Error>,
) -> Result<(), PlanError> {
    let journal = Journal::default();
    let root = read(text, &journal)?;
    passes(&root, journal, pass)
}

/// Decode any contract type from a JSON value already read, e.g. a member
/// of a larger document a shell parsed (the Ansible module's args file): the
/// same walk, paths and problems as [`parse_json`] of the value's text,
/// without writing that text and reading it again. Repeated keys are not
/// noted: the value no longer holds them.
pub fn parse_value<T: DeserializeOwned + Decode>(value: &Value) -> Result<T, PlanError> {
    #[cfg(not(target_family = "wasm"))]
    if let Some(decoded) = crate::strict::from_value(value) {
        return Ok(decoded);
    }
    decode(value, Journal::default())
}

/// The length in bytes and the nesting depth of `value`'s compact JSON text
/// (what `serde_json::to_string` writes), without writing it: the input
/// limits of a plan that arrives as a value are the limits of that text.
pub fn json_size(value: &Value) -> (usize, usize) {
    /// Counts what `write!` would write.
    struct Counter(usize);
    impl fmt::Write for Counter {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    // serde_json's escapes: `\"`, `\\` and the short forms of backspace,
    // tab, newline, form feed and return take two bytes; every other control
    // character is `\u00XX` (six); everything else is itself.
    fn string(text: &str) -> usize {
        let escaped = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
        let extra: usize = if text.bytes().any(|b| escaped(&b)) {
            text.bytes()
                .filter(escaped)
                .map(|b| match b {
                    b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 1,
                    _ => 5,
                })
                .sum()
        } else {
            0
        };
        2 + text.len() + extra
    }
    fn commas(items: usize) -> usize {
        items.saturating_sub(1)
    }
    match value {
        Value::Null | Value::Bool(true) => (4, 0),
        Value::Bool(false) => (5, 0),
        Value::Number(n) if n.as_u64().is_some() => {
            let digits = n.as_u64().and_then(u64::checked_ilog10).unwrap_or(0);
            (digits as usize + 1, 0)
        }
        Value::Number(n) => {
            let mut counter = Counter(0);
            let _ = fmt::Write::write_fmt(&mut counter, format_args!("{n}"));
            (counter.0, 0)
        }
        Value::String(text) => (string(text), 0),
        Value::Array(items) => {
            let (mut bytes, mut depth) = (2 + commas(items.len()), 0);
            for item in items {
                let (b, d) = json_size(item);
                bytes += b;
                depth = depth.max(d);
            }
            (bytes, depth + 1)
        }
        Value::Object(map) => {
            let (mut bytes, mut depth) = (2 + commas(map.len()), 0);
            for (key, item) in map {
                let (b, d) = json_size(item);
                bytes += string(key) + 1 + b;
                depth = depth.max(d);
            }
            (bytes, depth + 1)
        }
    }
}

/// Reads `text` into a `Value`; a repeated key keeps its first value and is
/// noted in `journal` (a `Value` would silently keep the last).
fn read(text: &str, journal: &Journal) -> Result<Value, PlanError> {
    let (root, repeated) =
        read_any(text).map_err(|e| PlanError::single(".", "", format!("not valid JSON: {e}")))?;
    for (positions, key, value) in repeated {
        let (path, _) = locate(&root, &positions[..positions.len().saturating_sub(1)]);
        journal.note(
            positions,
            join(&path, &key),
            value,
            format!("duplicate field `{key}`"),
        );
    }
    Ok(root)
}

/// A repeated member: its positions, its key and its value quoted.
pub(crate) type Repeated = (Vec<usize>, String, String);

/// Any JSON text read into a `Value`, with the members whose key repeats
/// one before it in the same object (the value keeps the first). Every
/// reader of JSON into a `Value` in core comes here (the native fast path,
/// `strict.rs`, reads into the records themselves): one copy of the
/// building of a `Value` in the plugins (serde_json's own
/// `Value: Deserialize` was another ~7 KB).
pub(crate) fn read_any(text: &str) -> Result<(Value, Vec<Repeated>), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let stack = RefCell::new(Vec::new());
    let repeated = RefCell::new(Vec::new());
    let root = Build {
        stack: &stack,
        repeated: &repeated,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok((root, repeated.into_inner()))
}

/// The walk: passes until one finds no new failed node, then the value or
/// every problem noted.
fn decode<T: Decode>(root: &Value, journal: Journal) -> Result<T, PlanError> {
    kept(|pass| passes(root, journal, pass))
}

/// The value `walk` decodes, `run` handing it each pass (a decoding of `T`
/// at the root): what is kept is the value of the last pass, the one that
/// succeeded. Generic only in `T`; the passes are one copy for every type.
fn kept<T: Decode>(
    run: impl FnOnce(&mut dyn FnMut(Node<'_>) -> Result<(), Error>) -> Result<(), PlanError>,
) -> Result<T, PlanError> {
    let mut value = T::placeholder();
    run(&mut |node| {
        value = T::decode(node)?;
        Ok(())
    })
    .map(|()| value)
}

/// [`walk`] with each record's and enum's serde-derived `Deserialize` run
/// over the nodes in place of its [`Decode`]: the walk as it ran before
/// `#[derive(Decode)]`, kept as the oracle the tests hold the derive's
/// answers to, values and problems alike (core/src/strict.rs).
#[cfg(test)]
pub(crate) fn walk_serde<T: DeserializeOwned>(text: &str) -> Result<T, PlanError> {
    let journal = Journal::default();
    let root = read(text, &journal)?;
    let mut value = None;
    passes(&root, journal, &mut |node| {
        value = Some(T::deserialize(node)?);
        Ok(())
    })
    .map(|()| value.expect("a pass that succeeded kept its value"))
}

/// Passes of `pass` over `root` until one finds no new failed node (the
/// value of the last, successful pass is `pass`'s to keep: this is one
/// copy for every type).
fn passes(
    root: &Value,
    journal: Journal,
    pass: &mut dyn FnMut(Node<'_>) -> Result<(), Error>,
) -> Result<(), PlanError> {
    loop {
        let left_out = journal.left_out.borrow().len();
        let outcome = pass(Node {
            value: root,
            at: &At::Root,
            journal: &journal,
        });
        match outcome {
            Ok(()) if journal.problems.borrow().is_empty() => return Ok(()),
            Ok(()) => break,
            Err(_) if journal.stuck(left_out) => break,
            Err(_) => {}
        }
    }
    Err(journal.finish())
}

/// What the passes learn: the problems so far and the nodes to leave out.
#[derive(Default)]
struct Journal {
    /// (positions, path, value, message): positions order problems as the
    /// document does.
    problems: RefCell<Vec<(Vec<usize>, Problem)>>,
    /// Positions of failed nodes, left out of the next pass.
    left_out: RefCell<Vec<Vec<usize>>>,
    /// Whether problems were dropped past [`PROBLEM_LIMIT`].
    more: RefCell<bool>,
}

impl Journal {
    /// Notes a problem once (a later pass meets unknown fields again).
    fn note(&self, positions: Vec<usize>, path: String, value: String, text: String) {
        let text = message(&text);
        let mut problems = self.problems.borrow_mut();
        if problems
            .iter()
            .any(|(p, known)| *p == positions && known.message == text)
        {
            return;
        }
        if problems.len() >= PROBLEM_LIMIT {
            *self.more.borrow_mut() = true;
            return;
        }
        problems.push((
            positions,
            Problem {
                path: quote(&path),
                value,
                message: text,
            },
        ));
    }

    /// Whether a failed pass is the last: past the limit, or no progress
    /// (no node left out beyond the `left_out` before it, or the root
    /// itself left out).
    fn stuck(&self, left_out: usize) -> bool {
        let now = self.left_out.borrow();
        *self.more.borrow() || now.len() == left_out || now.contains(&Vec::new())
    }

    fn leave_out(&self, at: &At<'_>) {
        let positions = at.positions();
        let mut left_out = self.left_out.borrow_mut();
        if !left_out.contains(&positions) {
            left_out.push(positions);
        }
    }

    fn is_left_out(&self, at: &At<'_>) -> bool {
        let left_out = self.left_out.borrow();
        !left_out.is_empty() && left_out.contains(&at.positions())
    }

    fn finish(self) -> PlanError {
        let mut problems = self.problems.into_inner();
        // Stable: a node's own problem comes before its children's.
        crate::order::sort_by(&mut problems, |a, b| a.0.cmp(&b.0));
        let mut problems: Vec<Problem> = problems.into_iter().map(|(_, p)| p).list();
        if self.more.into_inner() {
            problems.push(Problem {
                path: ".".into(),
                value: String::new(),
                message: format!("more problems not listed (the first {PROBLEM_LIMIT} are)"),
            });
        }
        PlanError { problems }
    }
}

/// Where a node is: the root, a member of an object (key and its position),
/// or an element of an array.
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str, usize),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    /// The position of each step from the root: the order of the document.
    fn positions(&self) -> Vec<usize> {
        match self {
            At::Root => Vec::new(),
            At::Key(parent, _, i) | At::Index(parent, i) => {
                let mut positions = parent.positions();
                positions.push(*i);
                positions
            }
        }
    }

    /// The path as problems write it: `hosts[0].address`, `.` for the root.
    fn text(&self) -> String {
        match self {
            At::Root => ".".into(),
            At::Key(parent, key, _) => join(&parent.text(), key),
            At::Index(parent, i) => {
                let parent = parent.text();
                let parent = if parent == "." { "" } else { &parent };
                format!("{parent}[{i}]")
            }
        }
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent == "." {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path text and the node at `positions` of `root`.
fn locate<'v>(root: &'v Value, positions: &[usize]) -> (String, &'v Value) {
    let mut path = ".".to_string();
    let mut node = root;
    for &i in positions {
        match node {
            Value::Object(map) => {
                if let Some((key, child)) = map.iter().nth(i) {
                    path = join(&path, key);
                    node = child;
                }
            }
            Value::Array(items) => {
                if let Some(child) = items.get(i) {
                    path = format!("{}[{i}]", if path == "." { "" } else { &path });
                    node = child;
                }
            }
            _ => {}
        }
    }
    (path, node)
}

/// The walker's error: a [`Failure`], boxed so that it is one pointer
/// wide. Every field's decoding answers a `Result<(), Error>`, which is then
/// returned in a register and tested as one, not written to memory and read
/// back (~22-24 KB of each plugin); an error costs an allocation, and
/// only input with a problem has one.
#[derive(Debug)]
pub struct Error(Box<Failure>);

/// What went wrong. `Fresh` is serde's message, not yet given a path; the
/// node it comes out of notes it and answers `Noted` to its parents.
#[derive(Debug)]
enum Failure {
    /// serde's words, not yet noted with a path.
    Fresh(String),
    /// Noted in the journal by the node it came out of.
    Noted,
    /// A node left out where nothing can stand in for it (an enum's payload):
    /// its parent is left out instead.
    LeftOut,
}

impl Error {
    fn fresh(message: String) -> Self {
        Error(Box::new(Failure::Fresh(message)))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Failure::Fresh(message) => f.write_str(message),
            Failure::Noted | Failure::LeftOut => f.write_str("noted"),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error::fresh(message.to_string())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Error::fresh(format!(
            "invalid type: {}, expected {expected}",
            Said(unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Error::fresh(format!(
            "invalid value: {}, expected {expected}",
            Said(unexpected)
        ))
    }
}

/// serde's words for a value that was not expected, except that a float (a
/// JSON number with a fraction or an exponent, or an integer past 64 bits)
/// is written as the problem's `value` writes it (serde_json's shortest
/// form), not as Rust's `Display` writes an `f64`. The two differ only where
/// serde_json writes an exponent, at 1e16 and up and below 1e-5: `1e+300`
/// where Rust writes 301 digits, `1e-7` for `0.0000001`; `1.5` and `100.0`
/// read the same. That is also what keeps `core::fmt`'s float formatting
/// (~15 KB) out of the plugins: serde's own `Display` for `Unexpected` links
/// it, and nothing else in core formats a float.
struct Said<'a>(Unexpected<'a>);

impl fmt::Display for Said<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Unexpected as U;
        match self.0 {
            U::Bool(b) => write!(f, "boolean `{b}`"),
            U::Unsigned(i) => write!(f, "integer `{i}`"),
            U::Signed(i) => write!(f, "integer `{i}`"),
            U::Float(x) => match Number::from_f64(x) {
                Some(number) => write!(f, "floating point `{number}`"),
                // JSON has no such numbers; written as serde_json would.
                None if x.is_nan() => f.write_str("floating point `NaN`"),
                None if x > 0.0 => f.write_str("floating point `inf`"),
                None => f.write_str("floating point `-inf`"),
            },
            U::Char(c) => write!(f, "character `{c}`"),
            U::Str(s) => write!(f, "string {}", debug_quoted(s)),
            U::Bytes(_) => f.write_str("byte array"),
            U::Unit => f.write_str("unit value"),
            U::Option => f.write_str("Option value"),
            U::NewtypeStruct => f.write_str("newtype struct"),
            U::Seq => f.write_str("sequence"),
            U::Map => f.write_str("map"),
            U::Enum => f.write_str("enum"),
            U::UnitVariant => f.write_str("unit variant"),
            U::NewtypeVariant => f.write_str("newtype variant"),
            U::TupleVariant => f.write_str("tuple variant"),
            U::StructVariant => f.write_str("struct variant"),
            U::Other(other) => f.write_str(other),
        }
    }
}

/// One node of the input being decoded: its value, where it is, and what
/// the passes have learnt so far.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    value: &'a Value,
    at: &'a At<'a>,
    journal: &'a Journal,
}

impl<'a> Node<'a> {
    /// The end of a visit of this node (generic only in the value: the rest
    /// is [`Node::failed`], one copy for every type).
    fn done<T>(self, result: Result<T, Error>, left_out: &[&str]) -> Result<T, Error> {
        result.map_err(|error| self.failed(error, left_out))
    }

    /// A fresh error is this node's problem (unless it is a `missing field`
    /// for a member left out), and this node is left out of the next pass.
    /// Kept out of line: it is the bulk of every node visit.
    #[inline(never)]
    fn failed(self, mut error: Error, left_out: &[&str]) -> Error {
        // The box is reused for the answer, `Noted`.
        match std::mem::replace(&mut *error.0, Failure::Noted) {
            Failure::Noted => return error,
            Failure::LeftOut => {}
            Failure::Fresh(text) => {
                let consequence = left_out
                    .iter()
                    .any(|key| text == format!("missing field `{key}`"));
                if !consequence {
                    self.journal.note(
                        self.at.positions(),
                        self.at.text(),
                        excerpt(self.value),
                        text,
                    );
                }
            }
        }
        self.journal.leave_out(self.at);
        error
    }

    /// serde's `invalid type` for this node against `expected`, in serde's
    /// words ([`Said`]: `null` is a `unit value`, where serde_json would say
    /// `null`).
    fn invalid_type(self, expected: &dyn de::Expected) -> Error {
        let unexpected = match self.value {
            Value::Null => Unexpected::Unit,
            Value::Bool(b) => Unexpected::Bool(*b),
            Value::Number(n) => number_unexpected(n),
            Value::String(s) => Unexpected::Str(s),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        };
        de::Error::invalid_type(unexpected, expected)
    }

    fn members(
        self,
        map: &'a Map<String, Value>,
        fields: Option<&'static [&'static str]>,
    ) -> Members<'a> {
        Members {
            entries: map.iter().enumerate(),
            at: self.at,
            journal: self.journal,
            fields,
            pending: None,
            left_out: Vec::new(),
        }
    }
}

fn number_unexpected(n: &Number) -> Unexpected<'_> {
    if let Some(u) = n.as_u64() {
        Unexpected::Unsigned(u)
    } else if let Some(i) = n.as_i64() {
        Unexpected::Signed(i)
    } else {
        Unexpected::Float(n.as_f64().unwrap_or_default())
    }
}

impl<'de> de::Deserializer<'de> for Node<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => self.done(visitor.visit_unit(), &[]),
            Value::Bool(b) => self.done(visitor.visit_bool(*b), &[]),
            Value::Number(n) => {
                let result = if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or_default())
                };
                self.done(result, &[])
            }
            Value::String(s) => self.done(visitor.visit_str(s), &[]),
            Value::Array(items) => self.visit_items(items, visitor),
            Value::Object(map) => {
                let mut members = self.members(map, None);
                let result = visitor.visit_map(&mut members);
                let left_out = std::mem::take(&mut members.left_out);
                self.done(result, &left_out)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => self.done(visitor.visit_none(), &[]),
            _ => self.done(visitor.visit_some(self), &[]),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => self.done(visitor.visit_unit(), &[]),
            _ => {
                let error = self.invalid_type(&visitor);
                self.done(Err(error), &[])
            }
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.done(visitor.visit_newtype_struct(self), &[])
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(items) => self.visit_items(items, visitor),
            _ => {
                let error = self.invalid_type(&visitor);
                self.done(Err(error), &[])
            }
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(_) => self.deserialize_any(visitor),
            _ => {
                let error = self.invalid_type(&visitor);
                self.done(Err(error), &[])
            }
        }
    }

    /// A serde record walked through a node (contract records go through
    /// [`Node::record`] instead): strict as they are, every unknown member
    /// noted and only the known ones visited.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let Value::Object(map) = self.value else {
            let error = self.invalid_type(&visitor);
            return self.done(Err(error), &[]);
        };
        self.note_unknown(map, fields);
        let mut members = self.members(map, Some(fields));
        let result = visitor.visit_map(&mut members);
        let left_out = std::mem::take(&mut members.left_out);
        self.done(result, &left_out)
    }

    /// A unit variant is its name (`"tcp"`); one with a payload is an object
    /// of one member (`{"component": "ocp-server"}`), as serde_json writes them.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = self
            .variant_of()
            .and_then(|variant| visitor.visit_enum(variant));
        self.done(result, &[])
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf identifier
    }
}

fn single_key() -> Error {
    de::Error::invalid_value(Unexpected::Map, &"map with a single key")
}

impl<'a> Node<'a> {
    /// Notes every member of `map` that is not one of `fields`. Out of line
    /// and not generic, like every part of the walk that does not depend on
    /// the type being decoded: one copy serves every record instead of one
    /// per record in the plugins (the same holds for [`Members::next_known`],
    /// [`Members::take_pending`] and [`Items::next_kept`]).
    #[inline(never)]
    fn note_unknown(self, map: &Map<String, Value>, fields: &'static [&'static str]) {
        for (i, (key, value)) in map.iter().enumerate() {
            if !fields.contains(&key.as_str()) {
                let at = At::Key(self.at, key, i);
                let error: Error = de::Error::unknown_field(key, fields);
                let Failure::Fresh(text) = *error.0 else {
                    continue;
                };
                self.journal
                    .note(at.positions(), at.text(), excerpt(value), text);
            }
        }
    }

    /// This node as an enum's variant: its name, and its payload if any.
    #[inline(never)]
    fn variant_of(self) -> Result<Variant<'a>, Error> {
        let (name, payload) = match self.value {
            Value::String(name) => (name, None),
            Value::Object(map) if map.len() == 1 => match map.iter().next() {
                Some((name, payload)) => (name, Some(payload)),
                None => return Err(single_key()),
            },
            Value::Object(_) => return Err(single_key()),
            _ => return Err(self.invalid_type(&"string or map")),
        };
        Ok(Variant {
            name,
            payload,
            at: self.at,
            journal: self.journal,
        })
    }

    fn visit_items<'de, V: Visitor<'de>>(
        self,
        items: &[Value],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let result = visitor.visit_seq(Items {
            items: items.iter().enumerate(),
            at: self.at,
            journal: self.journal,
        });
        self.done(result, &[])
    }
}

/// An array's elements; a failed one is dropped in later passes.
struct Items<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Value>>,
    at: &'a At<'a>,
    journal: &'a Journal,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((i, value)) = self.next_kept() else {
            return Ok(None);
        };
        seed.deserialize(Node {
            value,
            at: &At::Index(self.at, i),
            journal: self.journal,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

impl<'a> Items<'a> {
    /// The next element not left out, with its index.
    #[inline(never)]
    fn next_kept(&mut self) -> Option<(usize, &'a Value)> {
        let (at, journal) = (self.at, self.journal);
        self.items
            .by_ref()
            .find(|(i, _)| !journal.is_left_out(&At::Index(at, *i)))
    }
}

/// An object's members: for a record only its known fields; a failed one is
/// treated as absent in later passes (and named in `left_out`).
struct Members<'a> {
    entries: std::iter::Enumerate<serde_json::map::Iter<'a>>,
    at: &'a At<'a>,
    journal: &'a Journal,
    fields: Option<&'static [&'static str]>,
    pending: Option<(usize, &'a str, &'a Value)>,
    left_out: Vec<&'a str>,
}

impl<'de> MapAccess<'de> for Members<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.next_known() {
            Some(key) => seed.deserialize(key.into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let (i, key, value) = self.take_pending()?;
        seed.deserialize(Node {
            value,
            at: &At::Key(self.at, key, i),
            journal: self.journal,
        })
    }
}

impl<'a> Members<'a> {
    /// The next member to decode: known to the record (any, for a map) and
    /// not left out, kept as pending for its value. A left-out member is
    /// named in `left_out`.
    #[inline(never)]
    fn next_known(&mut self) -> Option<&'a str> {
        for (i, (key, value)) in self.entries.by_ref() {
            if self
                .fields
                .is_some_and(|fields| !fields.contains(&key.as_str()))
            {
                continue;
            }
            if self.journal.is_left_out(&At::Key(self.at, key, i)) {
                self.left_out.push(key);
                continue;
            }
            self.pending = Some((i, key, value));
            return Some(key);
        }
        None
    }

    /// The member whose key was just read.
    #[inline(never)]
    fn take_pending(&mut self) -> Result<(usize, &'a str, &'a Value), Error> {
        self.pending
            .take()
            .ok_or_else(|| de::Error::custom("a value without its key"))
    }
}

/// An enum's variant name and payload.
pub struct Variant<'a> {
    name: &'a str,
    payload: Option<&'a Value>,
    at: &'a At<'a>,
    journal: &'a Journal,
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self), Error> {
        let name = seed.deserialize(self.name.into_deserializer())?;
        Ok((name, self))
    }
}

impl<'a> Variant<'a> {
    /// The payload as a node (path `parent.variant`), unless left out.
    fn with_payload<T>(
        self,
        expected: &str,
        visit: impl FnOnce(Node<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let value = self.payload(expected)?;
        visit(Node {
            value,
            at: &At::Key(self.at, self.name, 0),
            journal: self.journal,
        })
    }

    /// The payload, unless there is none or it is left out (not generic:
    /// one copy for every enum).
    #[inline(never)]
    fn payload(&self, expected: &str) -> Result<&'a Value, Error> {
        let Some(value) = self.payload else {
            return Err(de::Error::invalid_type(Unexpected::UnitVariant, &expected));
        };
        if self.journal.is_left_out(&At::Key(self.at, self.name, 0)) {
            return Err(Error(Box::new(Failure::LeftOut)));
        }
        Ok(value)
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.payload {
            None | Some(Value::Null) => Ok(()),
            Some(_) => Err(de::Error::invalid_type(Unexpected::Map, &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        self.with_payload("newtype variant", |node| seed.deserialize(node))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.with_payload("tuple variant", |node| {
            de::Deserializer::deserialize_seq(node, visitor)
        })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.with_payload("struct variant", |node| {
            de::Deserializer::deserialize_struct(node, "", fields, visitor)
        })
    }
}

/// A contract type the walk decodes: `#[derive(Decode)]` (portplan-derive)
/// writes it from the type's own serde attributes; leaves (text, numbers,
/// booleans, a port range) are serde's own impls run over [`Node`].
///
/// Why not serde's derived `Deserialize`, as the walk once ran: each derived
/// visitor is a copy of serde's whole record protocol (identifiers, field
/// checks, missing-field handling, its `MapAccess` and `SeqAccess`
/// instantiations), and they were the largest part of the WebAssembly
/// plugins (issue 16). Here a record hands its members to one non-generic
/// walk ([`Node::record`]) and an enum its variant to another
/// ([`Node::variant`]); only the calls per field are the type's own. The
/// words stay serde's: `missing field`, `unknown field`, `unknown variant`,
/// `invalid type: ..., expected struct X`: core/src/strict.rs's tests hold
/// the walk by `Decode` to the walk by serde's visitors (`walk_serde`),
/// values and problems alike, on every change of every example input.
pub trait Decode: Sized {
    /// Whether a record's field of this type may be absent from the input
    /// (it then keeps its [`Decode::placeholder`]): serde's `missing_field`
    /// asks the type the same way, and only an `Option` answers (with
    /// `None`).
    const OPTIONAL: bool = false;

    /// This node as `Self`; a problem is noted in the walk's journal and
    /// answered as an [`Error`] that says it is noted.
    fn decode(node: Node<'_>) -> Result<Self, Error>;

    /// What a record's field of this type holds until the input's value is
    /// decoded into it. A caller never sees it in a required field (the
    /// walk refuses a record without one); an optional type's is its value
    /// when absent (`None`). Records are decoded in place over theirs, so
    /// their code has no slot, no move and no failure arm per field.
    fn placeholder() -> Self;

    /// This node decoded into `place`, a record's field that holds this
    /// type's placeholder or (a `default` field) its default, both empty for
    /// a list: by default `place` is overwritten with [`Decode::decode`]'s
    /// value. A list appends to the empty one instead, so no code drops what
    /// it held.
    fn decode_into(place: &mut Self, node: Node<'_>) -> Result<(), Error> {
        *place = Self::decode(node)?;
        Ok(())
    }
}

/// A record's field decoded into its place. Out of line and generic only in
/// the field's type: every record's fields of one type (text, a list of
/// text, a flag, ...) share one copy.
#[inline(never)]
pub fn put<T: Decode>(place: &mut T, node: Node<'_>) -> Result<(), Error> {
    T::decode_into(place, node)
}

/// Leaves: serde's own decoding of the value, run over the node (their
/// words: `expected u16`, `expected a string`, ...).
macro_rules! by_serde {
    ($($leaf:ty: $placeholder:expr),*) => {$(
        impl Decode for $leaf {
            fn decode(node: Node<'_>) -> Result<Self, Error> {
                serde::Deserialize::deserialize(node)
            }

            fn placeholder() -> Self {
                $placeholder
            }
        }
    )*};
}

by_serde!(
    String: String::new(),
    bool: false,
    u8: 0,
    u16: 0,
    u32: 0,
    u64: 0,
    crate::model::PortRange: crate::model::PortRange { first: 1, last: 1 }
);

impl<T: Decode> Decode for Vec<T> {
    fn decode(node: Node<'_>) -> Result<Self, Error> {
        let mut items = Vec::new();
        Self::decode_into(&mut items, node).map(|()| items)
    }

    fn placeholder() -> Self {
        Vec::new()
    }

    fn decode_into(items: &mut Self, node: Node<'_>) -> Result<(), Error> {
        debug_assert!(items.is_empty(), "a list is decoded into an empty one");
        let walked = node.items(&mut |child| {
            items.push(T::decode(child)?);
            Ok(())
        });
        node.end(walked)
    }
}

impl<T: Decode> Decode for std::sync::Arc<[T]> {
    fn decode(node: Node<'_>) -> Result<Self, Error> {
        Vec::<T>::decode(node).map(Into::into)
    }

    fn placeholder() -> Self {
        Self::from([])
    }
}

impl<T: Decode> Decode for Option<T> {
    const OPTIONAL: bool = true;

    fn placeholder() -> Self {
        None
    }

    fn decode(node: Node<'_>) -> Result<Self, Error> {
        let decoded = match node.value {
            Value::Null => Ok(None),
            _ => T::decode(node).map(Some),
        };
        node.end(decoded)
    }
}

impl<'a> Node<'a> {
    /// The end of a visit of this node that left nothing out.
    pub fn end<T>(self, result: Result<T, Error>) -> Result<T, Error> {
        self.done(result, &[])
    }

    /// Walks this node as a record of `fields`: every unknown member noted
    /// (every contract record is strict: one typo does not hide the next
    /// problem), then each known member not left out handed to `member` with
    /// its index in `fields`, in document order, until one fails; then
    /// serde's `missing field` for the first of the `required` ones (bit `i`
    /// for `fields[i]`) the walk did not hand over. Every problem is noted
    /// here, at this node: `Ok` means `member` was handed every required
    /// field, so the record it filled in is whole. Not generic: one copy
    /// serves every record.
    #[inline(never)]
    pub fn record(
        self,
        expecting: &str,
        fields: &'static [&'static str],
        required: u64,
        member: &mut dyn FnMut(usize, Node<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let Value::Object(map) = self.value else {
            let error = self.invalid_type(&expecting);
            return self.done(Err(error), &[]);
        };
        self.note_unknown(map, fields);
        let mut members = self.members(map, Some(fields));
        let mut found = 0u64;
        while members.next_known().is_some() {
            let (i, key, value) = members.take_pending()?;
            let index = fields.iter().position(|field| *field == key);
            let at = At::Key(self.at, key, i);
            let child = Node {
                value,
                at: &at,
                journal: self.journal,
            };
            if let Err(error) = member(index.unwrap_or(usize::MAX), child) {
                return self.done(Err(error), &members.left_out);
            }
            if let Some(index) = index.filter(|i| *i < 64) {
                found |= 1 << index;
            }
        }
        let missing = fields
            .iter()
            .enumerate()
            .find(|(i, _)| (required >> i) & 1 == 1 && (found >> i) & 1 == 0);
        if let Some((_, field)) = missing {
            return self.done(Err(de::Error::missing_field(field)), &members.left_out);
        }
        Ok(())
    }

    /// This node as one of `variants` of an enum: its index there and the
    /// variant (serde's `unknown variant` otherwise). Not generic.
    #[inline(never)]
    pub fn variant(self, variants: &'static [&'static str]) -> Result<(usize, Variant<'a>), Error> {
        let variant = self.variant_of()?;
        match variants.iter().position(|name| *name == variant.name) {
            Some(index) => Ok((index, variant)),
            None => Err(de::Error::unknown_variant(variant.name, variants)),
        }
    }

    /// Walks this node as an array: each element not left out handed to
    /// `item`, until one fails (serde's `expected a sequence` for anything
    /// else). Not generic.
    #[inline(never)]
    fn items(self, item: &mut dyn FnMut(Node<'_>) -> Result<(), Error>) -> Result<(), Error> {
        let Value::Array(values) = self.value else {
            return Err(self.invalid_type(&"a sequence"));
        };
        let mut items = Items {
            items: values.iter().enumerate(),
            at: self.at,
            journal: self.journal,
        };
        while let Some((i, value)) = items.next_kept() {
            item(Node {
                value,
                at: &At::Index(self.at, i),
                journal: self.journal,
            })?;
        }
        Ok(())
    }
}

impl Variant<'_> {
    /// A unit variant: no payload, or `null`.
    pub fn unit(self) -> Result<(), Error> {
        VariantAccess::unit_variant(self)
    }

    /// A one-field variant's payload, decoded at `parent.variant`.
    pub fn newtype<T: Decode>(self) -> Result<T, Error> {
        self.with_payload("newtype variant", T::decode)
    }
}

/// Builds a `Value` as serde_json's own `Deserialize` does, except that a
/// repeated key keeps its first value and is noted with its positions.
#[derive(Clone, Copy)]
struct Build<'c> {
    /// Positions of the node being built.
    stack: &'c RefCell<Vec<usize>>,
    /// (positions of the repeated member, key, the repeated value quoted).
    repeated: &'c RefCell<Vec<Repeated>>,
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.stack.borrow_mut().push(items.len());
            let item = seq.next_element_seed(self);
            self.stack.borrow_mut().pop();
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let repeated = object.contains_key(&key);
            let position = if repeated {
                object.keys().position(|k| *k == key).unwrap_or_default()
            } else {
                object.len()
            };
            self.stack.borrow_mut().push(position);
            let value = map.next_value_seed(self);
            self.stack.borrow_mut().pop();
            let value = value?;
            if repeated {
                let mut at = self.stack.borrow().clone();
                at.push(position);
                self.repeated.borrow_mut().push((at, key, excerpt(&value)));
            } else {
                object.insert(key, value);
            }
        }
        Ok(Value::Object(object))
    }
}

/// Whether `c` is written as an escape wherever text is echoed: control
/// characters (C0, DEL, C1: NUL, ESC, tab, newline, ...), the bidirectional
/// controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the
/// line and paragraph separators U+2028, U+2029. They could hide or reorder
/// what a terminal, a log or a spreadsheet shows.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `text` with every [`is_hidden`] character written Rust style as
/// `\u{hex}` (NUL is `\u{0}`, ESC `\u{1b}`, U+202E `\u{202e}`); everything
/// else, backslashes included, as is. Applying it twice changes nothing.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    if is_hidden(c) {
        out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
    } else {
        out.push(c);
    }
}

/// `text` in double quotes as Rust's `Debug` writes a string (serde's
/// `Unexpected` does), for the characters that matter here: `"` and `\`
/// after a backslash, NUL, tab, newline and CR as `\0`, `\t`, `\n`, `\r`,
/// every other [`is_hidden`] one as `\u{hex}`. Not `{:?}`: a string's
/// `Debug` asks Unicode's tables which characters to escape, ~1 KB in each
/// plugin. So one it escapes that is not hidden (U+200B, U+00AD, U+FEFF, a
/// combining mark) is written as it is.
pub(crate) fn debug_quoted(text: &str) -> String {
    let mut out = String::from('"');
    for c in text.chars() {
        let after_backslash = match c {
            '"' | '\\' => c,
            '\0' => '0',
            '\t' => 't',
            '\n' => 'n',
            '\r' => 'r',
            c => {
                push_escaped(&mut out, c);
                continue;
            }
        };
        out.push('\\');
        out.push(after_backslash);
    }
    out.push('"');
    out
}

/// A plan value as a problem quotes it: [`escape`]d, and at most
/// [`VALUE_LIMIT`] characters, then `...` when it was longer.
pub fn quote(text: &str) -> String {
    let mut out = Capped::new(VALUE_LIMIT);
    for c in text.chars() {
        if !out.char(c) {
            break;
        }
    }
    out.finish()
}

/// A decoder's message: each stretch between quote marks (a quoted value or
/// key) capped like a value, and the whole at [`MESSAGE_LIMIT`].
fn message(text: &str) -> String {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['`', '"']) {
        pieces.push(quote(&rest[..at]));
        pieces.push(rest[at..=at].to_string());
        rest = &rest[at + 1..];
    }
    pieces.push(quote(rest));
    let mut out = Capped::new(MESSAGE_LIMIT);
    for piece in &pieces {
        if !out.unit(piece) {
            break;
        }
    }
    out.finish()
}

/// An offending value as a problem quotes it: its JSON text, with strings
/// [`escape`]d rather than JSON-escaped, capped like [`quote`].
fn excerpt(value: &Value) -> String {
    let mut out = Capped::new(VALUE_LIMIT);
    write_value(&mut out, value);
    out.finish()
}

/// Compact JSON text, as `serde_json` writes it, into `out` until it is full.
fn write_value(out: &mut Capped, value: &Value) -> bool {
    match value {
        // Not `value.to_string()`: that is serde_json's whole writer, a
        // second one in the plugins for three words and a number (which
        // it formats with the itoa and zmij that `Number`'s `Display` uses).
        Value::Null => out.unit("null"),
        Value::Bool(flag) => out.unit(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.unit(&number.to_string()),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.unit("[")
                && items
                    .iter()
                    .enumerate()
                    .all(|(i, item)| (i == 0 || out.unit(",")) && write_value(out, item))
                && out.unit("]")
        }
        Value::Object(map) => {
            out.unit("{")
                && map.iter().enumerate().all(|(i, (key, item))| {
                    (i == 0 || out.unit(","))
                        && write_string(out, key)
                        && out.unit(":")
                        && write_value(out, item)
                })
                && out.unit("}")
        }
    }
}

fn write_string(out: &mut Capped, text: &str) -> bool {
    out.unit("\"")
        && text.chars().all(|c| match c {
            '"' => out.unit("\\\""),
            '\\' => out.unit("\\\\"),
            c => out.char(c),
        })
        && out.unit("\"")
}

/// Text built from units (a character, or an escape) that stops before the
/// first unit that would take it past its limit.
struct Capped {
    text: String,
    chars: usize,
    limit: usize,
    cut: bool,
}

impl Capped {
    fn new(limit: usize) -> Self {
        Capped {
            text: String::new(),
            chars: 0,
            limit,
            cut: false,
        }
    }

    /// Appends `unit` whole if it fits; false once full.
    fn unit(&mut self, unit: &str) -> bool {
        let count = unit.chars().count();
        if self.cut || self.chars + count > self.limit {
            self.cut = true;
            return false;
        }
        self.text.push_str(unit);
        self.chars += count;
        true
    }

    /// Appends `c`, escaped when hidden; false once full.
    fn char(&mut self, c: char) -> bool {
        if is_hidden(c) {
            let mut escaped = String::new();
            push_escaped(&mut escaped, c);
            self.unit(&escaped)
        } else {
            let mut buf = [0; 4];
            self.unit(c.encode_utf8(&mut buf))
        }
    }

    fn finish(mut self) -> String {
        if self.cut {
            self.text.push_str("...");
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Observation, Plan};
    use crate::state::FirewallState;

    /// (path, value, message) of every problem of `text` read as a plan.
    fn problems(text: &str) -> Vec<(String, String, String)> {
        match parse_json::<Plan>(text) {
            Ok(plan) => panic!("accepted: {plan:?}"),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.path, p.value, p.message))
                .collect(),
        }
    }

    fn paths(found: &[(String, String, String)]) -> Vec<&str> {
        found.iter().map(|(path, _, _)| path.as_str()).collect()
    }

    const HOST: &str = r#"{"name":"h1","address":"198.18.0.1","components":["metadb"]}"#;

    #[test]
    fn every_type_error_is_reported_in_document_order() {
        let text = format!(
            r#"{{"name":"t","hostz":1,"profiles":["ocp-ce"],"deploy-user":"admin",
            "hosts":[{{"name":"h1","address":5,"components":["metadb"]}},
                     {{"name":"h2","address":"198.18.0.2","components":"metadb","port":1}}, {HOST}],
            "overrides":[{{"spec":"a","ports":70000}},{{"spec":"b","ports":{{"first":9,"last":8}}}}]}}"#
        );
        let found = problems(&text);
        assert_eq!(
            paths(&found),
            [
                "hostz",
                "deploy-user",
                "hosts[0].address",
                "hosts[1].components",
                "hosts[1].port",
                "overrides[0].ports",
                "overrides[1].ports",
            ]
        );
        let values: Vec<&str> = found.iter().map(|(_, v, _)| v.as_str()).collect();
        assert_eq!(
            values,
            [
                "1",
                "\"admin\"",
                "5",
                "\"metadb\"",
                "1",
                "70000",
                r#"{"first":9,"last":8}"#
            ]
        );
        assert!(
            found[0]
                .2
                .starts_with("unknown field `hostz`, expected one of `name`")
        );
        assert!(found[1].2.starts_with("unknown variant `admin`, expected"));
        assert_eq!(found[2].2, "invalid type: integer `5`, expected a string");
        assert_eq!(
            found[3].2,
            "invalid type: string \"metadb\", expected a sequence"
        );
        assert_eq!(found[5].2, "port 70000 is outside 1-65535");
        assert_eq!(found[6].2, "first port 9 is above last port 8");
    }

    #[test]
    fn unexpected_values_are_worded_as_serde_words_them() {
        use Unexpected as U;
        let every = [
            U::Bool(true),
            U::Unsigned(70000),
            U::Signed(-1),
            U::Float(1.5),
            U::Float(100.0),
            U::Float(-0.25),
            U::Char('\u{1b}'),
            U::Str("a \"b\"\n\u{202e}"),
            U::Str("\\ \0\t\r\u{1b}\u{7f}\u{85}\u{2066} é"),
            U::Bytes(b"x"),
            U::Unit,
            U::Option,
            U::NewtypeStruct,
            U::Seq,
            U::Map,
            U::Enum,
            U::UnitVariant,
            U::NewtypeVariant,
            U::TupleVariant,
            U::StructVariant,
            U::Other("something"),
        ];
        for unexpected in every {
            assert_eq!(Said(unexpected).to_string(), unexpected.to_string());
        }
        // Where they differ: a float that Rust writes out in full is
        // written as the problem's value writes it.
        assert_eq!(Said(U::Float(1e300)).to_string(), "floating point `1e+300`");
        assert_eq!(Said(U::Float(1e-7)).to_string(), "floating point `1e-7`");
        // And a character Rust escapes by Unicode's tables that is not
        // hidden: written as it is.
        assert_eq!(Said(U::Str("\u{200b}")).to_string(), "string \"\u{200b}\"");
        let found = problems(
            r#"{"name":1e300,"profiles":["ocp-ce"],"hosts":[{"name":"h1","address":1.5,"components":[]}]}"#,
        );
        let expected = [
            (
                "name",
                "1e+300",
                "invalid type: floating point `1e+300`, expected a string",
            ),
            (
                "hosts[0].address",
                "1.5",
                "invalid type: floating point `1.5`, expected a string",
            ),
        ];
        let found: Vec<(&str, &str, &str)> = found
            .iter()
            .map(|(p, v, m)| (p.as_str(), v.as_str(), m.as_str()))
            .collect();
        assert_eq!(found, expected);
        let error = <Error as de::Error>::invalid_value(U::Float(2.5), &"a port");
        assert_eq!(
            error.to_string(),
            "invalid value: floating point `2.5`, expected a port"
        );
    }

    #[test]
    fn a_failed_required_member_is_not_reported_again_as_missing() {
        let text = r#"{"name":"t","profiles":["ocp-ce"],"hosts":[{"name":5,"address":"x","components":[]}]}"#;
        assert_eq!(
            problems(text),
            [(
                "hosts[0].name".to_string(),
                "5".to_string(),
                "invalid type: integer `5`, expected a string".to_string()
            )]
        );
        // A member that is really missing is still reported, beside the type
        // error (serde names the first missing member in declaration order:
        // `profiles` comes before `hosts`).
        let found = problems(r#"{"name":"t","hosts":7}"#);
        assert_eq!(paths(&found), [".", "hosts"]);
        assert_eq!(found[0].2, "missing field `profiles`");
    }

    #[test]
    fn repeated_keys_are_rejected_with_their_path() {
        let text = format!(
            r#"{{"name":"t","profiles":["ocp-ce"],"hosts":[{HOST}],"name":"u","hosts":[]}}"#
        );
        let found = problems(&text);
        assert_eq!(paths(&found), ["name", "hosts"]);
        assert_eq!(found[0].1, "\"u\"");
        assert_eq!(found[0].2, "duplicate field `name`");
        let nested = format!(
            r#"{{"name":"t","profiles":["ocp-ce"],"hosts":[{HOST},{{"name":"a","name":"b"}}]}}"#
        );
        let found = problems(&nested);
        assert!(
            found.contains(&(
                "hosts[1].name".to_string(),
                "\"b\"".to_string(),
                "duplicate field `name`".to_string()
            )),
            "{found:?}"
        );
    }

    #[test]
    fn problems_inside_variants_name_the_variant() {
        let state = r#"{"nftables":{"chains":[{"family":"inet","table":"filter","name":"input",
            "drops":"yes","insert-before":null,"managed-by":null}],"found":[{"chain":0}]}}"#;
        let error = parse_json::<FirewallState>(state).expect_err("rejected");
        let found: Vec<&str> = error.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(found, ["nftables.chains[0].drops", "nftables.found[0]"]);
        assert_eq!(error.problems[1].message, "missing field `rule`");
        let error = parse_json::<FirewallState>(r#"{"pf":{}}"#).expect_err("rejected");
        assert_eq!(error.problems[0].path, ".");
        assert!(
            error.problems[0]
                .message
                .starts_with("unknown variant `pf`")
        );
        let error = parse_json::<FirewallState>(r#"{"ufw":{},"nftables":{}}"#).expect_err("two");
        assert_eq!(
            error.problems[0].message,
            "invalid value: map, expected map with a single key"
        );
    }

    #[test]
    fn a_record_is_an_object_and_an_optional_null_is_none() {
        let error = parse_json::<Observation>(r#"{"listeners":[["tcp","0.0.0.0",1]]}"#)
            .expect_err("an array is no record");
        assert_eq!(error.problems[0].path, "listeners[0]");
        assert!(
            error.problems[0]
                .message
                .starts_with("invalid type: sequence, expected struct Listener")
        );
        let observation =
            parse_json::<Observation>(r#"{"ip-local-port-range":null,"firewall":null}"#)
                .expect("null is none");
        assert_eq!(observation, Observation::default());
    }

    #[test]
    fn problems_stop_at_the_limit_and_say_so() {
        let hosts = vec![r#"{"name":"h","address":1,"components":[]}"#; PROBLEM_LIMIT + 20];
        let text = format!(
            r#"{{"name":"t","profiles":[],"hosts":[{}]}}"#,
            hosts.join(",")
        );
        let found = problems(&text);
        assert_eq!(found.len(), PROBLEM_LIMIT + 1);
        assert_eq!(found[0].0, "hosts[0].address");
        assert_eq!(
            found[PROBLEM_LIMIT - 1].0,
            format!("hosts[{}].address", PROBLEM_LIMIT - 1)
        );
        assert_eq!(found[PROBLEM_LIMIT].0, ".");
        assert!(
            found[PROBLEM_LIMIT]
                .2
                .starts_with("more problems not listed")
        );
    }

    #[test]
    fn invalid_json_has_no_path() {
        let error = parse_json::<Plan>("{\"name\": ").expect_err("cut short");
        assert_eq!(error.problems.len(), 1);
        assert_eq!(error.problems[0].path, ".");
        assert!(
            error.problems[0]
                .message
                .starts_with("not valid JSON: EOF while parsing")
        );
        let error = parse_json::<Plan>("{} {}").expect_err("trailing");
        assert!(
            error.problems[0]
                .message
                .starts_with("not valid JSON: trailing characters")
        );
    }

    #[test]
    fn quote_escapes_hidden_characters_and_caps() {
        assert_eq!(
            quote("a\u{0}b\u{1b}c\u{202e}d\\u"),
            "a\\u{0}b\\u{1b}c\\u{202e}d\\u"
        );
        assert_eq!(
            escape(&escape("x\u{7f}\u{85}\u{2066}")),
            "x\\u{7f}\\u{85}\\u{2066}"
        );
        let long = quote(&"x".repeat(10_000));
        assert_eq!(long.len(), VALUE_LIMIT + 3);
        assert!(long.ends_with("..."));
        // An escape is never cut in half.
        let nuls = quote(&"\u{0}".repeat(100));
        assert!(nuls.ends_with("\\u{0}..."), "{nuls}");
        assert!(nuls.chars().count() <= VALUE_LIMIT + 3);
        assert_eq!(quote("ok"), "ok");
    }

    #[test]
    fn excerpt_is_compact_json_with_escaped_strings() {
        let value: Value =
            serde_json::from_str(r#"{"a":[1,true,null,"q\"\\\n"],"b":"\u202e"}"#).expect("json");
        assert_eq!(
            excerpt(&value),
            r#"{"a":[1,true,null,"q\"\\\u{a}"],"b":"\u{202e}"}"#
        );
        let clean: Value = serde_json::from_str(r#"{"a":[1,"x y"]}"#).expect("json");
        assert_eq!(excerpt(&clean), clean.to_string());
    }

    #[test]
    fn message_caps_each_quoted_stretch() {
        let key = "k".repeat(5000);
        let text = format!("unknown field `{key}`, expected one of `name`, `address`");
        let out = message(&text);
        assert!(
            out.ends_with("...`, expected one of `name`, `address`"),
            "{out}"
        );
        assert!(out.chars().count() < 300);
        let ticks = "`".repeat(10_000);
        assert!(message(&ticks).chars().count() <= MESSAGE_LIMIT + 3);
    }

    #[test]
    fn json_size_is_the_length_and_depth_of_the_compact_text() {
        let text = r#"{"a":[1,-2,3.5,1e300,18446744073709551615,0,10,99,100],"b":{"c":[[],{}],"d":null},"e":true,"f":false,"g":"q\"\\\n\t\r\b\f\u0001\u001f\u007f é ☃ \ud83d\ude00"}"#;
        let value: Value = serde_json::from_str(text).expect("json");
        assert_eq!(json_size(&value), (value.to_string().len(), 4));
        for (text, depth) in [("1", 0), ("[]", 1), ("{}", 1), ("[[1]]", 2), (r#""x""#, 0)] {
            let value: Value = serde_json::from_str(text).expect("json");
            assert_eq!(
                json_size(&value),
                (value.to_string().len(), depth),
                "{text}"
            );
        }
    }

    #[test]
    fn a_value_decodes_as_its_text_does() {
        let text = r#"{"name":"p","profiles":["ocp"],"hosts":[{"name":"a","address":"198.18.0.300","components":["ocp-server"],"colour":1},{"name":7}]}"#;
        let value: Value = serde_json::from_str(text).expect("json");
        let from_text = parse_json::<Plan>(text).expect_err("invalid");
        let from_value = parse_value::<Plan>(&value).expect_err("invalid");
        assert_eq!(from_text, from_value);
        let good = r#"{"name":"p","profiles":["ocp"],"hosts":[{"name":"a","address":"198.18.0.3","components":["ocp-server"]}]}"#;
        let value: Value = serde_json::from_str(good).expect("json");
        assert_eq!(
            parse_json::<Plan>(good).expect("valid"),
            parse_value::<Plan>(&value).expect("valid")
        );
    }
}
